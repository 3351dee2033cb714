"""The rules AWS applies to a request before it does anything, read from botocore's model of the operation.

A service model gives every input member its type, and, where the service declares them, required members,
minimum and maximum lengths, sizes and values, patterns and enumerations: what SageMaker answers with a
ValidationException. botocore itself checks only some of them on the client (types, required members,
minimums), so a request it sends can still be refused; this check applies all of them, so a local run
refuses what the cloud would.

Values a caller cannot know yet (a pipeline expression resolved only at run time) are left out by `unknown`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from botocore.model import Shape

from localsage.adapters import aws

SERVICE_NAMES = {"sagemaker": "SageMaker"}
SHOWN_CHARACTERS = 80


@dataclass(frozen=True)
class Violation:
    path: str  # e.g. "ProcessingResources.ClusterConfig.InstanceCount"
    problem: str  # e.g. "0, SageMaker allows at least 1"

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def summary(problems: Sequence[object]) -> str:
    """The first problem, and how many more there are: one line however many a request has."""
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{problems[0]}{more}"


def violations(
    service: str, operation: str, request: Mapping, unknown: Callable[[object], bool] = lambda value: False
) -> list[Violation]:
    """Every rule of `operation` that `request` breaks, in the order of its members."""
    shape = aws.service_model(service).operation_model(operation).input_shape
    checker = _Checker(SERVICE_NAMES.get(service, service), unknown)
    checker.check(shape, request, "")
    return checker.found


class _Checker:
    def __init__(self, service: str, unknown: Callable[[object], bool]):
        self.service = service
        self.unknown = unknown
        self.found: list[Violation] = []

    def check(self, shape: Shape, value: object, path: str) -> None:
        if self.unknown(value):
            return
        kind = shape.type_name
        if kind == "structure":
            self._structure(shape, value, path)
        elif kind == "list":
            self._list(shape, value, path)
        elif kind == "map":
            self._map(shape, value, path)
        elif kind == "string":
            self._string(shape, value, path)
        elif kind in ("integer", "long", "float", "double"):
            self._number(shape, value, path)
        elif kind == "boolean" and not isinstance(value, bool):
            self._wrong_type(value, "true or false", path)
        elif kind == "timestamp" and not isinstance(value, str | int | float | datetime):
            self._wrong_type(value, "a timestamp", path)

    def _structure(self, shape: Shape, value: object, path: str) -> None:
        if not isinstance(value, Mapping):
            self._wrong_type(value, "an object", path)
            return
        for name, member in shape.members.items():
            if name in value:
                self.check(member, value[name], _join(path, name))
            # botocore fills an idempotency token in (ClientRequestToken) when the caller leaves it out.
            elif name in shape.required_members and not member.metadata.get("idempotencyToken"):
                self.found.append(Violation(_join(path, name), f"missing; {self.service} requires it"))

    def _list(self, shape: Shape, value: object, path: str) -> None:
        if not isinstance(value, list):
            self._wrong_type(value, "a list", path)
            return
        self._size(shape, len(value), "items", path)
        for index, item in enumerate(value):
            self.check(shape.member, item, f"{path}[{index}]")

    def _map(self, shape: Shape, value: object, path: str) -> None:
        if not isinstance(value, Mapping):
            self._wrong_type(value, "an object", path)
            return
        self._size(shape, len(value), "entries", path)
        for key, item in value.items():
            self.check(shape.key, key, f"{path}.{key} (key)")
            self.check(shape.value, item, f"{path}.{key}")

    def _string(self, shape: Shape, value: object, path: str) -> None:
        if not isinstance(value, str):
            self._wrong_type(value, "a string", path)
            return
        if shape.enum and value not in shape.enum:
            self.found.append(Violation(path, f"{_shown(value)} is not one of {', '.join(shape.enum)}"))
            return
        before = len(self.found)
        self._size(shape, len(value), "characters", path)
        pattern = _compiled(shape.metadata.get("pattern", ""))
        if len(self.found) == before and pattern is not None and value and not pattern.fullmatch(value):
            problem = f"{_shown(value)} does not match {self.service}'s pattern {pattern.pattern}"
            self.found.append(Violation(path, problem))

    def _number(self, shape: Shape, value: object, path: str) -> None:
        integral = shape.type_name in ("integer", "long")
        if isinstance(value, bool) or not isinstance(value, int | float) or (integral and isinstance(value, float)):
            self._wrong_type(value, "an integer" if integral else "a number", path)
            return
        least, most = shape.metadata.get("min"), shape.metadata.get("max")
        if least is not None and value < least:
            self.found.append(Violation(path, f"{value}, {self.service} allows at least {least}"))
        if most is not None and value > most:
            self.found.append(Violation(path, f"{value}, {self.service} allows at most {most}"))

    def _size(self, shape: Shape, size: int, unit: str, path: str) -> None:
        least, most = shape.metadata.get("min"), shape.metadata.get("max")
        if least is not None and size < least:
            self.found.append(Violation(path, f"{size} {unit}, {self.service} allows at least {least}"))
        if most is not None and size > most:
            self.found.append(Violation(path, f"{size} {unit}, {self.service} allows at most {most}"))

    def _wrong_type(self, value: object, expected: str, path: str) -> None:
        self.found.append(Violation(path, f"{_shown(value)} is not {expected}"))


@cache
def _compiled(pattern: str) -> re.Pattern | None:
    """The service's pattern as a Python regex; None when it has none or uses syntax Python's `re` lacks (it is
    then not checked here, and SageMaker's own check stays the only one)."""
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _shown(value: object) -> str:
    """The value as a message shows it: a definition can be a megabyte long."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARACTERS else f"{text[: SHOWN_CHARACTERS - 3]}..."


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
