"""Constructs that behave differently (or fail) between Athena and DuckDB are refused with a line and a fix."""

from __future__ import annotations

import pytest

from kpi.helpers import DATABASE, schema
from localsage.facts import kpi_schema
from localsage.kpi import portability


def findings(sql: str):
    return portability.check_sql(sql, kpi_schema.table_column_types(schema()), DATABASE, "model_kpis").findings


REJECTED = {
    "format_datetime": (
        "SELECT\n  format_datetime(from_iso8601_timestamp(run_ts), 'yyyy-MM-dd') AS day\nFROM model_kpis",
        2,
        "date_format(ts, '%Y-%m-%d')",
    ),
    "multi_array_unnest": (
        "SELECT x, y\nFROM model_kpis\nCROSS JOIN UNNEST(ARRAY[1, 2], ARRAY[3, 4]) AS t(x, y)",
        3,
        "one array per UNNEST",
    ),
    "unnest_of_rows": (
        "SELECT n, s\nFROM UNNEST(ARRAY[ROW(1, 'a'), ROW(2, 'b')]) AS t(n, s)",
        2,
        "VALUES",
    ),
    "double_colon_cast": ("SELECT\n  rmse::varchar AS text\nFROM model_kpis", 2, "CAST(x AS type)"),
    "integer_division": (
        "SELECT\n  variant,\n  train_rows / test_rows AS ratio\nFROM model_kpis",
        3,
        "CAST(a AS DOUBLE) / b",
    ),
    "integer_division_of_counts": ("SELECT COUNT(*) / 2 AS half FROM model_kpis", 1, "CAST(a AS DOUBLE) / b"),
    "date_diff_on_timestamps": (
        "SELECT date_diff('day', from_iso8601_timestamp(run_ts), current_timestamp) AS age FROM model_kpis",
        1,
        "CAST(a AS DATE)",
    ),
    "regexp_extract_without_nullif": (
        "SELECT regexp_extract(model_package_arn, '/(\\d+)$', 1) AS version FROM model_kpis",
        1,
        "NULLIF(regexp_extract(...), '')",
    ),
    "format": ("SELECT format('%s runs', variant) AS label FROM model_kpis", 1, "concat(...)"),
}


@pytest.mark.parametrize("construct", sorted(REJECTED))
def test_rejected_construct_names_its_line_and_a_portable_form(construct):
    sql, line, suggestion = REJECTED[construct]
    found = findings(sql)
    assert len(found) == 1, found
    assert found[0].line == line
    assert suggestion in found[0].message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT date_format(from_iso8601_timestamp(run_ts), '%Y-%m-%d') AS day FROM model_kpis",
        "SELECT CAST(rmse AS VARCHAR) AS text FROM model_kpis",
        "SELECT CAST(train_rows AS DOUBLE) / test_rows AS ratio, rmse / 2 AS half FROM model_kpis",
        "SELECT date_diff('day', CAST(dt AS DATE), current_date) AS age FROM model_kpis",
        "SELECT NULLIF(regexp_extract(model_package_arn, '/(\\d+)$', 1), '') AS version FROM model_kpis",
        "SELECT x FROM model_kpis CROSS JOIN UNNEST(ARRAY[1, 2]) AS t(x)",
        "SELECT 'run ' || CAST(rmse AS VARCHAR) AS label FROM abalone_kpis.model_kpis",
    ],
)
def test_portable_forms_pass(sql):
    assert findings(sql) == ()


def test_unknown_column_is_named():
    found = findings("SELECT\n  variant,\n  rmse_avg\nFROM model_kpis")
    assert [(finding.line, "'rmse_avg'" in finding.message) for finding in found] == [(3, True)]


def test_syntax_error_names_the_line():
    found = findings("SELECT variant\nFROM model_kpis\nWHERE")
    assert found[0].line == 3
    assert found[0].message.startswith("syntax error")


def test_two_statements_are_refused():
    assert "exactly one statement" in findings("SELECT 1 AS a; SELECT 2 AS b")[0].message
