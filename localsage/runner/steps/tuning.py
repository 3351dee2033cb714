"""Tuning steps: the CreateHyperParameterTuningJob contract, each training job run by the Training step type.

The strategy picks the training jobs' hyperparameters: `Grid` runs every combination of the categorical ranges,
`Random` draws each range as SageMaker documents (linear, logarithmic and reverse-logarithmic scaling; integers
and categories uniformly) from a fixed seed (`RandomSeed`, else 0), so a run is reproducible. `Bayesian` and
`Hyperband` have no local equivalent: they run as Random search with the same limits, and the step says so.
`MaxParallelTrainingJobs` jobs run at once; each is a full training job (recorded, with its log stream and
model.tar.gz under `<S3OutputPath>/<training job name>/output/`). The objective is read from each job's log with
the algorithm's MetricDefinitions; the properties are DescribeHyperParameterTuningJob's (BestTrainingJob) and
the job summaries best first (`TrainingJobSummaries`, what `TuningStep.get_top_model_s3_uri` reads).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from localsage.errors import UserError
from localsage.runner.definition import Step
from localsage.runner.steps.base import ExecutionStopped, StepContext, StepFailed, StepResult, StepType
from localsage.runner.steps.training import Training

SUBSTITUTED_STRATEGIES = ("Bayesian", "Hyperband")
TUNING_NAME_LIMIT = 32  # SageMaker's limit on a tuning job's name


def tuning_job_name(execution_id: str, step_name: str) -> str:
    cleaned = "".join(char if char.isalnum() else "-" for char in step_name)
    return f"{execution_id}-{cleaned}"[:TUNING_NAME_LIMIT].rstrip("-")


class Tuning(StepType):
    type_name = "Tuning"
    locally = "each training job by the Training step type; Random and Grid as documented, Bayesian/Hyperband as Random"
    cacheable = True
    cache_key_attributes = ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "TrainingJobDefinitions")
    describe_operation = "DescribeHyperParameterTuningJob"
    create_operation = "CreateHyperParameterTuningJob"
    name_member = "HyperParameterTuningJobName"
    made = ("TuningJob", "HyperParameterTuningJobArn")
    extra_properties = frozenset({"TrainingJobSummaries"})

    def request_problems(self, step: Step, arguments: dict, resolved: bool) -> list[str]:
        # A tuning job's name is at most 32 characters: check the request with the name Pipelines would give it.
        request = {"HyperParameterTuningJobName": tuning_job_name("x" * 12, step.name), **arguments}
        return super().request_problems(step, request, resolved)

    def check(self, step: Step) -> None:
        where = step.where
        if "TrainingJobDefinitions" in step.arguments:
            raise UserError(f"{where}TrainingJobDefinitions (several algorithms) is not supported locally: use one")
        definition = step.arguments.get("TrainingJobDefinition", {})
        Training().check(replace(step, arguments={**definition, "HyperParameters": _static(definition)}))
        config = step.arguments.get("HyperParameterTuningJobConfig", {})
        if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
            raise UserError(f"{where}TrainingJobEarlyStoppingType must be Off locally (every job runs to its end)")
        metric = config.get("HyperParameterTuningJobObjective", {}).get("MetricName")
        defined = [
            item.get("Name") for item in definition.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
        ]
        if isinstance(metric, str) and metric not in defined:
            raise UserError(
                f"{where}the objective metric {metric} has no MetricDefinitions entry (defined: "
                f"{', '.join(defined) or 'none'}): the local runner reads it from each job's log with that regex"
            )
        if config.get("Strategy") == "Grid":
            ranges = config.get("ParameterRanges", {})
            if ranges.get("IntegerParameterRanges") or ranges.get("ContinuousParameterRanges"):
                raise UserError(f"{where}Grid search takes categorical parameter ranges only (as in SageMaker)")

    def input_uris(self, arguments: dict) -> list[str]:
        definition = arguments["TrainingJobDefinition"]
        return Training().input_uris({**definition, "HyperParameters": _static(definition)})

    def output_uris(self, properties: dict) -> list[str]:
        return [properties["BestTrainingJob"]["ModelArtifacts"]]

    def written_uris(self, arguments: dict) -> list[str]:
        return Training().written_uris(arguments["TrainingJobDefinition"])

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        where = context.step.where
        config = arguments["HyperParameterTuningJobConfig"]
        definition = arguments["TrainingJobDefinition"]
        strategy = config.get("Strategy", "Bayesian")
        if strategy in SUBSTITUTED_STRATEGIES:
            context.say(f"{where}Strategy {strategy} has no local equivalent: it runs as Random search, same limits")
        tuning_name = tuning_job_name(context.execution_id, context.step.name)
        candidates = self._candidates(config)
        objective = config["HyperParameterTuningJobObjective"]
        limits = config.get("ResourceLimits", {})
        parallel = max(1, int(limits.get("MaxParallelTrainingJobs", 1)))
        training = Training()

        def train(index: int, tuned: dict[str, str]) -> dict:
            digest = hashlib.sha256(json.dumps(tuned, sort_keys=True).encode()).hexdigest()[:8]
            name = f"{tuning_name}-{index + 1:03d}-{digest}"
            job = replace(context, job=name, work_dir=context.work_dir / name, role=None, found={})
            request = {**definition, "HyperParameters": {**_static(definition), **tuned}}
            request.pop("StaticHyperParameters", None)
            started = time.time()
            summary = {
                "TrainingJobName": name,
                "TrainingJobArn": job.arn(training.arn_resource, name),
                "TunedHyperParameters": tuned,
                "CreationTime": started,
                "TrainingStartTime": started,
            }
            try:
                properties = training.run(request, job).properties
            except ExecutionStopped:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed training job is one result of the tuning job
                return {
                    **summary,
                    "TrainingJobStatus": "Failed",
                    "FailureReason": str(exc),
                    "ObjectiveStatus": "Failed",
                }
            summary.update(TrainingEndTime=time.time(), TrainingJobStatus="Completed")
            summary["ModelArtifacts"] = properties["ModelArtifacts"]["S3ModelArtifacts"]
            values = [
                item["Value"]
                for item in properties["FinalMetricDataList"]
                if item["MetricName"] == objective["MetricName"]
            ]
            if not values:
                return {**summary, "ObjectiveStatus": "Failed"}
            metric = {"Type": objective["Type"], "MetricName": objective["MetricName"], "Value": values[-1]}
            return {**summary, "FinalHyperParameterTuningJobObjectiveMetric": metric, "ObjectiveStatus": "Succeeded"}

        with ThreadPoolExecutor(parallel, thread_name_prefix="tuning") as pool:
            results = list(pool.map(lambda item: train(*item), enumerate(candidates)))
        scored = [result for result in results if result["ObjectiveStatus"] == "Succeeded"]
        if not scored:
            reasons = [result.get("FailureReason", "no objective metric in its log") for result in results]
            raise StepFailed(f"{where}no training job of the tuning job gave its objective: {reasons[0]}")
        maximize = objective["Type"] == "Maximize"
        scored.sort(key=lambda result: result["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], reverse=maximize)
        summaries = scored + [result for result in results if result not in scored]
        completed = sum(result["TrainingJobStatus"] == "Completed" for result in results)
        properties = {
            "HyperParameterTuningJobName": tuning_name,
            "HyperParameterTuningJobArn": context.arn("hyper-parameter-tuning-job", tuning_name),
            "HyperParameterTuningJobConfig": config,
            "TrainingJobDefinition": definition,
            "HyperParameterTuningJobStatus": "Completed",
            "TrainingJobStatusCounters": {
                "Completed": completed,
                "InProgress": 0,
                "RetryableError": 0,
                "NonRetryableError": len(results) - completed,
                "Stopped": 0,
            },
            "ObjectiveStatusCounters": {
                "Succeeded": len(scored),
                "Pending": 0,
                "Failed": len(results) - len(scored),
            },
            "BestTrainingJob": scored[0],
            "TrainingJobSummaries": summaries,
        }
        return StepResult(properties)

    @staticmethod
    def _candidates(config: dict) -> list[dict[str, str]]:
        """The hyperparameters of each training job the strategy runs."""
        ranges = config.get("ParameterRanges", {})
        if config.get("Strategy") == "Grid":
            categorical = ranges.get("CategoricalParameterRanges", [])
            names = [item["Name"] for item in categorical]
            combinations = itertools.product(*(item["Values"] for item in categorical))
            return [dict(zip(names, values, strict=True)) for values in combinations]
        draw = random.Random(int(config.get("RandomSeed", 0)))
        count = int(config.get("ResourceLimits", {}).get("MaxNumberOfTrainingJobs", 1))
        return [_draw(ranges, draw) for _ in range(count)]


def _static(definition: dict) -> dict[str, str]:
    return {key: str(value) for key, value in definition.get("StaticHyperParameters", {}).items()}


def _draw(ranges: dict, draw: random.Random) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in ranges.get("CategoricalParameterRanges", []):
        values[item["Name"]] = str(draw.choice(item["Values"]))
    for kind, integer in (("ContinuousParameterRanges", False), ("IntegerParameterRanges", True)):
        for item in ranges.get(kind, []):
            low, high = float(item["MinValue"]), float(item["MaxValue"])
            value = _scaled(draw, low, high, item.get("ScalingType", "Auto"))
            values[item["Name"]] = str(min(int(high), max(int(low), round(value)))) if integer else repr(value)
    return values


def _scaled(draw: random.Random, low: float, high: float, scaling: str) -> float:
    """One draw in [low, high] with the range's scaling (Auto is linear here)."""
    if scaling == "Logarithmic" and low > 0:
        return math.exp(draw.uniform(math.log(low), math.log(high)))
    if scaling == "ReverseLogarithmic" and 0 <= low < high < 1:
        return 1 - math.exp(draw.uniform(math.log(1 - high), math.log(1 - low)))
    return draw.uniform(low, high)
