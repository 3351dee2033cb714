"""`./dev bench peers`: local-run against the floor and the tools people would use instead, on the same work.

Configurations, alternated over the rounds after one warm-up round, all on a private copy of the project:
- floor:       preprocess.py, train.py, evaluate.py as plain `python` processes (runner.BenchProject.floor);
- ours cold:   `invoke local-run --no-cache --backend process`, emulator running, definition reused, each step
               forked from the warm interpreter (the default);
- ours fresh:  the same with LOCALSAGE_ISOLATION=fresh: each step `python` a fresh interpreter;
- ours cached: `invoke local-run --backend process`, every step with a cache config (Preprocess, Train) cached;
- metaflow:    metaflow_flow.py, a local Metaflow run (local datastore and metadata);
- kfp:         kfp_pipeline.py, KFP local execution with a SubprocessRunner (default: `pip install kfp` per step);
- kfp no-pip:  the same components built with `install_kfp_package=False`.
The peers run from their own venv (see environment.py); every peer step calls the same ml/scripts `run()`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from localsage.bench import harness
from localsage.bench.peers import environment
from localsage.bench.runner import SERVER_FOLDERS, BenchProject
from localsage.errors import UserError
from localsage.project import layout

DEFAULT_ROUNDS = 5
FLOWS_DIR = Path(__file__).resolve().parent
FLOOR = "floor"
OURS_COLD = "ours cold"
OURS_FRESH = "ours fresh"
OURS_CACHED = "ours cached"
METAFLOW = "metaflow"
KFP = "kfp"
KFP_NO_PIP = "kfp no-pip"
# The steps local-run can take from its cache; Evaluate always runs (each execution writes its own KPI row).
CACHED_STEPS = ("Preprocess", "Train")


def run(
    root: Path,
    say: Callable[[str], None] = print,
    rounds: int = DEFAULT_ROUNDS,
    sample_rows: int | None = None,
    include_peers: bool = True,
    warm_up_rounds: int = 1,
) -> dict:
    """Measure every configuration; medians, min/max and peak RSS, with ratios to the floor and to ours cold.

    The warm-up rounds (first imports into the page cache, Metaflow's datastore, KFP's first pip check) are
    not measured. `include_peers=False` leaves out Metaflow and KFP (and installs nothing).
    """
    python = environment.peer_python(root, say) if include_peers else None
    with tempfile.TemporaryDirectory(prefix="localsage-bench-peers-") as scratch:
        bench = BenchProject(root, Path(scratch), sample_rows)
        try:
            emulator = bench.start_emulator()
            say(f"bench: emulator started in {emulator.seconds:.2f} s; building the definition")
            bench.local_run("definition build", "--backend", "process")
            ours = OurRuns(bench)
            configurations = {
                FLOOR: bench.floor,
                OURS_COLD: ours.cold,
                OURS_FRESH: ours.fresh,
                OURS_CACHED: ours.cached,
            }
            if python:
                peers = PeerRuns(bench, python, Path(scratch) / "peers")
                configurations |= {METAFLOW: peers.metaflow, KFP: peers.kfp, KFP_NO_PIP: peers.kfp_without_pip}
            for warm_up in range(warm_up_rounds):
                say(f"bench: warm-up round {warm_up + 1}/{warm_up_rounds} ({', '.join(configurations)})")
                for measure in configurations.values():
                    measure(0)
            results = harness.alternate(configurations, rounds, say)
            servers = bench.servers_report()
        finally:
            bench.stop_emulator()
    report = summarise(results, emulator.seconds, warm_up_rounds, sample_rows) | servers
    say(table(report))
    return report


class OurRuns:
    """local-run with the process backend: cold (warm interpreters, the default), fresh, and fully cached."""

    def __init__(self, bench: BenchProject):
        self.bench = bench

    def cold(self, round_number: int) -> harness.Measurement:
        return self.bench.local_run(OURS_COLD, "--no-cache", "--backend", "process")[0]

    def fresh(self, round_number: int) -> harness.Measurement:
        return self.bench.local_run(OURS_FRESH, "--no-cache", "--backend", "process", isolation="fresh")[0]

    def cached(self, round_number: int) -> harness.Measurement:
        measurement, summary = self.bench.local_run(OURS_CACHED, "--backend", "process")
        missed = [name for name in CACHED_STEPS if not summary["steps"][name]["cache_hit"]]
        if missed:
            raise UserError(f"bench: {OURS_CACHED} ran {', '.join(missed)} instead of taking it from the cache")
        return measurement


class PeerRuns:
    """The peers' flows, run from the bench venv on the bench project's data, scripts and hyperparameters."""

    def __init__(self, bench: BenchProject, python: Path, scratch: Path):
        self.bench = bench
        self.python = str(python)
        self.scratch = scratch
        project = bench.project
        self.step_arguments = [
            "--scripts-dir", str(project / layout.SCRIPTS_DIR),
            "--data", str(layout.sample_data_file(project)),
            "--kpi-schema", str(project / "infra" / "kpi" / "model_kpis.json"),
            "--hyperparameters", json.dumps(bench.train_hyperparameters()),
            "--threshold", str(bench.definition_parameter("RmseThreshold")),
        ]  # fmt: skip
        self.metaflow_home = scratch / "metaflow"
        self.metaflow_home.mkdir(parents=True)
        # Local datastore and metadata inside the scratch folder; Metaflow refuses to run without a user name.
        self.metaflow_env = {
            **bench.env,
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(self.metaflow_home),
            "USERNAME": "bench",
        }

    def metaflow(self, round_number: int) -> harness.Measurement:
        command = [self.python, str(FLOWS_DIR / "metaflow_flow.py"), "run", *self._step_arguments(METAFLOW)]
        return harness.run_command(command, self.metaflow_home, self.metaflow_env, METAFLOW)[0]

    def kfp(self, round_number: int) -> harness.Measurement:
        return self._run_kfp(KFP)

    def kfp_without_pip(self, round_number: int) -> harness.Measurement:
        return self._run_kfp(KFP_NO_PIP, "--no-kfp-install")

    def _run_kfp(self, name: str, *flags: str) -> harness.Measurement:
        kfp_root = self.scratch / name.replace(" ", "-")
        command = [
            self.python, str(FLOWS_DIR / "kfp_pipeline.py"), *self._step_arguments(name),
            "--kfp-root", str(kfp_root), *flags,
        ]  # fmt: skip
        return harness.run_command(command, self.scratch, self.bench.env, name)[0]

    def _step_arguments(self, name: str) -> list[str]:
        """The shared arguments and a fresh work folder, like the floor's."""
        work = self.scratch / "work" / name.replace(" ", "-")
        if work.exists():
            shutil.rmtree(work)
        return [*self.step_arguments, "--work-dir", str(work)]


