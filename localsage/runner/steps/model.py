"""RegisterModel and Model/CreateModel steps: API calls to the (emulated) SageMaker model registry."""

from __future__ import annotations

from localsage.notify import model_package_changed
from localsage.runner.steps import ApiStepHandler, StepContext, StepResult


def request_for(client, operation: str, arguments: dict) -> dict:
    """The step's arguments that the API operation accepts (definitions also carry SDK-only keys)."""
    accepted = client.meta.service_model.operation_model(operation).input_shape.members
    return {key: value for key, value in arguments.items() if key in accepted}


class RegisterModelHandler(ApiStepHandler):
    """Creates a model package version in the step's model package group (CreateModelPackage)."""

    step_type = "RegisterModel"

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        sagemaker = context.client("sagemaker")
        arn = sagemaker.create_model_package(**request_for(sagemaker, "CreateModelPackage", arguments))[
            "ModelPackageArn"
        ]
        described = sagemaker.describe_model_package(ModelPackageName=arn)
        properties = {
            "ModelPackageArn": arn,
            "ModelPackageName": described.get("ModelPackageName"),
            "ModelPackageGroupName": described.get("ModelPackageGroupName"),
            "ModelPackageVersion": described.get("ModelPackageVersion"),
            "ModelApprovalStatus": described.get("ModelApprovalStatus"),
            "ModelPackageStatus": described.get("ModelPackageStatus", "Completed"),
        }
        # SageMaker would emit the registration event; the emulator does not, so the runner does.
        model_package_changed(arn, say=context.say)
        return StepResult(properties)


class CreateModelHandler(ApiStepHandler):
    """Creates a SageMaker model (CreateModel) from the step's container and role."""

    def __init__(self, step_type: str):
        self.step_type = step_type

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        sagemaker = context.client("sagemaker")
        request = request_for(sagemaker, "CreateModel", arguments)
        request.setdefault("ModelName", context.job_name())
        arn = sagemaker.create_model(**request)["ModelArn"]
        return StepResult({"ModelName": request["ModelName"], "ModelArn": arn})
