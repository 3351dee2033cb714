"""A SageMaker pipeline definition (schema 2020-12-01, what `Pipeline.definition()` returns) as plain data.

`load()` parses and checks the document's own structure; `validate()` checks it against what the local runner
can do, before anything runs. The step graph (`dependencies`, `branch_owner`, `topological_order`,
`skipped_steps`) follows SageMaker: a step waits for its DependsOn and for every step it reads a property of,
and the steps in a ConditionStep's IfSteps/ElseSteps run only when that branch is taken.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from localsage.runner.expressions import (
    CURRENT_ITEM,
    EXECUTION,
    EXPERIMENT,
    ITERATION_OUTPUT,
    PARAMETER,
    PROPERTY_FILE,
    STEP_PROPERTY,
    DefinitionError,
    PathPart,
    Reference,
    child_path,
    condition_references,
    references,
)

__all__ = [
    "Branch",
    "CacheConfig",
    "DefinitionError",
    "Parameter",
    "PipelineDefinition",
    "PropertyFile",
    "Step",
    "load",
    "property_file_locator",
    "validate",
]

SCHEMA_VERSION = "2020-12-01"
PARAMETER_TYPES = {"String": (str,), "Integer": (int,), "Float": (float, int), "Boolean": (bool,)}
COMPLETED = "Completed"
# DependsOn run conditions (SDK v3's TriggerCondition): the upstream outcomes that let the dependent step run.
TRIGGERS = ("Completed", "Failed", "Stopped", "Any")
# The one step type whose arguments hold other steps (its IfSteps and ElseSteps branches).
CONDITION_TYPE = "Condition"
BRANCHES = {"IfSteps": True, "ElseSteps": False}
# The step type whose arguments hold the steps it runs once per item (its ForEachBody), and what a body may not hold.
FOR_EACH_TYPE = "ForEach"
FOR_EACH_BODY = "ForEachBody"
NOT_IN_A_BODY = frozenset({CONDITION_TYPE, "Fail", FOR_EACH_TYPE})


@dataclass(frozen=True)
class Parameter:
    """A pipeline parameter: `type` is String, Integer, Float or Boolean; `default` is None when there is none."""

    name: str
    type: str
    default: object = None

    def describe(self) -> str:
        default = "required" if self.default is None else f"default {json.dumps(self.default)}"
        return f"{self.name} ({self.type}, {default})"


@dataclass(frozen=True)
class CacheConfig:
    enabled: bool
    expire_after: str | None = None


@dataclass(frozen=True)
class PropertyFile:
    """A JSON file a step writes into one of its outputs, for `Std:JsonGet` to read."""

    name: str
    output_name: str
    file_path: str


@dataclass(frozen=True)
class Step:
    """One step. For a Condition step `arguments` holds only `Conditions`; its branches are `if_steps`/`else_steps`.

    `depends_on` maps each DependsOn step to its trigger (`Completed`, or `Failed`/`Stopped`/`Any` for run
    conditions); `path` is where the step sits in the document (`Steps[2].Arguments.IfSteps[0]`).
    """

    name: str
    type: str
    arguments: dict
    path: str
    depends_on: dict[str, str] = field(default_factory=dict)
    cache_config: CacheConfig | None = None
    property_files: dict[str, PropertyFile] = field(default_factory=dict)
    conditions: list = field(default_factory=list)
    if_steps: tuple[str, ...] = ()
    else_steps: tuple[str, ...] = ()
    body: tuple[Step, ...] = ()  # a ForEach step's body steps, in document order
    stub: dict | None = None  # the properties the user gave in place of running the step (`--stub`)
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def where(self) -> str:
        """The prefix of every message about this step."""
        return f"step {self.name}: "


class Branch(NamedTuple):
    """A step inside a ConditionStep branch runs only when `condition_step`'s outcome equals `taken_when`."""

    condition_step: str
    taken_when: bool


