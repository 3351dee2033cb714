"""Processes that live as long as the emulator (the warm interpreter): recorded by PID and start time, stopped
with it by that PID, never by name.

A companion writes `<state>/companions/<name>.json` once it runs; `./dev emulator.down` stops every recorded
one that is still the same process (a PID reused by another program is left alone).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import psutil

from localsage.adapters import processes
from localsage.facts.state_files import write_atomically

FOLDER = "companions"
STOP_GRACE_S = 5.0


def record(state_dir: Path, name: str, pid: int, started: float, *, ends_itself: bool = False) -> None:
    """`ends_itself`: SIGTERM asks it to end once its own work is done (the command server, whose children are
    the user's tasks); it is never waited for nor killed."""
    recorded = {"pid": pid, "started": started, "ends_itself": ends_itself}
    write_atomically(state_dir / FOLDER / f"{name}.json", json.dumps(recorded))


def running(state_dir: Path, name: str) -> psutil.Process | None:
    """The companion `name` if it still runs (started, maybe not ready yet)."""
    recorded = _recorded(state_dir, name)
    return processes.alive(recorded.get("pid"), recorded.get("started")) if recorded else None


def _recorded(state_dir: Path, name: str) -> dict | None:
    try:
        return json.loads((state_dir / FOLDER / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stop(state_dir: Path, name: str) -> bool:
    """Stop the companion `name` if it still runs; True when a process was stopped."""
    path = state_dir / FOLDER / f"{name}.json"
    recorded = _recorded(state_dir, name)
    if recorded is None:
        return False
    stopped = False
    process = processes.alive(recorded.get("pid"), recorded.get("started"))
    if process is not None and recorded.get("ends_itself"):
        with contextlib.suppress(psutil.Error):
            process.terminate()
            stopped = True
    elif process is not None:
        with contextlib.suppress(psutil.Error):
            process.terminate()
            try:
                process.wait(STOP_GRACE_S)
            except psutil.TimeoutExpired:
                process.kill()
            stopped = True
    path.unlink(missing_ok=True)
    return stopped


def stop_all(state_dir: Path) -> list[str]:
    """Stop every recorded companion; the names of those that were running."""
    folder = state_dir / FOLDER
    names = sorted(path.stem for path in folder.glob("*.json")) if folder.is_dir() else []
    return [name for name in names if stop(state_dir, name)]
