"""The backend for `--backend` (default $LOCALSAGE_BACKEND, else auto: docker only when an engine answers).

CI sets LOCALSAGE_BACKEND=process where a Docker engine exists but the step image is not meant to be used.
The process backend forks steps from a warm interpreter on Linux; LOCALSAGE_ISOLATION=fresh (or another
platform) makes each `python` a fresh interpreter.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from localsage.errors import UserError
from localsage.runner.backends.base import Backend
from localsage.runner.backends.docker import DockerBackend, engine_answers
from localsage.runner.backends.process import ProcessBackend, tools_folder
from localsage.runner.backends.warm import WarmProcessBackend

BACKENDS = ("auto", "process", "docker")


def choose(
    name: str | None, say=print, state_dir: Path | None = None, lifetime: tuple[int, float] | None = None
) -> Backend:
    """`state_dir`: where the process backend keeps its tools and warm interpreter; `lifetime`: the emulator
    process (PID, start time) the warm interpreter lives as long as."""
    name = name or os.environ.get("LOCALSAGE_BACKEND") or "auto"
    if name not in BACKENDS:
        raise UserError(f"--backend {name} is unknown: use one of {', '.join(BACKENDS)}")
    if name == "docker" or (name == "auto" and engine_answers()):
        if not engine_answers():
            raise UserError("--backend docker: no Docker engine answers; use --backend process (the default here)")
        return DockerBackend()
    if state_dir is None:
        return ProcessBackend(say=say)
    if warm_possible():
        return WarmProcessBackend(say, tools_folder(state_dir), state_dir=state_dir, lifetime=lifetime)
    return ProcessBackend(say, tools_folder(state_dir))


def warm_possible() -> bool:
    """Forking a warm interpreter is safe on Linux (not on macOS, whose system libraries forbid fork without
    exec); LOCALSAGE_ISOLATION=fresh turns it off."""
    return (
        sys.platform.startswith("linux")
        and os.environ.get("LOCALSAGE_ISOLATION") != "fresh"
        and hasattr(socket, "SOCK_SEQPACKET")
    )
