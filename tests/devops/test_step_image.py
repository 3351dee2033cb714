"""docker/Dockerfile (the step image) and ml/requirements.txt, the one list of what the steps need.

No Docker engine here: the image is checked as text. What it installs is checked against this environment,
so the process backend runs the steps with the same packages the image (and SageMaker) runs them with.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import re
import shlex
import sys
import tomllib

import pytest
from devops_support import REPO, Instruction, dockerfile_instructions
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from localsage.facts import dependencies

DOCKERFILE = REPO / "docker" / "Dockerfile"
DOCKERIGNORE = REPO / "docker" / "Dockerfile.dockerignore"
STEP_REQUIREMENTS = REPO / "ml" / "requirements.txt"
SLIM_PYTHON = re.compile(r"^python:(?P<version>\d+\.\d+\.\d+)-slim(-[a-z]+)?$")


def step_requirements() -> list[Requirement]:
    lines = STEP_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in (line.strip() for line in lines) if line and not line.startswith("#")]


def imported_distributions() -> set[str]:
    """The distributions that provide what the step scripts import (the standard library aside)."""
    modules = set()
    for script in (REPO / "ml" / "scripts").glob("*.py"):
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - {"__future__", "ml"}
    providers = importlib.metadata.packages_distributions()
    missing = sorted(name for name in third_party if name not in providers)
    assert not missing, f"the step scripts import {missing}, which no installed package provides"
    return {canonicalize_name(distribution) for name in third_party for distribution in providers[name]}


def instructions(keyword: str) -> list[Instruction]:
    return [instruction for instruction in dockerfile_instructions(DOCKERFILE) if instruction.keyword == keyword]


def copies() -> dict[str, str]:
    """COPY source -> destination (single-source COPYs, which is all the step image uses)."""
    found = {}
    for instruction in instructions("COPY"):
        source, destination = [word for word in shlex.split(instruction.arguments) if not word.startswith("--")]
        found[source] = destination
    return found


@pytest.mark.parametrize("requirement", step_requirements(), ids=str)
def test_this_environment_satisfies_the_step_requirements(requirement):
    try:
        installed = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"ml/requirements.txt needs {requirement}, which is not installed: run ./dev")
    assert requirement.specifier.contains(installed, prereleases=True), f"{requirement}: installed {installed}"


def test_every_package_the_steps_import_is_in_the_image_and_the_lock_at_one_version():
    imported = imported_distributions()
    assert {"pandas", "numpy", "scikit-learn", "joblib"} <= imported
    image = {canonicalize_name(requirement.name): requirement.specifier for requirement in step_requirements()}
    lock = dependencies.pinned_versions((REPO / dependencies.RUN.file).read_text(encoding="utf-8"))
    assert imported <= image.keys(), f"add to ml/requirements.txt: {sorted(imported - image.keys())}"
    for name, specifier in image.items():
        assert name in lock, f"ml/requirements.txt has {name}, which the lock (requirements/run.txt) does not"
        assert specifier == SpecifierSet(f"=={lock[name]}"), (
            f"{name}: the image pins {specifier}, the lock {lock[name]}"
        )


def test_step_requirements_are_exact_pins_so_the_image_is_reproducible():
    loose = [str(requirement) for requirement in step_requirements() if not str(requirement.specifier).startswith("==")]
    assert not loose, f"pin these with ==: {loose}"


def test_the_base_is_one_slim_python_pinned_to_a_patch_version_the_project_supports():
    (base,) = instructions("FROM")
    match = SLIM_PYTHON.match(base.arguments)
    assert match, f"FROM {base.arguments}: use python:<x.y.z>-slim[-<debian>]"
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert Version(match["version"]) in SpecifierSet(project["requires-python"])


def test_it_installs_exactly_ml_requirements_txt():
    destination = copies()["ml/requirements.txt"]
    installs = [run.arguments for run in instructions("RUN") if "pip install" in run.arguments]
    assert len(installs) == 1, installs
    words = shlex.split(installs[0].split("&&")[0])
    assert words[:2] == ["pip", "install"]
    assert "--no-deps" in words, "without --no-deps pip may add packages the list does not name"
    options = [word for word in words[2:] if word != "--no-deps"]
    assert options in (["--requirement", destination], ["-r", destination])


def test_it_carries_the_step_scripts():
    assert "ml/scripts/" in copies()


def test_it_keeps_the_root_user_sagemaker_jobs_need():
    assert all(user.arguments in ("root", "0") for user in instructions("USER"))


def test_every_copied_path_exists_and_is_in_the_build_context():
    patterns = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()]
    included = [pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")]
    # CDK stages the context itself and lets only a root-level Dockerfile through on its own.
    assert DOCKERFILE.relative_to(REPO).as_posix() in included
    for source in copies():
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
        assert any(fnmatch.fnmatch(source.rstrip("/"), pattern) for pattern in included), (
            f"COPY {source}: excluded from the build context by {DOCKERIGNORE.name}"
        )


def test_its_serve_is_the_model_server_the_local_runner_starts():
    """SageMaker runs `IMAGE serve` for batch transform and endpoints: the image's `serve` is the same file."""
    assert copies()["localsage/serving/model_server.py"] == "/usr/local/bin/serve"
    (serve,) = [copy for copy in instructions("COPY") if "/usr/local/bin/serve" in copy.arguments]
    assert "--chmod=755" in serve.arguments.split(), "SageMaker runs `serve` as a command: it must be executable"
