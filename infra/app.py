"""The CDK app: every stack of the project, named from project.toml through localsage.facts.config.

Run by `./dev synth` / `./dev deploy` (or `cdk synth` in infra/). Plain `python app.py` ignores cdk.json,
so its context (the feature flags, and the project's settings) is loaded here; CDK_CONTEXT_JSON
(what `cdk -c` and `./dev synth --context` set) overrides it. The assembly goes to infra/cdk.out
unless CDK_OUTDIR says otherwise. A mistake in the context stops synth with one line on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

INFRA = Path(__file__).resolve().parent
if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

from localsage.errors import UserError  # noqa: E402
from localsage.facts import cdk_context as infra_settings  # noqa: E402
from localsage.facts import config as project_config  # noqa: E402
from localsage.facts.cdk_context import NOTE_PREFIX  # noqa: E402


def build(root: Path | None = None, context: dict | None = None, outdir: str | None = None):
    """Every stack of the project (not yet synthesized): `stacks.application.BuiltApp`.

    project.toml and the context (cdk.json's, then `context`, then CDK_CONTEXT_JSON, as the CDK merges them) are
    read and checked before the CDK loads, so a mistake costs no jsii start-up; the build gets them as read.
    """
    root = root or project_config.project_root(INFRA)
    config = project_config.load(root)
    app_context = {**infra_settings.cdk_json_context(INFRA.parent), **(context or {})}
    merged = {**app_context, **json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")}
    infra_settings.check_keys(merged)
    chosen = infra_settings.from_context(merged.get)
    from stacks.application import build as build_application

    return build_application(root, INFRA, config, chosen, app_context, outdir)


def main() -> int:
    try:
        built = build()
        for note in built.notes:
            print(NOTE_PREFIX + note, file=sys.stderr)
        built.app.synth()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
