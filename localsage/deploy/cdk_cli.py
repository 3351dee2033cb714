"""Running the CDK app (infra/app.py) and the pinned CDK CLI (node_modules/.bin/cdk) as subprocesses.

The app runs in its own Python process (jsii start-up is paid once there, and tasks stay light); the
CLI then works on the synthesized assembly (`--app <cdk.out>`), so the app never runs twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.facts.cdk_context import NOTE_PREFIX, TARGET_KEY

APP = Path("infra") / "app.py"
CLI = Path("node_modules") / ".bin" / "cdk"
AWS_OUTDIR = Path("infra") / "cdk.out"
VALIDATION_REPORT = "validation-report.json"


@dataclass(frozen=True)
class StackTemplate:
    """One synthesized stack; `selector` is how the CDK CLI names it (`<stage>/<stack>` inside a stage)."""

    name: str
    path: Path
    resource_types: dict[str, str]
    selector: str = ""
    stage: str = ""
    account: str = ""

    @property
    def resource_count(self) -> int:
        return len(self.resource_types)

    def template(self) -> dict:
        return json.loads(self.path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Assembly:
    """A synthesized cloud assembly: where it is, its stacks in deploy order, and what synth left out."""

    outdir: Path
    stacks: list[StackTemplate]
    notes: list[str] = field(default_factory=list)

    def stack(self, name: str, stage: str | None = None) -> StackTemplate:
        """The stack named `name` (in `stage`, when given: the same names repeat in every stage's account)."""
        for stack in self.stacks:
            if stack.name == name and stage in (None, stack.stage):
                return stack
        raise self.not_found(name)

    def not_found(self, name: str) -> UserError:
        return UserError(f"stack {name} is not in {self.outdir}: synthesized stacks are {self.names()}")

    def names(self) -> str:
        return ", ".join(stack.selector for stack in self.stacks)

    def selected(self, names: list[str]) -> list[StackTemplate]:
        """Every stack with one of `names`, in each stage, in deploy order."""
        return [stack for stack in self.stacks if stack.name in names]


def default_outdir(root: Path, target: str) -> Path:
    """infra/cdk.out for AWS; the emulator's assembly stays in `.local/`, so it can never be deployed to AWS."""
    return root / AWS_OUTDIR if target == "aws" else project_config.local_dir(root) / "cdk.out"


def jsii_environment(root: Path) -> dict[str, str]:
    """What every CDK process gets: no Node 20 end-of-life banner, the jsii cache inside `.local/`, no telemetry.

    The CDK CLI reports usage to an AWS endpoint by default; local tasks must only talk to loopback.
    """
    return {
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_RUNTIME_PACKAGE_CACHE_ROOT": str(project_config.local_dir(root) / "jsii-cache"),
        "CDK_DISABLE_VERSION_CHECK": "true",
    }


def synth(
    root: Path,
    target: str,
    context: Mapping[str, object] | None = None,
    outdir: Path | None = None,
    environment: Mapping[str, str] | None = None,
    say: Callable[[str], None] = print,
) -> Assembly:
    """Run infra/app.py for `target` ("local" or "aws"); a context or nag problem becomes a UserError."""
    root = root.resolve()
    started = time.monotonic()
    say(f"synth: running {APP.as_posix()} for {'the emulator' if target == 'local' else 'AWS'} (CDK and cdk-nag)")
    outdir = (outdir or default_outdir(root, target)).resolve()
    child_environment = {
        **(environment or os.environ),
        **jsii_environment(root),
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps({**(context or {}), TARGET_KEY: target}),
        "LOCALSAGE_ROOT": str(root),
    }
    (outdir / VALIDATION_REPORT).unlink(missing_ok=True)
    finished = subprocess.run(
        [sys.executable, str(root / APP)], cwd=root / "infra", env=child_environment, capture_output=True, text=True
    )
    lines = finished.stderr.splitlines()
    if finished.returncode != 0:
        raise UserError(_synth_failure(lines, outdir, root))
    notes = [line.removeprefix(NOTE_PREFIX) for line in lines if line.startswith(NOTE_PREFIX)]
    assembly = read_assembly(outdir, notes)
    say(f"synth: {len(assembly.stacks)} stacks in {time.monotonic() - started:.1f} s")
    return assembly


def read_assembly(outdir: Path, notes: list[str] | None = None) -> Assembly:
    """The stacks of a synthesized assembly: each stage's (its nested assembly) in order, then the app's own."""
    return Assembly(outdir, _stacks_of(outdir, stage=""), notes or [])


def _stacks_of(folder: Path, stage: str) -> list[StackTemplate]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    staged: list[StackTemplate] = []
    stacks: list[StackTemplate] = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        properties = artifact.get("properties", {})
        if artifact.get("type") == "cdk:cloud-assembly":
            staged += _stacks_of(folder / properties["directoryName"], properties.get("displayName", artifact_id))
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        path = folder / properties["templateFile"]
        resources = json.loads(path.read_text(encoding="utf-8")).get("Resources", {})
        name = properties.get("stackName", artifact_id)
        account = artifact.get("environment", "").removeprefix("aws://").split("/")[0]
        stacks.append(
            StackTemplate(
                name,
                path,
                {logical_id: r["Type"] for logical_id, r in resources.items()},
                selector=artifact.get("displayName", name),
                stage=stage,
                account="" if account == "unknown-account" else account,
            )
        )
    return staged + _in_dependency_order(stacks, manifest)


def run_cli(
    root: Path,
    arguments: list[str],
    environment: Mapping[str, str],
    what: str,
    say: Callable[[str], None] | None = None,
) -> str:
    """Run the pinned CDK CLI; its output streams to `say` line by line and is returned."""
    cli = root / CLI
    if not cli.exists():
        raise UserError(f"{CLI} is missing: run './dev' once (it installs the pinned CDK CLI with npm ci)")
    process = subprocess.Popen(
        [str(cli), *arguments, "--no-notices"],
        cwd=root / "infra",
        env={
            **environment,
            **jsii_environment(root),
            # The CLI's AWS SDK announces that releases after January 2027 need node 22 (infra/README.md says so once).
            "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
            "CI": "true",
            "FORCE_COLOR": "0",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    for line in process.stdout:
        output.append(line)
        if say and line.strip():
            say(line.rstrip())
    if process.wait() != 0:
        tail = " | ".join(line.strip() for line in output[-3:] if line.strip())
        raise UserError(f"{what} failed (cdk exit code {process.returncode}): {tail}")
    return "".join(output)


def _synth_failure(lines: list[str], outdir: Path, root: Path) -> str:
    for line in lines:
        if line.startswith("error: "):
            return "synth: " + line.removeprefix("error: ")
    if (outdir / VALIDATION_REPORT).exists() or any("ValidationFailed" in line for line in lines):
        rules = _violated_rules(outdir / VALIDATION_REPORT)
        return (
            f"synth: cdk-nag found {len(rules)} unacknowledged finding(s) ({', '.join(rules[:3])}"
            f"{' ...' if len(rules) > 3 else ''}): fix them or acknowledge each with a reason in infra/stacks; "
            f"report: {relative_to(outdir / VALIDATION_REPORT, root)}"
        )
    last = next((line for line in reversed(lines) if line.strip()), "no output")
    return f"synth: {APP} failed: {last.strip()}"


def _violated_rules(report: Path) -> list[str]:
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return []
    return [
        violation["ruleName"] for plugin in data.get("pluginReports", []) for violation in plugin.get("violations", [])
    ]


def _in_dependency_order(stacks: list[StackTemplate], manifest: dict) -> list[StackTemplate]:
    """Stacks after the ones they depend on (the manifest names dependencies by artifact id)."""
    ids = {
        artifact_id: artifact.get("properties", {}).get("stackName", artifact_id)
        for artifact_id, artifact in manifest["artifacts"].items()
    }
    needs = {
        ids[artifact_id]: {ids.get(dependency, dependency) for dependency in artifact.get("dependencies", [])}
        for artifact_id, artifact in manifest["artifacts"].items()
    }
    names = {stack.name for stack in stacks}
    ordered: list[StackTemplate] = []
    while len(ordered) < len(stacks):
        placed = {stack.name for stack in ordered}
        ordered.append(next(s for s in stacks if s.name not in placed and (needs.get(s.name, set()) & names) <= placed))
    return ordered


def relative_to(path: Path, root: Path) -> str:
    """`path` relative to the project root when it is inside it (shorter messages), else absolute."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
