"""KPI files are checked before DuckDB reads them: partition folders, headers (by name, not position), emptiness."""

from __future__ import annotations

import shutil

import pytest

from kpi.helpers import FIXTURE_KPIS, schema, write_kpi_file
from localsage.errors import UserError
from localsage.kpi import files

ROW = ["e1", "abalone-stable", "stable", "2025-03-01T08:00:00Z", "", 4.84, 2.2, 1.76, 0.68, 3341, 836, 2.5]


@pytest.fixture
def kpi_folder(tmp_path):
    folder = tmp_path / "kpis"
    shutil.copytree(FIXTURE_KPIS, folder)
    return folder


def check(folder):
    return files.checked_kpi_files(folder, schema(), "run './dev local-run' first")


def test_the_fixture_passes(kpi_folder):
    assert len(check(kpi_folder)) == 12


def test_swapped_columns_name_the_file_and_the_columns(kpi_folder):
    header = schema().column_names
    rmse, mae = header.index("rmse"), header.index("mae")
    header[rmse], header[mae] = header[mae], header[rmse]
    write_kpi_file(kpi_folder, "dt=2025-03-06/swapped.csv", header, [ROW])
    with pytest.raises(UserError) as raised:
        check(kpi_folder)
    message = str(raised.value)
    assert "dt=2025-03-06/swapped.csv" in message
    assert f"column {rmse + 1} is mae, expected rmse" in message
    assert f"column {mae + 1} is rmse, expected mae" in message


def test_missing_and_extra_columns_are_named(kpi_folder):
    header = [name for name in schema().column_names if name != "r2"] + ["r_squared"]
    write_kpi_file(kpi_folder, "dt=2025-03-06/renamed.csv", header, [ROW])
    with pytest.raises(UserError, match=r"renamed\.csv: header differs .*missing r2; unexpected r_squared"):
        check(kpi_folder)


def test_a_file_outside_a_partition_folder_is_named(kpi_folder):
    write_kpi_file(kpi_folder, "loose.csv", schema().column_names, [ROW])
    with pytest.raises(UserError, match=r"^loose\.csv: KPI files belong in a partition folder dt=<yyyy-MM-dd>/"):
        check(kpi_folder)


def test_a_partition_folder_without_a_real_date_is_named(kpi_folder):
    write_kpi_file(kpi_folder, "dt=2025-02-30/run.csv", schema().column_names, [ROW])
    with pytest.raises(UserError, match=r"dt=2025-02-30/run\.csv: the partition folder names no real date"):
        check(kpi_folder)


def test_an_empty_file_is_named(kpi_folder):
    (kpi_folder / "dt=2025-03-01" / "empty.csv").write_text("")
    with pytest.raises(UserError, match=r"dt=2025-03-01/empty\.csv: the file is empty"):
        check(kpi_folder)


def test_several_bad_files_are_counted(kpi_folder):
    write_kpi_file(kpi_folder, "a.csv", schema().column_names, [ROW])
    write_kpi_file(kpi_folder, "b.csv", schema().column_names, [ROW])
    with pytest.raises(UserError, match=r"and 1 more files with problems"):
        check(kpi_folder)


def test_an_empty_folder_gives_a_clear_message(tmp_path):
    with pytest.raises(UserError, match=r"^no KPI files \(\*\.csv\) under .*: run './dev local-run' first$"):
        check(tmp_path)
