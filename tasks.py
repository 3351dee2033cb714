"""The project's one interface: `./dev <task>` (or `invoke <task>` inside the venv). `./dev --list` lists them.

A table of contents only: each task maps its flags to one call of a command (localsage/commands), run through
`console.run`, which turns a UserError into one line and an exit code.
"""

import os
import sys
from importlib import import_module

from invoke import Collection, task

from localsage.facts.model_registry import ApprovalStatus
from localsage.views import console

# invoke stops Python writing bytecode (so no tasks.pyc lands beside tasks.py) unless given --write-pyc; the
# modules a task imports on first use (the toolkit's, boto3, the SageMaker SDK) need theirs, or every task
# compiles them again. Python's own switch, PYTHONDONTWRITEBYTECODE, still decides (./dev sets a pycache prefix
# in .venv instead, so nothing is ever written beside a source file).
sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))


def _lazy(module: str):
    """A toolkit module, imported when a task first uses it: `./dev local-run` loads no CDK, KPI or deploy code."""

    class Deferred:
        def __getattr__(self, name: str):
            return getattr(import_module(module), name)

    return Deferred()


bench_module = _lazy("localsage.bench")
deploy_commands = _lazy("localsage.commands.deploy")
devtools = _lazy("localsage.commands.devtools")
emulator_commands = _lazy("localsage.commands.emulator")
kpi_commands = _lazy("localsage.commands.kpi")
lock_commands = _lazy("localsage.commands.lock")
local_run_commands = _lazy("localsage.commands.local_run")
pipeline_commands = _lazy("localsage.commands.pipelines")
project_commands = _lazy("localsage.commands.project")
registry_commands = _lazy("localsage.commands.registry")
step_commands = _lazy("localsage.commands.steps")


@task(
    help={
        "use-case-id": "Use-case id: 2-32 lowercase letters, digits, hyphens (KPI prefix, Glue database).",
        "pipeline-base-name": "Prefix of every AWS name: <base>-experimental, <base>-stable-models, stacks ...",
        "region": "AWS region code, e.g. eu-west-1.",
        "account": "12-digit AWS account id (optional; the emulator always uses 000000000000).",
        "artifact-bucket": "Artefact bucket name (optional; default <base>-artifacts-<account>-<region>).",
        "emulator-kind": "moto (embedded, default) or localstack (you run it; needs LOCALSTACK_AUTH_TOKEN).",
        "emulator-port": "Preferred emulator port (default 4566; a free one is used when it is taken).",
        "no-input": "Never prompt, even on a terminal.",
        "sagemaker-project-name": "The SageMaker project (Studio) this code belongs to: its resources get its tags.",
        "sagemaker-project-id": "That project's id (p-...), from Studio or `aws sagemaker describe-project`.",
        "from-code-config": "Take the SageMaker project's name and id from its seed code's .sagemaker-code-config.",
    }
)
def init(
    c,
    use_case_id=None,
    pipeline_base_name=None,
    region=None,
    account=None,
    artifact_bucket=None,
    emulator_kind=None,
    emulator_port=None,
    no_input=False,
    sagemaker_project_name=None,
    sagemaker_project_id=None,
    from_code_config=None,
):
    """Create or update project.toml (prompts for missing values only on a terminal)."""
    values = {
        "use_case_id": use_case_id,
        "pipeline_base_name": pipeline_base_name,
        "region": region,
        "account": account,
        "artifact_bucket": artifact_bucket,
        "emulator_kind": emulator_kind,
        "emulator_port": emulator_port,
        "sagemaker_project_name": sagemaker_project_name,
        "sagemaker_project_id": sagemaker_project_id,
    }
    console.run(project_commands.init_task, values, no_input=no_input, from_code_config=from_code_config)


@task(help={"json": "Print the names as JSON."})
def names(c, json=False):
    """Print every AWS name derived from project.toml (pipelines, groups, topic, database, stacks)."""
    console.run(project_commands.names_task, as_json=json)


