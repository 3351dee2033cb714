"""IAM authorization for what an assumed role signs, driven with boto3 and the AWS CLI: a role's S3 requests are
judged by moto, its SageMaker, Athena, Glue, IAM and STS requests by the emulator, each against the resources the
request names; requests with the emulator's own credentials are never checked."""

from __future__ import annotations

import json
import subprocess
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from clients_support import aws_cli, cli_environment

from localsage.controlplane.moto_app import enforced

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture(scope="module")
def role(local_target):
    """A role that may read the bucket and write only under allowed/, and its assumed credentials."""
    local_target.ensure_bucket()
    name = f"authz-{uuid.uuid4().hex[:8]}"
    iam = local_target.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    bucket = f"arn:aws:s3:::{local_target.bucket}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket},
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket}/*"},
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": f"{bucket}/allowed/*"},
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="steps", PolicyDocument=json.dumps(policy))
    credentials = local_target.client("sts").assume_role(RoleArn=arn, RoleSessionName="test")["Credentials"]
    return credentials


def role_client(local_target, credentials, service: str = "s3"):
    return boto3.client(
        service,
        endpoint_url=local_target.endpoint,
        region_name=local_target.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_a_roles_s3_requests_are_allowed_and_denied_by_its_policies(local_target, role):
    s3 = role_client(local_target, role)
    s3.put_object(Bucket=local_target.bucket, Key="allowed/report.json", Body=b"{}")
    assert s3.get_object(Bucket=local_target.bucket, Key="allowed/report.json")["Body"].read() == b"{}"
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.put_object(Bucket=local_target.bucket, Key="elsewhere/report.json", Body=b"{}")
    admin = local_target.client("s3")
    admin.put_object(Bucket=local_target.bucket, Key="elsewhere/report.json", Body=b"{}")  # never checked
    assert admin.get_object(Bucket=local_target.bucket, Key="elsewhere/report.json")["Body"].read() == b"{}"


def test_the_aws_cli_as_the_role_meets_the_same_policy(local_target, role, tmp_path):
    file = tmp_path / "model.txt"
    file.write_text("weights")
    environment = {
        **cli_environment(),
        "AWS_ACCESS_KEY_ID": role["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": role["SecretAccessKey"],
        "AWS_SESSION_TOKEN": role["SessionToken"],
    }
    allowed = subprocess.run(
        [aws_cli(), "s3", "cp", str(file), f"s3://{local_target.bucket}/allowed/cli.txt"],
        env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    denied = subprocess.run(
        [aws_cli(), "s3", "cp", str(file), f"s3://{local_target.bucket}/denied/cli.txt"],
        env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr


def test_only_temporary_credentials_for_a_checked_service_are_enforced():
    signed = "AWS4-HMAC-SHA256 Credential=ASIAX/20261202/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=0"
    assert enforced({"HTTP_AUTHORIZATION": signed.format("s3"), "HTTP_X_AMZ_SECURITY_TOKEN": "t"})
    assert not enforced({"HTTP_AUTHORIZATION": signed.format("s3")})
    assert not enforced({"HTTP_AUTHORIZATION": signed.format("sagemaker"), "HTTP_X_AMZ_SECURITY_TOKEN": "t"})
    assert not enforced({})


@pytest.fixture(scope="module")
def scoped(local_target):
    """A role scoped as least privilege asks, to one pipeline, one Athena workgroup and one Glue table."""
    name = f"scoped-{uuid.uuid4().hex[:8]}"
    iam = local_target.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    prefix = f"{local_target.region}:{local_target.account}"
    statements = [
        {"Effect": "Allow", "Action": ["sagemaker:CreatePipeline", "sagemaker:DescribePipeline"],
         "Resource": f"arn:aws:sagemaker:{prefix}:pipeline/scoped-mine"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": arn,
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        {"Effect": "Allow", "Action": "iam:GetRole", "Resource": arn},
        {"Effect": "Allow", "Action": ["athena:StartQueryExecution", "athena:GetQueryExecution"],
         "Resource": f"arn:aws:athena:{prefix}:workgroup/scoped"},
        {"Effect": "Allow", "Action": "glue:GetTable",
         "Resource": [f"arn:aws:glue:{prefix}:catalog", f"arn:aws:glue:{prefix}:database/kpis",
                      f"arn:aws:glue:{prefix}:table/kpis/daily"]},
    ]  # fmt: skip
    iam.put_role_policy(
        RoleName=name,
        PolicyName="scoped",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    local_target.client("athena").create_work_group(Name="scoped")
    glue = local_target.client("glue")
    if "kpis" not in [database["Name"] for database in glue.get_databases()["DatabaseList"]]:
        glue.create_database(DatabaseInput={"Name": "kpis"})
    for table in ("daily", "secret"):
        if table not in [t["Name"] for t in glue.get_tables(DatabaseName="kpis")["TableList"]]:
            glue.create_table(DatabaseName="kpis", TableInput={"Name": table})
    credentials = local_target.client("sts").assume_role(RoleArn=arn, RoleSessionName="scoped")["Credentials"]
    return arn, credentials


def denied_for(action: str, resource: str):
    return pytest.raises(ClientError, match=f"not authorized to perform: {action} on resource: {resource}")


def test_sagemaker_requests_of_a_role_are_judged_against_the_resource_they_name(local_target, scoped):
    arn, credentials = scoped
    sagemaker = role_client(local_target, credentials, "sagemaker")
    definition = json.dumps({"Version": "2020-12-01", "Steps": []})
    sagemaker.create_pipeline(PipelineName="scoped-mine", PipelineDefinition=definition, RoleArn=arn)
    assert sagemaker.describe_pipeline(PipelineName="scoped-mine")["RoleArn"] == arn
    other = f"arn:aws:sagemaker:{local_target.region}:{local_target.account}:pipeline/scoped-other"
    with denied_for("sagemaker:CreatePipeline", other):
        sagemaker.create_pipeline(PipelineName="scoped-other", PipelineDefinition=definition, RoleArn=arn)
    elsewhere = arn.replace(arn.rsplit("/", 1)[-1], "someone-else")
    with denied_for("iam:PassRole", elsewhere):
        sagemaker.create_pipeline(PipelineName="scoped-mine", PipelineDefinition=definition, RoleArn=elsewhere)


def test_athena_requests_are_judged_against_the_querys_workgroup(local_target, scoped):
    _, credentials = scoped
    athena = role_client(local_target, credentials, "athena")
    query = athena.start_query_execution(QueryString="SELECT 1", WorkGroup="scoped")["QueryExecutionId"]
    assert athena.get_query_execution(QueryExecutionId=query)["QueryExecution"]["WorkGroup"] == "scoped"
    primary = f"arn:aws:athena:{local_target.region}:{local_target.account}:workgroup/primary"
    with denied_for("athena:StartQueryExecution", primary):
        athena.start_query_execution(QueryString="SELECT 1")
    elsewhere = local_target.client("athena").start_query_execution(QueryString="SELECT 1")["QueryExecutionId"]
    with denied_for("athena:GetQueryExecution", primary):
        athena.get_query_execution(QueryExecutionId=elsewhere)


def test_glue_requests_need_the_catalog_the_database_and_the_table(local_target, scoped):
    _, credentials = scoped
    glue = role_client(local_target, credentials, "glue")
    assert glue.get_table(DatabaseName="kpis", Name="daily")["Table"]["Name"] == "daily"
    secret = f"arn:aws:glue:{local_target.region}:{local_target.account}:table/kpis/secret"
    with denied_for("glue:GetTable", secret):
        glue.get_table(DatabaseName="kpis", Name="secret")


def test_query_protocol_requests_are_judged_and_get_caller_identity_always_answers(local_target, scoped):
    arn, credentials = scoped
    iam = role_client(local_target, credentials, "iam")
    assert iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]["Arn"] == arn
    with pytest.raises(ClientError, match="AccessDenied") as denied:
        iam.get_role(RoleName="someone-else")
    assert "iam:GetRole on resource: arn:aws:iam::000000000000:role/someone-else" in str(denied.value)
    identity = role_client(local_target, credentials, "sts").get_caller_identity()
    assert identity["Arn"].endswith(f"assumed-role/{arn.rsplit('/', 1)[-1]}/scoped")


def test_the_aws_cli_as_a_scoped_role_is_denied_with_iams_words(local_target, scoped):
    _, credentials = scoped
    environment = {
        **cli_environment(),
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }
    run = subprocess.run(
        [aws_cli(), "sagemaker", "describe-pipeline", "--pipeline-name", "scoped-other"],
        env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode != 0
    assert "AccessDeniedException" in run.stderr and "sagemaker:DescribePipeline" in run.stderr, run.stderr


def test_a_session_of_a_role_the_emulator_does_not_hold_is_not_judged(local_target):
    """moto's AssumeRole answers for any role name (the CDK CLI assumes CDK's deploy role, which no local deploy
    creates): there is no policy to judge such a session by, so it is served as before."""
    absent = f"arn:aws:iam::000000000000:role/cdk-deploy-{uuid.uuid4().hex[:8]}"
    credentials = local_target.client("sts").assume_role(RoleArn=absent, RoleSessionName="aws-cdk")["Credentials"]
    assert "PipelineSummaries" in role_client(local_target, credentials, "sagemaker").list_pipelines()


def test_invoke_endpoint_of_a_role_is_judged_against_the_endpoint(local_target, scoped):
    _, credentials = scoped
    runtime = role_client(local_target, credentials, "sagemaker-runtime")
    endpoint = f"arn:aws:sagemaker:{local_target.region}:{local_target.account}:endpoint/scoped-endpoint"
    with denied_for("sagemaker:InvokeEndpoint", endpoint):
        runtime.invoke_endpoint(EndpointName="scoped-endpoint", Body=b"1,2,3", ContentType="text/csv")
