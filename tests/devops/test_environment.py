"""The narrowed environment: requirements/run.txt alone runs every module and builds both definitions.

A venv of its own is made from requirements/run.txt with the pinned uv (from its cache, so in seconds), and a
script run there imports every module of localsage and ml, and builds both pipeline definitions against this
session's emulator. They must be byte-identical to what the full environment builds: the packages
pyproject.toml drops (mlflow, pyiceberg, pyarrow, s3fs) change nothing the project uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from devops_support import REPO
from projects import copy_project
from uv import find_uv_bin

from localsage.adapters import targets
from localsage.facts import dependencies
from localsage.project import build

VARIANTS = ("experimental", "stable")
DROPPED = ("mlflow", "sagemaker_mlflow", "pyiceberg", "pyarrow", "s3fs")
# Programs the bench runs in its own venv, beside the peers they import (localsage/bench/peers/environment.py).
PEER_PROGRAMS = ("localsage.bench.peers.kfp_pipeline", "localsage.bench.peers.metaflow_flow")
# cfn-lint is no such package: moto[server], which the emulator runs, validates CloudFormation templates with it.
DEVELOPMENT_ONLY = ("aws_cdk", "cdk_nag", "pytest", "ruff", "importlinter", "nbclient", "localstack_client")

NARROWED_SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.util, json, pkgutil, sys
    from pathlib import Path

    root, repo, absent, elsewhere = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(","), sys.argv[4]
    modules = ["localsage", "ml"]
    for package, folder in (("localsage", repo / "localsage"), ("ml", repo / "ml")):
        found = pkgutil.walk_packages([str(folder)], package + ".")
        modules += [module.name for module in found if module.name not in elsewhere.split(",")]
    for name in modules:
        importlib.import_module(name)

    from localsage.adapters import targets
    from localsage.project import build

    target = targets.local(root, say=lambda message: None)
    definitions = {variant: build.build(target, variant).definition for variant in ("experimental", "stable")}
    present = [name for name in absent if importlib.util.find_spec(name) is not None]
    print(json.dumps({"modules": modules, "present": present, "definitions": definitions}))
    """
)


@pytest.fixture(scope="module")
def narrowed_python(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("narrowed") / "venv"
    uv = find_uv_bin()
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    requirements = REPO / dependencies.RUN.file
    subprocess.run(
        [uv, "pip", "sync", "--quiet", "--python", str(python), "--require-hashes", str(requirements)], check=True
    )
    return python


@pytest.fixture(scope="module")
def narrowed_run(narrowed_python, local_target, tmp_path_factory) -> tuple[Path, dict]:
    root = copy_project(tmp_path_factory.mktemp("narrowed-project"), "narrowed")
    done = subprocess.run(
        [
            str(narrowed_python),
            "-c",
            NARROWED_SCRIPT,
            str(root),
            str(REPO),
            ",".join(DROPPED + DEVELOPMENT_ONLY),
            ",".join(PEER_PROGRAMS),
        ],
        capture_output=True,
        text=True,
        cwd=root,
        env={**_environment(), "PYTHONPATH": str(REPO)},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return root, json.loads(done.stdout.splitlines()[-1])


def _environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_every_module_of_localsage_and_ml_imports_with_run_txt_alone(narrowed_run):
    _, report = narrowed_run
    modules = set(report["modules"])
    assert {"localsage.commands.local_run", "localsage.controlplane.server", "localsage.bench.peers"} <= modules
    assert {"ml.pipeline", "ml.scripts.train"} <= modules
    expected = {module.stem for module in (REPO / "localsage" / "runner" / "steps").glob("*.py")} - {"__init__"}
    assert {f"localsage.runner.steps.{name}" for name in expected} <= modules


def test_only_the_peer_programs_import_the_bench_peers():
    importing = {
        ".".join(path.relative_to(REPO).with_suffix("").parts)
        for path in (REPO / "localsage").rglob("*.py")
        if any(line.startswith(("from kfp", "import kfp", "from metaflow", "import metaflow"))
               for line in path.read_text(encoding="utf-8").splitlines())
    }  # fmt: skip
    assert importing == set(PEER_PROGRAMS)


def test_the_dropped_and_development_packages_are_not_there(narrowed_run):
    _, report = narrowed_run
    assert report["present"] == []


def test_both_definitions_are_byte_identical_to_the_full_environments(narrowed_run):
    root, report = narrowed_run
    target = targets.local(root, say=lambda message: None)
    for variant in VARIANTS:
        full = build.build(target, variant).definition
        assert report["definitions"][variant] == full, f"{variant}: the narrowed environment built another definition"
