"""A smoke run of `./dev bench kpi` on a few rows (the real sizes are a benchmark, not a test)."""

from __future__ import annotations

import pytest
from conftest import REPO

from localsage import bench
from localsage.bench import kpi
from localsage.errors import UserError


def csv_rows(folder) -> list[int]:
    """The data rows of each CSV file under `folder` (header left out), by file."""
    return [len(path.read_text().splitlines()) - 1 for path in sorted(folder.rglob("*.csv"))]


def test_the_kpi_bench_generates_what_it_says_and_every_query_runs_on_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALSAGE_STATE_DIR", str(tmp_path))
    results = kpi.run(REPO, say=lambda message: None, daily_rows=300, days=5, per_run_files=12)
    generated = tmp_path / "bench" / "kpi"
    daily = csv_rows(generated / "daily-300-rows-5-days")
    assert len(daily) == 5 and sum(daily) == 300, "300 rows over one file per day"
    assert csv_rows(generated / "per-run-12-files") == [1] * 12, "one row per run file"
    assert (results["daily"]["queries"], results["per_run"]["queries"]) == (5, 5)
    goal = kpi.GOALS["daily_warm_s"]
    assert results["goals"]["daily_warm_s"] == {"goal": goal, "met": results["daily"]["warm_s"] <= goal}


def test_an_unknown_suite_lists_the_known_ones():
    with pytest.raises(UserError, match="unknown benchmark suite 'nope': use one of kpi"):
        bench.run("nope", REPO)
