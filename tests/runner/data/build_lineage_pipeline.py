"""Print the definition of a pipeline of record-only steps, built by the real SageMaker SDK v3: RecordLineage (a
LineageStep: an action, an artifact, a context and associations) and AddComponent (an InferenceComponentStep on
an existing endpoint).

Usage: python build_lineage_pipeline.py ENDPOINT MODEL
"""

import json
import sys

import boto3
from sagemaker.core.lineage.action import Action
from sagemaker.core.lineage.artifact import Artifact
from sagemaker.core.lineage.context import Context
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.inference_component_step import InferenceComponentStep
from sagemaker.mlops.workflow.lineage_step import LineageAssociation, LineageEntityReference, LineageStep
from sagemaker.mlops.workflow.pipeline import Pipeline

endpoint, model = sys.argv[1:3]
session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"))
lineage = LineageStep(
    name="RecordLineage",
    actions=[
        Action.create(
            action_name="training-run",
            source_uri="s3://bucket/run",
            source_type="S3ETag",
            action_type="ModelTraining",
            sagemaker_session=session,
        )
    ],  # fmt: skip
    artifacts=[
        Artifact.create(
            artifact_name="trained-model",
            source_uri="s3://bucket/model.tar.gz",
            artifact_type="Model",
            sagemaker_session=session,
        )
    ],  # fmt: skip
    contexts=[
        Context.create(
            context_name="abalone-project",
            source_uri="s3://bucket/project",
            context_type="Project",
            sagemaker_session=session,
        )
    ],  # fmt: skip
    associations=[
        LineageAssociation(
            source=LineageEntityReference(name="training-run", type="Action"),
            destination=LineageEntityReference(name="trained-model", type="Artifact"),
            association_type="Produced",
        ),
        LineageAssociation(
            source=LineageEntityReference(name="trained-model", type="Artifact"),
            destination=LineageEntityReference(name="abalone-project", type="Context"),
        ),
    ],
)
component = InferenceComponentStep(
    name="AddComponent",
    step_args=session.create_inference_component(
        inference_component_name="abalone-component",
        endpoint_name=endpoint,
        variant_name="AllTraffic",
        specification={"ModelName": model, "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 512}},
        runtime_config={"CopyCount": 1},
    ),
)
pipeline = Pipeline(name="records", steps=[lineage, component], sagemaker_session=session)
sys.stdout.write(json.dumps(json.loads(pipeline.definition())))
