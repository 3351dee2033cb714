"""Tuning: definitions built by the real SDK v3's HyperparameterTuner, run by the runner; every training job is a
real one, the best is the one whose logged objective is lowest, and `get_top_model_s3_uri` finds its model."""

from __future__ import annotations

import random
import secrets
from pathlib import Path

import pytest
from definitions_support import IMAGE, ROLE, deploy_function, sdk_build, upload

from localsage.errors import UserError
from localsage.runner.definition import Step, load
from localsage.runner.orchestrator import Execution
from localsage.runner.run import job_store, run
from localsage.runner.steps import tuning
from localsage.runner.steps.tuning import Tuning

DATA = Path(__file__).parents[1] / "data"
INSPECT = """
import boto3

def handler(event, context):
    bucket, _, key = event["model"].removeprefix("s3://").partition("/")
    size = boto3.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"]
    assert event["job"] in key and event["best"] >= 0
    return {"size": size}
"""


def build(target, folder: Path) -> dict:
    data = upload(target, "tuning/train/data.csv", b"x,y\n1,2\n")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{target.bucket}/*"}],
    }
    function = deploy_function(
        target, f"inspect-{secrets.token_hex(3)}", {"app.py": INSPECT}, policy=policy, Timeout=30
    )
    script = DATA / "build_tuning_pipeline.py"
    return sdk_build(folder, script, target.bucket, data.rsplit("/", 1)[0], function, IMAGE, ROLE)


def execute(target, definition: dict, state_dir, backend):
    loaded = load(definition)
    execution_id = secrets.token_hex(6)
    arn = f"arn:aws:sagemaker:us-east-1:000000000000:pipeline/tuning/execution/{execution_id}"
    execution = Execution(execution_id, arn, "tuning", "arn:aws:sagemaker:us-east-1:000000000000:pipeline/tuning")
    return run(loaded, {}, target, backend, execution=execution, state_dir=state_dir, use_cache=False, say=print)


def test_random_search_runs_every_job_and_the_top_model_is_the_lowest_loss(local_target, tmp_path, warm_backend):
    definition = build(local_target, tmp_path)
    record = execute(local_target, definition, tmp_path / "state", warm_backend)
    assert record.status == "Succeeded", record.failure
    properties = record.steps["Tune"].properties
    summaries = properties["TrainingJobSummaries"]
    assert len(summaries) == 4 and properties["TrainingJobStatusCounters"]["Completed"] == 4
    losses = [summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for summary in summaries]
    assert losses == sorted(losses), "summaries come best first, as get_top_model_s3_uri expects"
    best = properties["BestTrainingJob"]
    tuned = best["TunedHyperParameters"]
    expected = abs(float(tuned["lr"]) - 0.01) * 100 + (0 if tuned["opt"] == "adam" else 1)
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(expected, abs=1e-5)
    assert all(0.001 <= float(summary["TunedHyperParameters"]["lr"]) <= 0.1 for summary in summaries)
    jobs = job_store(tmp_path / "state")
    assert all(jobs.find("TrainingJob", summary["TrainingJobName"]).status == "Completed" for summary in summaries)
    assert record.steps["Inspect"].properties["OutputParameters"]["size"] > 0


def test_grid_search_runs_every_combination_of_the_categories():
    """Grid end to end (best job, through the API) is in tests/controlplane/test_step_types.py; here, its set."""
    config = {
        "Strategy": "Grid",
        "ParameterRanges": {
            "CategoricalParameterRanges": [
                {"Name": "lr", "Values": ["0.001", "0.01", "0.1"]},
                {"Name": "opt", "Values": ["sgd", "adam"]},
            ]
        },
    }
    tried = {(item["lr"], item["opt"]) for item in Tuning._candidates(config)}
    assert tried == {(lr, opt) for lr in ("0.001", "0.01", "0.1") for opt in ("sgd", "adam")}


def test_random_draws_follow_each_ranges_scaling():
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "log", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"},
            {"Name": "reverse", "MinValue": "0.9", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"},
        ],
        "IntegerParameterRanges": [{"Name": "depth", "MinValue": "2", "MaxValue": "5"}],
    }
    draws = [tuning._draw(ranges, random.Random(seed)) for seed in range(400)]
    logs = [float(draw["log"]) for draw in draws]
    assert all(0.0001 <= value <= 1 for value in logs)
    assert sum(value < 0.01 for value in logs) > 150, (
        "a logarithmic range spends half its draws below its midpoint decade"
    )
    assert all(0.9 <= float(draw["reverse"]) <= 0.999 for draw in draws)
    assert {draw["depth"] for draw in draws} == {"2", "3", "4", "5"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"TrainingJobEarlyStoppingType": "Auto"}, "TrainingJobEarlyStoppingType must be Off locally"),
        (
            {"HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "acc"}},
            "objective metric acc has no",
        ),
        (
            {"Strategy": "Grid", "ParameterRanges": {"IntegerParameterRanges": [{"Name": "d"}]}},
            "Grid search takes categorical parameter ranges only",
        ),
    ],
)
def test_settings_that_cannot_run_locally_are_refused_before_anything_runs(change, message):
    arguments = {
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            **change,
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "MetricDefinitions": [{"Name": "loss", "Regex": "loss: ([0-9.]+)"}],
            },
            "StaticHyperParameters": {"sagemaker_program": "train.py"},
        },
    }
    with pytest.raises(UserError, match=message):
        Tuning().check(Step(name="Tune", type="Tuning", arguments=arguments, path="Steps[0]"))
