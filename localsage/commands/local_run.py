"""`./dev local-run` and `./dev executions`: a pipeline definition run on this machine against the emulator.

The definition is the project's (`localsage.project`: built from ml/pipeline.py, the same JSON `upsert`
sends to SageMaker) or any definition file. The pipeline and the execution are registered in the emulator's
SageMaker API, then the runner runs every step.
"""

from __future__ import annotations

import json
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from localsage.adapters import targets
from localsage.adapters.emulators.selection import emulator_for
from localsage.commands import command_server
from localsage.commands.flags import split_params
from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.facts.config import check_variant, local_dir, project_root
from localsage.operations.pipelines import upsert_pipeline
from localsage.operations.registry import ensure_model_package_group
from localsage.project.definitions import kept_upload_uris, project_definition, upload_sample_data
from localsage.runner import preflight
from localsage.runner.backends.selection import choose
from localsage.runner.definition import PipelineDefinition, load
from localsage.runner.orchestrator import Execution, check, check_requests
from localsage.runner.records import ExecutionRecord, execution_arn, new_execution_id
from localsage.runner.run import CLIENTS as RUN_CLIENTS
from localsage.runner.run import check_selection, execution_store, latest_completed, run, selective_record
from localsage.views.console import err_console
from localsage.views.executions import finish_execution, show_executions
from localsage.views.progress import Progress

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def local_run(
    variant: str = "experimental",
    params: dict[str, str] | None = None,
    definition_file: str | None = None,
    backend: str | None = None,
    use_cache: bool = True,
    quiet: bool = False,
    say: Callable[[str], None] = print,
    root: Path | None = None,
    pipeline_name: str | None = None,
    only: list[str] | None = None,
    source: str | None = None,
    stubs: list[str] | None = None,
) -> ExecutionRecord:
    """Run the pipeline locally; returns the execution record (status Succeeded, Failed or Stopped).

    A `definition_file` runs as its own pipeline: `pipeline_name`, else one named after the file, never the
    project's variant (whose stored definition it would replace). `only` runs those steps alone (a selective
    execution), the others' results taken from execution `source` (default: the newest Succeeded one).
    `stubs` (`STEP=FILE`) do not run: each such step's properties are the JSON object in its file.
    """
    check_variant(variant)
    target = targets.local(root, say)
    target.warm_up(RUN_CLIENTS)
    present: frozenset[str] = frozenset()
    if definition_file:
        definition = _load_file(definition_file)
        name = check_pipeline_name(pipeline_name or name_from_file(definition_file))
    else:
        name = target.config.pipeline_name(variant)
        if pipeline_name and pipeline_name != name:
            raise UserError(f"--pipeline-name {pipeline_name}: the project's {variant} pipeline is {name}")
        raw, present = prepared_project_definition(target, variant, say)
        definition = load(raw)
    if stubs:
        definition = definition.with_stubs(read_stubs(stubs))
    check(definition)
    check_requests(definition)
    parameters = definition.resolve_parameters(params or {})
    preflight.check(definition, parameters, target, present=present)
    state_dir = local_dir(target.root)
    store = execution_store(state_dir)
    if source and not only:
        raise UserError("--from goes with --only: name the steps to run, the others come from that execution")
    source_record = (store.load(source) if source else latest_completed(store, name)) if only else None
    if only:
        check_selection(definition, name, only, source_record)
    lifetime = emulator_for(target.root, target.config, say).process()
    chosen_backend = choose(backend, say=say, state_dir=state_dir, lifetime=lifetime)
    say(f"local-run: {chosen_backend.describe()}")
    execution = register_execution(target, name, definition)
    record = None
    if only:
        record = selective_record(store, definition, parameters, execution, only, source_record)
        say(f"local-run: running {', '.join(only)}; the other steps' results come from {source_record.execution_id}")
    with stopped_by_signals(), Progress(err_console, quiet=quiet) as progress:
        return run(
            definition,
            parameters,
            target,
            chosen_backend,
            execution=execution,
            state_dir=state_dir,
            use_cache=use_cache,
            observer=progress,
            say=say,
            record=record,
        )


