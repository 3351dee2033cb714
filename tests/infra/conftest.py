"""The CDK app built and synthesized ONCE per test session (jsii start-up is paid once per process)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from infra_support import FULL_CONTEXT, INFRA, REPO

from localsage.adapters.python_files import load_module
from localsage.deploy import cdk_cli

# Before anything imports aws_cdk: no Node 20 banner, and the jsii cache inside the project's .local/.
os.environ.update(cdk_cli.jsii_environment(REPO))


@functools.cache
def load_app_module():
    """infra/app.py as a module (it is a script, not part of the localsage package), loaded once per session."""
    return load_module(INFRA / "app.py", "infra_app")


@dataclass
class Synthesized:
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
    built = app_module.build(REPO, context=FULL_CONTEXT, outdir=str(outdir))
    assembly = built.app.synth()
    templates = {part: assembly.get_stack_by_name(stack.stack_name).template for part, stack in built.stacks.items()}
    return Synthesized(built, outdir, templates)


@pytest.fixture(scope="session")
def template_files(synthesized) -> list[Path]:
    return sorted(synthesized.outdir.glob("*.template.json"))
