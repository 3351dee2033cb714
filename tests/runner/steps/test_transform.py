"""Transform: the model served by its `serve` (the real model server, on the process backend in both modes) and
the batch platform around it: split, filter, batch, join, assemble, `<object>.out` under S3OutputPath."""

from __future__ import annotations

import io
import json
import secrets
import tarfile

import pytest
from definitions_support import IMAGE, ROLE, read, upload
from steps_support import context

from localsage.errors import UserError
from localsage.runner.definition import Step
from localsage.runner.steps.base import StepFailed
from localsage.runner.steps.transform import Transform

# A model whose prediction is the sum of a row's features: easy to check by hand.
INFERENCE = b"""
import json, os

class Summer:
    def predict(self, rows):
        return [sum(row) * self.scale for row in rows]

def model_fn(model_dir):
    model = Summer()
    with open(os.path.join(model_dir, "scale.json")) as stream:
        model.scale = json.load(stream)["scale"]
    return model
"""


def archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def create_model(target, prefix: str, inference: bytes = INFERENCE, scale: float = 1.0) -> str:
    model_data = upload(
        target, f"{prefix}/model.tar.gz", archive({"scale.json": json.dumps({"scale": scale}).encode()})
    )
    source = upload(target, f"{prefix}/sourcedir.tar.gz", archive({"inference.py": inference}))
    name = f"model-{secrets.token_hex(4)}"
    target.client("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": model_data,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": source},
        },
    )
    return name


def arguments(target, prefix: str, model: str, data: bytes, **extra) -> dict:
    upload(target, f"{prefix}/input/batch.csv", data)
    transform_input = {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{target.bucket}/{prefix}/input"}},
        "ContentType": "text/csv",
        "SplitType": "Line",
        **extra.pop("TransformInput", {}),
    }
    return {
        "ModelName": model,
        "TransformInput": transform_input,
        "TransformOutput": {
            "S3OutputPath": f"s3://{target.bucket}/{prefix}/output",
            "Accept": "text/csv",
            "AssembleWith": "Line",
            **extra.pop("TransformOutput", {}),
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **extra,
    }


def transformed(target, prefix: str) -> list[str]:
    return read(target, f"{prefix}/output/batch.csv.out").decode().splitlines()


def test_the_model_server_scores_every_line_and_the_output_is_named_after_the_input(local_target, tmp_path, backend):
    prefix = f"tests/transform/{secrets.token_hex(4)}"
    model = create_model(local_target, prefix, scale=2.0)
    step = context(local_target, tmp_path, "Score", "Transform", {}, backend)
    properties = Transform().run(arguments(local_target, prefix, model, b"1,2\n3,4\n5,6\n"), step).properties
    assert [float(line) for line in transformed(local_target, prefix)] == [6.0, 14.0, 22.0]
    assert properties["TransformJobStatus"] == "Completed" and properties["ModelName"] == model
    assert properties["TransformJobArn"].endswith(f":transform-job/{step.job_name().lower()}")
    assert "GET /ping" in (step.logs / "output.log").read_text()


def test_filters_and_join_keep_the_label_beside_its_prediction(local_target, tmp_path, backend):
    prefix = f"tests/transform/{secrets.token_hex(4)}"
    model = create_model(local_target, prefix)
    step = context(local_target, tmp_path, "Score", "Transform", {}, backend)
    job = arguments(
        local_target,
        prefix,
        model,
        b"10,1,2\n20,3,4\n",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
        BatchStrategy="SingleRecord",
    )
    Transform().run(job, step)
    assert [line.split(",") for line in transformed(local_target, prefix)] == [["10", "3.0"], ["20", "7.0"]]
    assert (step.logs / "output.log").read_text().count("POST /invocations") == 2


def test_json_records_join_under_sagemaker_output(local_target, tmp_path, backend):
    prefix = f"tests/transform/{secrets.token_hex(4)}"
    model = create_model(local_target, prefix)
    step = context(local_target, tmp_path, "Score", "Transform", {}, backend)
    lines = b'{"id": 1, "features": [[1, 1]]}\n{"id": 2, "features": [[2, 5]]}\n'
    job = arguments(
        local_target,
        prefix,
        model,
        lines,
        TransformInput={"ContentType": "application/json"},
        TransformOutput={"Accept": "application/json"},
        DataProcessing={
            "InputFilter": "$.features",
            "JoinSource": "Input",
            "OutputFilter": "$['id','SageMakerOutput']",
        },
        BatchStrategy="SingleRecord",
    )
    Transform().run(job, step)
    assert [json.loads(line) for line in transformed(local_target, prefix)] == [
        {"id": 1, "SageMakerOutput": [2.0]},
        {"id": 2, "SageMakerOutput": [7.0]},
    ]


def test_a_model_without_model_fn_fails_the_step_with_the_servers_reason(local_target, tmp_path, warm_backend):
    prefix = f"tests/transform/{secrets.token_hex(4)}"
    model = create_model(local_target, prefix, inference=b"VALUE = 1\n")
    step = context(local_target, tmp_path, "Score", "Transform", {}, warm_backend)
    with pytest.raises(StepFailed, match="model server exited with code 1") as failure:
        Transform().run(arguments(local_target, prefix, model, b"1,2\n"), step)
    assert any("defines no model_fn" in line for line in failure.value.tail)


def test_an_error_in_the_model_code_names_the_records_and_the_error(local_target, tmp_path, warm_backend):
    prefix = f"tests/transform/{secrets.token_hex(4)}"
    model = create_model(local_target, prefix)
    step = context(local_target, tmp_path, "Score", "Transform", {}, warm_backend)
    with pytest.raises(StepFailed, match=r"answered 500 for records 1-2: ValueError"):
        Transform().run(arguments(local_target, prefix, model, b"1,2\n3,x\n"), step)


def test_a_missing_model_is_named(local_target, tmp_path):
    step = context(local_target, tmp_path, "Score", "Transform", {})
    with pytest.raises(UserError, match="ModelName nowhere: there is no such model"):
        Transform().run(arguments(local_target, "tests/transform/missing", "nowhere", b"1\n"), step)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"TransformInput": {"SplitType": "TFRecord"}}, "SplitType TFRecord is not supported locally"),
        ({"DataProcessing": {"InputFilter": "$..x"}}, r"DataProcessing.InputFilter '\$..x': unsupported JSONPath"),
        (
            {"DataProcessing": {"JoinSource": "Input"}, "TransformInput": {"ContentType": "image/png"}},
            "DataProcessing filters and joins need text/csv or application/json",
        ),
    ],
)
def test_settings_the_platform_cannot_honour_are_refused_before_anything_runs(change, message):
    job = {
        "ModelName": "m",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": "s3://b/in"}}, "ContentType": "text/csv"},
        "TransformOutput": {"S3OutputPath": "s3://b/out"},
    }
    for key, value in change.items():
        job[key] = {**job.get(key, {}), **value}
    with pytest.raises(UserError, match=message):
        Transform().check(Step(name="Score", type="Transform", arguments=job, path="Steps[0]"))


def test_values_given_by_expressions_are_left_to_the_run():
    job = {
        "ModelName": "m",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3Uri": "s3://b/in"}},
            "SplitType": {"Get": "Parameters.Split"},
            "ContentType": {"Get": "Parameters.Kind"},
        },
        "TransformOutput": {"S3OutputPath": "s3://b/out"},
        "DataProcessing": {"JoinSource": "Input", "InputFilter": {"Get": "Parameters.Filter"}},
    }
    Transform().check(Step(name="Score", type="Transform", arguments=job, path="Steps[0]"))
