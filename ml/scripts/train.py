"""Train step: fit a scikit-learn GradientBoostingRegressor on the train split, write `model.joblib`.

SageMaker ModelTrainer (SDK v3, script mode) runs this through its `sm_train.sh` driver, which turns every
hyperparameter into a command-line pair `--<name> <value>` and also exports them as JSON in `SM_HPS`; both
are honoured (the command line wins). Paths come from `SM_CHANNEL_TRAIN`, `SM_CHANNEL_VALIDATION`,
`SM_MODEL_DIR` and `SM_OUTPUT_DATA_DIR`, with the /opt/ml defaults the driver uses.
Beside the model, `training.json` records the row counts, features and hyperparameters (it travels inside
model.tar.gz, so the Evaluate step can report `train_rows`), and `code/inference.py` the serving handlers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from pathlib import Path

import joblib
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import mean_squared_error

TARGET = "rings"
MODEL_FILE = "model.joblib"
TRAINING_RECORD_FILE = "training.json"
# The serving handlers travel inside the model artefact (model.tar.gz/code/), where SageMaker's
# SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code finds them.
INFERENCE_SCRIPT = Path(__file__).with_name("inference.py")
HYPERPARAMETER_TYPES = {
    "n_estimators": int,
    "max_depth": int,
    "learning_rate": float,
    "subsample": float,
    "min_samples_leaf": int,
    "random_state": int,
}
DEFAULT_HYPERPARAMETERS = {
    "n_estimators": 300,
    "max_depth": 3,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "min_samples_leaf": 5,
    "random_state": 42,
}


def read_split(folder: Path | str, name: str) -> pd.DataFrame:
    """The one CSV of a channel folder (or the file itself); the target column must be present."""
    path = Path(folder)
    files = [path] if path.is_file() else sorted(path.glob("*.csv"))
    if len(files) != 1:
        raise SystemExit(f"train: expected one CSV in the {name} channel {path}, found {len(files)}")
    frame = pd.read_csv(files[0])
    if TARGET not in frame.columns or len(frame) == 0:
        raise SystemExit(f"train: {files[0]} needs a header with '{TARGET}' and at least one row: run preprocess first")
    return frame


def check_hyperparameters(values: dict) -> dict:
    """Known names only, converted to their types, each one positive."""
    unknown = sorted(set(values) - set(HYPERPARAMETER_TYPES))
    if unknown:
        raise SystemExit(f"train: unknown hyperparameter {unknown[0]}: use {', '.join(HYPERPARAMETER_TYPES)}")
    checked = dict(DEFAULT_HYPERPARAMETERS)
    for name, value in values.items():
        try:
            checked[name] = HYPERPARAMETER_TYPES[name](value)
        except (TypeError, ValueError):
            kind = "an integer" if HYPERPARAMETER_TYPES[name] is int else "a number"
            raise SystemExit(f"train: hyperparameter {name}={value!r} is not {kind}") from None
        if name != "random_state" and checked[name] <= 0:
            raise SystemExit(f"train: hyperparameter {name}={value!r} must be positive")
    if checked["subsample"] > 1:
        raise SystemExit(f"train: hyperparameter subsample={checked['subsample']} must be at most 1")
    return checked


def run(train_dir: Path | str, model_dir: Path | str, validation_dir: Path | str | None = None, **hyperparameters):
    """Fit on `train_dir`, write `<model_dir>/model.joblib` and `training.json`; returns the training record."""
    settings = check_hyperparameters(hyperparameters)
    train = read_split(train_dir, "train")
    features = [column for column in train.columns if column != TARGET]
    model = GradientBoostingRegressor(**settings).fit(train[features], train[TARGET])
    record = {"target": TARGET, "features": features, "train_rows": len(train), "hyperparameters": settings}
    if validation_dir is not None and Path(validation_dir).exists():
        validation = read_split(validation_dir, "validation")
        predictions = model.predict(validation[features])
        record["validation_rows"] = len(validation)
        record["validation_rmse"] = math.sqrt(mean_squared_error(validation[TARGET], predictions))
    folder = Path(model_dir)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / MODEL_FILE)
    (folder / TRAINING_RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (folder / "code").mkdir(exist_ok=True)
    shutil.copyfile(INFERENCE_SCRIPT, folder / "code" / INFERENCE_SCRIPT.name)
    return record


def hyperparameters_from_environment() -> dict:
    """The SM_HPS JSON the v3 driver exports (values may be JSON-encoded strings)."""
    raw = os.environ.get("SM_HPS")
    if not raw:
        return {}
    try:
        return {name: value for name, value in json.loads(raw).items() if name in HYPERPARAMETER_TYPES}
    except (ValueError, AttributeError):
        raise SystemExit("train: SM_HPS is not a JSON object of hyperparameters") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument(
        "--validation", default=os.environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")
    )
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--output-data-dir", default=os.environ.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"))
    for name in HYPERPARAMETER_TYPES:
        parser.add_argument(f"--{name}", f"--{name.replace('_', '-')}", dest=name, default=None)
    args = parser.parse_args(argv)
    hyperparameters = hyperparameters_from_environment()
    hyperparameters.update({name: getattr(args, name) for name in HYPERPARAMETER_TYPES if getattr(args, name)})
    record = run(args.train, args.model_dir, args.validation, **hyperparameters)
    output = Path(args.output_data_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "training_metrics.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if "validation_rmse" in record:
        print(f"validation:rmse={record['validation_rmse']:.6f}", file=sys.stderr)
    print(f"train: {record['train_rows']} rows, model in {Path(args.model_dir) / MODEL_FILE}", file=sys.stderr)


if __name__ == "__main__":
    main()
