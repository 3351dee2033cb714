"""Inference handlers: how SageMaker serves the trained model (batch transform and endpoints).

The serving contract of SageMaker's scikit-learn container: `model_fn` loads the model from the unpacked
model.tar.gz; `input_fn` takes CSV rows of the features in training order (no header, no target);
`predict_fn` scores them; the default `output_fn` answers one prediction per line. The Train step puts this
file into the model artefact (`code/inference.py`), so the model serves itself wherever it goes.
"""

from __future__ import annotations

import io
import json
import os

import joblib
import pandas as pd

MODEL_FILE = "model.joblib"
TRAINING_RECORD_FILE = "training.json"


def model_fn(model_dir):
    """The fitted model and the feature names it was trained on."""
    with open(os.path.join(model_dir, TRAINING_RECORD_FILE), encoding="utf-8") as stream:
        features = json.load(stream)["features"]
    return {"model": joblib.load(os.path.join(model_dir, MODEL_FILE)), "features": features}


def input_fn(body, content_type):
    """CSV rows of the features, in training order, as a frame with the training column names."""
    if content_type.split(";")[0].strip() != "text/csv":
        raise ValueError(f"inference: content type {content_type} is not supported: send text/csv")
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return pd.read_csv(io.StringIO(text), header=None)


def predict_fn(rows, model):
    features = model["features"]
    if rows.shape[1] != len(features):
        raise ValueError(f"inference: rows have {rows.shape[1]} columns, the model needs {len(features)}: {features}")
    rows.columns = features
    return model["model"].predict(rows)
