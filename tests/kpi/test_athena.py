"""kpi-check --aws: Athena EXPLAINs each query; its refusal becomes one line with the file and the line.

Athena is not reachable here: the client is a real botocore Athena client with botocore's Stubber answering
as Athena answers (documented response shapes), and the stub checks every request the check sends.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from conftest import REPO

from kpi.helpers import FIXTURE_KPIS
from localsage.facts import config as project_config
from localsage.kpi import check
from localsage.kpi.athena import Explainer, explain_statement

QUERY = REPO / "infra" / "kpi" / "queries" / "rmse_regression.sql"
VIEW = REPO / "infra" / "kpi" / "queries" / "dashboard_view.sql"


@pytest.fixture(autouse=True)
def private_state(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALSAGE_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def athena():
    client = boto3.client(
        "athena", region_name="us-east-1", aws_access_key_id="stubbed", aws_secret_access_key="stubbed"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def explainer(client) -> Explainer:
    config = project_config.load(REPO)
    return Explainer(client, config.glue_database, config.athena_workgroup, sleep=lambda seconds: None)


def expect_explain(stubber, sql_path, states: list[dict]) -> None:
    config = project_config.load(REPO)
    stubber.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q-1"},
        {
            "QueryString": explain_statement(sql_path.read_text()),
            "QueryExecutionContext": {"Database": config.glue_database},
            "WorkGroup": config.athena_workgroup,
        },
    )
    for status in states:
        stubber.add_response("get_query_execution", {"QueryExecution": {"Status": status}}, {"QueryExecutionId": "q-1"})


def test_an_explain_failure_is_one_line_with_the_file_and_line(athena):
    client, stubber = athena
    reason = "line 9:5: Column 'rmse_prev' cannot be resolved"
    expect_explain(stubber, QUERY, [{"State": "RUNNING"}, {"State": "FAILED", "StateChangeReason": reason}])
    outcomes = check.check(
        REPO, source=str(FIXTURE_KPIS), say=lambda message: None, only="rmse_regression", athena=explainer(client)
    )
    assert check.failure_lines(outcomes, REPO) == [
        "infra/kpi/queries/rmse_regression.sql: line 9: Athena: Column 'rmse_prev' cannot be resolved"
    ]


def test_a_syntax_error_refused_at_once_is_reported_the_same_way(athena):
    client, stubber = athena
    stubber.add_client_error(
        "start_query_execution",
        service_error_code="InvalidRequestException",
        service_message="line 2:1: mismatched input 'FORM'. Expecting: ',', 'FROM'",
        expected_params={"QueryString": ANY, "QueryExecutionContext": ANY, "WorkGroup": ANY},
    )
    assert explainer(client).problems("SELECT 1\nFORM model_kpis") == [
        "line 2: Athena: mismatched input 'FORM'. Expecting: ',', 'FROM'"
    ]


def test_a_query_athena_plans_passes(athena):
    client, stubber = athena
    expect_explain(stubber, QUERY, [{"State": "QUEUED"}, {"State": "SUCCEEDED"}])
    outcomes = check.check(
        REPO, source=str(FIXTURE_KPIS), say=lambda message: None, only="rmse_regression", athena=explainer(client)
    )
    assert [outcome.problems for outcome in outcomes] == [[]]


def test_the_statement_keeps_the_files_lines_and_a_view_is_explained_by_its_query():
    sql = VIEW.read_text()
    sent = explain_statement(sql)
    assert sent.startswith("EXPLAIN ") and "CREATE" not in sent.upper().split("SELECT")[0]
    select_line = next(number for number, line in enumerate(sql.splitlines(), 1) if line.startswith("SELECT"))
    assert sent.splitlines()[select_line - 1] == "SELECT"
    assert explain_statement("-- note\nSELECT 1;\n") == "EXPLAIN -- note\nSELECT 1"


def test_a_refusal_that_is_not_the_querys_fault_is_raised_as_what_it_is(athena):
    """AccessDenied is the caller's permissions, not a line of the query: it is not reported as a query problem."""
    client, stubber = athena
    denied = "User: arn:aws:sts::000000000000:assumed-role/promote/codebuild is not authorized to perform: athena:St"
    stubber.add_client_error(
        "start_query_execution",
        service_error_code="AccessDeniedException",
        service_message=denied,
        expected_params={"QueryString": ANY, "QueryExecutionContext": ANY, "WorkGroup": ANY},
    )
    with pytest.raises(ClientError, match="not authorized to perform"):
        explainer(client).problems("SELECT 1")
