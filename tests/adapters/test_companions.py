"""Companions of the emulator: stopped with it by their recorded PID and start time, never another process."""

from __future__ import annotations

import subprocess
import sys

import psutil

from localsage.adapters import companions


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_a_recorded_companion_is_stopped_and_forgotten(tmp_path):
    child = sleeper()
    companions.record(tmp_path, "helper", child.pid, psutil.Process(child.pid).create_time())
    assert companions.stop_all(tmp_path) == ["helper"]
    assert child.wait(10) is not None
    assert not list((tmp_path / companions.FOLDER).iterdir())


def test_a_reused_pid_is_left_alone(tmp_path):
    child = sleeper()
    try:
        companions.record(tmp_path, "helper", child.pid, psutil.Process(child.pid).create_time() - 3600)
        assert companions.stop_all(tmp_path) == []
        assert child.poll() is None, "a process that is not the recorded one was stopped"
    finally:
        child.kill()
        child.wait()


def test_stopping_with_nothing_recorded_is_nothing(tmp_path):
    assert companions.stop_all(tmp_path) == []
    assert companions.stop(tmp_path, "nobody") is False