@task
def up(c):
    """Start the local AWS emulator (moto server on 127.0.0.1), restoring its saved state; idempotent."""
    console.run(emulator_commands.up)


@task
def down(c):
    """Stop the emulator this project started (by its PID only); its state is kept for the next `up`."""
    console.run(emulator_commands.down)


@task(help={"json": "Print the status as JSON."})
def status(c, json=False):
    """Show whether the emulator runs, its endpoint, PID and memory; exit 1 when it is not healthy."""
    console.run(emulator_commands.status, as_json=json)


@task
def env(c):
    """Print the shell lines that point any AWS client at the emulator: eval "$(./dev emulator.env)"."""
    console.run(emulator_commands.env_task)


@task
def reset(c):
    """Erase the emulator's state (buckets, objects, registry entries) and its recording."""
    console.run(emulator_commands.reset)


@task(
    iterable=["param", "only", "stub"],
    help={
        "variant": "experimental (default) or stable: picks the pipeline name and model package group.",
        "only": "Run only this step (repeatable): a selective execution; the other steps' results are reused.",
        "from": "With --only: the execution whose results the other steps keep (default: the newest Succeeded one).",
        "stub": "STEP=FILE: do not run STEP, take its properties from the JSON object in FILE (repeatable).",
        "param": "Override a pipeline parameter, Name=Value (repeatable), e.g. --param RmseThreshold=2.5.",
        "definition": "Run this definition JSON instead of building ml/pipeline.py (its code must be in the emulator).",
        "pipeline-name": "With --definition: the pipeline it runs as (default: the file's name; never the project's).",
        "backend": "auto (docker only when an engine answers), process or docker; default $LOCALSAGE_BACKEND or auto.",
        "no-cache": "Run every step, ignoring CacheConfig.",
        "json": "Print a machine-readable summary on stdout (progress stays on stderr).",
    },
)
def local_run(
    c,
    variant="experimental",
    param=None,
    definition=None,
    pipeline_name=None,
    backend=None,
    no_cache=False,
    json=False,
    only=None,
    from_=None,
    stub=None,
):
    """Run the pipeline definition on this machine against the emulator and register the model there."""
    console.run(
        local_run_commands.local_run_task,
        as_json=json,
        variant=variant,
        params=param,
        definition_file=definition,
        pipeline_name=pipeline_name,
        backend=backend,
        use_cache=not no_cache,
        only=only,
        source=from_,
        stubs=stub,
        say=console.say,
    )


@task(help={"id": "Show the steps of this execution.", "json": "Print as JSON."})
def executions(c, id=None, json=False):
    """List local executions, newest first, or show one execution's steps (--id)."""
    console.run(local_run_commands.executions_task, id, as_json=json)


@task(help={"json": "Print as JSON."})
def steps(c, json=False):
    """List every SageMaker Pipelines step type and how the local runner runs it (or why it does not)."""
    console.run(step_commands.steps_task, as_json=json)


@task(
    iterable=["output"],
    help={
        "token": "The step's callback token (10 characters, printed when the step started).",
        "success": "Answer SendPipelineExecutionStepSuccess.",
        "failure": "Answer SendPipelineExecutionStepFailure.",
        "output": "An output parameter of the step, Name=Value (repeatable, with --success).",
        "reason": "The failure reason (with --failure).",
    },
)
def callback(c, token, success=False, failure=False, output=None, reason=None):
    """Answer the Callback step waiting for TOKEN (printed when it started), through the emulator's SageMaker API."""
    console.run(pipeline_commands.callback_task, token, success, failure, output, reason)


_VARIANT_HELP = "experimental (default) or stable: picks the pipeline and its model package group."
_VERSION_HELP = "Version number or model package ARN (default: the newest PendingManualApproval version)."


