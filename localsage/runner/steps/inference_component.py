"""InferenceComponent steps: CreateInferenceComponent in the emulator, which records it on its endpoint. It is
not served: locally an endpoint serves the model of its production variant, and InvokeEndpoint naming the
component says so. The step says it too."""

from __future__ import annotations

from localsage.runner.steps.base import StepContext, StepResult, StepType, request_for


class InferenceComponent(StepType):
    type_name = "InferenceComponent"
    support = "recorded only"
    locally = "recorded on its endpoint in the emulator, not served (the endpoint serves its variant's model)"
    describe_operation = "DescribeInferenceComponent"
    create_operation = "CreateInferenceComponent"
    made = ("InferenceComponent", "InferenceComponentArn")

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        sagemaker = context.client("sagemaker")
        sagemaker.create_inference_component(**request_for(sagemaker, self.create_operation, arguments))
        name = arguments["InferenceComponentName"]
        context.say(
            f"{context.step.where}inference component {name} recorded on endpoint {arguments['EndpointName']}: "
            "not served locally (the endpoint serves its production variant's model)"
        )
        return StepResult(sagemaker.describe_inference_component(InferenceComponentName=name))
