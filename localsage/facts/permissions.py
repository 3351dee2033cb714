"""What IAM evaluates for a request: its action, the resource ARNs it acts on, and the roles it passes.

One table for the runner and the emulator. SageMaker Pipelines makes each step's request as the pipeline's role;
the runner asks the emulator whether that role may (IAM's SimulatePrincipalPolicy), before the step runs. A
request that an assumed role signs (a step's process, a CodeBuild command replayed as its role) is judged by the
emulator when it arrives. The resource types are those of the Service Authorization Reference; an operation no
rule names is judged against "*", which is what IAM does for actions without a resource type (List*, ...), and is
stricter than IAM for the others: a denial then says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

SAGEMAKER_SERVICE_PRINCIPAL = "sagemaker.amazonaws.com"
PASSED_TO_SERVICE = "iam:PassedToService"
ANY_RESOURCE = "*"

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
    ("EndpointConfigName", "endpoint-config"),
    ("EndpointName", "endpoint"),
    ("InferenceComponentName", "inference-component"),
)
# Members that pass a role to SageMaker: the caller needs iam:PassRole on it, for SageMaker.
PASSED_ROLE_MEMBERS = ("RoleArn", "ExecutionRoleArn")
ATHENA_DEFAULT_WORKGROUP = "primary"


@dataclass(frozen=True)
class Permission:
    """One question for IAM: may the principal do `action` on `resource`, with these condition values?"""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}"


def sagemaker_arn(region: str, account: str, resource_type: str, name: str) -> str:
    """SageMaker writes names into its ARNs in lower case."""
    return f"arn:aws:sagemaker:{region}:{account}:{resource_type}/{name.lower()}"


def needed(operation: str, request: dict, region: str, account: str) -> list[Permission]:
    """What IAM checks when a principal makes this SageMaker create request (`request` with its name filled in).

    An operation missing from CREATED_RESOURCES is a mistake in this table, not a request IAM lets through.
    """
    if operation not in CREATED_RESOURCES:
        raise KeyError(f"no resource rule for sagemaker:{operation}: add it to CREATED_RESOURCES")
    resource_type, name_member = CREATED_RESOURCES[operation]
    if operation == "CreateModelPackage" and not request.get(name_member):
        name = request["ModelPackageName"]  # an unversioned package
    else:
        name = request[name_member].rsplit("/", 1)[-1]  # a name, or (for a group) its ARN
        name = f"{name}/*" if operation == "CreateModelPackage" else name
    return [Permission(f"sagemaker:{operation}", sagemaker_arn(region, account, resource_type, name))] + _passed(
        request
    )


def _passed(request: dict) -> list[Permission]:
    return [
        Permission("iam:PassRole", request[member], {PASSED_TO_SERVICE: SAGEMAKER_SERVICE_PRINCIPAL})
        for member in PASSED_ROLE_MEMBERS
        if isinstance(request.get(member), str) and request[member]
    ]


@dataclass(frozen=True)
class Lookups:
    """What only the emulator's state tells: the workgroup an Athena query ran in (its requests are authorized
    against it), and a stack's ARN (it ends in an id CloudFormation made)."""

    workgroup_of: Callable[[str], str | None]
    stack_arn_of: Callable[[str], str | None]


def request_permissions(
    service: str, operation: str, request: dict, region: str, account: str, lookups: Lookups
) -> list[Permission]:
    """What IAM checks for one request to `service` (its signing name)."""
    action = f"{service}:{operation}"
    if service == "sagemaker":
        if operation in CREATED_RESOURCES:
            return needed(operation, request, region, account)
        return [Permission(action, _sagemaker_resource(operation, request, region, account)), *_passed(request)]
    if service == "athena":
        return [Permission(action, _athena_resource(request, region, account, lookups.workgroup_of))]
    if service == "glue":
        return [Permission(action, resource) for resource in _glue_resources(operation, request, region, account)]
    if service == "iam" and "RoleName" in request:
        return [Permission(action, f"arn:aws:iam::{account}:role/{request['RoleName']}")]
    if service == "cloudformation" and request.get("StackName"):
        name = request["StackName"]
        return [Permission(action, name if name.startswith("arn:") else lookups.stack_arn_of(name) or ANY_RESOURCE)]
    if service == "sns" and request.get("TopicArn"):
        return [Permission(action, request["TopicArn"])]
    if service == "sts" and "RoleArn" in request:
        return [Permission(action, request["RoleArn"])]
    return [Permission(action, ANY_RESOURCE)]


def _sagemaker_resource(operation: str, request: dict, region: str, account: str) -> str:
    if operation.startswith("List"):
        return ANY_RESOURCE
    for member, resource_type in NAMED_RESOURCES:
        value = request.get(member)
        if isinstance(value, str) and value:
            return value if value.startswith("arn:") else sagemaker_arn(region, account, resource_type, value)
    return ANY_RESOURCE


def _athena_resource(request: dict, region: str, account: str, workgroup_of: Callable[[str], str | None]) -> str:
    workgroup = request.get("WorkGroup")
    if not workgroup and request.get("QueryExecutionId"):
        workgroup = workgroup_of(request["QueryExecutionId"])
    return f"arn:aws:athena:{region}:{account}:workgroup/{workgroup or ATHENA_DEFAULT_WORKGROUP}"


def _glue_resources(operation: str, request: dict, region: str, account: str) -> list[str]:
    """A Glue Data Catalog request needs its catalog, its database and its table (each one, in IAM's words)."""
    prefix = f"arn:aws:glue:{region}:{request.get('CatalogId') or account}"
    database = request.get("DatabaseName") or (request.get("Name") if operation.endswith("Database") else None)
    if not database:
        return [f"{prefix}:catalog"]
    table = request.get("TableName") or (request.get("Name") if "Table" in operation else None)
    if operation.endswith("Tables"):
        table = "*"
    resources = [f"{prefix}:catalog", f"{prefix}:database/{database}"]
    return resources + ([f"{prefix}:table/{database}/{table}"] if table else [])