@dataclass
class PipelineDefinition:
    """A loaded definition: `parameters` and `steps` in document order (branch steps after their condition)."""

    parameters: dict[str, Parameter]
    steps: dict[str, Step]
    raw: dict
    _branches: dict[str, Branch] = field(default_factory=dict, repr=False)

    def step(self, name: str) -> Step:
        """The step called `name`; DefinitionError listing the steps if there is none."""
        if name not in self.steps:
            raise DefinitionError(f"there is no step {name!r}: steps are {', '.join(self.steps)}")
        return self.steps[name]

    def resolve_parameters(self, overrides: Mapping[str, object] | None = None) -> dict[str, object]:
        """Every parameter's typed value: defaults, replaced by `overrides` (text like `--param Name=Value` gives).

        Raises DefinitionError for an unknown name, a value of the wrong type, or a parameter with neither a
        default nor an override; the message lists the parameters and their types.
        """
        overrides = dict(overrides or {})
        listing = "; parameters: " + (", ".join(p.describe() for p in self.parameters.values()) or "none")
        unknown = sorted(set(overrides) - set(self.parameters))
        if unknown:
            raise DefinitionError(f"unknown parameter {', '.join(unknown)}{listing}")
        values = {}
        for name, parameter in self.parameters.items():
            if name in overrides:
                values[name] = _convert(parameter, overrides[name], listing)
            elif parameter.default is None:
                raise DefinitionError(
                    f"parameter {name} has no default: pass a value, e.g. --param {name}=<{parameter.type}>{listing}"
                )
            else:
                values[name] = parameter.default
        return values

    def with_stubs(self, stubs: Mapping[str, dict]) -> PipelineDefinition:
        """This definition with the given steps stubbed: each is not run, its properties are the ones given."""
        for name in stubs:
            if self.step(name).type in (CONDITION_TYPE, FOR_EACH_TYPE):
                raise DefinitionError(
                    f"step {name}: a {self.step(name).type} step cannot be stubbed (it decides which steps run)"
                )
        steps = {name: replace(step, stub=stubs.get(name)) for name, step in self.steps.items()}
        return replace(self, steps=steps)

    def step_references(self, name: str) -> list[Reference]:
        """Every reference in a step's arguments (or conditions), with JSON paths prefixed by `step <name>: `."""
        return self._references[name]

    @cached_property
    def _references(self) -> dict[str, list[Reference]]:
        return {step.name: list(_scan_step(step)) for step in self.steps.values()}

    def dependencies(self, name: str) -> set[str]:
        """The steps that must be settled before `name`: DependsOn, referenced steps, and the owning condition."""
        step = self.step(name)
        needed = set(step.depends_on)
        needed.update(ref.name for ref in self.step_references(name) if ref.kind not in _NOT_STEPS)
        if name in self._branches:
            needed.add(self._branches[name].condition_step)
        return needed

    def branch_owner(self, name: str) -> Branch | None:
        """The ConditionStep and outcome that `name` runs under, or None for a step outside any branch."""
        self.step(name)
        return self._branches.get(name)

    def trigger(self, name: str, upstream: str) -> str:
        """The upstream outcome that lets step `name` run: its DependsOn trigger, else Completed (a property it
        reads, its branch's condition)."""
        return self.step(name).depends_on.get(upstream, COMPLETED)

    @cached_property
    def failure_handlers(self) -> frozenset[str]:
        """Steps that run on an upstream failure or stop (a DependsOn trigger other than Completed), and every step
        after them: what still runs once a step has failed."""
        handlers = {name for name, step in self.steps.items() if set(step.depends_on.values()) - {COMPLETED}}
        for name in self.topological_order():
            if self.dependencies(name) & handlers:
                handlers.add(name)
        return frozenset(handlers)

    def topological_order(self) -> list[str]:
        """All step names, each after its dependencies, ties in document order; DefinitionError on a cycle."""
        remaining = {name: self.dependencies(name) & set(self.steps) for name in self.steps}
        order: list[str] = []
        while remaining:
            ready = [name for name, needs in remaining.items() if not needs]
            if not ready:
                raise DefinitionError(
                    f"steps {', '.join(sorted(remaining))} depend on each other in a cycle: "
                    "remove a DependsOn or a property reference"
                )
            for name in ready:
                del remaining[name]
            for needs in remaining.values():
                needs.difference_update(ready)
            order.extend(ready)
        return order

    def skipped_steps(self, outcomes: Mapping[str, bool]) -> set[str]:
        """Steps that must not run given the ConditionStep `outcomes` known so far (name -> result).

        A step is skipped when its branch was not taken, when its condition step is skipped, or when any step
        it depends on is skipped. Steps under a condition that has no outcome yet are not (yet) skipped.
        """
        skipped: set[str] = set()
        for name in self.topological_order():
            branch = self._branches.get(name)
            not_taken = (
                branch is not None and outcomes.get(branch.condition_step, branch.taken_when) != branch.taken_when
            )
            if not_taken or self.dependencies(name) & skipped:
                skipped.add(name)
        return skipped


