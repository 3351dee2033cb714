"""The peers' own virtualenv (.local/bench-venv), created and filled on demand by `./dev bench peers` only.

Why not the project's venv: kfp pins `requests` to an exact version other than the one the lock pins, so
installing it there would change a pinned package. The bench venv holds the peers pyproject.toml names
(`[tool.localsage] bench-peers`) plus ml/requirements.txt (the steps' packages, pinned like the lock), so the
peers run the step functions on the same library versions as the floor and local-run. uv installs them.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

from uv import find_uv_bin

from localsage.errors import UserError
from localsage.facts.config import local_dir

STEP_REQUIREMENTS = Path("ml") / "requirements.txt"
STAMP_FILE = ".localsage-bench-stamp"


def bench_peers(root: Path) -> list[str]:
    """The pinned peers, as pyproject.toml's `[tool.localsage] bench-peers` lists them."""
    settings = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("tool", {}).get("localsage", {})
    if not settings.get("bench-peers"):
        raise UserError("bench: pyproject.toml lists no peers: add metaflow and kfp to [tool.localsage] bench-peers")
    return settings["bench-peers"]


def requirements(root: Path) -> list[str]:
    """The peers, then the step scripts' pinned packages (ml/requirements.txt)."""
    lines = (root / STEP_REQUIREMENTS).read_text(encoding="utf-8").splitlines()
    return [*bench_peers(root), *(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))]


def peer_python(root: Path, say: Callable[[str], None] = print) -> Path:
    """The bench venv's interpreter, after installing the peers if the venv is missing or its pins changed."""
    venv = local_dir(root).resolve() / "bench-venv"
    python = venv / "bin" / "python"
    wanted = requirements(root)
    stamp = venv / STAMP_FILE
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8").splitlines() == wanted:
        return python
    say(f"bench: installing {', '.join(bench_peers(root))} into {venv} (first time: about half a minute)")
    uv = find_uv_bin()
    # --seed: KFP's default components run `python -m pip install kfp` in this venv before every step.
    created = [uv, "venv", "--quiet", "--clear", "--seed", "--python", sys.executable, str(venv)]
    _check(created, "creating the bench venv")
    _check([uv, "pip", "install", "--quiet", "--python", str(python), *wanted], "installing the peers")
    stamp.write_text("\n".join(wanted) + "\n", encoding="utf-8")
    return python


def _check(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise UserError(f"bench: {what} failed: {last}")
