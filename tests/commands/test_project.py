"""`./dev init`: project.toml from flags or prompts, validated before anything is written."""

from __future__ import annotations

import pytest

from localsage.commands.project import initialise
from localsage.errors import UserError
from localsage.facts import config


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
