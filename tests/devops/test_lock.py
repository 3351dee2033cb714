"""The lock: requirements/*.txt are uv's export of pyproject.toml, hash-locked, for every promised platform.

`./dev lint` runs `./dev lock --check` (a fresh resolution compared with the files); here it is shown to fail
on a stale file, and the files are checked for what they must and must not hold.
"""

from __future__ import annotations

import shutil
import tomllib
from importlib.metadata import version

import pytest
from devops_support import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import tasks
from localsage.commands import lock
from localsage.errors import UserError
from localsage.facts import dependencies

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROMISED_PLATFORMS = {
    "sys_platform == 'linux' and platform_machine == 'x86_64'",
    "sys_platform == 'linux' and platform_machine == 'aarch64'",
    "sys_platform == 'darwin' and platform_machine == 'arm64'",
}


def locked(locked_set: dependencies.LockedSet) -> dict[str, str]:
    return dependencies.pinned_versions((REPO / locked_set.file).read_text(encoding="utf-8"))


def group(name: str) -> set[str]:
    return {canonicalize_name(Requirement(entry).name) for entry in PYPROJECT["dependency-groups"][name]}


def requirement_blocks(text: str) -> list[str]:
    blocks, current = [], []
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            current = [line]
            blocks.append(current)
        elif current:
            current.append(line)
    return ["\n".join(block) for block in blocks]


@pytest.fixture
def stale_copy(tmp_path):
    for name in (*lock.PROJECT_METADATA, dependencies.REQUIREMENTS_DIR.as_posix()):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace('"tomli-w==1.2.0",\n', ""), encoding="utf-8")
    return tmp_path


def test_the_check_fails_on_a_lock_that_no_longer_matches_pyproject(stale_copy):
    with pytest.raises(UserError) as raised:
        lock.lock(stale_copy, check=True, say=lambda message: None)
    assert "requirements/run.txt, requirements/develop.txt no longer match pyproject.toml" in str(raised.value)
    assert "run ./dev lock" in str(raised.value)


def test_locking_writes_what_the_check_then_accepts(stale_copy):
    said = lock.lock(stale_copy, say=lambda message: None)
    assert said.startswith("lock: wrote requirements/run.txt, requirements/develop.txt (")
    assert "tomli-w" not in locked_in(stale_copy)
    assert lock.lock(stale_copy, check=True, say=lambda message: None) == "lock: requirements/ matches pyproject.toml"


def locked_in(root) -> dict[str, str]:
    return dependencies.pinned_versions((root / dependencies.RUN.file).read_text(encoding="utf-8"))


@pytest.mark.parametrize("locked_set", [*dependencies.LOCKED_SETS], ids=lambda locked_set: locked_set.name)
def test_every_package_is_pinned_with_hashes_and_no_address(locked_set):
    text = (REPO / locked_set.file).read_text(encoding="utf-8")
    blocks = requirement_blocks(text)
    assert len(blocks) == len(locked(locked_set)) > 50
    assert all("--hash=sha256:" in block for block in blocks), "every requirement carries its hashes"
    assert "://" not in text, "no index or download address in the lock: the index is the user's setting"


def test_the_lock_covers_exactly_the_promised_platforms():
    settings = PYPROJECT["tool"]["uv"]
    assert set(settings["environments"]) == set(settings["required-environments"]) == PROMISED_PLATFORMS
    wrapper = (REPO / "dev").read_text(encoding="utf-8")
    assert '"Linux x86_64" | "Linux aarch64" | "Darwin arm64"' in wrapper, "./dev refuses the other platforms"


def test_the_run_set_holds_no_development_or_infrastructure_package():
    run = set(locked(dependencies.RUN))
    assert not (group("dev") | group("infra")) & run - {"cfn-lint"}, "cfn-lint stays: moto[server] needs it"
    assert (group("dev") | group("infra")) <= set(locked(dependencies.DEVELOP))
    assert run <= set(locked(dependencies.DEVELOP))


def test_each_dropped_package_has_a_reason_and_is_in_no_file():
    lines = (REPO / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    overrides = PYPROJECT["tool"]["uv"]["override-dependencies"]
    assert overrides
    for override in overrides:
        requirement = Requirement(override)
        assert str(requirement.marker) == 'sys_platform == "never"', f"{override}: drop it with a marker never true"
        position = next(index for index, line in enumerate(lines) if line.strip().startswith(f'"{override}"'))
        assert lines[position - 1].strip().startswith("# "), f"{override}: say why above it in pyproject.toml"
        for locked_set in dependencies.LOCKED_SETS:
            assert canonicalize_name(requirement.name) not in locked(locked_set)


def test_uv_is_bootstrapped_at_the_version_the_lock_pins():
    bootstrap = dependencies.pinned_versions((REPO / dependencies.UV_BOOTSTRAP).read_text(encoding="utf-8"))
    assert bootstrap == {"uv": locked(dependencies.RUN)["uv"]}
    assert version("uv") == bootstrap["uv"], "./dev installed another uv than requirements/uv.txt pins"


def test_the_wrappers_run_only_tasks_are_tasks():
    wrapper = (REPO / "dev").read_text(encoding="utf-8")
    listed = wrapper.split('case "${1:-}" in', 1)[1].split(") wanted=run", 1)[0]
    names = {name.strip() for name in listed.replace("\\", " ").split("|")}
    known = set(tasks.namespace.task_names) | {f"{name}.*" for name in tasks.namespace.collections}
    assert names and names <= known, f"./dev lists tasks that do not exist: {sorted(names - known)}"
