"""The emulator's server: `python -m localsage.controlplane.server --port P --root ROOT --state STATE`.

One WSGI application on 127.0.0.1: SageMaker's pipeline-execution and job operations go to the control plane
(localsage.controlplane.executions and .jobs), IAM's SimulatePrincipalPolicy to .simulation, its own
`/_localsage/` endpoints answer health and reset, and everything else goes to moto, unchanged. A request an
assumed role signs is first judged by its policies (.authorization). Requests that change moto's state are
recorded and, at the next start, replayed before the server listens (localsage.controlplane.recording).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

from werkzeug.serving import make_server
from werkzeug.wrappers import Request

from localsage.adapters import local_events
from localsage.controlplane import authorization, callbacks, endpoints, executions, jobs, records, simulation
from localsage.controlplane.moto_app import REQUEST_HANDLER, lambda_code, moto_application
from localsage.controlplane.plane import Plane
from localsage.controlplane.protocol import ServiceError, error_response, invalid, json_response, operation
from localsage.controlplane.recording import Recorder, buffered_body, is_read, replay
from localsage.facts.config import LOCAL_ACCOUNT_ID
from localsage.runner.run import callback_store, endpoint_store, executions_dir, job_store

OPERATIONS = {**executions.OPERATIONS, **jobs.OPERATIONS, **callbacks.OPERATIONS, **records.OPERATIONS}
OWN_PREFIX = "/_localsage/"
HEALTH_PATH = OWN_PREFIX + "health"
RESET_PATH = OWN_PREFIX + "reset"
LAMBDA_CODE_PREFIX = OWN_PREFIX + "lambda-code/"
GET_FUNCTION = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)$")
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
        denied = authorization.refusal(environ, body, self.plane.account, start_response)
        if denied is not None:
            return denied
        if name in OPERATIONS:
            return self._control_plane(name, body, start_response)
        if simulation.is_simulation(environ, body):
            return simulation.answer(environ, body, start_response)
        if environ["REQUEST_METHOD"] == "GET" and GET_FUNCTION.match(path):
            return self._get_function(environ, start_response)
        invocation = endpoints.INVOCATIONS.match(path)
        if invocation and environ["REQUEST_METHOD"] == "POST":
            return self._invoke(invocation["name"], environ, body, start_response)
        if not path.startswith("/moto-api/") and not is_read(environ["REQUEST_METHOD"], name, body):
            self.recorder.record(environ, body)
        if name in endpoints.AFTER_MOTO or name in endpoints.PATCHED:
            return self._endpoint_operation(name, environ, body, start_response)
        return self.moto(environ, start_response)

    def _moto_answer(self, environ: dict) -> tuple[str, list, bytes]:
        captured: list = []
        body = b"".join(self.moto(environ, lambda status, headers, *rest: captured.append((status, headers))))
        return captured[0][0], captured[0][1], body

    @staticmethod
    def _replace_body(headers: list, body: bytes) -> list:
        kept = [(key, value) for key, value in headers if key.lower() != "content-length"]
        return [*kept, ("Content-Length", str(len(body)))]

    def _endpoint_operation(self, name: str, environ: dict, body: bytes, start_response):
        """moto's answer, then the endpoint's hosting started or stopped, or its true status shown."""
        try:
            endpoints.refused(self.plane, name, json.loads(body or b"{}"))
        except ServiceError as exc:
            return error_response(start_response, exc)
        status, headers, answer = self._moto_answer(environ)
        if status.startswith("200"):
            if name in endpoints.AFTER_MOTO:
                endpoints.AFTER_MOTO[name](self.plane, json.loads(body or b"{}"))
            else:
                answer = json.dumps(endpoints.PATCHED[name](self.plane, json.loads(answer))).encode()
                headers = self._replace_body(headers, answer)
        start_response(status, headers)
        return [answer]

    def _invoke(self, endpoint: str, environ: dict, body: bytes, start_response):
        """sagemaker-runtime InvokeEndpoint: the request goes to the endpoint's model server."""
        try:
            answer, content_type, variant = endpoints.invoke(
                self.plane,
                endpoint,
                body,
                environ.get("CONTENT_TYPE") or "application/json",
                environ.get("HTTP_ACCEPT", ""),
                environ.get("HTTP_X_AMZN_SAGEMAKER_INFERENCE_COMPONENT"),
            )
        except ServiceError as exc:
            return error_response(start_response, exc)
        start_response(
            "200 OK",
            [("Content-Type", content_type), ("Content-Length", str(len(answer))),
             ("x-Amzn-Invoked-Production-Variant", variant)],
        )  # fmt: skip
        return [answer]

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

    def _get_function(self, environ: dict, start_response):
        """moto's GetFunction, with the code location AWS gives (a URL the package downloads from, here ours)."""
        status, headers, body = self._moto_answer(environ)
        if status.startswith("200"):
            function = json.loads(body)
            configuration = function.get("Configuration", {})
            if configuration.get("PackageType", "Zip") == "Zip":
                _, region, account = configuration["FunctionArn"].split(":")[2:5]
                qualifier = Request(environ).args.get("Qualifier", "")
                location = (
                    f"http://{environ['HTTP_HOST']}{LAMBDA_CODE_PREFIX}{account}/{region}/"
                    f"{quote(configuration['FunctionName'])}" + (f"?Qualifier={quote(qualifier)}" if qualifier else "")
                )
                function["Code"] = {"RepositoryType": "S3", "Location": location}
                body = json.dumps(function).encode()
                headers = self._replace_body(headers, body)
        start_response(status, headers)
        return [body]

    def _lambda_code(self, path: str, environ: dict, start_response):
        account, region, function = path.removeprefix(LAMBDA_CODE_PREFIX).split("/", 2)
        code = lambda_code(account, region, function, Request(environ).args.get("Qualifier") or None)
        if code is None:
            return error_response(
                start_response, ServiceError("NotFound", f"function {function} has no zip package", 404)
            )
        start_response("200 OK", [("Content-Type", "application/zip"), ("Content-Length", str(len(code)))])
        return [code]

    def _own(self, path: str, environ: dict, start_response):
        if path.startswith(LAMBDA_CODE_PREFIX) and path.count("/") >= 5:
            return self._lambda_code(path, environ, start_response)
        if path == HEALTH_PATH:
            return json_response(start_response, 200, {"ready": True, "pid": os.getpid()})
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
        endpoints.forget_all(self.plane)
        forget(self.plane.state_dir)


def forget(state_dir: Path) -> None:
    """The local records of what the emulator held (they mean nothing once its state is gone)."""
    folders = (executions_dir(state_dir), job_store(state_dir).folder, callback_store(state_dir).folder)
    folders += (endpoint_store(state_dir).folder, state_dir / "runner" / "records")
    for folder in (*folders, state_dir / local_events.STATE_FOLDER):
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
    hosted = endpoints.rehost(plane)
    if hosted:
        print(f"emulator: hosting {hosted} endpoint(s) again", flush=True)
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    threading.Thread(target=_reap_forever, args=(plane,), daemon=True, name="reaper").start()
    server.serve_forever()


def _reap_forever(plane: Plane) -> None:
    while True:
        time.sleep(REAP_EVERY_S)
        plane.reap()


if __name__ == "__main__":
    main()
