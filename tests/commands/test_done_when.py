"""The issue's "done when", as a user types it: local-run, models, approve, notifications, upsert twice.

The tasks run as subprocesses on a fresh emulator state of their own (a private LOCALSAGE_STATE_DIR), so
"version 1" means what it says on a fresh clone whatever the session's emulator already holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from localsage.adapters import local_events
from localsage.facts import config as project_config

INVOKE = str(Path(sys.executable).with_name("invoke"))
CONFIG = project_config.load(REPO)


@pytest.fixture
def fresh_state(tmp_path):
    """A state folder no emulator has used yet; its emulator is stopped (by PID) at the end."""
    env = {**os.environ, "LOCALSAGE_STATE_DIR": str(tmp_path)}
    yield env
    subprocess.run([INVOKE, "emulator.down"], cwd=REPO, env=env, capture_output=True, timeout=60)


def invoke(env: dict, *args: str) -> subprocess.CompletedProcess:
    completed = subprocess.run([INVOKE, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, f"invoke {' '.join(args)}: {completed.stderr}"
    return completed


def test_a_fresh_clone_registers_approves_notifies_and_upserts(fresh_state):
    group = CONFIG.model_package_group("experimental")
    invoke(fresh_state, "local-run")
    listed = invoke(fresh_state, "models").stdout.splitlines()
    assert listed[0] == f"{group}, newest first:"
    assert listed[1].split()[:2] == ["1", "PendingManualApproval"] and len(listed) == 2
    approved = invoke(fresh_state, "approve").stdout
    assert approved.strip() == f"{group} version 1 is now Approved"
    messages = json.loads(invoke(fresh_state, "notifications", "--json").stdout)
    assert group in local_events.notified_groups(REPO, CONFIG), "infra/cdk.json turns experimental notifications on"
    registered, approval = messages
    assert f"group {group}: version 1 is now PendingManualApproval" in registered["message"]
    assert f"group {group}: version 1 is now Approved" in approval["message"]
    assert "/evaluation.json" in approval["message"]
    assert registered["metric_name"] == approval["metric_name"] == "rmse"
    assert 0 < registered["metric"] == approval["metric"] < 3.0
    invoke(fresh_state, "emulator.down")  # the next task restarts it and replays its state, reads included
    again = json.loads(invoke(fresh_state, "notifications", "--json").stdout)
    assert [m["message"] for m in again] == [m["message"] for m in messages]
    first = invoke(fresh_state, "upsert", "--local").stdout.strip()
    second = invoke(fresh_state, "upsert", "--local").stdout.strip()
    assert first == second == f"arn:aws:sagemaker:{CONFIG.region}:000000000000:pipeline/abalone-experimental"
