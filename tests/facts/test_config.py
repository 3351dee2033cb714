"""project.toml: loading, validation against AWS naming rules, derived names, and `init`."""

from __future__ import annotations

import pytest

from localsage.errors import UserError
from localsage.facts import config


def test_every_derived_name_comes_from_the_base_name():
    chosen = config.ProjectConfig(use_case_id="churn-model", pipeline_base_name="churn", region="eu-west-2")
    assert chosen.pipeline_name("experimental") == "churn-experimental"
    assert chosen.pipeline_name("stable") == "churn-stable"
    assert chosen.model_package_group("stable") == "churn-stable-models"
    assert chosen.model_package_group("experimental") == "churn-experimental-models"
    assert chosen.bucket_name("123456789012") == "churn-artifacts-123456789012-eu-west-2"
    assert chosen.glue_database == "churn_model_kpis"
    assert chosen.kpi_prefix == "kpi/churn-model/"
    assert chosen.sns_topic_name == "churn-model-events"
    assert chosen.athena_workgroup == "churn-kpis"
    assert set(chosen.stack_names.values()) == {"churn-ml-platform", "churn-notifications", "churn-kpi", "churn-cicd"}


def test_an_explicit_bucket_wins_over_the_derived_one():
    assert config.ProjectConfig(artifact_bucket="my-team-bucket").bucket_name("123456789012") == "my-team-bucket"


def test_unknown_variant_is_refused():
    with pytest.raises(UserError, match="variant 'prod' is unknown: use one of experimental, stable"):
        config.ProjectConfig().pipeline_name("prod")


def test_the_committed_project_file_is_valid():
    from conftest import REPO

    assert config.load(REPO).pipeline_base_name


TOOLING = '[project]\naccount = "111111111111"\n'
STAGING = '[[stage]]\nname = "staging"\naccount = "222222222222"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[project\nuse_case_id=", "project.toml is not valid TOML"),
        ('[project]\npipeline_base_name = "Abalone_Model"\n', "project.pipeline_base_name 'Abalone_Model' is invalid"),
        ('[project]\npipeline_base_name = "a"\n', "project.pipeline_base_name 'a' is invalid"),
        ('[project]\npipeline_base_name = "' + "a" * 44 + '"\n', "is invalid: use 2-43 lowercase"),
        ('[project]\npipeline_base_name = "ab--c"\n', "single hyphens"),
        ('[project]\nuse_case_id = "9lives"\n', "project.use_case_id '9lives' is invalid"),
        ('[project]\nregion = "Europe"\n', "project.region 'Europe' is invalid: use an AWS region code"),
        ('[project]\naccount = "12345"\n', "project.account '12345' is invalid: use the 12-digit"),
        ('[project]\nartifact_bucket = "My_Bucket"\n', "project.artifact_bucket 'My_Bucket' is invalid"),
        ('[project]\nartifact_bucket = "ab"\n', "3-63 characters"),
        ('[project]\nartifact_bucket = "192.168.1.1"\n', "must not look like an IP address"),
        ('[project]\nartifact_bucket = "my..bucket"\n', "no two adjacent dots"),
        ('[project]\nartifact_bucket = "xn--bucket"\n', "reserved"),
        ('[project]\npipeline_base_name = "' + "a" * 40 + '"\n', "derived artifact bucket"),
        ("[project]\nregion = 3\n", "project.region must be a string, got 3"),
        ('[project]\ncolour = "blue"\n', "unknown key project.colour"),
        ('[emulator]\nkind = "docker"\n', "emulator.kind 'docker' is invalid: use one of moto, localstack"),
        ("[emulator]\nport = 80\n", "emulator.port '80' is invalid"),
        ('[emulator]\nport = "4566"\n', "emulator.port must be a number"),
        ("project = 3\n", "[project] must be a table"),
        ('[stage]\nname = "prod"\n', "stages are [[stage]] tables (two brackets)"),
        ('[[stage]]\nname = "prod"\naccount = "333333333333"\n', "project.account '' is invalid: stages deploy"),
        (TOOLING + '[[stage]]\naccount = "333333333333"\n', "stage[0].name is missing"),
        (TOOLING + '[[stage]]\nname = "Prod"\naccount = "333333333333"\n', "stage[0].name 'Prod' is invalid"),
        (TOOLING + '[[stage]]\nname = "prod"\naccount = "3"\n', "stage[0].account '3' is invalid"),
        (
            TOOLING + '[[stage]]\nname = "p"\naccount = "333333333333"\nregion = "eu-west-1"\n',
            "stage[0].region: every stage deploys in project.region",
        ),
        (TOOLING + '[[stage]]\nname = "p"\naccount = "333333333333"\napproval = "yes"\n', "true or false"),
        (TOOLING + '[[stage]]\nname = "p"\naccount = "333333333333"\nowner = "me"\n', "unknown key stage[0].owner"),
        (TOOLING + '[[stage]]\nname = "p"\naccount = "111111111111"\n', "the tooling account already deploys"),
        (
            TOOLING + STAGING + STAGING.replace("staging", "qa"),
            "stage[1].account '222222222222' is invalid: stage staging already deploys there",
        ),
        (
            TOOLING + STAGING + STAGING.replace("222", "444"),
            "stage[1].name 'staging' is invalid: each stage needs its own",
        ),
    ],
)
def test_bad_config_gets_one_line_naming_the_field(project_root, text, expected):
    (project_root / "project.toml").write_text(text)
    with pytest.raises(UserError) as raised:
        config.load(project_root)
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message


def test_a_missing_config_file_says_how_to_create_it(tmp_path):
    with pytest.raises(UserError, match=r"project.toml is missing: run './dev init'"):
        config.load(tmp_path)


def test_tags_and_bucket_location_in_the_shapes_the_apis_take():
    chosen = config.ProjectConfig(pipeline_base_name="demo", use_case_id="churn")
    assert chosen.tag_list == [{"Key": "project", "Value": "demo"}, {"Key": "use-case", "Value": "churn"}]
    assert chosen.bucket_location() == {}
    assert config.ProjectConfig(region="eu-west-1").bucket_location() == {
        "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}
    }


def test_a_remote_localstack_endpoint_is_refused(project_root):
    (project_root / "project.toml").write_text('[emulator]\nlocalstack_endpoint = "https://localstack.example.com"\n')
    with pytest.raises(UserError, match="emulator.localstack_endpoint .* use a loopback address"):
        config.load(project_root)


def test_stages_keep_their_order_and_survive_a_rewrite(project_root):
    text = TOOLING + STAGING + '[[stage]]\nname = "prod"\naccount = "333333333333"\napproval = true\n'
    (project_root / "project.toml").write_text(text)
    loaded = config.load(project_root)
    assert [(stage.name, stage.account, stage.approval) for stage in loaded.stages] == [
        ("staging", "222222222222", False),
        ("prod", "333333333333", True),
    ]
    assert loaded.target_accounts == ["222222222222", "333333333333"]
    config.write(loaded, project_root)
    assert config.load(project_root) == loaded
