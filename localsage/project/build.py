"""Build a variant's pipeline definition: `ml/pipeline.py`'s `get_pipeline(...)`, run through the SageMaker SDK.

The toolkit owns everything around the data scientist's code: the session (`sdk_session`), the arguments
(`contract.BUILD_ARGUMENTS`), a quiet SDK (stdlib logging and warning filters, set before the SDK is
imported), the environment the SDK needs (a region at import time, no IAM role simulation while building:
the role is the project's own, and a simulation could refuse conditional grants), and the one SDK internal
(`sdk_internals`).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from localsage.facts.config import check_variant
from localsage.facts.kpi_schema import SCHEMA_FILE
from localsage.project import contract, layout, sdk_internals
from localsage.project.uploads import Upload

# Loggers that talk during a build (the SDK's own levels: sagemaker.config is forced to INFO on import).
QUIET_LOGGERS = ("sagemaker", "sagemaker.config", "sagemaker.jumpstart", "sagemaker.remote_function", "botocore")
BUILD_ENVIRONMENT = {"SAGEMAKER_VALIDATE_ROLE": "false"}


@dataclass(frozen=True)
class BuiltDefinition:
    definition: dict
    uploads: list[Upload]


def build_arguments(target, variant: str, session, image_uri: str | None = None) -> dict:
    """The keyword arguments `get_pipeline` gets for `variant` on `target` (see contract.BUILD_ARGUMENTS)."""
    config, root, bucket = target.config, target.root, target.bucket
    pipeline_name = config.pipeline_name(variant)
    arguments = {
        "role": config.execution_role_arn(target.account),
        "default_bucket": bucket,
        "pipeline_name": pipeline_name,
        "model_package_group_name": config.model_package_group(variant),
        "base_job_prefix": pipeline_name,
        "image_uri": image_uri or config.step_image_uri(target.account),
        "sagemaker_session": session,
        "input_data_uri": f"s3://{bucket}/{layout.sample_data_key(root)}",
        "kpi_output_uri": f"s3://{bucket}/{config.kpi_prefix}",
        "kpi_schema_path": str(root / SCHEMA_FILE),
        "variant": variant,
        "tags": config.tag_list,
    }
    return arguments


def build(target, variant: str, image_uri: str | None = None, dry_run: bool = False) -> BuiltDefinition:
    """Build `variant` against `target` (uploads go to its artefact bucket); the parsed definition JSON.

    `dry_run`: upload and create nothing; the definition names what the uploads would be (`uploads`).
    """
    check_variant(variant)
    if not dry_run:
        target.ensure_bucket()
    with _environment(target.region), quiet_sdk(), sdk_internals.config_schema_checked_once():
        from localsage.project.sdk_session import ContentAddressedSession

        module = contract.load(target.root)
        session = ContentAddressedSession(
            boto_session=target.session(), bucket=target.bucket, root=target.root, dry_run=dry_run
        )
        pipeline = module.get_pipeline(**build_arguments(target, variant, session, image_uri))
        definition = json.loads(pipeline.definition())
    return BuiltDefinition(definition, session.uploads)


@contextmanager
def quiet_sdk() -> Iterator[None]:
    """No SDK chatter during a build: its loggers at ERROR, its build-time UserWarnings ignored.

    The SDK calls `logging.basicConfig(level=INFO)` when some of its modules are imported; a handler on the
    root logger first makes that call a no-op, so the SDK never installs its own.
    """
    root_logger = logging.getLogger()
    placeholder = logging.NullHandler() if not root_logger.handlers else None
    if placeholder:
        root_logger.addHandler(placeholder)
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"sagemaker\.")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if placeholder:
            root_logger.removeHandler(placeholder)


@contextmanager
def _environment(region: str) -> Iterator[None]:
    """What the SDK reads from the environment while building: a region (needed at import) and no role check."""
    wanted = {"AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or region, **BUILD_ENVIRONMENT}
    previous = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
