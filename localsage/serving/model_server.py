#!/usr/bin/env python3
"""`serve`: SageMaker's inference container contract for a Python model, with the framework toolkits' handlers.

SageMaker starts an inference container as `IMAGE serve` and talks HTTP to it: `GET /ping` (200 once the model
is loaded), `POST /invocations` (the request body in, the prediction out), and for batch transform
`GET /execution-parameters`. This program is that server, standing alone (standard library and numpy), so the
same file is the step image's `serve` in AWS and what the local runner starts for Transform steps and
endpoints.

The model's code follows the contract of SageMaker's scikit-learn/PyTorch serving toolkits: the module named
by `SAGEMAKER_PROGRAM` in `SAGEMAKER_SUBMIT_DIRECTORY` (or in `/opt/ml/model/code`) defines `model_fn(model_dir)`
and may define `input_fn(body, content_type)`, `predict_fn(data, model)`, `output_fn(prediction, accept)` or
`transform_fn(model, body, content_type, accept)`; the defaults decode and encode text/csv, application/json and
application/x-npy as numpy arrays and call `model.predict`.

Variables: SAGEMAKER_BIND_TO_PORT (default 8080), SAGEMAKER_BIND_TO_ADDRESS (default all interfaces, as a
container needs; the local runner passes the loopback), SAGEMAKER_MODEL_SERVER_WORKERS (request threads).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import sys
import tarfile
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODEL_DIR = Path("/opt/ml/model")
CODE_DIR = Path("/opt/ml/code")
CSV, JSON, NPY = "text/csv", "application/json", "application/x-npy"


class ModelError(Exception):
    """The model's code cannot be found or loaded: the server does not start."""


class RequestError(Exception):
    """The request cannot be served as sent (an unsupported content type): answered with 415."""


def decode(body: bytes, content_type: str):
    """The default `input_fn`: a request body as a numpy array (two-dimensional for CSV, one row per line)."""
    import numpy

    kind = content_type.split(";")[0].strip().lower()
    if kind == CSV:
        return numpy.loadtxt(io.StringIO(body.decode("utf-8")), delimiter=",", ndmin=2)
    if kind == JSON:
        return numpy.array(json.loads(body))
    if kind == NPY:
        return numpy.load(io.BytesIO(body), allow_pickle=False)
    raise RequestError(
        f"content type {content_type!r} is not supported by the default input_fn: use {CSV}, {JSON} or {NPY}"
    )


def encode(prediction, accept: str) -> tuple[bytes, str]:
    """The default `output_fn`: a prediction as CSV (one row per line), JSON or .npy."""
    import numpy

    kind = (accept or JSON).split(";")[0].strip().lower()
    if kind in ("*/*", ""):
        kind = JSON
    array = numpy.asarray(prediction)
    if kind == CSV:
        stream = io.StringIO()
        numpy.savetxt(stream, array if array.ndim else array.reshape(1), delimiter=",", fmt="%s")
        return stream.getvalue().encode("utf-8"), CSV
    if kind == JSON:
        return json.dumps(array.tolist()).encode("utf-8"), JSON
    if kind == NPY:
        stream = io.BytesIO()
        numpy.save(stream, array, allow_pickle=False)
        return stream.getvalue(), NPY
    raise RequestError(f"accept type {accept!r} is not supported by the default output_fn: use {CSV}, {JSON} or {NPY}")


def load_module(code_dir: Path, program: str):
    """The model's inference module, imported from its code folder (which also goes on sys.path)."""
    path = code_dir / program
    if not path.is_file():
        raise ModelError(f"SAGEMAKER_PROGRAM {program} is not in {code_dir}: check the model's source directory")
    sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def code_folder(environment: dict, model_dir: Path) -> Path:
    """Where the inference code is: SAGEMAKER_SUBMIT_DIRECTORY (a folder, or a .tar.gz file unpacked into
    /opt/ml/code), else the model artefact's own `code/` folder."""
    submitted = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if submitted.startswith("s3://"):
        raise ModelError(
            f"SAGEMAKER_SUBMIT_DIRECTORY {submitted} is an S3 URI: the platform downloads it into {CODE_DIR} and "
            "passes that folder"
        )
    if submitted and Path(submitted).is_file():
        with tarfile.open(submitted) as archive:
            archive.extractall(CODE_DIR, filter="data")
        return CODE_DIR
    if submitted:
        return Path(submitted)
    return model_dir / "code"


