"""How the toolkit writes a state or output file: whole or not at all, also with two writers at once."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def replacing(path: Path, newline: str | None = None, mode: int | None = None) -> Iterator[TextIO]:
    """A text stream whose content replaces `path` in one step when the block ends without an error.

    A reader sees the old file or the new one, never half of one. Each writer uses a temporary file of its own
    beside `path`, so two writers of the same file both succeed (the last one wins) instead of one moving the
    other's temporary file away. `mode`: the new file's (default: the old file's, or a plain file's).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private: the mode is set before the file appears under its name.
        if mode is None:
            mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        os.chmod(temporary, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline=newline) as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step (see `replacing`)."""
    with replacing(path) as stream:
        stream.write(text)


def append_json_line(path: Path, record: dict) -> None:
    """Add `record` as one JSON line at the end of `path` (a ledger: readers take the complete lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(record) + "\n")
