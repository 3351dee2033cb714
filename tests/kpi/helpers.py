"""Shared pieces of the KPI tests: the fixture data and plain-data query results to compare with goldens."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

from conftest import REPO

DATA = Path(__file__).resolve().parent / "data"
FIXTURE_KPIS = DATA / "kpis"
GOLDEN = DATA / "golden"
DATABASE = "abalone_kpis"


def plain(value: object) -> object:
    """A result value as JSON keeps it (floats rounded, so goldens do not depend on the last bit)."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def all_rows(connection, sql: str) -> dict:
    """Every row of a query, as plain values, sorted (several queries leave the order to the engine)."""
    cursor = connection.execute(sql)
    rows = [[plain(value) for value in row] for row in cursor.fetchall()]
    return {"columns": [column[0] for column in cursor.description], "rows": sorted(rows, key=repr)}


def write_kpi_file(folder: Path, relative: str, header: list[str], rows: list[list[object]]) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def schema():
    from localsage.facts import kpi_schema

    return kpi_schema.load_for_project(REPO)
