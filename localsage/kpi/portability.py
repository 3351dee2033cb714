"""Parse a KPI query as Athena (Trino) SQL and reject what runs differently, or fails, in Athena vs DuckDB.

The checks walk sqlglot's syntax tree, typed with the KPI schema (so `a / b` on two integer columns is
known to be an integer division); `::` casts are found in the token stream, as the tree forgets them.
Each finding names the line and a form that behaves the same in both engines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import OptimizeError, ParseError, SqlglotError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.tokens import TokenType

DIALECT = "athena"
ONLY_QUERIES = "only SELECT/WITH queries (or CREATE VIEW ... AS SELECT) run here"
_LINE_IN_MESSAGE = re.compile(r"Line: (\d+)")
_UNKNOWN_COLUMN = re.compile(r"Column '([^']+)' could not be resolved")


@dataclass(frozen=True)
class Finding:
    line: int
    message: str


@dataclass(frozen=True)
class CheckedSql:
    """The parsed statement (None when it does not parse) and everything wrong with it."""

    statement: exp.Expression | None
    findings: tuple[Finding, ...]


def check_sql(sql: str, table_types: dict[str, str], database: str, table: str) -> CheckedSql:
    """Parse one statement of Athena SQL over `<database>.<table>` and list its unportable constructs."""
    try:
        statements = [statement for statement in sqlglot.parse(sql, read=DIALECT) if statement is not None]
    except ParseError as exc:
        error = exc.errors[0] if exc.errors else {}
        description = str(error.get("description", exc)).split(" but got ")[0]
        near = f" near '{error['highlight']}'" if error.get("highlight") else ""
        return CheckedSql(None, (Finding(error.get("line") or 1, f"syntax error{near}: {description}"),))
    except TokenError as exc:
        return CheckedSql(None, (Finding(_line_in_message(str(exc)), f"syntax error: {exc}"),))
    if len(statements) != 1:
        found = f"{len(statements)} statements" if statements else "no statement"
        return CheckedSql(None, (Finding(1, f"{found}: an Athena named query holds exactly one statement"),))
    statement = statements[0]
    if not _is_query(statement):
        return CheckedSql(None, (Finding(_line_of(statement), ONLY_QUERIES),))
    findings = _double_colon_casts(sql)
    try:
        typed = _typed_copy(statement, {database: {table: table_types}}, database)
    except OptimizeError as exc:
        findings.append(Finding(_line_in_message(str(exc)), _unresolved_name(str(exc))))
        typed = statement
    except SqlglotError as exc:
        findings.append(Finding(_line_in_message(str(exc)), f"cannot resolve the query's names ({exc})"))
        typed = statement
    for node in typed.walk():
        for rule in _RULES:
            message = rule(node)
            if message:
                findings.append(Finding(_line_of(node), message))
    unique = sorted(set(findings), key=lambda finding: (finding.line, finding.message))
    return CheckedSql(statement, tuple(unique))


def _is_query(statement: exp.Expression) -> bool:
    """A query, or a view over one (a dashboard's named query may create the view it reads)."""
    if isinstance(statement, exp.Create):
        return (statement.kind or "").upper() == "VIEW" and isinstance(statement.expression, exp.Query)
    return isinstance(statement, exp.Query)


def _typed_copy(statement: exp.Expression, schema: dict, database: str) -> exp.Expression:
    qualified = qualify(statement.copy(), schema=schema, db=database, dialect=DIALECT, validate_qualify_columns=True)
    return annotate_types(qualified, schema=schema, dialect=DIALECT)


def _double_colon_casts(sql: str) -> list[Finding]:
    tokens = Dialect.get_or_raise(DIALECT).tokenize(sql)
    return [
        Finding(token.line, "'::' casts fail in Athena: write CAST(x AS type)")
        for token in tokens
        if token.token_type == TokenType.DCOLON
    ]


def _table_function(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Func) and not isinstance(node, exp.Unnest) and isinstance(node.parent, exp.Table):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name().lower()
        return (
            f"{name}(...) reads outside the KPI tables and is no Athena table function: "
            "query the KPI table (model_kpis), or UNNEST an array"
        )
    return None


def _format_datetime(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "format_datetime":
        return (
            "format_datetime (Java patterns) is passed to DuckDB untranslated and fails: "
            "use date_format(ts, '%Y-%m-%d') (MySQL-style patterns, translated for DuckDB)"
        )
    return None


def _multi_array_unnest(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Unnest) and len(node.expressions) > 1:
        return (
            "UNNEST of several arrays is not translated for DuckDB: "
            "unnest one array per UNNEST, e.g. CROSS JOIN UNNEST(a) AS t(x)"
        )
    return None


def _unnest_of_rows(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Unnest) and len(node.expressions) == 1:
        array = node.expressions[0]
        if isinstance(array, exp.Array) and any(isinstance(item, exp.Struct) for item in array.expressions):
            return (
                "UNNEST(ARRAY[ROW(...)]) gives DuckDB one struct column instead of one column per field: "
                "use a VALUES list, e.g. (VALUES (1, 'a'), (2, 'b')) AS t(n, s)"
            )
    return None


def _integer_division(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Div) and _is_integer(node.this) and _is_integer(node.expression):
        return (
            f"integer division '{_unqualified(node)}': Athena truncates (7 / 2 = 3), DuckDB does not (3.5): "
            "write CAST(a AS DOUBLE) / b"
        )
    return None


def _date_diff_on_timestamps(node: exp.Expression) -> str | None:
    if isinstance(node, exp.DateDiff) and not (_is_date(node.this) and _is_date(node.expression)):
        return (
            "date_diff on timestamps: Athena counts whole units, DuckDB counts boundaries crossed: "
            "compare dates, date_diff('day', CAST(a AS DATE), CAST(b AS DATE)), or subtract to_unixtime(a) values"
        )
    return None


def _regexp_extract_without_nullif(node: exp.Expression) -> str | None:
    if isinstance(node, exp.RegexpExtract):
        parent = node.parent
        wrapped = (
            isinstance(parent, exp.Nullif)
            and isinstance(parent.expression, exp.Literal)
            and parent.expression.is_string
            and parent.expression.this == ""
        )
        if not wrapped:
            return (
                "regexp_extract without a match gives NULL in Athena but '' in DuckDB: "
                "write NULLIF(regexp_extract(...), '')"
            )
    return None


def _format_function(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Format):
        return (
            "format() takes Java patterns in Athena and other patterns in DuckDB: "
            "build the text with concat(...) or ||, e.g. 'run ' || CAST(x AS VARCHAR)"
        )
    return None


_RULES: tuple[Callable[[exp.Expression], str | None], ...] = (
    _table_function,
    _format_datetime,
    _multi_array_unnest,
    _unnest_of_rows,
    _integer_division,
    _date_diff_on_timestamps,
    _regexp_extract_without_nullif,
    _format_function,
)


def _is_integer(node: exp.Expression) -> bool:
    return node.type is not None and node.type.is_type(*exp.DataType.INTEGER_TYPES)


def _is_date(node: exp.Expression) -> bool:
    return node.type is not None and node.type.is_type(exp.DataType.Type.DATE)


def _line_of(node: exp.Expression) -> int:
    """The line of the node, else of its first positioned part, else of its nearest positioned parent."""
    for candidate in node.walk():
        if candidate.meta.get("line"):
            return candidate.meta["line"]
    parent = node.parent
    while parent is not None:
        if parent.meta.get("line"):
            return parent.meta["line"]
        parent = parent.parent
    return 1


def _unresolved_name(message: str) -> str:
    column = _UNKNOWN_COLUMN.search(message)
    if column:
        return f"unknown column '{column.group(1)}': use a column of the KPI schema (infra/kpi/model_kpis.json)"
    return f"{_LINE_IN_MESSAGE.split(message)[0].rstrip(' .,')}: check the name against the KPI schema"


def _unqualified(node: exp.Expression) -> str:
    return node.transform(lambda part: exp.column(part.name) if isinstance(part, exp.Column) else part).sql(DIALECT)


def _line_in_message(message: str) -> int:
    match = _LINE_IN_MESSAGE.search(message)
    return int(match.group(1)) if match else 1
