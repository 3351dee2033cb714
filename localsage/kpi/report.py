"""`./dev kpi-report`: one self-contained HTML file (inline SVG and CSS, no script, no URL) about the model KPIs.

Charts of each metric per variant over runs and over time (regressions marked on the rmse charts), the
regression flags and the latest run per variant, computed by the project's own KPI queries in DuckDB.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.facts import kpi_schema
from localsage.facts.state_files import write_atomically
from localsage.kpi import queries as kpi_queries
from localsage.kpi.check import cell_text, fetch_data

METRICS = ("rmse", "mse", "mae", "r2")
LATEST_QUERY = "latest_per_variant"
REGRESSION_QUERY = "rmse_regression"
# A chart with more points than this per variant is thinned evenly: the page stays small and quick to draw.
MAX_POINTS_PER_SERIES = 500
MAX_REGRESSION_ROWS = 200
# No red among the series colours: red marks the regressions.
COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
WIDTH, HEIGHT, MARGIN = 640, 240, 48
# Marks the files this module writes, so --output replaces a report, never a file the user wrote.
GENERATOR = "localsage kpi-report"


def write_report(
    root: Path,
    output: str | None = None,
    source: str | None = None,
    use_aws: bool = False,
    say: Callable[[str], None] = print,
) -> Path:
    """Build the report from the KPI files and write it (default `.local/kpi-report.html`); returns its path."""
    from localsage.kpi import engine

    config = project_config.load(root)
    schema = kpi_schema.load_for_project(root)
    missing = [metric for metric in METRICS if metric not in schema.column_names]
    if missing:
        raise UserError(f"{kpi_schema.SCHEMA_FILE}: the report charts {', '.join(missing)}, which the schema lacks")
    path = Path(output) if output else project_config.local_dir(root) / "kpi-report.html"
    check_output(path)
    data = fetch_data(root, Path(source) if source else None, use_aws, say)
    connection = engine.open_database(
        data.files, schema, config.glue_database, project_config.local_dir(root) / "kpi-duckdb"
    )
    try:
        latest = engine.fetch_all(connection, _checked_sql(root, schema, config.glue_database, LATEST_QUERY))
        regression_sql = _checked_sql(root, schema, config.glue_database, REGRESSION_QUERY)
        regression_count = connection.execute(f"SELECT count(*) FROM ({regression_sql}) WHERE regressed").fetchone()[0]
        regressions = engine.fetch_all(
            connection,
            f"SELECT * FROM ({regression_sql}) WHERE regressed ORDER BY run_ts DESC LIMIT {MAX_REGRESSION_ROWS}",
        )
        points = _chart_points(connection, schema.table)
    finally:
        connection.close()
    page = render(config.use_case_id, data.source, latest, regressions, regression_count, points)
    write_atomically(path, page)
    return path


def check_output(path: Path) -> None:
    """The report only replaces a report: not a folder, not a file something else wrote."""
    if path.is_dir():
        raise UserError(f"--output {path} is a folder: give a file name, e.g. {path / 'kpi-report.html'}")
    if path.exists() and GENERATOR not in path.read_text(encoding="utf-8", errors="replace")[:2000]:
        raise UserError(f"--output {path} exists and is not a KPI report: choose another name, or remove it first")


def _checked_sql(root: Path, schema: kpi_schema.KpiSchema, database: str, name: str) -> str:
    """The named project query in DuckDB's dialect, refused when kpi-check would refuse it."""
    from localsage.kpi import engine, portability

    query = next((query for query in kpi_queries.load_queries(root) if query.name == name), None)
    if query is None:
        raise UserError(f"{kpi_queries.QUERY_DIR}/{name}.sql is missing: the report needs it")
    checked = portability.check_sql(query.sql, kpi_schema.table_column_types(schema), database, schema.table)
    if checked.findings:
        finding = checked.findings[0]
        raise UserError(f"{query.path.name}: line {finding.line}: {finding.message}: run './dev kpi-check'")
    return engine.to_duckdb(checked.statement)


def _chart_points(connection, table: str) -> dict[str, list[tuple]]:
    """Per variant, its runs in order: (run number, run time, metric values ...), thinned to a readable count."""
    metrics = ", ".join(METRICS)
    rows = connection.execute(
        f"""
        WITH numbered AS (
            SELECT variant, CAST(run_ts AS TIMESTAMPTZ) AS run_time, execution_id, {metrics},
                   row_number() OVER (PARTITION BY variant ORDER BY CAST(run_ts AS TIMESTAMPTZ), execution_id) AS run,
                   count(*) OVER (PARTITION BY variant) AS runs
            FROM {table}
        )
        SELECT variant, run, run_time, execution_id, {metrics}
        FROM numbered
        WHERE (run - 1) % greatest(1, CAST(ceil(runs / {MAX_POINTS_PER_SERIES}) AS BIGINT)) = 0 OR run = runs
        ORDER BY variant, run
        """
    ).fetchall()
    series: dict[str, list[tuple]] = {}
    for row in rows:
        series.setdefault(row[0], []).append(row[1:])
    return series


