"""`./dev emulator.status` (and `up`): the emulator's state, endpoint and memory."""

from __future__ import annotations

from rich.markup import escape

from localsage.adapters.emulators.base import Status
from localsage.views.console import console, print_json


def print_status(status: Status, as_json: bool = False) -> None:
    record = status.record
    if as_json:
        print_json(
            {
                "state": status.state,
                "healthy": status.healthy,
                "detail": status.detail,
                "endpoint": status.endpoint,
                "pid": getattr(record, "pid", None),
                "port": getattr(record, "port", None),
                "rss_mb": round(status.rss_mb, 1) if status.rss_mb else None,
            }
        )
        return
    colour = "green" if status.healthy else "yellow"
    console.print(f"[{colour}]{status.state}[/]: {escape(status.detail)}")
    if status.endpoint:
        console.print(f"  endpoint  {status.endpoint}  (export AWS_ENDPOINT_URL={status.endpoint})", markup=False)
    if status.rss_mb:
        console.print(f"  memory    {status.rss_mb:.0f} MB RSS")
