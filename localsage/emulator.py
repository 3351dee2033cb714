"""The embedded AWS emulator: a moto server on 127.0.0.1 whose state survives restarts and crashes.

State survives through moto's request recorder: the server appends every API request to
`.local/emulator/recording.jsonl` (one line, flushed, per request), and a fresh server replays that
file once before it is handed out. The server runs detached, so it outlives the task that started it;
it is stopped by its recorded PID only, after checking the PID still belongs to the process we started.
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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import requests

from localsage import aws
from localsage import config as project_config
from localsage.aws import LOCAL_ACCOUNT_ID
from localsage.errors import UserError

READY_TIMEOUT_S = 30.0
# Calls to our own server never go through an HTTP(S)_PROXY the user may have set.
_loopback_http = requests.Session()
_loopback_http.trust_env = False
STOP_TIMEOUT_S = 5.0
_PROBE_PATH = "/moto-api/recorder/start-recording"


@dataclass(frozen=True)
class ServerRecord:
    """What the state file holds about the server we started."""

    pid: int
    create_time: float
    port: int
    endpoint: str
    started_at: str
    recording: str

    @property
    def probe_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{_PROBE_PATH}"


@dataclass(frozen=True)
class Status:
    state: str  # "running", "stopped", "stale", "unhealthy", "external"
    detail: str
    record: ServerRecord | None = None
    rss_mb: float | None = None
    endpoint: str | None = None

    @property
    def healthy(self) -> bool:
        return self.state in ("running", "external")


class Emulator:
    """Lifecycle of one project's emulator; all files live under `<root>/.local/emulator/`."""

    def __init__(self, root: Path, settings: project_config.EmulatorSettings, say: Callable[[str], None] = print):
        self.root = root
        self.settings = settings
        self.say = say
        self.folder = project_config.local_dir(root) / "emulator"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.state_file = self.folder / "server.json"
        self.recording = self.folder / "recording.jsonl"
        self.log_file = self.folder / "server.log"

    # ---- public operations -------------------------------------------------------------------

    def status(self) -> Status:
        if self.settings.kind == "localstack":
            return self._localstack_status()
        record = self._read_record()
        if record is None:
            return Status("stopped", "no emulator is running for this project")
        process = self._own_process(record)
        if process is None:
            return Status(
                "stale", f"PID {record.pid} from {self.state_file.name} is gone or is another process", record
            )
        if not self._answers(record):
            return Status("unhealthy", f"PID {record.pid} runs but {record.probe_url} does not answer", record)
        rss = process.memory_info().rss / 2**20
        return Status("running", f"moto server PID {record.pid}", record, rss, record.endpoint)

    def up(self) -> Status:
        """Start the server unless it already runs; replay the recorded state into a fresh one.

        Holds a file lock throughout, so two tasks starting the emulator at once get one server, fully restored.
        """
        if self.settings.kind == "localstack":
            return self._require_localstack()
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
        elif current.state == "unhealthy":
            self.say(f"emulator: {current.detail}; restarting it")
            self.down()
        started = time.monotonic()
        record = self._start(self._choose_port())
        try:
            replayed = self._replay(record)
        except BaseException:
            self.down()  # a half-restored server must not look healthy to the next task
            raise
        rss = self._own_process(record).memory_info().rss / 2**20
        detail = f"moto server PID {record.pid} ready in {time.monotonic() - started:.2f} s"
        if replayed:
            detail += f", {replayed} recorded requests replayed"
        return Status("running", detail, record, rss, record.endpoint)

    def down(self) -> str:
        """Stop our server (TERM, then KILL after a timeout); never touch a process we did not start."""
        if self.settings.kind == "localstack":
            return "emulator.kind is localstack: it runs outside this project, stop it where you started it"
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
        return f"emulator PID {record.pid} {how}; its state is kept in {self._relative(self.recording)}"

    def reset(self) -> str:
        """Forget every bucket, object, parameter and registry entry, running or not."""
        if self.settings.kind == "localstack":
            raise UserError("emulator.reset only resets the embedded moto server; reset LocalStack yourself")
        current = self.status()
        if current.state == "running":
            base = f"http://127.0.0.1:{current.record.port}"
            for path in ("/moto-api/reset", "/moto-api/recorder/reset-recording"):
                _loopback_http.post(base + path, timeout=10).raise_for_status()
        self.recording.unlink(missing_ok=True)
        return "emulator state erased" + (" (server still running)" if current.state == "running" else "")

    def endpoint(self) -> str:
        """The endpoint of a healthy emulator, starting one when needed (tasks call this on demand)."""
        current = self.status()
        if not current.healthy:
            current = self.up()
            self.say(f"emulator: {current.detail} at {current.endpoint}")
        return current.endpoint

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
            **os.environ,
            "MOTO_ACCOUNT_ID": LOCAL_ACCOUNT_ID,
            "MOTO_ENABLE_RECORDING": "True",
            "MOTO_RECORDER_FILEPATH": str(self.recording),
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
        )
        try:
            self._wait_until_ready(child, record)
        except BaseException:
            child.kill()  # also on Ctrl-C: never leave a server nobody recorded
            child.wait()
            raise
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
        temporary.replace(self.state_file)
        return record

    def _wait_until_ready(self, child: subprocess.Popen, record: ServerRecord) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._answers(record):
            if child.poll() is not None:
                raise UserError(
                    f"the moto server exited with code {child.returncode} before it was ready: "
                    f"see {self._relative(self.log_file)}"
                )
            if time.monotonic() > deadline:
                raise UserError(
                    f"the moto server did not answer on port {record.port} within {READY_TIMEOUT_S:.0f} s: "
                    f"see {self._relative(self.log_file)}"
                )
            time.sleep(0.05)

    def _replay(self, record: ServerRecord) -> int:
        if not self.recording.exists() or self.recording.stat().st_size == 0:
            return 0
        self._drop_torn_last_line()
        with open(self.recording, "rb") as recorded:
            count = sum(1 for _ in recorded)
        self.say(f"emulator: restoring state ({count} recorded requests)")
        response = _loopback_http.post(
            f"http://127.0.0.1:{record.port}/moto-api/recorder/replay-recording", timeout=600
        )
        if response.status_code != 200:
            raise UserError(
                f"replaying {self._relative(self.recording)} failed with HTTP {response.status_code}: "
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
            self.say(f"emulator: {self._relative(self.state_file)} is unreadable; treating it as stale")
            self.state_file.unlink(missing_ok=True)
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
            return _loopback_http.get(record.probe_url, timeout=1).ok
        except requests.RequestException:
            return False

    # ---- LocalStack (opt-in, run by the user) ------------------------------------------------

    def _localstack_status(self) -> Status:
        endpoint = self.settings.localstack_endpoint
        try:
            health = _loopback_http.get(f"{endpoint}/_localstack/health", timeout=2)
            if health.status_code == 200:
                return Status("external", f"LocalStack answers at {endpoint}", endpoint=endpoint)
            return Status("unhealthy", f"LocalStack at {endpoint} answered HTTP {health.status_code}")
        except requests.RequestException:
            return Status("stopped", f"nothing answers at {endpoint}")

    def _require_localstack(self) -> Status:
        if not os.environ.get("LOCALSTACK_AUTH_TOKEN"):
            raise UserError(
                "emulator.kind is localstack but LOCALSTACK_AUTH_TOKEN is not set: LocalStack images need "
                'an auth token since 2026-03; set it, or use the embedded emulator (emulator.kind = "moto")'
            )
        current = self._localstack_status()
        if not current.healthy:
            raise UserError(
                f"{current.detail}: start LocalStack yourself (e.g. 'docker compose --profile localstack up -d' "
                "in docker/), or use the embedded emulator"
            )
        return current

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def for_project(root: Path | None = None, say: Callable[[str], None] = print) -> Emulator:
    """The emulator of the project at `root` (default: the one around the working folder)."""
    root = root or project_config.project_root()
    return Emulator(root, project_config.load(root).emulator, say)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
