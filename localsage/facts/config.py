"""Project identity (`project.toml`) and every AWS name derived from it, computed here and nowhere else."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

import tomli_w

from localsage.errors import UserError
from localsage.facts.endpoints import is_loopback_url
from localsage.facts.state_files import write_atomically

CONFIG_FILE = "project.toml"
VARIANTS = ("experimental", "stable")
EMULATOR_KINDS = ("moto", "localstack")
DEFAULT_EMULATOR_PORT = 4566
# The account id of every local emulator (LocalStack's and the CDK's local convention; moto is started with it).
LOCAL_ACCOUNT_ID = "000000000000"

_BASE_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
# SageMaker's CreateProject rules for the project name, and the form of the id it generates.
_SAGEMAKER_PROJECT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
_SAGEMAKER_PROJECT_ID = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,19}$")
SAGEMAKER_PROJECT_NAME_TAG = "sagemaker:project-name"
SAGEMAKER_PROJECT_ID_TAG = "sagemaker:project-id"
# The longest derived names: "<base>-experimental-models" (model package groups allow 63 characters).
MAX_BASE_NAME = 63 - len("-experimental-models")
# ProjectConfig's fields that are tables of their own in project.toml.
NESTED_FIELDS = frozenset({"emulator", "stages"})


@dataclass(frozen=True)
class EmulatorSettings:
    kind: str = "moto"
    port: int = DEFAULT_EMULATOR_PORT
    localstack_endpoint: str = "http://localhost:4566"


# The CDK stage (and the CI/CD pipeline's stage) of the tooling account's own stacks.
TOOLING_STAGE = "tooling"
# A stage's name goes into its CDK stage id and the pipeline's stage names.
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
MAX_STAGE_NAME = 20


@dataclass(frozen=True)
class DeploymentStage:
    """A target account the CI/CD pipeline deploys the project's stacks to, after the tooling account, in the
    project's region (IAM role names are account-wide, and CodePipeline needs a support stack per extra region).

    Stages deploy in the order project.toml lists them; `approval` puts a manual approval before the stage.
    """

    name: str
    account: str
    approval: bool = False


@dataclass(frozen=True)
class ProjectConfig:
    """The values a team chooses once; every other name is a method or property of this object."""

    use_case_id: str = "abalone"
    pipeline_base_name: str = "abalone"
    region: str = "us-east-1"
    account: str = ""
    artifact_bucket: str = ""
    # A SageMaker project (Studio) this code belongs to: its resources then carry the tags Studio lists them by.
    sagemaker_project_name: str = ""
    sagemaker_project_id: str = ""
    emulator: EmulatorSettings = EmulatorSettings()
    # Target accounts, in deployment order (`[[stage]]` tables). None: the tooling account is the only one.
    stages: tuple[DeploymentStage, ...] = ()

    def pipeline_name(self, variant: str) -> str:
        return f"{self.pipeline_base_name}-{check_variant(variant)}"

    def model_package_group(self, variant: str) -> str:
        return f"{self.pipeline_name(variant)}-models"

    def bucket_name(self, account: str) -> str:
        """The artefact bucket: the configured name, else `<base>-artifacts-<account>-<region>`."""
        return self.artifact_bucket or self.derived_bucket_name(account)

    def derived_bucket_name(self, account: str) -> str:
        """`<base>-artifacts-<account>-<region>`: also every target stage's bucket (artifact_bucket is the tooling
        account's)."""
        return f"{self.pipeline_base_name}-artifacts-{account}-{self.region}"

    @property
    def sns_topic_name(self) -> str:
        return f"{self.pipeline_base_name}-model-events"

    @property
    def glue_database(self) -> str:
        return f"{self.use_case_id.replace('-', '_')}_kpis"

    @property
    def kpi_table(self) -> str:
        return "model_kpis"

    @property
    def kpi_prefix(self) -> str:
        """Key prefix of the KPI CSVs in the artefact bucket (the same layout in AWS and locally)."""
        return f"kpi/{self.use_case_id}/"

    @property
    def athena_workgroup(self) -> str:
        return f"{self.pipeline_base_name}-kpis"

    @property
    def stack_names(self) -> dict[str, str]:
        return {part: f"{self.pipeline_base_name}-{part}" for part in ("ml-platform", "notifications", "kpi", "cicd")}

    @property
    def execution_role_name(self) -> str:
        """The SageMaker execution role the pipelines run as (created by the ML platform stack)."""
        return f"{self.pipeline_base_name}-sagemaker-execution"

    def execution_role_arn(self, account: str) -> str:
        return f"arn:aws:iam::{account}:role/{self.execution_role_name}"

    @property
    def step_image_repository(self) -> str:
        """ECR repository of the step image (docker/Dockerfile) that the pipeline's steps run in AWS."""
        return f"{self.pipeline_base_name}-steps"

    def step_image_uri(self, account: str, tag: str = "latest") -> str:
        return f"{account}.dkr.ecr.{self.region}.amazonaws.com/{self.step_image_repository}:{tag}"

    @property
    def tags(self) -> dict[str, str]:
        """Every resource's tags: the project's, and a SageMaker project's when one is set (Studio's own keys)."""
        tags = {"project": self.pipeline_base_name, "use-case": self.use_case_id}
        if self.sagemaker_project_name:
            tags |= {
                SAGEMAKER_PROJECT_NAME_TAG: self.sagemaker_project_name,
                SAGEMAKER_PROJECT_ID_TAG: self.sagemaker_project_id,
            }
        return tags

    @property
    def tag_list(self) -> list[dict[str, str]]:
        """The project tags as the AWS APIs take them: `[{"Key": ..., "Value": ...}]`."""
        return [{"Key": key, "Value": value} for key, value in self.tags.items()]

    @property
    def target_accounts(self) -> list[str]:
        """The stages' accounts, in stage order (each differs from the tooling account and from the others)."""
        return [stage.account for stage in self.stages]

    def bucket_location(self) -> dict:
        """CreateBucket's location argument: none in us-east-1 (S3 refuses it there), the region elsewhere."""
        if self.region == "us-east-1":
            return {}
        return {"CreateBucketConfiguration": {"LocationConstraint": self.region}}


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise UserError(f"variant '{variant}' is unknown: use one of {', '.join(VARIANTS)}")
    return variant


