"""Measuring commands fairly: the same machine, one run, configurations alternated round by round.

Wall time and the peak resident memory of the whole process tree (sampled every 20 ms) per run;
summaries are medians with min and max. Nothing here asserts a speed: suites print ratios.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from localsage.errors import UserError

SAMPLE_EVERY_S = 0.02


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_rss_mb: float


def run_command(
    command: list[str], cwd: Path, env: dict[str, str], what: str, servers: Callable[[], list[int]] = list
) -> tuple[Measurement, str]:
    """Run one command to the end; its wall time, the peak RSS of its process tree, and its stdout.

    `servers`: the PIDs of the warm servers the command's processes are forked from. What they fork while the
    command runs works for it, so their children count in its tree (their pages shared with the server too:
    RSS, not PSS, so the figure errs high); the servers themselves are reported apart.
    Output goes to temporary files, not pipes: a chatty child could otherwise fill a pipe and never finish.
    """
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
        peak = 0
        roots = [psutil.Process(child.pid)]
        for pid in servers():
            with contextlib.suppress(psutil.Error):
                roots.append(psutil.Process(pid))
        while child.poll() is None:
            try:
                tree = [roots[0], *(found for root in roots for found in root.children(recursive=True))]
                peak = max(peak, sum(_rss(process) for process in tree))
            except psutil.Error:
                pass
            time.sleep(SAMPLE_EVERY_S)
        seconds = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read().decode(errors="replace"), stderr.read().decode(errors="replace")
    if child.returncode != 0:
        last = (err.strip().splitlines() or ["(no output)"])[-1]
        raise UserError(f"bench: {what} failed with exit code {child.returncode}: {last}")
    return Measurement(seconds, peak / 2**20), out


def _rss(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def combine(parts: list[Measurement]) -> Measurement:
    """Several commands run one after another, as one configuration."""
    return Measurement(sum(part.seconds for part in parts), max(part.peak_rss_mb for part in parts))


def alternate(
    configurations: dict[str, Callable[[int], Measurement]],
    rounds: int,
    say: Callable[[str], None] = print,
) -> dict[str, list[Measurement]]:
    """Each round runs every configuration once, in the same order, so drift hits them all alike."""
    results: dict[str, list[Measurement]] = {name: [] for name in configurations}
    for round_number in range(1, rounds + 1):
        for name, measure in configurations.items():
            measurement = measure(round_number)
            results[name].append(measurement)
            say(f"bench: round {round_number}/{rounds} {name:<10} {measurement.seconds:6.2f} s")
    return results


def summarise(measurements: list[Measurement]) -> dict:
    seconds = [m.seconds for m in measurements]
    return {
        "median_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
        "peak_rss_mb": round(max(m.peak_rss_mb for m in measurements), 1),
        "runs": len(seconds),
    }


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "interpreter": Path(sys.executable).name,
    }
