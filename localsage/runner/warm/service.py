"""The runner's side of the warm interpreter: start it once, find it again, stop it by its PID.

One server per state folder, kept while its emulator runs (it watches the emulator's PID and start time)
and shared by every run and job in between; `./dev emulator.down` stops it as the emulator's companion.
A server imported under other conditions (another interpreter, changed packages or server code, other
import-time variables) is replaced, never reused.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from localsage.adapters import companions, daemons, processes
from localsage.runner.warm import protocol

SERVER_MODULE = "localsage.runner.warm.server"
READY_TIMEOUT_S = 120.0
COMPANION = "warm-interpreter"
# The step processes' own setting (ProcessBackend), which the server must have been imported under too.
STEP_VARIABLES = {"PYTHONUNBUFFERED": "1"}


def folder(state_dir: Path) -> Path:
    path = state_dir / "warm"
    path.mkdir(parents=True, exist_ok=True)
    return path


def server_key(state_dir: Path, environment: dict[str, str] | None = None, kind: str = "steps") -> str:
    """What a warm interpreter was made of: reuse it only while all of it is unchanged."""
    digest = hashlib.sha256(kind.encode())
    digest.update(sys.executable.encode())
    digest.update(str(state_dir.resolve()).encode())
    for key in ("purelib", "platlib"):
        digest.update(str(os.stat(sysconfig.get_paths()[key]).st_mtime_ns).encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    variables = protocol.import_time_environment(server_environment() if environment is None else environment)
    digest.update(json.dumps(variables, sort_keys=True).encode())
    return digest.hexdigest()[:20]


def server_environment() -> dict[str, str]:
    return {**os.environ, **STEP_VARIABLES}


def running(
    state_dir: Path,
    preload: Callable[[], list[str]],
    lifetime: tuple[int, float] | None,
    say: Callable[[str], None],
) -> protocol.ServerRecord | None:
    """The ready server's record (started now, importing `preload()`, if needed), or None when it cannot start."""
    home = folder(state_dir)
    key = server_key(state_dir)
    record = read_record(home)
    if record and record.key == key and processes.alive(record.pid, record.started):
        return record
    with locked(home / "lock"):
        record = read_record(home)
        if record and record.key == key and processes.alive(record.pid, record.started):
            return record
        if record:
            stop(state_dir)
        return _start(home, key, preload(), lifetime, say)


def read_record(home: Path) -> protocol.ServerRecord | None:
    try:
        return protocol.ServerRecord(**json.loads((home / "server.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def stop(state_dir: Path) -> None:
    """Stop the recorded server by its PID (if it is still that process) and forget it."""
    home = folder(state_dir)
    record = read_record(home)
    if record:
        companions.stop(state_dir, COMPANION)
    (home / "server.json").unlink(missing_ok=True)


def _start(home: Path, key: str, preload: list[str], lifetime, say) -> protocol.ServerRecord | None:
    record_file = home / "server.json"
    record_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", SERVER_MODULE, "--key", key, "--record", str(record_file)]
    command += ["--preload", ",".join(preload)]
    if lifetime:
        command += ["--watch", f"{lifetime[0]}:{lifetime[1]}"]
    started = time.monotonic()
    child = daemons.start(command, log=home / "server.log", env=server_environment(), cwd=home)
    while time.monotonic() - started < READY_TIMEOUT_S:
        record = read_record(home)
        if record and record.pid == child.pid:
            companions.record(home.parent, COMPANION, child.pid, record.started)
            return record
        if child.poll() is not None:
            say(f"warm interpreter: it stopped while starting (see {home / 'server.log'}); steps run fresh")
            return None
        time.sleep(0.02)
    child.kill()
    say(f"warm interpreter: not ready after {READY_TIMEOUT_S:.0f} s; steps run fresh")
    return None


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
