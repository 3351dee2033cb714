"""Task-level pieces of synth/diff/deploy that need no CDK process: stack selection, the bootstrap check."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import REPO

from localsage.deploy import cdk_cli, local
from localsage.deploy import deployment as commands
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


def test_an_aws_deploy_refuses_command_line_context_before_any_call():
    """The CI/CD pipeline synthesizes from the repository: a value given only here would be undone by its next run."""
    with pytest.raises(UserError, match="--context notification_email: an AWS deploy takes its settings from infra"):
        commands.deploy(REPO, use_aws=True, context={"notification_email": "team@example.com"})


def _write_assembly(folder, artifacts: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))


def _stack(folder, artifact_id: str, name: str, account: str, display: str, dependencies=()) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{artifact_id}.template.json").write_text(json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    return {
        "type": "aws:cloudformation:stack",
        "environment": f"aws://{account}/us-east-1",
        "properties": {"templateFile": f"{artifact_id}.template.json", "stackName": name},
        "displayName": display,
        "dependencies": list(dependencies),
    }


def _nested(stage: str) -> dict:
    return {"type": "cdk:cloud-assembly", "properties": {"directoryName": f"assembly-{stage}", "displayName": stage}}


def test_an_assembly_lists_each_stages_stacks_in_order_with_their_accounts_and_cli_names(tmp_path):
    for stage, account in (("tooling", "111111111111"), ("prod", "333333333333")):
        folder = tmp_path / f"assembly-{stage}"
        _write_assembly(
            folder,
            {
                f"{stage}kpi": _stack(folder, f"{stage}kpi", "demo-kpi", account, f"{stage}/demo-kpi", [f"{stage}ml"]),
                f"{stage}ml": _stack(folder, f"{stage}ml", "demo-ml-platform", account, f"{stage}/demo-ml-platform"),
            },
        )
    _write_assembly(
        tmp_path,
        {
            **{f"assembly-{stage}": _nested(stage) for stage in ("tooling", "prod")},
            "demo-cicd": _stack(tmp_path, "demo-cicd", "demo-cicd", "unknown-account", "demo-cicd"),
        },
    )  # fmt: skip
    assembly = cdk_cli.read_assembly(tmp_path)
    assert [(stack.selector, stack.stage, stack.account) for stack in assembly.stacks] == [
        ("tooling/demo-ml-platform", "tooling", "111111111111"),
        ("tooling/demo-kpi", "tooling", "111111111111"),
        ("prod/demo-ml-platform", "prod", "333333333333"),
        ("prod/demo-kpi", "prod", "333333333333"),
        ("demo-cicd", "", ""),
    ]
    assert assembly.stack("demo-kpi", "prod").path.parent.name == "assembly-prod"
    assert [stack.selector for stack in assembly.selected(["demo-kpi"])] == ["tooling/demo-kpi", "prod/demo-kpi"]
    with pytest.raises(UserError, match="stack demo-kpi is not in .*: synthesized stacks are tooling/demo-ml-platform"):
        assembly.stack("demo-kpi", "staging")
