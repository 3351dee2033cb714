"""RegisterModel steps: a model package version in the step's group (CreateModelPackage), then its state change
event (the target's hook: SageMaker emits it in AWS, the local target emits it on the emulator)."""

from __future__ import annotations

from localsage.runner.steps.base import StepContext, StepResult, StepType, request_for


class RegisterModel(StepType):
    type_name = "RegisterModel"
    made = ("RegisterModel", "ModelPackageArn")
    locally = "a model package version in the emulator's registry, with its approval event"
    describe_operation = "DescribeModelPackage"
    create_operation = "CreateModelPackage"

    def needed_groups(self, arguments: dict) -> list[str]:
        group = arguments.get("ModelPackageGroupName")
        return [group] if group else []

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        sagemaker = context.client("sagemaker")
        request = request_for(sagemaker, self.create_operation, arguments)
        arn = sagemaker.create_model_package(**request)["ModelPackageArn"]
        described = sagemaker.describe_model_package(ModelPackageName=arn)
        properties = {
            "ModelPackageArn": arn,
            "ModelPackageName": described.get("ModelPackageName"),
            "ModelPackageGroupName": described.get("ModelPackageGroupName"),
            "ModelPackageVersion": described.get("ModelPackageVersion"),
            "ModelApprovalStatus": described.get("ModelApprovalStatus"),
            "ModelPackageStatus": described.get("ModelPackageStatus", "Completed"),
        }
        context.target.model_package_changed(arn, say=context.say)
        return StepResult(properties)
