"""Buckets that exist in the emulator before their stack does.

`./dev local-run` creates the artefact bucket on a fresh emulator so it works before any deploy; a later
`deploy --local` would then fail with BucketAlreadyExists. In AWS the stack always comes first, so only the
local deploy adopts: it moves the bucket's objects to a holding bucket, lets CloudFormation create the bucket,
and moves them back, also when the deploy fails (nothing is lost either way).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

from localsage.deploy.cdk_cli import StackTemplate


@contextmanager
def buckets_adopted(target, stacks: list[StackTemplate], say: Callable[[str], None]) -> Iterator[None]:
    """Around `cdk deploy`: hold the objects of every named bucket that exists outside its stack."""
    s3 = target.client("s3")
    held: list[tuple[str, str]] = []
    try:
        for bucket in _buckets_outside_their_stacks(target, stacks):
            holding = f"{bucket[:40]}-adopting-{secrets.token_hex(4)}"
            s3.create_bucket(Bucket=holding, **target.config.bucket_location())
            held.append((bucket, holding))  # from here on, `finally` moves everything back, whatever fails
            count = _move_objects(s3, bucket, holding)
            s3.delete_bucket(Bucket=bucket)
            say(f"deploy: bucket {bucket} existed before its stack: its {count} objects move back after the deploy")
        yield
    finally:
        for bucket, holding in held:
            if not _exists(s3, bucket):
                s3.create_bucket(Bucket=bucket, **target.config.bucket_location())
            _move_objects(s3, holding, bucket)
            s3.delete_bucket(Bucket=holding)


def _buckets_outside_their_stacks(target, stacks: list[StackTemplate]) -> list[str]:
    s3, cloudformation = target.client("s3"), target.client("cloudformation")
    found = []
    for stack in stacks:
        try:
            resources = cloudformation.describe_stack_resources(StackName=stack.name)["StackResources"]
            owned = {resource.get("PhysicalResourceId") for resource in resources}
        except ClientError:
            owned = set()
        for resource in stack.template()["Resources"].values():
            name = resource.get("Properties", {}).get("BucketName")
            is_bucket = resource["Type"] == "AWS::S3::Bucket" and isinstance(name, str)
            if is_bucket and name not in owned and _exists(s3, name):
                found.append(name)
    return found


def _move_objects(s3, source: str, destination: str) -> int:
    """Copy the current version of every object, then delete every version (so the source can be deleted)."""
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=source):
        for item in page.get("Contents", []):
            s3.copy_object(Bucket=destination, Key=item["Key"], CopySource={"Bucket": source, "Key": item["Key"]})
            count += 1
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=source):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=source, Key=version["Key"], VersionId=version["VersionId"])
    return count


def _exists(s3, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError:
        return False
