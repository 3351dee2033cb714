"""The Abalone pipeline, built with the SageMaker Python SDK v3.

Preprocess -> Train -> Evaluate -> CheckQuality -> RegisterModel (rmse <= RmseThreshold), else Fail;
beside Evaluate, Train -> CreateModel -> ScoreTest (batch transform of the test split: rings, prediction).

The same shape as the `pipeline.py` of SageMaker's model-build project template: parameters, steps and
`get_pipeline(...)`. Whoever builds the pipeline (the workbench locally and in CodeBuild, or a notebook)
passes the session, the role, the names and the locations.
"""

import os

from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.training.configs import Compute, InputData, SourceCode
from sagemaker.core.transformer import Transformer
from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep, TransformStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train import ModelTrainer

BASE_DIR = os.path.dirname(os.path.realpath(__file__))
SCRIPTS_DIR = os.path.join(BASE_DIR, "scripts")
PROCESSING = "/opt/ml/processing"
SPLITS = ("train", "validation", "test")
HYPERPARAMETERS = {"n_estimators": 300, "max_depth": 3, "learning_rate": 0.05, "subsample": 0.8}
# The sample data gives rmse ~2.34 on the test split; a model predicting the mean scores ~3.2.
RMSE_THRESHOLD = 3.0
INSTANCE_TYPE = "ml.m5.large"
# The Train step puts the serving handlers into the model artefact (scripts/inference.py -> code/).
SERVING_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}