class Handlers:
    """The handler chain of one model: the module's functions, or the toolkit's defaults."""

    def __init__(self, module, model_dir: Path):
        self.module = module
        if module is None or not hasattr(module, "model_fn"):
            where = f"{module.__file__}" if module is not None else "the model (no SAGEMAKER_PROGRAM)"
            raise ModelError(f"{where} defines no model_fn(model_dir): it must load and return the model")
        self.model = module.model_fn(str(model_dir))

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        transform_fn = getattr(self.module, "transform_fn", None)
        if transform_fn is not None:
            result = transform_fn(self.model, body, content_type, accept)
            if isinstance(result, tuple):
                return _as_bytes(result[0]), result[1]
            return _as_bytes(result), accept
        input_fn = getattr(self.module, "input_fn", None) or (lambda data, kind: decode(data, kind))
        predict_fn = getattr(self.module, "predict_fn", None) or (lambda data, model: model.predict(data))
        output_fn = getattr(self.module, "output_fn", None)
        prediction = predict_fn(input_fn(body, content_type), self.model)
        if output_fn is None:
            return encode(prediction, accept)
        result = output_fn(prediction, accept)
        if isinstance(result, tuple):
            return _as_bytes(result[0]), result[1]
        return _as_bytes(result), accept


def _as_bytes(value) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def execution_parameters(environment: dict) -> dict:
    """What `GET /execution-parameters` answers: the batch settings this server prefers (SageMaker asks when the
    transform job sets none)."""
    return {
        "MaxConcurrentTransforms": int(environment.get("SAGEMAKER_MODEL_SERVER_WORKERS", "1")),
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


def make_server(handlers: Handlers, environment: dict) -> ThreadingHTTPServer:
    address = environment.get("SAGEMAKER_BIND_TO_ADDRESS", "0.0.0.0")  # noqa: S104 - a container's contract
    port = int(environment.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    workers = threading.BoundedSemaphore(max(1, int(environment.get("SAGEMAKER_MODEL_SERVER_WORKERS", "1"))))

    class Endpoint(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/ping":
                self._answer(HTTPStatus.OK, b"", "text/plain")
            elif self.path == "/execution-parameters":
                self._answer(HTTPStatus.OK, json.dumps(execution_parameters(environment)).encode(), JSON)
            else:
                self._answer(HTTPStatus.NOT_FOUND, b"use GET /ping or POST /invocations", "text/plain")

        def do_POST(self):
            if self.path != "/invocations":
                self._answer(HTTPStatus.NOT_FOUND, b"use POST /invocations", "text/plain")
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            content_type = self.headers.get("Content-Type", JSON)
            accept = self.headers.get("Accept", "")
            with workers:
                try:
                    answer, answer_type = handlers.invoke(body, content_type, accept)
                except RequestError as exc:
                    self._answer(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(exc).encode(), "text/plain")
                    return
                except Exception as exc:  # noqa: BLE001 - any error of the model's code is the request's answer
                    traceback.print_exc()
                    message = f"{type(exc).__name__}: {exc}"
                    self._answer(HTTPStatus.INTERNAL_SERVER_ERROR, message.encode(), "text/plain")
                    return
            self._answer(HTTPStatus.OK, answer, answer_type)

        def _answer(self, status: HTTPStatus, body: bytes, content_type: str):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 - the standard library's signature
            print(f"model server: {self.command} {self.path} {args[1] if len(args) > 1 else ''}", flush=True)

    return ThreadingHTTPServer((address, port), Endpoint)


def main(argv: list[str]) -> int:
    if argv[1:] != ["serve"]:
        print("usage: serve  (SageMaker starts inference containers as `IMAGE serve`)", file=sys.stderr)
        return 2
    environment = dict(os.environ)
    model_dir = Path(environment.get("SM_MODEL_DIR", str(MODEL_DIR)))
    try:
        program = environment.get("SAGEMAKER_PROGRAM")
        module = load_module(code_folder(environment, model_dir), program) if program else None
        handlers = Handlers(module, model_dir)
    except ModelError as exc:
        print(f"model server: {exc}", file=sys.stderr, flush=True)
        return 1
    server = make_server(handlers, environment)
    print(f"model server: listening on port {server.server_address[1]}", flush=True)
    # SageMaker (and the local runner) stop the container with TERM: end cleanly, exit code 0.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
