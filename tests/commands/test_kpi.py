"""`./dev kpi-check` as the task runs it: every query's result printed, one line per failing query, exit 1."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from localsage.commands import kpi
from localsage.errors import UserError
from localsage.kpi import check

FIXTURE_KPIS = REPO / "tests" / "kpi" / "data" / "kpis"
INVOKE = str(Path(sys.executable).with_name("invoke"))


def test_the_task_exits_non_zero_with_one_line_per_failing_query(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOCALSAGE_ROOT", str(REPO))
    bad = [tmp_path / "one.sql", tmp_path / "two.sql"]
    bad[0].write_text("SELECT rmse::varchar AS r FROM model_kpis\n")
    bad[1].write_text("SELECT train_rows / test_rows AS r FROM model_kpis\n")
    with pytest.raises(UserError, match="2 of 7 KPI queries failed"):
        kpi.check_task([str(path) for path in bad], str(FIXTURE_KPIS), use_aws=False, as_json=True)
    captured = capsys.readouterr()
    assert '"name": "latest_per_variant"' in captured.out
    failing = [line for line in captured.err.splitlines() if line.startswith(str(tmp_path))]
    assert len(failing) == 2


def run_kpi_check(*flags: str, source: Path = FIXTURE_KPIS) -> subprocess.CompletedProcess:
    """The task as a user runs it, in a terminal 80 columns wide (the fixture KPI files, no emulator)."""
    environment = {**os.environ, "COLUMNS": "80", "LOCALSAGE_ROOT": str(REPO)}
    command = [INVOKE, "kpi-check", "--source", str(source), *flags]
    completed = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return completed


def test_at_80_columns_every_value_of_every_query_is_printed_whole(tmp_path):
    # Three days of the fixture: every query returns at most the preview's ten rows, so the printed rows are
    # the whole result, whatever order the engine returns them in.
    for day in ("dt=2025-03-01", "dt=2025-03-02", "dt=2025-03-03"):
        shutil.copytree(FIXTURE_KPIS / day, tmp_path / day)
    results = json.loads(run_kpi_check("--json", source=tmp_path).stdout)
    printed = run_kpi_check(source=tmp_path).stdout
    assert "…" not in printed, "a cell was cut"
    tables = [line for line in printed.splitlines() if line[:1] in "┏┃┡│└"]
    assert tables and max(len(line) for line in tables) <= 80, "a table is wider than the terminal"
    for result in results:
        assert 0 < result["row_count"] == len(result["preview"]), result["name"]
        for row in result["preview"]:
            for column, value in zip(result["columns"], row, strict=True):
                whole = check.cell_text(value)
                assert any(whole in line for line in printed.splitlines()), f"{result['name']}.{column}: {whole}"


def test_output_writes_every_row_of_each_query_to_csv(tmp_path):
    results = {result["name"]: result for result in json.loads(run_kpi_check("--json").stdout)}
    said = run_kpi_check("--output", str(tmp_path / "results.csv")).stdout
    for name, result in results.items():
        path = tmp_path / f"results-{name}.csv"
        with path.open(newline="", encoding="utf-8") as stream:
            header, *rows = list(csv.reader(stream))
        assert header == result["columns"]
        assert len(rows) == result["row_count"], name
        assert f"written to {path}" in said
    single = run_kpi_check("--query", "runs_per_day", "--output", str(tmp_path / "one.csv")).stdout
    assert "runs_per_day" in single and "dashboard_view" not in single
    assert (tmp_path / "one.csv").is_file()
