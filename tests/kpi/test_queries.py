"""Each project query, checked for portability and run in DuckDB on the fixture KPI files, equals its golden."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from kpi.helpers import DATABASE, FIXTURE_KPIS, GOLDEN, all_rows, schema
from localsage.kpi import queries

QUERY_NAMES = [query.name for query in queries.load_queries(REPO)]


@pytest.fixture(scope="module")
def connection(tmp_path_factory):
    from localsage.kpi import engine, files

    database = engine.open_database(
        files.kpi_files(FIXTURE_KPIS), schema(), DATABASE, tmp_path_factory.mktemp("duckdb")
    )
    yield database
    database.close()


def test_the_issue_asks_for_these_queries():
    assert QUERY_NAMES == [
        "dashboard_view",
        "latest_per_variant",
        "rmse_moving_average",
        "rmse_regression",
        "runs_per_day",
    ]


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_query_result_equals_its_golden(connection, name):
    from localsage.facts import kpi_schema
    from localsage.kpi import engine, portability

    query = next(query for query in queries.load_queries(REPO) if query.name == name)
    checked = portability.check_sql(query.sql, kpi_schema.table_column_types(schema()), DATABASE, "model_kpis")
    assert checked.findings == ()
    sql = engine.to_duckdb(checked.statement)
    if name == "dashboard_view":
        connection.execute(sql)
        sql = "SELECT * FROM model_kpis_dashboard"
    result = all_rows(connection, sql)
    assert result == json.loads((GOLDEN / f"{name}.json").read_text())
    assert tuple(result["columns"]) == query.expected_columns


def test_every_query_has_a_description_and_a_sidecar():
    for query in queries.load_queries(REPO):
        assert query.description, query.name
        assert query.expected_columns, query.name


def test_the_table_is_reachable_under_the_glue_database_name(connection):
    assert connection.execute(f"SELECT count(*) FROM {DATABASE}.model_kpis").fetchone() == (12,)
    assert connection.execute("SELECT count(*) FROM model_kpis WHERE dt = '2025-03-01'").fetchone() == (3,)


def test_timestamps_are_read_in_utc(connection):
    hour = connection.execute(
        "SELECT hour(CAST(run_ts AS TIMESTAMPTZ)) FROM model_kpis WHERE execution_id = 'exprun0002x'"
    ).fetchone()
    assert hour == (15,)


def test_a_bad_sidecar_names_its_file_and_field(tmp_path):
    from localsage.errors import UserError

    (tmp_path / "q.sql").write_text("SELECT 1 AS one\n")
    (tmp_path / "q.expect.json").write_text('{"min_rows": "many"}')
    with pytest.raises(UserError, match=r"q\.expect\.json: \"min_rows\" must be a whole number"):
        queries.load_query(tmp_path / "q.sql")
