"""The batch scoring by hand: what the ScoreTest step does, in one plain process (the floor) or a peer's step.

`python score_by_hand.py SCRIPTS_DIR MODEL_DIR BATCH_CSV OUTPUT`: the model's own handlers (`inference.py`) load
the model and score the features of every row (the label is the first column); writes `label,prediction` rows.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def score(scripts: Path | str, model_dir: Path | str, batch: Path | str, output: Path | str) -> int:
    """Score every row of `batch` with the model's handlers, write `output`; returns the row count."""
    scripts, batch, output = Path(scripts), Path(batch), Path(output)
    spec = importlib.util.spec_from_file_location("inference", scripts / "inference.py")
    inference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(inference)
    model = inference.model_fn(str(model_dir))
    lines = batch.read_text(encoding="utf-8").splitlines()
    features = "\n".join(line.split(",", 1)[1] for line in lines)
    predictions = inference.predict_fn(inference.input_fn(features.encode(), "text/csv"), model)
    rows = [f"{line.split(',', 1)[0]},{prediction}" for line, prediction in zip(lines, predictions, strict=True)]
    output.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return len(rows)


if __name__ == "__main__":
    score(*sys.argv[1:5])
