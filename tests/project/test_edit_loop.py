"""The loop a data scientist lives in: edit a step script, run again, and only that step and its dependants rerun."""

from __future__ import annotations

from projects import copy_project

from localsage.commands.local_run import local_run


def test_editing_train_reruns_train_and_later_steps_without_an_sdk_build(local_target, tmp_path):
    project = copy_project(tmp_path / "project", "edit-loop")
    said: list[str] = []

    def run():
        said.clear()
        return local_run(root=project, say=said.append, quiet=True)

    assert run().status == "Succeeded"
    with (project / "ml" / "scripts" / "train.py").open("a") as script:
        script.write("# a comment is a change too\n")
    edited = run()
    assert edited.status == "Succeeded"
    assert any("ml/scripts/train.py changed: code uploaded again" in message for message in said)
    assert not any("building the" in message for message in said)
    assert edited.steps["Preprocess"].cache_hit
    assert not edited.steps["Train"].cache_hit
    assert edited.steps["RegisterModel"].status == "Succeeded"
    unchanged = run()
    assert unchanged.steps["Train"].cache_hit and not any("changed" in message for message in said)
