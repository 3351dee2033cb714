"""The emulator a project's `project.toml` asks for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from localsage.adapters.emulators.base import Emulator
from localsage.adapters.emulators.localstack import LocalStackEmulator
from localsage.adapters.emulators.moto import MotoEmulator
from localsage.facts import config as project_config

KINDS: dict[str, type[Emulator]] = {emulator.kind: emulator for emulator in (MotoEmulator, LocalStackEmulator)}


def emulator_for(root: Path, config: project_config.ProjectConfig, say: Callable[[str], None] = print) -> Emulator:
    return KINDS[config.emulator.kind](root, config.emulator, say, config.region)


def for_project(root: Path | None = None, say: Callable[[str], None] = print) -> Emulator:
    """The emulator of the project at `root` (default: the one around the working folder)."""
    root = root or project_config.project_root()
    return emulator_for(root, project_config.load(root), say)
