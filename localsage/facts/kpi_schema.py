"""The KPI table schema, read from its one file (infra/kpi/model_kpis.json) by every consumer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from localsage.errors import UserError

SCHEMA_FILE = Path("infra") / "kpi" / "model_kpis.json"
# Each Glue (Hive) column type, as DuckDB and sqlglot (Athena) name it, and as a QuickSight data set column.
_COLUMN_TYPES = {
    "string": ("VARCHAR", "STRING"),
    "double": ("DOUBLE", "DECIMAL"),
    "bigint": ("BIGINT", "INTEGER"),
    "int": ("INTEGER", "INTEGER"),
    "boolean": ("BOOLEAN", "BOOLEAN"),
    "date": ("DATE", "DATETIME"),
    "timestamp": ("TIMESTAMP", "DATETIME"),
}
GLUE_TYPES = tuple(_COLUMN_TYPES)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str = ""


@dataclass(frozen=True)
class KpiSchema:
    table: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        """The CSV header, in order (partition keys are folder names, not CSV columns)."""
        return [column.name for column in self.columns]


def load(path: Path) -> KpiSchema:
    """Parse and check the schema file; problems name the file and the field."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        schema = KpiSchema(
            table=raw["table"],
            columns=tuple(Column(**column) for column in raw["columns"]),
            partition_keys=tuple(Column(**column) for column in raw.get("partition_keys", [])),
        )
    except FileNotFoundError:
        raise UserError(f"{path}: KPI schema file is missing") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a valid KPI schema ({exc!r}): see the file's description field") from None
    names = [column.name for column in (*schema.columns, *schema.partition_keys)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UserError(f"{path}: column {duplicates[0]} appears twice")
    for column in (*schema.columns, *schema.partition_keys):
        if column.type not in GLUE_TYPES:
            raise UserError(f"{path}: column {column.name} has type {column.type}: use one of {', '.join(GLUE_TYPES)}")
    return schema


def load_for_project(root: Path) -> KpiSchema:
    return load(root / SCHEMA_FILE)


def engine_type(glue_type: str) -> str:
    """The SQL type (DuckDB and Athena spelling) of a Glue column type."""
    return _COLUMN_TYPES[glue_type][0]


def quicksight_type(glue_type: str) -> str:
    """The QuickSight data set column type of a Glue column type."""
    return _COLUMN_TYPES[glue_type][1]


def csv_column_types(schema: KpiSchema) -> dict[str, str]:
    """CSV column -> SQL type, in header order (DuckDB's `read_csv(columns=...)`)."""
    return {column.name: engine_type(column.type) for column in schema.columns}


def table_column_types(schema: KpiSchema) -> dict[str, str]:
    """Every column of the table (CSV columns, then partition keys) -> SQL type (the sqlglot schema)."""
    return {column.name: engine_type(column.type) for column in (*schema.columns, *schema.partition_keys)}
