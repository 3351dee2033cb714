"""The edit-to-result shortcut: re-uploading edited scripts must give exactly what a full SDK build gives."""

from __future__ import annotations

import json
import shutil

from ml import pipeline

SOURCE_CODE = "sm_drivers/sourcecode.json"


def source_code(s3, bucket: str, prefix: str) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=prefix + SOURCE_CODE)["Body"].read())


def objects_under(s3, bucket: str, prefix: str) -> dict[str, str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {item["Key"][len(prefix) :]: item["ETag"] for page in pages for item in page.get("Contents", [])}


def delete_under(s3, bucket: str, prefix: str) -> None:
    for key in objects_under(s3, bucket, prefix):
        s3.delete_object(Bucket=bucket, Key=prefix + key)


def test_refreshing_script_uploads_equals_a_full_build(local_target, tmp_path, monkeypatch):
    before = pipeline.build_definition("experimental", local_target)
    scripts = tmp_path / "scripts"
    shutil.copytree(pipeline.SCRIPTS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("train.py", "evaluate.py"):
        with (scripts / name).open("a") as handle:
            handle.write("# an edit\n")
    monkeypatch.setattr(pipeline, "SCRIPTS_DIR", scripts)

    refreshed = pipeline.refresh_script_uploads(before, local_target)
    assert refreshed is not None and refreshed != before
    s3, bucket = local_target.client("s3"), local_target.bucket
    new_prefix = f"abalone-experimental-train/abalone-experimental-train-{pipeline.training_code_hash()}/input/"
    uploaded_by_refresh = objects_under(s3, bucket, new_prefix)
    assert {"code/train.py", "sm_drivers/sm_train.sh"} <= set(uploaded_by_refresh)

    refreshed_source = source_code(s3, bucket, new_prefix)
    delete_under(s3, bucket, new_prefix)
    rebuilt = pipeline.build_definition("experimental", local_target)
    assert refreshed == rebuilt
    rebuilt_objects = objects_under(s3, bucket, new_prefix)
    # The SDK writes the scripts folder's absolute path into sourcecode.json: it differs here only because this
    # test moved the scripts to a temp folder (an edit in place keeps the path, and so the file).
    assert {key: tag for key, tag in rebuilt_objects.items() if key != SOURCE_CODE} == {
        key: tag for key, tag in uploaded_by_refresh.items() if key != SOURCE_CODE
    }
    rebuilt_source = source_code(s3, bucket, new_prefix)
    assert rebuilt_source.pop("source_dir") == str(scripts)
    refreshed_source.pop("source_dir")
    assert refreshed_source == rebuilt_source


def test_a_definition_of_another_shape_is_left_to_a_full_build(local_target):
    assert pipeline.refresh_script_uploads({"Version": "2020-12-01", "Steps": []}, local_target) is None
