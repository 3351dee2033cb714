"""Security checks over every synthesized template: cdk-nag (AwsSolutions), cfn-lint, forbidden policies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from infra_support import FULL_CONTEXT, REPO, STAGES

FORBIDDEN_POLICY_NAMES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
# cfn-lint findings we accept (rule id and the start of its message), each with the reason.
ACCEPTED_CFN_LINT_FINDINGS = {
    ("W3005", ""): "CDK writes a DependsOn on the CodePipeline role that a GetAtt already implies (harmless).",
    ("E3703", "Prefer using Fn::Sub over Fn::Join"): "Of E3703's checks on CodePipeline actions, only its style "
    "advice: CDK Pipelines joins each stage's CloudFormation role ARN with the partition, which CloudFormation "
    "evaluates as Fn::Sub would.",
}


def accepted(finding: dict) -> bool:
    return any(
        finding["Rule"]["Id"] == rule and finding["Message"].startswith(start)
        for rule, start in ACCEPTED_CFN_LINT_FINDINGS
    )


def test_every_stack_passes_cdk_nag(synthesized):
    """The session's synth ran with the AwsSolutions pack and would have raised on any unacknowledged finding."""
    parts = {"ml-platform", "notifications", "kpi"}
    staged = {f"{name}/{part}" for name, _, _ in STAGES for part in parts}
    assert set(synthesized.templates) == parts | {"cicd"} | staged
    report = json.loads((synthesized.outdir / "validation-report.json").read_text(encoding="utf-8"))
    assert [plugin["pluginName"] for plugin in report["pluginReports"]] == ["AwsSolutions"]
    assert [violation for plugin in report["pluginReports"] for violation in plugin["violations"]] == []


@pytest.mark.parametrize("part", ["cicd", "ml-platform"])
def test_cdk_nag_is_active_on_the_project_app(app_module, tmp_path, part):
    """A public, unencrypted bucket added to the real app must stop synth: the pack is wired in, not decorative.
    In the cicd stack, and in a stage's stack (built without a source: CDK Pipelines synthesizes the stages it
    deploys while it is built, after which they cannot change)."""
    from aws_cdk import aws_s3 as s3

    context = FULL_CONTEXT if part == "cicd" else {}
    built = app_module.build(REPO, context=context, outdir=str(tmp_path))
    s3.Bucket(built.stacks[part], "Careless", block_public_access=s3.BlockPublicAccess(block_public_acls=False))
    with pytest.raises(Exception, match="ValidationFailed"):
        built.app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


def test_cfn_lint_finds_no_errors(template_files):
    linter = Path(sys.executable).parent / "cfn-lint"
    finished = subprocess.run(
        [str(linter), "--format", "json", *map(str, template_files)], capture_output=True, text=True
    )
    assert finished.stdout.strip(), f"cfn-lint printed no report: {finished.stderr[-500:]}"
    findings = json.loads(finished.stdout)
    unexpected = [f"{Path(f['Filename']).name}: {f['Rule']['Id']} {f['Message']}" for f in findings if not accepted(f)]
    assert unexpected == []
    assert len(template_files) == 1 + 3 * (1 + len(STAGES)), "cicd, and three stacks per account"


def test_no_template_grants_administrator_like_access(template_files):
    for path in template_files:
        text = path.read_text(encoding="utf-8")
        for name in FORBIDDEN_POLICY_NAMES:
            assert name not in text, f"{path.name} mentions {name}"
        for statement in _statements(json.loads(text)):
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if statement.get("Effect") == "Allow":
                assert "*" not in actions, f"{path.name}: Allow of Action '*' in {statement}"


def _statements(node):
    """Every IAM statement anywhere in a template (role, policy, bucket, topic and key policies)."""
    if isinstance(node, dict):
        if "Statement" in node and isinstance(node["Statement"], list):
            yield from node["Statement"]
        for value in node.values():
            yield from _statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from _statements(value)
