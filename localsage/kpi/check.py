"""The KPI check: fetch the KPI files, check their headers, check each query's portability, run it in DuckDB.

DuckDB and sqlglot are imported inside the functions (a task that only lists KPI files stays light).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.facts import kpi_schema
from localsage.kpi import queries as kpi_queries
from localsage.kpi.athena import Explainer


@dataclass
class QueryOutcome:
    name: str
    path: Path
    description: str
    problems: list[str] = field(default_factory=list)
    columns: tuple[str, ...] = ()
    row_count: int = 0
    rows: tuple[tuple, ...] = ()
    duckdb_sql: str = ""
    exported: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class KpiData:
    """The checked KPI files and where they came from."""

    folder: Path
    files: list[Path]
    source: str


def fetch_data(root: Path, source: Path | None, use_aws: bool, say: Callable[[str], None], aws_target=None) -> KpiData:
    """The KPI files from --source DIR, else from S3 (the emulator, or AWS with --aws: `aws_target` when the
    caller has one already) via the local cache."""
    schema = kpi_schema.load_for_project(root)
    if source is not None:
        if not source.is_dir():
            raise UserError(f"--source {source}: no such folder: give the folder holding the dt=<yyyy-MM-dd>/ folders")
        hint = "give the folder holding the dt=<yyyy-MM-dd>/ folders"
        return KpiData(source, _checked_files(source, schema, hint), str(source))
    from localsage.adapters import targets
    from localsage.kpi import sync

    target = (aws_target or targets.real_aws(root)) if use_aws else targets.local(root, say=say)
    summary = sync.sync(target, say=say)
    say(
        f"KPI cache {summary.folder}: {summary.downloaded} fetched, {summary.unchanged} unchanged, "
        f"{summary.deleted} deleted"
    )
    location = f"s3://{target.bucket}/{target.config.kpi_prefix}"
    return KpiData(summary.folder, _checked_files(summary.folder, schema, f"nothing usable in {location}"), location)


def _checked_files(folder: Path, schema: kpi_schema.KpiSchema, hint: str) -> list[Path]:
    from localsage.kpi import files

    return files.checked_kpi_files(folder, schema, hint)


def run_suite(
    root: Path,
    data: KpiData,
    extra_sql: Sequence[Path] = (),
    only: str | None = None,
    output: Path | None = None,
    athena: Explainer | None = None,
) -> list[QueryOutcome]:
    """Check and run every project query and each extra SQL file against the KPI files.

    With no KPI files (kpi-check --allow-empty) each query still runs, on an empty table, so portability,
    columns and DuckDB execution are checked; only the sidecars' minimum row counts are not.
    `only`: run just the query of that name. `output`: write each result in full to CSV (see `export_paths`).
    `athena`: also ask Athena to EXPLAIN each query (kpi-check --aws).
    """
    from localsage.kpi import engine, portability

    config = project_config.load(root)
    schema = kpi_schema.load_for_project(root)
    named = selected(kpi_queries.load_queries(root) + [kpi_queries.load_query(path) for path in extra_sql], only)
    exports = export_paths(output, [query.name for query in named])
    table_types = kpi_schema.table_column_types(schema)
    work_dir = project_config.local_dir(root) / "kpi-duckdb"
    connection = engine.open_database(data.files, schema, config.glue_database, work_dir)
    outcomes = []
    try:
        for query in named:
            outcome = QueryOutcome(query.name, query.path, query.description)
            checked = portability.check_sql(query.sql, table_types, config.glue_database, schema.table)
            outcome.problems = [f"line {finding.line}: {finding.message}" for finding in checked.findings]
            if outcome.ok:
                outcome.duckdb_sql = engine.to_duckdb(checked.statement)
                _execute(connection, checked.statement, query, outcome, bool(data.files), exports.get(query.name))
            if athena is not None:
                outcome.problems.extend(athena.problems(query.sql))
            outcomes.append(outcome)
    finally:
        connection.close()
    return outcomes


def selected(named: list[kpi_queries.NamedQuery], only: str | None) -> list[kpi_queries.NamedQuery]:
    if only is None:
        return named
    chosen = [query for query in named if query.name == only]
    if not chosen:
        known = ", ".join(query.name for query in named)
        raise UserError(f"--query {only}: no such KPI query (the queries: {known})")
    return chosen


def export_paths(output: Path | None, names: list[str]) -> dict[str, Path]:
    """Where each query's full result goes: `output` itself for one query, `<stem>-<query>.csv` for several."""
    if output is None:
        return {}
    if output.suffix.lower() != ".csv" or output.is_dir():
        raise UserError(f"--output {output}: name a .csv file (several queries write <name>-<query>.csv beside it)")
    if len(names) == 1:
        return {names[0]: output}
    return {name: output.with_name(f"{output.stem}-{name}{output.suffix}") for name in names}


