"""The process backend in warm mode: each `python` a step runs is forked from the warm interpreter.

The step's command and PATH name a `python` (and `python3`, `python3.X`) that is the launcher
(`runner/warm/launcher.py`): a script call goes to the warm interpreter, anything else becomes a fresh
interpreter. A step whose environment a library could have read at import under another value runs fresh,
and says so once.
"""

from __future__ import annotations

import sys
from pathlib import Path

from localsage.runner.backends.base import ContainerSpec
from localsage.runner.backends.process import ProcessBackend, isolation_name, write_scripts
from localsage.runner.warm import imports, protocol, service

PYTHON_NAMES = ("python", "python3", f"python3.{sys.version_info.minor}")


class WarmProcessBackend(ProcessBackend):
    name = "process (warm)"
    mode = "warm interpreters (steps fork from one that imported their libraries once)"

    def __init__(self, say=print, tools: Path | None = None, *, state_dir: Path, lifetime=None):
        super().__init__(say, tools)
        self.state_dir = state_dir
        self.lifetime = lifetime
        self._said: set[str] = set()
        self._shims = _write_shims(service.folder(state_dir) / "bin")

    def interpreter(self, spec: ContainerSpec) -> tuple[str, dict[str, str]]:
        record = service.running(self.state_dir, lambda: _installed_imports(spec), self.lifetime, self._say_once)
        if record is None:
            return super().interpreter(spec)
        step_environment = {**service.server_environment(), **spec.environment}
        reason = protocol.fresh_reason(step_environment, record.environment, declared=spec.environment)
        if reason:
            self._say_once(f"{spec.name}: fresh interpreters ({reason})")
            return super().interpreter(spec)
        shim = str(self._shims / "python3")
        return shim, {
            protocol.SOCKET_VARIABLE: record.key,
            protocol.OPT_ML_VARIABLE: str(spec.opt_ml),
            protocol.ISOLATION_VARIABLE: isolation_name(),
            protocol.SHIM_VARIABLE: shim,
        }

    def _say_once(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            self.say(message)


def _installed_imports(spec: ContainerSpec) -> list[str]:
    """What the step's code imports from the installation: what a server started for it imports first."""
    scripts = [path for folder in spec.code_dirs for path in sorted(folder.rglob("*.py"))]
    return list(dict.fromkeys(name for script in scripts for name in imports.installed_modules(script)))


def _write_shims(folder: Path) -> Path:
    """`python` and its aliases as the launcher (what a step's PATH and command call)."""
    launcher = Path(protocol.__file__).with_name("launcher.py")
    return write_scripts(folder, PYTHON_NAMES, f'#!/bin/sh\nexec "{sys.executable}" -I -S "{launcher}" "$@"\n')
