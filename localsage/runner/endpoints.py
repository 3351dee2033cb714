"""SageMaker endpoints served on this machine: the record of each, and the hosting of its model.

An endpoint's model (its endpoint config's first production variant) is staged and served exactly as a
Transform step serves one (`steps/model_hosting`): the image's `serve` on a loopback port, in the backend. The
record (`<state>/runner/endpoints/<name>.json`) says where it listens and its status, for the emulator's
InvokeEndpoint and DescribeEndpoint. `host` serves until it is stopped (DeleteEndpoint, or the emulator going
away); the server goes with it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from localsage.adapters import loopback, processes, s3io
from localsage.facts.state_files import write_atomically
from localsage.runner.backends.base import Backend
from localsage.runner.definition import Step
from localsage.runner.steps import model_hosting as hosting
from localsage.runner.steps.base import StepContext, StepFailed

CREATING, IN_SERVICE, FAILED = "Creating", "InService", "Failed"
PING_EVERY_S = 2
PING_MISSES = 5  # 10 s: an emulator that is stopping ends the worker first (its companions go before it)


@dataclass
class EndpointRecord:
    name: str
    status: str = CREATING
    port: int | None = None
    variant: str | None = None
    failure: str | None = None
    host_pid: int | None = None
    host_started: float | None = None
    created: float = field(default_factory=time.time)


class EndpointStore:
    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, name: str) -> Path:
        return self.folder / f"{name.lower()}.json"

    def save(self, record: EndpointRecord) -> None:
        write_atomically(self._path(record.name), json.dumps(asdict(record), indent=2))

    def find(self, name: str) -> EndpointRecord | None:
        try:
            return EndpointRecord(**json.loads(self._path(name).read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def forget(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def all(self) -> list[EndpointRecord]:
        return [record for path in sorted(self.folder.glob("*.json")) if (record := self.find(path.stem))]


def host(target, store: EndpointStore, backend: Backend, name: str, say: Callable[[str], None] = print) -> None:
    """Serve endpoint `name`'s model until interrupted; the record follows (InService with its port, or Failed)."""
    record = store.find(name) or EndpointRecord(name)
    record.host_pid, record.host_started = processes.current()
    record.status, record.failure, record.port = CREATING, None, None
    store.save(record)
    where = f"endpoint {name}: "
    work_dir = store.folder / name.lower()
    shutil.rmtree(work_dir, ignore_errors=True)  # an earlier endpoint of the same name left its model there
    try:
        sagemaker = target.client("sagemaker")
        config_name = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]
        variant = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"][0]
        container = hosting.model_container(sagemaker, variant["ModelName"], where)
        s3 = target.client("s3")
        for uri, folder, what in hosting.downloads(container, work_dir):
            s3io.download(s3, uri, folder, f"{where}{what}")
        context = StepContext(
            step=Step(name=name, type="Endpoint", arguments={}, path=f"endpoint {name}"),
            execution_id=name,
            pipeline_name="",
            target=target,
            work_dir=work_dir,
            backend=backend,
            say=say,
            job=name,
        )
        hosting.unpack(work_dir, context.opt_ml, where)
        port = loopback.free_port()
        spec = hosting.serving_spec(container, name, context.opt_ml, context.logs, port, workers=2)
        with context.serving(spec, port) as url:
            record.status, record.port, record.variant = IN_SERVICE, port, variant["VariantName"]
            store.save(record)
            say(f"{where}InService on port {port} (model {variant['ModelName']})")
            misses = 0
            while misses < PING_MISSES:  # a server that stopped answering is a failed endpoint, not InService
                time.sleep(PING_EVERY_S)
                misses = 0 if context.answers(url) else misses + 1
            raise StepFailed(f"{where}its model server stopped answering /ping (see its log in {context.logs})")
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        record.status, record.failure, record.port = FAILED, str(exc).removeprefix(where), None
        store.save(record)
        raise
