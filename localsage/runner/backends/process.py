"""Run a step's container command as a plain process with the project's interpreter, no Docker.

Container paths: on Linux each step process gets a private mount namespace in which `/opt/ml` *is* the
step's folder (`unshare --mount`, or `unshare --user --map-root-user --mount` without root), so even
scripts that hard-code `/opt/ml/...` run unmodified, and concurrent steps each see their own `/opt/ml`.
Where that is unavailable (macOS, restricted containers), every `/opt/ml` path in the command, the
environment and the downloaded driver scripts is rewritten to the step folder instead; scripts that
spell `/opt/ml` literally cannot be rewritten, so they are named once.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

from localsage.adapters import processes
from localsage.facts.state_files import replacing
from localsage.runner.backends.base import ContainerSpec
from localsage.runner.warm import namespace
from localsage.serving import model_server

CONTAINER_ROOT = namespace.CONTAINER_ROOT
_PYTHON = re.compile(r"^(/usr(/local)?/bin/)?python(3(\.\d+)?)?$")
# Inside the namespace: make the mount point, bind the step folder over it, then become the command.
_NAMESPACE_SCRIPT = 'mkdir -p /opt/ml && mount --bind "$0" /opt/ml && exec "$@"'
_CODE_SUFFIXES = {".py", ".sh", ".r", ".R"}
# How SageMaker starts an inference container (`IMAGE serve`).
SERVE = "serve"
# How long a step may take to end on TERM before its whole group is killed.
TERMINATE_GRACE_S = 5


def isolation_command() -> tuple[str, ...] | None:
    """The `unshare` prefix that gives a private /opt/ml on this machine, or None (then paths are rewritten)."""
    return _isolation_for(os.environ.get("LOCALSAGE_ISOLATION"), os.environ.get("PATH", os.defpath))


@cache
def _isolation_for(forced: str | None, path: str) -> tuple[str, ...] | None:
    """Probed once per process and setting (a process forked from the command server inherits the answer)."""
    if forced == "paths" or not shutil.which("unshare", path=path) or not sys.platform.startswith("linux"):
        return None
    candidates = [("unshare", "--mount", "--propagation", "private")]
    if os.geteuid() != 0:
        candidates.insert(0, ("unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"))
    with tempfile.TemporaryDirectory() as probe:
        for prefix in candidates:
            test = [*prefix, "sh", "-c", _NAMESPACE_SCRIPT, probe, "test", "-d", CONTAINER_ROOT]
            if subprocess.run(test, capture_output=True, timeout=10).returncode == 0:
                return prefix
    return None


PIP_REFUSAL = (
    "pip: a step cannot install packages here: the process backend runs steps in the project's own environment, "
    "which a step must not change. Add the packages to pyproject.toml and ml/requirements.txt (the step image), "
    "then run ./dev lock."
)


def tools_folder(state_dir: Path) -> Path:
    """`pip` and `pip3` for the steps' PATH: SageMaker's training driver requires them to exist, and a step that
    really calls them gets the reason it cannot."""
    refusal = f"#!/bin/sh\necho '{PIP_REFUSAL}' >&2\nexit 1\n"
    return write_scripts(state_dir / "runner" / "bin", ("pip", "pip3"), refusal)


def write_scripts(folder: Path, names: tuple[str, ...], text: str) -> Path:
    """Executable scripts `folder/<name>` holding `text`, rewritten only when they differ (whole, even with
    two runs starting at once); the folder."""
    for name in names:
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            with replacing(path, mode=0o755) as stream:
                stream.write(text)
    return folder


def isolation_name() -> str:
    """How step processes get their /opt/ml here: a mount namespace (with a user namespace when not root), or
    rewritten paths."""
    prefix = isolation_command()
    if prefix is None:
        return namespace.PATHS
    return namespace.USER_AND_MOUNT if "--user" in prefix else namespace.MOUNT


class ProcessBackend:
    """Each `python` a step runs is a fresh interpreter (the project's own)."""

    name = "process"
    mode = "fresh interpreters"

    def __init__(self, say=print, tools: Path | None = None):
        self.say = say
        self.tools = tools
        self._warned_scripts: set[str] = set()

    def describe(self) -> str:
        prefix = isolation_command()
        if prefix:
            return f"process backend, {self.mode}, private /opt/ml per step ({' '.join(prefix[:3])})"
        return f"process backend, {self.mode}, /opt/ml paths rewritten to step folders (no mount namespace here)"

    def interpreter(self, spec: ContainerSpec) -> tuple[str, dict[str, str]]:
        """What `python` is in this step's command, and the variables that come with it."""
        return sys.executable, {}

    def start(self, spec: ContainerSpec) -> _Process:
        spec.logs.mkdir(parents=True, exist_ok=True)
        prefix = isolation_command()
        python, variables = self.interpreter(spec)
        command = [python if _PYTHON.match(word) else word for word in spec.command]
        if command[:1] == [SERVE]:  # an inference container: this interpreter's model server is its `serve`
            command = [python, model_server.__file__, *command]
        # Driver scripts call `python` and look for `pip`: the tools folder, then the project's interpreter.
        path = [str(folder) for folder in (Path(python).parent, self.tools, Path(sys.executable).parent) if folder]
        environment = {
            **os.environ,
            **spec.credentials,
            **spec.environment,
            **variables,
            "PYTHONUNBUFFERED": "1",
            "PATH": os.pathsep.join([*dict.fromkeys(path), os.environ.get("PATH", "")]),
        }
        if prefix:
            full_command = [*prefix, "sh", "-c", _NAMESPACE_SCRIPT, str(spec.opt_ml), *command]
        else:
            full_command = [_rewrite(word, spec.opt_ml) for word in command]
            environment = {key: _rewrite(value, spec.opt_ml) for key, value in environment.items()}
            self._rewrite_code(spec)
        with open(spec.log, "wb") as log:
            child = subprocess.Popen(
                full_command,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=spec.opt_ml,
                start_new_session=True,
            )
        return _Process(child)

    def _rewrite_code(self, spec: ContainerSpec) -> None:
        """Rewrite /opt/ml in downloaded drivers; name user scripts that spell it literally (once each)."""
        for folder in spec.code_dirs:
            for path in sorted(folder.rglob("*")):
                if path.suffix not in _CODE_SUFFIXES or not path.is_file():
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
                if CONTAINER_ROOT not in text:
                    continue
                if "sm_drivers" in path.parts:
                    path.write_text(_rewrite(text, spec.opt_ml), encoding="utf-8")
                elif path.name not in self._warned_scripts:
                    self._warned_scripts.add(path.name)
                    self.say(
                        f"warning: {path.name} spells /opt/ml literally and this machine has no mount namespace; "
                        "it only works if it also honours its arguments or SM_* variables"
                    )


class _Process:
    def __init__(self, child: subprocess.Popen):
        self.child = child

    def wait(self) -> int:
        return self.child.wait()

    def terminate(self) -> None:
        """Stop the step's own process group (it was started in a new session), TERM then KILL.

        The KILL goes to the group even when its leader ended on TERM: a member that ignores TERM would
        otherwise outlive the step. Nothing here collects the leader: `wait` does (terminate may run in a
        signal handler that interrupted `wait`), and an uncollected leader keeps the group's ID from reuse.
        """
        if self.child.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.child.pid, signal.SIGTERM)
        deadline = time.monotonic() + TERMINATE_GRACE_S
        while time.monotonic() < deadline and processes.running(self.child.pid):
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.child.pid, signal.SIGKILL)


def _rewrite(text: str, opt_ml: Path) -> str:
    return re.sub(r"/opt/ml(?=/|\b|$)", str(opt_ml), text)
