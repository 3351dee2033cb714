"""The orchestrator's scheduling, with step types of the test's own (no emulator, no processes): dependencies,
concurrency, branches, failures, stops, and what it records and tells its observer."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from botocore.exceptions import ClientError
from definitions_support import hand_written, processing_step

from localsage.errors import UserError
from localsage.runner.cache import StepCache
from localsage.runner.definition import DefinitionError, load
from localsage.runner.orchestrator import Execution, Orchestrator, RunOptions, check, check_requests
from localsage.runner.records import ExecutionRecord, ExecutionStore
from localsage.runner.statuses import ExecutionStatus, StepStatus
from localsage.runner.steps.base import ExecutionStopped, StepFailed, StepResult, StepType
from localsage.runner.steps.condition import Condition
from localsage.runner.steps.fail import Fail


class Journal:
    """What the fake steps did, in order, across threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.running = 0
        self.most_at_once = 0

    def note(self, step: str, what: str) -> None:
        with self.lock:
            self.events.append((step, what))
            self.running += {"start": 1, "end": -1}.get(what, 0)
            self.most_at_once = max(self.most_at_once, self.running)

    def order(self, what: str = "start") -> list[str]:
        return [step for step, event in self.events if event == what]


class Work(StepType):
    """A step that sleeps `Seconds`, fails when `Fail` is set, or waits for a stop when `Block` is set."""

    type_name = "Work"
    extra_properties = frozenset({"Done"})

    def __init__(self, journal: Journal):
        self.journal = journal

    def run(self, arguments: dict, context) -> StepResult:
        self.journal.note(context.step.name, "start")
        try:
            if arguments.get("Block"):
                while not context.stopping.wait(0.01):
                    pass
                raise ExecutionStopped()
            time.sleep(float(arguments.get("Seconds", 0)))
            if self.journal.order().count(context.step.name) <= arguments.get("ServiceFaults", 0):
                answer = {"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}}
                raise ClientError(answer, "CreateProcessingJob")
            if arguments.get("Fail"):
                raise StepFailed(f"{context.step.where}asked to fail", tail=["last line"])
            return StepResult({"Done": arguments.get("Value", context.step.name)})
        finally:
            self.journal.note(context.step.name, "end")


class Observed:
    def __init__(self):
        self.changes: list[tuple[str, str]] = []
        self.failures: list[tuple[str, list[str]]] = []

    def refresh(self, record) -> None:
        pass

    def step_changed(self, record, step) -> None:
        self.changes.append((step.name, str(step.status)))

    def failure(self, step, tail) -> None:
        self.failures.append((step.name, tail))


def work(name: str, depends_on: list[str] | None = None, **arguments) -> dict:
    return {"Name": name, "Type": "Work", "Arguments": arguments, "DependsOn": depends_on or []}


def orchestrate(tmp_path, steps: list[dict], max_parallel: int = 4, interrupt_after: float | None = None):
    journal, observer = Journal(), Observed()
    types = {"Work": Work(journal), "Condition": Condition(), "Fail": Fail()}
    definition = load({"Version": "2020-12-01", "Parameters": [], "Steps": steps})
    check(definition, types)
    execution = Execution("e1", "arn:execution/e1", "p", "arn:pipeline/p")
    store = ExecutionStore(tmp_path / "executions")
    orchestrator = Orchestrator(
        definition,
        {},
        execution,
        target=None,
        backend=None,
        store=store,
        cache=StepCache(tmp_path / "cache", "p"),
        options=RunOptions(use_cache=False, max_parallel=max_parallel),
        observer=observer,
        say=lambda message: None,
        types=types,
    )
    record = ExecutionRecord("e1", "arn:execution/e1", "p", "arn:pipeline/p", {}, "test", "")
    if interrupt_after is not None:  # Ctrl-C, as the terminal sends it
        threading.Timer(interrupt_after, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    try:
        orchestrator.run(record)
    except ExecutionStopped:
        record = store.load("e1")
    return record, journal, observer


def test_steps_wait_for_their_dependencies_and_independent_ones_run_together(tmp_path):
    steps = [
        work("A", Seconds=0.2),
        work("B", Seconds=0.2),
        work("C", ["A", "B"]),
        work("D", Value={"Get": "Steps.C.Done"}),
    ]
    record, journal, _ = orchestrate(tmp_path, steps)
    assert record.status == ExecutionStatus.SUCCEEDED
    assert set(journal.order()[:2]) == {"A", "B"} and journal.order()[2:] == ["C", "D"]
    assert journal.most_at_once == 2
    assert record.steps["D"].properties == {"Done": "C"}, "D read C's property, so it ran after C"


def test_concurrency_is_bounded_by_max_parallel(tmp_path):
    _, journal, _ = orchestrate(tmp_path, [work(name, Seconds=0.1) for name in "ABCD"], max_parallel=1)
    assert journal.most_at_once == 1 and journal.order() == ["A", "B", "C", "D"]


def test_a_failed_step_stops_new_steps_and_lets_running_ones_finish(tmp_path):
    steps = [work("Slow", Seconds=0.4), work("Broken", Fail=True), work("After", ["Broken"]), work("Later", ["Slow"])]
    record, journal, observer = orchestrate(tmp_path, steps)
    assert record.status == ExecutionStatus.FAILED
    assert record.failure == "step Broken: asked to fail"
    assert record.steps["Slow"].status == StepStatus.SUCCEEDED, "a running step finishes"
    assert {record.steps[name].status for name in ("After", "Later")} == {StepStatus.NOT_RUN}
    assert "After" not in journal.order() and "Later" not in journal.order()
    assert observer.failures == [("Broken", ["last line"])]


def test_the_condition_outcome_picks_the_branch_and_skips_the_other(tmp_path):
    gate = {
        "Name": "Gate",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [{"Type": "GreaterThan", "LeftValue": {"Get": "Steps.Score.Done"}, "RightValue": 5}],
            "IfSteps": [work("Register")],
            "ElseSteps": [{"Name": "Reject", "Type": "Fail", "Arguments": {"ErrorMessage": "too low"}}],
        },
    }
    record, journal, _ = orchestrate(tmp_path, [work("Score", Value=7), gate, work("Report", ["Register"])])
    assert record.status == ExecutionStatus.SUCCEEDED
    assert record.steps["Gate"].outcome is True
    assert record.steps["Reject"].status == StepStatus.SKIPPED
    assert journal.order() == ["Score", "Register", "Report"]
    low, _, _ = orchestrate(tmp_path / "low", [work("Score", Value=3), gate, work("Report", ["Register"])])
    assert low.status == ExecutionStatus.FAILED and low.failure == "step Reject: too low"
    assert (low.steps["Register"].status, low.steps["Report"].status) == (StepStatus.SKIPPED, StepStatus.SKIPPED)


def test_a_stop_marks_running_steps_stopped_and_the_rest_not_run(tmp_path):
    steps = [work("Waits", Block=True), work("Next", ["Waits"])]
    record, journal, _ = orchestrate(tmp_path, steps, interrupt_after=0.3)
    assert record.status == ExecutionStatus.STOPPED
    assert (record.steps["Waits"].status, record.steps["Next"].status) == (StepStatus.STOPPED, StepStatus.NOT_RUN)
    assert journal.order("end") == ["Waits"], "the running step saw the stop and ended"


def test_every_change_is_saved_and_observed_in_order(tmp_path):
    record, _, observer = orchestrate(tmp_path, [work("A"), work("B", ["A"])])
    assert observer.changes == [
        ("A", "Executing"),
        ("A", "Succeeded"),
        ("B", "Executing"),
        ("B", "Succeeded"),
    ]
    stored = ExecutionStore(tmp_path / "executions").load("e1")
    assert stored.status == ExecutionStatus.SUCCEEDED and stored.steps["B"].status == StepStatus.SUCCEEDED


def test_check_refuses_a_type_the_runner_lacks_before_anything_runs(tmp_path):
    with pytest.raises(DefinitionError, match="has type Transform"):
        orchestrate(tmp_path, [{"Name": "T", "Type": "Transform", "Arguments": {}}])


def test_requests_are_checked_where_they_sit_with_expressions_left_for_the_run():
    inner = processing_step("Inner", "s3://b/code", "code.py")
    inner["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 0
    outer = processing_step("Outer", "s3://b/code", "code.py")
    outer["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = {"Get": "Parameters.Count"}
    gate = {
        "Name": "Gate",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 1}],
            "IfSteps": [inner],
            "ElseSteps": [],
        },
    }
    parameters = [{"Name": "Count", "Type": "Integer", "DefaultValue": 1}]
    definition = load(hand_written([outer, gate], parameters))
    check(definition)
    with pytest.raises(DefinitionError) as refused:
        check_requests(definition)
    assert str(refused.value) == (
        "step Inner: Steps[1].Arguments.IfSteps[0].Arguments.ProcessingResources.ClusterConfig.InstanceCount: "
        "0, SageMaker allows at least 1"
    )
    inner["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 1
    check_requests(load(hand_written([outer, gate], parameters)))


def retried(step: dict, **policy) -> dict:
    return {**step, "RetryPolicies": [{"IntervalSeconds": 0.01, "BackoffRate": 1.0, **policy}]}


def test_a_service_fault_is_retried_as_its_policy_says_and_the_attempts_are_recorded(tmp_path):
    step = retried(work("A", ServiceFaults=2), ExceptionType=["Step.SERVICE_FAULT"], MaxAttempts=3)
    record, journal, _ = orchestrate(tmp_path, [step])
    assert record.status == ExecutionStatus.SUCCEEDED
    assert record.steps["A"].attempts == 3 and journal.order() == ["A", "A", "A"]


def test_retries_end_at_the_limit_and_only_for_the_types_named(tmp_path):
    exhausted = retried(work("A", ServiceFaults=5), ExceptionType=["Step.SERVICE_FAULT"], MaxAttempts=2)
    record, journal, _ = orchestrate(tmp_path / "1", [exhausted])
    assert record.status == ExecutionStatus.FAILED and record.steps["A"].attempts == 2
    other_type = retried(work("B", ServiceFaults=1), ExceptionType=["Step.THROTTLING"])
    own_failure = retried(work("C", Fail=True), ExceptionType=["Step.SERVICE_FAULT", "SageMaker.JOB_INTERNAL_ERROR"])
    record, journal, _ = orchestrate(tmp_path / "2", [other_type, own_failure])
    assert (record.steps["B"].attempts, record.steps["C"].attempts) == (1, 1), "neither failure is one a policy names"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"ExceptionType": ["Step.OOPS"]}, r"RetryPolicies\[0\].ExceptionType must list some of"),
        ({"ExceptionType": ["Step.THROTTLING"], "MaxAttempts": 30}, "MaxAttempts must be an integer from 1 to 20"),
        ({"ExceptionType": ["Step.THROTTLING"], "MaxAttempts": 2, "ExpireAfterMin": 5}, "sets both MaxAttempts"),
    ],
)
def test_a_malformed_retry_policy_is_refused_before_anything_runs(tmp_path, policy, message):
    with pytest.raises(UserError, match=message):
        orchestrate(tmp_path, [{**work("A"), "RetryPolicies": [policy]}])


