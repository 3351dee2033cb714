"""A private moto emulator for the tests that start, kill and restart one (never the session's own)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from localsage.adapters.emulators.moto import MotoEmulator
from localsage.facts.config import EmulatorSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def private_emulator(root: Path, monkeypatch, say: Callable[[str], None] = lambda message: None) -> MotoEmulator:
    """An emulator of `root` on a free port, its state in `root/.local`; the caller stops it (by PID)."""
    monkeypatch.setenv("LOCALSAGE_STATE_DIR", str(root / ".local"))
    return MotoEmulator(root, EmulatorSettings(port=free_port()), say=say)
