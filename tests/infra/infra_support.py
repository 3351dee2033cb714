"""Constants and helpers the infra tests share (conftest.py holds the fixtures)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
CONNECTION_ARN = "arn:aws:codeconnections:us-east-1:123456789012:connection/12345678-1234-1234-1234-123456789012"
QUICKSIGHT_PRINCIPAL = "arn:aws:quicksight:us-east-1:123456789012:group/default/analysts"
# Every optional part switched on, so every resource the stacks can create is checked.
FULL_CONTEXT = {
    "source_connection_arn": CONNECTION_ARN,
    "source_repository": "acme/abalone",
    "source_branch": "release",
    "notification_email": "ml-team@example.com",
    "notify_experimental": True,
    "quicksight_principal_arns": [QUICKSIGHT_PRINCIPAL],
}
# The accounts of the staged project the security and stack tests synthesize: a tooling account, then staging,
# then prod behind a manual approval.
TOOLING_ACCOUNT = "111111111111"
STAGES = (("staging", "222222222222", False), ("prod", "333333333333", True))