def test_the_retry_policies_the_sdk_writes_are_read_as_sagemaker_defines_them():
    from localsage.runner import retries
    from localsage.runner.definition import Step

    # As SDK v3's StepRetryPolicy and SageMakerJobStepRetryPolicy write them (to_request()).
    written = [
        {"BackoffRate": 2.0, "IntervalSeconds": 10, "MaxAttempts": 5,
         "ExceptionType": ["Step.SERVICE_FAULT", "Step.THROTTLING"]},
        {"BackoffRate": 2.0, "IntervalSeconds": 60, "ExpireAfterMin": 120,
         "ExceptionType": ["SageMaker.RESOURCE_LIMIT", "SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR"]},
    ]  # fmt: skip
    first, second = retries.policies(Step("A", "Training", {}, "Steps[0]", raw={"RetryPolicies": written}))
    assert [first.delay(retry) for retry in (1, 2, 3)] == [10, 20, 40]
    assert first.allows(4, time.time()) and not first.allows(5, time.time())
    assert (
        second.max_attempts is None
        and second.allows(100, time.time() - 60)
        and not second.allows(1, time.time() - 7300)
    )


def test_run_conditions_start_failure_handlers_and_skip_them_when_all_went_well(tmp_path):
    on_failure = {**work("Notify"), "DependsOn": [{"Step": "Train", "Trigger": "Failed"}]}
    after_notify = work("Cleanup", ["Notify"])
    on_any = {**work("Report"), "DependsOn": [{"Step": "Train", "Trigger": "Any"}]}
    record, journal, _ = orchestrate(tmp_path / "fails", [work("Train", Fail=True), work("Register", ["Train"]),
                                                          on_failure, after_notify, on_any])  # fmt: skip
    assert record.status == ExecutionStatus.COMPLETED_WITH_FAILURES
    assert set(journal.order()) == {"Train", "Notify", "Cleanup", "Report"}
    assert record.steps["Register"].status == StepStatus.NOT_RUN

    record, journal, _ = orchestrate(tmp_path / "passes", [work("Train"), work("Register", ["Train"]), on_failure,
                                                           after_notify, on_any])  # fmt: skip
    assert record.status == ExecutionStatus.SUCCEEDED
    assert record.steps["Notify"].status == StepStatus.SKIPPED and record.steps["Cleanup"].status == StepStatus.SKIPPED
    assert set(journal.order()) == {"Train", "Register", "Report"}


def test_no_step_stays_executing_after_a_stop_even_one_whose_future_was_not_kept_yet(tmp_path):
    """A stop (SIGTERM) can land between a step being marked Executing and its future being kept."""
    from localsage.runner.records import StepRecord

    definition = load(hand_written([work("A")]))
    execution = Execution("e1", "arn:execution/e1", "p", "arn:pipeline/p")
    store = ExecutionStore(tmp_path / "executions")
    orchestrator = Orchestrator(
        definition, {}, execution, target=None, backend=None, store=store, cache=StepCache(tmp_path / "c", "p"),
        options=RunOptions(use_cache=False), observer=Observed(), say=lambda message: None,
        types={"Work": Work(Journal())},
    )  # fmt: skip
    record = ExecutionRecord("e1", "arn:execution/e1", "p", "arn:pipeline/p", {}, "test", "")
    record.steps["A"] = StepRecord("A", "Work", status=StepStatus.EXECUTING, started=time.time())
    orchestrator._stop(record, {}, "stopped", ExecutionStatus.STOPPED)
    assert store.load("e1").steps["A"].status == StepStatus.STOPPED
