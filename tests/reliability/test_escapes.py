"""Nothing escapes its folder: S3 keys and archive members are names anyone who can reach the emulator may
choose; a name that would land outside the step (or cache) folder is refused before anything is written."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from definitions_support import hand_written, processing_step, s3_input, training_step, upload
from projects import copy_project

from localsage.adapters import s3io, targets
from localsage.errors import UserError
from localsage.kpi import sync
from localsage.runner.backends.process import ProcessBackend
from localsage.runner.definition import load
from localsage.runner.orchestrator import Execution
from localsage.runner.run import run


def climbing_key(prefix: str, target: Path) -> str:
    """A key under `prefix` whose name climbs out of any folder to `target` (as in the reported attack)."""
    return prefix + "/" + "../" * 30 + str(target).lstrip("/")


def execute(target, definition: dict, state_dir: Path):
    loaded = load(definition)
    execution = Execution("escape", "arn:execution/escape", "escape-tests", "arn:pipeline/escape-tests")
    return run(
        loaded,
        loaded.resolve_parameters({}),
        target,
        ProcessBackend(say=lambda message: None),
        execution=execution,
        state_dir=state_dir,
        use_cache=False,
        say=lambda message: None,
    )


def test_a_processing_input_key_that_climbs_out_is_refused_and_nothing_is_written(local_target, tmp_path):
    escaped = tmp_path / "x" / "ESCAPED.txt"
    upload(local_target, "tests/escape/raw/part-1.csv", b"a\n1\n")
    local_target.client("s3").put_object(
        Bucket=local_target.bucket, Key=climbing_key("tests/escape/raw", escaped), Body=b"owned"
    )
    code = upload(local_target, "tests/escape/code/read.py", b"print('never runs')\n")
    step = processing_step("Read", code, "read.py")
    raw = s3_input("raw", f"s3://{local_target.bucket}/tests/escape/raw", "/opt/ml/processing/raw")
    step["Arguments"]["ProcessingInputs"].append(raw)
    record = execute(local_target, hand_written([step]), tmp_path / "state")
    assert record.status == "Failed"
    assert "would be written outside" in record.failure and "ESCAPED.txt" in record.failure
    assert not escaped.exists() and not (tmp_path / "x").exists()
    raw = tmp_path / "state" / "runner" / "executions" / "escape" / "steps" / "Read" / "opt_ml" / "processing" / "raw"
    assert not raw.exists(), "the good object was not copied either: the whole input is refused first"


def test_a_training_channel_key_that_climbs_out_is_refused(local_target, tmp_path):
    escaped = tmp_path / "channel-escape.txt"
    local_target.client("s3").put_object(
        Bucket=local_target.bucket, Key=climbing_key("tests/escape-train/data", escaped), Body=b"owned"
    )
    prefix = f"s3://{local_target.bucket}/tests/escape-train"
    step = training_step("Fit", f"{prefix}/out", {"train": f"{prefix}/data"}, ContainerEntrypoint=["true"])
    definition = hand_written([step])
    record = execute(local_target, definition, tmp_path / "state")
    assert record.status == "Failed" and "channel train" in record.failure
    assert not escaped.exists()


@pytest.mark.parametrize(
    "name",
    ["../outside.txt", "a/../../outside.txt", "/etc/passwd", "a\\..\\b", "nul\0byte", ""],
    ids=["parent", "nested-parent", "absolute", "backslash", "nul", "empty"],
)
def test_names_that_could_leave_the_folder_are_refused(tmp_path, name):
    with pytest.raises(UserError, match="would be written outside"):
        s3io.inside(tmp_path, name, "test")


def test_a_link_inside_the_folder_that_points_out_is_refused(tmp_path):
    (tmp_path / "folder").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "folder" / "link")
    with pytest.raises(UserError, match="would be written outside"):
        s3io.inside(tmp_path / "folder", "link/file.txt", "test")
    assert s3io.inside(tmp_path / "folder", "sub/file.txt", "test") == tmp_path / "folder" / "sub" / "file.txt"


def tar_with(member: tarfile.TarInfo, body: bytes = b"") -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        good = tarfile.TarInfo("fit.py")
        good.size = 2
        tar.addfile(good, io.BytesIO(b"#\n"))
        member.size = len(body)
        tar.addfile(member, io.BytesIO(body))
    return archive.getvalue()


@pytest.mark.parametrize("kind", ["climbing", "absolute", "link-out"])
def test_an_archive_member_that_leaves_the_folder_is_refused_before_extraction(tmp_path, kind):
    if kind == "climbing":
        member = tarfile.TarInfo("../../evil.py")
    elif kind == "absolute":
        member = tarfile.TarInfo(str(tmp_path / "absolute-evil.py"))
    else:
        member = tarfile.TarInfo("link")
        member.type = tarfile.SYMTYPE
        member.linkname = str(tmp_path / "outside")
    archive = tmp_path / "sourcedir.tar.gz"
    archive.write_bytes(tar_with(member, b"owned"))
    with pytest.raises(UserError, match="is refused .*nothing was extracted"):
        s3io.unpack(archive, tmp_path / "code", "step FitV2: sagemaker_submit_directory")
    assert not (tmp_path / "code" / "fit.py").exists(), "not even the good member"
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "absolute-evil.py").exists()


def test_a_v2_source_archive_with_a_climbing_member_fails_its_step(local_target, tmp_path):
    source = upload(local_target, "tests/escape-v2/sourcedir.tar.gz", tar_with(tarfile.TarInfo("../../evil.py")))
    hyperparameters = {"sagemaker_program": '"fit.py"', "sagemaker_submit_directory": json.dumps(source)}
    step = training_step("FitV2", f"s3://{local_target.bucket}/tests/escape-v2/out", {}, hyperparameters)
    definition = hand_written([step])
    record = execute(local_target, definition, tmp_path / "state")
    assert record.status == "Failed"
    assert "member '../../evil.py' is refused" in record.failure


def test_a_kpi_key_that_climbs_out_of_the_cache_is_refused(local_target, tmp_path):
    target = targets.local(copy_project(tmp_path / "project", "kpi-escape"), say=lambda message: None)
    target.ensure_bucket()
    escaped = tmp_path / "kpi-escaped.csv"
    target.client("s3").put_object(Bucket=target.bucket, Key=climbing_key("kpi/kpi-escape", escaped), Body=b"x")
    with pytest.raises(UserError, match="would be written outside"):
        sync.sync(target, say=lambda message: None)
    assert not escaped.exists()
