"""The KPI queries: one `.sql` file each (Athena engine v3 dialect) plus a small `<name>.expect.json` sidecar.

The CDK KPI stack turns each file into an Athena named query; kpi-check runs them locally with DuckDB.
A file's leading `--` comment lines are its description. The sidecar names the columns the query must
return and the fewest rows it may return: `{"columns": ["variant", ...], "min_rows": 1}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from localsage.errors import UserError

QUERY_DIR = Path("infra") / "kpi" / "queries"
SIDECAR_SUFFIX = ".expect.json"


@dataclass(frozen=True)
class NamedQuery:
    name: str
    sql: str
    path: Path
    description: str
    expected_columns: tuple[str, ...] | None = None
    min_rows: int = 1


def load_queries(root: Path) -> list[NamedQuery]:
    """Every query of the project (infra/kpi/queries/*.sql), sorted by name."""
    folder = root / QUERY_DIR
    paths = sorted(folder.glob("*.sql"))
    if not paths:
        raise UserError(f"{QUERY_DIR}: no .sql files: add the KPI queries there")
    return [load_query(path) for path in paths]


def load_query(path: Path) -> NamedQuery:
    """One query file and its sidecar, if any (without one, any columns and at least one row are accepted)."""
    try:
        sql = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise UserError(f"{path}: no such SQL file: check the path given to --sql") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}): save the SQL file as UTF-8") from None
    if not sql.strip():
        raise UserError(f"{path}: the SQL file is empty: write one SELECT or CREATE VIEW statement")
    expected_columns, min_rows = _read_sidecar(path.with_name(path.stem + SIDECAR_SUFFIX))
    return NamedQuery(
        name=path.stem,
        sql=sql,
        path=path,
        description=_leading_comment(sql),
        expected_columns=expected_columns,
        min_rows=min_rows,
    )


def _leading_comment(sql: str) -> str:
    lines = []
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            break
        lines.append(stripped.removeprefix("--").strip())
    return " ".join(line for line in lines if line)


def _read_sidecar(path: Path) -> tuple[tuple[str, ...] | None, int]:
    if not path.is_file():
        return None, 1
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or set(raw) - {"columns", "min_rows"}:
        raise UserError(f'{path}: expected an object with the keys "columns" and "min_rows"')
    columns = raw.get("columns")
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise UserError(f'{path}: "columns" must be a list of column names')
    min_rows = raw.get("min_rows", 1)
    if not isinstance(min_rows, int) or isinstance(min_rows, bool) or min_rows < 0:
        raise UserError(f'{path}: "min_rows" must be a whole number >= 0')
    return (tuple(columns) if columns is not None else None), min_rows
