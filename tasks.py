"""The project's one interface: `./dev <task>` (or `invoke <task>` inside the venv). `./dev --list` lists them.

A table of contents only: each task parses its flags, calls one toolkit function, and prints the result.
"""

from importlib import import_module

from invoke import Collection, task

from localsage import cli
from localsage import config as project_config


def _lazy(module: str):
    """A toolkit module, imported when a task first uses it: `./dev local-run` loads no CDK, KPI or deploy code."""

    class Deferred:
        def __getattr__(self, name: str):
            return getattr(import_module(module), name)

    return Deferred()


bench_module = _lazy("localsage.bench")
devtools = _lazy("localsage.devtools")
notify = _lazy("localsage.notify")
pipelines = _lazy("localsage.pipelines")
project_init = _lazy("localsage.project_init")
registry = _lazy("localsage.registry")
emulator_module = _lazy("localsage.emulator")
deploy_commands = _lazy("localsage.deploy.commands")
kpi_check_module = _lazy("localsage.kpi.check")
kpi_report_module = _lazy("localsage.kpi.report")
runner = _lazy("localsage.runner.local_run")


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
    }
    root = project_config.project_root_or_cwd()
    path, chosen = cli.run(project_init.initialise, root, values, interactive=False if no_input else None)
    cli.console.print(f"wrote {path.name}:")
    cli.print_names(chosen)


@task(help={"json": "Print the names as JSON."})
def names(c, json=False):
    """Print every AWS name derived from project.toml (pipelines, groups, topic, database, stacks)."""
    chosen = cli.run(project_config.load)
    cli.print_json(project_config.derived_names(chosen)) if json else cli.print_names(chosen)


@task
def up(c):
    """Start the local AWS emulator (moto server on 127.0.0.1), restoring its saved state; idempotent."""
    status = cli.run(lambda: emulator_module.for_project(say=cli.say).up())
    cli.print_emulator_status(status)


@task
def down(c):
    """Stop the emulator this project started (by its PID only); its state is kept for the next `up`."""
    cli.console.print(cli.run(lambda: emulator_module.for_project(say=cli.say).down()))


@task(help={"json": "Print the status as JSON."})
def status(c, json=False):
    """Show whether the emulator runs, its endpoint, PID and memory; exit 1 when it is not healthy."""
    current = cli.run(lambda: emulator_module.for_project(say=cli.say).status())
    cli.print_emulator_status(current, as_json=json)
    if not current.healthy:
        raise cli.Exit(code=1)


@task
def reset(c):
    """Erase the emulator's state (buckets, objects, registry entries) and its recording."""
    cli.console.print(cli.run(lambda: emulator_module.for_project(say=cli.say).reset()))


@task(
    iterable=["param"],
    help={
        "variant": "experimental (default) or stable: picks the pipeline name and model package group.",
        "param": "Override a pipeline parameter, Name=Value (repeatable), e.g. --param RmseThreshold=2.5.",
        "definition": "Run this definition JSON instead of building ml/pipeline.py (its code must be in the emulator).",
        "backend": "auto (docker only when an engine answers), process or docker; default $LOCALSAGE_BACKEND or auto.",
        "no-cache": "Run every step, ignoring CacheConfig.",
        "json": "Print a machine-readable summary on stdout (progress stays on stderr).",
    },
)
def local_run(c, variant="experimental", param=None, definition=None, backend=None, no_cache=False, json=False):
    """Run the pipeline definition on this machine against the emulator and register the model there."""
    record = cli.run(
        runner.local_run,
        variant,
        params=param,
        definition_file=definition,
        backend=backend,
        use_cache=not no_cache,
        quiet=json,
        say=cli.say,
    )
    cli.finish_execution(record, as_json=json)


@task(help={"id": "Show the steps of this execution.", "json": "Print as JSON."})
def executions(c, id=None, json=False):
    """List local executions, newest first, or show one execution's steps (--id)."""
    cli.show_executions(cli.run(runner.executions, id), as_json=json)


