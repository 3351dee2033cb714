"""The emulator's memory: every request that changes moto's state, appended to `recording.jsonl` with the time it
was served, and replayed in-process into a fresh moto at start-up with the clock set to that time, so what was
created keeps its creation time (model package versions, log events, objects).

Reads (GET and HEAD, and Describe/List/Get operations) are not recorded: they change nothing. The control
plane's own operations are not recorded either: their state lives in the runner's records, which survive on
their own. A line cut short by a crash is dropped.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

_READ_OPERATION = re.compile(r"^(Describe|List|Get|Search|Head|Batch(Get|Describe))[A-Z]")
_QUERY_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z]+)")


def is_read(method: str, target: str | None, body: bytes) -> bool:
    """A request that changes nothing (what is not recorded)."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return True
    operation = (target or "").rpartition(".")[2]
    if not operation:
        action = _QUERY_ACTION.search(body)
        operation = action.group(1).decode() if action else ""
    return bool(_READ_OPERATION.match(operation))


def buffered_body(environ: dict) -> bytes:
    """The request's whole body (chunked transfers included), put back so the application reads it as sent."""
    body = Request(environ).get_data(cache=True)
    environ["wsgi.input"] = BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
    return body


class Recorder:
    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()

    def record(self, environ: dict, body: bytes) -> None:
        headers = {
            key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        entry = {
            "time": time.time(),
            "method": environ["REQUEST_METHOD"],
            "uri": environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/"),
            "headers": headers,
            "body": base64.b64encode(body).decode(),
        }
        line = json.dumps(entry) + "\n"
        with self.lock, open(self.path, "a", encoding="utf-8") as stream:
            stream.write(line)
            stream.flush()

    def entries(self) -> Iterator[dict]:
        """The recorded requests in order; a torn last line (a crash while writing) is cut off the file."""
        if not self.path.exists():
            return
        content = self.path.read_bytes()
        if content and not content.endswith(b"\n"):
            content = content[: content.rfind(b"\n") + 1]
            self.path.write_bytes(content)
        for line in content.splitlines():
            if line.strip():
                yield _normalised(json.loads(line))

    def reset(self) -> None:
        with self.lock:
            self.path.write_text("", encoding="utf-8")


def replay(recorder: Recorder, application: Callable, say: Callable[[str], None]) -> int:
    """Serve every recorded request again to `application`, each at its recorded time; the count."""
    from freezegun import freeze_time

    entries = list(recorder.entries())
    if not entries:
        return 0
    say(f"restoring state ({len(entries)} recorded requests)")
    _resolve_real_datetime_in_cryptography()
    with freeze_time(datetime.fromtimestamp(entries[0]["time"] or time.time(), UTC)) as clock:
        for entry in entries:
            if entry["time"]:
                clock.move_to(datetime.fromtimestamp(entry["time"], UTC))
            _serve(application, entry)
    return len(entries)


def _resolve_real_datetime_in_cryptography() -> None:
    """cryptography's Rust code looks `datetime.datetime` up once, on first use, and keeps it. Looked up under the
    frozen clock it would be freezegun's class for good, and every certificate moto signs after the replay (each
    SNS delivery to an SQS queue) would fail. Signing one small certificate first settles it on the real class."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localsage")])
    now = datetime.now(UTC)
    (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now)
        .sign(key, hashes.SHA256())
    )


def _serve(application: Callable, entry: dict) -> None:
    path, _, query = entry["uri"].partition("?")
    builder = EnvironBuilder(
        path=path, query_string=query, method=entry["method"], headers=entry["headers"], data=entry["body"]
    )
    environ = builder.get_environ()
    environ["RAW_URI"] = environ["REQUEST_URI"] = entry["uri"]
    for _ in application(environ, lambda status, headers, exc_info=None: None):
        pass


def _normalised(entry: dict) -> dict:
    """A recorded line in the current form (also moto's own recorder format, which older versions wrote)."""
    if "uri" in entry:
        return {**entry, "body": base64.b64decode(entry["body"])}
    url = urlsplit(entry["url"])
    body = entry.get("body") or ""
    body = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
    headers = {k: v for k, v in entry.get("headers", {}).items() if k.lower() != "transfer-encoding"}
    return {
        "time": None,
        "method": entry["method"],
        "uri": url.path + (f"?{url.query}" if url.query else ""),
        "headers": headers,
        "body": body,
    }