def get_pipeline(
    *,
    role,
    default_bucket,
    pipeline_name,
    model_package_group_name,
    base_job_prefix,
    image_uri,
    sagemaker_session,
    input_data_uri,
    kpi_output_uri,
    kpi_schema_path,
    variant,
    tags,
):
    """The SDK `Pipeline` of the Abalone model; `sagemaker_session` is a PipelineSession in `region`."""
    input_data = ParameterString("InputData", default_value=input_data_uri)
    rmse_threshold = ParameterFloat("RmseThreshold", default_value=RMSE_THRESHOLD)
    approval_status = ParameterString("ModelApprovalStatus", default_value="PendingManualApproval")
    processing_instance_type = ParameterString("ProcessingInstanceType", default_value=INSTANCE_TYPE)
    training_instance_type = ParameterString("TrainingInstanceType", default_value=INSTANCE_TYPE)
    cache = CacheConfig(enable_caching=True, expire_after="P30D")
    # Fixed output prefixes, not per-execution ones: an execution id in step arguments would defeat caching.
    outputs = f"s3://{default_bucket}/{pipeline_name}"

    def processor(job):
        return ScriptProcessor(
            role=role,
            image_uri=image_uri,
            command=["python3"],
            instance_count=1,
            instance_type=processing_instance_type,
            base_job_name=f"{base_job_prefix}-{job}",
            sagemaker_session=sagemaker_session,
            tags=tags,
        )

    def s3_input(name, source, destination):
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=source, local_path=destination, s3_data_type="S3Prefix", s3_input_mode="File"
            ),
        )

    def s3_output(name, source, destination):
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(s3_uri=destination, local_path=source, s3_upload_mode="EndOfJob"),
        )

    preprocess = ProcessingStep(
        name="Preprocess",
        step_args=processor("preprocess").run(
            code=os.path.join(SCRIPTS_DIR, "preprocess.py"),
            inputs=[s3_input("raw", input_data, f"{PROCESSING}/input")],
            outputs=[s3_output(split, f"{PROCESSING}/{split}", f"{outputs}/{split}") for split in (*SPLITS, "batch")],
            arguments=["--input", f"{PROCESSING}/input", "--output-dir", PROCESSING],
        ),
        cache_config=cache,
    )

    def split_uri(split):
        return preprocess.properties.ProcessingOutputConfig.Outputs[split].S3Output.S3Uri

    trainer = ModelTrainer(
        training_image=image_uri,
        role=role,
        source_code=SourceCode(source_dir=SCRIPTS_DIR, entry_script="train.py"),
        compute=Compute(instance_type=training_instance_type, instance_count=1),
        hyperparameters=HYPERPARAMETERS,
        base_job_name=f"{base_job_prefix}-train",
        sagemaker_session=sagemaker_session,
    )
    train = TrainingStep(
        name="Train",
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name="train", data_source=split_uri("train")),
                InputData(channel_name="validation", data_source=split_uri("validation")),
            ]
        ),
        cache_config=cache,
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    kpi_schema_dir = f"{PROCESSING}/kpi-schema"
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor("evaluate").run(
            code=os.path.join(SCRIPTS_DIR, "evaluate.py"),
            inputs=[
                s3_input("model", model_data, f"{PROCESSING}/model"),
                s3_input("test", split_uri("test"), f"{PROCESSING}/test"),
                s3_input("kpi-schema", kpi_schema_path, kpi_schema_dir),
            ],
            outputs=[
                s3_output("evaluation", f"{PROCESSING}/evaluation", f"{outputs}/evaluation"),
                s3_output("kpi", f"{PROCESSING}/kpi", kpi_output_uri),
            ],
            arguments=[
                "--model",
                f"{PROCESSING}/model/model.tar.gz",
                "--test-dir",
                f"{PROCESSING}/test",
                "--evaluation-dir",
                f"{PROCESSING}/evaluation",
                "--kpi-dir",
                f"{PROCESSING}/kpi",
                "--kpi-schema",
                f"{kpi_schema_dir}/{os.path.basename(kpi_schema_path)}",
                "--execution-id",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                "--pipeline-name",
                ExecutionVariables.PIPELINE_NAME,
                "--variant",
                variant,
                "--threshold",
                rmse_threshold.to_string(),
            ],
        ),
        property_files=[report],
    )
    rmse = JsonGet(step_name=evaluate.name, property_file=report, json_path="regression_metrics.rmse.value")
    evaluation_uri = Join(
        on="/",
        values=[evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri, "evaluation.json"],
    )

    def model():
        return ModelBuilder(
            s3_model_data_url=model_data,
            image_uri=image_uri,
            role_arn=role,
            env_vars=SERVING_ENVIRONMENT,
            sagemaker_session=sagemaker_session,
        )

    create_model = ModelStep(name="CreateModel", step_args=model().build())
    transformer = Transformer(
        model_name=create_model.properties.ModelName,
        instance_count=1,
        instance_type=INSTANCE_TYPE,
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        output_path=f"{outputs}/scores",
        base_transform_job_name=f"{base_job_prefix}-score",
        sagemaker_session=sagemaker_session,
    )
    # Each row of the batch split is `rings, features...`: the model gets the features, the output keeps the
    # label beside the prediction.
    score = TransformStep(
        name="ScoreTest",
        step_args=transformer.transform(
            data=preprocess.properties.ProcessingOutputConfig.Outputs["batch"].S3Output.S3Uri,
            content_type="text/csv",
            split_type="Line",
            input_filter="$[1:]",
            join_source="Input",
            output_filter="$[0,-1]",
        ),
    )
    register = ModelStep(
        name="RegisterModel",
        step_args=model().register(
            model_package_group_name=model_package_group_name,
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=[INSTANCE_TYPE],
            transform_instances=[INSTANCE_TYPE],
            approval_status=approval_status,
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(content_type="application/json", s3_uri=evaluation_uri)
            ),
        ),
    )
    fail = FailStep(
        name="Fail",
        error_message=Join(on=" ", values=["Test rmse", rmse, "is above the RmseThreshold", rmse_threshold]),
    )
    check = ConditionStep(
        name="CheckQuality",
        conditions=[ConditionLessThanOrEqualTo(left=rmse, right=rmse_threshold)],
        if_steps=[register],
        else_steps=[fail],
    )
    return Pipeline(
        name=pipeline_name,
        parameters=[input_data, rmse_threshold, approval_status, processing_instance_type, training_instance_type],
        steps=[preprocess, train, evaluate, check, create_model, score],
        sagemaker_session=sagemaker_session,
    )
