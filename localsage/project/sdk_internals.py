"""The one place the toolkit reaches into a SageMaker SDK internal, because no supported option does the job.

`SageMakerConfig.validate_sagemaker_config` re-checks the SDK's large config *schema* (jsonschema's
`check_schema`, ~0.25 s) on every config lookup, ~50 times per pipeline build, whenever the session has a
config, and the session needs one: the telemetry opt-out exists only as a config key. Here the config is
still validated on every lookup, by a validator whose schema was checked once.

tests/project/test_sdk_internals.py fails, naming the SDK version, when this internal moves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

TESTED_SDK_VERSION = "3.27.0"
INTERNAL = "sagemaker.core.config.config_manager.SageMakerConfig.validate_sagemaker_config"


@contextmanager
def config_schema_checked_once() -> Iterator[None]:
    import jsonschema
    from sagemaker.core.config import config_manager
    from sagemaker.core.config.config_schema import SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA

    validator_class = jsonschema.validators.validator_for(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)
    validator_class.check_schema(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)
    validator = validator_class(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)
    owner = config_manager.SageMakerConfig
    original = owner.__dict__["validate_sagemaker_config"]
    owner.validate_sagemaker_config = staticmethod(validator.validate)
    try:
        yield
    finally:
        owner.validate_sagemaker_config = original
