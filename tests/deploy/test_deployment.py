"""Task-level pieces of synth/diff/deploy that need no CDK process: stack selection, the bootstrap check."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import REPO

from localsage.deploy import deployment as commands
from localsage.deploy import local
from localsage.errors import UserError
from localsage.facts import config as project_config

NAMES = project_config.load(REPO).stack_names


def test_stacks_flag_takes_parts_names_and_commas():
    assert commands.stack_list(["kpi,notifications", " ml-platform "]) == ["kpi", "notifications", "ml-platform"]
    assert commands.stack_list(None) is None
    assert local.resolve_stack_names(NAMES, ["kpi", NAMES["notifications"]]) == [NAMES["kpi"], NAMES["notifications"]]
    with pytest.raises(UserError, match="--stacks nope: unknown stack"):
        local.resolve_stack_names(NAMES, ["nope"])


def test_cicd_is_dropped_from_local_deploys_with_a_message():
    messages: list[str] = []
    assert local.stacks_to_deploy(REPO, ["cicd", "kpi"], messages.append) == [NAMES["kpi"]]
    assert messages == [f"{NAMES['cicd']}: not deployed locally (CodePipeline and CodeBuild run only in AWS)"]


def test_local_and_aws_exclude_each_other():
    with pytest.raises(UserError, match="--local and --aws"):
        commands.deploy(REPO, use_aws=True, local=True)


def test_deploy_to_aws_needs_a_bootstrapped_account(local_target):
    """Checked against the emulator standing in for an account (the same SSM call AWS answers)."""
    account = dataclasses.replace(local_target, kind="aws")
    ssm = local_target.client("ssm")
    ssm.delete_parameters(Names=[commands.BOOTSTRAP_VERSION_PARAMETER])
    with pytest.raises(UserError, match=f"not CDK-bootstrapped in {local_target.region}: run .*cdk bootstrap"):
        commands.check_bootstrapped(account)
    ssm.put_parameter(Name=commands.BOOTSTRAP_VERSION_PARAMETER, Value="28", Type="String")
    commands.check_bootstrapped(account)
    ssm.delete_parameter(Name=commands.BOOTSTRAP_VERSION_PARAMETER)
