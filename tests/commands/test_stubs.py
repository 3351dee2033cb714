"""`./dev local-run --stub STEP=FILE`: a step that needs AWS (a QualityCheck, built by the real SDK v3) is refused
before anything runs unless its properties are given; given, it is marked stubbed everywhere and later steps read
what the file says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from definitions_support import ROLE, sdk_build
from projects import REPO, copy_project

DATA = Path(__file__).parents[1] / "runner" / "data"
INVOKE = str(Path(sys.executable).with_name("invoke"))


@pytest.fixture(scope="module")
def definition_file(local_target, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("quality")
    built = sdk_build(folder, DATA / "build_quality_check_pipeline.py", local_target.bucket, ROLE)
    assert [step["Type"] for step in built["Steps"]] == ["QualityCheck", "Condition"]
    path = folder / "quality.json"
    path.write_text(json.dumps(built))
    return path


def task(project: Path, *arguments: str) -> subprocess.CompletedProcess:
    """The task as a user runs it, for the project copy (tasks run from the repository, as `./dev` runs them)."""
    environment = {**os.environ, "LOCALSAGE_ROOT": str(project), "COLUMNS": "200"}
    return subprocess.run([INVOKE, *arguments], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)


def local_run(project: Path, *flags: str) -> subprocess.CompletedProcess:
    return task(project, "local-run", "--json", *flags)


def test_an_aws_only_step_is_refused_naming_it_and_the_stub_flag(local_target, definition_file, tmp_path):
    project = copy_project(tmp_path, "stubs")
    done = local_run(project, "--definition", str(definition_file))
    assert done.returncode != 0
    assert "step DataQuality has type QualityCheck, which the local runner does not run" in done.stderr
    assert "--stub DataQuality=FILE.json" in done.stderr


def test_a_stubbed_step_gives_its_properties_and_is_marked_everywhere(local_target, definition_file, tmp_path):
    project = copy_project(tmp_path, "stubs")
    bucket = local_target.bucket
    stub = tmp_path / "quality-stub.json"
    stub.write_text(json.dumps({"CalculatedBaselineStatistics": f"s3://{bucket}/quality/stats.json"}))
    done = local_run(project, "--definition", str(definition_file), "--stub", f"DataQuality={stub}")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["steps"]["DataQuality"]["stubbed"] is True
    assert summary["steps"]["Check"]["outcome"] is True, "Check read the stubbed statistics URI"
    assert "stubbed" in task(project, "executions", "--id", summary["execution_id"]).stdout

    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"CalculatedBaselineConstraints": "s3://x"}))
    refused = local_run(project, "--definition", str(definition_file), "--stub", f"DataQuality={partial}")
    assert refused.returncode != 0
    assert "reads property CalculatedBaselineStatistics of stubbed step DataQuality, which its stub does not give" in (
        refused.stderr
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    refused = local_run(project, "--definition", str(definition_file), "--stub", f"DataQuality={broken}")
    assert f"--stub DataQuality={broken} is not JSON" in refused.stderr
