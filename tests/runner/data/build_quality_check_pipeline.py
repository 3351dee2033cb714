"""Print the definition of a pipeline with an AWS-only step, built by the real SageMaker SDK v3: DataQuality (a
QualityCheck step: AWS's Model Monitor container) -> Check (a condition on the statistics it calculated).

Usage: python build_quality_check_pipeline.py BUCKET ROLE
"""

import json
import sys

import boto3
from sagemaker.core.model_monitor.dataset_format import DatasetFormat
from sagemaker.core.workflow.conditions import ConditionEquals
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.check_job_config import CheckJobConfig
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep

bucket, role = sys.argv[1:3]
session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"), default_bucket=bucket)
quality = QualityCheckStep(
    name="DataQuality",
    quality_check_config=DataQualityCheckConfig(
        baseline_dataset=f"s3://{bucket}/quality/train.csv",
        dataset_format=DatasetFormat.csv(header=True),
        output_s3_uri=f"s3://{bucket}/quality/results",
    ),
    check_job_config=CheckJobConfig(role=role, sagemaker_session=session),
    skip_check=True,
    register_new_baseline=True,
)
check = ConditionStep(
    name="Check",
    conditions=[
        ConditionEquals(left=quality.properties.CalculatedBaselineStatistics, right=f"s3://{bucket}/quality/stats.json")
    ],
    if_steps=[],
    else_steps=[FailStep(name="NoBaseline", error_message="the quality check calculated no baseline")],
)
pipeline = Pipeline(name="quality", steps=[quality, check], sagemaker_session=session)
sys.stdout.write(json.dumps(json.loads(pipeline.definition())))
