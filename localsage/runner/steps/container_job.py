"""The template every job step follows (Processing, Training): SageMaker's container contract on this machine.

Download the inputs from S3 into the job's `/opt/ml` folder, write the config files the job's container
reads, run the container through the backend, upload its outputs to the same S3 URIs a cloud run uses,
and return the job's Describe* shape as the step's properties. Each job type fills in the five steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from localsage.adapters import s3io
from localsage.runner.backends.base import ContainerSpec
from localsage.runner.steps.base import StepContext, StepResult, StepType


def resource_config(instance_type: str) -> dict:
    """/opt/ml/(input/)config/resourceconfig.json of a one-instance job, as SageMaker writes it."""
    return {
        "current_host": "algo-1",
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": ["algo-1"]}
        ],
        "network_interface_name": "eth0",
    }


class ContainerJob(StepType):
    """A step that runs one job container. Subclasses say where inputs go, what the container is, and what
    comes out."""

    cacheable: ClassVar[bool] = True
    runs_container: ClassVar[bool] = True

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        s3 = context.client("s3")
        for uri, destination, what in self.inputs(arguments, context):
            s3io.download(s3, uri, destination, f"{context.step.where}{what}")
        self.prepare(arguments, context)
        context.run_container(self.container(arguments, context))
        self.upload_outputs(arguments, context)
        return StepResult(self.properties(arguments, context))

    def inputs(self, arguments: dict, context: StepContext) -> Iterator[tuple[str, Path, str]]:
        """(S3 URI, host folder, what it is) for every input to download."""
        raise NotImplementedError

    def prepare(self, arguments: dict, context: StepContext) -> None:
        """Write the config files and create the folders the container expects."""
        raise NotImplementedError

    def container(self, arguments: dict, context: StepContext) -> ContainerSpec:
        raise NotImplementedError

    def upload_outputs(self, arguments: dict, context: StepContext) -> None:
        raise NotImplementedError

    def properties(self, arguments: dict, context: StepContext) -> dict:
        raise NotImplementedError
