"""The hash-locked requirement files `./dev lock` writes and `./dev` installs (the wrapper names them too).

uv resolves pyproject.toml once for every platform the README promises; each file is one export of that
resolution. uv.lock itself stays out of the repository: it records every download address, and the project
commits none (an index's address is the user's setting, not the project's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

REQUIREMENTS_DIR = Path("requirements")
# The file ./dev installs uv from (with pip, once) before uv installs everything else.
UV_BOOTSTRAP = REQUIREMENTS_DIR / "uv.txt"
UV_PACKAGE = "uv"
# What the step image installs (docker/Dockerfile): written by the data scientist, held to the lock by a test.
STEP_REQUIREMENTS = Path("ml") / "requirements.txt"


@dataclass(frozen=True)
class LockedSet:
    name: str
    purpose: str
    export_arguments: tuple[str, ...]

    @property
    def file(self) -> Path:
        return REQUIREMENTS_DIR / f"{self.name}.txt"


RUN = LockedSet("run", "local-run, the KPI checks and the emulator: pyproject's dependencies", ("--no-default-groups",))
DEVELOP = LockedSet(
    "develop", "everything: run.txt plus the CDK app (infra) and tests and lint (dev)", ("--all-groups",)
)
LOCKED_SETS = (RUN, DEVELOP)


def pinned_versions(text: str) -> dict[str, str]:
    """Package name (normalised) -> version, from a requirements file of `name==version` lines."""
    pins = {}
    for line in text.splitlines():
        requirement = line.split(";")[0].split("\\")[0].strip()
        if requirement and not requirement.startswith(("#", "-")) and "==" in requirement:
            name, version = requirement.split("==", 1)
            pins[canonicalize_name(name)] = version.strip()
    return pins


def requirement_block(text: str, name: str) -> str:
    """The lines of one package's requirement (its pin, its markers and hashes) in an exported file."""
    block: list[str] = []
    for line in text.splitlines():
        starts_a_requirement = bool(line) and not line[0].isspace() and not line.startswith("#")
        if starts_a_requirement:
            if block:
                break
            if canonicalize_name(line.split("==")[0]) == canonicalize_name(name):
                block.append(line)
        elif block and line.lstrip().startswith("--hash"):
            block.append(line)
    if not block:
        raise KeyError(name)
    return "\n".join(block) + "\n"