_NOT_STEPS = {PARAMETER, EXECUTION, EXPERIMENT, CURRENT_ITEM, ITERATION_OUTPUT}


def _scan_step(step: Step) -> Iterator[Reference]:
    if step.type == FOR_EACH_TYPE:
        # The ForEach step itself reads its items, its selector, and what its body reads outside the body.
        siblings = {body_step.name for body_step in step.body}
        outer = {key: value for key, value in step.arguments.items() if key != FOR_EACH_BODY}
        yield from references(outer, step.where + "Arguments")
        for body_step in step.body:
            for reference in _scan_step(body_step):
                if reference.name not in siblings or reference.kind in _NOT_STEPS:
                    yield reference
    elif step.type == CONDITION_TYPE:
        conditions_path = step.where + "Arguments.Conditions"
        for index, condition in enumerate(step.conditions):
            yield from condition_references(condition, child_path(conditions_path, index))
    else:
        yield from references(step.arguments, step.where + "Arguments")


def _convert(parameter: Parameter, value: object, listing: str) -> object:
    if not isinstance(value, str):
        if _fits(parameter.type, value):
            return float(value) if parameter.type == "Float" else value
    elif parameter.type == "String":
        return value
    elif parameter.type == "Boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    else:
        try:
            number = int(value) if parameter.type == "Integer" else float(value)
        except ValueError:
            number = None
        if number is not None and math.isfinite(number):
            return number
    raise DefinitionError(f"parameter {parameter.name}: {json.dumps(value)} is not a {parameter.type}{listing}")


def _fits(type_name: str, value: object) -> bool:
    return isinstance(value, PARAMETER_TYPES[type_name]) and (type_name == "Boolean") == isinstance(value, bool)


def load(source: str | bytes | dict | Path) -> PipelineDefinition:
    """Parse a definition from JSON text, bytes, a parsed dict, or a file path (a str not starting with `{`).

    Checks Version, Parameters (names, types, defaults), the shape of every step (nested branch steps too),
    unique step names and DependsOn entries. Reference targets and step types are checked by `validate()`.
    """
    document = _parse(source)
    if document.get("Version") != SCHEMA_VERSION:
        raise DefinitionError(
            f"Version is {json.dumps(document.get('Version'))}: the local runner reads schema {SCHEMA_VERSION}"
        )
    parameters = _load_parameters(document.get("Parameters") or [])
    steps: dict[str, Step] = {}
    branches: dict[str, Branch] = {}
    if not isinstance(document.get("Steps"), list):
        raise DefinitionError("Steps must be a list of steps")
    for index, raw_step in enumerate(document["Steps"]):
        _load_step(raw_step, f"Steps[{index}]", steps, branches, None)
    return PipelineDefinition(parameters=parameters, steps=steps, raw=document, _branches=branches)


