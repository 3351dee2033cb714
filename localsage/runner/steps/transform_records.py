"""What SageMaker's batch transform platform does with the data around the model container.

An input object is split into records (`SplitType`), the records are filtered (`DataProcessing.InputFilter`) and
packed into requests (`BatchStrategy`, `MaxPayloadInMB`); each answer is split back into one output per record,
joined with its input (`JoinSource`), filtered (`OutputFilter`) and assembled (`AssembleWith`) into
`<object>.out`. The filters are the JSONPath subset SageMaker documents ("Supported JSONPath operators"): `$`,
`.name`, `*`, `['a','b']`, `[0,2]`, `[1:]` / `[:-1]`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

MEGABYTE = 1024 * 1024
DEFAULT_MAX_PAYLOAD_MB = 6
RECORDIO_MAGIC = 0xCED7230A
SPLIT_TYPES = ("None", "Line", "RecordIO")
JOINED_OUTPUT_KEY = "SageMakerOutput"


class RecordError(Exception):
    """The data cannot be handled as the job's settings say (one line, naming the object or record)."""


# ---- splitting and packing -----------------------------------------------------------------------


def split(data: bytes, split_type: str) -> list[bytes]:
    """The records of one input object."""
    if split_type == "None":
        return [data]
    if split_type == "Line":
        return [line for line in data.splitlines() if line.strip()]
    if split_type == "RecordIO":
        return list(_recordio_records(data))
    raise RecordError(f"SplitType {split_type} is not supported locally: use one of {', '.join(SPLIT_TYPES)}")


def _recordio_records(data: bytes) -> Iterator[bytes]:
    offset = 0
    while offset < len(data):
        if offset + 8 > len(data):
            raise RecordError(f"RecordIO data ends inside a record header at byte {offset}")
        magic, header = struct.unpack_from("<II", data, offset)
        if magic != RECORDIO_MAGIC:
            raise RecordError(f"RecordIO data has no record magic number at byte {offset}: is it RecordIO?")
        if header >> 29:
            raise RecordError(f"RecordIO record at byte {offset} is split across parts, which is not supported locally")
        length = header & ((1 << 29) - 1)
        start = offset + 8
        yield data[start : start + length]
        offset = start + length + (-length % 4)


def _recordio(record: bytes) -> bytes:
    return struct.pack("<II", RECORDIO_MAGIC, len(record)) + record + b"\0" * (-len(record) % 4)


def join_records(records: list[bytes], split_type: str) -> bytes:
    """One request body holding several records, in the form the split produced them."""
    if split_type == "RecordIO":
        return b"".join(_recordio(record) for record in records)
    return b"\n".join(records) + (b"\n" if split_type == "Line" else b"")


def batches(records: list[bytes], strategy: str, max_payload_mb: int, split_type: str) -> list[list[int]]:
    """The records' indexes, grouped into requests: one record each (SingleRecord) or as many as fit in
    `max_payload_mb` (MultiRecord); a record larger than the limit is refused."""
    limit = max_payload_mb * MEGABYTE
    groups: list[list[int]] = []
    size = 0
    for index, record in enumerate(records):
        record_size = len(record) + (8 if split_type == "RecordIO" else 1)
        if max_payload_mb and record_size > limit:
            raise RecordError(f"record {index + 1} is {record_size} bytes, more than MaxPayloadInMB {max_payload_mb}")
        if strategy == "SingleRecord" or not groups or (max_payload_mb and size + record_size > limit):
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += record_size
    return groups


# ---- record formats -------------------------------------------------------------------------------


