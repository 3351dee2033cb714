"""Loading, validating and ordering pipeline definitions: hand-written ones, the project's own, and SDK-built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localsage.runner.definition import (
    Branch,
    CacheConfig,
    DefinitionError,
    PropertyFile,
    load,
    property_file_locator,
    validate,
)
from localsage.runner.expressions import Context, EvaluationError, evaluate_conditions, resolve
from localsage.runner.steps.registry import step_types

DATA = Path(__file__).parent / "data"


def exposing(*type_names: str) -> dict[str, frozenset[str]]:
    """The step types the runner runs, by name, with the properties each exposes (what `validate` checks)."""
    return {name: step_types()[name].property_names() for name in type_names}


ALL_TYPES = exposing("Processing", "Training", "Condition", "Fail", "RegisterModel")


def step(name: str, kind: str = "Processing", arguments: dict | None = None, **extra) -> dict:
    return {"Name": name, "Type": kind, "Arguments": arguments or {}, **extra}


def condition(name: str, if_steps=(), else_steps=(), conditions=None, **extra) -> dict:
    conditions = conditions or [{"Type": "Equals", "LeftValue": {"Get": "Parameters.Go"}, "RightValue": True}]
    arguments = {"Conditions": conditions, "IfSteps": list(if_steps), "ElseSteps": list(else_steps)}
    return step(name, "Condition", arguments, **extra)


def document(*steps, parameters=None) -> dict:
    if parameters is None:
        parameters = [
            {"Name": "Go", "Type": "Boolean", "DefaultValue": True},
            {"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5},
            {"Name": "Count", "Type": "Integer", "DefaultValue": 2},
            {"Name": "Region", "Type": "String", "DefaultValue": "eu-west-1"},
        ]
    return {"Version": "2020-12-01", "Metadata": {}, "Parameters": parameters, "Steps": list(steps)}


def get(target: str) -> dict:
    return {"Get": target}


SMALL = document(
    step("Prep", PropertyFiles=[{"PropertyFileName": "Stats", "OutputName": "stats", "FilePath": "stats.json"}]),
    step("Train", "Training", {"S3Uri": get("Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri")}),
)


@pytest.mark.parametrize(
    "as_source",
    [
        lambda doc, tmp: doc,
        lambda doc, tmp: json.dumps(doc),
        lambda doc, tmp: json.dumps(doc).encode(),
        lambda doc, tmp: _written(doc, tmp),
        lambda doc, tmp: str(_written(doc, tmp)),
    ],
    ids=["dict", "text", "bytes", "path", "path-text"],
)
def test_load_accepts_every_source_form(as_source, tmp_path):
    definition = load(as_source(SMALL, tmp_path))
    assert list(definition.steps) == ["Prep", "Train"]
    assert definition.raw == SMALL


def _written(doc: dict, folder: Path) -> Path:
    path = folder / "definition.json"
    path.write_text(json.dumps(doc))
    return path


def test_load_reads_parameters_steps_and_their_settings():
    definition = load(
        document(
            step("Prep", CacheConfig={"Enabled": True, "ExpireAfter": "P30D"}, DependsOn=["Other"]),
            step("Other", DependsOn=[{"Step": "Prep", "Trigger": "Failed"}]),
            step(
                "Eval", PropertyFiles=[{"PropertyFileName": "Report", "OutputName": "evaluation", "FilePath": "e.json"}]
            ),
        )
    )
    assert definition.parameters["Threshold"].type == "Float"
    assert definition.parameters["Threshold"].default == 0.5
    assert definition.steps["Prep"].cache_config == CacheConfig(enabled=True, expire_after="P30D")
    assert definition.steps["Prep"].depends_on == {"Other": "Completed"}
    assert definition.steps["Other"].depends_on == {"Prep": "Failed"}
    assert definition.steps["Other"].cache_config is None
    assert definition.steps["Eval"].property_files == {"Report": PropertyFile("Report", "evaluation", "e.json")}


def test_condition_branches_are_steps_of_their_own():
    definition = load(document(condition("Check", [step("Yes")], [step("No"), condition("Inner", [step("Deep")])])))
    assert list(definition.steps) == ["Check", "Yes", "No", "Inner", "Deep"]
    check = definition.steps["Check"]
    assert (check.if_steps, check.else_steps) == (("Yes",), ("No", "Inner"))
    assert set(check.arguments) == {"Conditions"}
    assert check.conditions == check.arguments["Conditions"]
    assert definition.steps["Deep"].path == "Steps[0].Arguments.ElseSteps[1].Arguments.IfSteps[0]"
    assert definition.branch_owner("Yes") == Branch("Check", True)
    assert definition.branch_owner("No") == Branch("Check", False)
    assert definition.branch_owner("Deep") == Branch("Inner", True)
    assert definition.branch_owner("Check") is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{not json", r"^the pipeline definition is not valid JSON"),
        ("[1, 2]", r"^cannot read the pipeline definition \[1, 2\]"),
        (b"[1, 2]", r"must be a JSON object"),
        ({**SMALL, "Version": "2019-01-01"}, r'^Version is "2019-01-01": the local runner reads schema 2020-12-01$'),
        ({**SMALL, "Steps": {}}, r"^Steps must be a list"),
        (document(step("A"), parameters=[{"Type": "String"}]), r"^Parameters\[0\] needs a Name$"),
        (
            document(step("A"), parameters=[{"Name": "P", "Type": "Decimal"}]),
            r"^Parameters\[0\] \(P\) has Type \"Decimal\": use one of String, Integer, Float, Boolean$",
        ),
        (
            document(step("A"), parameters=[{"Name": "P", "Type": "Integer", "DefaultValue": "3"}]),
            r'^Parameters\[0\] \(P\): DefaultValue "3" is not a Integer$',
        ),
        (
            document(step("A"), parameters=[{"Name": "P", "Type": "Integer", "DefaultValue": True}]),
            r"DefaultValue true is not a Integer",
        ),
        (document(step("A"), parameters=[{"Name": "P"}, {"Name": "P"}]), r"parameter P is defined twice"),
        (document({"Type": "Processing"}), r"^Steps\[0\] needs a Name$"),
        (document(step("A"), step("A")), r"^step A: the name is used by two steps \(Steps\[0\] and Steps\[1\]\)"),
        (
            document(step("A"), condition("C", [step("A")])),
            r"^step A: the name is used by two steps \(Steps\[0\] and Steps\[1\]\.Arguments\.IfSteps\[0\]\)",
        ),
        (document({"Name": "A", "Type": "Processing", "Arguments": []}), r"^step A: Steps\[0\] needs a Type string"),
        (document(step("A", DependsOn="B")), r"^step A: DependsOn must be a list"),
        (document(step("A", DependsOn=[{"Trigger": "Failed"}])), r"^step A: DependsOn\[0\] must be a step name"),
        (document(step("A", CacheConfig={"Enabled": "yes"})), r"^step A: CacheConfig must be"),
        (document(step("A", PropertyFiles=[{"PropertyFileName": "R"}])), r"^step A: PropertyFiles\[0\] needs"),
        (document(step("C", "Condition", {"IfSteps": []})), r"^step C: Arguments\.Conditions must be a list"),
        (
            document(step("C", "Condition", {"Conditions": [], "IfSteps": {}})),
            r"^step C: Arguments\.IfSteps must be a list of steps$",
        ),
    ],
)
def test_load_rejects_malformed_documents_with_one_line(source, message):
    with pytest.raises(DefinitionError, match=message) as caught:
        load(source)
    assert "\n" not in str(caught.value)


def test_load_names_a_missing_file(tmp_path):
    with pytest.raises(DefinitionError, match=r"cannot read the pipeline definition .*missing\.json: No such file"):
        load(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, {"Go": True, "Threshold": 0.5, "Count": 2, "Region": "eu-west-1"}),
        (
            {"Go": "false", "Threshold": "1.5", "Count": "7", "Region": "us-east-1"},
            {"Go": False, "Threshold": 1.5, "Count": 7, "Region": "us-east-1"},
        ),
        ({"Go": "TRUE", "Threshold": "3"}, {"Go": True, "Threshold": 3.0}),
        ({"Go": False, "Threshold": 2, "Count": 5}, {"Go": False, "Threshold": 2.0, "Count": 5}),
        ({"Region": "123"}, {"Region": "123"}),
    ],
)
def test_parameter_overrides_are_converted_to_their_types(overrides, expected):
    values = load(SMALL).resolve_parameters(overrides)
    assert {name: values[name] for name in expected} == expected
    assert all(type(values[name]) is type(value) for name, value in expected.items())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"Treshold": "1"},
            r"^unknown parameter Treshold; parameters: Go \(Boolean, default true\), "
            r"Threshold \(Float, default 0\.5\), Count \(Integer, default 2\), "
            r"Region \(String, default \"eu-west-1\"\)$",
        ),
        ({"Threshold": "abc"}, r'^parameter Threshold: "abc" is not a Float; parameters: Go'),
        ({"Threshold": "nan"}, r'"nan" is not a Float'),
        ({"Count": "1.5"}, r'^parameter Count: "1\.5" is not a Integer'),
        ({"Count": True}, r"^parameter Count: true is not a Integer"),
        ({"Go": "yes"}, r'^parameter Go: "yes" is not a Boolean'),
        ({"Region": 3}, r"^parameter Region: 3 is not a String"),
    ],
)
def test_bad_parameter_overrides_list_the_valid_parameters(overrides, message):
    with pytest.raises(DefinitionError, match=message):
        load(SMALL).resolve_parameters(overrides)


def test_a_parameter_without_default_needs_an_override():
    definition = load(document(step("A"), parameters=[{"Name": "InputData", "Type": "String"}]))
    with pytest.raises(
        DefinitionError,
        match=r"^parameter InputData has no default: pass a value, e\.g\. "
        r"--param InputData=<String>; parameters: InputData \(String, required\)",
    ):
        definition.resolve_parameters({})
    assert definition.resolve_parameters({"InputData": "s3://b/k"}) == {"InputData": "s3://b/k"}


def test_validate_refuses_a_step_type_the_runner_does_not_run_and_says_why():
    definition = load(document(step("Prep"), step("Check", "ClarifyCheck")))
    with pytest.raises(DefinitionError) as caught:
        validate(definition, exposing("Processing", "Training"), {"ClarifyCheck": "it needs AWS"})
    assert str(caught.value) == (
        "step Check has type ClarifyCheck, which the local runner does not run (it needs AWS); "
        "it runs: Processing, Training; or give the step's properties with --stub Check=FILE.json"
    )
    with pytest.raises(DefinitionError, match=r"type Typo, .* \(it is not a SageMaker Pipelines step type\)"):
        validate(load(document(step("Odd", "Typo"))), exposing("Processing"))


@pytest.mark.parametrize(
    ("bad_step", "message"),
    [
        (
            step(
                "Train", "Training", {"InputDataConfig": [{"DataSource": {"S3DataSource": {"S3Uri": get("Foo.Bar")}}}]}
            ),
            r"^step Train: Arguments\.InputDataConfig\[0\]\.DataSource\.S3DataSource\.S3Uri uses unknown expression "
            r'\{"Get": "Foo\.Bar"\}$',
        ),
        (
            step("Train", "Training", {"Environment": {"X": {"Std:Format": "a"}}}),
            r"^step Train: Arguments\.Environment\.X uses unknown expression",
        ),
        (
            condition("Check", conditions=[{"Type": "Or", "Conditions": [{"Type": "Xor"}]}]),
            r"^step Check: Arguments\.Conditions\[0\]\.Conditions\[0\] is not a condition",
        ),
        (
            condition("Check", if_steps=[step("Deep", "Fail", {"ErrorMessage": get("Execution.Whatever")})]),
            r"^step Deep: Arguments\.ErrorMessage uses unknown expression",
        ),
        (
            step("Train", "Training", {"A": get("Parameters.Nope")}),
            r"^step Train: Arguments\.A uses parameter Nope, "
            r"which Parameters does not define \(defined: Go, ",
        ),
        (
            step("Train", "Training", {"A": get("Steps.Ghost.ModelArtifacts.S3ModelArtifacts")}),
            r"^step Train: Arguments\.A refers to step Ghost, which does not exist: steps are Prep, Train$",
        ),
        (step("Train", "Training", DependsOn=["Ghost"]), r"^step Train: DependsOn refers to step Ghost"),
        (
            step(
                "Train",
                "Training",
                {"A": {"Std:JsonGet": {"PropertyFile": get("Steps.Prep.PropertyFiles.Nope"), "Path": "x"}}},
            ),
            r"^step Train: Arguments\.A\.Std:JsonGet\.PropertyFile reads property file Nope of step Prep, "
            r"which declares no such PropertyFiles entry \(declared: Stats\)$",
        ),
    ],
)
def test_validate_names_the_step_and_json_path_of_what_it_cannot_run(bad_step, message):
    prep = step("Prep", PropertyFiles=[{"PropertyFileName": "Stats", "OutputName": "stats", "FilePath": "s.json"}])
    definition = load(document(prep, bad_step))
    with pytest.raises(DefinitionError, match=message):
        validate(definition, ALL_TYPES)


@pytest.mark.parametrize(
    "steps",
    [
        [step("A", DependsOn=["B"]), step("B", DependsOn=["A"])],
        [
            step("A", "Processing", {"X": get("Steps.B.ProcessingJobArn")}),
            step("B", DependsOn=["C"]),
            step("C", DependsOn=["A"]),
        ],
        [step("A", DependsOn=["A"])],
        [
            condition(
                "C",
                [step("A")],
                conditions=[{"Type": "Equals", "LeftValue": get("Steps.A.ProcessingJobArn"), "RightValue": 1}],
            )
        ],
    ],
    ids=["depends-on", "mixed", "self", "condition-reads-its-branch"],
)
def test_cycles_are_refused(steps):
    definition = load(document(*steps))
    with pytest.raises(DefinitionError, match=r"^steps .* depend on each other in a cycle: remove a DependsOn"):
        validate(definition, ALL_TYPES)


GRAPH = document(
    step("Prep", PropertyFiles=[{"PropertyFileName": "Stats", "OutputName": "stats", "FilePath": "s.json"}]),
    step("Train", "Training", {"S3Uri": get("Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri")}),
    step("Audit", DependsOn=["Prep"]),
    condition(
        "Check",
        if_steps=[step("Register", "RegisterModel", {"Model": get("Steps.Train.ModelArtifacts.S3ModelArtifacts")})],
        else_steps=[step("Stop", "Fail", {"ErrorMessage": "too bad"})],
        conditions=[
            {
                "Type": "GreaterThan",
                "LeftValue": {"Std:JsonGet": {"PropertyFile": get("Steps.Prep.PropertyFiles.Stats"), "Path": "n"}},
                "RightValue": get("Parameters.Count"),
            }
        ],
    ),
    step("Notify", "Processing", {"Arn": get("Steps.Register.ModelPackageArn")}),
    step("Report", DependsOn=["Stop", "Audit"]),
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Prep", set()),
        ("Train", {"Prep"}),
        ("Audit", {"Prep"}),
        ("Check", {"Prep"}),
        ("Register", {"Check", "Train"}),
        ("Stop", {"Check"}),
        ("Notify", {"Register"}),
        ("Report", {"Stop", "Audit"}),
    ],
)
def test_dependencies_come_from_depends_on_references_and_branches(name, expected):
    assert load(GRAPH).dependencies(name) == expected


def test_topological_order_puts_every_step_after_its_dependencies_in_document_order():
    definition = load(GRAPH)
    validate(definition, ALL_TYPES)
    assert definition.topological_order() == ["Prep", "Train", "Audit", "Check", "Register", "Stop", "Notify", "Report"]


@pytest.mark.parametrize(
    ("outcomes", "skipped"),
    [
        ({}, set()),
        ({"Check": True}, {"Stop", "Report"}),
        ({"Check": False}, {"Register", "Notify"}),
    ],
)
def test_steps_of_a_branch_not_taken_and_their_dependants_are_skipped(outcomes, skipped):
    assert load(GRAPH).skipped_steps(outcomes) == skipped


def test_a_skipped_condition_skips_both_its_branches():
    definition = load(document(condition("Outer", [condition("Inner", [step("Yes")], [step("No")])], [step("Else")])))
    assert definition.skipped_steps({"Outer": False}) == {"Inner", "Yes", "No"}
    assert definition.skipped_steps({"Outer": True, "Inner": False}) == {"Else", "Yes"}


def test_an_unknown_step_name_is_a_clear_error():
    with pytest.raises(DefinitionError, match=r"^there is no step 'Nope': steps are Prep, Train$"):
        load(SMALL).dependencies("Nope")


PROJECT_STEP_TYPES = exposing("Processing", "Training", "Condition", "RegisterModel", "Fail")


def project_context(definition, rmse: float) -> Context:
    outputs = {"evaluation": "s3://bucket/run/evaluation/"}

    def step_property(step_name, parts):
        if parts[:2] == ("ProcessingOutputConfig", "Outputs") and parts[2] in outputs:
            return outputs[parts[2]]
        raise EvaluationError(f"no property {step_name} {parts}")

    reports = {"s3://bucket/run/evaluation/evaluation.json": {"regression_metrics": {"rmse": {"value": rmse}}}}
    return Context(
        parameters=definition.resolve_parameters(),
        execution={"PipelineExecutionId": "exec-1"},
        step_property=step_property,
        property_file_uri=property_file_locator(definition, step_property),
        read_json=reports.__getitem__,
    )


@pytest.mark.parametrize(
    ("rmse", "outcome", "skipped"),
    [(2.0, True, {"Fail"}), (3.0, True, {"Fail"}), (3.5, False, {"RegisterModel"})],
)
def test_the_projects_own_definition_loads_validates_and_branches(rmse, outcome, skipped):
    definition = load(DATA / "experimental-definition.json")
    validate(definition, PROJECT_STEP_TYPES)
    assert definition.topological_order() == [
        "Preprocess",
        "Train",
        "Evaluate",
        "CheckQuality",
        "RegisterModel",
        "Fail",
    ]
    assert definition.dependencies("Evaluate") >= {"Train"}
    check = definition.steps["CheckQuality"]
    assert (check.if_steps, check.else_steps) == (("RegisterModel",), ("Fail",))
    assert evaluate_conditions(check.conditions, project_context(definition, rmse)) is outcome
    assert definition.skipped_steps({"CheckQuality": outcome}) == skipped
    message = resolve(definition.steps["Fail"].arguments, project_context(definition, rmse))["ErrorMessage"]
    assert message == f"Test rmse {rmse} is above the RmseThreshold 3.0"


@pytest.fixture(scope="module")
def sdk_definition(tmp_path_factory) -> dict:
    """The definition the real SageMaker SDK v3 emits, built in a child process that cannot reach AWS."""
    folder = tmp_path_factory.mktemp("sdk")
    (folder / "config.yaml").write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
    )
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "SAGEMAKER_"))}
    environment.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        SAGEMAKER_USER_CONFIG_OVERRIDE=str(folder / "config.yaml"),
        HOME=str(folder),
    )
    built = subprocess.run(
        [sys.executable, str(DATA / "build_sdk_pipeline.py")],
        env=environment,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    return json.loads(built.stdout)


def test_the_parser_reads_what_the_real_sdk_emits(sdk_definition):
    definition = load(sdk_definition)
    validate(definition, exposing("Condition", "Fail"))
    assert {name: (p.type, p.default) for name, p in definition.parameters.items()} == {
        "Threshold": ("Float", 0.5),
        "Region": ("String", "eu-west-1"),
        "Count": ("Integer", None),
        "Flag": ("Boolean", True),
    }
    assert definition.topological_order() == ["Gate", "Accepted", "TooLow", "FollowUp", "AfterGate"]
    assert definition.branch_owner("TooLow") == Branch("Gate", False)
    assert definition.dependencies("FollowUp") == {"Gate"}

    scores = {"s3://bucket/exec-7/report.json": {"metrics": {"score": 0.25}}}
    context = Context(
        parameters=definition.resolve_parameters({"Count": "4"}),
        execution={"PipelineExecutionId": "exec-7", "PipelineName": "sdk-built"},
        step_property=lambda name, parts: {("Gate", ("Outcome",)): True}[(name, parts)],
        read_json=scores.__getitem__,
    )
    assert evaluate_conditions(definition.steps["Gate"].conditions, context) is True
    assert evaluate_conditions(definition.steps["FollowUp"].conditions, context) is True
    assert resolve(definition.steps["TooLow"].arguments, context) == {"ErrorMessage": "score 0.25 below 0.5"}
    assert resolve(definition.steps["AfterGate"].arguments, context) == {"ErrorMessage": "sdk-built-4"}


def test_run_conditions_are_read_and_an_unknown_trigger_is_refused():
    definition = load(document(step("Prep"), step("OnFailure", DependsOn=[{"Step": "Prep", "Trigger": "Failed"}])))
    validate(definition, exposing("Processing"))
    assert definition.trigger("OnFailure", "Prep") == "Failed"
    assert definition.failure_handlers == {"OnFailure"}
    odd = load(document(step("Prep"), step("OnFailure", DependsOn=[{"Step": "Prep", "Trigger": "Sometimes"}])))
    with pytest.raises(DefinitionError, match="step OnFailure: DependsOn Prep has Trigger 'Sometimes': use one of"):
        validate(odd, exposing("Processing"))


def test_a_condition_cannot_be_stubbed():
    definition = load(document(step("Prep"), {"Name": "Gate", "Type": "Condition", "Arguments": {"Conditions": []}}))
    with pytest.raises(DefinitionError, match="a Condition step cannot be stubbed"):
        definition.with_stubs({"Gate": {"Outcome": True}})
    assert definition.with_stubs({"Prep": {"X": 1}}).steps["Prep"].stub == {"X": 1}