def read_stubs(values: list[str]) -> dict[str, dict]:
    """`STEP=FILE` pairs: each file a JSON object of the properties the step would expose."""
    stubs = {}
    for step, file_name in split_params(values, "--stub").items():
        path = Path(file_name)
        try:
            properties = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UserError(f"--stub {step}={file_name}: cannot read it ({exc.strerror})") from None
        except ValueError as exc:
            raise UserError(f"--stub {step}={file_name} is not JSON ({exc})") from None
        if not isinstance(properties, dict) or not properties:
            raise UserError(f"--stub {step}={file_name} must hold a JSON object of the step's properties")
        stubs[step] = properties
    return stubs


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP stop a run the way Ctrl-C does: the step processes are stopped and the execution is
    recorded as Stopped (the default would end this process and leave the steps running)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.default_int_handler) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def prepared_project_definition(target, variant: str, say: Callable[[str], None]) -> tuple[dict, frozenset[str]]:
    """The project's definition of `variant` on the local target, with what its first execution needs, as the
    stacks provide it in AWS (the sample data, the model package group); and the S3 URIs and the group now known
    to exist, which pre-flight need not look up again."""
    definition = project_definition(target, variant, say)
    sample_data = upload_sample_data(target)
    ensure_model_package_group(target, variant)
    group = target.config.model_package_group(variant)
    return definition, frozenset({*kept_upload_uris(target, variant), sample_data, group})


def local_run_task(as_json: bool = False, params: list[str] | None = None, **options) -> None:
    """`./dev local-run`: run, then print the summary and exit with the execution's status. The next ./dev task
    forks from the command server, which starts here once a run is done (command_server.py)."""
    record = local_run(params=split_params(params), quiet=as_json, **options)
    root = options.get("root") or project_root()
    try:
        lifetime = emulator_for(root, project_config.load(root), options.get("say", print)).process()
        command_server.start_beside(local_dir(root), lifetime)
    except (OSError, psutil.Error) as exc:  # only a speed-up: the run's own result stands
        err_console.print(f"local-run: the command server did not start ({exc}); tasks run fresh", markup=False)
    finish_execution(record, as_json=as_json)


def register_execution(target, pipeline_name: str, definition: PipelineDefinition) -> Execution:
    """Create or update the pipeline in the emulator (inline definition) and name a new execution of it; the
    runner records it where the emulator's SageMaker API reads executions."""
    role_arn = target.config.execution_role_arn(target.account)
    pipeline_arn, _ = upsert_pipeline(target, pipeline_name, definition.raw, role_arn)
    execution_id = new_execution_id()
    return Execution(execution_id, execution_arn(pipeline_arn, execution_id), pipeline_name, pipeline_arn, role_arn)


_PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")


def name_from_file(definition_file: str) -> str:
    """The pipeline a definition file runs as by default: its file name, in SageMaker's pipeline name alphabet."""
    name = re.sub(r"[^a-zA-Z0-9]+", "-", Path(definition_file).stem).strip("-")
    return name or "definition"


def check_pipeline_name(name: str) -> str:
    if not _PIPELINE_NAME.match(name):
        raise UserError(f"--pipeline-name {name!r}: use letters, digits and hyphens, starting with a letter or digit")
    return name


def _load_file(definition_file: str) -> PipelineDefinition:
    path = Path(definition_file)
    if not path.is_file():
        raise UserError(f"--definition {definition_file}: no such file")
    return load(path)


def executions(execution_id: str | None = None, root: Path | None = None) -> list[ExecutionRecord]:
    """Recorded local executions, newest first; only the one asked for when `execution_id` is given."""
    store = execution_store(local_dir(root or project_root()))
    return [store.load(execution_id)] if execution_id else store.all()


def executions_task(execution_id: str | None = None, as_json: bool = False) -> None:
    show_executions(executions(execution_id), as_json=as_json)
