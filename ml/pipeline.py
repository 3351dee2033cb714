"""The Abalone pipeline, built with the SageMaker Python SDK v3, and its deterministic definition JSON.

Preprocess -> Train -> Evaluate -> CheckQuality -> RegisterModel (rmse <= RmseThreshold) or Fail.
The same definition runs in SageMaker and in the local runner. Building it uploads the step code to the
artefact bucket (the SDK needs S3 even to print a definition), under prefixes derived from the code's
content, so two builds of unchanged inputs give byte-identical JSON.

Import cost: this module imports only the standard library and localsage at top level; the SDK
(~2.5 s) is imported inside the functions that build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localsage import config as project_config
from localsage.errors import UserError
from localsage.kpi.schema import SCHEMA_FILE

if TYPE_CHECKING:
    from localsage.targets import Target

ML_DIR = Path(__file__).resolve().parent
SCRIPTS_DIR = ML_DIR / "scripts"
SAMPLE_DATA_KEY = "data/abalone.csv"

STEP_PREPROCESS = "Preprocess"
STEP_TRAIN = "Train"
STEP_EVALUATE = "Evaluate"
STEP_CHECK = "CheckQuality"
STEP_REGISTER = "RegisterModel"
STEP_FAIL = "Fail"
EVALUATION_PROPERTY_FILE = "EvaluationReport"
EVALUATION_OUTPUT = "evaluation"
EVALUATION_FILE = "evaluation.json"
RMSE_PATH = "regression_metrics.rmse.value"
# The sample data gives rmse ~2.34 on the test split; a model predicting the mean scores ~3.2.
DEFAULT_RMSE_THRESHOLD = 3.0
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
CACHE_EXPIRY = "P30D"
HYPERPARAMETERS = {"n_estimators": 300, "max_depth": 3, "learning_rate": 0.05, "subsample": 0.8}
PROCESSING = "/opt/ml/processing"
SCHEMA_DIR = f"{PROCESSING}/kpi-schema"
SPLITS = ("train", "validation", "test")
# The SDK's own ignore list for SourceCode uploads, so the content hash covers exactly what is uploaded.
_IGNORED_NAMES = frozenset({"__pycache__", ".DS_Store", ".ipynb_checkpoints", ".cache", ".git", ".env"})
TELEMETRY_OPT_OUT = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def definition_inputs(root: Path | None = None) -> list[Path]:
    """Every file the definition depends on: change none of them and a rebuild gives the same JSON."""
    root = root or ML_DIR.parent
    return sorted(
        [
            *_uploaded_files(SCRIPTS_DIR),
            Path(__file__).resolve(),
            root / project_config.CONFIG_FILE,
            root / SCHEMA_FILE,
            # Pins the SDK version, which shapes the definition and the uploaded training driver.
            root / "requirements.lock",
        ]
    )


def content_hash(paths: list[Path], base: Path, *extra: str) -> str:
    """A short SHA-256 over relative file names and contents (and `extra` strings), stable across machines."""
    digest = hashlib.sha256()
    for text in extra:
        digest.update(text.encode())
    for path in sorted(paths):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def get_pipeline(
    variant: str,
    config: project_config.ProjectConfig,
    *,
    bucket: str,
    role_arn: str,
    image_uri: str,
    session,
    hyperparameters: dict[str, Any] | None = None,
    rmse_threshold: float = DEFAULT_RMSE_THRESHOLD,
    kpi_schema: Path | None = None,
):
    """The SDK v3 `Pipeline` named `config.pipeline_name(variant)`; `session` is a PipelineSession.

    Call `definition_of(pipeline)` (not `pipeline.definition()`) to get the deterministic JSON.
    """
    with _building():
        return _assemble(
            variant, config, bucket, role_arn, image_uri, session, hyperparameters, rmse_threshold, kpi_schema
        )


def _assemble(variant, config, bucket, role_arn, image_uri, session, hyperparameters, rmse_threshold, kpi_schema):
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.training.configs import Compute, InputData, SourceCode
    from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep
    from sagemaker.train import ModelTrainer

    pipeline_name = config.pipeline_name(variant)
    settings = {**HYPERPARAMETERS, **(hyperparameters or {})}
    input_data = ParameterString("InputData", default_value=f"s3://{bucket}/{SAMPLE_DATA_KEY}")
    rmse_limit = ParameterFloat("RmseThreshold", default_value=float(rmse_threshold))
    approval_status = ParameterString("ModelApprovalStatus", default_value="PendingManualApproval")
    processing_instance = ParameterString("ProcessingInstanceType", default_value=DEFAULT_INSTANCE_TYPE)
    training_instance = ParameterString("TrainingInstanceType", default_value=DEFAULT_INSTANCE_TYPE)
    cache = CacheConfig(enable_caching=True, expire_after=CACHE_EXPIRY)
    artefacts = f"s3://{bucket}/{pipeline_name}"

    def processor(job: str) -> ScriptProcessor:
        return ScriptProcessor(
            role=role_arn,
            image_uri=image_uri,
            command=["python3"],
            instance_count=1,
            instance_type=processing_instance,
            base_job_name=f"{pipeline_name}-{job}",
            sagemaker_session=session,
            tags=[{"Key": key, "Value": value} for key, value in config.tags.items()],
        )

    def s3_input(name: str, source, destination: str) -> ProcessingInput:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=source, local_path=destination, s3_data_type="S3Prefix", s3_input_mode="File"
            ),
        )

    def s3_output(name: str, source: str, destination) -> ProcessingOutput:
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(s3_uri=destination, local_path=source, s3_upload_mode="EndOfJob"),
        )

    def uploaded(kind: str, path: Path) -> str:
        return _upload_content_addressed(session, bucket, f"{pipeline_name}/{kind}", path)

    def step_output(name: str) -> str:
        return f"{artefacts}/{name}"

    preprocess = ProcessingStep(
        name=STEP_PREPROCESS,
        step_args=processor("preprocess").run(
            code=uploaded("code", SCRIPTS_DIR / "preprocess.py"),
            inputs=[s3_input("raw", input_data, f"{PROCESSING}/input")],
            outputs=[s3_output(split, f"{PROCESSING}/{split}", step_output(split)) for split in SPLITS],
            arguments=["--input", f"{PROCESSING}/input", "--output-dir", PROCESSING],
        ),
        cache_config=cache,
    )

    def split_uri(split: str):
        return preprocess.properties.ProcessingOutputConfig.Outputs[split].S3Output.S3Uri

    trainer = ModelTrainer(
        training_image=image_uri,
        role=role_arn,
        source_code=SourceCode(source_dir=str(SCRIPTS_DIR), entry_script="train.py"),
        compute=Compute(instance_type=training_instance, instance_count=1),
        hyperparameters=settings,
        base_job_name=f"{pipeline_name}-train",
        sagemaker_session=session,
    )
    train = TrainingStep(
        name=STEP_TRAIN,
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name="train", data_source=split_uri("train")),
                InputData(channel_name="validation", data_source=split_uri("validation")),
            ]
        ),
        cache_config=cache,
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(name=EVALUATION_PROPERTY_FILE, output_name=EVALUATION_OUTPUT, path=EVALUATION_FILE)
    evaluate = ProcessingStep(
        name=STEP_EVALUATE,
        step_args=processor("evaluate").run(
            code=uploaded("code", SCRIPTS_DIR / "evaluate.py"),
            inputs=[
                s3_input("model", model_data, f"{PROCESSING}/model"),
                s3_input("test", split_uri("test"), f"{PROCESSING}/test"),
                s3_input(
                    "kpi-schema",
                    uploaded("kpi-schema", kpi_schema or ML_DIR.parent / SCHEMA_FILE),
                    SCHEMA_DIR,
                ),
            ],
            outputs=[
                s3_output(EVALUATION_OUTPUT, f"{PROCESSING}/evaluation", step_output(EVALUATION_OUTPUT)),
                s3_output("kpi", f"{PROCESSING}/kpi", f"s3://{bucket}/{config.kpi_prefix}"),
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
                f"{SCHEMA_DIR}/{SCHEMA_FILE.name}",
                "--execution-id",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                "--pipeline-name",
                ExecutionVariables.PIPELINE_NAME,
                "--variant",
                variant,
                "--threshold",
                rmse_limit.to_string(),
            ],
        ),
        property_files=[report],
    )
    rmse = JsonGet(step_name=evaluate.name, property_file=report, json_path=RMSE_PATH)
    evaluation_uri = Join(
        on="/",
        values=[
            evaluate.properties.ProcessingOutputConfig.Outputs[EVALUATION_OUTPUT].S3Output.S3Uri,
            EVALUATION_FILE,
        ],
    )
    register = ModelStep(
        name=STEP_REGISTER,
        step_args=_register_arguments(
            session=session,
            image_uri=image_uri,
            role_arn=role_arn,
            model_data=model_data,
            group=config.model_package_group(variant),
            approval_status=approval_status,
            evaluation_uri=evaluation_uri,
        ),
    )
    fail = FailStep(
        name=STEP_FAIL,
        error_message=Join(on=" ", values=["Test rmse", rmse, "is above the RmseThreshold", rmse_limit]),
    )
    check = ConditionStep(
        name=STEP_CHECK,
        conditions=[ConditionLessThanOrEqualTo(left=rmse, right=rmse_limit)],
        if_steps=[register],
        else_steps=[fail],
    )
    return Pipeline(
        name=pipeline_name,
        parameters=[input_data, rmse_limit, approval_status, processing_instance, training_instance],
        steps=[preprocess, train, evaluate, check],
        sagemaker_session=session,
    )


def _register_arguments(*, session, image_uri, role_arn, model_data, group, approval_status, evaluation_uri):
    """`ModelBuilder.register(...)` captured by the PipelineSession: the RegisterModel step's arguments."""
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.serve.model_builder import ModelBuilder

    builder = ModelBuilder(
        s3_model_data_url=model_data,
        image_uri=image_uri,
        role_arn=role_arn,
        sagemaker_session=session,
    )
    return builder.register(
        model_package_group_name=group,
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=[DEFAULT_INSTANCE_TYPE],
        transform_instances=[DEFAULT_INSTANCE_TYPE],
        approval_status=approval_status,
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(content_type="application/json", s3_uri=evaluation_uri)
        ),
    )