def format_of(content_type: str | None, field: str) -> str:
    """`csv` or `json`: the record formats DataProcessing works on."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.endswith("csv"):
        return "csv"
    if "json" in kind:
        return "json"
    raise RecordError(f"{field} {content_type!r}: DataProcessing filters and joins need text/csv or application/json")


def parse(record: bytes, record_format: str) -> object:
    text = record.decode("utf-8").strip()
    if record_format == "csv":
        return next(csv.reader([text]), [])
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RecordError(f"record {text[:40]!r} is not JSON ({exc})") from None


def render(value: object, record_format: str) -> bytes:
    if record_format == "json":
        return json.dumps(value, separators=(",", ":")).encode("utf-8")
    values = value if isinstance(value, list) else [value]
    stream = io.StringIO()
    csv.writer(stream, lineterminator="").writerow(values)
    return stream.getvalue().encode("utf-8")


def answer_records(answer: bytes, count: int, record_format: str) -> list[bytes]:
    """One output per input record from a request's answer: the whole answer for one record, else its lines or
    the items of a JSON array."""
    if count == 1:
        return [answer.strip()]
    if record_format == "json":
        try:
            whole = json.loads(answer)
        except ValueError:
            whole = None
        if isinstance(whole, list) and len(whole) == count:
            return [json.dumps(item, separators=(",", ":")).encode("utf-8") for item in whole]
    lines = [line for line in answer.splitlines() if line.strip()]
    if len(lines) != count:
        raise RecordError(
            f"the model answered {len(lines)} record(s) for {count} input record(s): with JoinSource or OutputFilter "
            "every input record needs exactly one output record"
        )
    return lines


def joined(input_record: bytes, output_record: bytes, input_format: str, output_format: str) -> object:
    """JoinSource=Input: the output appended to its input (CSV columns, or `SageMakerOutput` of a JSON object)."""
    source = parse(input_record, input_format)
    result = parse(output_record, output_format)
    if input_format == "csv":
        return [*source, *(result if isinstance(result, list) else [result])]
    if isinstance(source, dict):
        return {**source, JOINED_OUTPUT_KEY: result}
    if isinstance(source, list):
        return [*source, result]
    raise RecordError(f"JoinSource Input needs JSON objects or arrays as input records, not {type(source).__name__}")


# ---- JSONPath filters -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z_][\w-]*)|\.\*|\[\*\]
    |\[(?P<names>\s*'[^']*'\s*(?:,\s*'[^']*'\s*)*)\]
    |\[(?P<slice>\s*-?\d*\s*:\s*-?\d*\s*)\]
    |\[(?P<indexes>\s*-?\d+\s*(?:,\s*-?\d+\s*)*)\]""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class JsonPath:
    """A compiled filter; `select(value)` applies it to one record."""

    text: str
    steps: tuple[tuple[str, object], ...]

    def select(self, value: object) -> object:
        for kind, argument in self.steps:
            value = _apply(value, kind, argument, self.text)
        return value


def compile_path(text: str, field: str) -> JsonPath:
    """A filter expression, or RecordError naming the field and what SageMaker accepts."""
    if not text.startswith("$"):
        raise RecordError(f"{field} {text!r} must start with $ (e.g. $[1:], $.features, $['id','SageMakerOutput'])")
    steps = []
    position = 1
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise RecordError(
                f"{field} {text!r}: unsupported JSONPath at {text[position:]!r}; SageMaker supports $, .name, *, "
                "['a','b'], [0,2] and [start:end]"
            )
        if match.group("name"):
            steps.append(("names", (match.group("name"),)))
        elif match.group("names"):
            steps.append(("names", tuple(re.findall(r"'([^']*)'", match.group("names")))))
        elif match.group("slice") is not None:
            start, end = (part.strip() for part in match.group("slice").split(":"))
            steps.append(("slice", (int(start) if start else None, int(end) if end else None)))
        elif match.group("indexes"):
            steps.append(("indexes", tuple(int(part) for part in match.group("indexes").split(","))))
        else:
            steps.append(("all", None))
        position = match.end()
    return JsonPath(text, tuple(steps))


def _apply(value: object, kind: str, argument, text: str) -> object:
    if kind == "all":
        return list(value.values()) if isinstance(value, dict) else value
    if kind == "names":
        if not isinstance(value, dict):
            raise RecordError(f"filter {text}: names select from JSON objects, the record is {type(value).__name__}")
        missing = [name for name in argument if name not in value]
        if missing:
            raise RecordError(f"filter {text}: the record has no {missing[0]!r} (it has {', '.join(value)})")
        return value[argument[0]] if len(argument) == 1 else {name: value[name] for name in argument}
    if not isinstance(value, list):
        raise RecordError(f"filter {text}: indexes select from arrays or CSV records, not {type(value).__name__}")
    if kind == "slice":
        return value[argument[0] : argument[1]]
    try:
        picked = [value[index] for index in argument]
    except IndexError:
        raise RecordError(f"filter {text}: the record has only {len(value)} field(s)") from None
    return picked[0] if len(picked) == 1 else picked
