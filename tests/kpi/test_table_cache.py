"""The loaded KPI table kept as Parquet: the same rows as the CSV files give, reused only for the same files."""

from __future__ import annotations

import os
import shutil

from conftest import REPO

from kpi.helpers import DATABASE, FIXTURE_KPIS, all_rows
from localsage.facts import kpi_schema
from localsage.kpi import engine, files

QUERY = "SELECT * FROM model_kpis"


def opened(folder, work_dir):
    schema = kpi_schema.load_for_project(REPO)
    found = files.checked_kpi_files(folder, schema, "")
    return engine.open_database(found, schema, DATABASE, work_dir), engine.parquet_cache(found, schema, work_dir)


def test_the_second_open_reads_the_kept_table_and_gets_the_same_rows(tmp_path):
    first, cache = opened(FIXTURE_KPIS, tmp_path / "work")
    loaded = all_rows(first, QUERY)
    first.close()
    assert cache.is_file()
    second, again = opened(FIXTURE_KPIS, tmp_path / "work")
    assert again == cache
    plan = second.execute(f"EXPLAIN {QUERY}").fetchall()
    assert "READ_PARQUET" in str(plan).upper(), "the second open parsed the CSV files again"
    assert all_rows(second, QUERY) == loaded and len(loaded["rows"]) == 12


def test_a_changed_file_is_loaded_again_and_the_old_table_dropped(tmp_path):
    data = tmp_path / "kpis"
    shutil.copytree(FIXTURE_KPIS, data)
    connection, old = opened(data, tmp_path / "work")
    connection.close()
    changed = next(data.rglob("*.csv"))
    changed.write_text(
        changed.read_text().replace(",2.5", ",2.7", 1) if ",2.5" in changed.read_text() else changed.read_text() + ""
    )
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 1_000_000_000))
    connection, new = opened(data, tmp_path / "work")
    assert new != old and new.is_file() and not old.exists()
    assert len(all_rows(connection, QUERY)["rows"]) == 12