def project_root(start: Path | None = None) -> Path:
    """The folder holding project.toml: $LOCALSAGE_ROOT, else the nearest parent of the working folder."""
    if os.environ.get("LOCALSAGE_ROOT"):
        return Path(os.environ["LOCALSAGE_ROOT"]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise UserError(f"{CONFIG_FILE} not found in {here} or its parents: run './dev init' in the repository root")


def project_root_or_cwd() -> Path:
    """Where `init` writes: the existing project root, else the working folder."""
    try:
        return project_root()
    except UserError:
        return Path.cwd()


def derived_names(config: ProjectConfig, local_account: str = LOCAL_ACCOUNT_ID) -> dict[str, object]:
    """Every name the project uses in AWS and locally, as one mapping (what `./dev names` prints)."""
    return {
        "use_case_id": config.use_case_id,
        "region": config.region,
        "account": config.account or "(from your credentials)",
        "artifact_bucket_local": config.bucket_name(local_account),
        "artifact_bucket_aws": config.bucket_name(config.account)
        if config.account or config.artifact_bucket
        else f"{config.pipeline_base_name}-artifacts-<account>-{config.region}",
        "pipelines": [config.pipeline_name(v) for v in VARIANTS],
        "model_package_groups": [config.model_package_group(v) for v in VARIANTS],
        "sns_topic": config.sns_topic_name,
        "glue_database": config.glue_database,
        "kpi_table": config.kpi_table,
        "kpi_prefix": config.kpi_prefix,
        "athena_workgroup": config.athena_workgroup,
        "execution_role": config.execution_role_name,
        "step_image_repository": config.step_image_repository,
        "stacks": list(config.stack_names.values()),
        "stages": [f"{TOOLING_STAGE} (the account above)"]
        + [
            f"{stage.name} ({stage.account}, bucket {config.derived_bucket_name(stage.account)}"
            f"{', after a manual approval' if stage.approval else ''})"
            for stage in config.stages
        ],
        "tags": config.tags,
    }


def local_dir(root: Path | None = None) -> Path:
    """The git-ignored folder for everything this toolkit writes locally (state, caches, run records).

    $LOCALSAGE_STATE_DIR moves it (the tests use this to run a private emulator beside a developer's own).
    """
    override = os.environ.get("LOCALSAGE_STATE_DIR")
    path = Path(override) if override else (root or project_root()) / ".local"
    path.mkdir(parents=True, exist_ok=True)
    return path


def load(root: Path | None = None) -> ProjectConfig:
    """Read and validate project.toml; a problem raises a one-line UserError naming the field."""
    path = (root or project_root()) / CONFIG_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path.name} is missing: run './dev init' to create it") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path.name} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path.name} is not valid TOML ({exc}): fix it or recreate it with './dev init'") from None
    return from_mapping(raw, source=path.name)


