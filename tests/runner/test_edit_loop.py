"""The loop a data scientist lives in: edit a step script, run again, and only that step and its dependants rerun."""

from __future__ import annotations

import shutil

from conftest import REPO

from localsage import config
from localsage.runner import local_run as runner


def test_editing_train_reruns_train_and_later_steps_without_an_sdk_build(local_target, tmp_path):
    project = tmp_path / "project"
    for name in ("ml", "infra/kpi", "requirements.lock"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, project / name)
    # A project of its own (bucket, pipelines, model package groups), so other tests' version counts stay theirs.
    config.write(config.ProjectConfig(use_case_id="edit-loop", pipeline_base_name="edit-loop"), project)
    said: list[str] = []

    def run():
        said.clear()
        return runner.local_run(root=project, say=said.append, quiet=True)

    assert run().status == "Succeeded"
    with (project / "ml" / "scripts" / "train.py").open("a") as script:
        script.write("# a comment is a change too\n")
    edited = run()
    assert edited.status == "Succeeded"
    assert any("ml/scripts/train.py changed: code re-uploaded" in message for message in said)
    assert not any("building the pipeline definition" in message for message in said)
    assert edited.steps["Preprocess"].cache_hit
    assert not edited.steps["Train"].cache_hit
    assert edited.steps["RegisterModel"].status == "Succeeded"
    unchanged = run()
    assert unchanged.steps["Train"].cache_hit and not any("changed" in message for message in said)