_VARIANT_HELP = "experimental (default) or stable: picks the pipeline and its model package group."
_VERSION_HELP = "Version number or model package ARN (default: the newest PendingManualApproval version)."


@task(
    help={
        "variant": _VARIANT_HELP,
        "local": "Upsert into the embedded emulator (the default).",
        "aws": "Upsert into real AWS with your credentials (checks the execution role first).",
        "role-arn": "Role SageMaker Pipelines runs the pipeline as (default: the project's execution role).",
    }
)
def upsert(c, variant="experimental", local=False, aws=False, role_arn=None):
    """Create or update the SageMaker pipeline from ml/pipeline.py (inline definition, project tags); print its ARN."""
    upserted = cli.run(pipelines.upsert, variant, aws, role_arn, say=cli.say, local=local)
    cli.say(f"upsert: {'created' if upserted.created else 'updated'} {upserted.pipeline_name} ({upserted.where})")
    cli.console.print(upserted.pipeline_arn)


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
    started = cli.run(pipelines.start, variant, param, aws, say=cli.say, local=local)
    if started.record is None:
        cli.console.print(started.execution_arn)
    else:
        cli.finish_execution(started.record)


@task(help={"variant": _VARIANT_HELP, "json": "Print the versions as JSON.", "aws": "List the registry in real AWS."})
def models(c, variant="experimental", json=False, aws=False):
    """List the model versions of a variant, newest first: approval status, creation time, rmse, ARN."""
    registry.print_versions(cli.run(registry.list_versions, variant, aws, say=cli.say), as_json=json)


_APPROVAL_HELP = {
    "variant": _VARIANT_HELP,
    "version": _VERSION_HELP,
    "reason": "Why (stored as the version's ApprovalDescription).",
    "aws": "Change the registry in real AWS (SageMaker then emits the notification event itself).",
}


@task(help=dict(_APPROVAL_HELP))  # a copy each: invoke pops the entries it uses
def approve(c, variant="experimental", version=None, reason=None, aws=False):
    """Approve a model version (default: the newest pending one); locally this also sends its notification."""
    cli.console.print(
        cli.run(registry.set_approval, registry.APPROVED, variant, version, reason, aws, say=cli.say).summary()
    )


@task(help=dict(_APPROVAL_HELP))  # a copy each: invoke pops the entries it uses
def reject(c, variant="experimental", version=None, reason=None, aws=False):
    """Reject a model version (default: the newest pending one), with a reason."""
    cli.console.print(
        cli.run(registry.set_approval, registry.REJECTED, variant, version, reason, aws, say=cli.say).summary()
    )


@task(help={"json": "Print the messages as JSON."})
def notifications(c, json=False):
    """Print the messages the model events topic delivered in the emulator (oldest first; nothing is consumed)."""
    notify.print_messages(cli.run(notify.notifications, say=cli.say), as_json=json)


@task
def lint(c):
    """Run ruff (lint and format check) over the repository."""
    cli.run(devtools.lint)


@task(
    help={
        "k": "Only tests matching this pytest -k expression.",
        "no-lint": "Skip ruff.",
        "pytest-args": "Extra arguments for pytest, quoted as one string.",
    }
)
def test(c, k="", no_lint=False, pytest_args=""):
    """Run ruff and the whole test suite (unit, end-to-end against the real emulator, infra)."""
    cli.run(devtools.test, k=k, run_lint=not no_lint, extra=pytest_args)


@task
def lock(c):
    """Re-resolve pyproject.toml into requirements.lock in a scratch venv (run after editing dependencies)."""
    cli.console.print(cli.run(devtools.lock, say=cli.say))


