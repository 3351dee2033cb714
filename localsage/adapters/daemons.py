"""Processes the toolkit starts to outlive the call that starts them (the emulator, its workers, the warm
interpreter): each in a session of its own, so a terminal's Ctrl-C or a closed shell does not reach it, with no
stdin and its output appended to its log file. They are stopped by their PID, never by name."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def start(command: Sequence[str], *, log: Path, env: Mapping[str, str], cwd: Path) -> subprocess.Popen:
    with open(log, "ab") as output:  # the child keeps its own descriptor
        return subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
