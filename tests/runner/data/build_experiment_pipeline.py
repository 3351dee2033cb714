"""Print the definition of a pipeline with its own PipelineExperimentConfig, built by the real SageMaker SDK v3:
one Fail step whose message names the experiment and the trial, as steps read them.

Usage: python build_experiment_pipeline.py
"""

import json
import sys

import boto3
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.pipeline_experiment_config import (
    PipelineExperimentConfig,
    PipelineExperimentConfigProperties,
)

session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"))
team = ParameterString("Team", default_value="ml")
report = FailStep(
    name="Report",
    error_message=Join(
        on=" ",
        values=[PipelineExperimentConfigProperties.EXPERIMENT_NAME, PipelineExperimentConfigProperties.TRIAL_NAME],
    ),
)
pipeline = Pipeline(
    name="experiments",
    parameters=[team],
    steps=[report],
    pipeline_experiment_config=PipelineExperimentConfig(
        Join(on="-", values=["abalone", team]), Join(on="-", values=["trial", ExecutionVariables.PIPELINE_EXECUTION_ID])
    ),
    sagemaker_session=session,
)
sys.stdout.write(json.dumps(json.loads(pipeline.definition())))
