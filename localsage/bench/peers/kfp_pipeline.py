"""The benchmark's Kubeflow Pipelines peer: the pipeline's work as lightweight components run by KFP local
execution (preprocess, train, then evaluate and score, as the pipeline's Evaluate and ScoreTest).

Run by `./dev bench peers` from the bench venv:
`python kfp_pipeline.py --scripts-dir ... --work-dir ... [--no-kfp-install]`. `kfp.local` with a
`SubprocessRunner(use_venv=False)` runs each component as a subprocess of the bench venv's Python. By default
each component first runs `pip install kfp==<version> --no-deps` (what a lightweight component does in a
cluster); `--no-kfp-install` builds the components with `install_kfp_package=False` to show that share.
Each component calls the same function as the floor (ml/scripts' `run()`, the bench's `score_by_hand`), on
the same files; KFP passes the work folder from one component to the next, which also orders them.
"""

import argparse
import json
from pathlib import Path

from kfp import dsl, local


def preprocess(scripts_dir: str, data: str, work_dir: str) -> str:
    """Preprocess: the three splits under the work folder; returns the folder."""
    import sys

    sys.path.insert(0, scripts_dir)
    import preprocess

    preprocess.run(data, work_dir)
    return work_dir


def train(scripts_dir: str, work_dir: str, hyperparameters: str) -> str:
    """Train: model.joblib and training.json in <work>/model; returns the work folder."""
    import json
    import sys

    sys.path.insert(0, scripts_dir)
    import train

    train.run(f"{work_dir}/train", f"{work_dir}/model", f"{work_dir}/validation", **json.loads(hyperparameters))
    return work_dir


def evaluate(scripts_dir: str, work_dir: str, kpi_schema: str, threshold: float) -> float:
    """Evaluate: evaluation.json and the KPI row; returns the test RMSE."""
    import sys
    import uuid

    sys.path.insert(0, scripts_dir)
    import evaluate

    metrics = evaluate.run(
        f"{work_dir}/model",
        f"{work_dir}/test",
        f"{work_dir}/evaluation",
        f"{work_dir}/kpi",
        kpi_schema,
        execution_id=f"kfp-{uuid.uuid4().hex[:12]}",
        pipeline_name="kfp",
        variant="experimental",
        threshold=threshold,
    )
    return metrics["rmse"]


def score(bench_dir: str, scripts_dir: str, work_dir: str) -> int:
    """Score: the batch split through the model's inference handlers; returns the row count."""
    import sys

    sys.path.insert(0, bench_dir)
    import score_by_hand

    return score_by_hand.score(
        scripts_dir, f"{work_dir}/model", f"{work_dir}/batch/batch.csv", f"{work_dir}/scores.csv"
    )


def build_pipeline(install_kfp_package: bool):
    """The pipeline function; components are built here because `install_kfp_package` is a build option."""
    preprocess_op, train_op, evaluate_op, score_op = (
        dsl.component(function, install_kfp_package=install_kfp_package)
        for function in (preprocess, train, evaluate, score)
    )

    @dsl.pipeline(name="abalone")
    def abalone(
        bench_dir: str,
        scripts_dir: str,
        data: str,
        work_dir: str,
        kpi_schema: str,
        hyperparameters: str,
        threshold: float,
    ):
        splits = preprocess_op(scripts_dir=scripts_dir, data=data, work_dir=work_dir)
        model = train_op(scripts_dir=scripts_dir, work_dir=splits.output, hyperparameters=hyperparameters)
        evaluate_op(scripts_dir=scripts_dir, work_dir=model.output, kpi_schema=kpi_schema, threshold=threshold)
        score_op(bench_dir=bench_dir, scripts_dir=scripts_dir, work_dir=model.output)

    return abalone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts-dir", required=True, help="The project's ml/scripts folder.")
    parser.add_argument("--data", required=True, help="The Abalone CSV.")
    parser.add_argument("--work-dir", required=True, help="Where the steps write their files.")
    parser.add_argument("--kpi-schema", required=True, help="infra/kpi/model_kpis.json.")
    parser.add_argument("--hyperparameters", required=True, help="The Train step's hyperparameters as JSON.")
    parser.add_argument("--threshold", required=True, type=float, help="The pipeline's RMSE threshold.")
    parser.add_argument("--kfp-root", required=True, help="KFP's pipeline root and workspace folder.")
    parser.add_argument("--no-kfp-install", action="store_true", help="Skip the per-component `pip install kfp`.")
    args = parser.parse_args()
    json.loads(args.hyperparameters)  # fail here, before three processes start, if it is not JSON
    root = Path(args.kfp_root)
    workspace = root / "workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(root / "outputs"),
        workspace_root=str(workspace),
    )
    build_pipeline(install_kfp_package=not args.no_kfp_install)(
        bench_dir=str(Path(__file__).resolve().parents[1]),
        scripts_dir=args.scripts_dir,
        data=args.data,
        work_dir=args.work_dir,
        kpi_schema=args.kpi_schema,
        hyperparameters=args.hyperparameters,
        threshold=args.threshold,
    )


if __name__ == "__main__":
    main()
