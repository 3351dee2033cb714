"""The three step scripts, run as the pipeline runs them: separate processes, chained through folders."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import REPO

from localsage.facts.kpi_schema import load_for_project

SCRIPTS = REPO / "ml" / "scripts"
SAMPLE_ROWS = 200
EXECUTION_ID = "exec-0001"


def run_script(name: str, *args: str, env: dict[str, str] | None = None, check: bool = True):
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    if check and result.returncode != 0:
        pytest.fail(f"{name}.py failed ({result.returncode}): {result.stderr}")
    return result


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory) -> Path:
    """200 real rows plus one with a missing value and one with height 0 (both must be dropped)."""
    lines = (REPO / "ml" / "data" / "abalone.csv").read_text().splitlines()
    extra = ["M,0.5,0.4,,0.5,0.2,0.1,0.15,9", "I,0.2,0.15,0.0,0.05,0.02,0.01,0.02,4"]
    path = tmp_path_factory.mktemp("data") / "abalone.csv"
    path.write_text("\n".join(lines[: SAMPLE_ROWS + 1] + extra) + "\n")
    return path


@pytest.fixture(scope="module")
def chain(sample_csv, tmp_path_factory) -> Path:
    """preprocess -> train (SageMaker env variables, CLI hyperparameters) -> model.tar.gz -> evaluate."""
    work = tmp_path_factory.mktemp("chain")
    run_script("preprocess", "--input", str(sample_csv.parent), "--output-dir", str(work / "splits"))
    sagemaker_env = {
        "SM_CHANNEL_TRAIN": str(work / "splits" / "train"),
        "SM_CHANNEL_VALIDATION": str(work / "splits" / "validation"),
        "SM_MODEL_DIR": str(work / "model"),
        "SM_OUTPUT_DATA_DIR": str(work / "output"),
    }
    run_script("train", "--n_estimators", "40", "--max_depth", "2", env=sagemaker_env)
    with tarfile.open(work / "model.tar.gz", "w:gz") as archive:
        for item in (work / "model").iterdir():
            archive.add(item, arcname=item.name)
    run_script(
        "evaluate",
        *("--model", str(work / "model.tar.gz"), "--test-dir", str(work / "splits" / "test")),
        *("--evaluation-dir", str(work / "evaluation"), "--kpi-dir", str(work / "kpi")),
        *("--kpi-schema", str(REPO / "infra" / "kpi" / "model_kpis.json")),
        *("--execution-id", EXECUTION_ID, "--pipeline-name", "abalone-experimental"),
        *("--variant", "experimental", "--threshold", "3.5"),
    )
    return work


def test_preprocess_cleans_encodes_and_splits_70_15_15(chain):
    splits = {name: read_rows(chain / "splits" / name / f"{name}.csv") for name in ("train", "validation", "test")}
    assert {name: len(rows) for name, rows in splits.items()} == {"train": 140, "validation": 30, "test": 30}
    header = list(splits["train"][0])
    assert header[0] == "rings"
    assert {"sex_F", "sex_I", "sex_M"} <= set(header) and "sex" not in header
    assert all(float(row["height"]) > 0 for rows in splits.values() for row in rows)


def test_preprocess_is_reproducible_for_a_seed_and_differs_across_seeds(sample_csv, chain, tmp_path):
    from ml.scripts import preprocess

    preprocess.run(sample_csv, tmp_path / "same", seed=42)
    preprocess.run(sample_csv, tmp_path / "other", seed=7)
    original = (chain / "splits" / "test" / "test.csv").read_text()
    assert (tmp_path / "same" / "test" / "test.csv").read_text() == original
    assert (tmp_path / "other" / "test" / "test.csv").read_text() != original


def test_train_writes_model_and_record_from_sagemaker_paths(chain):
    assert (chain / "model" / "model.joblib").stat().st_size > 0
    record = json.loads((chain / "model" / "training.json").read_text())
    assert record["train_rows"] == 140 and record["validation_rows"] == 30
    assert record["hyperparameters"]["n_estimators"] == 40 and record["hyperparameters"]["max_depth"] == 2
    assert (chain / "output" / "training_metrics.json").is_file()


def test_evaluation_report_has_the_model_metrics_shape_and_consistent_values(chain):
    metrics = json.loads((chain / "evaluation" / "evaluation.json").read_text())["regression_metrics"]
    assert set(metrics) == {"mse", "rmse", "mae", "r2"}
    values = {name: metric["value"] for name, metric in metrics.items()}
    assert math.isclose(values["rmse"], math.sqrt(values["mse"]))
    assert 0 < values["mae"] <= values["rmse"] < 5
    assert 0 < values["r2"] <= 1


def test_kpi_row_follows_the_schema_file(chain):
    files = list((chain / "kpi").glob("dt=*/*.csv"))
    assert [path.name for path in files] == [f"{EXECUTION_ID}.csv"]
    datetime.strptime(files[0].parent.name.removeprefix("dt="), "%Y-%m-%d")
    with files[0].open(newline="") as handle:
        header, *rows = list(csv.reader(handle))
    assert header == load_for_project(REPO).column_names
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["execution_id"] == EXECUTION_ID and row["variant"] == "experimental"
    assert row["model_package_arn"] == ""
    assert (row["train_rows"], row["test_rows"], float(row["threshold"])) == ("140", "30", 3.5)
    assert row["run_ts"].endswith("Z") and row["run_ts"].startswith(files[0].parent.name.removeprefix("dt="))


def test_kpi_columns_come_from_the_schema_not_the_script(chain, tmp_path):
    from ml.scripts import evaluate

    schema = json.loads((REPO / "infra" / "kpi" / "model_kpis.json").read_text())
    schema["columns"].reverse()
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    evaluate.run(
        chain / "model.tar.gz",
        chain / "splits" / "test",
        tmp_path / "evaluation",
        tmp_path / "kpi",
        tmp_path / "schema.json",
        execution_id="exec-2",
        pipeline_name="p",
        variant="stable",
        threshold=2.0,
        run_ts=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    header = (tmp_path / "kpi" / "dt=2026-01-02" / "exec-2.csv").read_text().splitlines()[0].split(",")
    assert header == [column["name"] for column in schema["columns"]]


def test_train_takes_sm_hps_and_the_command_line_wins(chain, tmp_path, monkeypatch):
    from ml.scripts import train

    monkeypatch.setenv("SM_HPS", json.dumps({"n_estimators": "7", "max_depth": "4"}))
    train.main(
        ["--train", str(chain / "splits" / "train"), "--validation", str(tmp_path / "none")]
        + ["--model-dir", str(tmp_path / "model"), "--output-data-dir", str(tmp_path / "out"), "--max_depth", "1"]
    )
    settings = json.loads((tmp_path / "model" / "training.json").read_text())["hyperparameters"]
    assert (settings["n_estimators"], settings["max_depth"]) == (7, 1)


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("preprocess", [], "/opt/ml/processing/input"),
        ("train", ["--n_estimators", "ten"], "n_estimators='ten' is not an integer"),
        ("evaluate", ["--execution-id", "x", "--pipeline-name", "p", "--variant", "v", "--threshold", "1"], "/opt/ml"),
    ],
)
def test_bad_input_gives_one_line_without_traceback(script, args, expected, tmp_path):
    env = {"SM_CHANNEL_TRAIN": str(tmp_path)} if script == "train" else {}
    result = run_script(script, *args, env=env, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr


def test_preprocess_names_missing_columns(tmp_path):
    (tmp_path / "bad.csv").write_text("sex,length\nM,0.4\n")
    result = run_script("preprocess", "--input", str(tmp_path / "bad.csv"), "--output-dir", str(tmp_path), check=False)
    assert result.returncode != 0 and "lacks column(s) diameter" in result.stderr and "Traceback" not in result.stderr