def _parse(source: str | bytes | dict | Path) -> dict:
    if isinstance(source, dict):
        return source
    origin = "the pipeline definition"
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        origin = str(source)
        try:
            source = Path(source).read_bytes()
        except OSError as exc:
            raise DefinitionError(f"cannot read the pipeline definition {origin}: {exc.strerror}") from None
    try:
        document = json.loads(source)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{origin} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DefinitionError(f"{origin} must be a JSON object with Version, Parameters and Steps")
    return document


def _load_parameters(raw_parameters: object) -> dict[str, Parameter]:
    if not isinstance(raw_parameters, list):
        raise DefinitionError("Parameters must be a list of {Name, Type, DefaultValue}")
    parameters: dict[str, Parameter] = {}
    for index, raw in enumerate(raw_parameters):
        path = f"Parameters[{index}]"
        name = raw.get("Name") if isinstance(raw, dict) else None
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"{path} needs a Name")
        kind = raw.get("Type", "String")
        if kind not in PARAMETER_TYPES:
            raise DefinitionError(
                f"{path} ({name}) has Type {json.dumps(kind)}: use one of {', '.join(PARAMETER_TYPES)}"
            )
        default = raw.get("DefaultValue")
        if default is not None and not _fits(kind, default):
            raise DefinitionError(f"{path} ({name}): DefaultValue {json.dumps(default)} is not a {kind}")
        if name in parameters:
            raise DefinitionError(f"{path}: parameter {name} is defined twice")
        parameters[name] = Parameter(name, kind, float(default) if kind == "Float" and default is not None else default)
    return parameters


def _load_step(raw: object, path: str, steps: dict[str, Step], branches: dict[str, Branch], owner: Branch | None):
    name = raw.get("Name") if isinstance(raw, dict) else None
    if not isinstance(name, str) or not name:
        raise DefinitionError(f"{path} needs a Name")
    where = f"step {name}: "
    if name in steps:
        raise DefinitionError(f"{where}the name is used by two steps ({steps[name].path} and {path}): rename one")
    kind = raw.get("Type")
    arguments = raw.get("Arguments", {})
    if not isinstance(kind, str) or not isinstance(arguments, dict):
        raise DefinitionError(f"{where}{path} needs a Type string and an Arguments object")
    step = Step(
        name=name,
        type=kind,
        arguments=arguments,
        path=path,
        depends_on=_load_depends_on(raw.get("DependsOn", []), where),
        cache_config=_load_cache_config(raw.get("CacheConfig"), where),
        property_files=_load_property_files(raw.get("PropertyFiles", []), where),
        raw=raw,
    )
    if owner is not None:
        branches[name] = owner
    steps[name] = step
    if kind == CONDITION_TYPE:
        _load_condition(step, steps, branches)
    elif kind == FOR_EACH_TYPE:
        steps[name] = _load_for_each(step, steps)


def _load_for_each(step: Step, steps: dict[str, Step]) -> Step:
    """A ForEach step with its body loaded (names unique in the whole definition; the body is not scheduled)."""
    raw_body = step.arguments.get(FOR_EACH_BODY)
    if not isinstance(raw_body, list) or not raw_body:
        raise DefinitionError(f"{step.where}Arguments.{FOR_EACH_BODY} must be a non-empty list of steps")
    body: dict[str, Step] = {}
    for index, raw in enumerate(raw_body):
        _load_step(raw, f"{step.path}.Arguments.{FOR_EACH_BODY}[{index}]", body, {}, None)
    for name, body_step in body.items():
        if name in steps:
            raise DefinitionError(
                f"step {name}: the name is used by two steps ({steps[name].path} and {body_step.path})"
            )
        if body_step.type in NOT_IN_A_BODY:
            raise DefinitionError(
                f"{body_step.where}a ForEach body cannot hold a {body_step.type} step (as in SageMaker)"
            )
    return replace(step, body=tuple(body.values()))


