"""Content-addressed code uploads: what the SDK uploads while it builds a definition lands under a prefix named
after the content, so the definition changes exactly when the uploaded content does, on any machine.

The SDK names upload prefixes after a build timestamp (training code) or a hash that mixes in the absolute
local path (processing code), so two builds of the same commit would differ. The toolkit's session rewrites
the SDK's key prefix (`content_addressed_prefix`) before uploading; the layouts below are SDK 3.27's:

- processing code      `<pipeline>/code/<sha256 of path and content>`  -> `<pipeline>/code/<hash16>`
- training channels    `<root>/<base job>-<yyyymmddHHMMSS>/input/<ch>` -> `<root>/<base job>-<hash12>/input/<ch>`
- local step inputs    `<pipeline>/<step>/input/<input name>`          -> `<pipeline>/<input name>/<hash16>`

Any other prefix is left as the SDK chose it (tests/project/test_build.py proves the project's definition is
deterministic, so a new SDK layout shows up there).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from localsage.project.layout import ML_DIR, files_under

# The SDK's training drivers record the source folder's absolute path here; the container never reads it.
SOURCE_CODE_JSON = "sourcecode.json"
_LAYOUTS = (
    (re.compile(r"^(?P<head>.+/code)/[0-9a-f]{64}$"), "{head}/{hash16}"),
    (re.compile(r"^(?P<head>.+/[^/]+)-\d{14}(?P<tail>/input/[^/]+)$"), "{head}-{hash12}{tail}"),
    (re.compile(r"^(?P<pipeline>[^/]+)/[^/]+/input/(?P<name>[^/]+)$"), "{pipeline}/{name}/{hash16}"),
)


@dataclass(frozen=True)
class Upload:
    """One upload the SDK made during a build: the URI the definition holds, the SDK's own key prefix, and
    the project path it came from (relative to the root; None for files the SDK generated itself)."""

    uri: str
    sdk_key_prefix: str
    source: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def content_addressed_prefix(sdk_key_prefix: str, digest: str) -> str:
    """The key prefix for content with `digest` (hex) in place of the SDK's prefix (unknown layouts: unchanged)."""
    for pattern, template in _LAYOUTS:
        match = pattern.match(sdk_key_prefix)
        if match:
            return template.format(**match.groupdict(), hash16=digest[:16], hash12=digest[:12])
    return sdk_key_prefix


def content_digest(path: Path) -> str:
    """SHA-256 over the relative names and contents of a file, or of every file in a folder (ignored names
    and compiled files left out), independent of where the content lives."""
    base = path.parent if path.is_file() else path
    files = [path] if path.is_file() else files_under(path)
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(base).as_posix().encode() + b"\0" + _hashed_bytes(file) + b"\0")
    return digest.hexdigest()


def _hashed_bytes(file: Path) -> bytes:
    content = file.read_bytes()
    if file.name != SOURCE_CODE_JSON:
        return content
    try:
        settings = json.loads(content)
    except ValueError:
        return content
    if isinstance(settings, dict):
        settings.pop("source_dir", None)
    return json.dumps(settings, sort_keys=True).encode()


def uploaded_uri(bucket: str, key_prefix: str, path: Path) -> str:
    """The URI `Session.upload_data` returns: the prefix for a folder, `<prefix>/<name>` for a file."""
    return f"s3://{bucket}/{key_prefix}" + (f"/{path.name}" if path.is_file() else "")


def project_source(path: Path, root: Path) -> str | None:
    """The project path an upload came from. The SDK uploads a training source folder from a temporary copy
    of the same name: the folder of ml/ with that name and the same content is the source."""
    path = path.resolve()
    root = root.resolve()
    if path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    if path.is_dir():
        wanted = content_digest(path)
        for candidate in sorted((root / ML_DIR).rglob(path.name)):
            if candidate.is_dir() and content_digest(candidate) == wanted:
                return candidate.relative_to(root).as_posix()
    return None
