"""How a SageMaker model is hosted on this machine, for a Transform step and for an endpoint alike.

The model's one container (`model_container`, a model package resolved) is staged as SageMaker stages it: the
model data unpacked into /opt/ml/model, code in S3 (`SAGEMAKER_SUBMIT_DIRECTORY`) unpacked into /opt/ml/code
(`downloads`, then `unpack`); `serving_spec` is the container SageMaker starts: `IMAGE serve`, listening on a
loopback port.
"""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import ClientError

from localsage.adapters import loopback, s3io
from localsage.errors import UserError
from localsage.runner.backends.base import ContainerSpec

SERVE_COMMAND = ["serve"]
CODE_FOLDER = "/opt/ml/code"
SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"
# Downloads land beside the step's /opt/ml, then `unpack` puts them where the container reads them.
STAGED = (("model-data", "model", "the model data"), ("source", "code", "the model's source"))


def model_container(sagemaker, model_name: str, where: str) -> dict:
    """The one container of a SageMaker model ({Image, ModelDataUrl, Environment}), its model package resolved."""
    try:
        model = sagemaker.describe_model(ModelName=model_name)
    except ClientError:
        raise UserError(
            f"{where}ModelName {model_name}: there is no such model in the emulator; create it with a Model step "
            "(ModelStep with ModelBuilder.build()) or CreateModel first"
        ) from None
    # moto answers an empty PrimaryContainer beside Containers: a container counts when it says something.
    containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else model.get("Containers", [])
    if len(containers) != 1:
        raise UserError(
            f"{where}model {model_name} has {len(containers)} containers: inference pipelines are not served "
            "locally; use a model with one container"
        )
    container = containers[0]
    if container.get("ModelPackageName") and not container.get("Image"):
        package = sagemaker.describe_model_package(ModelPackageName=container["ModelPackageName"])
        inference = package["InferenceSpecification"]["Containers"][0]
        container = {
            **inference,
            "Environment": {**inference.get("Environment", {}), **container.get("Environment", {})},
        }
    if not container.get("Image"):
        raise UserError(f"{where}model {model_name} names no container image")
    return container


def downloads(container: dict, work_dir: Path) -> list[tuple[str, Path, str]]:
    """(S3 URI, folder, what) for the model data and for code the container's environment names in S3."""
    found = []
    if container.get("ModelDataUrl"):
        found.append((container["ModelDataUrl"], work_dir / STAGED[0][0], STAGED[0][2]))
    code = container.get("Environment", {}).get(SUBMIT_DIRECTORY, "")
    if code.startswith("s3://"):
        found.append((code, work_dir / STAGED[1][0], STAGED[1][2]))
    return found


def unpack(work_dir: Path, opt_ml: Path, where: str) -> None:
    """The downloads into /opt/ml/model and /opt/ml/code: archives unpacked, other files as they are."""
    for download, folder, what in STAGED:
        staged = work_dir / download
        for item in sorted(staged.glob("*")) if staged.is_dir() else []:
            target = opt_ml / folder
            if item.name.endswith((".tar.gz", ".tgz")):
                s3io.unpack(item, target, f"{where}{what} {item.name}")
            else:
                target.mkdir(parents=True, exist_ok=True)
                item.replace(target / item.name)
    (opt_ml / "model").mkdir(parents=True, exist_ok=True)


def serving_spec(
    container: dict, name: str, opt_ml: Path, logs: Path, port: int, workers: int, environment: dict | None = None
) -> ContainerSpec:
    """The inference container: the model's environment (then `environment` over it), `serve` on `port`."""
    variables = {key: str(value) for key, value in container.get("Environment", {}).items()}
    variables.update({key: str(value) for key, value in (environment or {}).items()})
    if (opt_ml / "code").is_dir():
        variables[SUBMIT_DIRECTORY] = CODE_FOLDER
    variables.update(
        # Read by the model server; a backend without a private /opt/ml rewrites it to the step's folder.
        SM_MODEL_DIR="/opt/ml/model",
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_BIND_TO_ADDRESS=loopback.HOST,
        SAGEMAKER_MODEL_SERVER_WORKERS=str(max(1, workers)),
    )
    code_dirs = [opt_ml / "code", opt_ml / "model" / "code"]
    return ContainerSpec(
        name=name,
        image=container["Image"],
        command=SERVE_COMMAND,
        environment=variables,
        opt_ml=opt_ml,
        logs=logs,
        code_dirs=[folder for folder in code_dirs if folder.is_dir()],
        ports=(port,),
    )
