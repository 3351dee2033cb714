"""What every task shares: one console, one way to report a UserError (one line, non-zero exit)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.exceptions import Exit
from rich.console import Console

from localsage.errors import UserError

__all__ = ["Exit", "UserError", "console", "err_console", "run", "say"]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)

T = TypeVar("T")


def say(message: str) -> None:
    """Progress for humans goes to stderr, so `--json` output on stdout stays machine-readable."""
    err_console.print(message, markup=False)


def run(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call one toolkit function; turn a UserError or Ctrl-C into a one-line message and an exit code."""
    try:
        return function(*args, **kwargs)
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
        raise Exit(code=exc.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        raise Exit(code=130) from None


def print_names(chosen) -> None:
    from localsage.config import derived_names

    for key, value in derived_names(chosen).items():
        shown = ", ".join(value) if isinstance(value, list) else value
        console.print(f"  {key:<22} {shown}")


def print_emulator_status(status, as_json: bool = False) -> None:
    if as_json:
        record = status.record
        print_json(
            {
                "state": status.state,
                "healthy": status.healthy,
                "detail": status.detail,
                "endpoint": status.endpoint,
                "pid": record.pid if record else None,
                "port": record.port if record else None,
                "rss_mb": round(status.rss_mb, 1) if status.rss_mb else None,
            }
        )
        return
    colour = "green" if status.healthy else "yellow"
    console.print(f"[{colour}]{status.state}[/]: {status.detail}")
    if status.endpoint:
        console.print(f"  endpoint  {status.endpoint}  (export AWS_ENDPOINT_URL={status.endpoint})")
    if status.rss_mb:
        console.print(f"  memory    {status.rss_mb:.0f} MB RSS")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def split_params(values: list[str] | None, flag: str = "--param") -> dict[str, str]:
    """`Name=Value` pairs from a repeatable flag."""
    parsed: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UserError(f"{flag} {item!r} is not Name=Value")
        parsed[name] = value
    return parsed
