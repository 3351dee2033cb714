"""Model steps (`Model`, and the older `CreateModel`): a SageMaker model (CreateModel) from the step's container."""

from __future__ import annotations

from localsage.runner.steps.base import StepContext, StepResult, StepType, request_for


class CreateModel(StepType):
    type_name = "Model"
    locally = "CreateModel in the emulator (served by Transform steps)"
    describe_operation = "DescribeModel"
    create_operation = "CreateModel"
    name_member = "ModelName"
    made = ("Model", "ModelArn")

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        sagemaker = context.client("sagemaker")
        request = request_for(sagemaker, self.create_operation, arguments)
        request.setdefault("ModelName", context.job_name())
        arn = sagemaker.create_model(**request)["ModelArn"]
        return StepResult({"ModelName": request["ModelName"], "ModelArn": arn})


class LegacyCreateModel(CreateModel):
    """The type name SDK v2's CreateModelStep writes."""

    type_name = "CreateModel"
    locally = "as Model (the type name SDK v2's CreateModelStep writes)"
