"""Preprocess step: clean the Abalone CSV, one-hot encode `sex`, split into train / validation / test.

Run as `python preprocess.py [--input PATH] [--output-dir DIR] [--seed N]` (SageMaker Processing defaults:
input /opt/ml/processing/input, outputs /opt/ml/processing/{train,validation,test,batch}). Every split CSV has a
header and the target column `rings` first, then the features in a fixed order; `batch/batch.csv` is the test
split without its header, as batch transform reads records.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

TARGET = "rings"
NUMERIC_FEATURES = [
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
]
SEX_CATEGORIES = ["F", "I", "M"]
REQUIRED_COLUMNS = ["sex", *NUMERIC_FEATURES, TARGET]
SPLITS = ("train", "validation", "test")
BATCH = "batch"
PROCESSING_ROOT = Path("/opt/ml/processing")


def find_input_csv(input_path: Path) -> Path:
    """The CSV to read: `input_path` itself, or the single *.csv inside it (how Processing delivers an S3 object)."""
    if input_path.is_file():
        return input_path
    candidates = sorted(input_path.glob("*.csv")) if input_path.is_dir() else []
    if len(candidates) != 1:
        raise SystemExit(f"preprocess: expected one CSV at {input_path}, found {len(candidates)}: pass --input FILE")
    return candidates[0]


def clean(raw: pd.DataFrame, source: Path) -> pd.DataFrame:
    """Drop incomplete and impossible rows (height 0), one-hot encode `sex`; target first."""
    missing = [column for column in REQUIRED_COLUMNS if column not in raw.columns]
    if missing:
        raise SystemExit(f"preprocess: {source} lacks column(s) {', '.join(missing)}: expected {REQUIRED_COLUMNS}")
    frame = raw[REQUIRED_COLUMNS].dropna()
    unknown_sex = sorted(set(frame["sex"]) - set(SEX_CATEGORIES))
    if unknown_sex:
        raise SystemExit(f"preprocess: {source} column sex has value(s) {unknown_sex}: use one of {SEX_CATEGORIES}")
    frame = frame[frame["height"] > 0]
    encoded = pd.DataFrame({TARGET: frame[TARGET].astype(int)})
    for column in NUMERIC_FEATURES:
        encoded[column] = frame[column].astype(float)
    for category in SEX_CATEGORIES:
        encoded[f"sex_{category}"] = (frame["sex"] == category).astype(int)
    return encoded.reset_index(drop=True)


def split(frame: pd.DataFrame, seed: int, validation_fraction: float, test_fraction: float) -> dict[str, pd.DataFrame]:
    """A shuffled split with a fixed seed: the same input always gives the same three files."""
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise SystemExit("preprocess: --validation-fraction and --test-fraction must be in (0, 1) with a sum below 1")
    order = np.random.default_rng(seed).permutation(len(frame))
    test_rows = round(len(frame) * test_fraction)
    validation_rows = round(len(frame) * validation_fraction)
    if min(test_rows, validation_rows, len(frame) - test_rows - validation_rows) < 1:
        raise SystemExit(f"preprocess: {len(frame)} clean rows are too few to split into train, validation and test")
    return {
        "test": frame.iloc[order[:test_rows]],
        "validation": frame.iloc[order[test_rows : test_rows + validation_rows]],
        "train": frame.iloc[order[test_rows + validation_rows :]],
    }


def run(
    input_path: Path | str,
    output_dir: Path | str,
    seed: int = 42,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> dict[str, int]:
    """Write `<output_dir>/{train,validation,test}/<split>.csv` and `batch/batch.csv`; returns each split's rows."""
    source = find_input_csv(Path(input_path))
    try:
        raw = pd.read_csv(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SystemExit(f"preprocess: {source} is not a readable CSV ({exc}): check the InputData object") from None
    frame = clean(raw, source)
    parts = split(frame, seed, validation_fraction, test_fraction)
    for name in SPLITS:
        folder = Path(output_dir) / name
        folder.mkdir(parents=True, exist_ok=True)
        parts[name].to_csv(folder / f"{name}.csv", index=False)
    batch = Path(output_dir) / BATCH
    batch.mkdir(parents=True, exist_ok=True)
    parts["test"].to_csv(batch / f"{BATCH}.csv", index=False, header=False)
    return {name: len(parts[name]) for name in SPLITS}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=PROCESSING_ROOT / "input", help="CSV file or folder with one")
    parser.add_argument("--output-dir", type=Path, default=PROCESSING_ROOT, help="parent of train/ validation/ test/")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    args = parser.parse_args(argv)
    counts = run(args.input, args.output_dir, args.seed, args.validation_fraction, args.test_fraction)
    print("preprocess: " + ", ".join(f"{name}={rows} rows" for name, rows in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
