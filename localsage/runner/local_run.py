"""`./dev local-run`: the project's pipeline (or any definition JSON) executed on this machine against the emulator.

The definition is the one `upsert` sends to SageMaker. Building it with the SDK costs seconds, so the last
build is reused while nothing it depends on (ml/ code, project.toml, KPI schema, SDK version) changed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType

from localsage import targets
from localsage.cli import split_params
from localsage.config import check_variant, local_dir
from localsage.errors import UserError
from localsage.pipelines import upsert_pipeline
from localsage.runner import s3io
from localsage.runner.cache import StepCache
from localsage.runner.definition import PipelineDefinition, load
from localsage.runner.orchestrator import Execution, Orchestrator, RunOptions
from localsage.runner.records import ExecutionRecord, ExecutionStore
from localsage.runner.steps import ExecutionStopped, handlers

DATA_FILE = Path("ml") / "data" / "abalone.csv"
INPUT_PARAMETER = "InputData"
SCRIPTS_PREFIX = "ml/scripts/"


def runner_dir(root: Path) -> Path:
    return local_dir(root) / "runner"


def definition_cache_file(state_dir: Path, variant: str) -> Path:
    """Where (in a project's `.local` folder) the last definition built for `variant` is kept, with its inputs."""
    return state_dir / "runner" / "definitions" / f"{variant}.json"


def execution_store(root: Path) -> ExecutionStore:
    return ExecutionStore(runner_dir(root) / "executions")


def local_run(
    variant: str = "experimental",
    params: list[str] | dict[str, str] | None = None,
    definition_file: str | None = None,
    backend: str | None = None,
    use_cache: bool = True,
    quiet: bool = False,
    console=None,
    say=print,
    root: Path | None = None,
) -> ExecutionRecord:
    """Run the pipeline locally; returns the execution record (status Succeeded, Failed or Stopped)."""
    from localsage.runner.backends import choose
    from localsage.runner.progress import Progress

    check_variant(variant)
    params = split_params(params) if isinstance(params, list) else dict(params or {})
    target = targets.local(root, say)
    root = target.root
    if definition_file:
        definition = _load_file(definition_file)
    else:
        definition = load(project_definition(target, variant, say))
        if INPUT_PARAMETER in definition.parameters and INPUT_PARAMETER not in params:
            params[INPUT_PARAMETER] = upload_sample_data(target)
        ensure_model_package_group(target, variant)
    Orchestrator.check(definition)
    parameters = definition.resolve_parameters(params)
    chosen_backend = choose(backend, say=say)
    say(f"local-run: {chosen_backend.describe()}")
    pipeline_name = target.config.pipeline_name(variant)
    execution = register_execution(target, pipeline_name, definition, parameters)
    store = execution_store(root)
    definition_copy = store.execution_dir(execution.execution_id) / "definition.json"
    definition_copy.parent.mkdir(parents=True, exist_ok=True)
    definition_copy.write_text(json.dumps(definition.raw, indent=2))
    record = ExecutionRecord(
        execution_id=execution.execution_id,
        execution_arn=execution.execution_arn,
        pipeline_name=pipeline_name,
        pipeline_arn=execution.pipeline_arn,
        parameters=parameters,
        backend=chosen_backend.name,
        definition_file=str(definition_copy),
    )
    from localsage.cli import err_console

    with Progress(console or err_console, quiet=quiet) as progress:
        orchestrator = Orchestrator(
            definition,
            parameters,
            execution,
            target,
            chosen_backend,
            store,
            StepCache(runner_dir(root) / "cache", pipeline_name),
            RunOptions(use_cache=use_cache),
            progress,
            say,
        )
        try:
            orchestrator.run(record)
        except ExecutionStopped:
            return store.load(record.execution_id)
    return record


def _load_file(definition_file: str) -> PipelineDefinition:
    path = Path(definition_file)
    if not path.is_file():
        raise UserError(f"--definition {definition_file}: no such file")
    return load(path)


def register_execution(target, pipeline_name: str, definition: PipelineDefinition, parameters: dict) -> Execution:
    """Create or update the pipeline in the emulator (inline definition) and start an execution record there."""
    pipeline_arn, _ = upsert_pipeline(target, pipeline_name, definition.raw)
    execution_arn = target.client("sagemaker").start_pipeline_execution(
        PipelineName=pipeline_name,
        PipelineParameters=[{"Name": name, "Value": str(value)} for name, value in parameters.items()],
    )["PipelineExecutionArn"]
    return Execution(execution_arn.rsplit("/", 1)[-1], execution_arn, pipeline_name, pipeline_arn)


def upload_sample_data(target) -> str:
    """Put ml/data/abalone.csv in the artefact bucket (skipped when the same bytes are there); its S3 URI."""
    s3 = target.client("s3")
    target.ensure_bucket()
    source = target.root / DATA_FILE
    key = f"data/{source.name}"
    local_md5 = hashlib.md5(source.read_bytes()).hexdigest()
    try:
        if s3.head_object(Bucket=target.bucket, Key=key)["ETag"].strip('"') == local_md5:
            return f"s3://{target.bucket}/{key}"
    except s3.exceptions.ClientError:
        pass
    s3.upload_file(str(source), target.bucket, key)
    return f"s3://{target.bucket}/{key}"


def ensure_model_package_group(target, variant: str) -> None:
    """The group the ML platform stack creates in AWS; created here so local-run works before any deploy."""
    sagemaker = target.client("sagemaker")
    group = target.config.model_package_group(variant)
    groups = sagemaker.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]
    if group not in {g["ModelPackageGroupName"] for g in groups}:
        sagemaker.create_model_package_group(
            ModelPackageGroupName=group,
            ModelPackageGroupDescription=f"{target.config.pipeline_name(variant)} models",
            Tags=[{"Key": key, "Value": value} for key, value in target.config.tags.items()],
        )


