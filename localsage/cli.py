"""What every task shares: one console, one way to report a UserError (one line, non-zero exit)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import psutil
import requests
from botocore.exceptions import BotoCoreError, ClientError
from invoke.exceptions import Exit
from rich.console import Console

from localsage.errors import UserError

__all__ = ["Exit", "UserError", "console", "err_console", "run", "say"]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

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
    except (BotoCoreError, ClientError) as exc:
        err_console.print(f"[bold red]error:[/] AWS call failed: {exc}", markup=True, soft_wrap=True)
        raise Exit(code=1) from None
    except (requests.RequestException, psutil.Error) as exc:
        # The emulator's own HTTP API or its process went away mid-task.
        err_console.print(f"[bold red]error:[/] the emulator did not answer ({exc}): see './dev emulator.status'")
        raise Exit(code=1) from None
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


EXIT_CODES = {"Succeeded": 0, "Failed": 1, "Stopped": 130}


def finish_execution(record, as_json: bool = False) -> None:
    """Print a finished execution (summary table or JSON) and exit with its status's code."""
    from localsage.runner.progress import print_summary

    if as_json:
        print_json(record.summary())
    else:
        print_summary(console, record)
    code = EXIT_CODES.get(record.status, 1)
    if code:
        raise Exit(code=code)


def show_executions(records: list, as_json: bool = False) -> None:
    from rich.table import Table

    from localsage.runner.progress import step_table

    if as_json:
        print_json([record.summary() for record in records])
        return
    if len(records) == 1:
        console.print(step_table(records[0]))
        return
    if not records:
        console.print("no local executions yet: run './dev local-run'")
        return
    table = Table("Execution", "Pipeline", "Status", "Started (UTC)", "Time", "Cache hits")
    for record in records:
        started = datetime.fromtimestamp(record.started, UTC).strftime("%Y-%m-%d %H:%M:%S")
        hits = sum(step.cache_hit for step in record.steps.values())
        table.add_row(
            record.execution_id, record.pipeline_name, record.status, started, f"{record.duration:.1f} s", str(hits)
        )
    console.print(table)
