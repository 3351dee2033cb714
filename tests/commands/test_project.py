"""`./dev init`: project.toml from flags or prompts, validated before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from localsage.commands.project import code_config_values, initialise
from localsage.errors import UserError
from localsage.facts import config

INVOKE = str(Path(sys.executable).with_name("invoke"))


def test_init_writes_flags_without_prompting_when_not_a_terminal(project_root):
    asked = []
    path, chosen = initialise(
        project_root,
        {"pipeline_base_name": "churn", "region": "eu-west-1", "account": "123456789012"},
        interactive=False,
        ask=lambda question, default: asked.append(question) or default,
    )
    assert asked == []
    assert config.load(project_root) == chosen
    assert chosen.pipeline_base_name == "churn" and chosen.region == "eu-west-1"
    assert chosen.use_case_id == "abalone"  # untouched values keep the current file's value
    assert path.read_text().startswith("# Project identity")


def test_init_prompts_on_a_terminal_for_values_not_given_as_flags(project_root):
    answers = {"Use-case id": "fraud", "AWS region": "ap-southeast-2"}

    def ask(question, default):
        return next((answer for prefix, answer in answers.items() if question.startswith(prefix)), default)

    _, chosen = initialise(project_root, {"pipeline_base_name": "fraud-det"}, interactive=True, ask=ask)
    assert (chosen.use_case_id, chosen.region, chosen.pipeline_base_name) == ("fraud", "ap-southeast-2", "fraud-det")


def test_init_with_an_invalid_value_leaves_the_file_untouched(project_root):
    before = (project_root / "project.toml").read_text()
    with pytest.raises(UserError, match="project.region 'mars-1' is invalid"):
        initialise(project_root, {"region": "mars-1"}, interactive=False)
    assert (project_root / "project.toml").read_text() == before
    assert not list(project_root.glob("*.tmp"))


def test_init_repairs_a_broken_project_file(project_root):
    (project_root / "project.toml").write_text("[project\nthis is not toml")
    _, chosen = initialise(project_root, {"region": "eu-west-1"}, interactive=False)
    assert config.load(project_root) == chosen and chosen.region == "eu-west-1"


def test_init_takes_the_sagemaker_project_from_its_seed_code_config(project_root, tmp_path):
    code_config = tmp_path / ".sagemaker-code-config"
    code_config.write_text(
        json.dumps(
            {
                "sagemakerProjectName": "abalone-team",
                "sagemakerProjectId": "p-abcdef123456",
                "codeRepositoryName": "sagemaker-abalone-team-modelbuild",
            }
        )
    )
    completed = subprocess.run(
        [INVOKE, "init", "--from-code-config", str(code_config), "--no-input"],
        cwd=REPO, env={**os.environ, "LOCALSAGE_ROOT": str(project_root)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    chosen = config.load(project_root)
    assert (chosen.sagemaker_project_name, chosen.sagemaker_project_id) == ("abalone-team", "p-abcdef123456")
    assert "sagemaker:project-id=p-abcdef123456" in completed.stdout
    assert chosen.tags["sagemaker:project-name"] == "abalone-team"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not JSON"),
        ('{"sagemakerProjectName": "abalone-team"}', "sagemakerProjectId is missing or empty"),
    ],
    ids=["missing", "not-json", "no-id"],
)
def test_a_bad_code_config_is_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / ".sagemaker-code-config"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UserError, match=f"^--from-code-config {path}: {message}"):
        code_config_values(path)


def test_a_sagemaker_project_needs_its_name_and_id_in_sagemakers_form(project_root):
    with pytest.raises(UserError, match="project.sagemaker_project_id '' is invalid: a SageMaker project needs both"):
        initialise(project_root, {"sagemaker_project_name": "abalone-team"}, interactive=False)
    with pytest.raises(UserError, match="project.sagemaker_project_name 'no_underscores' is invalid"):
        initialise(
            project_root, {"sagemaker_project_name": "no_underscores", "sagemaker_project_id": "p-1"}, interactive=False
        )
    assert config.load(project_root).tags == {"project": "abalone", "use-case": "abalone"}