@task(
    help={
        "variant": _VARIANT_HELP,
        "local": "Upsert into the embedded emulator (the default).",
        "aws": "Upsert into real AWS with your credentials (checks the execution role first).",
        "role-arn": "Role SageMaker Pipelines runs the pipeline as (default: the project's execution role).",
        "dry-run": "Build and check everything, print the exact Create/UpdatePipeline request, change nothing.",
    }
)
def upsert(c, variant="experimental", local=False, aws=False, role_arn=None, dry_run=False):
    """Create or update the SageMaker pipeline from ml/pipeline.py (inline definition, project tags); print its ARN."""
    console.run(
        pipeline_commands.upsert_task, variant=variant, use_aws=aws, role_arn=role_arn, local=local, dry_run=dry_run
    )


@task(
    iterable=["param"],
    help={
        "variant": _VARIANT_HELP,
        "param": "Override a pipeline parameter, Name=Value (repeatable); checked against the definition first.",
        "local": "Run the pipeline with the local runner against the emulator (the default).",
        "aws": "Start an execution of the upserted pipeline in SageMaker and print its ARN.",
    },
)
def start(c, variant="experimental", param=None, local=False, aws=False):
    """Start a pipeline execution: in AWS through SageMaker, locally with the local runner."""
    console.run(pipeline_commands.start_task, variant=variant, params=param, use_aws=aws, local=local)


@task(help={"variant": _VARIANT_HELP, "json": "Print the versions as JSON.", "aws": "List the registry in real AWS."})
def models(c, variant="experimental", json=False, aws=False):
    """List the model versions of a variant, newest first: approval status, creation time, rmse, ARN."""
    console.run(registry_commands.models_task, as_json=json, variant=variant, use_aws=aws)


_APPROVAL_HELP = {
    "variant": _VARIANT_HELP,
    "version": _VERSION_HELP,
    "reason": "Why (stored as the version's ApprovalDescription).",
    "aws": "Change the registry in real AWS (SageMaker then emits the notification event itself).",
}


@task(help=dict(_APPROVAL_HELP))  # a copy each: invoke pops the entries it uses
def approve(c, variant="experimental", version=None, reason=None, aws=False):
    """Approve a model version (default: the newest pending one); locally this also sends its notification."""
    _change_approval(ApprovalStatus.APPROVED, variant, version, reason, aws)


@task(help=dict(_APPROVAL_HELP))  # a copy each: invoke pops the entries it uses
def reject(c, variant="experimental", version=None, reason=None, aws=False):
    """Reject a model version (default: the newest pending one), with a reason."""
    _change_approval(ApprovalStatus.REJECTED, variant, version, reason, aws)


def _change_approval(status, variant, version, reason, aws) -> None:
    console.run(registry_commands.approval_task, status, variant=variant, version=version, reason=reason, use_aws=aws)


@task(help={"json": "Print the messages as JSON."})
def notifications(c, json=False):
    """Print the messages the model events topic delivered in the emulator (oldest first; nothing is consumed)."""
    console.run(registry_commands.notifications_task, as_json=json)


@task
def lint(c):
    """Run ruff (lint and format check), import-linter (the one-way layers) and `lock --check`."""
    console.run(devtools.lint)


@task(
    help={
        "k": "Only tests matching this pytest -k expression.",
        "no-lint": "Skip ruff.",
        "pytest-args": "Extra arguments for pytest, quoted as one string.",
    }
)
def test(c, k="", no_lint=False, pytest_args=""):
    """Run ruff and the whole test suite (unit, end-to-end against the real emulator, infra)."""
    console.run(devtools.test, k=k, run_lint=not no_lint, extra=pytest_args)


@task(help={"check": "Only check: fail if requirements/ no longer matches pyproject.toml (CI runs this in lint)."})
def lock(c, check=False):
    """Resolve pyproject.toml with uv and write the hash-locked requirements/*.txt (run after editing dependencies)."""
    console.run(lock_commands.lock_task, check=check)


