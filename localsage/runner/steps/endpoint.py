"""EndpointConfig and Endpoint steps: CreateEndpointConfig and CreateEndpoint in the emulator, whose control
plane then serves the endpoint's model on this machine (`runner/endpoints.py`), as SageMaker hosts it: the
Endpoint step ends when the endpoint is InService (or fails with the reason it did not get there)."""

from __future__ import annotations

import time

from localsage.runner.steps.base import ExecutionStopped, StepContext, StepFailed, StepResult, StepType, request_for

IN_SERVICE_TIMEOUT_S = 600
POLL_S = 0.2


class EndpointConfig(StepType):
    type_name = "EndpointConfig"
    locally = "CreateEndpointConfig in the emulator"
    describe_operation = "DescribeEndpointConfig"
    create_operation = "CreateEndpointConfig"
    made = ("EndpointConfig", "EndpointConfigArn")

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        sagemaker = context.client("sagemaker")
        sagemaker.create_endpoint_config(**request_for(sagemaker, self.create_operation, arguments))
        return StepResult(sagemaker.describe_endpoint_config(EndpointConfigName=arguments["EndpointConfigName"]))


class Endpoint(StepType):
    type_name = "Endpoint"
    locally = "CreateEndpoint in the emulator: the model served on this machine for InvokeEndpoint until deleted"
    describe_operation = "DescribeEndpoint"
    create_operation = "CreateEndpoint"
    made = ("Endpoint", "EndpointArn")

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        sagemaker = context.client("sagemaker")
        name = arguments["EndpointName"]
        sagemaker.create_endpoint(**request_for(sagemaker, self.create_operation, arguments))
        deadline = time.monotonic() + IN_SERVICE_TIMEOUT_S
        while (described := sagemaker.describe_endpoint(EndpointName=name))["EndpointStatus"] == "Creating":
            if context.stopping.is_set():
                raise ExecutionStopped()
            if time.monotonic() > deadline:
                raise StepFailed(f"{context.step.where}endpoint {name} not InService after {IN_SERVICE_TIMEOUT_S} s")
            time.sleep(POLL_S)
        if described["EndpointStatus"] != "InService":
            raise StepFailed(f"{context.step.where}endpoint {name} {described['EndpointStatus']}: "
                             f"{described.get('FailureReason', 'no reason given')}")  # fmt: skip
        return StepResult(described)
