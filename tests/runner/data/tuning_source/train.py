"""A training script for the tuning tests: its loss is known from its hyperparameters, so the best job is too."""

import argparse
import json
import os
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--opt", required=True)
args = parser.parse_args()
rows = (Path(os.environ["SM_CHANNEL_TRAINING"]) / "data.csv").read_text().splitlines()
loss = abs(args.lr - 0.01) * 100 + (0 if args.opt == "adam" else 1) + len(rows) * 0
(Path(os.environ["SM_MODEL_DIR"]) / "model.json").write_text(json.dumps({"lr": args.lr, "opt": args.opt}))
print(f"epoch {args.epochs} loss: {loss:.6f}")
