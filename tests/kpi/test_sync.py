"""The KPI cache mirrors the emulator's S3 prefix: new or changed objects are fetched, deleted ones removed."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest

from localsage.errors import UserError
from localsage.kpi import sync

HEADER = "execution_id,pipeline_name,variant\n"


@pytest.fixture
def kpi_target(local_target, request):
    """The session emulator, with a use case of its own so the prefix is private to this test."""
    use_case = "kpisync-" + request.node.name.removeprefix("test_").replace("_", "-")[:20].strip("-")
    config = dataclasses.replace(local_target.config, use_case_id=use_case)
    target = dataclasses.replace(local_target, config=config)
    s3 = target.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=target.bucket)
    return target


def put(target, relative, body):
    target.client("s3").put_object(Bucket=target.bucket, Key=target.config.kpi_prefix + relative, Body=body)


def test_sync_fetches_only_new_or_changed_objects_and_removes_deleted_ones(kpi_target):
    put(kpi_target, "dt=2025-03-01/a.csv", HEADER + "a\n")
    put(kpi_target, "dt=2025-03-02/b.csv", HEADER + "b\n")
    put(kpi_target, "dt=2025-03-02/notes.txt", "not a KPI file")
    first = sync.sync(kpi_target, say=lambda message: None)
    assert (first.downloaded, first.unchanged, first.deleted) == (2, 0, 0)
    assert (first.folder / "dt=2025-03-01" / "a.csv").read_text() == HEADER + "a\n"
    assert not (first.folder / "dt=2025-03-02" / "notes.txt").exists()

    again = sync.sync(kpi_target, say=lambda message: None)
    assert (again.downloaded, again.unchanged, again.deleted) == (0, 2, 0)

    put(kpi_target, "dt=2025-03-01/a.csv", HEADER + "a, changed\n")
    kpi_target.client("s3").delete_object(
        Bucket=kpi_target.bucket, Key=kpi_target.config.kpi_prefix + "dt=2025-03-02/b.csv"
    )
    changed = sync.sync(kpi_target, say=lambda message: None)
    assert (changed.downloaded, changed.unchanged, changed.deleted) == (1, 0, 1)
    assert (changed.folder / "dt=2025-03-01" / "a.csv").read_text() == HEADER + "a, changed\n"
    assert not (changed.folder / "dt=2025-03-02" / "b.csv").exists()


def test_a_locally_deleted_file_is_fetched_again(kpi_target):
    put(kpi_target, "dt=2025-03-01/a.csv", HEADER + "a\n")
    folder = sync.sync(kpi_target, say=lambda message: None).folder
    (folder / "dt=2025-03-01" / "a.csv").unlink()
    assert sync.sync(kpi_target, say=lambda message: None).downloaded == 1


def test_an_empty_prefix_gives_a_clear_message(kpi_target):
    expected = (
        f"no KPI files under s3://{kpi_target.bucket}/{kpi_target.config.kpi_prefix}: run './dev local-run' first"
    )
    with pytest.raises(UserError) as raised:
        sync.sync(kpi_target, say=lambda message: None)
    assert str(raised.value) == expected


def test_a_missing_bucket_gives_a_clear_message(local_target):
    config = dataclasses.replace(local_target.config, artifact_bucket="kpi-sync-no-such-bucket")
    target = dataclasses.replace(local_target, config=config)
    with pytest.raises(
        UserError, match=r"^bucket kpi-sync-no-such-bucket does not exist, .*run './dev local-run' first$"
    ):
        sync.sync(target, say=lambda message: None)
