"""Private copies of the project for tests that need their own names (pipelines, groups, bucket, stacks) in the
session's emulator, so no test depends on what another test left there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from localsage.facts import config as project_config

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("ml", "infra/kpi", "infra/cdk.json", "requirements")
INFRA_FILES = ("infra/app.py", "infra/stacks", "buildspec.yaml", "buildspec-promote.yaml", "package.json")


def copy_project(destination: Path, base_name: str, with_infra: bool = False) -> Path:
    """A copy of the repository's project under `destination` whose AWS names all start with `base_name`."""
    for name in PROJECT_FILES + (INFRA_FILES if with_infra else ()):
        source, target = REPO / name, destination / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "cdk.out"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    if with_infra:
        os.symlink(REPO / "node_modules", destination / "node_modules")
    config = project_config.with_values(project_config.load(REPO), pipeline_base_name=base_name, use_case_id=base_name)
    project_config.write(config, destination)
    return destination