def _load_condition(step: Step, steps: dict[str, Step], branches: dict[str, Branch]):
    conditions = step.arguments.get("Conditions")
    if not isinstance(conditions, list):
        raise DefinitionError(f"{step.where}Arguments.Conditions must be a list of conditions")
    members: dict[str, tuple[str, ...]] = {}
    for key, taken_when in BRANCHES.items():
        branch = step.arguments.get(key, [])
        if not isinstance(branch, list):
            raise DefinitionError(f"{step.where}Arguments.{key} must be a list of steps")
        for index, raw in enumerate(branch):
            _load_step(raw, f"{step.path}.Arguments.{key}[{index}]", steps, branches, Branch(step.name, taken_when))
        members[key] = tuple(raw["Name"] for raw in branch)
    steps[step.name] = replace(
        step,
        arguments={"Conditions": conditions},
        conditions=conditions,
        if_steps=members["IfSteps"],
        else_steps=members["ElseSteps"],
    )


def _load_depends_on(raw: object, where: str) -> dict[str, str]:
    if not isinstance(raw, list):
        raise DefinitionError(f"{where}DependsOn must be a list of step names")
    depends_on = {}
    for index, entry in enumerate(raw):
        if isinstance(entry, str):
            depends_on[entry] = COMPLETED
        elif isinstance(entry, dict) and isinstance(entry.get("Step"), str):
            depends_on[entry["Step"]] = entry.get("Trigger", COMPLETED)
        else:
            raise DefinitionError(f"{where}DependsOn[{index}] must be a step name or {{'Step': name, 'Trigger': ...}}")
    return depends_on


def _load_cache_config(raw: object, where: str) -> CacheConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("Enabled", False), bool):
        raise DefinitionError(f"{where}CacheConfig must be {{'Enabled': true|false, 'ExpireAfter': 'P30D'}}")
    return CacheConfig(enabled=raw.get("Enabled", False), expire_after=raw.get("ExpireAfter"))


def _load_property_files(raw: object, where: str) -> dict[str, PropertyFile]:
    if not isinstance(raw, list):
        raise DefinitionError(f"{where}PropertyFiles must be a list")
    files = {}
    for index, entry in enumerate(raw):
        keys = ("PropertyFileName", "OutputName", "FilePath")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(key), str) for key in keys):
            raise DefinitionError(f"{where}PropertyFiles[{index}] needs {', '.join(keys)}")
        files[entry["PropertyFileName"]] = PropertyFile(
            entry["PropertyFileName"], entry["OutputName"], entry["FilePath"]
        )
    return files


def validate(
    definition: PipelineDefinition,
    step_properties: Mapping[str, frozenset[str]],
    not_run: Mapping[str, str] | None = None,
) -> None:
    """Fail before anything runs on what the local runner cannot do.

    `step_properties` maps each step type the runner runs to the top-level properties its steps expose;
    `not_run` says why each other known step type does not run.
    Checks, naming the step and JSON path: unsupported step types, DependsOn triggers other than Completed,
    expressions or conditions the evaluator does not know, references to unknown steps, parameters, property
    files or properties, and cycles.
    """
    supported = ", ".join(sorted(step_properties))
    for step in definition.steps.values():
        if step.type not in step_properties and step.stub is None:
            reason = (not_run or {}).get(step.type, "it is not a SageMaker Pipelines step type")
            raise DefinitionError(
                f"step {step.name} has type {step.type}, which the local runner does not run ({reason}); "
                f"it runs: {supported}; or give the step's properties with --stub {step.name}=FILE.json"
            )
        for upstream, trigger in step.depends_on.items():
            _check_step_exists(definition, upstream, f"{step.where}DependsOn")
            if trigger not in TRIGGERS:
                raise DefinitionError(
                    f"{step.where}DependsOn {upstream} has Trigger {trigger!r}: use one of {', '.join(TRIGGERS)}"
                )
        for reference in definition.step_references(step.name):
            _check_reference(definition, reference, step_properties)
        _check_body(step, step_properties, not_run or {})
    definition.topological_order()


