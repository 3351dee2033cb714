"""Step caching, as SageMaker's CacheConfig: reuse an earlier successful run of the same step with the same inputs.

The key covers the attributes SageMaker documents as its cache key for the step type (e.g. a Processing
step's AppSpecification, Environment and ProcessingInputs: an instance type change does not rerun a step),
with parameters and upstream properties resolved, execution variables left symbolic (they change on every
run), and every S3 input replaced by a digest of its *content*, so code or data uploaded again under a new
prefix still hits, and a changed script or data set misses.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from localsage.adapters import s3io
from localsage.facts.state_files import write_atomically

_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_SECONDS = {
    "years": 365 * 86400,
    "months": 30 * 86400,
    "weeks": 7 * 86400,
    "days": 86400,
    "hours": 3600,
    "minutes": 60,
    "seconds": 1,
}


def duration_seconds(text: str | None) -> float | None:
    """An ISO-8601 duration (`P30D`, `PT1H`) in seconds; None means no expiry."""
    if not text:
        return None
    match = _DURATION.match(text)
    if not match or not any(match.groupdict().values()):
        return None
    return float(sum(int(value) * _SECONDS[name] for name, value in match.groupdict().items() if value))


@dataclass
class CacheEntry:
    key: str
    step: str
    execution_id: str
    created: float
    properties: dict
    outputs: dict[str, str] = field(default_factory=dict)  # output URI -> content digest when stored


def cache_key(step_type: str, attributes: tuple[str, ...], arguments: dict, input_uris: list[str], s3) -> str:
    """The cache key of a step: its key `attributes` (all arguments when empty), each S3 input's URI replaced by
    its content digest."""
    if attributes:
        arguments = {name: arguments[name] for name in attributes if name in arguments}
    digests = {uri: s3io.content_digest(s3, uri) for uri in input_uris}

    def content_addressed(value: object) -> object:
        if isinstance(value, dict):
            return {key: content_addressed(item) for key, item in value.items()}
        if isinstance(value, list):
            return [content_addressed(item) for item in value]
        if isinstance(value, str):
            unquoted = value.strip('"')
            if unquoted in digests:
                return f"content:{digests[unquoted]}"
        return value

    document = json.dumps({"type": step_type, "arguments": content_addressed(arguments)}, sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()


class StepCache:
    """Cache entries under `<state>/runner/cache/<pipeline>/<step>/<key>.json`."""

    def __init__(self, folder: Path, pipeline_name: str):
        self.folder = folder / pipeline_name

    def lookup(self, step: str, key: str, expire_after: str | None) -> CacheEntry | None:
        path = self.folder / step / f"{key}.json"
        try:
            entry = CacheEntry(**json.loads(path.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError, TypeError):
            return None
        lifetime = duration_seconds(expire_after)
        if lifetime is not None and time.time() - entry.created > lifetime:
            return None
        return entry

    def store(self, entry: CacheEntry) -> None:
        write_atomically(self.folder / entry.step / f"{entry.key}.json", json.dumps(asdict(entry), indent=2))
