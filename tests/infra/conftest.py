"""The CDK app built and synthesized ONCE per test session (jsii start-up is paid once per process)."""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from infra_support import FULL_CONTEXT, INFRA, REPO, STAGES, TOOLING_ACCOUNT
from projects import copy_project

from localsage.adapters.python_files import load_module
from localsage.deploy import cdk_cli
from localsage.facts import config as project_config

# Before anything imports aws_cdk: no Node 20 banner, and the jsii cache inside the project's .local/.
os.environ.update(cdk_cli.jsii_environment(REPO))


@functools.cache
def load_app_module():
    """infra/app.py as a module (it is a script, not part of the localsage package), loaded once per session."""
    return load_module(INFRA / "app.py", "infra_app")


def stack_template(stack) -> dict:
    """A synthesized stack's template, also for a stack inside a stage (its own nested assembly)."""
    import aws_cdk as cdk

    return cdk.Stage.of(stack).synth().get_stack_artifact(stack.artifact_id).template


def staged_project(destination: Path) -> Path:
    """The repository's project with a tooling account and two target stages, prod behind an approval."""
    root = copy_project(destination, project_config.load(REPO).pipeline_base_name, with_infra=True)
    shutil.copytree(REPO / "docker", root / "docker")
    config = project_config.with_values(project_config.load(root), account=TOOLING_ACCOUNT)
    stages = tuple(project_config.DeploymentStage(name, account, approval=gate) for name, account, gate in STAGES)
    project_config.write(dataclasses.replace(config, stages=stages), root)
    return root


@dataclass
class Synthesized:
    """Templates by part for the tooling account's stacks and cicd, by `<stage>/<part>` for the target stages."""

    built: object
    outdir: Path
    templates: dict[str, dict]

    def template(self, part: str):
        from aws_cdk.assertions import Template

        return Template.from_json(self.templates[part])

    def resources(self, part: str, resource_type: str) -> dict[str, dict]:
        return {
            logical_id: resource
            for logical_id, resource in self.templates[part]["Resources"].items()
            if resource["Type"] == resource_type
        }


@pytest.fixture(scope="session")
def app_module():
    return load_app_module()


@pytest.fixture(scope="session")
def synthesized(app_module, tmp_path_factory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    root = staged_project(tmp_path_factory.mktemp("staged"))
    built = app_module.build(root, context=FULL_CONTEXT, outdir=str(outdir))
    built.app.synth()
    templates = {part: stack_template(stack) for part, stack in built.stacks.items()}
    for name, _, _ in STAGES:
        templates |= {f"{name}/{part}": stack_template(stack) for part, stack in built.stages[name].stacks.items()}
    return Synthesized(built, outdir, templates)


@pytest.fixture(scope="session")
def template_files(synthesized) -> list[Path]:
    return sorted(synthesized.outdir.glob("**/*.template.json"))
