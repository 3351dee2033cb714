"""Print the definition of a pipeline of the step types beyond jobs, built by the real SageMaker SDK v3:
Model -> Transform -> Lambda -> ForEach (a Lambda per scale) -> Callback -> Condition (else Fail), with a Tuning
step whose best job the Callback also gets, and Model -> EndpointConfig -> Endpoint (`step-types-<execution id>`).

Usage: python build_step_types_pipeline.py BUCKET MODEL_DATA INPUT FUNCTION_ARN QUEUE_URL IMAGE ROLE SCALE_ARN TRAIN
"""

import json
import sys
from pathlib import Path

import boto3
from sagemaker.core.lambda_helper import Lambda
from sagemaker.core.parameter import CategoricalParameter
from sagemaker.core.training.configs import Compute, SourceCode
from sagemaker.core.transformer import Transformer
from sagemaker.core.workflow.conditions import ConditionEquals
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.callback_step import CallbackOutput, CallbackOutputTypeEnum, CallbackStep
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.endpoint_step import EndpointConfigStep, EndpointStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.for_each_step import CurrentItem, ForEachSelector, ForEachStep, IterationOutput
from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import TransformStep, TuningStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.model_trainer import ModelTrainer
from sagemaker.train.tuner import HyperparameterTuner

bucket, model_data, input_uri, function_arn, queue_url, image, role, scale_arn, train_data = sys.argv[1:10]
session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"), default_bucket=bucket)
scale = ParameterFloat("Scale", default_value=1.0)
factors = ParameterString("Factors", default_value="[1, 3, 2]")

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
scaled = LambdaStep(
    name="ScaleMean",
    lambda_func=Lambda(function_arn=scale_arn, session=session),
    inputs={"mean": summarise.properties.Outputs["mean"], "factor": CurrentItem()},
    outputs=[LambdaOutput(output_name="scaled", output_type=LambdaOutputTypeEnum.Float)],
)
fan_out = ForEachStep(
    name="FanOut",
    iterable_items=factors,
    max_concurrency=2,
    for_each_body=[scaled],
    selector=ForEachSelector(pick="MaxBy", field=IterationOutput(scaled).OutputParameters["scaled"]),
)
trainer = ModelTrainer(
    training_image=image,
    source_code=SourceCode(source_dir=str(Path(__file__).with_name("tuning_source")), entry_script="train.py"),
    compute=Compute(instance_type="ml.m5.large", instance_count=1),
    hyperparameters={"epochs": 1},
    role=role,
    sagemaker_session=session,
    base_job_name="step-types-tune",
)
tuner = HyperparameterTuner(
    model_trainer=trainer,
    objective_metric_name="loss",
    hyperparameter_ranges={"opt": CategoricalParameter(["sgd", "adam"]), "lr": CategoricalParameter(["0.01"])},
    metric_definitions=[{"Name": "loss", "Regex": "loss: ([0-9\\.]+)"}],
    strategy="Grid",
    objective_type="Minimize",
    max_parallel_jobs=2,
)
tune = TuningStep(name="Tune", step_args=tuner.tune(inputs=train_data))
approve = CallbackStep(
    name="Approve",
    sqs_queue_url=queue_url,
    inputs={
        "mean": summarise.properties.Outputs["mean"],
        "count": summarise.properties.Outputs["count"],
        "largest": fan_out.properties.Selected.OutputParameters["scaled"],
        "first": fan_out.properties.IterationOutputs[0].ScaleMean.OutputParameters["scaled"],
        "tuned": tune.properties.BestTrainingJob.TunedHyperParameters["opt"],
    },
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
    parameters=[scale, factors],
    steps=[create_model, score, summarise, fan_out, tune, approve, gate, serve_config, serve],
    sagemaker_session=session,
)
sys.stdout.write(json.dumps(json.loads(pipeline.definition())))
