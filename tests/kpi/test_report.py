"""The KPI report is one self-contained HTML file: every chart and table is there, nothing is fetched.

No browser is installed here, so the page is checked structurally with the standard library's parser.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from conftest import REPO

from kpi.helpers import FIXTURE_KPIS
from localsage.kpi import report


class PageParts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def ids(self, tag):
        return [attrs.get("id") for name, attrs in self.tags if name == tag]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCALSAGE_STATE_DIR", str(folder / "state"))
        path = report.write_report(REPO, str(folder / "kpis.html"), str(FIXTURE_KPIS), say=lambda message: None)
    text = path.read_text(encoding="utf-8")
    parts = PageParts()
    parts.feed(text)
    parts.close()
    return text, parts


def test_every_metric_has_a_chart_over_runs_and_over_time(page):
    _, parts = page
    expected = [f"{metric}-by-{axis}" for metric in report.METRICS for axis in ("run", "time")]
    assert parts.ids("svg") == expected
    polylines = [attrs for tag, attrs in parts.tags if tag == "polyline"]
    assert len(polylines) == len(expected) * 2  # one line per variant


def test_the_latest_and_regression_tables_are_there(page):
    text, parts = page
    assert parts.ids("table") == ["latest", "regressions"]
    assert "exprun0009x" in text and "starun0003x" in text
    assert "Regressions (2)" in text


def test_regressions_are_marked_on_the_rmse_charts(page):
    _, parts = page
    circles = [attrs for tag, attrs in parts.tags if tag == "circle"]
    assert len(circles) == 4  # two regressed runs, on rmse by run and rmse by time


def test_the_page_needs_no_network_and_no_script(page):
    text, parts = page
    assert "http://" not in text and "https://" not in text
    assert not [tag for tag, _ in parts.tags if tag in ("script", "link", "img", "iframe", "object")]
    assert not [attrs for _, attrs in parts.tags if "src" in attrs or "href" in attrs]
