"""Targets: where AWS calls go."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import UnknownServiceError

from localsage.adapters import targets
from localsage.facts.config import ProjectConfig


def test_a_client_the_warm_up_cannot_make_is_left_to_its_first_use(monkeypatch, tmp_path):
    """The background warm-up must not end in an unhandled thread exception (a full suite saw one: botocore read
    os.environ while pytest changed it); the error belongs to the first real use."""
    unhandled: list = []
    monkeypatch.setattr(threading, "excepthook", unhandled.append)
    target = targets.Target("aws", tmp_path, ProjectConfig(), "123456789012")
    target.warm_up(["no-such-service", "s3"]).join(timeout=60)
    assert unhandled == []
    with pytest.raises(UnknownServiceError):
        target.client("no-such-service")
