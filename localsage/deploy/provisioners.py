"""Local provisioners: create what the emulator's CloudFormation skips, from the same template properties.

moto's CloudFormation marks a stack CREATE_COMPLETE but silently skips some resource types (Glue, Athena,
SageMaker model package groups, bucket and topic policies ...). After `cdk deploy`, each skipped resource
of a type listed here is created (or left alone when it already matches) through the service's own API;
every other skipped resource is reported as "not emulated". One small class per resource type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

# The types moto 5.2.5's CloudFormation creates itself (moto.cloudformation.parsing.get_model_map()),
# limited to those these stacks can contain; a test checks this list against the installed moto.
EMULATED_BY_CLOUDFORMATION = frozenset(
    {
        "AWS::S3::Bucket",
        "AWS::SNS::Topic",
        "AWS::Events::Rule",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::SSM::Parameter",
        "AWS::ECR::Repository",
        "AWS::Logs::LogGroup",
    }
)
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


class Unresolvable(Exception):
    """A template value this resolver cannot compute locally."""


class NotEmulated(Exception):
    """A change the emulator cannot make (reported as "not emulated", never skipped silently)."""


@dataclass(frozen=True)
class Resolver:
    """Evaluates the intrinsic functions CDK writes (Ref, Fn::GetAtt Arn, Fn::Join, Fn::Sub) for one stack."""

    account: str
    region: str
    physical_ids: Mapping[str, str]
    resource_types: Mapping[str, str]
    stack_name: str = ""

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self._ref(argument)
            if function == "Fn::GetAtt":
                return self._arn(*argument) if isinstance(argument, list) else self._arn(*argument.split(".", 1))
            if function == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(part)) for part in parts)
            if function == "Fn::Sub" and isinstance(argument, str):
                return self._sub(argument)
            if function.startswith("Fn::"):
                raise Unresolvable(f"{function} is not evaluated locally")
        return {key: self.resolve(item) for key, item in value.items()}

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
        }
        if name in pseudo:
            return pseudo[name]
        if name not in self.physical_ids:
            raise Unresolvable(f"Ref {name}: the resource does not exist in the emulator")
        return self.physical_ids[name]

    def _arn(self, logical_id: str, attribute: str) -> str:
        physical = self._ref(logical_id)
        kind = self.resource_types.get(logical_id, "")
        arn_formats = {
            "AWS::S3::Bucket": "arn:aws:s3:::{id}",
            "AWS::SNS::Topic": "{id}",
            "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{id}",
            "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
            "AWS::Events::Rule": "{id}"
            if physical.startswith("arn:")
            else "arn:aws:events:{region}:{account}:rule/{id}",
        }
        if attribute not in ("Arn", "TopicArn") or kind not in arn_formats:
            raise Unresolvable(f"Fn::GetAtt {logical_id}.{attribute} ({kind}) is not evaluated locally")
        return arn_formats[kind].format(id=physical, region=self.region, account=self.account)

    def _sub(self, text: str) -> str:
        result, rest = "", text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            result += before + (self._arn(*name.split(".", 1)) if "." in name else self._ref(name))
        return result + rest


class Provisioner:
    """Creates one resource type from its template properties; `apply` is idempotent."""

    resource_type: ClassVar[str]
    # Where the name that `Ref` returns sits in the properties.
    name_path: ClassVar[tuple[str, ...]] = ("Name",)

    def __init__(self, client_for: Callable[[str], Any]):
        self.client_for = client_for

    def physical_id(self, properties: dict) -> str:
        """The id `Ref` returns for this resource (what later resources in the stack refer to)."""
        value: Any = properties
        for key in self.name_path:
            value = value[key]
        return value

    def apply(self, properties: dict) -> str:
        """Create or update the resource; return CREATED, UPDATED or UNCHANGED."""
        raise NotImplementedError


class BucketPolicyProvisioner(Provisioner):
    """The bucket policy, less its TLS-only statement.

    The emulator speaks plain HTTP on loopback, and moto enforces bucket policies: a Deny on
    `aws:SecureTransport = false` would refuse every local request. AWS gets the whole policy (the template is
    not changed); locally every other statement is applied.
    """

    resource_type = "AWS::S3::BucketPolicy"
    name_path = ("Bucket",)

    def apply(self, properties: dict) -> str:
        s3 = self.client_for("s3")
        bucket = properties["Bucket"]
        document = properties["PolicyDocument"]
        wanted = {**document, "Statement": [s for s in document["Statement"] if not requires_tls(s)]}
        try:
            current = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError:
            current = None
        if not wanted["Statement"]:
            if current is None:
                return UNCHANGED
            s3.delete_bucket_policy(Bucket=bucket)
            return UPDATED
        if current == wanted:
            return UNCHANGED
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(wanted))
        return CREATED if current is None else UPDATED


def requires_tls(statement: dict) -> bool:
    """A statement that denies requests not made over TLS."""
    condition = statement.get("Condition", {}).get("Bool", {})
    return statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false"


class TopicPolicyProvisioner(Provisioner):
    resource_type = "AWS::SNS::TopicPolicy"

    def physical_id(self, properties: dict) -> str:
        return ",".join(properties["Topics"])

    def apply(self, properties: dict) -> str:
        sns = self.client_for("sns")
        wanted = properties["PolicyDocument"]
        outcome = UNCHANGED
        for topic in properties["Topics"]:
            current = sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("Policy")
            if current and json.loads(current) == wanted:
                continue
            sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(wanted))
            outcome = UPDATED
        return outcome


class SubscriptionProvisioner(Provisioner):
    resource_type = "AWS::SNS::Subscription"

    def physical_id(self, properties: dict) -> str:
        return f"{properties['TopicArn']}:{properties['Protocol']}:{properties['Endpoint']}"

    def apply(self, properties: dict) -> str:
        sns = self.client_for("sns")
        existing = sns.list_subscriptions_by_topic(TopicArn=properties["TopicArn"])["Subscriptions"]
        if any(s["Protocol"] == properties["Protocol"] and s["Endpoint"] == properties["Endpoint"] for s in existing):
            return UNCHANGED
        sns.subscribe(TopicArn=properties["TopicArn"], Protocol=properties["Protocol"], Endpoint=properties["Endpoint"])
        return CREATED


class ModelPackageGroupProvisioner(Provisioner):
    resource_type = "AWS::SageMaker::ModelPackageGroup"
    name_path = ("ModelPackageGroupName",)

    def apply(self, properties: dict) -> str:
        sagemaker = self.client_for("sagemaker")
        name = properties["ModelPackageGroupName"]
        try:
            sagemaker.describe_model_package_group(ModelPackageGroupName=name)
            return UNCHANGED
        except ClientError:
            pass
        sagemaker.create_model_package_group(
            ModelPackageGroupName=name,
            ModelPackageGroupDescription=properties.get("ModelPackageGroupDescription", ""),
            Tags=properties.get("Tags", []),
        )
        return CREATED


class GlueDatabaseProvisioner(Provisioner):
    resource_type = "AWS::Glue::Database"
    name_path = ("DatabaseInput", "Name")

    def apply(self, properties: dict) -> str:
        glue = self.client_for("glue")
        wanted = properties["DatabaseInput"]
        try:
            current = glue.get_database(Name=wanted["Name"])["Database"]
        except glue.exceptions.EntityNotFoundException:
            glue.create_database(DatabaseInput=wanted)
            return CREATED
        if _contains(current, wanted):
            return UNCHANGED
        glue.update_database(Name=wanted["Name"], DatabaseInput=wanted)
        return UPDATED


class GlueTableProvisioner(Provisioner):
    resource_type = "AWS::Glue::Table"
    name_path = ("TableInput", "Name")

    def apply(self, properties: dict) -> str:
        glue = self.client_for("glue")
        database, wanted = properties["DatabaseName"], properties["TableInput"]
        try:
            current = glue.get_table(DatabaseName=database, Name=wanted["Name"])["Table"]
        except glue.exceptions.EntityNotFoundException:
            glue.create_table(DatabaseName=database, TableInput=wanted)
            return CREATED
        if _contains(current, wanted):
            return UNCHANGED
        glue.update_table(DatabaseName=database, TableInput=wanted)
        return UPDATED


class WorkGroupProvisioner(Provisioner):
    resource_type = "AWS::Athena::WorkGroup"

    def apply(self, properties: dict) -> str:
        athena = self.client_for("athena")
        name, configuration = properties["Name"], properties.get("WorkGroupConfiguration", {})
        existing = {group["Name"] for group in athena.list_work_groups()["WorkGroups"]}
        current = athena.get_work_group(WorkGroup=name)["WorkGroup"] if name in existing else None
        if current and _contains(current.get("Configuration", {}), configuration):
            return UNCHANGED
        if current:
            # The emulator has no UpdateWorkGroup: replace it (it holds no state but its settings).
            athena.delete_work_group(WorkGroup=name, RecursiveDeleteOption=True)
        athena.create_work_group(Name=name, Description=properties.get("Description", ""), Configuration=configuration)
        return UPDATED if current else CREATED


class NamedQueryProvisioner(Provisioner):
    resource_type = "AWS::Athena::NamedQuery"

    def apply(self, properties: dict) -> str:
        athena = self.client_for("athena")
        workgroup = properties.get("WorkGroup", "primary")
        ids = athena.list_named_queries(WorkGroup=workgroup).get("NamedQueryIds", [])
        queries = [athena.get_named_query(NamedQueryId=query_id)["NamedQuery"] for query_id in ids]
        same_name = [query for query in queries if query["Name"] == properties["Name"]]
        if any(query["QueryString"] == properties["QueryString"] for query in same_name):
            return UNCHANGED
        if same_name:
            raise NotEmulated(
                "changed, and the emulator cannot update or delete named queries (kpi-check reads the .sql files)"
            )
        athena.create_named_query(
            Name=properties["Name"],
            Description=properties.get("Description", ""),
            Database=properties["Database"],
            QueryString=properties["QueryString"],
            WorkGroup=workgroup,
        )
        return CREATED


def _contains(current: Any, wanted: Any) -> bool:
    """Whether `current` (as a service returns it, with its defaults added) holds every value of `wanted`."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(_contains(current.get(key), value) for key, value in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(current, list)
            and len(current) == len(wanted)
            and all(_contains(have, want) for have, want in zip(current, wanted, strict=True))
        )
    return current == wanted


# In the order dependent resources need them (a table after its database, a query after its workgroup).
PROVISIONERS: tuple[type[Provisioner], ...] = (
    BucketPolicyProvisioner,
    TopicPolicyProvisioner,
    SubscriptionProvisioner,
    ModelPackageGroupProvisioner,
    GlueDatabaseProvisioner,
    GlueTableProvisioner,
    WorkGroupProvisioner,
    NamedQueryProvisioner,
)
PROVISIONED_TYPES = frozenset(provisioner.resource_type for provisioner in PROVISIONERS)
