"""aws_cdk.assertions on each stack: resource counts and the properties that matter."""

from __future__ import annotations

import json
import shutil

from aws_cdk.assertions import Match
from conftest import stack_template
from infra_support import CONNECTION_ARN, FULL_CONTEXT, QUICKSIGHT_PRINCIPAL, REPO, STAGES

from localsage.facts import config as project_config
from localsage.facts import events as model_events
from localsage.facts import kpi_schema

CONFIG = project_config.load(REPO)
# What the CI/CD stack reads from a project besides ml/ and infra/.
PIPELINE_FILES = ("buildspec.yaml", "buildspec-promote.yaml", "package.json")


def _statements(synthesized, part: str) -> list[dict]:
    return [
        statement
        for policy in synthesized.resources(part, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _statements_of(template: dict) -> list[dict]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_ml_platform_resources(synthesized):
    template = synthesized.template("ml-platform")
    template.resource_count_is("AWS::S3::Bucket", 1)
    template.resource_count_is("AWS::SageMaker::ModelPackageGroup", 2)
    template.resource_count_is("AWS::IAM::Role", 1)
    for variant in project_config.VARIANTS:
        template.has_resource_properties(
            "AWS::SageMaker::ModelPackageGroup", {"ModelPackageGroupName": CONFIG.model_package_group(variant)}
        )


def test_artifact_bucket_is_encrypted_private_versioned_and_expires_old_versions(synthesized):
    template = synthesized.template("ml-platform")
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": CONFIG.bucket_name("000000000000") if CONFIG.artifact_bucket else Match.any_value(),
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [Match.object_like({"NoncurrentVersionExpiration": {"NoncurrentDays": 90}, "Status": "Enabled"})]
                )
            },
        },
    )


