"""KPI SQL reads the KPI tables and nothing else: the portability check refuses what Athena lacks, and DuckDB
runs the queries with external access off (the second wall holds even if the first is passed)."""

from __future__ import annotations

import os

import duckdb
import pytest
from conftest import REPO

from localsage.commands import kpi as kpi_commands
from localsage.errors import UserError
from localsage.facts import kpi_schema
from localsage.kpi import check, engine, files

FIXTURE_KPIS = REPO / "tests" / "kpi" / "data" / "kpis"


def problems(tmp_path, sql: str) -> list[str]:
    path = tmp_path / "query.sql"
    path.write_text(sql + "\n")
    outcomes = check.check(REPO, [str(path)], source=str(FIXTURE_KPIS), say=lambda message: None)
    return outcomes[-1].problems


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT content FROM read_text('/proc/self/environ')", "read_text(...) reads outside the KPI tables"),
        ("SELECT * FROM read_csv_auto('/etc/passwd')", "read_csv_auto(...) reads outside the KPI tables"),
        ("SELECT * FROM model_kpis JOIN read_parquet('/tmp/x.parquet') ON true", "read_parquet(...) reads outside"),
        ("COPY (SELECT * FROM model_kpis) TO '/tmp/out.csv'", "only SELECT/WITH queries"),
        ("DELETE FROM model_kpis", "only SELECT/WITH queries"),
        ("DROP TABLE model_kpis", "only SELECT/WITH queries"),
        ("INSERT INTO model_kpis SELECT * FROM model_kpis", "only SELECT/WITH queries"),
    ],
    ids=["read_text", "read_csv_auto", "read_parquet", "copy", "delete", "drop", "insert"],
)
def test_what_reads_or_changes_outside_the_tables_is_refused_with_its_line(tmp_path, sql, expected):
    found = problems(tmp_path, sql)
    assert found and found[0].startswith("line 1: ") and expected in found[0]


def test_the_task_prints_no_secret_and_exits_non_zero(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOCALSAGE_ROOT", str(REPO))
    monkeypatch.setenv("KPI_SANDBOX_SECRET", "s3cr3t-value")
    query = tmp_path / "steal.sql"
    query.write_text("SELECT content FROM read_text('/proc/self/environ')\n")
    with pytest.raises(UserError, match="1 of 6 KPI queries failed"):
        kpi_commands.check_task([str(query)], str(FIXTURE_KPIS), as_json=True)
    captured = capsys.readouterr()
    assert "s3cr3t-value" not in captured.out + captured.err


@pytest.fixture
def connection(tmp_path):
    schema = kpi_schema.load_for_project(REPO)
    kpi_files = files.checked_kpi_files(FIXTURE_KPIS, schema, "")
    opened = engine.open_database(kpi_files, schema, "abalone_kpis", tmp_path / "duckdb")
    yield opened
    opened.close()


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/kpi-sandbox-copy.csv'",
        "ATTACH '/tmp/kpi-sandbox.db'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SELECT getenv('HOME')",
    ],
)
def test_duckdb_itself_refuses_files_extensions_settings_and_the_environment(connection, statement):
    with pytest.raises(duckdb.Error):
        connection.execute(statement).fetchall()
    assert not os.path.exists("/tmp/kpi-sandbox-copy.csv") and not os.path.exists("/tmp/kpi-sandbox.db")


def test_the_kpi_tables_stay_readable_in_the_sandbox(connection):
    assert connection.execute("SELECT count(*) FROM model_kpis").fetchone()[0] > 0
    assert connection.execute("SELECT count(*) FROM abalone_kpis.model_kpis").fetchone()[0] > 0


def test_a_non_utf8_sql_file_is_one_line(tmp_path):
    path = tmp_path / "latin1.sql"
    path.write_bytes("SELECT 'caf\xe9' AS x FROM model_kpis\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"latin1.sql: not UTF-8 text \(byte \d+\): save the SQL file as UTF-8"):
        check.check(REPO, [str(path)], source=str(FIXTURE_KPIS), say=lambda message: None)