def project_definition(target, variant: str, say=print) -> dict:
    """The pipeline definition of ml/pipeline.py for this variant, as cheaply as is exact.

    Unchanged inputs: the cached build. Only ml/scripts changed: the cached build with the scripts re-uploaded
    (`refresh_script_uploads`, equal to a full build). Anything else: a full build with the SageMaker SDK.
    """
    ml_pipeline = pipeline_module(target.root)
    digests = input_digests(target, variant, ml_pipeline.definition_inputs(target.root))
    cached = definition_cache_file(local_dir(target.root), variant)
    try:
        stored = json.loads(cached.read_text(encoding="utf-8"))
        previous, changed = stored["definition"], _changed(stored["inputs"], digests)
    except (FileNotFoundError, ValueError, KeyError):
        previous, changed = None, ["(no earlier build)"]
    definition = None
    if previous and not changed and _code_is_uploaded(target, previous):
        return previous
    if previous and changed and all(name.startswith(SCRIPTS_PREFIX) for name in changed):
        definition = ml_pipeline.refresh_script_uploads(previous, target)
        if definition:
            say(f"local-run: {', '.join(changed)} changed: code re-uploaded, definition updated")
    if definition is None:
        say("local-run: building the pipeline definition with the SageMaker SDK")
        started = time.monotonic()
        target.ensure_bucket()
        definition = ml_pipeline.build_definition(variant, target)
        say(f"local-run: definition built in {time.monotonic() - started:.1f} s")
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps({"inputs": digests, "definition": definition}, indent=2), encoding="utf-8")
    return definition


@functools.cache
def pipeline_module(root: Path) -> ModuleType:
    """The project's ml/pipeline.py, loaded from `root` (not whichever ml/ is first on sys.path)."""
    path = root / "ml" / "pipeline.py"
    if not path.is_file():
        raise UserError(f"{path} is missing: local-run builds the pipeline from it (or pass --definition FILE)")
    name = f"project_pipeline_{hashlib.sha256(str(root).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def input_digests(target, variant: str, inputs: list[Path]) -> dict[str, str]:
    """A digest per file the definition depends on (plus the variant and SDK version)."""
    digests = {
        "(variant)": variant,
        "(sagemaker)": importlib.metadata.version("sagemaker"),
    }
    for path in sorted(inputs):
        digests[path.relative_to(target.root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def _code_is_uploaded(target, definition: dict) -> bool:
    """A cached definition is only reusable while the code it points at is still in the emulator."""
    s3 = target.client("s3")
    supported = handlers()
    loaded = load(definition)
    for step in loaded.steps.values():
        handler = supported.get(step.type)
        if handler is None:
            continue
        for uri in handler.input_uris(step.arguments):
            if isinstance(uri, str) and not s3io.exists(s3, uri.strip('"')):
                return False
    return True


def executions(execution_id: str | None = None, root: Path | None = None) -> list[ExecutionRecord]:
    """Recorded local executions, newest first; only the one asked for when `execution_id` is given."""
    from localsage.config import project_root

    store = execution_store(root or project_root())
    return [store.load(execution_id)] if execution_id else store.all()
