"""The kept definition: reused while nothing changed, refreshed without the SDK when only uploaded sources changed
(exactly what a full build gives, URIs and uploaded objects alike), rebuilt otherwise or when its uploads vanished."""

from __future__ import annotations

import json

import pytest
from projects import copy_project

from localsage.adapters import targets
from localsage.project import build, definitions
from localsage.project.uploads import Upload


def objects_under(s3, bucket: str, prefix: str) -> dict[str, str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {item["Key"][len(prefix) :]: item["ETag"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture
def project(local_target, tmp_path):
    """A project of its own, built once; `said` collects what the definition cache reports."""
    root = copy_project(tmp_path / "project", "definitions")
    target = targets.local(root, say=lambda message: None)
    said: list[str] = []
    first = definitions.project_definition(target, "experimental", said.append)
    return target, said, first


def edit(target, relative: str) -> None:
    with (target.root / relative).open("a") as handle:
        handle.write("# an edit\n")


def test_an_unchanged_project_reuses_the_kept_definition(project):
    target, said, first = project
    said.clear()
    assert definitions.project_definition(target, "experimental", said.append) == first
    assert said == []


def test_a_script_edit_is_refreshed_to_exactly_what_a_full_build_gives(project):
    target, said, first = project
    edit(target, "ml/scripts/train.py")
    edit(target, "ml/scripts/evaluate.py")
    said.clear()
    refreshed = definitions.project_definition(target, "experimental", said.append)
    assert said == [
        "local-run: ml/scripts/evaluate.py, ml/scripts/train.py changed: code uploaded again, definition updated"
    ]
    assert refreshed != first
    rebuilt = build.build(target, "experimental")
    assert refreshed == rebuilt.definition
    s3 = target.client("s3")
    for upload in rebuilt.uploads:
        if upload.source and upload.source.startswith("ml/scripts"):
            key = upload.uri.removeprefix(f"s3://{target.bucket}/")
            assert objects_under(s3, target.bucket, key), f"{upload.uri} was uploaded by the refresh"


def test_a_change_outside_the_uploaded_sources_builds_again(project):
    target, said, _ = project
    edit(target, "ml/pipeline.py")
    said.clear()
    definitions.project_definition(target, "experimental", said.append)
    assert said[0] == "local-run: building the experimental pipeline definition with the SageMaker SDK"


def test_vanished_uploads_build_again(project):
    """After `emulator.reset`, or when the bucket went away, the kept definition points at nothing."""
    target, said, first = project
    s3 = target.client("s3")
    for key in objects_under(s3, target.bucket, ""):
        s3.delete_object(Bucket=target.bucket, Key=key)
    s3.delete_bucket(Bucket=target.bucket)
    said.clear()
    assert definitions.project_definition(target, "experimental", said.append) == first
    assert said[0].startswith("local-run: building")


def test_a_damaged_cache_file_builds_again(project, local_target):
    target, said, first = project
    from localsage.facts.config import local_dir

    definitions.definition_cache_file(local_dir(target.root), "definitions-experimental").write_text("{not json")
    said.clear()
    assert definitions.project_definition(target, "experimental", said.append) == first
    assert said[0].startswith("local-run: building")


def test_the_cache_keeps_the_uploads_with_their_sources(project):
    target, _, _ = project
    from localsage.facts.config import local_dir

    kept = json.loads(definitions.definition_cache_file(local_dir(target.root), "definitions-experimental").read_text())
    sources = {Upload(**upload).source for upload in kept["uploads"]}
    assert {"ml/scripts", "ml/scripts/preprocess.py", "ml/scripts/evaluate.py", "infra/kpi/model_kpis.json"} <= sources
    assert kept["inputs"]["(variant)"] == "experimental" and "ml/scripts/train.py" in kept["inputs"]
