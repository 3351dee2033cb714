"""Expressions and conditions of a pipeline definition, table by table, against an injected context."""

from __future__ import annotations

import pytest

from localsage.runner.expressions import (
    EXECUTION,
    EXPERIMENT,
    PARAMETER,
    PROPERTY_FILE,
    STEP_PROPERTY,
    Context,
    DefinitionError,
    EvaluationError,
    evaluate_condition,
    evaluate_conditions,
    join_text,
    json_lookup,
    parse_property_path,
    references,
    resolve,
)

STEP_PROPERTIES = {
    ("Preprocess", ("ProcessingOutputConfig", "Outputs", "train", "S3Output", "S3Uri")): "s3://bucket/run-1/train",
    ("Train", ("ModelArtifacts", "S3ModelArtifacts")): "s3://bucket/run-1/model.tar.gz",
    ("Train", ("FinalMetricDataList", "val:rmse", "Value")): 2.5,
    ("Register", ("ModelPackageArn",)): "arn:aws:sagemaker:us-east-1:000000000000:model-package/abalone/1",
}
FILES = {
    "s3://bucket/run-1/evaluation/evaluation.json": {"regression_metrics": {"mse": {"value": 4.25}}, "tags": ["a"]},
    "s3://bucket/run-1/Train/output.json": {"accuracy": 0.91},
}
DEFAULT_PARAMETERS = {"Threshold": 5.0, "Count": 3, "Flag": True, "Region": "eu-west-1", "Limit": "7"}


def step_property(step_name, parts):
    key = (step_name, parts)
    if key not in STEP_PROPERTIES:
        raise EvaluationError(f"no property {step_name} {parts}")
    return STEP_PROPERTIES[key]


def make_context(**parameters) -> Context:
    return Context(
        parameters={**DEFAULT_PARAMETERS, **parameters},
        execution={"PipelineExecutionId": "exec-1", "PipelineName": "abalone-experimental"},
        step_property=step_property,
        property_file_uri=lambda step, name: {
            ("Evaluate", "EvaluationReport"): "s3://bucket/run-1/evaluation/evaluation.json"
        }[(step, name)],
        read_json=FILES.__getitem__,
    )


def get(target: str) -> dict:
    return {"Get": target}


def join(on: str, *values) -> dict:
    return {"Std:Join": {"On": on, "Values": list(values)}}


def json_get(path: str, property_file: str = "Steps.Evaluate.PropertyFiles.EvaluationReport") -> dict:
    return {"Std:JsonGet": {"PropertyFile": get(property_file), "Path": path}}


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("ModelArtifacts.S3ModelArtifacts", ("ModelArtifacts", "S3ModelArtifacts")),
        (
            "ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri",
            ("ProcessingOutputConfig", "Outputs", "train", "S3Output", "S3Uri"),
        ),
        ('Outputs["x"]', ("Outputs", "x")),
        ("Outputs[0].S3Output", ("Outputs", 0, "S3Output")),
        ("FinalMetricDataList['val:rmse'].Value", ("FinalMetricDataList", "val:rmse", "Value")),
        ("a.b[0].c", ("a", "b", 0, "c")),
        ("a[1][2]", ("a", 1, 2)),
        ("Outputs['with.dot']", ("Outputs", "with.dot")),
    ],
)
def test_property_paths_split_into_parts(text, parts):
    assert parse_property_path(text) == parts


