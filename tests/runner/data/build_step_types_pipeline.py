"""Print the definition of a pipeline of the step types beyond jobs, built by the real SageMaker SDK v3:
Model -> Transform -> Lambda -> Callback -> Condition (else Fail), and Model -> EndpointConfig -> Endpoint
(named `step-types-<execution id>`).

Usage: python build_step_types_pipeline.py BUCKET MODEL_DATA INPUT FUNCTION_ARN QUEUE_URL IMAGE ROLE
"""

import json
import sys

import boto3
from sagemaker.core.lambda_helper import Lambda
from sagemaker.core.transformer import Transformer
from sagemaker.core.workflow.conditions import ConditionEquals
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterFloat
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.callback_step import CallbackOutput, CallbackOutputTypeEnum, CallbackStep
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.endpoint_step import EndpointConfigStep, EndpointStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import TransformStep
from sagemaker.serve.model_builder import ModelBuilder

bucket, model_data, input_uri, function_arn, queue_url, image, role = sys.argv[1:8]
session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"), default_bucket=bucket)
scale = ParameterFloat("Scale", default_value=1.0)

model = ModelBuilder(
    s3_model_data_url=model_data,
    image_uri=image,
    role_arn=role,
    env_vars={"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
    sagemaker_session=session,
)
create_model = ModelStep(name="CreateModel", step_args=model.build())
transformer = Transformer(
    model_name=create_model.properties.ModelName,
    instance_count=1,
    instance_type="ml.m5.large",
    strategy="MultiRecord",
    assemble_with="Line",
    accept="text/csv",
    output_path=f"s3://{bucket}/step-types/scores",
    sagemaker_session=session,
)
score = TransformStep(
    name="Score",
    step_args=transformer.transform(
        data=input_uri,
        content_type="text/csv",
        split_type="Line",
        input_filter="$[1:]",
        join_source="Input",
        output_filter="$[0,-1]",
    ),
)
summarise = LambdaStep(
    name="Summarise",
    lambda_func=Lambda(function_arn=function_arn, session=session),
    inputs={"scores": score.properties.TransformOutput.S3OutputPath, "scale": scale},
    outputs=[
        LambdaOutput(output_name="count", output_type=LambdaOutputTypeEnum.Integer),
        LambdaOutput(output_name="mean", output_type=LambdaOutputTypeEnum.Float),
    ],
)
approve = CallbackStep(
    name="Approve",
    sqs_queue_url=queue_url,
    inputs={"mean": summarise.properties.Outputs["mean"], "count": summarise.properties.Outputs["count"]},
    outputs=[CallbackOutput(output_name="decision", output_type=CallbackOutputTypeEnum.String)],
)
gate = ConditionStep(
    name="Gate",
    conditions=[ConditionEquals(left=approve.properties.Outputs["decision"], right="ship")],
    if_steps=[],
    else_steps=[FailStep(name="Rejected", error_message="the reviewer did not ship it")],
)
endpoint_name = Join(on="-", values=["step-types", ExecutionVariables.PIPELINE_EXECUTION_ID])
variant = {
    "VariantName": "AllTraffic",
    "ModelName": create_model.properties.ModelName,
    "InstanceType": "ml.m5.large",
    "InitialInstanceCount": 1,
}
serve_config = EndpointConfigStep(
    name="ServeConfig", step_args=session.create_endpoint_config(name=endpoint_name, production_variants=[variant])
)
serve = EndpointStep(
    name="Serve", step_args=session.create_endpoint(endpoint_name=endpoint_name, config_name=endpoint_name)
)
serve.add_depends_on([serve_config])
pipeline = Pipeline(
    name="step-types",
    parameters=[scale],
    steps=[create_model, score, summarise, approve, gate, serve_config, serve],
    sagemaker_session=session,
)
sys.stdout.write(json.dumps(json.loads(pipeline.definition())))
