"""The command server: `./dev TASK` forked from an interpreter that has already imported the toolkit.

A task's own work is often shorter than the interpreter's start and imports (invoke, boto3 and its service
models, the toolkit: about 0.8 s). So a local run, once it is done, starts this server beside the emulator,
in the background. While it runs, `./dev` sends the tasks it lists as warm to the launcher
(`launcher.py`), which asks the server to fork `python -m invoke ...` with the caller's arguments, working
folder, environment and descriptors. The child detects the terminal again (`--after-fork`) and runs invoke as a
fresh process would; anything the server cannot serve (no server yet, another interpreter, import-time
variables that differ, the toolkit's code edited since) runs as a fresh process, as before.

One server per state folder, kept while its emulator runs (it watches the emulator's PID and start time);
`./dev emulator.down` stops it by its PID as the emulator's companion. Stopping it never stops a task forked
from it: the server retires (its address is removed, so ./dev stops asking it) and ends once its running tasks
have. `LOCALSAGE_ISOLATION=fresh` keeps ./dev from using it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil

from localsage.adapters import companions, daemons, processes
from localsage.runner.warm import service

COMPANION = "warm-commands"


def folder(state_dir: Path) -> Path:
    path = state_dir / "warm-commands"
    path.mkdir(parents=True, exist_ok=True)
    return path


def address_file(state_dir: Path) -> Path:
    """The ready server's key, one line: what ./dev reads (it cannot parse the JSON record)."""
    return folder(state_dir) / "address"


def running(state_dir: Path) -> bool:
    """A server runs for this state folder (ready, or still importing)."""
    return companions.running(state_dir, COMPANION) is not None


def start(
    state_dir: Path,
    *,
    preload: list[str],
    prepare: str,
    after_fork: str,
    lifetime: tuple[int, float] | None,
) -> None:
    """Start the command server unless one runs. Never waits for it: it says it is ready by writing its address
    file, and until then ./dev runs tasks fresh."""
    home = folder(state_dir)
    with service.locked(home / "lock"):
        record = service.read_record(home)
        key = service.server_key(state_dir, dict(os.environ), kind="commands")
        if record and processes.alive(record.pid, record.started):
            if record.key == key:
                return
            companions.stop(state_dir, COMPANION)  # it retires: its running tasks finish, new ones go to ours
        elif running(state_dir):
            return  # started, still importing: it writes its record when ready
        for stale in (home / "server.json", address_file(state_dir)):
            stale.unlink(missing_ok=True)
        command = [sys.executable, "-m", service.SERVER_MODULE, "--commands", "--key", key]
        command += ["--record", str(home / "server.json"), "--address", str(address_file(state_dir))]
        command += ["--preload", ",".join(preload), "--prepare", prepare, "--after-fork", after_fork]
        if lifetime:
            command += ["--watch", f"{lifetime[0]}:{lifetime[1]}"]
        child = daemons.start(command, log=home / "server.log", env=os.environ, cwd=home)
        try:
            started = psutil.Process(child.pid).create_time()
            companions.record(state_dir, COMPANION, child.pid, started, ends_itself=True)
        except psutil.Error:
            pass  # it ended already: its log says why, and tasks keep running fresh