@pytest.mark.parametrize("text", ["", "a[x]", "a['b'", "a[0]b", "a..b", "a[]"])
def test_broken_property_paths_are_rejected_with_the_json_path(text):
    with pytest.raises(DefinitionError, match=r"^step S: Arguments\.X: "):
        parse_property_path(text, "step S: Arguments.X")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (get("Parameters.Threshold"), 5.0),
        (get("Parameters.Count"), 3),
        (get("Parameters.Flag"), True),
        (get("Execution.PipelineExecutionId"), "exec-1"),
        (get("PipelineExperimentConfig.ExperimentName"), "abalone-experimental"),
        (get("PipelineExperimentConfig.TrialName"), "exec-1"),
        (get("Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"), "s3://bucket/run-1/train"),
        (get('Steps.Preprocess.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri'), "s3://bucket/run-1/train"),
        (get("Steps.Train.ModelArtifacts.S3ModelArtifacts"), "s3://bucket/run-1/model.tar.gz"),
        (get("Steps.Train.FinalMetricDataList['val:rmse'].Value"), 2.5),
        (get("Steps.Register.ModelPackageArn"), "arn:aws:sagemaker:us-east-1:000000000000:model-package/abalone/1"),
        (join("/", "s3:/", "bucket", get("Execution.PipelineExecutionId")), "s3://bucket/exec-1"),
        (join("", "n=", get("Parameters.Count"), ",t=", get("Parameters.Threshold")), "n=3,t=5.0"),
        (join("-", get("Parameters.Flag"), False, None), "true-false-null"),
        (join(",", join("/", "a", "b"), "c"), "a/b,c"),
        ({"Std:Join": {"Values": ["a", "b"]}}, "ab"),
        (json_get("regression_metrics.mse.value"), 4.25),
        (json_get("$.regression_metrics.mse.value"), 4.25),
        (json_get("tags[0]"), "a"),
        (json_get("regression_metrics['mse']"), {"value": 4.25}),
        (
            {"Std:JsonGet": {"S3Uri": join("/", "s3://bucket", "run-1", "Train", "output.json"), "Path": "accuracy"}},
            0.91,
        ),
        ("plain", "plain"),
        (42, 42),
        (None, None),
    ],
)
def test_every_expression_form_resolves_to_plain_json(expression, expected):
    assert resolve(expression, make_context()) == expected


def test_resolve_walks_nested_arguments_and_leaves_the_input_untouched():
    arguments = {
        "InputDataConfig": [
            {
                "DataSource": {
                    "S3DataSource": {
                        "S3Uri": get("Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri")
                    }
                }
            }
        ],
        "Environment": {"RUN": get("Execution.PipelineExecutionId"), "FIXED": "1"},
        "HyperParameters": {"count": join("", get("Parameters.Count"))},
    }
    resolved = resolve(arguments, make_context())
    assert resolved == {
        "InputDataConfig": [{"DataSource": {"S3DataSource": {"S3Uri": "s3://bucket/run-1/train"}}}],
        "Environment": {"RUN": "exec-1", "FIXED": "1"},
        "HyperParameters": {"count": "3"},
    }
    assert arguments["Environment"]["RUN"] == get("Execution.PipelineExecutionId")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", "x"),
        (3, "3"),
        (2.5, "2.5"),
        (1.0, "1.0"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ({"a": 1}, '{"a":1}'),
        ([1, "b"], '[1,"b"]'),
    ],
)
def test_join_writes_values_as_text(value, text):
    assert join_text(value) == text


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (get("Foo.Bar"), r'^step Train: Arguments\.X uses unknown expression \{"Get": "Foo\.Bar"\}$'),
        (get("Execution.Nonsense"), r"uses unknown expression"),
        (get("Parameters.A.B"), r"uses unknown expression"),
        (get("Steps.Train"), r"uses unknown expression"),
        (get(3), r"uses unknown expression"),
        ({"Std:Concat": ["a"]}, r'^step Train: Arguments\.X uses unknown expression \{"Std:Concat"'),
        ({"Get": "Parameters.A", "Extra": 1}, r"uses unknown expression"),
        ({"Std:Join": ["a"]}, r"Std:Join needs"),
        ({"Std:Join": {"On": 1, "Values": []}}, r"Std:Join\.On must be a string"),
        ({"Std:JsonGet": {"Path": "a"}}, r"exactly one of 'PropertyFile' and 'S3Uri'"),
        ({"Std:JsonGet": {"PropertyFile": get("Parameters.A"), "Path": "a"}}, r"PropertyFile must be"),
        ({"Std:JsonGet": {"PropertyFile": get("Steps.E.PropertyFiles.R")}}, r"needs a 'Path' string"),
        (get("Steps.Evaluate.PropertyFiles.EvaluationReport"), r"only be read with Std:JsonGet"),
    ],
)
def test_unknown_or_malformed_expressions_name_the_json_path(expression, message):
    with pytest.raises(DefinitionError, match=message):
        list(references({"X": expression}, "step Train: Arguments"))
    with pytest.raises(DefinitionError, match=message):
        resolve({"X": expression}, make_context(), "step Train: Arguments")


