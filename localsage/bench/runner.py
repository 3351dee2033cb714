"""`./dev bench runner`: local-run against the floor (the step scripts as plain processes).

Configurations, alternated over the rounds, all on a private copy of the project with its own emulator:
- floor:  preprocess.py, train.py, evaluate.py and the batch scoring (`score_by_hand.py`, the model's own
          inference handlers) as plain `python` processes, in order, same arguments;
- cold:   `./dev local-run --no-cache` (every step runs, forked from the warm interpreter, and the task itself
          forked from the command server: the defaults here; the definition is unchanged, so it is reused);
- fresh:  the same with LOCALSAGE_ISOLATION=fresh (the task and each step `python` a fresh interpreter);
- cached: `./dev local-run` (Preprocess and Train come from the cache);
- edit:   a comment appended to train.py, then `./dev local-run` (the edit-to-result loop).
The warm interpreter and the command server start with the first run after the emulator (the warm-up) and serve
every later run, as they do for a user; their starts are reported apart, like the emulator's.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import psutil

from localsage.bench import harness
from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.project import layout
from localsage.runner.warm import commands, protocol, service

# RegisterModel's local notification reads infra/cdk.json (which groups notify).
PROJECT_FILES = ("ml", "infra/kpi", "infra/cdk.json", "project.toml", "requirements", "tasks.py")
DEFAULT_ROUNDS = 5
# The warm servers a run's processes are forked from, by their name in the reports.
SERVER_FOLDERS = {"warm_interpreter": service.folder, "command_server": commands.folder}


def run(root: Path, say: Callable[[str], None] = print, rounds: int = DEFAULT_ROUNDS, sample_rows: int | None = None):
    """Measure the configurations; medians in seconds and the ratios the issue's goals are stated in."""
    with tempfile.TemporaryDirectory(prefix="localsage-bench-") as scratch:
        bench = BenchProject(root, Path(scratch), sample_rows)
        try:
            emulator = bench.start_emulator()
            say(f"bench: emulator started in {emulator.seconds:.2f} s; warming up (definition build, caches)")
            warm_up = bench.local_run("warm-up")[0]
            configurations = {"floor": bench.floor, "cold": bench.cold, "fresh": bench.fresh}
            configurations |= {"cached": bench.cached, "edit": bench.edit}
            results = harness.alternate(configurations, rounds, say)
            servers = bench.servers_report()
        finally:
            bench.stop_emulator()
    summary = {name: harness.summarise(measurements) for name, measurements in results.items()}
    medians = {name: values["median_s"] for name, values in summary.items()}
    return {
        "machine": harness.machine(),
        "rounds": rounds,
        "sample_rows": sample_rows,
        "emulator_start_s": round(emulator.seconds, 3),
        "first_run_s": round(warm_up.seconds, 3),
        **servers,
        "floor_s": medians["floor"],
        "cold_s": medians["cold"],
        "fresh_s": medians["fresh"],
        "cached_s": medians["cached"],
        "edit_s": medians["edit"],
        "cold_ratio": round(medians["cold"] / medians["floor"], 3),
        "fresh_ratio": round(medians["fresh"] / medians["floor"], 3),
        "cached_ratio": round(medians["cached"] / medians["floor"], 3),
        "edit_ratio": round(medians["edit"] / medians["floor"], 3),
        "configurations": summary,
    }


