"""`./dev steps`: every step type with what the local runner does with it, from the one catalogue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

INVOKE = str(Path(sys.executable).with_name("invoke"))


def test_the_task_lists_each_type_once_with_its_support():
    done = subprocess.run([INVOKE, "steps", "--json"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    support = {row["type"]: row["support"] for row in json.loads(done.stdout)}
    assert len(support) == len(json.loads(done.stdout)), "each type once"
    assert support["Transform"] == support["Tuning"] == support["ForEach"] == "runs"
    assert support["Lineage"] == support["InferenceComponent"] == "recorded only"
    assert support["QualityCheck"] == support["EMR"] == "stub required"
