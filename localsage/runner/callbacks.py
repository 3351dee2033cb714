"""The callback tokens of Callback steps that wait, and their answers: how a SendPipelineExecutionStepSuccess or
-Failure request (served by the emulator's control plane, from any client) reaches the step that waits for it.

One file per token, `<state>/runner/callbacks/<token>.json`: written by the step when it sends its message,
then once more by the answer. The step reads it until it holds an answer. It survives restarts of either side.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from localsage.facts.state_files import write_atomically

TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 10  # SageMaker's CallbackToken: exactly 10 characters of [a-zA-Z0-9]
SUCCEEDED, FAILED = "Succeeded", "Failed"


@dataclass
class Callback:
    token: str
    execution_arn: str
    step_name: str
    queue_url: str
    created: float = field(default_factory=time.time)
    outcome: str | None = None  # Succeeded or Failed once answered
    outputs: dict[str, str] = field(default_factory=dict)
    failure: str | None = None


class CallbackStore:
    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, token: str) -> Path:
        return self.folder / f"{token}.json"

    def new(self, execution_arn: str, step_name: str, queue_url: str) -> Callback:
        callback = Callback(secrets_token(), execution_arn, step_name, queue_url)
        write_atomically(self._path(callback.token), json.dumps(asdict(callback), indent=2))
        return callback

    def find(self, token: str) -> Callback | None:
        if len(token) != TOKEN_LENGTH or any(character not in TOKEN_ALPHABET for character in token):
            return None
        try:
            return Callback(**json.loads(self._path(token).read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError):
            return None

    def answer(self, callback: Callback, outcome: str, outputs: dict[str, str], failure: str | None) -> None:
        callback.outcome, callback.outputs, callback.failure = outcome, outputs, failure
        write_atomically(self._path(callback.token), json.dumps(asdict(callback), indent=2))


def secrets_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))
