"""Print the definition of a pipeline with a run condition, built by the real SageMaker SDK v3: Work (a Lambda
step that fails when the Fail parameter is true) and Notify (a Lambda step that runs only when Work failed).

Usage: python build_run_conditions_pipeline.py WORK_ARN NOTIFY_ARN
"""

import json
import sys

import boto3
from sagemaker.core.lambda_helper import Lambda
from sagemaker.core.workflow.parameters import ParameterBoolean
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.step_dependency import StepDependency, TriggerCondition

work_arn, notify_arn = sys.argv[1:3]
session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"))
fail = ParameterBoolean("Fail", default_value=False)
work = LambdaStep(
    name="Work",
    lambda_func=Lambda(function_arn=work_arn, session=session),
    inputs={"fail": fail},
    outputs=[LambdaOutput(output_name="done", output_type=LambdaOutputTypeEnum.Boolean)],
)
notify = LambdaStep(
    name="Notify",
    lambda_func=Lambda(function_arn=notify_arn, session=session),
    inputs={"about": "Work failed"},
    outputs=[LambdaOutput(output_name="sent", output_type=LambdaOutputTypeEnum.Boolean)],
    depends_on=[StepDependency(work, TriggerCondition.FAILED)],
)
pipeline = Pipeline(name="run-conditions", parameters=[fail], steps=[work, notify], sagemaker_session=session)
sys.stdout.write(json.dumps(json.loads(pipeline.definition())))
