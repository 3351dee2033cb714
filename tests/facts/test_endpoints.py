"""What counts as a loopback endpoint."""

from __future__ import annotations

import pytest

from localsage.facts.endpoints import is_loopback_url


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://localhost:4566", True),
        ("http://127.0.0.1:4566", True),
        ("http://127.8.9.1", True),
        ("http://[::1]:4566", True),
        ("https://s3.us-east-1.amazonaws.com", False),
        ("http://10.0.0.5:4566", False),
        ("http://localhost.attacker.example", False),
        ("", False),
    ],
)
def test_loopback_detection(url, loopback):
    assert is_loopback_url(url) is loopback
