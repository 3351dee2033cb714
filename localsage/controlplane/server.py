"""The emulator's server: `python -m localsage.controlplane.server --port P --root ROOT --state STATE`.

One WSGI application on 127.0.0.1: SageMaker's pipeline-execution and job operations go to the control plane
(localsage.controlplane.executions and .jobs), its own `/_localsage/` endpoints answer health and reset, and
everything else goes to moto, unchanged. Requests that change moto's state are recorded and, at the next start,
replayed before the server listens (localsage.controlplane.recording).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from localsage.adapters import local_events
from localsage.controlplane import executions, jobs
from localsage.controlplane.moto_app import REQUEST_HANDLER, moto_application
from localsage.controlplane.plane import Plane
from localsage.controlplane.protocol import ServiceError, error_response, invalid, json_response, operation
from localsage.controlplane.recording import Recorder, buffered_body, is_read, replay
from localsage.facts.config import LOCAL_ACCOUNT_ID
from localsage.runner.run import executions_dir, job_store

OPERATIONS = {**executions.OPERATIONS, **jobs.OPERATIONS}
OWN_PREFIX = "/_localsage/"
HEALTH_PATH = OWN_PREFIX + "health"
RESET_PATH = OWN_PREFIX + "reset"
REAP_EVERY_S = 5.0


class EmulatorApplication:
    def __init__(self, plane: Plane, moto, recorder: Recorder):
        self.plane = plane
        self.moto = moto
        self.recorder = recorder

    def __call__(self, environ: dict, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(OWN_PREFIX):
            return self._own(path, environ, start_response)
        name = operation(environ)
        body = buffered_body(environ)
        if name in OPERATIONS:
            return self._control_plane(name, body, start_response)
        if not path.startswith("/moto-api/") and not is_read(environ["REQUEST_METHOD"], name, body):
            self.recorder.record(environ, body)
        return self.moto(environ, start_response)

    def _control_plane(self, name: str, body: bytes, start_response):
        try:
            request = json.loads(body or b"{}")
            return json_response(start_response, 200, OPERATIONS[name](self.plane, request))
        except ServiceError as exc:
            return error_response(start_response, exc)
        except KeyError as exc:
            return error_response(start_response, invalid(f"{name}: the request lacks {exc.args[0]}"))
        except ValueError as exc:
            return error_response(start_response, invalid(f"{name}: {exc}"))

    def _own(self, path: str, environ: dict, start_response):
        if path == HEALTH_PATH:
            return json_response(start_response, 200, {"ready": True})
        if path == RESET_PATH and environ["REQUEST_METHOD"] == "POST":
            self.reset()
            return json_response(start_response, 200, {"reset": True})
        return error_response(start_response, ServiceError("NotFound", f"no such endpoint {path}", 404))

    def reset(self) -> None:
        """Forget everything: moto's state, the recording, the executions, jobs and local notification records."""
        from werkzeug.test import EnvironBuilder

        for _ in self.moto(EnvironBuilder(path="/moto-api/reset", method="POST").get_environ(), lambda *a: None):
            pass
        self.recorder.reset()
        forget(self.plane.state_dir)


def forget(state_dir: Path) -> None:
    """The local records of what the emulator held (they mean nothing once its state is gone)."""
    for folder in (executions_dir(state_dir), job_store(state_dir).folder, state_dir / local_events.STATE_FOLDER):
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m localsage.controlplane.server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--region", required=True)
    arguments = parser.parse_args(argv)
    endpoint = f"http://localhost:{arguments.port}"
    plane = Plane(arguments.root, arguments.state, arguments.region, LOCAL_ACCOUNT_ID, endpoint)
    moto = moto_application()
    recorder = Recorder(arguments.state / "emulator" / "recording.jsonl")
    started = time.monotonic()
    replayed = replay(recorder, moto, say=lambda message: print(f"emulator: {message}", flush=True))
    print(f"emulator: {replayed} recorded requests replayed in {time.monotonic() - started:.2f} s", flush=True)
    server = make_server(
        "127.0.0.1", arguments.port, EmulatorApplication(plane, moto, recorder), threaded=True,
        request_handler=REQUEST_HANDLER,
    )  # fmt: skip
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    threading.Thread(target=_reap_forever, args=(plane,), daemon=True, name="reaper").start()
    server.serve_forever()


def _reap_forever(plane: Plane) -> None:
    while True:
        time.sleep(REAP_EVERY_S)
        plane.reap()


if __name__ == "__main__":
    main()
