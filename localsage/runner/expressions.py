"""Expressions of a SageMaker pipeline definition (schema 2020-12-01): find them, resolve them, evaluate conditions.

Everything here is pure: the values of parameters, execution variables and step properties, and the reading of
JSON files, come in through a `Context` that the orchestrator builds. Errors name the JSON path where the
expression sits, e.g. `step Train: Arguments.InputDataConfig[0].DataSource.S3DataSource.S3Uri`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from localsage.errors import UserError

GET = "Get"
JOIN = "Std:Join"
JSON_GET = "Std:JsonGet"
EXECUTION_VARIABLES = frozenset(
    {
        "PipelineExecutionId",
        "PipelineExecutionArn",
        "PipelineName",
        "PipelineArn",
        "StartDateTime",
        "CurrentDateTime",
        "TrainingJobName",
        "ProcessingJobName",
    }
)
# The SDK's defaults for PipelineExperimentConfig, expressed as the execution variables they stand for.
EXPERIMENT_CONFIG = {"ExperimentName": "PipelineName", "TrialName": "PipelineExecutionId"}
COMPARISONS = {
    "Equals": lambda left, right: left == right,
    "GreaterThan": lambda left, right: left > right,
    "GreaterThanOrEqualTo": lambda left, right: left >= right,
    "LessThan": lambda left, right: left < right,
    "LessThanOrEqualTo": lambda left, right: left <= right,
}
CONDITION_TYPES = frozenset({*COMPARISONS, "In", "Not", "Or"})

PARAMETER = "parameter"
EXECUTION = "execution"
EXPERIMENT = "experiment"
STEP_PROPERTY = "step property"
PROPERTY_FILE = "property file"
# Inside a ForEach step: the item of the iteration, and (in its Selector) a body step's properties in one iteration.
CURRENT_ITEM = "current item"
ITERATION_OUTPUT = "iteration output"
CURRENT_ITEM_GET = "ForEach.CurrentItem"

PathPart = str | int
_PATH_TOKEN = re.compile(r"""\.?([^.\[\]'"]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]""")


class DefinitionError(UserError):
    """The pipeline definition is wrong: the message names the step and the JSON path, and what to do."""


class EvaluationError(UserError):
    """An expression could not be evaluated with this execution's values (a missing property or JSON key)."""


@dataclass(frozen=True)
class Reference:
    """One `Get` found in a definition.

    `kind` is PARAMETER, EXECUTION, EXPERIMENT, STEP_PROPERTY or PROPERTY_FILE; `name` is the parameter, the
    variable or the referenced step; `parts` is the parsed property path (`("ModelArtifacts", "S3ModelArtifacts")`),
    or `(file_name,)` for a property file; `path` is the JSON path where the reference was found.
    """

    kind: str
    name: str
    parts: tuple[PathPart, ...]
    path: str


@dataclass(frozen=True)
class Context:
    """What expressions are resolved against, provided by the orchestrator.

    - `parameters`: typed parameter values (see `PipelineDefinition.resolve_parameters`).
    - `execution`: execution variable name (`PipelineExecutionId`, ...) -> value.
    - `step_property(step_name, parts)`: a finished step's property, e.g. `("ProcessingOutputConfig", "Outputs",
      "train", "S3Output", "S3Uri")`; raise `EvaluationError` (or return a value) as the backend sees fit.
    - `property_file_uri(step_name, file_name)`: the S3 URI of a step's property file
      (see `definition.property_file_locator`).
    - `read_json(s3_uri)`: the parsed JSON document at an S3 URI.
    """

    parameters: Mapping[str, object]
    execution: Mapping[str, object]
    step_property: Callable[[str, tuple[PathPart, ...]], object]
    property_file_uri: Callable[[str, str], str] = field(default=lambda step, name: _no_io("property files"))
    read_json: Callable[[str], object] = field(default=lambda uri: _no_io("JSON files"))
    current_item: tuple[object, ...] = ()  # (the item,) in a ForEach body's iteration, else empty
    # The definition's PipelineExperimentConfig, resolved (ExperimentName, TrialName); empty: the SDK's defaults.
    experiment: Mapping[str, object] = field(default_factory=dict)


def _no_io(what: str):
    raise EvaluationError(f"this context cannot read {what}: give Context a property_file_uri and read_json")


def child_path(path: str, key: str | int) -> str:
    """The JSON path of `key` below `path`: `a.b`, `a[0]`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def parse_property_path(text: str, path: str = "") -> tuple[PathPart, ...]:
    """Split `Outputs['train'].S3Output.S3Uri` or `a.b[0].c` into `("Outputs", "train", "S3Output", "S3Uri")`."""
    parts: list[PathPart] = []
    position = 0
    while position < len(text):
        match = _PATH_TOKEN.match(text, position)
        if not match or (match.group(1) is not None and position > 0 and text[position] != "."):
            raise DefinitionError(f"{path}: cannot parse the property path {text!r} at character {position + 1}")
        name, index, single_quoted, double_quoted = match.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(next(part for part in (name, single_quoted, double_quoted) if part is not None))
        position = match.end()
    if not parts:
        raise DefinitionError(f"{path}: the property path is empty")
    return tuple(parts)


def is_expression(value: object) -> bool:
    """True for a `Get`, `Std:Join` or `Std:JsonGet` expression (its value is known only when the step runs)."""
    return isinstance(value, dict) and any(key == GET or key.startswith("Std:") for key in value)


def _unknown(value: object, path: str) -> DefinitionError:
    return DefinitionError(f"{path} uses unknown expression {json.dumps(value)}")


def _expression_key(value: dict, path: str) -> str | None:
    """`Get`, `Std:Join` or `Std:JsonGet` when `value` is an expression, None for a plain mapping."""
    keys = [key for key in value if key == GET or key.startswith("Std:")]
    if not keys:
        return None
    if len(value) != 1 or keys[0] not in (GET, JOIN, JSON_GET):
        raise _unknown(value, path)
    return keys[0]


def parse_get(value: dict, path: str) -> Reference:
    """The reference a `{"Get": "..."}` expression makes, or DefinitionError if the evaluator does not know it."""
    target = value[GET]
    if not isinstance(target, str):
        raise _unknown(value, path)
    root, _, rest = target.partition(".")
    if root == "Parameters" and rest and "." not in rest:
        return Reference(PARAMETER, rest, (), path)
    if root == "Execution" and rest in EXECUTION_VARIABLES:
        return Reference(EXECUTION, rest, (), path)
    if root == "PipelineExperimentConfig" and rest in EXPERIMENT_CONFIG:
        return Reference(EXPERIMENT, rest, (), path)
    if target == CURRENT_ITEM_GET or target.startswith((CURRENT_ITEM_GET + ".", CURRENT_ITEM_GET + "[")):
        remainder = target[len(CURRENT_ITEM_GET) :].lstrip(".")
        return Reference(CURRENT_ITEM, "CurrentItem", parse_property_path(remainder, path) if remainder else (), path)
    if root == "IterationOutput":
        step_name, _, property_path = rest.partition(".")
        if step_name and property_path:
            return Reference(ITERATION_OUTPUT, step_name, parse_property_path(property_path, path), path)
    if root == "Steps":
        step_name, _, property_path = rest.partition(".")
        if step_name and property_path:
            parts = parse_property_path(property_path, path)
            if parts[0] == "PropertyFiles" and len(parts) == 2:
                return Reference(PROPERTY_FILE, step_name, parts[1:], path)
            return Reference(STEP_PROPERTY, step_name, parts, path)
    raise _unknown(value, path)


def _join_values(expression: dict, path: str) -> list:
    arguments = expression[JOIN]
    if not isinstance(arguments, dict) or not isinstance(arguments.get("Values"), list):
        raise DefinitionError(
            f"{path}: Std:Join needs {{'On': separator, 'Values': [...]}}, got {json.dumps(arguments)}"
        )
    if not isinstance(arguments.get("On", ""), str):
        raise DefinitionError(f"{path}.Std:Join.On must be a string")
    return arguments["Values"]


def _json_get_source(expression: dict, path: str) -> tuple[str, object]:
    """("PropertyFile", its parsed Reference) or ("S3Uri", the URI expression) of a `Std:JsonGet`."""
    arguments = expression[JSON_GET]
    if not isinstance(arguments, dict) or not isinstance(arguments.get("Path"), str):
        raise DefinitionError(f"{path}: Std:JsonGet needs a 'Path' string, got {json.dumps(arguments)}")
    sources = [key for key in ("PropertyFile", "S3Uri") if key in arguments]
    if len(sources) != 1:
        raise DefinitionError(f"{path}: Std:JsonGet needs exactly one of 'PropertyFile' and 'S3Uri'")
    if sources[0] == "S3Uri":
        return "S3Uri", arguments["S3Uri"]
    file_path = child_path(child_path(path, JSON_GET), "PropertyFile")
    holder = arguments["PropertyFile"]
    reference = parse_get(holder, file_path) if isinstance(holder, dict) and GET in holder else None
    if reference is None or reference.kind != PROPERTY_FILE:
        raise DefinitionError(
            f"{file_path} must be {{'Get': 'Steps.<step>.PropertyFiles.<name>'}}, got {json.dumps(holder)}"
        )
    return "PropertyFile", reference


def references(value: object, path: str = "") -> Iterator[Reference]:
    """Every reference inside a JSON value, depth first; DefinitionError on an expression the evaluator lacks."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from references(item, child_path(path, index))
    if not isinstance(value, dict):
        return
    key = _expression_key(value, path)
    if key is None:
        for name, item in value.items():
            yield from references(item, child_path(path, name))
    elif key == GET:
        reference = parse_get(value, path)
        if reference.kind == PROPERTY_FILE:
            raise DefinitionError(f"{path}: a property file can only be read with Std:JsonGet, not with Get")
        yield reference
    elif key == JOIN:
        yield from references(_join_values(value, path), child_path(child_path(path, JOIN), "Values"))
    else:
        source, detail = _json_get_source(value, path)
        if source == "PropertyFile":
            yield detail
        else:
            yield from references(detail, child_path(child_path(path, JSON_GET), "S3Uri"))


def condition_references(condition: object, path: str) -> Iterator[Reference]:
    """Check one condition's shape (its Type and operands) and yield the references in its operands."""
    kind = condition.get("Type") if isinstance(condition, dict) else None
    if kind not in CONDITION_TYPES:
        raise DefinitionError(
            f"{path} is not a condition the local runner knows ({json.dumps(condition)}): "
            f"use one of {', '.join(sorted(CONDITION_TYPES))}"
        )
    for operand, shape in _CONDITION_OPERANDS[kind].items():
        if operand not in condition:
            raise DefinitionError(f"{path}: a {kind} condition needs '{operand}'")
        operand_path = child_path(path, operand)
        if shape == "condition":
            yield from condition_references(condition[operand], operand_path)
        elif shape == "conditions" or shape == "values":
            if not isinstance(condition[operand], list):
                raise DefinitionError(f"{operand_path} must be a list")
            for index, item in enumerate(condition[operand]):
                item_path = child_path(operand_path, index)
                yield from (
                    condition_references(item, item_path) if shape == "conditions" else references(item, item_path)
                )
        else:
            yield from references(condition[operand], operand_path)


_CONDITION_OPERANDS = {
    **{kind: {"LeftValue": "value", "RightValue": "value"} for kind in COMPARISONS},
    "In": {"QueryValue": "value", "Values": "values"},
    "Not": {"Condition": "condition"},
    "Or": {"Conditions": "conditions"},
}


def resolve(value: object, context: Context, path: str = "") -> object:
    """`value` with every expression inside replaced by its plain JSON value (a new structure; `value` is kept)."""
    if isinstance(value, list):
        return [resolve(item, context, child_path(path, index)) for index, item in enumerate(value)]
    if not isinstance(value, dict):
        return value
    key = _expression_key(value, path)
    if key is None:
        return {name: resolve(item, context, child_path(path, name)) for name, item in value.items()}
    if key == GET:
        return _resolve_get(parse_get(value, path), context)
    if key == JOIN:
        values_path = child_path(child_path(path, JOIN), "Values")
        items = resolve(_join_values(value, path), context, values_path)
        return value[JOIN].get("On", "").join(join_text(item) for item in items)
    return _resolve_json_get(value, context, path)


def _resolve_get(reference: Reference, context: Context) -> object:
    if reference.kind in (STEP_PROPERTY, ITERATION_OUTPUT):
        return context.step_property(reference.name, reference.parts)
    if reference.kind == CURRENT_ITEM:
        if not context.current_item:
            raise EvaluationError(f"{reference.path}: {CURRENT_ITEM_GET} is only known inside a ForEach step's body")
        return property_at(context.current_item[0], reference.parts, f"{reference.path}: {CURRENT_ITEM_GET}")
    if reference.kind == PROPERTY_FILE:
        raise DefinitionError(f"{reference.path}: a property file can only be read with Std:JsonGet, not with Get")
    if reference.kind == EXPERIMENT and reference.name in context.experiment:
        return context.experiment[reference.name]
    variables = context.parameters if reference.kind == PARAMETER else context.execution
    name = EXPERIMENT_CONFIG[reference.name] if reference.kind == EXPERIMENT else reference.name
    if name not in variables:
        raise EvaluationError(f"{reference.path}: no value for {reference.kind} {name}")
    return variables[name]


def property_at(value: object, parts: tuple[PathPart, ...], what: str) -> object:
    """The value at `parts` inside `value` (object keys, list indexes; an index also picks a map's n-th value, as
    `Outputs[0]` does); EvaluationError naming `what` when it is not there."""
    current = value
    for part in parts:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, int) and part < len(current):
            current = list(current.values())[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            raise EvaluationError(f"{what} has no property {'.'.join(str(p) for p in parts)}")
    return current


def _resolve_json_get(expression: dict, context: Context, path: str) -> object:
    source, detail = _json_get_source(expression, path)
    if source == "PropertyFile":
        uri = context.property_file_uri(detail.name, detail.parts[0])
    else:
        uri = resolve(detail, context, child_path(child_path(path, JSON_GET), "S3Uri"))
    json_path = expression[JSON_GET]["Path"]
    return json_lookup(context.read_json(uri), json_path, f"{path} (Std:JsonGet {json_path!r} in {uri})")


def json_lookup(document: object, json_path: str, where: str = "") -> object:
    """The value at `a.b[0].c` (or `$.a.b`) inside a parsed JSON document; EvaluationError naming what is there."""
    current = document
    for part in parse_property_path(json_path.removeprefix("$").lstrip("."), where):
        in_list = isinstance(part, int) and isinstance(current, list) and part < len(current)
        in_object = isinstance(part, str) and isinstance(current, dict) and part in current
        if in_list or in_object:
            current = current[part]
        else:
            present = sorted(current) if isinstance(current, dict) else type(current).__name__
            raise EvaluationError(f"{where}: no {part!r} there (found {present}): fix the Path or the step's output")
    return current


def join_text(value: object) -> str:
    """A value as `Std:Join` writes it: JSON spelling for booleans, null and containers; plain text otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def evaluate_condition(condition: dict, context: Context, path: str = "") -> bool:
    """Whether one condition (Equals, GreaterThan..., In, Not, Or; shapes as the SDK writes them) holds."""
    list(condition_references(condition, path))
    return _evaluate(condition, context, path)


def _evaluate(condition: dict, context: Context, path: str) -> bool:
    kind = condition["Type"]
    if kind == "Not":
        return not _evaluate(condition["Condition"], context, child_path(path, "Condition"))
    if kind == "Or":
        return any(
            _evaluate(item, context, child_path(child_path(path, "Conditions"), index))
            for index, item in enumerate(condition["Conditions"])
        )
    if kind == "In":
        query = resolve(condition["QueryValue"], context, child_path(path, "QueryValue"))
        candidates = resolve(condition["Values"], context, child_path(path, "Values"))
        return any(_compare("Equals", query, candidate, path) for candidate in candidates)
    left = resolve(condition["LeftValue"], context, child_path(path, "LeftValue"))
    right = resolve(condition["RightValue"], context, child_path(path, "RightValue"))
    return _compare(kind, left, right, path)


def evaluate_conditions(conditions: list, context: Context, path: str = "Conditions") -> bool:
    """A ConditionStep's outcome: True when every condition in its `Conditions` list holds."""
    return all(
        evaluate_condition(condition, context, child_path(path, index)) for index, condition in enumerate(conditions)
    )


def _compare(kind: str, left: object, right: object, path: str) -> bool:
    left, right = _comparable(left, right)
    try:
        return COMPARISONS[kind](left, right)
    except TypeError:
        raise EvaluationError(
            f"{path}: {kind} cannot compare {json.dumps(left)} with {json.dumps(right)}: "
            "make both sides numbers, strings or booleans"
        ) from None


def _comparable(left: object, right: object) -> tuple[object, object]:
    """Numbers compare numerically (also against numeric strings, as JsonGet and String parameters give)."""
    left_number, right_number = _as_number(left), _as_number(right)
    if left_number is not None and right_number is not None and (_is_number(left) or _is_number(right)):
        return left_number, right_number
    if isinstance(left, bool) or isinstance(right, bool):
        return _as_bool(left), _as_bool(right)
    return left, right


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_number(value: object) -> float | None:
    if _is_number(value):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _as_bool(value: object) -> object:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value
