"""kpi-check as a whole: the project queries pass on the fixture; a bad extra query fails with one line."""

from __future__ import annotations

import pytest
from conftest import REPO

from kpi.helpers import FIXTURE_KPIS
from localsage.errors import UserError
from localsage.kpi import check


@pytest.fixture(autouse=True)
def private_state(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALSAGE_STATE_DIR", str(tmp_path / "state"))


def run(*sql_files):
    return check.check(REPO, [str(path) for path in sql_files], str(FIXTURE_KPIS), say=lambda message: None)


def test_the_project_queries_pass_on_the_fixture():
    outcomes = run()
    assert [outcome.problems for outcome in outcomes] == [[]] * len(outcomes)
    assert {outcome.name: outcome.row_count for outcome in outcomes}["latest_per_variant"] == 2


def test_an_unknown_column_fails_the_query_with_its_name(tmp_path):
    extra = tmp_path / "typo.sql"
    extra.write_text("-- a typo\nSELECT variant, rmsee\nFROM model_kpis\n")
    outcomes = run(extra)
    lines = check.failure_lines(outcomes, REPO)
    assert lines == [
        f"{extra}: line 2: unknown column 'rmsee': use a column of the KPI schema (infra/kpi/model_kpis.json)"
    ]


def test_expected_columns_and_rows_come_from_the_sidecar(tmp_path):
    extra = tmp_path / "future.sql"
    extra.write_text("SELECT variant, rmse FROM model_kpis WHERE dt > '2030-01-01'\n")
    (tmp_path / "future.expect.json").write_text('{"columns": ["variant", "mae"], "min_rows": 1}')
    problems = run(extra)[-1].problems
    assert problems == [
        "returns columns variant, rmse; future.expect.json expects variant, mae",
        "returns 0 rows; future.expect.json expects >= 1",
    ]


def test_a_duckdb_error_is_reported_not_raised(tmp_path):
    extra = tmp_path / "missing_function.sql"
    extra.write_text("SELECT no_such_function(rmse) AS x FROM model_kpis\n")
    assert run(extra)[-1].problems[0].startswith("DuckDB: ")


def test_no_kpi_files_fails_unless_allowed_and_then_the_queries_still_run(tmp_path):
    from localsage.kpi.files import NoKpiFiles

    with pytest.raises(NoKpiFiles, match="no KPI files"):
        check.check(REPO, source=str(tmp_path), say=lambda message: None)
    outcomes = check.check(REPO, source=str(tmp_path), say=lambda message: None, allow_empty=True)
    assert outcomes and all(outcome.ok and outcome.row_count == 0 for outcome in outcomes)
    assert all(outcome.columns for outcome in outcomes), "each query ran and returned its columns"


def test_allow_empty_does_not_hide_a_broken_query(tmp_path):
    broken = tmp_path / "broken.sql"
    broken.write_text("SELECT no_such_column FROM model_kpis\n")
    data = tmp_path / "data"
    data.mkdir()
    outcomes = check.check(REPO, [str(broken)], source=str(data), say=lambda message: None, allow_empty=True)
    assert [outcome.name for outcome in outcomes if not outcome.ok] == ["broken"]


def test_a_value_that_does_not_fit_its_column_is_one_clear_error(tmp_path):
    import shutil

    shutil.copytree(FIXTURE_KPIS, tmp_path / "kpis")
    broken = next((tmp_path / "kpis").rglob("*.csv"))
    header, row = broken.read_text().splitlines()[:2]
    fields = row.split(",")
    fields[5] = "oops"  # mse, a double
    broken.write_text(header + "\n" + ",".join(fields) + "\n")
    with pytest.raises(UserError, match="a KPI file does not fit the schema") as raised:
        check.check(REPO, source=str(tmp_path / "kpis"), say=lambda message: None)
    assert "\n" not in str(raised.value)


def test_counts_and_previews_agree_with_the_fully_materialised_results(tmp_path):
    """Without --output the result is previewed and counted, never materialised; with it, it is written in full."""
    previewed = {outcome.name: outcome for outcome in run()}
    written = {
        outcome.name: outcome
        for outcome in check.check(
            REPO, source=str(FIXTURE_KPIS), say=lambda message: None, output=tmp_path / "all.csv"
        )
    }
    assert previewed.keys() == written.keys()
    for name, outcome in previewed.items():
        full = written[name]
        assert (outcome.columns, outcome.row_count) == (full.columns, full.row_count), name
        lines = (tmp_path / f"all-{name}.csv").read_text().splitlines()
        assert len(lines) - 1 == outcome.row_count and len(outcome.rows) == min(outcome.row_count, 10), name
    assert any(outcome.row_count > 10 for outcome in previewed.values()), "a result longer than the preview"
