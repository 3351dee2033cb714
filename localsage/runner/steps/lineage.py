"""Lineage steps (SDK v3's LineageStep): CreateAction, CreateArtifact and CreateContext for each entity, then
AddAssociation between them, against the emulator, which records them (moto has no lineage API; the control
plane's `records` keeps them for Describe* and ListAssociations). An association endpoint names an entity of
the same step by name and type, or any entity by ARN. The properties are the ARNs by entity name."""

from __future__ import annotations

from localsage.errors import UserError
from localsage.runner.definition import Step
from localsage.runner.steps.base import StepContext, StepFailed, StepResult, StepType, request_for

KINDS = ("Action", "Artifact", "Context")


class Lineage(StepType):
    type_name = "Lineage"
    support = "recorded only"
    locally = "its actions, artifacts, contexts and associations recorded in the emulator (Describe*, ListAssociations)"
    extra_properties = frozenset({"ActionArns", "ArtifactArns", "ContextArns", "Associations"})

    def check(self, step: Step) -> None:
        known = {f"{kind}s" for kind in KINDS} | {"Associations"}
        unknown = set(step.arguments) - known
        if unknown:
            raise UserError(f"{step.where}Arguments.{sorted(unknown)[0]} is not part of a Lineage step")

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        sagemaker = context.client("sagemaker")
        arns: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        for kind in KINDS:
            operation = f"Create{kind}"
            for entity in arguments.get(f"{kind}s", []):
                request = request_for(sagemaker, operation, entity)
                arn = getattr(sagemaker, f"create_{kind.lower()}")(**request)[f"{kind}Arn"]
                arns[kind][request.get(f"{kind}Name") or arn] = arn
        associations = []
        for index, association in enumerate(arguments.get("Associations", [])):
            ends = {}
            for role in ("Source", "Destination"):
                end = association[role]
                if "Arn" in end:
                    ends[role] = end["Arn"]
                elif end.get("Name") in arns.get(end.get("Type"), {}):
                    ends[role] = arns[end["Type"]][end["Name"]]
                else:
                    raise StepFailed(
                        f"{context.step.where}Associations[{index}].{role} names {end.get('Type')} "
                        f"{end.get('Name')!r}, which this step does not create: use its Arn"
                    )
            request = {"SourceArn": ends["Source"], "DestinationArn": ends["Destination"]}
            if "AssociationType" in association:
                request["AssociationType"] = association["AssociationType"]
            sagemaker.add_association(**request)
            associations.append(request)
        properties = {f"{kind}Arns": arns[kind] for kind in KINDS}
        return StepResult({**properties, "Associations": associations})
