""".devcontainer/devcontainer.json, docker/compose.yaml and docker/devcontainer.Dockerfile read together.

devcontainer.json is read by the devcontainers CLI (pinned in package-lock.json), as VS Code and Codespaces
read it; without a Docker engine nothing is built (`--docker-path /bin/true`): every file named must exist.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from devops_support import REPO, dockerfile_instructions

from localsage.facts import config as project_config

DEVCONTAINER = REPO / ".devcontainer" / "devcontainer.json"
DEVCONTAINER_CLI = REPO / "node_modules" / ".bin" / "devcontainer"


@pytest.fixture(scope="module")
def devcontainer() -> dict:
    """The configuration as the devcontainers CLI reads it (comments, trailing commas and all)."""
    read = subprocess.run(
        [str(DEVCONTAINER_CLI), "read-configuration", "--workspace-folder", str(REPO), "--docker-path", "/bin/true"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert read.returncode == 0, f"devcontainer read-configuration failed: {read.stderr.strip()[-500:]}"
    configuration = json.loads(read.stdout)["configuration"]
    assert configuration["configFilePath"]["path"] == str(DEVCONTAINER)
    return configuration


@pytest.fixture(scope="module")
def compose_file(devcontainer) -> Path:
    return (DEVCONTAINER.parent / devcontainer["dockerComposeFile"]).resolve()


@pytest.fixture(scope="module")
def compose(compose_file) -> dict:
    return yaml.safe_load(compose_file.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dev_service(devcontainer, compose) -> dict:
    return compose["services"][devcontainer["service"]]


def test_the_configuration_names_existing_files(devcontainer, compose_file, dev_service):
    assert compose_file.is_file() and compose_file.is_relative_to(REPO)
    context = (compose_file.parent / dev_service["build"]["context"]).resolve()
    assert context == REPO, "the image is built from the repository root (it copies the lock files)"
    dockerfile = context / dev_service["build"]["dockerfile"]
    assert dockerfile == REPO / "docker" / "devcontainer.Dockerfile" and dockerfile.is_file()
    program = shlex.split(devcontainer["postCreateCommand"])[0]
    assert (REPO / program).is_file(), f"postCreateCommand runs {program}, which does not exist"


def test_the_workspace_is_the_repository_with_the_containers_own_venv(devcontainer, compose_file, dev_service):
    mounts = dict(volume.split(":")[:2][::-1] for volume in dev_service["volumes"])
    workspace = devcontainer["workspaceFolder"]
    assert (compose_file.parent / mounts[workspace]).resolve() == REPO
    assert {f"{workspace}/.venv", f"{workspace}/node_modules"} <= set(mounts)
    assert devcontainer["customizations"]["vscode"]["settings"]["python.defaultInterpreterPath"] == (
        f"{workspace}/.venv/bin/python"
    )


def test_the_set_up_copied_into_the_image_is_what_the_wrapper_reads():
    dockerfile = REPO / "docker" / "devcontainer.Dockerfile"
    copied = {
        word
        for instruction in dockerfile_instructions(dockerfile)
        if instruction.keyword == "COPY" and "--from" not in instruction.arguments
        for word in shlex.split(instruction.arguments)[:-1]
        if not word.startswith("--")
    }
    wrapper = (REPO / "dev").read_text(encoding="utf-8")
    hashed = {"requirements/uv.txt", "requirements/run.txt", "requirements/develop.txt", "pyproject.toml"}
    assert all(name.removeprefix("requirements/") in wrapper for name in hashed), "the wrapper's stamps hash these"
    assert "package-lock.json" in wrapper
    assert copied == {"dev", "pyproject.toml", "requirements/", "package.json", "package-lock.json"}
    assert all((REPO / name).exists() for name in copied)
    runs = " ".join(i.arguments for i in dockerfile_instructions(dockerfile) if i.keyword == "RUN")
    assert "./dev " in runs, "the pinned packages are installed through the wrapper"


def test_it_forwards_the_emulator_port_and_recommends_the_editor_extensions(devcontainer):
    assert project_config.load(REPO).emulator.port in devcontainer["forwardPorts"]
    extensions = devcontainer["customizations"]["vscode"]["extensions"]
    assert {"ms-python.python", "charliermarsh.ruff", "ms-toolsai.jupyter"} <= set(extensions)


def test_a_docker_engine_is_offered_but_off_by_default(compose, compose_file):
    socket = "/var/run/docker.sock:/var/run/docker.sock"
    assert socket not in compose["services"]["dev"]["volumes"]
    lines = compose_file.read_text(encoding="utf-8").splitlines()
    (commented,) = [line for line in lines if socket in line]
    enabled = "\n".join(line.replace("# ", "", 1) if line == commented else line for line in lines)
    assert socket in yaml.safe_load(enabled)["services"]["dev"]["volumes"]


def test_localstack_is_optional_loopback_only_and_takes_the_token_from_the_environment(compose, dev_service):
    localstack = compose["services"]["localstack"]
    assert localstack["profiles"] == ["localstack"], "LocalStack starts only with --profile localstack"
    assert localstack["network_mode"] == "service:dev" and "ports" not in localstack
    assert localstack["environment"]["GATEWAY_LISTEN"].startswith("127.0.0.1:")
    for service in (localstack, dev_service):
        assert service["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"
    default_port = project_config.ProjectConfig().emulator.localstack_endpoint.rsplit(":", 1)[1]
    assert localstack["environment"]["GATEWAY_LISTEN"].endswith(f":{default_port}")
    assert [name for name, service in compose["services"].items() if "profiles" not in service] == ["dev"]