@task(
    iterable=["sql"],
    help={
        "sql": "An extra Athena SQL file to check and run like the project's queries (repeatable).",
        "source": "Read the KPI files from this folder (dt=<yyyy-MM-dd>/*.csv) instead of S3.",
        "aws": "Fetch the KPI files from the real AWS bucket (your credentials) and have Athena EXPLAIN each query.",
        "json": "Print the results as JSON.",
        "allow-empty": "No KPI files yet is not a failure: run the queries on an empty table (a new account).",
        "query": "Only the query of this name (a file name in infra/kpi/queries without .sql).",
        "output": "Also write each result in full to this CSV file (several queries: <stem>-<query>.csv).",
    },
)
def kpi_check(c, sql=None, source=None, aws=False, json=False, allow_empty=False, query=None, output=None):
    """Check the KPI files' headers and every KPI query (Athena SQL portability, then a run in DuckDB)."""
    console.run(kpi_commands.check_task, sql or [], source, aws, json, allow_empty, query, output)


@task(
    help={
        "output": "Write the HTML here (default .local/kpi-report.html).",
        "source": "Read the KPI files from this folder (dt=<yyyy-MM-dd>/*.csv) instead of S3.",
        "aws": "Fetch the KPI files from the real AWS bucket (your credentials) instead of the emulator.",
    }
)
def kpi_report(c, output=None, source=None, aws=False):
    """Write one self-contained HTML report of the model KPIs (charts, regressions, latest run) and print its path."""
    console.run(kpi_commands.report_task, output, source, aws)


@task(
    positional=["suite"],
    help={
        "suite": f"The benchmark: {bench_module.SUITE_HELP}.",
        "json": "Print the measurements as JSON.",
    },
)
def bench(c, suite, json=False):
    """Run a benchmark suite (e.g. `./dev bench kpi`) and print its times and peak memory."""
    console.run(bench_module.run_task, suite, as_json=json)


_CONTEXT_HELP = "CDK context key=value (repeatable), over infra/cdk.json's, e.g. notification_email=team@example.com."
_STACKS_HELP = (
    "Only these stacks (repeatable or comma-separated): ml-platform, notifications, kpi, cicd or full names; "
    "a stack of every stage that has it."
)


@task(
    iterable=["context"], help={"local": "Synthesize for the emulator (no step image asset).", "context": _CONTEXT_HELP}
)
def synth(c, local=False, context=None):
    """Synthesize every CDK stack into infra/cdk.out; print each template's path and resource count."""
    console.run(deploy_commands.synth_task, local, context)


@task(
    iterable=["stacks", "context"],
    help={"aws": "Diff against real AWS (default: the emulator).", "stacks": _STACKS_HELP, "context": _CONTEXT_HELP},
)
def diff(c, aws=False, stacks=None, context=None):
    """Show what a deploy would change: against the emulator (template diff) or, with --aws, against AWS."""
    console.run(deploy_commands.diff_task, aws, stacks, context)


@task(
    iterable=["stacks", "context"],
    help={
        "local": "Deploy to the embedded emulator (the default).",
        "aws": "Deploy to real AWS: checks the bootstrap, shows the diff, asks for confirmation.",
        "stacks": _STACKS_HELP,
        "yes": "With --aws: do not ask for confirmation (for scripts).",
        "context": _CONTEXT_HELP + " Local deploys only: an AWS deploy takes settings from committed files.",
    },
)
def deploy(c, local=False, aws=False, stacks=None, yes=False, context=None):
    """Deploy the stacks: to the emulator (the tooling account's; CDK CLI + local provisioners; idempotent) or, with
    --aws, every stage's to its account (`--stacks cicd` first: the pipeline then deploys the rest)."""
    console.run(deploy_commands.deploy_task, local, aws, stacks, yes, context)


emulator = Collection("emulator", up, down, status, env, reset)
namespace = Collection(
    init,
    names,
    synth,
    diff,
    deploy,
    local_run,
    executions,
    upsert,
    start,
    callback,
    steps,
    models,
    approve,
    reject,
    notifications,
    kpi_check,
    kpi_report,
    bench,
    lint,
    test,
    lock,
    emulator,
)
