"""`./dev models`, `approve`, `reject`, `notifications`: model versions and the messages the topic delivered."""

from __future__ import annotations

from datetime import UTC

from localsage.operations.registry import ModelVersion
from localsage.views.console import console, print_json


def print_versions(versions: list[ModelVersion], as_json: bool = False) -> None:
    """The versions (or a JSON list), newest first."""
    if as_json:
        print_json([version.as_dict() for version in versions])
        return
    if not versions:
        console.print("no model versions yet: run './dev local-run' to register one")
        return
    # Plain lines rather than a table: nothing is truncated on a narrow terminal or in CI logs.
    console.print(f"{versions[0].group}, newest first:", markup=False)
    for version in versions:
        created = version.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        status = f"{version.approval_status:<21}"
        console.print(
            f"  {version.version:>4}  {status}  {created}  {metric_text(version):<14}  {version.arn}", markup=False
        )


def metric_text(version: ModelVersion) -> str:
    if not version.metric_name:
        return "-"
    value = "-" if version.metric is None else f"{version.metric:.4f}"
    return f"{version.metric_name} {value}"


def print_changed(version: ModelVersion) -> None:
    console.print(version.summary(), markup=False)


def print_messages(messages: list[dict], as_json: bool = False) -> None:
    """What the topic delivered (or a JSON list), oldest first."""
    if as_json:
        print_json(messages)
        return
    if not messages:
        console.print("no notifications delivered yet: a registration or approval of a notified group sends one")
        return
    for message in messages:
        metric = "" if message.get("metric") is None else f"  ({message['metric_name']} {message['metric']:.4f})"
        console.print(f"{message['time']}  {message['message']}{metric}", markup=False)
