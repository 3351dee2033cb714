"""`./dev init` (write project.toml from flags, prompting only on a terminal) and `./dev names`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.views.console import console
from localsage.views.project import print_names

QUESTIONS = {
    "use_case_id": "Use-case id (lowercase letters, digits, hyphens)",
    "pipeline_base_name": "Pipeline base name (prefix of every AWS name)",
    "region": "AWS region",
    "account": "AWS account id (12 digits, empty if not known yet)",
    "artifact_bucket": "Artefact bucket (empty: derived from base name, account and region)",
}


def initialise(
    root: Path,
    values: dict[str, object],
    interactive: bool | None = None,
    ask: Callable[[str, str], str] | None = None,
) -> tuple[Path, project_config.ProjectConfig]:
    """Merge flags over the current (or default) config, ask for the rest on a TTY, validate, then write.

    Nothing is written when any value is invalid: the one-line error names the field and the rule.
    """
    interactive = sys.stdin.isatty() if interactive is None else interactive
    ask = ask or _ask_on_terminal
    path = root / project_config.CONFIG_FILE
    try:
        current = project_config.load(root) if path.exists() else project_config.ProjectConfig()
    except UserError:
        current = project_config.ProjectConfig()  # init is how a broken project.toml gets repaired
    known = {f.name for f in fields(project_config.ProjectConfig)} | {
        f"emulator_{f.name}" for f in fields(project_config.EmulatorSettings)
    }
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"init: unknown option {unknown[0]}")
    chosen = {key: value for key, value in values.items() if value is not None}
    if "emulator_port" in chosen:
        try:
            chosen["emulator_port"] = int(chosen["emulator_port"])
        except ValueError:
            raise UserError(f"--emulator-port {chosen['emulator_port']!r} is not a number") from None
    if interactive:
        for key, question in QUESTIONS.items():
            if key not in chosen:
                chosen[key] = ask(question, str(getattr(current, key))).strip()
    merged = project_config.with_values(current, **chosen)
    return project_config.write(merged, root), merged


# What a SageMaker project's seed code records about its project (`.sagemaker-code-config`, JSON).
CODE_CONFIG_KEYS = {"sagemakerProjectName": "sagemaker_project_name", "sagemakerProjectId": "sagemaker_project_id"}


def code_config_values(path: Path) -> dict[str, str]:
    """The project.toml fields a SageMaker project's `.sagemaker-code-config` gives (its project's name and id)."""
    where = f"--from-code-config {path}"
    expected = "give the seed code's .sagemaker-code-config"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{where}: no such file: {expected}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{where}: not JSON ({exc}): {expected}") from None
    if not isinstance(document, dict):
        raise UserError(f"{where}: a JSON object is expected, with {', '.join(CODE_CONFIG_KEYS)}")
    values = {}
    for key, field in CODE_CONFIG_KEYS.items():
        value = document.get(key)
        if not isinstance(value, str) or not value:
            raise UserError(f"{where}: {key} is missing or empty: the file names its SageMaker project")
        values[field] = value
    return values


def _ask_on_terminal(question: str, default: str) -> str:
    answer = input(f"{question} [{default}]: ")
    return answer or default


def init_task(values: dict[str, object], no_input: bool = False, from_code_config: str | None = None) -> None:
    if from_code_config:
        values = {**code_config_values(Path(from_code_config)), **{k: v for k, v in values.items() if v is not None}}
    path, chosen = initialise(project_config.project_root_or_cwd(), values, interactive=False if no_input else None)
    console.print(f"wrote {path.name}:", markup=False)
    print_names(chosen)


def names_task(as_json: bool = False) -> None:
    print_names(project_config.load(), as_json=as_json)
