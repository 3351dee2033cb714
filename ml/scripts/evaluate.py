"""Evaluate step: score the trained model on the test split; write evaluation.json and one KPI CSV row.

`evaluation.json` has the shape SageMaker ModelMetrics expects
(`{"regression_metrics": {"mse": {"value": ..}, "rmse": ..., "mae": ..., "r2": ...}}`). The KPI row goes to
`<kpi-dir>/dt=<yyyy-MM-dd>/<execution-id>.csv`; its header and column order come from the KPI schema file
given as an input (never from this script), so the one schema serves the Glue table and every reader.
Defaults are the SageMaker Processing paths under /opt/ml/processing.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import joblib
import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

PROCESSING_ROOT = Path("/opt/ml/processing")
MODEL_FILE = "model.joblib"
TRAINING_RECORD_FILE = "training.json"
SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def load_model(model_path: Path | str):
    """The model and its training record from model.tar.gz (what SageMaker delivers), a folder, or model.joblib."""
    path = Path(model_path)
    if path.is_dir():
        tarball = path / "model.tar.gz"
        return load_model(tarball) if tarball.exists() else _load_from_folder(path)
    if path.name.endswith(".tar.gz"):
        if not path.exists():
            raise SystemExit(f"evaluate: model archive {path} is missing: pass --model or run the Train step first")
        with tempfile.TemporaryDirectory() as folder, tarfile.open(path) as archive:
            archive.extractall(folder, filter="data")
            return _load_from_folder(Path(folder))
    return _load_from_folder(path.parent)


def _load_from_folder(folder: Path):
    if not (folder / MODEL_FILE).exists():
        raise SystemExit(f"evaluate: {folder / MODEL_FILE} is missing: pass --model or run the Train step first")
    record_path = folder / TRAINING_RECORD_FILE
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.exists() else {}
    return joblib.load(folder / MODEL_FILE), record


def read_test_split(test_dir: Path | str, target: str) -> pd.DataFrame:
    path = Path(test_dir)
    files = [path] if path.is_file() else sorted(path.glob("*.csv"))
    if len(files) != 1:
        raise SystemExit(f"evaluate: expected one CSV in {path}, found {len(files)}: pass --test-dir")
    frame = pd.read_csv(files[0])
    if target not in frame.columns or len(frame) == 0:
        raise SystemExit(f"evaluate: {files[0]} needs a header with '{target}' and at least one row")
    return frame


def regression_metrics(actual, predicted) -> dict[str, float]:
    mse = float(mean_squared_error(actual, predicted))
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(mean_absolute_error(actual, predicted)),
        "r2": float(r2_score(actual, predicted)),
    }


def kpi_columns(schema_path: Path | str) -> list[str]:
    """The CSV header, in order, from the KPI schema file (partition keys are folders, not columns)."""
    path = Path(schema_path)
    try:
        return [column["name"] for column in json.loads(path.read_text(encoding="utf-8"))["columns"]]
    except FileNotFoundError:
        raise SystemExit(f"evaluate: KPI schema {path} is missing: pass --kpi-schema") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"evaluate: KPI schema {path} is not valid ({exc!r})") from None


def write_kpi_row(kpi_dir: Path | str, schema_path: Path | str, values: dict[str, object], run_ts: datetime) -> Path:
    """One CSV (header + one row) at `<kpi_dir>/dt=<yyyy-MM-dd>/<execution_id>.csv`, columns in schema order."""
    columns = kpi_columns(schema_path)
    unknown = [column for column in columns if column not in values]
    if unknown:
        raise SystemExit(f"evaluate: KPI schema {schema_path} has column {unknown[0]} that this step cannot fill")
    execution_id = str(values["execution_id"])
    if not SAFE_FILE_NAME.match(execution_id):
        raise SystemExit(f"evaluate: --execution-id {execution_id!r} must be letters, digits, '.', '_' or '-'")
    path = Path(kpi_dir) / f"dt={run_ts:%Y-%m-%d}" / f"{execution_id}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerow(["" if values[column] is None else values[column] for column in columns])
    return path


def run(
    model_path: Path | str,
    test_dir: Path | str,
    evaluation_dir: Path | str,
    kpi_dir: Path | str,
    kpi_schema: Path | str,
    *,
    execution_id: str,
    pipeline_name: str,
    variant: str,
    threshold: float,
    run_ts: datetime | None = None,
) -> dict[str, float]:
    """Score the model, write `<evaluation_dir>/evaluation.json` and the KPI row; returns the metrics."""
    model, record = load_model(model_path)
    target = record.get("target", "rings")
    test = read_test_split(test_dir, target)
    features = record.get("features") or [column for column in test.columns if column != target]
    missing = [column for column in features if column not in test.columns]
    if missing:
        raise SystemExit(f"evaluate: the test split lacks feature(s) {', '.join(missing)} the model was trained on")
    metrics = regression_metrics(test[target], model.predict(test[features]))
    folder = Path(evaluation_dir)
    folder.mkdir(parents=True, exist_ok=True)
    report = {"regression_metrics": {name: {"value": value} for name, value in metrics.items()}}
    (folder / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    moment = (run_ts or datetime.now(UTC)).astimezone(UTC)
    row = {
        "execution_id": execution_id,
        "pipeline_name": pipeline_name,
        "variant": variant,
        "run_ts": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "model_package_arn": "",
        **metrics,
        "train_rows": record.get("train_rows"),
        "test_rows": len(test),
        "threshold": float(threshold),
    }
    write_kpi_row(kpi_dir, kpi_schema, row, moment)
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=PROCESSING_ROOT / "model" / "model.tar.gz", type=Path)
    parser.add_argument("--test-dir", default=PROCESSING_ROOT / "test", type=Path)
    parser.add_argument("--evaluation-dir", default=PROCESSING_ROOT / "evaluation", type=Path)
    parser.add_argument("--kpi-dir", default=PROCESSING_ROOT / "kpi", type=Path)
    parser.add_argument("--kpi-schema", default=PROCESSING_ROOT / "kpi-schema" / "model_kpis.json", type=Path)
    parser.add_argument("--execution-id", required=True)
    parser.add_argument("--pipeline-name", required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--threshold", required=True, type=float)
    args = parser.parse_args(argv)
    metrics = run(
        args.model,
        args.test_dir,
        args.evaluation_dir,
        args.kpi_dir,
        args.kpi_schema,
        execution_id=args.execution_id,
        pipeline_name=args.pipeline_name,
        variant=args.variant,
        threshold=args.threshold,
    )
    print("evaluate: " + ", ".join(f"{name}={value:.4f}" for name, value in metrics.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
