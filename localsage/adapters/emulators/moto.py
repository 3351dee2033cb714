"""The embedded AWS emulator: moto behind the local SageMaker control plane, on 127.0.0.1, whose state survives
restarts and crashes (the server itself is localsage.controlplane.server, started here as a process).

State survives through the server's recording: it appends every request that changes moto's state to
`.local/emulator/recording.jsonl` (one line, flushed, per request) and replays that file, each request at its
recorded time, before it listens; executions and jobs live in the runner's records. The server runs detached,
so it outlives the task that started it; it is stopped by its recorded PID only, after checking the PID still
belongs to the process we started. Until it answers, its record says `ready: false`: other tasks see it as
starting and wait for the start-up lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace

import psutil
import requests

from localsage.adapters import aws, companions, daemons, loopback, processes
from localsage.adapters.emulators.base import Emulator, Status, loopback_http
from localsage.errors import UserError
from localsage.facts.config import LOCAL_ACCOUNT_ID
from localsage.facts.state_files import write_atomically

SERVER_MODULE = "localsage.controlplane.server"
# Start-up includes replaying the recorded state: generous, and the wait says how much is being restored.
READY_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 5.0
# The server's environment: these of the caller's variables and its own settings, nothing else (no caller
# credentials, profiles, tokens or proxies reach it).
KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ")
# Marks the server a project started, so it is found again when its state file is damaged or gone.
OWNER_VARIABLE = "LOCALSAGE_EMULATOR_STATE"
# The server's own health endpoint: answered by the control plane, never passed to moto, never recorded.
PROBE_PATH = "/_localsage/health"
RESET_PATH = "/_localsage/reset"


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
        return f"{self.base_url}{PROBE_PATH}"

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
        return Status("running", f"emulator PID {record.pid}", record, rss, record.endpoint)

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
        recorded = self._recorded_requests()
        if recorded:
            self.say(f"emulator: restoring state ({recorded} recorded requests)")
        record = self._start(self._choose_port())
        self._write_record(replace(record, ready=True))
        rss = self._own_process(record).memory_info().rss / 2**20
        detail = f"emulator PID {record.pid} ready in {time.monotonic() - started:.2f} s"
        if recorded:
            detail += f", {recorded} recorded requests replayed"
        return Status("running", detail, record, rss, record.endpoint)

    def process(self) -> tuple[int, float] | None:
        record = self._read_record()
        return (record.pid, record.create_time) if record and self._own_process(record) else None

    def down(self) -> str:
        """Stop our server (TERM, then KILL after a timeout) and its companions; never touch a process we did not
        start."""
        companions.stop_all(self.folder.parent)
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
        """Forget every bucket, object, parameter, registry entry, execution and job (the server does it, started
        first when it is not running, so the records of both kinds go together)."""
        current = self.status()
        if not current.healthy:
            current = self.up()
        loopback_http.post(current.record.base_url + RESET_PATH, timeout=60).raise_for_status()
        return "emulator state erased" + (" (server still running)" if current.state == "running" else "")

    # ---- the server process ------------------------------------------------------------------

    def _choose_port(self) -> int:
        wanted = self.settings.port
        if _port_is_free(wanted):
            return wanted
        port = loopback.free_port()
        self.say(f"emulator: port {wanted} is taken by another program; using free port {port} instead")
        return port

    def _start(self, port: int) -> ServerRecord:
        environment = {
            **{name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ},
            "MOTO_ACCOUNT_ID": LOCAL_ACCOUNT_ID,
            "AWS_ACCESS_KEY_ID": aws.FAKE_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": aws.FAKE_SECRET_ACCESS_KEY,
            OWNER_VARIABLE: str(self.folder.resolve()),
            **aws.no_proxy_environment(),
        }
        command = [
            sys.executable, "-m", SERVER_MODULE, "--port", str(port),
            "--root", str(self.root), "--state", str(self.folder.parent), "--region", self.region,
        ]  # fmt: skip
        child = daemons.start(command, log=self.log_file, env=environment, cwd=self.folder)
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
                    f"the emulator exited with code {child.returncode} before it was ready: "
                    f"see {self.relative(self.log_file)}"
                )
            if time.monotonic() > deadline:
                raise UserError(
                    f"the emulator did not answer on port {record.port} within {READY_TIMEOUT_S:.0f} s: "
                    f"see {self.relative(self.log_file)}"
                )
            time.sleep(0.05)

    def _recorded_requests(self) -> int:
        """How many requests the server will replay (a last line cut short by a crash is not one: it says so)."""
        if not self.recording.exists():
            return 0
        content = self.recording.read_bytes()
        if content and not content.endswith(b"\n"):
            self.say("emulator: the last recorded request was cut short by a crash; it is not replayed")
        return sum(1 for line in content.splitlines(keepends=True) if line.strip() and line.endswith(b"\n"))

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
                command = process.info["cmdline"] or []
                if SERVER_MODULE not in command or process.environ().get(OWNER_VARIABLE) != owner:
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
        return processes.alive(record.pid, record.create_time)

    @staticmethod
    def _answers(record: ServerRecord) -> bool:
        """Our server answers its probe; another emulator on that port (another project's, that took the port
        between our check and our server's bind) does not count: the answer names the server's PID."""
        try:
            answer = loopback_http.get(record.probe_url, timeout=1)
            return answer.ok and answer.json().get("pid") == record.pid
        except (requests.RequestException, ValueError):
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