@task(
    iterable=["sql"],
    help={
        "sql": "An extra Athena SQL file to check and run like the project's queries (repeatable).",
        "source": "Read the KPI files from this folder (dt=<yyyy-MM-dd>/*.csv) instead of S3.",
        "aws": "Fetch the KPI files from the real AWS bucket (your credentials) instead of the emulator.",
        "json": "Print the results as JSON.",
        "allow-empty": "No KPI files yet is not a failure: run the queries on an empty table (a new account).",
    },
)
def kpi_check(c, sql=None, source=None, aws=False, json=False, allow_empty=False):
    """Check the KPI files' headers and every KPI query (Athena SQL portability, then a run in DuckDB)."""
    root = project_config.project_root()
    cli.run(kpi_check_module.check_task, root, sql or [], source, aws, json, cli.say, allow_empty)


@task(
    help={
        "output": "Write the HTML here (default .local/kpi-report.html).",
        "source": "Read the KPI files from this folder (dt=<yyyy-MM-dd>/*.csv) instead of S3.",
        "aws": "Fetch the KPI files from the real AWS bucket (your credentials) instead of the emulator.",
    }
)
def kpi_report(c, output=None, source=None, aws=False):
    """Write one self-contained HTML report of the model KPIs (charts, regressions, latest run) and print its path."""
    path = cli.run(kpi_report_module.write_report, project_config.project_root(), output, source, aws, say=cli.say)
    cli.console.print(str(path))


@task(
    positional=["suite"],
    help={
        "suite": "The benchmark: runner (local-run vs the floor), peers (vs Metaflow and KFP local), kpi (1M rows).",
        "json": "Print the measurements as JSON.",
    },
)
def bench(c, suite, json=False):
    """Run a benchmark suite (e.g. `./dev bench kpi`) and print its times and peak memory."""
    results = cli.run(bench_module.run, suite, project_config.project_root(), say=cli.say)
    cli.print_json(results) if json else bench_module.print_results(results, cli.console)


_CONTEXT_HELP = "CDK context key=value (repeatable), over infra/cdk.json's, e.g. notification_email=team@example.com."
_STACKS_HELP = "Only these stacks (repeatable or comma-separated): ml-platform, notifications, kpi, cicd or full names."


@task(
    iterable=["context"], help={"local": "Synthesize for the emulator (no step image asset).", "context": _CONTEXT_HELP}
)
def synth(c, local=False, context=None):
    """Synthesize every CDK stack into infra/cdk.out; print each template's path and resource count."""
    assembly = cli.run(lambda: deploy_commands.synth(None, local, cli.split_params(context, "--context")))
    for line in deploy_commands.summary_lines(assembly):
        cli.console.print(line)


@task(
    iterable=["stacks", "context"],
    help={"aws": "Diff against real AWS (default: the emulator).", "stacks": _STACKS_HELP, "context": _CONTEXT_HELP},
)
def diff(c, aws=False, stacks=None, context=None):
    """Show what a deploy would change: against the emulator (template diff) or, with --aws, against AWS."""
    cli.console.print(
        cli.run(
            lambda: deploy_commands.diff(
                None, aws, deploy_commands.stack_list(stacks), cli.split_params(context, "--context"), say=cli.say
            )
        )
    )


@task(
    iterable=["stacks", "context"],
    help={
        "local": "Deploy to the embedded emulator (the default).",
        "aws": "Deploy to real AWS: checks the bootstrap, shows the diff, asks for confirmation.",
        "stacks": _STACKS_HELP,
        "yes": "With --aws: do not ask for confirmation (CodeBuild passes it).",
        "context": _CONTEXT_HELP,
    },
)
def deploy(c, local=False, aws=False, stacks=None, yes=False, context=None):
    """Deploy the stacks: to the emulator (CDK CLI + local provisioners; idempotent) or, with --aws, to AWS."""
    cli.run(
        lambda: deploy_commands.deploy(
            None,
            aws,
            deploy_commands.stack_list(stacks),
            yes,
            cli.split_params(context, "--context"),
            say=cli.say,
            local=local,
        )
    )


emulator = Collection("emulator", up, down, status, reset)
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