def _execute(
    connection,
    statement,
    query: kpi_queries.NamedQuery,
    outcome: QueryOutcome,
    expect_rows: bool,
    export_to: Path | None,
) -> None:
    import duckdb

    from localsage.kpi import engine

    try:
        result = engine.run(connection, statement, export_to)
    except duckdb.Error as exc:
        outcome.problems.append(f"DuckDB: {str(exc).splitlines()[0]}")
        return
    except OSError as exc:
        raise UserError(f"--output {export_to}: cannot write it ({exc.strerror})") from None
    outcome.columns, outcome.row_count, outcome.rows = result.columns, result.row_count, result.rows
    outcome.exported = export_to
    if query.expected_columns is not None and tuple(result.columns) != query.expected_columns:
        outcome.problems.append(
            f"returns columns {', '.join(result.columns)}; {query.name}.expect.json expects "
            f"{', '.join(query.expected_columns)}"
        )
    if expect_rows and result.row_count < query.min_rows:
        outcome.problems.append(
            f"returns {result.row_count} rows; {query.name}.expect.json expects >= {query.min_rows}"
        )


def check(
    root: Path,
    sql_files: Sequence[str] = (),
    source: str | None = None,
    use_aws: bool = False,
    say: Callable[[str], None] = print,
    allow_empty: bool = False,
    only: str | None = None,
    output: Path | None = None,
    athena: Explainer | None = None,
    target=None,
) -> list[QueryOutcome]:
    """The whole kpi-check: fetch and check the data, then check and run each query.

    `allow_empty`: no KPI files yet (a new account, before the pipeline ever ran) is a note, not a failure.
    With `use_aws` Athena also parses each query (EXPLAIN in the project's workgroup), through `athena` if given,
    on `target` if given (the permission replay gives a role's, `targets.as_role`), else on real AWS.
    """
    from localsage.kpi.files import NoKpiFiles

    aws_target = target
    if use_aws and athena is None:
        from localsage.adapters import targets

        aws_target = aws_target or targets.real_aws(root)
        athena = Explainer(
            aws_target.client("athena"), aws_target.config.glue_database, aws_target.config.athena_workgroup
        )
    try:
        data = fetch_data(root, Path(source) if source else None, use_aws, say, aws_target)
    except NoKpiFiles as missing:
        if not allow_empty:
            raise
        say(f"{missing}; --allow-empty: the queries run on an empty table (row counts not checked)")
        data = KpiData(Path(), [], "nowhere yet")
    say(f"{len(data.files)} KPI files from {data.source}")
    if athena is not None:
        say(f"Athena: EXPLAIN of each query in workgroup {athena.workgroup} (no data scanned)")
    return run_suite(root, data, [Path(path) for path in sql_files], only, output, athena)


def failure_lines(outcomes: list[QueryOutcome], root: Path) -> list[str]:
    """One line per failing query: its file and its first problem (with the count of the others)."""
    lines = []
    for outcome in outcomes:
        if outcome.problems:
            more = f" (+{len(outcome.problems) - 1} more)" if len(outcome.problems) > 1 else ""
            lines.append(f"{shown_path(outcome.path, root)}: {outcome.problems[0]}{more}")
    return lines


def cell_text(value: object) -> str:
    """A result value as a table shows it."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def shown_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
