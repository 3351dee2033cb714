"""Every documented recovery works: after `emulator.reset`, local-run, upsert --local and kpi-check succeed
(the kept definition notices its code and bucket are gone, and builds again)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO
from projects import copy_project

INVOKE = str(Path(sys.executable).with_name("invoke"))


def test_reset_then_local_run_upsert_and_kpi_check_succeed(tmp_path):
    project = copy_project(tmp_path / "project", "recovery")
    environment = {**os.environ, "LOCALSAGE_STATE_DIR": str(tmp_path / "state"), "LOCALSAGE_ROOT": str(project)}
    environment.pop("AWS_ENDPOINT_URL", None)

    def invoke(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([INVOKE, *args], cwd=REPO, env=environment, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"invoke {' '.join(args)}: {done.stderr}"
        return done

    try:
        invoke("local-run")
        invoke("emulator.reset")
        rerun = invoke("local-run")
        assert "building the experimental pipeline definition" in rerun.stderr, "the kept definition pointed at nothing"
        invoke("upsert", "--local")
        checked = invoke("kpi-check", "--json")
        assert "all 5 KPI queries passed" in checked.stderr
        notified = invoke("notifications", "--json").stdout
        assert notified.count("version 1 is now PendingManualApproval") == 1, "nothing from before the reset"
    finally:
        subprocess.run([INVOKE, "emulator.down"], cwd=REPO, env=environment, capture_output=True)