def from_mapping(raw: dict, source: str = CONFIG_FILE) -> ProjectConfig:
    tables = {"project": ProjectConfig, "emulator": EmulatorSettings, "stage": DeploymentStage}
    known = "; ".join(
        f"{'[[stage]]' if name == 'stage' else f'[{name}]'} "
        f"({', '.join(f.name for f in fields(kind) if f.name not in NESTED_FIELDS)})"
        for name, kind in tables.items()
    )
    unknown = sorted(set(raw) - set(tables))
    if unknown:
        raise UserError(f"{source}: unknown table [{unknown[0]}]: the tables are {known}")
    if not raw:
        raise UserError(f"{source} is empty: the tables are {known}; './dev init' writes them")
    project = _section(raw, "project", source)
    emulator = _section(raw, "emulator", source)
    _reject_unknown(project, ProjectConfig, source, "project", skip=NESTED_FIELDS)
    _reject_unknown(emulator, EmulatorSettings, source, "emulator")
    values = {key: _typed(source, f"project.{key}", value, str) for key, value in project.items()}
    emulator_values = {
        key: _typed(source, f"emulator.{key}", value, int if key == "port" else str) for key, value in emulator.items()
    }
    config = ProjectConfig(
        **values, emulator=EmulatorSettings(**emulator_values), stages=_stages(raw.get("stage", []), source)
    )
    validate(config, source)
    return config


