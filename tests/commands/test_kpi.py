"""`./dev kpi-check` as the task runs it: every query's result printed, one line per failing query, exit 1."""

from __future__ import annotations

import pytest
from conftest import REPO

from localsage.commands import kpi
from localsage.errors import UserError

FIXTURE_KPIS = REPO / "tests" / "kpi" / "data" / "kpis"


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
