"""Readers the devops tests share: JSON with comments (devcontainer.json) and Dockerfile instructions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def strip_jsonc(text: str) -> str:
    """`text` without `//` and `/* */` comments and trailing commas; string contents are left untouched."""
    kept: list[str] = []  # single characters, or whole string literals
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char == '"':
            end = index + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            kept.append(text[index : end + 1])
            index = end + 1
            continue
        if text.startswith("//", index):
            newline = text.find("\n", index)
            index = length if newline < 0 else newline
            continue
        if text.startswith("/*", index):
            index = text.index("*/", index + 2) + 2
            continue
        if char in "}]":
            _drop_trailing_comma(kept)
        kept.append(char)
        index += 1
    return "".join(kept)


def _drop_trailing_comma(kept: list[str]) -> None:
    position = len(kept) - 1
    while position >= 0 and kept[position].isspace():
        position -= 1
    if position >= 0 and kept[position] == ",":
        del kept[position]


def load_jsonc(path: Path) -> dict:
    """A JSON-with-comments file (the devcontainer.json dialect) as a dict."""
    return json.loads(strip_jsonc(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: keyword upper-cased, arguments with line continuations joined."""

    keyword: str
    arguments: str


def dockerfile_instructions(path: Path) -> list[Instruction]:
    """The instructions of a Dockerfile (comments and blank lines skipped, `\\` continuations joined)."""
    instructions: list[Instruction] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        # Docker skips comment and blank lines, inside a continued instruction too.
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return instructions
