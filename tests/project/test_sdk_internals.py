"""The one SageMaker SDK internal the toolkit relies on: this fails loudly, naming the SDK version, when it moves."""

from __future__ import annotations

import importlib.metadata
import inspect

import jsonschema
import pytest

from localsage.project import sdk_internals


def test_the_validation_internal_is_where_the_toolkit_expects_it():
    installed = importlib.metadata.version("sagemaker")
    from sagemaker.core.config import config_manager

    owner = config_manager.SageMakerConfig
    assert "validate_sagemaker_config" in owner.__dict__, (
        f"SageMaker SDK {installed}: {sdk_internals.INTERNAL} moved (tested with {sdk_internals.TESTED_SDK_VERSION}); "
        "update localsage/project/sdk_internals.py"
    )
    assert isinstance(owner.__dict__["validate_sagemaker_config"], staticmethod)
    assert list(inspect.signature(owner.validate_sagemaker_config).parameters) == ["sagemaker_config"]


def test_inside_the_config_is_still_validated_and_outside_the_original_is_back():
    from sagemaker.core.config import config_manager

    original = config_manager.SageMakerConfig.__dict__["validate_sagemaker_config"]
    with sdk_internals.config_schema_checked_once():
        config_manager.SageMakerConfig.validate_sagemaker_config({"SchemaVersion": "1.0"})
        with pytest.raises(jsonschema.ValidationError):
            config_manager.SageMakerConfig.validate_sagemaker_config({"SchemaVersion": "9.9"})
    assert config_manager.SageMakerConfig.__dict__["validate_sagemaker_config"] is original
