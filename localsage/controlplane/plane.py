"""What every control plane operation works with: the project, the runner's records, the launcher, and a client of
the emulator itself (moto keeps the pipelines; the control plane reads them as any client would)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from localsage.adapters import aws, daemons
from localsage.adapters.processes import alive
from localsage.runner.callbacks import CallbackStore
from localsage.runner.endpoints import EndpointStore
from localsage.runner.jobs import JobStore
from localsage.runner.records import ExecutionStore
from localsage.runner.run import callback_store, endpoint_store, execution_store, job_store

WORKER_MODULE = "localsage.controlplane.worker"
STOP_REQUESTED = "stop-requested"


@dataclass
class Plane:
    root: Path
    state_dir: Path
    region: str
    account: str
    endpoint: str = ""
    _clients: dict = field(default_factory=dict, repr=False)
    _workers: list = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def executions(self) -> ExecutionStore:
        return execution_store(self.state_dir)

    @property
    def jobs(self) -> JobStore:
        return job_store(self.state_dir)

    @property
    def callbacks(self) -> CallbackStore:
        return callback_store(self.state_dir)

    @property
    def endpoints(self) -> EndpointStore:
        return endpoint_store(self.state_dir)

    def arn(self, resource: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{resource}"

    def client(self, service: str):
        """A client of this emulator (loopback, fake credentials), shared across request threads."""
        with self._lock:
            if service not in self._clients:
                session = aws.guarded_session(self.region)
                self._clients[service] = session.client(
                    service,
                    endpoint_url=self.endpoint,
                    aws_access_key_id=aws.FAKE_ACCESS_KEY_ID,
                    aws_secret_access_key=aws.FAKE_SECRET_ACCESS_KEY,
                )
            return self._clients[service]

    def launch(self, *arguments: str) -> tuple[int, float]:
        """A worker process that runs one execution or one job, beside the server (it stops when the server does);
        its PID and start time (what identifies it later, PIDs being reused)."""
        environment = {
            **os.environ,
            **aws.local_environment(self.endpoint, self.region, self.state_dir),
            "LOCALSAGE_STATE_DIR": str(self.state_dir),
            "LOCALSAGE_ROOT": str(self.root),
        }
        worker = daemons.start(
            [sys.executable, "-m", WORKER_MODULE, *arguments],
            log=self.state_dir / "emulator" / "workers.log",
            env=environment,
            cwd=self.state_dir,
        )
        self._workers.append(worker)
        return worker.pid, psutil.Process(worker.pid).create_time()

    def reap(self) -> None:
        """Collect the workers that ended (no zombie processes under a long-lived server)."""
        self._workers[:] = [worker for worker in self._workers if worker.poll() is None]

    @staticmethod
    def signal_runner(pid: int | None, started: float | None) -> bool:
        """SIGTERM to the process running an execution or a job (it stops its steps and records Stopped);
        False when that process is gone (or its PID now belongs to another process)."""
        process = alive(pid, started)
        if process is None:
            return False
        try:
            process.send_signal(signal.SIGTERM)
        except psutil.Error:
            return False
        return True
