"""DuckDB over the local KPI files: the table `model_kpis` (also `<database>.model_kpis`), queries run in UTC.

The queries run in a sandbox: once the KPI files are loaded, DuckDB may read or write no file but its own
spill files (`enable_external_access` off, only the work folder allowed), and its configuration is locked, so
a query cannot read the host's files or environment, copy data out, attach databases or load extensions.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
from sqlglot import exp

from localsage.errors import UserError
from localsage.facts.kpi_schema import KpiSchema, csv_column_types, engine_type, table_column_types
from localsage.facts.state_files import replacing

# Keeps the 1M-row benchmark under 300 MB peak RSS (measured 261 MB; 200MB gave 302 MB and 0.4 s less): DuckDB
# spills the rest of its window sorts to temp_directory, which costs some speed on large inputs.
MEMORY_LIMIT = "160MB"
PREVIEW_ROWS = 10
# The loaded KPI table kept between runs (work folder, one file per set of KPI files).
CACHE_PREFIX = "kpi-table-"
# Rows per fetch when a whole result is written to CSV (a million rows never sit in Python at once).
EXPORT_BATCH_ROWS = 10_000
_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CSV_COLUMN = re.compile(r'converting column "([^"]+)"')
_CSV_VALUE = re.compile(r"Could not convert string \"(.*?)\" to '(\w+)'")


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    row_count: int
    rows: tuple[tuple, ...]


def open_database(files: list[Path], schema: KpiSchema, database: str, work_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the files loaded once into `model_kpis` and `<database>.model_kpis`.

    The files are read with the schema's columns and types by position (headers are checked beforehand) and
    the partition folder as the `dt` column; loading them once is what makes many small files affordable.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(
        config={
            "memory_limit": MEMORY_LIMIT,
            "temp_directory": str(work_dir),
            "preserve_insertion_order": False,
            "threads": 2,
        }
    )
    connection.execute("SET TimeZone = 'UTC'")
    columns = _struct_literal(csv_column_types(schema))
    partitions = _struct_literal({key.name: engine_type(key.type) for key in schema.partition_keys})
    file_list = "[" + ", ".join(_quote_text(str(path)) for path in files) + "]"
    rows = f"{_quote_name(database)}.{_quote_name(schema.table)}"
    connection.execute(f"CREATE SCHEMA {_quote_name(database)}")
    if files:
        # Athena's LazySimpleSerDe reads an empty string field as '' (DuckDB as NULL): keep Athena's meaning, so
        # `model_package_arn <> ''` gives the same answer in both. Empty numbers are NULL in both.
        selected = ", ".join(
            f"coalesce({_quote_name(name)}, '') AS {_quote_name(name)}" if kind == "VARCHAR" else _quote_name(name)
            for name, kind in table_column_types(schema).items()
        )
        reader = (
            f"columns = {columns}, header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
            f"hive_partitioning = true, hive_types = {partitions}"
        )
        cache = parquet_cache(files, schema, work_dir)
        if cache.is_file():
            connection.execute(f"CREATE VIEW {rows} AS SELECT * FROM read_parquet({_quote_text(str(cache))})")
        else:
            try:
                connection.execute(f"CREATE TABLE {rows} AS SELECT {selected} FROM read_csv({file_list}, {reader})")
            except duckdb.Error as exc:
                problem = _misfit(connection, files, reader) or str(exc).splitlines()[0]
                connection.close()
                raise UserError(f"a KPI file does not fit the schema: {problem}") from None
            _keep(connection, rows, cache)
    else:
        # No KPI files yet (kpi-check --allow-empty): the same columns, no rows.
        typed = ", ".join(f"{_quote_name(name)} {kind}" for name, kind in table_column_types(schema).items())
        connection.execute(f"CREATE TABLE {rows} ({typed})")
    connection.execute(f"CREATE VIEW {_quote_name(schema.table)} AS SELECT * FROM {rows}")
    _sandbox(connection, work_dir)
    return connection


def parquet_cache(files: list[Path], schema: KpiSchema, work_dir: Path) -> Path:
    """Where the loaded table of exactly these files (each one's path, size and modification time) under this
    schema is kept as Parquet: reading it back is several times faster than parsing the CSV files again."""
    digest = hashlib.sha256(f"{duckdb.__version__}\n{schema.table}\n".encode())
    digest.update(json.dumps(table_column_types(schema)).encode())
    for path in sorted(files):
        status = path.stat()
        digest.update(f"{path.resolve()}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return work_dir / f"{CACHE_PREFIX}{digest.hexdigest()[:24]}.parquet"


def _keep(connection: duckdb.DuckDBPyConnection, rows: str, cache: Path) -> None:
    """Write the loaded table to `cache` (whole or not at all) and drop the caches of other file sets."""
    partial = cache.with_suffix(".partial")
    connection.execute(f"COPY {rows} TO {_quote_text(str(partial))} (FORMAT parquet)")
    partial.replace(cache)
    for stale in cache.parent.glob(f"{CACHE_PREFIX}*"):
        if stale != cache:
            stale.unlink(missing_ok=True)


def _sandbox(connection: duckdb.DuckDBPyConnection, work_dir: Path) -> None:
    connection.execute(f"SET allowed_directories = [{_quote_text(str(work_dir.resolve()))}]")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def _misfit(connection: duckdb.DuckDBPyConnection, files: list[Path], reader: str) -> str | None:
    """`<file>: line N: column C: ...` for the first file DuckDB cannot read with the schema (DuckDB's own error
    names neither the file nor, always, the column)."""
    for path in files:
        try:  # every column converted (a count alone would convert none)
            connection.execute(
                f"CREATE TEMP TABLE kpi_misfit AS SELECT * FROM read_csv({_quote_text(str(path))}, {reader})"
            )
            connection.execute("DROP TABLE kpi_misfit")
        except duckdb.Error as exc:
            message = str(exc)
            line = _CSV_LINE.search(message)
            column = _CSV_COLUMN.search(message)
            value = _CSV_VALUE.search(message)
            parts = [str(path)]
            parts += [f"line {line.group(1)}"] if line else []
            parts += [f"column {column.group(1)}"] if column else []
            parts += [f"{value.group(1)!r} is not a {value.group(2)}"] if value else [message.splitlines()[0]]
            return ": ".join(parts)
    return None


def to_duckdb(statement: exp.Expression) -> str:
    """The statement in DuckDB's dialect."""
    return statement.sql(dialect="duckdb")


def run(connection: duckdb.DuckDBPyConnection, statement: exp.Expression, export_to: Path | None = None) -> QueryResult:
    """Run one statement; a CREATE VIEW is created, then read back in full (as the dashboard would).

    `export_to`: also write every row of the result there as CSV (header first), whole or not at all.
    """
    if isinstance(statement, exp.Create) and (statement.kind or "").upper() == "VIEW":
        connection.execute(to_duckdb(statement))
        select = f"SELECT * FROM {statement.this.sql(dialect='duckdb')}"
    else:
        select = to_duckdb(statement)
    if export_to is not None:
        # Materialised once: counted, previewed and written without computing it again.
        connection.execute(f"CREATE OR REPLACE TEMP TABLE kpi_check_result AS {select}")
        try:
            columns = tuple(row[0] for row in connection.execute("DESCRIBE kpi_check_result").fetchall())
            row_count = connection.execute("SELECT count(*) FROM kpi_check_result").fetchone()[0]
            preview = connection.execute(f"SELECT * FROM kpi_check_result LIMIT {PREVIEW_ROWS}").fetchall()
            _write_csv(connection.execute("SELECT * FROM kpi_check_result"), columns, export_to)
        finally:
            connection.execute("DROP TABLE kpi_check_result")
        return QueryResult(columns, row_count, tuple(preview))
    # A preview and a count need no million-row table: the preview stops at its rows, and DuckDB counts a
    # result without computing the columns nobody reads (a window over every row, say).
    cursor = connection.execute(f"SELECT * FROM ({select}) AS kpi_check_result LIMIT {PREVIEW_ROWS}")
    preview = cursor.fetchall()
    columns = tuple(column[0] for column in cursor.description)
    if len(preview) < PREVIEW_ROWS:
        return QueryResult(columns, len(preview), tuple(preview))
    row_count = connection.execute(f"SELECT count(*) FROM ({select}) AS kpi_check_result").fetchone()[0]
    return QueryResult(columns, row_count, tuple(preview))


def _write_csv(cursor: duckdb.DuckDBPyConnection, columns: tuple[str, ...], path: Path) -> None:
    # Python writes the file, not DuckDB's COPY: the sandbox forbids DuckDB every file outside its work folder.
    with replacing(path, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(columns)
        while batch := cursor.fetchmany(EXPORT_BATCH_ROWS):
            writer.writerows(batch)


def fetch_all(connection: duckdb.DuckDBPyConnection, sql: str) -> QueryResult:
    """Every row of a DuckDB query (for the report, whose queries return few rows)."""
    cursor = connection.execute(sql)
    rows = tuple(cursor.fetchall())
    return QueryResult(tuple(column[0] for column in cursor.description), len(rows), rows)


def _struct_literal(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{_quote_text(name)}: {_quote_text(kind)}" for name, kind in mapping.items()) + "}"


def _quote_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