def test_unknown_expression_deep_in_a_list_names_the_full_path():
    arguments = {"InputDataConfig": [{"ChannelName": "a"}, {"DataSource": {"S3Uri": join("/", "s3:/", get("X.Y"))}}]}
    with pytest.raises(DefinitionError) as caught:
        list(references(arguments, "step Train: Arguments"))
    assert str(caught.value) == (
        "step Train: Arguments.InputDataConfig[1].DataSource.S3Uri.Std:Join.Values[1] "
        'uses unknown expression {"Get": "X.Y"}'
    )


def test_references_report_kind_name_parts_and_path():
    arguments = {
        "A": get("Parameters.Threshold"),
        "B": [join("/", get("Execution.PipelineName"), get("Steps.Train.ModelArtifacts.S3ModelArtifacts"))],
        "C": json_get("a.b"),
        "D": {"Std:JsonGet": {"S3Uri": join("/", get("Parameters.Region")), "Path": "x"}},
        "E": get("PipelineExperimentConfig.TrialName"),
    }
    found = [(ref.kind, ref.name, ref.parts, ref.path) for ref in references(arguments, "Arguments")]
    assert found == [
        (PARAMETER, "Threshold", (), "Arguments.A"),
        (EXECUTION, "PipelineName", (), "Arguments.B[0].Std:Join.Values[0]"),
        (STEP_PROPERTY, "Train", ("ModelArtifacts", "S3ModelArtifacts"), "Arguments.B[0].Std:Join.Values[1]"),
        (PROPERTY_FILE, "Evaluate", ("EvaluationReport",), "Arguments.C.Std:JsonGet.PropertyFile"),
        (PARAMETER, "Region", (), "Arguments.D.Std:JsonGet.S3Uri.Std:Join.Values[0]"),
        (EXPERIMENT, "TrialName", (), "Arguments.E"),
    ]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (json_get("regression_metrics.rmse.value"), r"no 'rmse' there \(found \['mse'\]\)"),
        (json_get("tags[3]"), r"no 3 there \(found list\)"),
        (get("Parameters.Missing"), r"^Arguments\.X: no value for parameter Missing$"),
        (get("Steps.Train.Nope"), r"no property Train"),
    ],
)
def test_values_missing_at_run_time_raise_evaluation_errors(expression, message):
    with pytest.raises(EvaluationError, match=message):
        resolve({"X": expression}, make_context(), "Arguments")


def test_a_context_without_io_refuses_json_get_with_a_hint():
    context = Context(parameters={}, execution={}, step_property=step_property)
    with pytest.raises(EvaluationError, match="give Context a property_file_uri and read_json"):
        resolve(json_get("a"), context)


def test_json_lookup_reads_nested_lists_and_objects():
    assert json_lookup({"a": [{"b": [10, 20]}]}, "a[0].b[1]") == 20


