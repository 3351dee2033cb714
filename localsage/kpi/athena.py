"""Athena's own parse of a KPI query: `EXPLAIN` in the project's workgroup, which plans the query and scans no data.

The local check proves a query is portable Athena SQL by sqlglot's reading and runs it in DuckDB; only Athena
can say that Athena parses and resolves it. Its error names a line of the statement it was sent, and the
statement sent keeps the query file's lines, so the line is the file's line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import ClientError

FINISHED = ("SUCCEEDED", "FAILED", "CANCELLED")
SYNTAX_REFUSAL = "InvalidRequestException"  # how Athena refuses a statement it cannot parse, at once
POLL_SECONDS = 0.5
WAIT_SECONDS = 120
_LOCATION = re.compile(r"line (\d+):(\d+):?\s*")
# A view's query is what Athena can explain: `CREATE [OR REPLACE] VIEW name AS` is left out.
_VIEW_HEAD = re.compile(r"\A((?:\s|--[^\n]*\n)*)CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+\S+\s+AS\s", re.IGNORECASE)


@dataclass(frozen=True)
class Explainer:
    """EXPLAIN each query with one Athena client, in `database` through `workgroup`."""

    client: object
    database: str
    workgroup: str
    sleep: Callable[[float], None] = time.sleep

    def problems(self, sql: str) -> list[str]:
        """Athena's refusal of `sql` as `line N: Athena: ...` (empty when Athena can plan it)."""
        try:
            started = self.client.start_query_execution(
                QueryString=explain_statement(sql),
                QueryExecutionContext={"Database": self.database},
                WorkGroup=self.workgroup,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != SYNTAX_REFUSAL:
                raise  # not the query's fault (access, throttling, a missing workgroup): said as what it is
            return [_problem(exc.response["Error"].get("Message", str(exc)))]
        status = self._finished(started["QueryExecutionId"])
        if status["State"] == "SUCCEEDED":
            return []
        return [_problem(status.get("StateChangeReason") or f"the EXPLAIN ended {status['State']}")]

    def _finished(self, query_id: str) -> dict:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            status = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
            if status["State"] in FINISHED:
                return status
            if time.monotonic() > deadline:
                return {"State": "TIMEOUT", "StateChangeReason": f"no answer after {WAIT_SECONDS} s (query {query_id})"}
            self.sleep(POLL_SECONDS)


def explain_statement(sql: str) -> str:
    """`EXPLAIN` and the query, on the query's own lines (a view's head is blanked, its line breaks kept)."""
    body = sql.rstrip().rstrip(";")
    head = _VIEW_HEAD.match(body)
    if head:
        body = "\n" * head.group(0).count("\n") + body[head.end() :]
    return f"EXPLAIN {body}"


def _problem(message: str) -> str:
    """Athena's message with its `line L:C` moved to the front as `line L: Athena: ...`."""
    message = message.strip()
    for prefix in ("FAILED: ", "SYNTAX_ERROR: "):
        message = message.removeprefix(prefix)
    located = _LOCATION.search(message)
    if located is None:
        return f"Athena: {message}"
    rest = (message[: located.start()] + message[located.end() :]).strip()
    return f"line {located.group(1)}: Athena: {rest}"
