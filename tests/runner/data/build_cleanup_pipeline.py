"""Print the definition of a pipeline that cleans up after itself, built by the real SageMaker SDK v3: Train (a
ModelTrainer job) -> CleanUp (a CleanupStep deleting Train's outputs).

Usage: python build_cleanup_pipeline.py BUCKET TRAIN_DATA IMAGE ROLE
"""

import json
import sys
from pathlib import Path

import boto3
from sagemaker.core.training.configs import Compute, InputData, SourceCode
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.cleanup_step import CleanupStep, S3CleanupSource
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import TrainingStep
from sagemaker.train.model_trainer import ModelTrainer

bucket, train_data, image, role = sys.argv[1:5]
session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"), default_bucket=bucket)
trainer = ModelTrainer(
    training_image=image,
    source_code=SourceCode(source_dir=str(Path(__file__).with_name("tuning_source")), entry_script="train.py"),
    compute=Compute(instance_type="ml.m5.large", instance_count=1),
    hyperparameters={"epochs": 1, "lr": 0.01, "opt": "adam"},
    role=role,
    sagemaker_session=session,
    base_job_name="cleanup-train",
)
train = TrainingStep(
    name="Train",
    step_args=trainer.train(input_data_config=[InputData(channel_name="training", data_source=train_data)]),
)
clean_up = CleanupStep(name="CleanUp", s3_sources=[S3CleanupSource(train)])
pipeline = Pipeline(name="cleanup", steps=[train, clean_up], sagemaker_session=session)
sys.stdout.write(json.dumps(json.loads(pipeline.definition())))
