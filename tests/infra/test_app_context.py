"""The CDK app reads its context through localsage.facts.cdk_context: parts are left out or added accordingly."""

from __future__ import annotations

import pytest
from infra_support import REPO

from localsage.deploy import cdk_cli
from localsage.errors import UserError


def test_codecommit_is_an_option(app_module, tmp_path):
    built = app_module.build(REPO, context={"codecommit_repository": "abalone"}, outdir=str(tmp_path))
    assert "cicd" in built.stacks


def test_without_a_source_the_cicd_stack_is_left_out_and_synth_says_so(app_module, tmp_path):
    built = app_module.build(REPO, context={}, outdir=str(tmp_path))
    assert "cicd" not in built.stacks
    assert any("source_connection_arn" in note for note in built.notes)


def test_a_bad_context_value_stops_the_app_with_the_key(app_module, tmp_path):
    with pytest.raises(UserError, match="CDK context notify_experimental"):
        app_module.build(REPO, context={"notify_experimental": "sometimes"}, outdir=str(tmp_path))


def test_synth_task_path_reports_a_bad_email_in_one_line(tmp_path):
    """The real path (`./dev synth`): app.py in its own process, its error turned into one UserError line."""
    with pytest.raises(UserError, match="notification_email='not-an-address' is invalid") as raised:
        cdk_cli.synth(REPO, "aws", {"notification_email": "not-an-address"}, outdir=tmp_path)
    assert "\n" not in str(raised.value) and "Traceback" not in str(raised.value)
