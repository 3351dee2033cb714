"""Content-addressed upload prefixes: the SDK 3.27 layouts they replace, and digests independent of location."""

from __future__ import annotations

import json

import pytest

from localsage.project.uploads import content_addressed_prefix, content_digest, project_source

DIGEST = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("sdk_prefix", "expected"),
    [
        (f"demo-experimental/code/{'f' * 64}", "demo-experimental/code/0123456789abcdef"),
        ("demo-train/demo-train-20261202043711/input/code", "demo-train/demo-train-0123456789ab/input/code"),
        (
            "demo-train/demo-train-20261202043711/input/sm_drivers",
            "demo-train/demo-train-0123456789ab/input/sm_drivers",
        ),
        ("demo-experimental/Evaluate/input/kpi-schema", "demo-experimental/kpi-schema/0123456789abcdef"),
        ("data", "data"),
    ],
)
def test_each_sdk_layout_gets_its_content_addressed_prefix(sdk_prefix, expected):
    assert content_addressed_prefix(sdk_prefix, DIGEST) == expected


def test_a_digest_depends_on_names_and_contents_not_on_the_folders_location(tmp_path):
    for place in ("a", "b"):
        (tmp_path / place / "scripts" / "__pycache__").mkdir(parents=True)
        (tmp_path / place / "scripts" / "train.py").write_text("print(1)\n")
        (tmp_path / place / "scripts" / "__pycache__" / "train.cpython-311.pyc").write_bytes(place.encode())
    assert content_digest(tmp_path / "a" / "scripts") == content_digest(tmp_path / "b" / "scripts")
    (tmp_path / "b" / "scripts" / "train.py").write_text("print(2)\n")
    assert content_digest(tmp_path / "a" / "scripts") != content_digest(tmp_path / "b" / "scripts")


def test_the_drivers_source_folder_path_does_not_change_their_digest(tmp_path):
    """sourcecode.json records the source folder's absolute path, which the container never reads."""
    for place in ("a", "b"):
        (tmp_path / place).mkdir()
        settings = {"source_dir": f"/home/{place}/ml/scripts", "entry_script": "train.py"}
        (tmp_path / place / "sourcecode.json").write_text(json.dumps(settings))
    assert content_digest(tmp_path / "a") == content_digest(tmp_path / "b")
    (tmp_path / "b" / "sourcecode.json").write_text(json.dumps({"source_dir": "/x", "entry_script": "fit.py"}))
    assert content_digest(tmp_path / "a") != content_digest(tmp_path / "b")


def test_a_temporary_copy_is_traced_to_the_project_folder_it_came_from(tmp_path):
    root = tmp_path / "project"
    (root / "ml" / "scripts").mkdir(parents=True)
    (root / "ml" / "scripts" / "train.py").write_text("print(1)\n")
    copy = tmp_path / "tmp-sdk" / "scripts"
    copy.mkdir(parents=True)
    (copy / "train.py").write_text("print(1)\n")
    assert project_source(copy, root) == "ml/scripts"
    assert project_source(root / "ml" / "scripts" / "train.py", root) == "ml/scripts/train.py"
    (copy / "train.py").write_text("print(2)\n")
    assert project_source(copy, root) is None
