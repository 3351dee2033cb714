"""LocalStack as the opt-in emulator: the toolkit checks it, never starts or stops it."""

from __future__ import annotations

import pytest

from localsage.adapters.emulators.localstack import LocalStackEmulator
from localsage.adapters.emulators.selection import emulator_for
from localsage.errors import UserError
from localsage.facts.config import EmulatorSettings, ProjectConfig


@pytest.fixture
def localstack(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALSAGE_STATE_DIR", str(tmp_path))
    settings = EmulatorSettings(kind="localstack", localstack_endpoint="http://localhost:9")
    return emulator_for(tmp_path, ProjectConfig(emulator=settings))


def test_the_project_setting_picks_the_localstack_class(localstack):
    assert isinstance(localstack, LocalStackEmulator)


def test_localstack_needs_an_auth_token_and_a_running_instance(localstack, monkeypatch):
    monkeypatch.delenv("LOCALSTACK_AUTH_TOKEN", raising=False)
    with pytest.raises(UserError, match="LOCALSTACK_AUTH_TOKEN is not set"):
        localstack.up()
    monkeypatch.setenv("LOCALSTACK_AUTH_TOKEN", "token")
    with pytest.raises(UserError, match="nothing answers at http://localhost:9: start LocalStack yourself"):
        localstack.up()
    assert localstack.status().state == "stopped"


def test_down_and_reset_leave_localstack_to_the_user(localstack):
    assert "stop it where you started it" in localstack.down()
    with pytest.raises(UserError, match="reset LocalStack yourself"):
        localstack.reset()
