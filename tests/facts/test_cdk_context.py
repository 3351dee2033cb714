"""The CDK context keys: bad values are one line naming the key; good ones are parsed; cdk.json is read."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from localsage.errors import UserError
from localsage.facts import cdk_context

CONNECTION_ARN = "arn:aws:codeconnections:us-east-1:123456789012:connection/12345678-1234-1234-1234-123456789012"


@pytest.mark.parametrize(
    ("context", "named"),
    [
        ({"notification_email": "ml-team@"}, "notification_email"),
        (
            {"source_connection_arn": "arn:aws:s3:::not-a-connection", "source_repository": "a/b"},
            "source_connection_arn",
        ),
        ({"source_connection_arn": CONNECTION_ARN}, "source_repository"),
        ({"source_repository": "acme/abalone"}, "source_connection_arn"),
        ({"source_provider": "svn"}, "source_provider"),
        ({"notify_experimental": "sometimes"}, "notify_experimental"),
        ({"athena_bytes_scanned_cutoff": 1000}, "athena_bytes_scanned_cutoff"),
        ({"quicksight_principal_arns": "alice"}, "quicksight_principal_arns"),
        ({"localsage:target": "staging"}, "localsage:target"),
    ],
)
def test_bad_context_names_the_key(context, named):
    with pytest.raises(UserError, match=f"CDK context {named}") as raised:
        cdk_context.from_context(context.get)
    assert "\n" not in str(raised.value)


def test_good_context_is_parsed():
    settings = cdk_context.from_context(
        {
            "source_connection_arn": CONNECTION_ARN,
            "source_repository": "acme/abalone",
            "notify_experimental": "true",
            "quicksight_principal_arns": "arn:aws:quicksight:us-east-1:123456789012:group/default/analysts",
            "localsage:target": "local",
        }.get
    )
    assert settings.source == cdk_context.SourceSettings("codestar", "acme/abalone", "main", CONNECTION_ARN)
    assert settings.notify_experimental is True and settings.is_local
    assert settings.quicksight_principal_arns == ("arn:aws:quicksight:us-east-1:123456789012:group/default/analysts",)


def test_the_project_cdk_json_is_read(tmp_path):
    document = json.loads((REPO / cdk_context.CDK_JSON).read_text())
    document["context"]["notify_experimental"] = False
    (tmp_path / "infra").mkdir()
    (tmp_path / cdk_context.CDK_JSON).write_text(json.dumps(document))
    assert cdk_context.load(tmp_path).notify_experimental is False
    assert cdk_context.load(REPO).notify_experimental == document_value(REPO, "notify_experimental")


def test_a_missing_or_broken_cdk_json_is_one_line(tmp_path):
    with pytest.raises(UserError, match="infra/cdk.json is missing"):
        cdk_context.load(tmp_path)
    (tmp_path / "infra").mkdir()
    (tmp_path / cdk_context.CDK_JSON).write_text("{broken")
    with pytest.raises(UserError, match="infra/cdk.json is not valid JSON"):
        cdk_context.load(tmp_path)


def document_value(root, key: str):
    return json.loads((root / cdk_context.CDK_JSON).read_text())["context"].get(key, False)
