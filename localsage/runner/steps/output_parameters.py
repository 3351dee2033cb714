"""The `OutputParameters` a Lambda or Callback step declares, and the typed values later steps read from it
(`Steps.<name>.OutputParameters['<output>']`)."""

from __future__ import annotations

from localsage.errors import UserError
from localsage.runner.definition import Step

TYPES = ("String", "Integer", "Float", "Boolean")


def declared(step: Step) -> dict[str, str]:
    """Output name -> type, as the step declares them (UserError naming the entry when one is malformed)."""
    entries = step.raw.get("OutputParameters", [])
    if not isinstance(entries, list):
        raise UserError(f"{step.where}OutputParameters must be a list of {{OutputName, OutputType}}")
    found = {}
    for index, entry in enumerate(entries):
        name = entry.get("OutputName") if isinstance(entry, dict) else None
        kind = entry.get("OutputType", "String") if isinstance(entry, dict) else None
        if not isinstance(name, str) or kind not in TYPES:
            raise UserError(
                f"{step.where}OutputParameters[{index}] needs an OutputName and an OutputType of {', '.join(TYPES)}"
            )
        found[name] = kind
    return found


def typed(step: Step, values: dict, source: str) -> dict[str, object]:
    """Each declared output's value from `values`, converted to its declared type; StepFailed-worthy ValueError
    naming the output when one is missing or does not convert."""
    outputs = {}
    for name, kind in declared(step).items():
        if name not in values:
            raise ValueError(f"{source} has no output {name!r} (it has {', '.join(map(str, values)) or 'none'})")
        outputs[name] = _convert(values[name], kind, f"{source}: output {name}")
    return outputs


def _convert(value: object, kind: str, where: str) -> object:
    try:
        if kind == "String":
            return value if isinstance(value, str) else str(value)
        if kind == "Boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError
        if kind == "Integer":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where} is {value!r}, not a {kind}") from None