def validate(config: ProjectConfig, source: str = CONFIG_FILE) -> None:
    """Check every value (and every derived name) against AWS naming rules."""

    def fail(field: str, value: object, rule: str) -> None:
        raise UserError(f"{source}: {field} '{value}' is invalid: {rule}")

    base = config.pipeline_base_name
    if not _BASE_NAME.match(base) or not 2 <= len(base) <= MAX_BASE_NAME:
        fail(
            "project.pipeline_base_name",
            base,
            f"use 2-{MAX_BASE_NAME} lowercase letters, digits and single hyphens, starting with a letter "
            "(it prefixes pipeline, model package group and stack names)",
        )
    if not _BASE_NAME.match(config.use_case_id) or not 2 <= len(config.use_case_id) <= 32:
        fail(
            "project.use_case_id",
            config.use_case_id,
            "use 2-32 lowercase letters, digits and single hyphens, starting with a letter",
        )
    if not _REGION.match(config.region):
        fail("project.region", config.region, "use an AWS region code such as us-east-1 or eu-west-2")
    if config.account and not _ACCOUNT.match(config.account):
        fail("project.account", config.account, "use the 12-digit AWS account id, or leave it empty")
    bucket_field = "project.artifact_bucket" if config.artifact_bucket else "derived artifact bucket"
    problem = bucket_name_problem(config.bucket_name(config.account or LOCAL_ACCOUNT_ID))
    if problem:
        hint = "" if config.artifact_bucket else " (set project.artifact_bucket or shorten pipeline_base_name)"
        fail(bucket_field, config.bucket_name(config.account or LOCAL_ACCOUNT_ID), problem + hint)
    if bool(config.sagemaker_project_name) != bool(config.sagemaker_project_id):
        missing = "sagemaker_project_id" if config.sagemaker_project_name else "sagemaker_project_name"
        fail(f"project.{missing}", "", "a SageMaker project needs both its name and its id (or neither)")
    if config.sagemaker_project_name and not _SAGEMAKER_PROJECT_NAME.match(config.sagemaker_project_name):
        fail(
            "project.sagemaker_project_name",
            config.sagemaker_project_name,
            "use the SageMaker project's name: 1-32 letters, digits and hyphens, starting with a letter or digit",
        )
    if config.sagemaker_project_id and not _SAGEMAKER_PROJECT_ID.match(config.sagemaker_project_id):
        fail(
            "project.sagemaker_project_id",
            config.sagemaker_project_id,
            "use the id SageMaker gave the project, such as p-abcdef123456",
        )
    _validate_stages(config, fail)
    if config.emulator.kind not in EMULATOR_KINDS:
        fail("emulator.kind", config.emulator.kind, f"use one of {', '.join(EMULATOR_KINDS)}")
    if not 1024 <= config.emulator.port <= 65535:
        fail("emulator.port", config.emulator.port, "use a port between 1024 and 65535")
    if not is_loopback_url(config.emulator.localstack_endpoint):
        fail(
            "emulator.localstack_endpoint",
            config.emulator.localstack_endpoint,
            "use a loopback address such as http://localhost:4566 (local tasks never leave this machine)",
        )


def _validate_stages(config: ProjectConfig, fail) -> None:
    """Names usable in CDK ids, one stage per account, and a tooling account to deploy from."""
    if config.stages and not config.account:
        fail("project.account", "", "stages deploy from the tooling account: set its 12-digit id")
    accounts = {config.account: "the tooling account"}
    names: set[str] = set()
    for index, stage in enumerate(config.stages):
        field = f"stage[{index}]"
        if not _STAGE_NAME.match(stage.name) or len(stage.name) > MAX_STAGE_NAME:
            fail(
                f"{field}.name",
                stage.name,
                f"use up to {MAX_STAGE_NAME} lowercase letters, digits and single hyphens, starting with a letter",
            )
        if stage.name in names or stage.name == TOOLING_STAGE:
            fail(
                f"{field}.name", stage.name, f"each stage needs its own name ({TOOLING_STAGE} is the tooling account's)"
            )
        names.add(stage.name)
        if not _ACCOUNT.match(stage.account):
            fail(f"{field}.account", stage.account, "use the stage's 12-digit AWS account id")
        if stage.account in accounts:
            fail(
                f"{field}.account",
                stage.account,
                f"{accounts[stage.account]} already deploys there (the stacks and the role would collide)",
            )
        accounts[stage.account] = f"stage {stage.name}"
        problem = bucket_name_problem(config.derived_bucket_name(stage.account))
        if problem:
            fail(
                f"derived artifact bucket of {field}",
                config.derived_bucket_name(stage.account),
                f"{problem} (shorten pipeline_base_name)",
            )