def _check_body(step: Step, step_properties: Mapping[str, frozenset[str]], not_run: Mapping[str, str]) -> None:
    """A ForEach body: runnable step types, and references to its own steps that exist and expose that property."""
    siblings = {body_step.name: body_step for body_step in step.body}
    for body_step in step.body:
        if body_step.type not in step_properties:
            reason = not_run.get(body_step.type, "it is not a SageMaker Pipelines step type")
            raise DefinitionError(
                f"step {body_step.name} has type {body_step.type}, which the local runner does not run ({reason})"
            )
        for reference in _scan_step(body_step):
            if reference.kind == STEP_PROPERTY and reference.name in siblings:
                _check_property(reference, siblings[reference.name], step_properties)
    selector = step.arguments.get("Selector")
    for reference in references(selector, step.where + "Arguments.Selector") if selector else ():
        if reference.kind == ITERATION_OUTPUT and reference.name not in siblings:
            raise DefinitionError(
                f"{reference.path} reads the iteration output of {reference.name}, which is not in the ForEach body "
                f"(its steps: {', '.join(siblings)})"
            )


def _check_reference(
    definition: PipelineDefinition, reference: Reference, step_properties: Mapping[str, frozenset[str]]
) -> None:
    if reference.kind == PARAMETER and reference.name not in definition.parameters:
        known = ", ".join(definition.parameters) or "none"
        raise DefinitionError(
            f"{reference.path} uses parameter {reference.name}, which Parameters does not define (defined: {known})"
        )
    if reference.kind in _NOT_STEPS:
        return
    upstream = _check_step_exists(definition, reference.name, reference.path)
    if reference.kind == PROPERTY_FILE and reference.parts[0] not in upstream.property_files:
        known = ", ".join(upstream.property_files) or "none"
        raise DefinitionError(
            f"{reference.path} reads property file {reference.parts[0]} of step {upstream.name}, "
            f"which declares no such PropertyFiles entry (declared: {known})"
        )
    if reference.kind == STEP_PROPERTY:
        _check_property(reference, upstream, step_properties)


def _check_property(reference: Reference, upstream: Step, step_properties: Mapping[str, frozenset[str]]) -> None:
    if upstream.stub is not None:
        if reference.parts[0] not in upstream.stub:
            given = ", ".join(sorted(upstream.stub)) or "none"
            raise DefinitionError(
                f"{reference.path} reads property {reference.parts[0]} of stubbed step {upstream.name}, which its "
                f"stub does not give (it gives: {given}): add it to the --stub file"
            )
        return
    exposed = step_properties.get(upstream.type)
    if exposed is not None and reference.parts[0] not in exposed:
        known = ", ".join(sorted(exposed)) or "none"
        raise DefinitionError(
            f"{reference.path} reads property {reference.parts[0]} of step {upstream.name} ({upstream.type}), "
            f"which a {upstream.type} step does not have (its properties: {known})"
        )


def _check_step_exists(definition: PipelineDefinition, name: str, path: str) -> Step:
    if name not in definition.steps:
        raise DefinitionError(
            f"{path} refers to step {name}, which does not exist: steps are {', '.join(definition.steps)}"
        )
    return definition.steps[name]


def property_file_locator(
    definition: PipelineDefinition, step_property: Callable[[str, tuple[PathPart, ...]], object]
) -> Callable[[str, str], str]:
    """A `Context.property_file_uri`: a property file's URI is its step's output S3Uri joined with its FilePath."""

    def property_file_uri(step_name: str, file_name: str) -> str:
        spec = definition.step(step_name).property_files[file_name]
        output = ("ProcessingOutputConfig", "Outputs", spec.output_name, "S3Output", "S3Uri")
        return f"{str(step_property(step_name, output)).rstrip('/')}/{spec.file_path.lstrip('/')}"

    return property_file_uri