def _upload_content_addressed(session, bucket: str, prefix: str, path: Path) -> str:
    """Upload one file under `<prefix>/<hash of its content>/`: the S3 URI changes exactly when the content does.

    The SDK's own code hash for processing steps mixes in the absolute local path, so two checkouts of the
    same commit would give different definitions; uploading first and passing the S3 URI avoids that.
    """
    if not path.is_file():
        raise UserError(f"{path}: file is missing (the pipeline definition needs it)")
    key = f"{prefix}/{content_hash([path], path.parent)}"
    return session.upload_data(str(path), bucket=bucket, key_prefix=key)


def _uploaded_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not _IGNORED_NAMES.intersection(path.relative_to(folder).parts)
        and path.suffix not in (".pyc", ".pyo")
    )


def training_code_hash() -> str:
    """The hash naming the Train upload prefix: ml/scripts, this module and the SDK version."""
    from importlib.metadata import version

    builder = Path(__file__).resolve()
    return content_hash(
        _uploaded_files(SCRIPTS_DIR), SCRIPTS_DIR, version("sagemaker"), builder.read_text(encoding="utf-8")
    )[:12]


def refresh_script_uploads(definition: dict, target: Target) -> dict | None:
    """What `build_definition` would return after an edit confined to ml/scripts, without the SDK (~3 s saved).

    The scripts' contents reach the definition only through content-addressed code URIs. So: upload each
    processing script under its new content hash, upload ml/scripts as the Train `code` channel under the new
    training hash, and copy the `sm_drivers` channel (the SDK's own files, which no script edit changes)
    from its previous prefix. None when the definition does not have the expected shape (build it instead).
    A test checks the result equals a full SDK build, URIs and uploaded objects alike.
    """
    s3 = target.client("s3")
    bucket = re.escape(target.bucket)
    text = json.dumps(definition)
    processing = re.compile(rf"s3://{bucket}/([a-z0-9-]+)/code/([0-9a-f]{{16}})/([A-Za-z0-9_]+\.py)")
    training = re.compile(rf"s3://{bucket}/([a-z0-9-]+)/([a-z0-9-]+)-([0-9a-f]{{12}})/input")
    scripts = {match.groups() for match in processing.finditer(text)}
    channels = {match.groups() for match in training.finditer(text)}
    if not scripts or len(channels) != 1:
        return None
    for pipeline_name, old_hash, name in scripts:
        path = SCRIPTS_DIR / name
        if not path.is_file():
            return None
        new_hash = content_hash([path], path.parent)
        s3.upload_file(str(path), target.bucket, f"{pipeline_name}/code/{new_hash}/{name}")
        text = text.replace(f"/{pipeline_name}/code/{old_hash}/{name}", f"/{pipeline_name}/code/{new_hash}/{name}")
    folder, base, old_hash = channels.pop()
    new_hash = training_code_hash()
    old_prefix, new_prefix = f"{folder}/{base}-{old_hash}/input", f"{folder}/{base}-{new_hash}/input"
    for path in _uploaded_files(SCRIPTS_DIR):
        s3.upload_file(str(path), target.bucket, f"{new_prefix}/code/{path.relative_to(SCRIPTS_DIR).as_posix()}")
    drivers = s3.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=f"{old_prefix}/sm_drivers/")
    for item in (item for page in drivers for item in page.get("Contents", [])):
        s3.copy_object(
            Bucket=target.bucket,
            Key=new_prefix + item["Key"][len(old_prefix) :],
            CopySource={"Bucket": target.bucket, "Key": item["Key"]},
        )
    return json.loads(text.replace(old_prefix, new_prefix))