def compare(kind: str, left, right) -> dict:
    return {"Type": kind, "LeftValue": left, "RightValue": right}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (compare("Equals", get("Parameters.Count"), 3), True),
        (compare("Equals", get("Parameters.Count"), 4), False),
        (compare("Equals", get("Parameters.Count"), 3.0), True),
        (compare("Equals", get("Parameters.Region"), "eu-west-1"), True),
        (compare("Equals", get("Parameters.Region"), "us-east-1"), False),
        (compare("Equals", get("Parameters.Flag"), True), True),
        (compare("Equals", get("Parameters.Flag"), "true"), True),
        (compare("Equals", get("Parameters.Flag"), False), False),
        (compare("Equals", get("Parameters.Limit"), 7), True),
        (compare("GreaterThan", json_get("regression_metrics.mse.value"), 4), True),
        (compare("GreaterThan", json_get("regression_metrics.mse.value"), 4.25), False),
        (compare("GreaterThan", get("Parameters.Limit"), 10), False),
        (compare("GreaterThanOrEqualTo", json_get("regression_metrics.mse.value"), 4.25), True),
        (compare("GreaterThanOrEqualTo", json_get("regression_metrics.mse.value"), 5), False),
        (compare("LessThan", json_get("regression_metrics.mse.value"), get("Parameters.Threshold")), True),
        (compare("LessThan", get("Parameters.Threshold"), json_get("regression_metrics.mse.value")), False),
        (compare("LessThanOrEqualTo", get("Parameters.Threshold"), 5), True),
        (compare("LessThanOrEqualTo", get("Parameters.Threshold"), "4.5"), False),
        (compare("LessThan", "2026-01-01", "2026-02-01"), True),
        ({"Type": "In", "QueryValue": get("Parameters.Region"), "Values": ["eu-west-1", "us-east-1"]}, True),
        ({"Type": "In", "QueryValue": get("Parameters.Region"), "Values": ["us-east-1"]}, False),
        ({"Type": "In", "QueryValue": get("Parameters.Count"), "Values": [1, "3"]}, True),
        ({"Type": "In", "QueryValue": "x", "Values": []}, False),
        ({"Type": "Not", "Condition": compare("Equals", 1, 1)}, False),
        ({"Type": "Not", "Condition": compare("Equals", 1, 2)}, True),
        ({"Type": "Not", "Condition": {"Type": "Not", "Condition": compare("Equals", 1, 1)}}, True),
        ({"Type": "Or", "Conditions": [compare("Equals", 1, 2), compare("LessThan", 1, 2)]}, True),
        ({"Type": "Or", "Conditions": [compare("Equals", 1, 2), compare("LessThan", 2, 1)]}, False),
        ({"Type": "Or", "Conditions": []}, False),
        (
            {
                "Type": "Or",
                "Conditions": [
                    {"Type": "Not", "Condition": compare("GreaterThanOrEqualTo", get("Parameters.Threshold"), 1.0)},
                    {"Type": "In", "QueryValue": get("Parameters.Region"), "Values": ["eu-west-1"]},
                ],
            },
            True,
        ),
    ],
)
def test_every_condition_type_evaluates(condition, expected):
    assert evaluate_condition(condition, make_context()) is expected


@pytest.mark.parametrize(("threshold", "expected"), [(5.0, True), (4.0, False)])
def test_a_condition_step_needs_all_its_conditions(threshold, expected):
    conditions = [
        compare("LessThanOrEqualTo", json_get("regression_metrics.mse.value"), get("Parameters.Threshold")),
        compare("Equals", get("Parameters.Flag"), True),
    ]
    assert evaluate_conditions(conditions, make_context(Threshold=threshold)) is expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"Type": "Between", "LeftValue": 1, "RightValue": 2}, r"^Conditions\[0\] is not a condition .*use one of"),
        ({"Type": "Equals", "LeftValue": 1}, r"^Conditions\[0\]: a Equals condition needs 'RightValue'$"),
        ({"Type": "Not", "Expression": compare("Equals", 1, 1)}, r"a Not condition needs 'Condition'"),
        ({"Type": "Or", "Conditions": {}}, r"^Conditions\[0\]\.Conditions must be a list$"),
        ({"Type": "In", "QueryValue": 1, "Values": 1}, r"Values must be a list"),
        ({"Type": "Not", "Condition": {"Type": "Nope"}}, r"^Conditions\[0\]\.Condition is not a condition"),
        (compare("Equals", get("Foo.Bar"), 1), r"^Conditions\[0\]\.LeftValue uses unknown expression"),
    ],
)
def test_malformed_conditions_name_the_json_path(condition, message):
    with pytest.raises(DefinitionError, match=message):
        evaluate_conditions([condition], make_context())


def test_comparing_incompatible_values_is_a_clear_error():
    with pytest.raises(EvaluationError, match=r"GreaterThan cannot compare \"abc\" with 1"):
        evaluate_condition(compare("GreaterThan", "abc", 1), make_context())