def test_bucket_policy_refuses_plain_http(synthesized):
    synthesized.template("ml-platform").has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_execution_role_is_scoped_to_the_project(synthesized):
    role = next(iter(synthesized.resources("ml-platform", "AWS::IAM::Role").values()))["Properties"]
    assert role["RoleName"] == CONFIG.execution_role_name
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert "ManagedPolicyArns" not in role
    statements = {s.get("Sid", f"unnamed-{n}"): s for n, s in enumerate(_statements(synthesized, "ml-platform"))}
    registry = json.dumps(statements["ModelRegistry"]["Resource"])
    for variant in project_config.VARIANTS:
        assert f"model-package-group/{CONFIG.model_package_group(variant)}" in registry
        assert f"pipeline/{CONFIG.pipeline_name(variant)}" in json.dumps(statements["PipelinesAndTheirJobs"])
    assert statements["PassThisRoleToJobs"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert statements["JobMetrics"]["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}
    for statement in statements.values():
        assert not any(action.endswith(":*") for action in _actions(statement)), statement


def test_notifications_rule_uses_the_single_sourced_pattern_and_message(synthesized):
    template = synthesized.template("notifications")
    template.resource_count_is("AWS::Events::Rule", 1)
    groups = [CONFIG.model_package_group(variant) for variant in ("experimental", "stable")]
    rule = next(iter(synthesized.resources("notifications", "AWS::Events::Rule").values()))["Properties"]
    assert rule["EventPattern"] == model_events.model_package_state_change_pattern(groups)
    (target,) = rule["Targets"]
    assert target["InputTransformer"] == model_events.input_transformer()
    assert target["Arn"] == {"Ref": next(iter(synthesized.resources("notifications", "AWS::SNS::Topic")))}


def test_topic_is_kms_encrypted_tls_only_and_publishable_by_eventbridge(synthesized):
    template = synthesized.template("notifications")
    key_id = next(iter(synthesized.resources("notifications", "AWS::KMS::Key")))
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {"TopicName": CONFIG.sns_topic_name, "KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}},
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    policy = json.dumps(next(iter(synthesized.resources("notifications", "AWS::SNS::TopicPolicy").values())))
    assert '"aws:SecureTransport": "false"' in policy
    key_policy = json.dumps(synthesized.resources("notifications", "AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"])
    # Not open to the EventBridge service principal (any account's rule could publish): a role of ours publishes.
    assert "events.amazonaws.com" not in policy and "events.amazonaws.com" not in key_policy
    (rule,) = synthesized.resources("notifications", "AWS::Events::Rule").values()
    role_id = rule["Properties"]["Targets"][0]["RoleArn"]["Fn::GetAtt"][0]
    role = synthesized.resources("notifications", "AWS::IAM::Role")[role_id]
    assert "events.amazonaws.com" in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
    role_policies = json.dumps(synthesized.resources("notifications", "AWS::IAM::Policy"))
    assert "sns:Publish" in role_policies and "kms:GenerateDataKey" in role_policies
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ml-team@example.com"})


def test_glue_table_equals_the_kpi_schema(synthesized):
    schema = kpi_schema.load_for_project(REPO)
    (table,) = synthesized.resources("kpi", "AWS::Glue::Table").values()
    table_input = table["Properties"]["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table_input["StorageDescriptor"]["Columns"]]
    assert columns == [(c.name, c.type) for c in schema.columns]
    assert [(c["Name"], c["Type"]) for c in table_input["PartitionKeys"]] == [
        (c.name, c.type) for c in schema.partition_keys
    ]
    assert table_input["Name"] == CONFIG.kpi_table == schema.table
    assert table["Properties"]["DatabaseName"] == CONFIG.glue_database


def test_glue_table_reads_headed_csv_with_date_projection(synthesized):
    (table,) = synthesized.resources("kpi", "AWS::Glue::Table").values()
    table_input = table["Properties"]["TableInput"]
    serde = table_input["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    assert serde == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    parameters = table_input["Parameters"]
    assert parameters["skip.header.line.count"] == "1"
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.dt.type"] == "date"
    assert parameters["projection.dt.format"] == "yyyy-MM-dd"
    assert json.dumps(table_input["StorageDescriptor"]["Location"]).count(CONFIG.kpi_prefix) == 1


def test_athena_workgroup_enforces_encrypted_results_and_a_scan_cutoff(synthesized):
    synthesized.template("kpi").has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": CONFIG.athena_workgroup,
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "BytesScannedCutoffPerQuery": 1024**3,
                "ResultConfiguration": {"EncryptionConfiguration": {"EncryptionOption": "SSE_S3"}},
            },
        },
    )


def test_named_queries_are_the_sql_files(synthesized):
    files = sorted((REPO / "infra" / "kpi" / "queries").glob("*.sql"))
    queries = {
        q["Properties"]["Name"]: q["Properties"]
        for q in synthesized.resources("kpi", "AWS::Athena::NamedQuery").values()
    }
    assert sorted(queries) == [path.stem for path in files]
    for path in files:
        assert queries[path.stem]["QueryString"] == path.read_text(encoding="utf-8")
        assert queries[path.stem]["WorkGroup"] == CONFIG.athena_workgroup


def test_quicksight_is_created_only_for_the_given_principals(synthesized):
    template = synthesized.template("kpi")
    template.resource_count_is("AWS::QuickSight::DataSource", 1)
    template.resource_count_is("AWS::QuickSight::DataSet", 1)
    (data_set,) = synthesized.resources("kpi", "AWS::QuickSight::DataSet").values()
    assert [p["Principal"] for p in data_set["Properties"]["Permissions"]] == [QUICKSIGHT_PRINCIPAL]


def _pipeline_stages(synthesized) -> list[dict]:
    (pipeline,) = synthesized.resources("cicd", "AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]["Stages"]


def _build_spec(synthesized, step: str) -> dict:
    """The buildspec CodeBuild runs for one step of the pipeline, found through the action that runs it."""
    projects = synthesized.resources("cicd", "AWS::CodeBuild::Project")
    for stage in _pipeline_stages(synthesized):
        for action in stage["Actions"]:
            if action["Name"] == step:
                return json.loads(
                    projects[action["Configuration"]["ProjectName"]["Ref"]]["Properties"]["Source"]["BuildSpec"]
                )
    raise AssertionError(f"no step {step}")


def test_the_pipeline_mutates_itself_and_deploys_each_stage_in_order_with_approval_before_prod(synthesized):
    stages = _pipeline_stages(synthesized)
    assert [stage["Name"] for stage in stages] == [
        "Source", "Build", "UpdatePipeline", "Assets", "tooling", *(name for name, _, _ in STAGES)
    ]  # fmt: skip
    actions = {stage["Name"]: [action["Name"] for action in stage["Actions"]] for stage in stages}
    assert actions["UpdatePipeline"] == ["SelfMutate"]
    for name, account, approval in STAGES:
        first = stages[[stage["Name"] for stage in stages].index(name)]["Actions"][0]
        assert (first["ActionTypeId"]["Category"] == "Approval") is approval, name
        deploys = [
            a for a in stages[[s["Name"] for s in stages].index(name)]["Actions"] if a["Name"].endswith(".Deploy")
        ]
        assert deploys and all(f"cdk-hnb659fds-deploy-role-{account}-" in json.dumps(a["RoleArn"]) for a in deploys)
    assert actions["tooling"][-1] == "PromoteStable", "the stable pipeline is upserted once its stacks exist"
    pipeline = json.dumps(synthesized.templates["cicd"])
    assert CONNECTION_ARN in pipeline and '"FullRepositoryId": "acme/abalone"' in pipeline
    assert '"BranchName": "release"' in pipeline
    # Target accounts read the pipeline's artefacts through a KMS key, rotated.
    synthesized.template("cicd").has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_codebuild_runs_the_repositorys_own_buildspecs_and_the_pinned_cdk_cli(synthesized):
    import yaml

    synth = _build_spec(synthesized, "Synth")
    projects = synthesized.resources("cicd", "AWS::CodeBuild::Project").values()
    variables = [v for p in projects for v in p["Properties"]["Environment"].get("EnvironmentVariables", [])]
    assert {"Name": "CDK_DEFAULT_ACCOUNT", "Type": "PLAINTEXT", "Value": "111111111111"} in variables
    assert synth["phases"] == yaml.safe_load((REPO / "buildspec.yaml").read_text())["phases"]
    assert synth["artifacts"]["base-directory"] == "infra/cdk.out"
    promote = _build_spec(synthesized, "PromoteStable")
    assert promote["phases"] == yaml.safe_load((REPO / "buildspec-promote.yaml").read_text())["phases"]
    pinned = json.loads((REPO / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert f"aws-cdk@{pinned}" in json.dumps(_build_spec(synthesized, "SelfMutate"))
    (image_step,) = [s for s in _pipeline_stages(synthesized) if s["Name"] == "Assets"][0]["Actions"]
    projects = synthesized.resources("cicd", "AWS::CodeBuild::Project")
    image_project = projects[image_step["Configuration"]["ProjectName"]["Ref"]]["Properties"]
    assert image_project["Environment"]["PrivilegedMode"] is True, "the step image is built in CodeBuild"


def test_the_promotion_step_may_upsert_and_explain_kpis_and_nothing_broader(synthesized):
    statements = {s.get("Sid"): s for s in _statements(synthesized, "cicd") if s.get("Sid")}
    assert statements["UpsertStablePipeline"]["Resource"]["Fn::Join"][1][-1].endswith(
        f"pipeline/{CONFIG.pipeline_name('stable')}"
    )
    assert json.dumps(statements["CheckExecutionRoleExists"]["Resource"]).endswith(
        f':role/{CONFIG.execution_role_name}"]]}}'
    )
    assert json.dumps(statements["ExplainKpiQueries"]["Resource"]).endswith(f'workgroup/{CONFIG.athena_workgroup}"]]}}')
    assert sorted(_actions(statements["ActionsWithoutResourceArns"])) == [
        "sagemaker:ListPipelines",
        "sts:GetCallerIdentity",
    ]
    for statement in statements.values():
        assert not any(action.endswith(":*") or action == "*" for action in _actions(statement)), statement


def test_target_accounts_may_read_the_stable_models_the_tooling_account_approves(synthesized):
    """Cross-account access needs both sides: the tooling account's resource policies, each target role's own."""
    groups = synthesized.resources("ml-platform", "AWS::SageMaker::ModelPackageGroup").values()
    policies = {
        g["Properties"]["ModelPackageGroupName"]: g["Properties"].get("ModelPackageGroupPolicy") for g in groups
    }
    assert policies[CONFIG.model_package_group("experimental")] is None
    stable = policies[CONFIG.model_package_group("stable")]
    granted = {action for statement in stable["Statement"] for action in statement["Action"]}
    assert granted == {"sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage"}, "reads only"
    for statement in stable["Statement"]:
        principals = statement["Principal"]["AWS"]
        assert len(principals) == len(STAGES)
        for (_, account, _), principal in zip(STAGES, principals, strict=True):
            assert json.dumps(principal).endswith(f':iam::{account}:root"]]}}'), principal
    (bucket_policy,) = synthesized.resources("ml-platform", "AWS::S3::BucketPolicy").values()
    statements = bucket_policy["Properties"]["PolicyDocument"]["Statement"]
    (reads,) = [s for s in statements if s.get("Sid") == "TargetAccountsReadStableArtefacts"]
    assert _actions(reads) == ["s3:GetObject"]
    # The stable pipeline's jobs write under <base>-stable-<job>/ (model.tar.gz under <base>-stable-train/).
    assert json.dumps(reads["Resource"]).endswith(f'/{CONFIG.pipeline_name("stable")}*"]]}}')
    for name, _, _ in STAGES:
        staged = synthesized.templates[f"{name}/ml-platform"]
        assert "ModelPackageGroupPolicy" not in json.dumps(staged), name
        assert '"Key": "project"' in json.dumps(staged), "stages are tagged"
        own = {s["Sid"]: s for s in _statements_of(staged) if s.get("Sid")}
        assert "111111111111" in json.dumps(own["ReadApprovedStableVersions"]["Resource"])
        assert sorted(_actions(own["ReadApprovedStableVersions"])) == sorted(granted), "the same reads on both sides"
        assert json.dumps(own["ReadStableArtefacts"]["Resource"]).endswith(f'/{CONFIG.pipeline_name("stable")}*"]]}}')


def test_the_tooling_accounts_quicksight_and_email_stay_in_the_tooling_account(synthesized):
    assert "QuickSight" in json.dumps(synthesized.templates["kpi"])
    assert "AWS::SNS::Subscription" in json.dumps(synthesized.templates["notifications"])
    for name, _, _ in STAGES:
        assert "AWS::QuickSight" not in json.dumps(synthesized.templates[f"{name}/kpi"]), name
        assert "AWS::SNS::Subscription" not in json.dumps(synthesized.templates[f"{name}/notifications"]), name


def test_the_pipelines_artefacts_expire(synthesized):
    synthesized.template("cicd").has_resource_properties(
        "AWS::S3::Bucket",
        {"LifecycleConfiguration": {"Rules": [Match.object_like({"Status": "Enabled", "ExpirationInDays": 30})]}},
    )


def test_a_codeconnections_arn_is_usable_by_the_source_action(synthesized, app_module, tmp_path):
    """IAM needs the action's prefix to match the connection ARN's: CDK grants only codestar-connections:."""
    source_policies = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in synthesized.resources("cicd", "AWS::IAM::Policy").values()
        if any("SourceActionRole" in json.dumps(role) for role in policy["Properties"]["Roles"])
    ]
    (statements,) = source_policies
    granted = {(action, json.dumps(s["Resource"])) for s in statements for action in _actions(s)}
    assert ("codeconnections:UseConnection", json.dumps(CONNECTION_ARN)) in granted
    assert ("codestar-connections:UseConnection", json.dumps(CONNECTION_ARN)) in granted
    old_style = CONNECTION_ARN.replace(":codeconnections:", ":codestar-connections:")
    built = app_module.build(REPO, context={**FULL_CONTEXT, "source_connection_arn": old_style}, outdir=str(tmp_path))
    built.app.synth()
    template = stack_template(built.stacks["cicd"])
    assert "codeconnections:UseConnection" not in json.dumps(template)
    assert "codestar-connections:UseConnection" in json.dumps(template)


def test_every_stack_is_named_from_the_config(synthesized):
    assert {part: stack.stack_name for part, stack in synthesized.built.stacks.items()} == CONFIG.stack_names


def test_step_image_asset_only_with_a_dockerfile_and_not_for_local(app_module, tmp_path):
    project = tmp_path / "project"
    (project / "docker").mkdir(parents=True)
    (project / "docker" / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY ml/ /opt/ml-code/\n", encoding="utf-8")
    (project / "docker" / "Dockerfile.dockerignore").write_text("# only ml/\n*\n!ml/\n", encoding="utf-8")
    (project / "ml").mkdir()
    (project / "ml" / "step.py").write_text("print('step')\n", encoding="utf-8")
    (project / "big-folder-the-image-never-sees").mkdir()
    shutil.copy(REPO / "project.toml", project / "project.toml")
    shutil.copytree(REPO / "infra" / "kpi", project / "infra" / "kpi")
    for name in PIPELINE_FILES:
        shutil.copy(REPO / name, project / name)

    with_image = app_module.build(project, context=FULL_CONTEXT, outdir=str(tmp_path / "aws.out"))
    with_image.app.synth()
    template = stack_template(with_image.stacks["ml-platform"])
    assert "StepImageUri" in template["Outputs"]
    assert "ecr:BatchGetImage" in json.dumps(template["Resources"])
    (staged,) = (tmp_path / "aws.out").glob("**/asset.*")
    assert sorted(path.name for path in staged.iterdir()) == ["docker", "ml"]
    manifests = [json.loads(path.read_text()) for path in (tmp_path / "aws.out").glob("**/*.assets.json")]
    images = [image for manifest in manifests for image in manifest.get("dockerImages", {}).values()]
    assert [image["source"].get("platform") for image in images] == ["linux/amd64"], "ml.* instances are x86_64"

    local_context = {**FULL_CONTEXT, "localsage:target": "local"}
    without_image = app_module.build(project, context=local_context, outdir=str(tmp_path / "local.out"))
    assert without_image.stacks["ml-platform"].step_image is None
    assert any("step image left out" in note for note in without_image.notes)


def test_app_applies_the_feature_flags_of_cdk_json(synthesized):
    flags = json.loads((REPO / "infra" / "cdk.json").read_text(encoding="utf-8"))["context"]
    node = synthesized.built.app.node
    assert flags["@aws-cdk/aws-iam:minimizePolicies"] is True
    assert node.try_get_context("@aws-cdk/aws-iam:minimizePolicies") is True
    assert node.try_get_context("source_repository") == "acme/abalone"


def test_a_sagemaker_projects_tags_are_on_every_stack(app_module, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(REPO / "infra" / "kpi", project / "infra" / "kpi")
    for name in PIPELINE_FILES:
        shutil.copy(REPO / name, project / name)
    chosen = project_config.with_values(
        CONFIG, sagemaker_project_name="studio-team", sagemaker_project_id="p-0123456789ab"
    )
    project_config.write(chosen, project)
    built = app_module.build(project, context=FULL_CONTEXT, outdir=str(tmp_path / "out"))
    built.app.synth()
    for part, stack in built.stacks.items():
        template = stack_template(stack)
        tagged = [r for r in template["Resources"].values() if "Tags" in r.get("Properties", {})]
        assert tagged, part
        for resource in tagged:
            tags = json.dumps(resource["Properties"]["Tags"])
            assert "sagemaker:project-name" in tags and "p-0123456789ab" in tags, (part, resource["Type"])


def test_the_execution_role_may_make_every_request_the_pipelines_steps_make(synthesized):
    """Single-sourced with the step types: each step of the project's definition names its SageMaker request
    (`create_operation`), and the role that runs the pipeline must be allowed it; with a PipelineExperimentConfig,
    SageMaker also records the execution as a trial."""
    from localsage.runner.definition import load
    from localsage.runner.steps.registry import step_types

    definition = load(REPO / "tests" / "project" / "data" / "previous-experimental.json")
    granted = {action for statement in _statements(synthesized, "ml-platform") for action in _actions(statement)}
    needed = {f"sagemaker:{step_types()[step.type].create_operation}" for step in definition.steps.values()
              if step_types()[step.type].create_operation}  # fmt: skip
    assert {"sagemaker:CreateTransformJob", "sagemaker:CreateProcessingJob"} <= needed
    assert needed <= granted, f"the execution role lacks {sorted(needed - granted)}"
    assert definition.raw["PipelineExperimentConfig"]
    assert {"sagemaker:CreateExperiment", "sagemaker:CreateTrial", "sagemaker:AssociateTrialComponent"} <= granted
