"""Policy documents with one action taken out: how the permission tests prove a needed action is needed."""

from __future__ import annotations

import json


def without_action(documents: dict[str, dict], action: str) -> dict[str, dict]:
    """A copy of the policy documents (by name) with `action` removed from every statement; a statement left with
    no action goes. The copy must differ: a test of an action nobody grants would prove nothing."""
    changed = json.loads(json.dumps(documents))
    for document in changed.values():
        for statement in document["Statement"]:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            statement["Action"] = [name for name in actions if name != action]
        document["Statement"] = [statement for statement in document["Statement"] if statement["Action"]]
    assert changed != documents, f"no statement grants {action}"
    return changed
