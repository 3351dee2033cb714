"""Run a step's container in the step's image through the Docker SDK, as SageMaker would.

Needs a Docker engine, which CI and this project's reference machines do not have: `container_options`
(the exact `containers.run` arguments) is what the tests check; running it is only possible with an engine.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from localsage.runner.backends.base import ContainerSpec

LABEL = "localsage.step"


@cache
def engine_answers() -> bool:
    """Whether a Docker engine answers a ping (no socket and no DOCKER_HOST: no, without loading the SDK)."""
    sockets = [Path("/var/run/docker.sock"), Path.home() / ".docker" / "run" / "docker.sock"]
    if not os.environ.get("DOCKER_HOST") and not any(socket.exists() for socket in sockets):
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure to reach an engine means "no engine"
        return False


def container_options(spec: ContainerSpec) -> dict:
    """`docker.containers.run` keyword arguments: the SageMaker container contract for this job."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key.startswith(("AWS_", "LOCALSTACK_")) and key not in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
    }
    environment.update(spec.credentials)
    environment.update(spec.environment)
    options = {
        "image": spec.image,
        "entrypoint": spec.command,
        "environment": environment,
        "volumes": {str(spec.opt_ml): {"bind": "/opt/ml", "mode": "rw"}},
        "labels": {LABEL: spec.name},
        "name": spec.name,
        "detach": True,
        "working_dir": "/opt/ml",
    }
    if sys.platform.startswith("linux"):
        # The emulator listens on the host's loopback: share the host network so localhost reaches it.
        options["network_mode"] = "host"
    else:
        options["environment"] = {
            key: value.replace("//localhost:", "//host.docker.internal:") for key, value in environment.items()
        }
        if spec.ports:
            # Published on the host's loopback only; inside its own network the server must listen on all interfaces.
            options["ports"] = {f"{port}/tcp": ("127.0.0.1", port) for port in spec.ports}
            options["environment"]["SAGEMAKER_BIND_TO_ADDRESS"] = "0.0.0.0"  # noqa: S104
    return options


class DockerBackend:
    name = "docker"

    def describe(self) -> str:
        return "docker backend (the step image, /opt/ml bind-mounted)"

    def start(self, spec: ContainerSpec) -> _Container:
        import docker

        spec.logs.mkdir(parents=True, exist_ok=True)
        client = docker.from_env()
        return _Container(client.containers.run(**container_options(spec)), spec)


class _Container:
    def __init__(self, container, spec: ContainerSpec):
        self.container = container
        self.spec = spec

    def wait(self) -> int:
        result = self.container.wait()
        self.spec.log.write_bytes(self.container.logs(stdout=True, stderr=True))
        self.container.remove()
        return int(result.get("StatusCode", 1))

    def terminate(self) -> None:
        self.container.stop(timeout=5)
