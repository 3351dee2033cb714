"""The step cache key: SageMaker's key attributes, content-addressed S3 inputs, and expiry."""

from __future__ import annotations

import pytest

from localsage.runner.cache import cache_key, duration_seconds
from localsage.runner.steps.processing import Processing


class FakeS3:
    """Just enough of an S3 client for content digests: objects by URI prefix."""

    def __init__(self, objects: dict[str, list[dict]]):
        self.objects = objects

    def get_paginator(self, name):
        return self

    def paginate(self, Bucket, Prefix):  # noqa: N803 - boto3's parameter names
        uri = f"s3://{Bucket}/{Prefix}"
        return [{"Contents": self.objects.get(uri, [])}]


def processing(image="image:1", instance="ml.m5.large", code="s3://b/code/v1/train.py", output="s3://b/out"):
    return {
        "AppSpecification": {"ImageUri": image},
        "ProcessingResources": {"ClusterConfig": {"InstanceType": instance}},
        "ProcessingInputs": [{"S3Input": {"S3Uri": code}}],
        "ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": output}}]},
    }


S3 = FakeS3(
    {
        "s3://b/code/v1/train.py": [{"Key": "code/v1/train.py", "ETag": '"a"', "Size": 1}],
        "s3://b/code/v2/train.py": [{"Key": "code/v2/train.py", "ETag": '"a"', "Size": 1}],
        "s3://b/code/v3/train.py": [{"Key": "code/v3/train.py", "ETag": '"b"', "Size": 1}],
    }
)


def key(arguments):
    uris = [item["S3Input"]["S3Uri"] for item in arguments["ProcessingInputs"]]
    return cache_key("Processing", Processing.cache_key_attributes, arguments, uris, S3)


@pytest.mark.parametrize(
    ("changed", "same_key"),
    [
        (processing(instance="ml.c5.xlarge"), True),  # not a key attribute in SageMaker
        (processing(output="s3://b/elsewhere"), True),  # outputs are not either
        (processing(code="s3://b/code/v2/train.py"), True),  # same content under another prefix
        (processing(code="s3://b/code/v3/train.py"), False),  # changed content
        (processing(image="image:2"), False),
    ],
)
def test_what_changes_the_key(changed, same_key):
    assert (key(processing()) == key(changed)) is same_key


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("P30D", 30 * 86400), ("PT1H", 3600), ("P1W", 7 * 86400), ("PT16M", 960), ("", None), ("soon", None)],
)
def test_expiry_durations(text, seconds):
    assert duration_seconds(text) == seconds


def test_an_expired_entry_is_not_used(tmp_path):
    import time

    from localsage.runner.cache import CacheEntry, StepCache

    cache = StepCache(tmp_path, "pipeline")
    cache.store(CacheEntry("k", "Train", "exec1", time.time() - 2 * 86400, {"a": 1}, {"s3://b/o": "d"}))
    assert cache.lookup("Train", "k", "P1D") is None
    assert cache.lookup("Train", "k", "P3D").execution_id == "exec1"
    assert cache.lookup("Train", "other-key", "P3D") is None
