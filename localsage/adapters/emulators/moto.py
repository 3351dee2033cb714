"""The embedded AWS emulator: a moto server on 127.0.0.1 whose state survives restarts and crashes.

State survives through moto's request recorder: the server appends every API request to
`.local/emulator/recording.jsonl` (one line, flushed, per request), and a fresh server replays that
file once before it is handed out. The server runs detached, so it outlives the task that started it;
it is stopped by its recorded PID only, after checking the PID still belongs to the process we started.

A fresh server starts with its recorder off, replays the file, and only then records: nothing it replays
is recorded twice. Until then its record says `ready: false`: other tasks see it as starting and wait for
the start-up lock instead of sending requests that would not be recorded.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace

import psutil
import requests

from localsage.adapters import aws, local_events
from localsage.adapters.emulators.base import Emulator, Status, loopback_http
from localsage.errors import UserError
from localsage.facts.config import LOCAL_ACCOUNT_ID
from localsage.facts.state_files import write_atomically

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
# The server's environment: these of the caller's variables and its own settings, nothing else (no caller
# credentials, profiles, tokens or proxies reach it).
KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ")
# Marks the server a project started, so it is found again when its state file is damaged or gone.
OWNER_VARIABLE = "LOCALSAGE_EMULATOR_STATE"
# Side-effect free: moto's own configuration, read-only on GET (the recorder's endpoints switch recording on).
PROBE_PATH = "/moto-api/config"


@dataclass(frozen=True)
class ServerRecord:
    """What the state file holds about the server we started."""

    pid: int
    create_time: float
    port: int
    endpoint: str
    started_at: str
    recording: str
    ready: bool = True  # False while the recorded state is replayed into the fresh server

    @property
    def probe_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PROBE_PATH}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class MotoEmulator(Emulator):
    kind = "moto"

    def __init__(self, *arguments, **keywords):
        super().__init__(*arguments, **keywords)
        self.state_file = self.folder / "server.json"
        self.recording = self.folder / "recording.jsonl"
        self.log_file = self.folder / "server.log"

    # ---- public operations -------------------------------------------------------------------

    def status(self) -> Status:
        record = self._read_record() or self._adopt_orphan()
        if record is None:
            return Status("stopped", "no emulator is running for this project")
        process = self._own_process(record)
        if process is None:
            return Status(
                "stale", f"PID {record.pid} from {self.state_file.name} is gone or is another process", record
            )
        if not record.ready:
            return Status("starting", f"PID {record.pid} is restoring its recorded state", record)
        if not self._answers(record):
            return Status("unhealthy", f"PID {record.pid} runs but {record.probe_url} does not answer", record)
        rss = process.memory_info().rss / 2**20
        return Status("running", f"moto server PID {record.pid}", record, rss, record.endpoint)

    def up(self) -> Status:
        """Start the server unless it already runs; replay the recorded state into a fresh one.

        Holds a file lock throughout, so two tasks starting the emulator at once get one server, fully restored.
        """
        with open(self.folder / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._up_locked()

    def _up_locked(self) -> Status:
        current = self.status()
        if current.state == "running":
            return current
        if current.state == "stale":
            self.say(f"emulator: cleaning a stale state file ({current.detail})")
            self.state_file.unlink(missing_ok=True)
        elif current.state in ("unhealthy", "starting"):
            # Under the lock, "starting" means the task that started it died during the replay.
            self.say(f"emulator: {current.detail}; restarting it")
            self.down()
        started = time.monotonic()
        if self.recording.exists():
            self._drop_torn_last_line()
        record = self._start(self._choose_port())
        try:
            replayed = self._replay(record)
            loopback_http.post(f"{record.base_url}/moto-api/recorder/start-recording", timeout=10).raise_for_status()
        except BaseException:
            self.down()  # a half-restored server must not look healthy to the next task
            raise
        self._write_record(replace(record, ready=True))
        rss = self._own_process(record).memory_info().rss / 2**20
        detail = f"moto server PID {record.pid} ready in {time.monotonic() - started:.2f} s"
        if replayed:
            detail += f", {replayed} recorded requests replayed"
        return Status("running", detail, record, rss, record.endpoint)

    def down(self) -> str:
        """Stop our server (TERM, then KILL after a timeout); never touch a process we did not start."""
        record = self._read_record()
        if record is None:
            return "no emulator is running for this project; nothing to stop"
        process = self._own_process(record)
        self.state_file.unlink(missing_ok=True)
        if process is None:
            return f"PID {record.pid} is gone or is another process: left it alone and removed the stale state file"
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
            how = "stopped"
        except psutil.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)
            how = f"killed after {STOP_TIMEOUT_S:.0f} s without exiting on TERM"
        return f"emulator PID {record.pid} {how}; its state is kept in {self.relative(self.recording)}"

    def reset(self) -> str:
        """Forget every bucket, object, parameter and registry entry, running or not (and the local notification
        records, which describe the emulator's state)."""
        current = self.status()
        if current.state == "running":
            for path in ("/moto-api/reset", "/moto-api/recorder/reset-recording"):
                loopback_http.post(current.record.base_url + path, timeout=10).raise_for_status()
        self.recording.unlink(missing_ok=True)
        shutil.rmtree(self.folder.parent / local_events.STATE_FOLDER, ignore_errors=True)
        return "emulator state erased" + (" (server still running)" if current.state == "running" else "")

    # ---- moto server -------------------------------------------------------------------------

    def _choose_port(self) -> int:
        wanted = self.settings.port
        if _port_is_free(wanted):
            return wanted
        port = _free_port()
        self.say(f"emulator: port {wanted} is taken by another program; using free port {port} instead")
        return port

    def _start(self, port: int) -> ServerRecord:
        environment = {
            **{name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ},
            "MOTO_ACCOUNT_ID": LOCAL_ACCOUNT_ID,
            "MOTO_RECORDER_FILEPATH": str(self.recording),
            "AWS_ACCESS_KEY_ID": aws.FAKE_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": aws.FAKE_SECRET_ACCESS_KEY,
            OWNER_VARIABLE: str(self.folder.resolve()),
            **aws.no_proxy_environment(),
        }
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        with open(self.log_file, "ab") as log:
            child = subprocess.Popen(
                command,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.folder,
            )
        record = ServerRecord(
            pid=child.pid,
            create_time=psutil.Process(child.pid).create_time(),
            port=port,
            endpoint=f"http://localhost:{port}",
            started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            recording=str(self.recording),
            ready=False,
        )
        # Recorded at once (not ready yet): a task that dies during the wait or the replay leaves no orphan.
        self._write_record(record)
        try:
            self._wait_until_ready(child, record)
        except BaseException:
            child.kill()  # also on Ctrl-C: never leave a server nobody recorded
            child.wait()
            self.state_file.unlink(missing_ok=True)
            raise
        return record

    def _write_record(self, record: ServerRecord) -> None:
        write_atomically(self.state_file, json.dumps(asdict(record), indent=2))

    def _wait_until_ready(self, child: subprocess.Popen, record: ServerRecord) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._answers(record):
            if child.poll() is not None:
                raise UserError(
                    f"the moto server exited with code {child.returncode} before it was ready: "
                    f"see {self.relative(self.log_file)}"
                )
            if time.monotonic() > deadline:
                raise UserError(
                    f"the moto server did not answer on port {record.port} within {READY_TIMEOUT_S:.0f} s: "
                    f"see {self.relative(self.log_file)}"
                )
            time.sleep(0.05)

    def _replay(self, record: ServerRecord) -> int:
        if not self.recording.exists() or self.recording.stat().st_size == 0:
            return 0
        with open(self.recording, "rb") as recorded:
            count = sum(1 for _ in recorded)
        self.say(f"emulator: restoring state ({count} recorded requests)")
        response = loopback_http.post(f"{record.base_url}/moto-api/recorder/replay-recording", timeout=600)
        if response.status_code != 200:
            raise UserError(
                f"replaying {self.relative(self.recording)} failed with HTTP {response.status_code}: "
                "see the server log, or run './dev emulator.reset' to start from an empty emulator"
            )
        return count

    def _drop_torn_last_line(self) -> None:
        """A server killed while recording leaves half a line: cut it, or every later replay would fail."""
        with open(self.recording, "rb+") as recorded:
            content = recorded.read()
            if content and not content.endswith(b"\n"):
                recorded.truncate(content.rfind(b"\n") + 1)
                self.say("emulator: the last recorded request was cut short by a crash; it is not replayed")

    def _read_record(self) -> ServerRecord | None:
        try:
            return ServerRecord(**json.loads(self.state_file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            self.say(f"emulator: {self.relative(self.state_file)} is unreadable; treating it as stale")
            self.state_file.unlink(missing_ok=True)
            return None

    def _adopt_orphan(self) -> ServerRecord | None:
        """A server this project started whose state file is damaged or gone (say `.local` was deleted): found by
        the marker in its environment and recorded again, so it is never left running unseen."""
        owner = str(self.folder.resolve())
        for process in psutil.process_iter(["cmdline"]):
            try:
                if (
                    "moto.server" not in (process.info["cmdline"] or [])
                    or process.environ().get(OWNER_VARIABLE) != owner
                ):
                    continue
                ports = [c.laddr.port for c in process.net_connections() if c.status == psutil.CONN_LISTEN]
                created = process.create_time()
            except psutil.Error:
                continue
            if not ports:
                continue
            record = ServerRecord(
                pid=process.pid,
                create_time=created,
                port=ports[0],
                endpoint=f"http://localhost:{ports[0]}",
                started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
                recording=str(self.recording),
            )
            self._write_record(record)
            self.say(
                f"emulator: found PID {process.pid}, which this project started, without its state file; recorded it"
            )
            return record
        return None

    @staticmethod
    def _own_process(record: ServerRecord) -> psutil.Process | None:
        """The recorded process, only if it is still the one we started (same PID *and* start time)."""
        try:
            process = psutil.Process(record.pid)
            if abs(process.create_time() - record.create_time) > 0.5 or process.status() == psutil.STATUS_ZOMBIE:
                return None
            return process
        except psutil.Error:
            return None

    @staticmethod
    def _answers(record: ServerRecord) -> bool:
        try:
            return loopback_http.get(record.probe_url, timeout=1).ok
        except requests.RequestException:
            return False


def _port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now (a port whose last connections linger in TIME_WAIT is free:
    the server binds with SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
