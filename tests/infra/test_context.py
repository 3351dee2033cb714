"""Bad CDK context values stop synth with one line naming the key; good ones are parsed."""

from __future__ import annotations

import pytest
from infra_support import CONNECTION_ARN, REPO

from localsage.deploy import cdk_cli
from localsage.errors import UserError


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
def test_bad_context_names_the_key(app_module, tmp_path, context, named):
    with pytest.raises(UserError, match=f"CDK context {named}") as raised:
        app_module.build(REPO, context=context, outdir=str(tmp_path))
    assert "\n" not in str(raised.value)


def test_codecommit_is_an_option(app_module, tmp_path):
    built = app_module.build(REPO, context={"codecommit_repository": "abalone"}, outdir=str(tmp_path))
    assert "cicd" in built.stacks


def test_without_a_source_the_cicd_stack_is_left_out_and_synth_says_so(app_module, tmp_path):
    built = app_module.build(REPO, context={}, outdir=str(tmp_path))
    assert "cicd" not in built.stacks
    assert any("source_connection_arn" in note for note in built.notes)


def test_synth_task_path_reports_a_bad_email_in_one_line(tmp_path):
    """The real path (`./dev synth`): app.py in its own process, its error turned into one UserError line."""
    with pytest.raises(UserError, match="notification_email='not-an-address' is invalid") as raised:
        cdk_cli.synth(REPO, "aws", {"notification_email": "not-an-address"}, outdir=tmp_path)
    assert "\n" not in str(raised.value) and "Traceback" not in str(raised.value)
