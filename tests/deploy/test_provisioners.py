"""The local provisioners' pieces that need no emulator: intrinsic resolution and the type lists."""

from __future__ import annotations

import pytest

from localsage.deploy import provisioners
from localsage.deploy.provisioners import Resolver, Unresolvable

RESOLVER = Resolver(
    account="000000000000",
    region="us-east-1",
    physical_ids={"Bucket1": "my-bucket", "Topic1": "arn:aws:sns:us-east-1:000000000000:topic"},
    resource_types={"Bucket1": "AWS::S3::Bucket", "Topic1": "AWS::SNS::Topic", "Key1": "AWS::KMS::Key"},
    stack_name="s",
)


def test_resolves_what_cdk_writes_in_policies():
    value = {
        "Resource": [
            {"Fn::GetAtt": ["Bucket1", "Arn"]},
            {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket1", "Arn"]}, "/*"]]},
            {"Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${Bucket1}"},
        ],
        "Topics": [{"Ref": "Topic1"}],
    }
    assert RESOLVER.resolve(value) == {
        "Resource": [
            "arn:aws:s3:::my-bucket",
            "arn:aws:s3:::my-bucket/*",
            "arn:aws:x:us-east-1:000000000000:my-bucket",
        ],
        "Topics": ["arn:aws:sns:us-east-1:000000000000:topic"],
    }


@pytest.mark.parametrize(
    "value",
    [{"Ref": "Missing"}, {"Fn::GetAtt": ["Key1", "Arn"]}, {"Fn::GetAtt": ["Bucket1", "DomainName"]}, {"Fn::If": []}],
)
def test_what_cannot_be_computed_is_unresolvable_not_guessed(value):
    with pytest.raises(Unresolvable):
        RESOLVER.resolve(value)


def test_emulated_types_are_what_the_installed_moto_creates():
    from moto.cloudformation.parsing import get_model_map

    assert set(get_model_map()) >= provisioners.EMULATED_BY_CLOUDFORMATION
    assert not provisioners.PROVISIONED_TYPES & set(get_model_map())


def test_contains_ignores_service_defaults_but_not_changes():
    current = {"Configuration": {"Enforce": True, "EngineVersion": {"Selected": "AUTO"}}, "Columns": [{"Name": "a"}]}
    assert provisioners._contains(current, {"Configuration": {"Enforce": True}, "Columns": [{"Name": "a"}]})
    assert not provisioners._contains(current, {"Configuration": {"Enforce": False}})
    assert not provisioners._contains(current, {"Columns": [{"Name": "a"}, {"Name": "b"}]})
