"""Model package approval statuses, as SageMaker spells them (the registry, the rule pattern and the runner)."""

from __future__ import annotations

from enum import StrEnum


class ApprovalStatus(StrEnum):
    APPROVED = "Approved"
    REJECTED = "Rejected"
    PENDING = "PendingManualApproval"