def bucket_name_problem(name: str) -> str | None:
    """What breaks the S3 bucket naming rules, or None."""
    if not 3 <= len(name) <= 63:
        return f"bucket names are 3-63 characters long, this one has {len(name)}"
    if not _BUCKET_CHARS.match(name):
        return "use lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "no two adjacent dots, and no dot next to a hyphen"
    try:
        ipaddress.ip_address(name)
        return "a bucket name must not look like an IP address"
    except ValueError:
        pass
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(("-s3alias", "--ol-s3", "--x-s3")):
        return "the prefixes xn--, sthree-, amzn-s3-demo- and the suffixes -s3alias, --ol-s3, --x-s3 are reserved"
    return None


def write(config: ProjectConfig, root: Path) -> Path:
    """Validate, then replace project.toml atomically (a failed write leaves the old file intact)."""
    validate(config)
    document = {
        "project": {f.name: getattr(config, f.name) for f in fields(ProjectConfig) if f.name not in NESTED_FIELDS},
        "emulator": {f.name: getattr(config.emulator, f.name) for f in fields(EmulatorSettings)},
    }
    if config.stages:
        document["stage"] = [
            {f.name: getattr(stage, f.name) for f in fields(DeploymentStage) if getattr(stage, f.name) != ""}
            for stage in config.stages
        ]
    header = (
        "# Project identity. Every AWS name (pipelines, model package groups, topic, Glue database,\n"
        "# workgroup, stacks) is derived from these values in localsage/facts/config.py. Edit with './dev init'.\n"
        "# account and artifact_bucket may stay empty: the bucket is then <base>-artifacts-<account>-<region>.\n\n"
    )
    path = root / CONFIG_FILE
    write_atomically(path, header + tomli_w.dumps(document))
    return path


def with_values(config: ProjectConfig, **values: object) -> ProjectConfig:
    """A copy with the given project fields (None means keep) and emulator fields (prefixed `emulator_`)."""
    emulator = {k.removeprefix("emulator_"): v for k, v in values.items() if k.startswith("emulator_")}
    project = {k: v for k, v in values.items() if not k.startswith("emulator_")}
    return replace(
        config,
        **{k: v for k, v in project.items() if v is not None},
        emulator=replace(config.emulator, **{k: v for k, v in emulator.items() if v is not None}),
    )


def _stages(raw: object, source: str) -> tuple[DeploymentStage, ...]:
    if not isinstance(raw, list) or not all(isinstance(table, dict) for table in raw):
        raise UserError(f"{source}: stages are [[stage]] tables (two brackets), one per target account")
    stages = []
    for index, table in enumerate(raw):
        if "region" in table:
            raise UserError(
                f"{source}: stage[{index}].region: every stage deploys in project.region (another region would need "
                "CodePipeline's cross-region support stacks); remove it"
            )
        _reject_unknown(table, DeploymentStage, source, f"stage[{index}]")
        missing = [key for key in ("name", "account") if key not in table]
        if missing:
            raise UserError(
                f"{source}: stage[{index}].{missing[0]} is missing: every [[stage]] needs a name and account"
            )
        typed = {
            key: _typed(source, f"stage[{index}].{key}", value, bool if key == "approval" else str)
            for key, value in table.items()
        }
        stages.append(DeploymentStage(**typed))
    return tuple(stages)


def _section(raw: dict, name: str, source: str) -> dict:
    section = raw.get(name, {})
    if not isinstance(section, dict):
        raise UserError(f"{source}: [{name}] must be a table of key = value lines")
    return section


def _reject_unknown(section: dict, cls: type, source: str, name: str, skip: set[str] = frozenset()) -> None:
    known = {f.name for f in fields(cls)} - set(skip)
    unknown = sorted(set(section) - known)
    if unknown:
        raise UserError(
            f"{source}: unknown key {name}.{unknown[0]}: the keys of [{name}] are {', '.join(sorted(known))}"
        )


def _typed(source: str, field: str, value: object, kind: type) -> object:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = {int: "a number", bool: "true or false"}.get(kind, "a string")
        raise UserError(f"{source}: {field} must be {expected}, got {value!r}")
    return value
