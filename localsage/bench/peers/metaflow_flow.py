"""The benchmark's Metaflow peer: the pipeline's work as a local Metaflow flow.

Run by `./dev bench peers` from the bench venv (`python metaflow_flow.py run --scripts-dir ... --work-dir ...`)
with the local datastore and metadata. start = preprocess, then train, then evaluate and score side by side (as
the pipeline's Evaluate and ScoreTest), a join (Metaflow's terminal `end` may not be one), and `end`. Each step
calls the same function as the floor (ml/scripts' `run()`, the bench's `score_by_hand`), on the same files;
Metaflow adds one process per step and stores every step's artefacts (here the small return values) in its
datastore.
"""

import json
import sys
from pathlib import Path

from metaflow import FlowSpec, Parameter, current, step


def _script(scripts_dir: str, name: str):
    """One of ml/scripts, imported by file location (the bench venv does not have this project installed)."""
    if scripts_dir not in sys.path:
        sys.path.insert(0, scripts_dir)
    return __import__(name)


class AbaloneFlow(FlowSpec):
    """Preprocess -> Train -> Evaluate on local files."""

    scripts_dir = Parameter("scripts-dir", help="The project's ml/scripts folder.", required=True)
    data = Parameter("data", help="The Abalone CSV.", required=True)
    work_dir = Parameter("work-dir", help="Where the steps write their files.", required=True)
    kpi_schema = Parameter("kpi-schema", help="infra/kpi/model_kpis.json.", required=True)
    hyperparameters = Parameter("hyperparameters", help="The Train step's hyperparameters as JSON.", required=True)
    threshold = Parameter("threshold", help="The pipeline's RMSE threshold.", type=float, required=True)

    @step
    def start(self):
        """Preprocess: the three splits under the work folder."""
        self.split_rows = _script(self.scripts_dir, "preprocess").run(self.data, self.work_dir)
        self.next(self.train)

    @step
    def train(self):
        """Train: model.joblib and training.json in <work>/model."""
        record = _script(self.scripts_dir, "train").run(
            f"{self.work_dir}/train",
            f"{self.work_dir}/model",
            f"{self.work_dir}/validation",
            **json.loads(self.hyperparameters),
        )
        self.validation_rmse = record["validation_rmse"]
        self.next(self.evaluate, self.score)

    @step
    def evaluate(self):
        """Evaluate: evaluation.json and the KPI row."""
        self.metrics = _script(self.scripts_dir, "evaluate").run(
            f"{self.work_dir}/model",
            f"{self.work_dir}/test",
            f"{self.work_dir}/evaluation",
            f"{self.work_dir}/kpi",
            self.kpi_schema,
            execution_id=f"metaflow-{current.run_id}",
            pipeline_name="metaflow",
            variant="experimental",
            threshold=self.threshold,
        )
        self.next(self.join)

    @step
    def score(self):
        """Score: the batch split through the model's inference handlers, label and prediction per row."""
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        import score_by_hand

        work = Path(self.work_dir)
        self.scored_rows = score_by_hand.score(self.scripts_dir, work / "model", work / "batch" / "batch.csv",
                                               work / "scores.csv")  # fmt: skip
        self.next(self.join)

    @step
    def join(self, inputs):
        """Join the two branches."""
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        """Nothing left to do."""


if __name__ == "__main__":
    AbaloneFlow()