def summarise(
    results: dict[str, list[harness.Measurement]], emulator_s: float, warm_up_rounds: int, sample_rows: int | None
) -> dict:
    """Per configuration: harness summary plus `vs_floor` and `vs_ours_cold` (median over median)."""
    configurations = {name: harness.summarise(measurements) for name, measurements in results.items()}
    floor, ours = configurations[FLOOR]["median_s"], configurations[OURS_COLD]["median_s"]
    for values in configurations.values():
        values["vs_floor"] = round(values["median_s"] / floor, 3)
        values["vs_ours_cold"] = round(values["median_s"] / ours, 3)
    goals = {"ours_cached_speedup": round(ours / configurations[OURS_CACHED]["median_s"], 2)}
    for peer in (METAFLOW, KFP):
        if peer in configurations:
            goals[f"ours_cold_vs_{peer}"] = round(ours / configurations[peer]["median_s"], 3)
    return {
        "machine": harness.machine(),
        "rounds": len(results[FLOOR]),
        "warm_up_rounds": warm_up_rounds,
        "sample_rows": sample_rows,
        "emulator_start_s": round(emulator_s, 3),
        "configurations": configurations,
        "goals": goals,
    }


def table(report: dict) -> str:
    """The report as a fixed-width table with the machine in its header (what docs/benchmarks.md shows)."""
    machine = report["machine"]
    rows = f"{report['sample_rows']} rows" if report["sample_rows"] else "full data"
    header = (
        f"bench peers: {machine['cores']} cores, Python {machine['python']} ({machine['platform']}); "
        f"{report['rounds']} rounds alternated after {report['warm_up_rounds']} warm-up; {rows}; "
        f"emulator start {report['emulator_start_s']:.2f} s (not in any row)"
    )
    columns = f"{'configuration':<14}{'median s':>10}{'min s':>9}{'max s':>9}{'peak RSS MB':>13}"
    lines = [header, "", f"{columns}{'vs floor':>10}{'vs ours cold':>14}"]
    for name, values in report["configurations"].items():
        lines.append(
            f"{name:<14}{values['median_s']:>10.2f}{values['min_s']:>9.2f}{values['max_s']:>9.2f}"
            f"{values['peak_rss_mb']:>13.0f}{values['vs_floor']:>10.2f}{values['vs_ours_cold']:>14.2f}"
        )
    servers = {key.replace("_", " "): report[key] for key in SERVER_FOLDERS if report.get(key)}
    if servers:
        lines += ["", "outside every row's peak RSS (what they fork is in it):"]
        lines += [f"  {name}: {found['rss_mb']} MB, imports in {found['start_s']} s" for name, found in servers.items()]
    goals = report["goals"]
    lines += ["", f"ours cached is {goals['ours_cached_speedup']:.1f}x faster than ours cold"]
    lines += [
        f"ours cold / {name[len('ours_cold_vs_') :]} = {value:.2f} (goal: <= 0.6)"
        for name, value in goals.items()
        if name.startswith("ours_cold_vs_")
    ]
    return "\n".join(lines)
