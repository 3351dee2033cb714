"""Cleanup steps (SDK v3's CleanupStep): delete the S3 outputs of upstream steps, with the execution's role.

`Resources.S3` lists source steps: one without `S3Uris` (a Training step) loses its job's outputs (model.tar.gz
and output.tar.gz under `<S3OutputPath>/<job name>/output/`); for one with `S3Uris` (Processing, Transform) each
URI must lie under an output location of that step, and its object, or the objects under it, are deleted. A
source that did not run, or a URI outside its outputs, fails the step before anything is deleted. A later cached
run sees the outputs gone and runs those steps again.
"""

from __future__ import annotations

from localsage.adapters import s3io
from localsage.errors import UserError
from localsage.runner.definition import Step
from localsage.runner.expressions import EvaluationError
from localsage.runner.steps.base import StepContext, StepFailed, StepResult, StepType


class Cleanup(StepType):
    type_name = "Cleanup"
    locally = "deletes the named S3 outputs of upstream steps from the emulator's S3"

    def check(self, step: Step) -> None:
        sources = step.arguments.get("Resources", {}).get("S3")
        if not isinstance(sources, list) or not sources:
            raise UserError(f"{step.where}Arguments.Resources.S3 must list the steps whose outputs to delete")
        for source in sources:
            if source.get("StepName") not in step.depends_on:
                raise UserError(
                    f"{step.where}it cleans up step {source.get('StepName')}, which is not in its DependsOn: add it "
                    "(the SDK's CleanupStep does), or the cleanup could start before that step wrote anything"
                )

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        where = context.step.where
        targets: list[str] = []
        for source in arguments["Resources"]["S3"]:
            name = source["StepName"]
            try:
                properties = context.expressions.step_property(name, ())
            except EvaluationError:
                raise StepFailed(f"{where}step {name} produced no outputs to clean up (it did not run)") from None
            outputs = _output_locations(properties)
            uris = source.get("S3Uris")
            if uris is None:
                artefacts = properties.get("ModelArtifacts", {}).get("S3ModelArtifacts")
                if not artefacts:
                    raise StepFailed(f"{where}step {name} is not a training step: name its S3Uris to delete")
                uris = [artefacts.rsplit("/", 1)[0]]
            for uri in uris:
                if not any(uri == output or uri.startswith(output.rstrip("/") + "/") for output in outputs):
                    raise StepFailed(f"{where}{uri} is not under an output of step {name} ({', '.join(outputs)})")
            targets.extend(uris)
        s3 = context.client("s3")
        deleted = []
        for uri in targets:
            bucket, _ = s3io.split_uri(uri)
            for item in s3io.list_objects(s3, uri):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
                deleted.append(f"s3://{bucket}/{item['Key']}")
        return StepResult({"DeletedS3Objects": deleted})


def _output_locations(properties: dict) -> list[str]:
    """Where a job step writes: a training job's output prefix, a processing job's outputs, a transform's path."""
    locations = []
    artefacts = properties.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if artefacts:
        locations.append(artefacts.rsplit("/", 1)[0])
    outputs = properties.get("ProcessingOutputConfig", {}).get("Outputs", {})
    locations += [output["S3Output"]["S3Uri"] for output in outputs.values() if "S3Output" in output]
    transform = properties.get("TransformOutput", {}).get("S3OutputPath")
    return locations + ([transform] if transform else [])
