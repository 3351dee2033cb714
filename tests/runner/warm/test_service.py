"""The warm interpreter's lifetime: shared while unchanged, replaced when what it imported under changed, ended
with its emulator (stopped by `down`, or on its own when the emulator dies)."""

from __future__ import annotations

import time

import psutil
import pytest
from emulators_support import private_emulator

from localsage.runner.warm import service


@pytest.fixture
def emulator(tmp_path, monkeypatch):
    created = private_emulator(tmp_path, monkeypatch)
    created.up()
    yield created
    created.down()


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.1)
    return False


def test_one_server_is_shared_and_a_changed_environment_replaces_it(emulator, tmp_path, monkeypatch):
    state = tmp_path / ".local"
    first = service.running(state, lambda: ["json"], emulator.process(), print)
    assert service.running(state, list, emulator.process(), print).pid == first.pid
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    replaced = service.running(state, list, emulator.process(), print)
    assert replaced.pid != first.pid and replaced.environment["OMP_NUM_THREADS"] == "1"
    assert gone_within(first.pid, 10), "the replaced server was left running"


def test_emulator_down_stops_it_by_its_pid(emulator, tmp_path):
    record = service.running(tmp_path / ".local", list, emulator.process(), print)
    emulator.down()
    assert gone_within(record.pid, 10)


def test_it_ends_on_its_own_when_its_emulator_dies(emulator, tmp_path):
    record = service.running(tmp_path / ".local", list, emulator.process(), print)
    psutil.Process(emulator.process()[0]).kill()
    assert gone_within(record.pid, 15)


def test_a_server_that_preloaded_a_library_setting_its_own_defaults_still_forks_steps(emulator, tmp_path, monkeypatch):
    """scikit-learn sets KMP_DUPLICATE_LIB_OK when imported: a server that preloaded it (the second emulator
    lifetime) must compare steps with the environment from before its imports, or every step runs fresh."""
    from localsage.runner.warm import protocol

    for name in ("KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK"):  # as in a shell (this process may have imported it)
        monkeypatch.delenv(name, raising=False)
    record = service.running(tmp_path / ".local", lambda: ["sklearn"], emulator.process(), print)
    assert "KMP_DUPLICATE_LIB_OK" not in record.environment
    assert protocol.fresh_reason(service.server_environment(), record.environment) is None
