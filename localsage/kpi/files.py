"""The KPI files on disk: `dt=<yyyy-MM-dd>/<execution id>.csv` below one folder, each with the schema's header.

DuckDB's `read_csv(columns=...)` maps columns by position, so a file with two columns swapped would load
silently with wrong values: every header is compared with the schema before any query runs.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

from localsage.errors import UserError
from localsage.facts.kpi_schema import SCHEMA_FILE, KpiSchema

PARTITION_FOLDER = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


class NoKpiFiles(UserError):
    """There are no KPI files yet (a new bucket or folder): `kpi-check --allow-empty` accepts that."""


def kpi_files(folder: Path) -> list[Path]:
    """Every CSV file below the folder, sorted."""
    return sorted(path for path in folder.rglob("*.csv") if path.is_file())


def checked_kpi_files(folder: Path, schema: KpiSchema, empty_hint: str) -> list[Path]:
    """The folder's KPI files, after checking each one's partition folder and header.

    The first problem (and how many more there are) becomes one UserError naming the file.
    """
    files = kpi_files(folder)
    if not files:
        raise NoKpiFiles(f"no KPI files (*.csv) under {folder}: {empty_hint}")
    problems = [problem for path in files if (problem := file_problem(path, folder, schema))]
    if problems:
        more = f" (and {len(problems) - 1} more files with problems)" if len(problems) > 1 else ""
        raise UserError(problems[0] + more)
    return files


def file_problem(path: Path, folder: Path, schema: KpiSchema) -> str | None:
    """What is wrong with one KPI file's place or header, or None."""
    relative = path.relative_to(folder)
    partition = PARTITION_FOLDER.match(relative.parts[0]) if len(relative.parts) == 2 else None
    if partition is None:
        return f"{relative}: KPI files belong in a partition folder dt=<yyyy-MM-dd>/ directly below {folder}"
    try:
        date.fromisoformat(partition.group(1))
    except ValueError:
        return f"{relative}: the partition folder names no real date: use dt=<yyyy-MM-dd>"
    header = read_header(path)
    if header is None:
        return f"{relative}: the file is empty: a KPI file starts with the header line from {SCHEMA_FILE}"
    difference = header_difference(header, schema.column_names)
    return f"{relative}: header differs from {SCHEMA_FILE}: {difference}" if difference else None


def read_header(path: Path) -> list[str] | None:
    """The first CSV record of the file, or None for an empty file."""
    with path.open(encoding="utf-8", newline="", errors="replace") as handle:
        return next(csv.reader(handle), None)


def header_difference(found: list[str], expected: list[str]) -> str | None:
    """How a header differs from the expected column list, in words, or None when they are equal."""
    if found == expected:
        return None
    missing = [name for name in expected if name not in found]
    extra = [name for name in found if name not in expected]
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"unexpected {', '.join(extra)}")
    if not parts:
        moved = [
            f"column {i + 1} is {got}, expected {want}"
            for i, (got, want) in enumerate(zip(found, expected, strict=False))
            if got != want
        ]
        parts.append("; ".join(moved) if moved else "columns repeat")
    return "; ".join(parts)
