"""SageMaker clients other than our own, for the tests that drive the emulator the way a team's tools do.

The AWS CLI pins botocore exactly, which conflicts with the project's lock, so it lives in a venv of its own under
the state folder of the repository (made once, reused by later sessions; CI makes it from scratch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO
from uv import find_uv_bin

AWSCLI = "awscli==1.46.2"
CLIENTS_VENV = REPO / ".local" / "clients" / "awscli"


def aws_cli() -> Path:
    """The `aws` executable of the pinned CLI, installed on first use."""
    executable = CLIENTS_VENV / "bin" / "aws"
    stamp = CLIENTS_VENV / "installed"
    if not stamp.is_file() or stamp.read_text() != AWSCLI:
        uv = find_uv_bin()
        subprocess.run([uv, "venv", "--quiet", "--clear", "--python", sys.executable, str(CLIENTS_VENV)], check=True)
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", str(CLIENTS_VENV / "bin" / "python"), AWSCLI], check=True
        )
        stamp.write_text(AWSCLI)
    return executable


def cli_environment() -> dict[str, str]:
    """What the user exports to point their CLI at the emulator (this process is in local mode already)."""
    names = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
             "AWS_SHARED_CREDENTIALS_FILE", "NO_PROXY", "no_proxy", "PATH", "HOME")  # fmt: skip
    return {name: os.environ[name] for name in names if name in os.environ}