@contextmanager
def _content_addressed_training_uploads() -> Iterator[None]:
    """ModelTrainer names its upload prefix after a timestamped job name; name it after the code instead.

    The `code` and `sm_drivers` channels then live under `<base job name>-<hash>`, the hash covering ml/scripts,
    this module and the SDK version (everything those two channels are made from).
    """
    from unittest import mock

    from sagemaker.train import model_trainer

    code_hash = training_code_hash()

    def code_addressed_name(base: str, max_length: int = 63) -> str:
        return f"{base.replace('_', '-')[: max_length - len(code_hash) - 1]}-{code_hash}"

    with mock.patch.object(model_trainer, "_get_unique_name", code_addressed_name):
        yield


@contextmanager
def _quiet_sdk() -> Iterator[None]:
    """Silence the SDK's build chatter, and undo the root-logger handler its import installs."""
    root = logging.getLogger()
    handlers, level, disabled = list(root.handlers), root.level, logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(disabled)
        root.handlers[:] = handlers
        root.setLevel(level)


@contextmanager
def _config_schema_checked_once() -> Iterator[None]:
    """Validate SDK config dicts against a validator built once.

    The SDK re-validates its config on every lookup with `jsonschema.validate`, which first re-checks the
    large schema itself (~0.25 s each, ~50 lookups per build); the config is still validated every time.
    """
    from unittest import mock

    import jsonschema
    from sagemaker.core.config import config_manager
    from sagemaker.core.config.config_schema import SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA

    validator_class = jsonschema.validators.validator_for(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)
    validator_class.check_schema(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)
    validator = validator_class(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)
    with mock.patch.object(
        config_manager.SageMakerConfig, "validate_sagemaker_config", staticmethod(validator.validate)
    ):
        yield


