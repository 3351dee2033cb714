"""Where things are in a project: the data scientist's `ml/` folder and the files a definition depends on."""

from __future__ import annotations

from pathlib import Path

from localsage.errors import UserError
from localsage.facts.config import CONFIG_FILE
from localsage.facts.dependencies import RUN
from localsage.facts.kpi_schema import SCHEMA_FILE

ML_DIR = Path("ml")
PIPELINE_FILE = ML_DIR / "pipeline.py"
SCRIPTS_DIR = ML_DIR / "scripts"
DATA_DIR = ML_DIR / "data"
# Not definition inputs: the sample data is uploaded apart, notebooks only use the pipeline, prose is prose.
NOT_BUILD_INPUTS = ("data", "notebooks")
NOT_BUILD_INPUT_SUFFIXES = (".md", ".ipynb")
# Never uploaded and never hashed (the SDK's own ignore list for SourceCode, and compiled files).
IGNORED_NAMES = frozenset({"__pycache__", ".DS_Store", ".ipynb_checkpoints", ".cache", ".git", ".env"})
IGNORED_SUFFIXES = frozenset({".pyc", ".pyo"})
# The lock file that pins the SDK version, which shapes the definition.
LOCK_FILE = RUN.file
SAMPLE_DATA_PREFIX = "data"


def is_ignored(relative: Path) -> bool:
    return bool(IGNORED_NAMES.intersection(relative.parts)) or relative.suffix in IGNORED_SUFFIXES


def files_under(folder: Path) -> list[Path]:
    """Every file below `folder` that an upload or a hash covers, sorted."""
    return sorted(path for path in folder.rglob("*") if path.is_file() and not is_ignored(path.relative_to(folder)))


def definition_inputs(root: Path) -> list[Path]:
    """Every project file a pipeline definition depends on: ml/ (but its data and notebooks), project.toml,
    the KPI schema and the lock file. Change none of them and a rebuild gives the same JSON."""
    ml = root / ML_DIR
    code = [
        path
        for path in files_under(ml)
        if path.relative_to(ml).parts[0] not in NOT_BUILD_INPUTS and path.suffix not in NOT_BUILD_INPUT_SUFFIXES
    ]
    locks = [root / LOCK_FILE] if (root / LOCK_FILE).is_file() else []
    return sorted([*code, root / CONFIG_FILE, root / SCHEMA_FILE, *locks])


def sample_data_file(root: Path) -> Path:
    """The sample data set: the one CSV file in ml/data/."""
    found = sorted((root / DATA_DIR).glob("*.csv"))
    if len(found) != 1:
        listed = ", ".join(path.name for path in found) or "none"
        raise UserError(
            f"{DATA_DIR}/ must hold exactly one sample data CSV (the InputData default), found {listed}: "
            "keep one, or pass --param InputData=s3://..."
        )
    return found[0]


def sample_data_key(root: Path) -> str:
    """Where the sample data lives in the artefact bucket (the pipeline's InputData default)."""
    return f"{SAMPLE_DATA_PREFIX}/{sample_data_file(root).name}"
