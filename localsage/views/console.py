"""What every task shares: one console, one way to report a UserError (one line, non-zero exit)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import psutil
import requests
from botocore.exceptions import BotoCoreError, ClientError
from invoke.exceptions import Exit
from rich.console import Console
from rich.markup import escape

from localsage.errors import UserError

__all__ = ["Exit", "UserError", "console", "err_console", "run", "say"]

CONSOLE_OPTIONS = {"highlight": False, "soft_wrap": True}
console = Console(**CONSOLE_OPTIONS)
err_console = Console(stderr=True, **CONSOLE_OPTIONS)


def detect_terminal() -> None:
    """Both consoles look at this process's terminal and environment again (colour, width, NO_COLOR ...), as
    new ones would: rich reads them when a Console is made, and a task forked from the command server
    (runner/warm/commands.py) inherits consoles made in the server, whose output is a log file. The objects stay
    the same, so every module that imported them sees the change."""
    console.__init__(**CONSOLE_OPTIONS)
    err_console.__init__(stderr=True, **CONSOLE_OPTIONS)


T = TypeVar("T")


def say(message: str) -> None:
    """Progress for humans goes to stderr, so `--json` output on stdout stays machine-readable."""
    err_console.print(message, markup=False)


def run(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call one toolkit function; turn a UserError or Ctrl-C into a one-line message and an exit code."""
    try:
        return function(*args, **kwargs)
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, soft_wrap=True)
        raise Exit(code=exc.exit_code) from None
    except (BotoCoreError, ClientError) as exc:
        err_console.print(f"[bold red]error:[/] AWS call failed: {escape(str(exc))}", markup=True, soft_wrap=True)
        raise Exit(code=1) from None
    except (requests.RequestException, psutil.Error) as exc:
        # The emulator's own HTTP API or its process went away mid-task.
        err_console.print(
            f"[bold red]error:[/] the emulator did not answer ({escape(str(exc))}): see './dev emulator.status'"
        )
        raise Exit(code=1) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        raise Exit(code=130) from None
    except BrokenPipeError:
        # The reader of our output went away (`| head`): nothing more to say to anyone, and nothing to flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise Exit(code=1) from None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
