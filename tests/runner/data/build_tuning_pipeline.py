"""Print the definition of a tuning pipeline built by the real SageMaker SDK v3: Tune (Random search) -> Inspect
(a Lambda step given the top model's URI, from `TuningStep.get_top_model_s3_uri`, and the best objective).

Usage: python build_tuning_pipeline.py BUCKET TRAIN_DATA FUNCTION_ARN IMAGE ROLE
"""

import json
import sys
from pathlib import Path

import boto3
from sagemaker.core.lambda_helper import Lambda
from sagemaker.core.parameter import CategoricalParameter, ContinuousParameter
from sagemaker.core.training.configs import Compute, SourceCode
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import TuningStep
from sagemaker.train.model_trainer import ModelTrainer
from sagemaker.train.tuner import HyperparameterTuner

bucket, train_data, function_arn, image, role = sys.argv[1:6]
session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"), default_bucket=bucket)
trainer = ModelTrainer(
    training_image=image,
    source_code=SourceCode(source_dir=str(Path(__file__).with_name("tuning_source")), entry_script="train.py"),
    compute=Compute(instance_type="ml.m5.large", instance_count=1),
    hyperparameters={"epochs": 3},
    role=role,
    sagemaker_session=session,
    base_job_name="tune-demo",
)
ranges = {
    "opt": CategoricalParameter(["sgd", "adam"]),
    "lr": ContinuousParameter(1e-3, 1e-1, scaling_type="Logarithmic"),
}
tuner = HyperparameterTuner(
    model_trainer=trainer,
    objective_metric_name="loss",
    hyperparameter_ranges=ranges,
    metric_definitions=[{"Name": "loss", "Regex": "loss: ([0-9\\.]+)"}],
    strategy="Random",
    objective_type="Minimize",
    max_jobs=4,
    max_parallel_jobs=2,
)
tune = TuningStep(name="Tune", step_args=tuner.tune(inputs=train_data))
inspect = LambdaStep(
    name="Inspect",
    lambda_func=Lambda(function_arn=function_arn, session=session),
    inputs={
        "model": tune.get_top_model_s3_uri(top_k=0, s3_bucket=bucket, prefix="tune-demo"),
        "best": tune.properties.BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric.Value,
        "job": tune.properties.BestTrainingJob.TrainingJobName,
    },
    outputs=[LambdaOutput(output_name="size", output_type=LambdaOutputTypeEnum.Integer)],
)
pipeline = Pipeline(name="tuning", steps=[tune, inspect], sagemaker_session=session)
sys.stdout.write(json.dumps(json.loads(pipeline.definition())))
