"""The weak cases of the fault review, each as it was reported: unclear errors, tracebacks, silent acceptance."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from conftest import REPO
from emulators_support import private_emulator

from localsage.commands import registry as registry_commands
from localsage.errors import UserError
from localsage.facts import cdk_context, config
from localsage.facts.model_registry import ApprovalStatus
from localsage.kpi import check, report
from localsage.views import console

FIXTURE_KPIS = REPO / "tests" / "kpi" / "data" / "kpis"
INVOKE = str(Path(sys.executable).with_name("invoke"))


@pytest.fixture
def emulator(tmp_path, monkeypatch):
    created = private_emulator(tmp_path, monkeypatch)
    yield created
    created.down()


def test_a_damaged_state_file_does_not_orphan_the_server(emulator):
    first = emulator.up()
    emulator.state_file.write_text("{damaged")
    found = emulator.status()
    assert found.state == "running" and found.record.pid == first.record.pid
    assert emulator.up().record.pid == first.record.pid, "no second server"


def test_a_deleted_state_folder_does_not_orphan_the_server(emulator):
    first = emulator.up()
    shutil.rmtree(emulator.folder)
    emulator.folder.mkdir(parents=True)
    assert emulator.status().record.pid == first.record.pid
    emulator.down()
    assert not psutil.pid_exists(first.record.pid) or psutil.Process(first.record.pid).status() == "zombie"


def test_a_port_in_time_wait_is_used_again(emulator):
    port = emulator.settings.port
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the side that closes first keeps the port in TIME_WAIT
    client.close()
    server.close()
    assert emulator.up().record.port == port


def test_a_kpi_value_that_does_not_fit_names_the_file_line_and_column(tmp_path):
    shutil.copytree(FIXTURE_KPIS, tmp_path / "kpis")
    broken = sorted((tmp_path / "kpis").rglob("*.csv"))[0]
    header, row = broken.read_text().splitlines()[:2]
    fields = row.split(",")
    fields[6] = "not-a-number"  # rmse, a double
    broken.write_text(header + "\n" + ",".join(fields) + "\n")
    with pytest.raises(UserError) as raised:
        check.check(REPO, source=str(tmp_path / "kpis"), say=lambda message: None)
    assert f"{broken}: line 2: column rmse: 'not-a-number' is not a DOUBLE" in str(raised.value)


def test_a_non_utf8_kpi_file_is_one_line_naming_it(tmp_path):
    shutil.copytree(FIXTURE_KPIS, tmp_path / "kpis")
    broken = sorted((tmp_path / "kpis").rglob("*.csv"))[0]
    broken.write_bytes(broken.read_bytes().replace(b"experimental", "exp\xe9rimental".encode("latin-1")))
    with pytest.raises(UserError, match=f"a KPI file does not fit the schema: {broken}") as raised:
        check.check(REPO, source=str(tmp_path / "kpis"), say=lambda message: None)
    assert "\n" not in str(raised.value)


def test_a_non_utf8_project_file_is_one_line(tmp_path):
    (tmp_path / "project.toml").write_bytes('[project]\nuse_case_id = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(UserError, match=r"project.toml is not UTF-8 text \(byte \d+\): save it as UTF-8"):
        config.load(tmp_path)


def test_an_empty_project_file_or_an_unknown_table_lists_the_tables(tmp_path):
    (tmp_path / "project.toml").write_text("")
    with pytest.raises(UserError, match=r"project.toml is empty: the tables are \[project\] \("):
        config.load(tmp_path)
    (tmp_path / "project.toml").write_text('[project]\nuse_case_id = "x1"\n[emulater]\nport = 1\n')
    with pytest.raises(UserError, match=r"unknown table \[emulater\]: the tables are \[project\] .*\[emulator\]"):
        config.load(tmp_path)


def test_an_unknown_cdk_context_key_lists_the_projects_keys():
    with pytest.raises(UserError, match="CDK context notification_emial is unknown: the project's keys are "):
        cdk_context.check_keys({"notification_emial": "team@example.com", "@aws-cdk/core:flag": True})
    cdk_context.check_keys({"notification_email": "x@example.com", "aws:cdk:version-reporting": False})


def test_synth_with_a_misspelt_context_key_is_one_line(tmp_path):
    done = subprocess.run(
        [INVOKE, "synth", "--context", "notify_experimantal=true"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    progress, error = done.stderr.strip().splitlines()
    assert progress.startswith("synth: running infra/app.py")
    assert error.startswith("error: synth: CDK context notify_experimantal is unknown")


def test_reject_needs_a_reason():
    with pytest.raises(UserError, match="reject needs --reason"):
        registry_commands.set_approval(ApprovalStatus.REJECTED, "experimental", reason="  ")


def test_text_in_square_brackets_survives_in_messages(capsys):
    def fails():
        raise UserError("ml/pipeline.py: get_pipeline(...) requires [learning_rate]")

    with pytest.raises(console.Exit):
        console.run(fails)
    assert "requires [learning_rate]" in capsys.readouterr().err


def test_the_report_refuses_a_folder_or_a_file_it_did_not_write(tmp_path):
    with pytest.raises(UserError, match="is a folder: give a file name"):
        report.check_output(tmp_path)
    notes = tmp_path / "notes.html"
    notes.write_text("<html>my notes</html>")
    with pytest.raises(UserError, match="exists and is not a KPI report"):
        report.write_report(REPO, str(notes), source=str(FIXTURE_KPIS), say=lambda message: None)
    assert notes.read_text() == "<html>my notes</html>"


def test_the_report_replaces_its_own_file_whole_and_leaves_nothing_when_it_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALSAGE_STATE_DIR", str(tmp_path / "state"))
    output = tmp_path / "kpi.html"
    report.write_report(REPO, str(output), source=str(FIXTURE_KPIS), say=lambda message: None)
    assert report.GENERATOR in output.read_text()
    report.write_report(REPO, str(output), source=str(FIXTURE_KPIS), say=lambda message: None)
    failed = tmp_path / "never.html"
    with pytest.raises(UserError):
        report.write_report(REPO, str(failed), source=str(tmp_path / "no-kpis"), say=lambda message: None)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kpi.html", "state"]


def test_the_json_of_a_status_names_no_stale_server(emulator):
    assert emulator.status().state == "stopped"
    status = json.loads(
        subprocess.run(
            [INVOKE, "emulator.status", "--json"],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={"PATH": str(Path(sys.executable).parent), "LOCALSAGE_STATE_DIR": str(emulator.folder.parent)},
        ).stdout
    )
    assert (status["state"], status["pid"]) == ("stopped", None)
