"""The backend for `--backend` (default $LOCALSAGE_BACKEND, else auto: docker only when an engine answers).

CI sets LOCALSAGE_BACKEND=process where a Docker engine exists but the step image is not meant to be used.
"""

from __future__ import annotations

import os

from localsage.errors import UserError
from localsage.runner.backends.base import Backend
from localsage.runner.backends.docker import DockerBackend, engine_answers
from localsage.runner.backends.process import ProcessBackend

BACKENDS = ("auto", "process", "docker")


def choose(name: str | None, say=print) -> Backend:
    name = name or os.environ.get("LOCALSAGE_BACKEND") or "auto"
    if name not in BACKENDS:
        raise UserError(f"--backend {name} is unknown: use one of {', '.join(BACKENDS)}")
    if name == "docker" or (name == "auto" and engine_answers()):
        if not engine_answers():
            raise UserError("--backend docker: no Docker engine answers; use --backend process (the default here)")
        return DockerBackend()
    return ProcessBackend(say=say)
