"""Lineage and InferenceComponent steps (built by the real SDK v3), which moto has no API for: the emulator records
what they create, answers Describe*/List* from the records, and says an inference component is not served."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from definitions_support import IMAGE, ROLE, sdk_build

DATA = Path(__file__).parents[1] / "runner" / "data"


@pytest.fixture(scope="module")
def endpoint(local_target) -> tuple[str, str]:
    """An endpoint whose model cannot load: enough to hold a component record (nothing is served)."""
    sagemaker = local_target.client("sagemaker")
    name = f"records-{secrets.token_hex(3)}"
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    yield name, name
    sagemaker.delete_endpoint(EndpointName=name)


def test_lineage_and_inference_components_are_recorded_and_described(local_target, endpoint, tmp_path):
    endpoint_name, model = endpoint
    built = sdk_build(tmp_path, DATA / "build_lineage_pipeline.py", endpoint_name, model)
    assert [step["Type"] for step in built["Steps"]] == ["Lineage", "InferenceComponent"]
    sagemaker = local_target.client("sagemaker")
    sagemaker.create_pipeline(PipelineName="records", PipelineDefinition=json.dumps(built), RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(PipelineName="records")["PipelineExecutionArn"]
    deadline = time.time() + 120
    while (described := sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn))[
        "PipelineExecutionStatus"
    ] == "Executing":
        assert time.time() < deadline
        time.sleep(0.3)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")

    action = sagemaker.describe_action(ActionName="training-run")
    assert action["ActionType"] == "ModelTraining"
    artifact_arn = sagemaker.list_associations(SourceArn=action["ActionArn"])["AssociationSummaries"][0][
        "DestinationArn"
    ]
    assert sagemaker.describe_artifact(ArtifactArn=artifact_arn)["ArtifactType"] == "Model"
    produced = sagemaker.list_associations(SourceArn=action["ActionArn"])["AssociationSummaries"]
    assert [item["AssociationType"] for item in produced] == ["Produced"]
    context = sagemaker.describe_context(ContextName="abalone-project")
    assert sagemaker.list_associations(DestinationArn=context["ContextArn"])["AssociationSummaries"]

    component = sagemaker.describe_inference_component(InferenceComponentName="abalone-component")
    assert component["EndpointName"] == endpoint_name and component["InferenceComponentStatus"] == "InService"
    listed = sagemaker.list_inference_components(EndpointNameEquals=endpoint_name)["InferenceComponents"]
    assert [item["InferenceComponentName"] for item in listed] == ["abalone-component"]
    with pytest.raises(ClientError, match="is recorded, not served, locally"):
        local_target.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint_name, InferenceComponentName="abalone-component", Body=b"1", ContentType="text/csv"
        )
