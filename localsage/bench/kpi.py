"""`./dev bench kpi`: the KPI query suite on 1,000,000 rows in 365 daily files, and on 3,000 one-row files.

Each data set is generated once under `.local/bench/kpi/`. The suite (header checks, load, every project
query) runs in a child process, cold (fresh interpreter, imports included) then warm (again in the same
process); the child's peak RSS is the kernel's high-water mark, not a sample.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.facts import kpi_schema

DAILY_ROWS = 1_000_000
DAYS = 365
PER_RUN_FILES = 3_000
GOALS = {"daily_warm_s": 2.0, "per_run_warm_s": 3.0, "peak_rss_mb": 300.0}
_COMPLETE = ".complete"
FIRST_DAY = "2025-01-01"


def run(
    root: Path,
    say: Callable[[str], None] = print,
    daily_rows: int = DAILY_ROWS,
    days: int = DAYS,
    per_run_files: int = PER_RUN_FILES,
) -> dict:
    """Generate the data sets if needed, run the suite on each in a child process, return the measurements."""
    base = project_config.local_dir(root) / "bench" / "kpi"
    header = kpi_schema.load_for_project(root).column_names
    daily = _generated(
        base / f"daily-{daily_rows}-rows-{days}-days", say, lambda folder: _write_daily(folder, daily_rows, days)
    )
    per_run = _generated(
        base / f"per-run-{per_run_files}-files", say, lambda folder: _write_per_run(folder, header, per_run_files, days)
    )
    results = {}
    for name, folder, rows, files in (
        ("daily", daily, daily_rows, days),
        ("per_run", per_run, per_run_files, per_run_files),
    ):
        say(f"running the KPI query suite on {rows} rows in {files} files")
        results[name] = {"rows": rows, "files": files, **_measure_in_child(root, folder)}
    peak = max(result["peak_rss_mb"] for result in results.values())
    results["goals"] = {
        "daily_warm_s": {"goal": GOALS["daily_warm_s"], "met": results["daily"]["warm_s"] <= GOALS["daily_warm_s"]},
        "per_run_warm_s": {
            "goal": GOALS["per_run_warm_s"],
            "met": results["per_run"]["warm_s"] <= GOALS["per_run_warm_s"],
        },
        "peak_rss_mb": {"goal": GOALS["peak_rss_mb"], "met": peak <= GOALS["peak_rss_mb"]},
    }
    return results


def _generated(folder: Path, say: Callable[[str], None], write: Callable[[Path], None]) -> Path:
    """The data set in `folder`, written first (into a scratch folder, then renamed) when it is not complete."""
    if (folder / _COMPLETE).is_file():
        return folder
    scratch = folder.with_name(folder.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    scratch.mkdir(parents=True)
    say(f"generating {folder.name} under {folder.parent}")
    write(scratch)
    (scratch / _COMPLETE).touch()
    scratch.rename(folder)
    return folder


def _write_daily(folder: Path, rows: int, days: int) -> None:
    import duckdb

    seconds_per_row = days * 86_400 / rows
    with duckdb.connect() as connection:
        connection.execute("SET enable_progress_bar = false")
        connection.execute(
            f"""
            COPY (
                SELECT
                    printf('%012x', i) AS execution_id,
                    'abalone-' || variant AS pipeline_name,
                    variant,
                    strftime(run_time, '%Y-%m-%dT%H:%M:%SZ') AS run_ts,
                    '' AS model_package_arn,
                    rmse * rmse AS mse,
                    rmse,
                    rmse * 0.8 AS mae,
                    0.9 - rmse / 10 AS r2,
                    CAST(3341 AS BIGINT) AS train_rows,
                    CAST(836 AS BIGINT) AS test_rows,
                    2.5 AS threshold,
                    strftime(run_time, '%Y-%m-%d') AS dt
                FROM (
                    SELECT
                        i,
                        CASE WHEN i % 2 = 0 THEN 'stable' ELSE 'experimental' END AS variant,
                        TIMESTAMP '{FIRST_DAY}' + to_seconds(CAST(floor(i * {seconds_per_row}) AS BIGINT))
                            AS run_time,
                        2 + (hash(i) % 1000) / 1000.0 AS rmse
                    FROM range({rows}) AS numbers(i)
                )
            ) TO '{folder}' (FORMAT csv, HEADER true, PARTITION_BY (dt), OVERWRITE_OR_IGNORE true)
            """
        )


def _write_per_run(folder: Path, columns: list[str], files: int, days: int) -> None:
    from datetime import datetime, timedelta

    header = ",".join(columns)
    start = datetime.fromisoformat(FIRST_DAY)
    for run in range(files):
        run_time = start + timedelta(seconds=run * days * 86_400 // files)
        variant = "stable" if run % 2 == 0 else "experimental"
        execution_id = f"{run:012x}"
        rmse = 2 + (run * 7919 % 1000) / 1000
        row = [execution_id, f"abalone-{variant}", variant, run_time.strftime("%Y-%m-%dT%H:%M:%SZ"), ""]
        row += [
            f"{rmse * rmse:.6f}",
            f"{rmse:.6f}",
            f"{rmse * 0.8:.6f}",
            f"{0.9 - rmse / 10:.6f}",
            "3341",
            "836",
            "2.5",
        ]
        partition = folder / f"dt={run_time:%Y-%m-%d}"
        partition.mkdir(exist_ok=True)
        (partition / f"{execution_id}.csv").write_text(header + "\n" + ",".join(row) + "\n", encoding="utf-8")


def _measure_in_child(root: Path, folder: Path) -> dict:
    child = subprocess.run(
        [sys.executable, "-m", "localsage.bench.kpi", str(root), str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    lines = child.stdout.strip().splitlines() or ["(no output)"]
    if child.returncode != 0:
        raise UserError(f"the benchmark child failed on {folder}: {lines[-1]}")
    return json.loads(lines[-1])


def _peak_rss_mb() -> float:
    """This process's peak resident memory since it started its program.

    Linux's VmHWM belongs to the program's own address space; ru_maxrss would also count what the
    parent held when it forked (the parent has just generated the data with DuckDB), so it is only the fallback.
    """
    import resource

    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale, 1)


def _suite_in_this_process(root: Path, folder: Path) -> dict:
    """Cold (imports included) and warm timings of the whole suite; what the child process prints."""
    started = time.perf_counter()
    from localsage.kpi import check, files

    imported = time.perf_counter()
    timings = []
    for _ in range(2):
        begin = time.perf_counter()
        data = check.KpiData(
            folder, files.checked_kpi_files(folder, kpi_schema.load_for_project(root), ""), str(folder)
        )
        outcomes = check.run_suite(root, data)
        timings.append(time.perf_counter() - begin)
    failures = check.failure_lines(outcomes, root)
    if failures:
        raise UserError(f"KPI queries failed on the benchmark data: {failures[0]}")
    return {
        "import_s": round(imported - started, 3),
        "cold_s": round(imported - started + timings[0], 3),
        "warm_s": round(timings[1], 3),
        "queries": len(outcomes),
        "peak_rss_mb": _peak_rss_mb(),
    }


if __name__ == "__main__":
    try:
        print(json.dumps(_suite_in_this_process(Path(sys.argv[1]), Path(sys.argv[2]))))
    except UserError as exc:
        print(exc)
        sys.exit(1)