@contextmanager
def _building() -> Iterator[None]:
    with _quiet_sdk(), _config_schema_checked_once(), _content_addressed_training_uploads():
        yield


def definition_of(pipeline) -> dict:
    """The parsed definition JSON of `pipeline`, with deterministic code upload prefixes."""
    with _building():
        return json.loads(pipeline.definition())


def _answer_simulate_principal_policy_locally(**_: object) -> dict:
    # The emulator lacks IAM SimulatePrincipalPolicy; ModelTrainer only uses it to pick a staging bucket
    # and treats "no decision" as "use the default bucket". Answering here avoids a 500 and its retries.
    return {"EvaluationResults": []}


def pipeline_session(target: Target, bucket: str):
    """A PipelineSession on `target` (loopback-guarded when local), telemetry off, default bucket = `bucket`."""
    with _quiet_sdk():
        from sagemaker.core.workflow.pipeline_context import PipelineSession

    boto_session = target.session()
    if target.is_local:
        boto_session.events.register(
            "before-call.iam.SimulatePrincipalPolicy", _answer_simulate_principal_policy_locally
        )
    return PipelineSession(boto_session=boto_session, default_bucket=bucket, sagemaker_config=TELEMETRY_OPT_OUT)


def build_definition(variant: str, target: Target, **overrides: Any) -> dict:
    """Build the pipeline for `variant` against `target` and return its parsed definition JSON.

    `overrides` are get_pipeline's keywords (bucket, role_arn, image_uri, hyperparameters, rmse_threshold,
    kpi_schema); defaults come from the project config and the target's account.
    """
    config = target.config
    project_config.check_variant(variant)
    options = {
        "bucket": target.bucket,
        "role_arn": config.execution_role_arn(target.account),
        "image_uri": config.step_image_uri(target.account),
        **overrides,
    }
    if options["bucket"] == target.bucket:
        target.ensure_bucket()
    os.environ.setdefault("AWS_DEFAULT_REGION", target.region)
    pipeline = get_pipeline(variant, config, session=pipeline_session(target, options["bucket"]), **options)
    return definition_of(pipeline)
