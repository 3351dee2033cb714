"""Which process is which: a PID with its start time (PIDs are reused, the pair is not). Every check that a
recorded process (the emulator, a runner, a companion, a step) still runs goes through here."""

from __future__ import annotations

import os

import psutil


def current() -> tuple[int, float]:
    """This process's PID and start time."""
    return os.getpid(), psutil.Process().create_time()


def alive(pid: int | None, started: float | None) -> psutil.Process | None:
    """The process if it still runs (same PID and start time), else None."""
    if pid is None:
        return None
    try:
        process = psutil.Process(pid)
        same = abs(process.create_time() - (started or 0)) <= 0.5
        # A zombie has ended; only its parent has not collected its exit status yet.
        return process if same and process.status() != psutil.STATUS_ZOMBIE else None
    except psutil.Error:
        return None


def running(pid: int) -> bool:
    """True while the process runs, whatever started it (a zombie has ended: its parent has not collected it)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