class BenchProject:
    """A throw-away copy of the project (code, data, config) with its own state folder and emulator."""

    def __init__(self, root: Path, scratch: Path, sample_rows: int | None):
        self.project = scratch / "project"
        self.work = scratch / "floor"
        for name in PROJECT_FILES:
            source, target = root / name, self.project / name
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        if sample_rows:
            data = layout.sample_data_file(self.project)
            lines = data.read_text().splitlines(keepends=True)
            data.write_text("".join(lines[: sample_rows + 1]))
        self.env = {**os.environ, "LOCALSAGE_STATE_DIR": str(scratch / "state"), "LOCALSAGE_ROOT": str(self.project)}
        self.env.pop("AWS_ENDPOINT_URL", None)
        self.invoke = str(Path(sys.executable).with_name("invoke"))
        self.dev = str(root / "dev")  # what a user types: the task is forked from the command server once it runs

    def start_emulator(self) -> harness.Measurement:
        return harness.run_command([self.invoke, "emulator.up"], self.project, self.env, "emulator.up")[0]

    def stop_emulator(self) -> None:
        harness.run_command([self.invoke, "emulator.down"], self.project, self.env, "emulator.down")

    def local_run(self, what: str, *flags: str, isolation: str | None = None) -> tuple[harness.Measurement, dict]:
        command = [self.dev, "local-run", "--json", *flags]
        env = {**self.env, "LOCALSAGE_ISOLATION": isolation} if isolation else self.env
        measurement, stdout = harness.run_command(command, self.project, env, f"local-run ({what})", self.servers)
        summary = json.loads(stdout)
        if summary["status"] != "Succeeded":
            raise UserError(f"bench: local-run ({what}) ended {summary['status']}: {summary['failure']}")
        return measurement, summary

    def cold(self, round_number: int) -> harness.Measurement:
        return self.local_run("cold", "--no-cache")[0]

    def fresh(self, round_number: int) -> harness.Measurement:
        return self.local_run("fresh", "--no-cache", isolation="fresh")[0]

    def _server_records(self) -> dict[str, protocol.ServerRecord | None]:
        state = Path(self.env["LOCALSAGE_STATE_DIR"])
        return {name: service.read_record(folder(state)) for name, folder in SERVER_FOLDERS.items()}

    def servers(self) -> list[int]:
        """The warm interpreter's and the command server's PIDs, while they run."""
        return [record.pid for record in self._server_records().values() if record]

    def servers_report(self) -> dict[str, dict | None]:
        """Each warm server's import time and resident memory (no server is a child of the runs, so their peak
        RSS leaves it out; what it forks for them is in it)."""
        return {name: _server_report(record) for name, record in self._server_records().items()}

    def cached(self, round_number: int) -> harness.Measurement:
        measurement, summary = self.local_run("cached")
        self._expect_cache(summary, {"Preprocess": True, "Train": True}, "cached")
        return measurement

    def edit(self, round_number: int) -> harness.Measurement:
        script = self.project / layout.SCRIPTS_DIR / "train.py"
        script.write_text(script.read_text() + f"# bench edit {round_number}\n")
        measurement, summary = self.local_run("edit")
        self._expect_cache(summary, {"Preprocess": True, "Train": False}, "edit")
        return measurement

    def floor(self, round_number: int) -> harness.Measurement:
        """The same work with nothing around it: four plain processes on local files."""
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir()
        scripts = self.project / layout.SCRIPTS_DIR
        python = sys.executable
        hyperparameters = self._hyperparameters()
        steps = [
            [
                python,
                str(scripts / "preprocess.py"),
                "--input",
                str(layout.sample_data_file(self.project)),
                "--output-dir",
                str(self.work),
            ],
            [
                python,
                str(scripts / "train.py"),
                "--train",
                str(self.work / "train"),
                "--validation",
                str(self.work / "validation"),
                "--model-dir",
                str(self.work / "model"),
                "--output-data-dir",
                str(self.work / "output"),
                *hyperparameters,
            ],
        ]
        parts = [harness.run_command(step, self.work, self.env, f"floor {Path(step[1]).name}")[0] for step in steps]
        # The model folder itself (evaluate.py also reads folders), as the peers pass it: no archive in the floor.
        evaluate = [
            python, str(scripts / "evaluate.py"), "--model", str(self.work / "model"),
            "--test-dir", str(self.work / "test"), "--evaluation-dir", str(self.work / "evaluation"),
            "--kpi-dir", str(self.work / "kpi"), "--kpi-schema", str(self.project / "infra/kpi/model_kpis.json"),
            "--execution-id", f"floor{round_number}", "--pipeline-name", "floor", "--variant", "experimental",
            "--threshold", str(self.definition_parameter("RmseThreshold")),
        ]  # fmt: skip
        parts.append(harness.run_command(evaluate, self.work, self.env, "floor evaluate.py")[0])
        score = [
            python, str(Path(__file__).with_name("score_by_hand.py")), str(scripts), str(self.work / "model"),
            str(self.work / "batch" / "batch.csv"), str(self.work / "scores.csv"),
        ]  # fmt: skip
        parts.append(harness.run_command(score, self.work, self.env, "floor scoring")[0])
        return harness.combine(parts)

    def _definition(self) -> dict:
        """The definition local-run built for this copy (the source of the floor's arguments)."""
        from localsage.project.definitions import definition_cache_file

        state_dir = Path(self.env["LOCALSAGE_STATE_DIR"])
        return json.loads(
            definition_cache_file(
                state_dir, project_config.load(self.project).pipeline_name("experimental")
            ).read_text()
        )["definition"]

    def definition_parameter(self, name: str) -> object:
        """A pipeline parameter's default, from the definition local-run built for this copy."""
        return next(p["DefaultValue"] for p in self._definition()["Parameters"] if p["Name"] == name)

    def train_hyperparameters(self) -> dict[str, str]:
        """The Train step's hyperparameters, from the definition local-run built for this copy."""
        train = next(step for step in self._definition()["Steps"] if step["Name"] == "Train")
        return dict(train["Arguments"]["HyperParameters"])

    def _hyperparameters(self) -> list[str]:
        """The Train step's hyperparameters as command-line flags (what the floor's train.py gets)."""
        return [item for name, value in self.train_hyperparameters().items() for item in (f"--{name}", value)]

    @staticmethod
    def _expect_cache(summary: dict, expected: dict[str, bool], what: str) -> None:
        actual = {name: summary["steps"][name]["cache_hit"] for name in expected}
        if actual != expected:
            raise UserError(f"bench: {what} run had cache hits {actual}, expected {expected}")


def _server_report(record: protocol.ServerRecord | None) -> dict | None:
    if record is None:
        return None
    try:
        rss = psutil.Process(record.pid).memory_info().rss / 2**20
    except psutil.Error:
        rss = None
    return {"start_s": record.ready_s, "rss_mb": round(rss, 1) if rss else None}