def render(
    use_case: str, source: str, latest, regressions, regression_count: int, points: dict[str, list[tuple]]
) -> str:
    """The whole HTML page (`regressions` holds the most recent regressed runs, of `regression_count`)."""
    execution = regressions.columns.index("execution_id")
    flagged = {row[execution] for row in regressions.rows}
    shown = (
        f"{regression_count}, the latest {len(regressions.rows)} shown"
        if regression_count > len(regressions.rows)
        else str(regression_count)
    )
    colours = {variant: COLOURS[i % len(COLOURS)] for i, variant in enumerate(sorted(points))}
    charts = []
    for offset, metric in enumerate(METRICS):
        column = 3 + offset
        for axis in ("run", "time"):
            x_index = 0 if axis == "run" else 1
            series = {
                variant: [(_x_value(row[x_index]), row[column], row[2]) for row in rows if row[column] is not None]
                for variant, rows in points.items()
            }
            marked = flagged if metric == "rmse" else set()
            charts.append(_line_chart(f"{metric} by {axis}", f"{metric}-by-{axis}", series, colours, axis, marked))
    legend = "".join(
        f'<span class="key"><span class="swatch" style="background:{colour}"></span>{html.escape(variant)}</span>'
        for variant, colour in colours.items()
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="{GENERATOR}">
<title>Model KPIs: {html.escape(use_case)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }}
th {{ background: #f2f2f2; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
figure {{ margin: 0; }}
svg {{ background: #fff; border: 1px solid #ddd; }}
.key {{ margin-right: 1rem; }}
.swatch {{ display: inline-block; width: 0.8rem; height: 0.8rem; margin-right: 0.3rem; }}
.flag {{ color: #d62728; font-weight: bold; }}
</style>
</head>
<body>
<h1>Model KPIs: {html.escape(use_case)}</h1>
<p>Source: {html.escape(source)}. Generated {generated}. Regressions (rmse worse than the previous run by
more than 5%) are circled in <span class="flag">red</span> on the rmse charts.</p>
<h2>Latest run per pipeline and variant</h2>
{_table("latest", latest.columns, latest.rows)}
<h2>Regressions ({shown})</h2>
{_table("regressions", regressions.columns, regressions.rows) if regressions.rows else '<p id="regressions">None.</p>'}
<h2>Metrics</h2>
<p>{legend}</p>
<div class="charts">
{"".join(charts)}
</div>
</body>
</html>
"""


def _x_value(value) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _line_chart(
    title: str,
    chart_id: str,
    series: dict[str, list[tuple[float, float, str]]],
    colours: dict[str, str],
    axis: str,
    marked: set[str],
) -> str:
    values = [point for points in series.values() for point in points]
    if not values:
        return f'<figure><figcaption>{html.escape(title)}</figcaption><p id="{chart_id}">No data.</p></figure>'
    x_low, x_high = _bounds([point[0] for point in values])
    y_low, y_high = _bounds([point[1] for point in values])

    def position(x: float, y: float) -> tuple[float, float]:
        left = MARGIN + (x - x_low) / (x_high - x_low) * (WIDTH - 2 * MARGIN)
        top = HEIGHT - MARGIN + -(y - y_low) / (y_high - y_low) * (HEIGHT - 2 * MARGIN)
        return round(left, 1), round(top, 1)

    shapes = []
    for variant, points in series.items():
        coordinates = " ".join(f"{left},{top}" for left, top in (position(x, y) for x, y, _ in points))
        shapes.append(
            f'<polyline fill="none" stroke="{colours[variant]}" stroke-width="1.5" points="{coordinates}">'
            f"<title>{html.escape(variant)}</title></polyline>"
        )
        for x, y, execution_id in points:
            if execution_id in marked:
                left, top = position(x, y)
                shapes.append(
                    f'<circle class="regression" cx="{left}" cy="{top}" r="4" fill="none" stroke="#d62728">'
                    f"<title>{html.escape(execution_id)}: regression</title></circle>"
                )
    label = _time_label if axis == "time" else _number_label
    bottom, right = HEIGHT - MARGIN, WIDTH - MARGIN
    axes = (
        f'<line x1="{MARGIN}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>'
        f'<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{bottom}" stroke="#888"/>'
        f'<text x="{MARGIN - 4}" y="{bottom}" text-anchor="end" font-size="10">{y_low:.4g}</text>'
        f'<text x="{MARGIN - 4}" y="{MARGIN + 4}" text-anchor="end" font-size="10">{y_high:.4g}</text>'
        f'<text x="{MARGIN}" y="{bottom + 14}" font-size="10">{label(x_low)}</text>'
        f'<text x="{right}" y="{bottom + 14}" text-anchor="end" font-size="10">{label(x_high)}</text>'
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle" font-size="11">{axis}</text>'
    )
    return (
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg id="{chart_id}" class="chart" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{html.escape(title)}">{axes}{"".join(shapes)}</svg></figure>'
    )


def _bounds(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        return low - 1, high + 1
    return low, high


def _time_label(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def _number_label(value: float) -> str:
    return f"run {value:.0f}"


def _table(table_id: str, columns: Sequence[str], rows: Sequence[tuple]) -> str:
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell_text(value))}</td>" for value in row) + "</tr>" for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
