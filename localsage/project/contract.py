"""What `ml/pipeline.py` must provide, declared once: the shape of SageMaker's model-build project template.

    def get_pipeline(*, role, default_bucket, pipeline_name, model_package_group_name, base_job_prefix,
                     image_uri, sagemaker_session, input_data_uri, kpi_output_uri, kpi_schema_path,
                     variant, tags) -> sagemaker.mlops.workflow.pipeline.Pipeline

The toolkit passes every argument by keyword; a missing `get_pipeline`, a parameter it does not accept, or
a required parameter the toolkit does not pass is a one-line error naming the file.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from localsage.adapters.python_files import load_module
from localsage.errors import UserError
from localsage.project.layout import PIPELINE_FILE

# What each argument means (the toolkit's promise to ml/pipeline.py).
BUILD_ARGUMENTS = {
    "role": "the execution role ARN the jobs run as",
    "default_bucket": "the artefact bucket",
    "pipeline_name": "<base>-<variant>",
    "model_package_group_name": "the variant's model package group",
    "base_job_prefix": "a prefix for job names",
    "image_uri": "the step image",
    "sagemaker_session": "a PipelineSession",
    "input_data_uri": "the sample data's S3 URI (the InputData default)",
    "kpi_output_uri": "where KPI CSVs go (s3://<bucket>/<kpi prefix>)",
    "kpi_schema_path": "the KPI schema file, a local path",
    "variant": "experimental or stable",
    "tags": "the project tags, as [{'Key': ..., 'Value': ...}]",
}


class PipelineModule(Protocol):
    def get_pipeline(self, **arguments: Any) -> Any: ...


def load(root: Path) -> PipelineModule:
    """ml/pipeline.py of the project at `root`, checked against the contract (imports the SageMaker SDK)."""
    path = root / PIPELINE_FILE
    if not path.is_file():
        raise UserError(f"{PIPELINE_FILE} is missing: it defines get_pipeline(...) (or pass --definition FILE)")
    module = load_module(path, "project_pipeline")
    check(module, PIPELINE_FILE)
    return module


def check(module: ModuleType, shown: Path | str) -> None:
    function = getattr(module, "get_pipeline", None)
    if not callable(function):
        raise UserError(
            f"{shown}: defines no get_pipeline(...): the workbench calls it with {', '.join(BUILD_ARGUMENTS)}"
        )
    parameters = inspect.signature(function).parameters
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()):
        return
    refused = [name for name in BUILD_ARGUMENTS if name not in parameters]
    if refused:
        raise UserError(
            f"{shown}: get_pipeline(...) does not accept {', '.join(refused)}: add them (the workbench passes "
            f"{', '.join(BUILD_ARGUMENTS)} by keyword)"
        )
    unknown = [
        name
        for name, parameter in parameters.items()
        if name not in BUILD_ARGUMENTS
        and parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if unknown:
        raise UserError(
            f"{shown}: get_pipeline(...) requires {', '.join(unknown)}, which the workbench does not pass: "
            "give it a default"
        )
