"""`./dev deploy --local`: the stacks into the embedded emulator, then our provisioners for what it skips."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from localsage.adapters import targets
from localsage.deploy import cdk_cli, provisioners
from localsage.deploy.adopt import buckets_adopted
from localsage.deploy.provisioners import (
    EMULATED_BY_CLOUDFORMATION,
    PROVISIONERS,
    NotEmulated,
    Resolver,
    Unresolvable,
)
from localsage.errors import UserError
from localsage.facts.config import TOOLING_STAGE

BY_CLOUDFORMATION = "cloudformation"
NOT_EMULATED = "not emulated"
LOCAL_ONLY_IN_AWS = ("cicd",)


@dataclass
class StackOutcome:
    """What happened to each resource of one stack: by CloudFormation, created/updated/unchanged, not emulated."""

    name: str
    resources: dict[str, str] = field(default_factory=dict)
    not_emulated: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.resources.values() if value == outcome)

    @property
    def changed(self) -> bool:
        return any(value in (provisioners.CREATED, provisioners.UPDATED) for value in self.resources.values())


def stacks_to_deploy(root: Path, requested: list[str] | None, say: Callable[[str], None]) -> list[str]:
    """The stack names for the emulator: all (or the requested ones) except those that exist only in AWS."""
    from localsage.facts import config as project_config

    names = project_config.load(root).stack_names
    chosen = resolve_stack_names(names, requested)
    for part in LOCAL_ONLY_IN_AWS:
        say(f"{names[part]}: not deployed locally (CodePipeline and CodeBuild run only in AWS)")
    return [name for name in chosen if name not in {names[part] for part in LOCAL_ONLY_IN_AWS}]


def resolve_stack_names(names: dict[str, str], requested: list[str] | None) -> list[str]:
    """Stack names from `--stacks` values, which may be parts (kpi) or full names (abalone-kpi)."""
    if not requested:
        return list(names.values())
    chosen = []
    for item in requested:
        name = names.get(item, item)
        if name not in names.values():
            raise UserError(f"--stacks {item}: unknown stack; use {', '.join(names)} or {', '.join(names.values())}")
        chosen.append(name)
    return chosen


def deploy_local(
    root: Path,
    requested: list[str] | None = None,
    context: dict[str, str] | None = None,
    say: Callable[[str], None] = print,
    outdir: Path | None = None,
) -> list[StackOutcome]:
    """Synthesize for the emulator, `cdk deploy` there, then provision what its CloudFormation skips."""
    names = stacks_to_deploy(root, requested, say)
    target = targets.local(root, say)
    assembly = cdk_cli.synth(root, "local", context, outdir=outdir, say=say)
    for note in assembly.notes:
        say(f"synth: {note}")
    tooling = [stack for stack in assembly.stacks if stack.stage == TOOLING_STAGE]
    missing = [name for name in names if name not in {stack.name for stack in tooling}]
    if missing:
        raise UserError(f"stack {missing[0]} was not synthesized: synthesized stacks are {assembly.names()}")
    chosen = [assembly.stack(name, TOOLING_STAGE) for name in names]
    staged = sorted({stack.stage for stack in assembly.stacks if stack.stage not in ("", TOOLING_STAGE)})
    if staged:
        say(
            f"stages {', '.join(staged)}: not deployed locally (the emulator plays the tooling account only); "
            "their templates are synthesized and checked"
        )
    say(f"deploying {', '.join(names)} to the emulator at {target.endpoint}")
    with buckets_adopted(target, chosen, say):
        cdk_cli.run_cli(
            root,
            # Change sets make moto fail DeleteChangeSet, which the CLI then retries for ~40 s: deploy directly.
            [
                "deploy",
                "--app",
                str(assembly.outdir),
                "--method=direct",
                "--require-approval",
                "never",
                "--exclusively",
                *(stack.selector for stack in chosen),
            ],
            os.environ,
            "cdk deploy --local",
        )
    outcomes = [provision_stack(target, stack) for stack in chosen]
    for outcome in outcomes:
        _report(outcome, say)
    return outcomes


def provision_stack(target: targets.Target, stack: cdk_cli.StackTemplate) -> StackOutcome:
    """Check what the emulator's CloudFormation created and provision the rest of one deployed stack."""
    cloudformation = target.client("cloudformation")
    created = {
        summary["LogicalResourceId"]: summary["PhysicalResourceId"]
        for summary in cloudformation.list_stack_resources(StackName=stack.name)["StackResourceSummaries"]
        if summary.get("LogicalResourceId") and summary.get("PhysicalResourceId")
    }
    template = stack.template()
    outcome = StackOutcome(stack.name)
    failed = [
        f"{kind} {logical_id}"
        for logical_id, kind in stack.resource_types.items()
        if kind in EMULATED_BY_CLOUDFORMATION and logical_id not in created
    ]
    if failed:
        raise UserError(
            f"{stack.name}: the emulator's CloudFormation did not create {', '.join(failed)}: "
            "see .local/emulator/server.log"
        )
    outcome.resources.update({logical_id: BY_CLOUDFORMATION for logical_id in created})
    physical_ids = dict(created)
    resolver = Resolver(target.account, target.region, physical_ids, stack.resource_types, stack.name)
    for provisioner_class in PROVISIONERS:
        provisioner = provisioner_class(target.client)
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != provisioner_class.resource_type:
                continue
            try:
                properties = resolver.resolve(resource.get("Properties", {}))
                outcome.resources[logical_id] = provisioner.apply(properties)
            except (Unresolvable, NotEmulated) as exc:
                outcome.not_emulated.append(f"{resource['Type']} {logical_id} ({exc})")
                continue
            physical_ids[logical_id] = provisioner.physical_id(properties)
    handled = set(outcome.resources) | {entry.split(" ")[1] for entry in outcome.not_emulated}
    outcome.not_emulated += [
        f"{kind} {logical_id}" for logical_id, kind in stack.resource_types.items() if logical_id not in handled
    ]
    return outcome


def _report(outcome: StackOutcome, say: Callable[[str], None]) -> None:
    counts = ", ".join(
        f"{outcome.count(kind)} {kind}"
        for kind in (provisioners.CREATED, provisioners.UPDATED, provisioners.UNCHANGED)
        if outcome.count(kind)
    )
    say(
        f"{outcome.name}: {outcome.count(BY_CLOUDFORMATION)} by the emulator's CloudFormation"
        + (f", provisioned: {counts}" if counts else "")
    )
    for entry in outcome.not_emulated:
        say(f"  {NOT_EMULATED}: {entry}")
