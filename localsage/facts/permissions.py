"""What IAM evaluates for a request: its action, the resource ARNs it acts on, and the roles it passes.

One table for the runner and the emulator. SageMaker Pipelines makes each step's request as the pipeline's role;
the runner asks the emulator whether that role may (IAM's SimulatePrincipalPolicy), before the step runs. A
request that an assumed role signs (a step's process, a CodeBuild command replayed as its role) is judged by the
emulator when it arrives. The resource types are those of the Service Authorization Reference; an operation no
rule names is judged against "*", which is what IAM does for actions without a resource type (ListPipelines ...)
and is stricter than IAM for the others: a denial then names "*".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

SAGEMAKER_SERVICE_PRINCIPAL = "sagemaker.amazonaws.com"
CLOUDFORMATION_SERVICE_PRINCIPAL = "cloudformation.amazonaws.com"
PASSED_TO_SERVICE = "iam:PassedToService"
ANY_RESOURCE = "*"
# SimulatePrincipalPolicy's words for IAM's verdicts.
ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"

# The resource type each SageMaker create request acts on, and the member that names it.
CREATED_RESOURCES: dict[str, tuple[str, str]] = {
    "CreateTrainingJob": ("training-job", "TrainingJobName"),
    "CreateProcessingJob": ("processing-job", "ProcessingJobName"),
    "CreateTransformJob": ("transform-job", "TransformJobName"),
    "CreateHyperParameterTuningJob": ("hyper-parameter-tuning-job", "HyperParameterTuningJobName"),
    "CreateModel": ("model", "ModelName"),
    "CreateEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "CreateEndpoint": ("endpoint", "EndpointName"),
    "CreateInferenceComponent": ("inference-component", "InferenceComponentName"),
    "CreatePipeline": ("pipeline", "PipelineName"),
    "CreateModelPackageGroup": ("model-package-group", "ModelPackageGroupName"),
    # A version's ARN is model-package/<group>/<version>; the version is only known once it exists, so the
    # request is evaluated against every version of its group.
    "CreateModelPackage": ("model-package", "ModelPackageGroupName"),
}
# Any other SageMaker request acts on the resource its first member of these names (an ARN is taken as it is).
NAMED_RESOURCES: tuple[tuple[str, str], ...] = (
    ("ResourceArn", ""),
    ("PipelineExecutionArn", ""),
    ("ModelPackageArn", ""),
    ("ModelPackageName", "model-package"),
    ("ModelPackageGroupName", "model-package-group"),
    ("PipelineName", "pipeline"),
    ("TrainingJobName", "training-job"),
    ("ProcessingJobName", "processing-job"),
    ("TransformJobName", "transform-job"),
    ("HyperParameterTuningJobName", "hyper-parameter-tuning-job"),
    ("ModelName", "model"),
    ("EndpointName", "endpoint"),
    ("EndpointConfigName", "endpoint-config"),
    ("InferenceComponentName", "inference-component"),
)
# List operations that act on a named resource; the other List operations have no resource type.
LISTS_OF_A_RESOURCE = frozenset(
    {"ListTags", "ListPipelineExecutions", "ListPipelineExecutionSteps", "ListPipelineParametersForExecution"}
)
# Members that pass a role to SageMaker, at any depth (a tuning job passes its training jobs' roles).
PASSED_ROLE_MEMBERS = frozenset({"RoleArn", "ExecutionRoleArn"})
ATHENA_DEFAULT_WORKGROUP = "primary"
# Operations IAM authorizes as another action.
AUTHORIZED_AS = {"sns:PublishBatch": "sns:Publish"}


@dataclass(frozen=True)
class Permission:
    """One question for IAM: may the principal do `action` on `resource`, with these condition values?"""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookups:
    """What only the emulator's state tells: the workgroup an Athena query ran in (its requests are authorized
    against it), a stack's ARN (it ends in an id CloudFormation made), a role's ARN (it holds the role's path)."""

    workgroup_of: Callable[[str], str | None]
    stack_arn_of: Callable[[str], str | None]
    role_arn_of: Callable[[str], str | None]


def sagemaker_arn(region: str, account: str, resource_type: str, name: str) -> str:
    """SageMaker writes names into its ARNs in lower case."""
    return f"arn:aws:sagemaker:{region}:{account}:{resource_type}/{name.lower()}"


def needed(operation: str, request: dict, region: str, account: str) -> list[Permission]:
    """What IAM checks when a principal makes this SageMaker create request (`request` with its name filled in):
    the action on what it creates, sagemaker:AddTags on it when the request tags it, and iam:PassRole for each
    role it passes. An operation missing from CREATED_RESOURCES is a mistake in this table, not a request IAM lets
    through."""
    if operation not in CREATED_RESOURCES:
        raise KeyError(f"no resource rule for sagemaker:{operation}: add it to CREATED_RESOURCES")
    resource_type, name_member = CREATED_RESOURCES[operation]
    name = str(request.get(name_member) or "")
    if operation == "CreateModelPackage":
        # a version of a group (named, or by its ARN), else an unversioned package
        name = f"{name.rsplit('/', 1)[-1]}/*" if name else str(request.get("ModelPackageName") or "")
    created = sagemaker_arn(region, account, resource_type, name) if name else ANY_RESOURCE
    found = [Permission(f"sagemaker:{operation}", created)]
    if request.get("Tags"):
        found.append(Permission("sagemaker:AddTags", created))
    return found + _passed(request, SAGEMAKER_SERVICE_PRINCIPAL)


def request_permissions(
    service: str, operation: str, request: dict, region: str, account: str, lookups: Lookups
) -> list[Permission]:
    """What IAM checks for one request to `service` (its signing name)."""
    action = AUTHORIZED_AS.get(f"{service}:{operation}", f"{service}:{operation}")
    if service == "sagemaker":
        if operation in CREATED_RESOURCES:
            return needed(operation, request, region, account)
        resource = _sagemaker_resource(operation, request, region, account)
        return [Permission(action, resource), *_passed(request, SAGEMAKER_SERVICE_PRINCIPAL)]
    if service == "athena":
        return [Permission(action, _athena_resource(operation, request, region, account, lookups.workgroup_of))]
    if service == "glue":
        return [Permission(action, resource) for resource in _glue_resources(operation, request, region, account)]
    if service == "iam" and isinstance(request.get("RoleName"), str):
        name = request["RoleName"]
        return [Permission(action, lookups.role_arn_of(name) or f"arn:aws:iam::{account}:role/{name}")]
    if service == "cloudformation" and isinstance(request.get("StackName"), str):
        name = request["StackName"]
        resource = name if name.startswith("arn:") else lookups.stack_arn_of(name)
        resource = resource or f"arn:aws:cloudformation:{region}:{account}:stack/{name}/*"  # not created yet
        passed = request.get("RoleARN")
        context = {PASSED_TO_SERVICE: CLOUDFORMATION_SERVICE_PRINCIPAL}
        return [Permission(action, resource)] + ([Permission("iam:PassRole", passed, context)] if passed else [])
    if service == "sns" and isinstance(request.get("TopicArn"), str):
        return [Permission(action, request["TopicArn"])]
    if service == "sts" and isinstance(request.get("RoleArn"), str):
        return [Permission(action, request["RoleArn"])]
    return [Permission(action, ANY_RESOURCE)]


def _passed(request: dict, service_principal: str) -> list[Permission]:
    context = {PASSED_TO_SERVICE: service_principal}
    return [Permission("iam:PassRole", role, context) for role in dict.fromkeys(_roles_in(request))]


def _roles_in(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PASSED_ROLE_MEMBERS and isinstance(item, str) and item:
                yield item
            else:
                yield from _roles_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _roles_in(item)


def _sagemaker_resource(operation: str, request: dict, region: str, account: str) -> str:
    if operation.startswith("List") and operation not in LISTS_OF_A_RESOURCE:
        return ANY_RESOURCE
    for member, resource_type in NAMED_RESOURCES:
        value = request.get(member)
        if isinstance(value, str) and value:
            return value if value.startswith("arn:") else sagemaker_arn(region, account, resource_type, value)
    return ANY_RESOURCE


def _athena_resource(
    operation: str, request: dict, region: str, account: str, workgroup_of: Callable[[str], str | None]
) -> str:
    workgroup = request.get("WorkGroup") or (request.get("Name") if operation.endswith("WorkGroup") else None)
    if not workgroup and isinstance(request.get("QueryExecutionId"), str):
        workgroup = workgroup_of(request["QueryExecutionId"])
    return f"arn:aws:athena:{region}:{account}:workgroup/{workgroup or ATHENA_DEFAULT_WORKGROUP}"


def _glue_resources(operation: str, request: dict, region: str, account: str) -> list[str]:
    """A Glue Data Catalog request needs its catalog, its database and its table (each one, in IAM's words)."""
    prefix = f"arn:aws:glue:{region}:{request.get('CatalogId') or account}"
    database_input = request.get("DatabaseInput") if isinstance(request.get("DatabaseInput"), dict) else {}
    table_input = request.get("TableInput") if isinstance(request.get("TableInput"), dict) else {}
    database = request.get("DatabaseName") or database_input.get("Name")
    if not database and operation.endswith("Database"):
        database = request.get("Name")
    if not isinstance(database, str) or not database:
        return [f"{prefix}:catalog"]
    table = request.get("TableName") or table_input.get("Name")
    if not table and operation.endswith("Table"):
        table = request.get("Name")
    if operation.endswith("Tables"):
        table = "*"
    resources = [f"{prefix}:catalog", f"{prefix}:database/{database}"]
    return resources + ([f"{prefix}:table/{database}/{table}"] if isinstance(table, str) and table else [])
