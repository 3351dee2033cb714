"""Flag values that need parsing beyond what invoke does."""

from __future__ import annotations

from localsage.errors import UserError


def split_params(values: list[str] | None, flag: str = "--param") -> dict[str, str]:
    """`Name=Value` pairs from a repeatable flag."""
    parsed: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UserError(f"{flag} {item!r} is not Name=Value")
        parsed[name] = value
    return parsed
