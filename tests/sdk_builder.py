"""A test helper process: imports what the SDK build scripts (tests/runner/data/build_*.py) import, once, then
runs each script it is asked for in a fork of itself, as `python script.py ARGS` would run it.

Importing the SageMaker SDK costs 6-8 s per process; the session's ten SDK-built definitions paid it ten times.
The parent only imports, so no build sees what another did (each runs in its own child, then exits).

Protocol, one JSON line each way: {"script", "arguments", "cwd", "environment", "stdout", "stderr", "timeout_s"} in,
{"returncode"} out. The process ends when its standard input closes (the test session ended).
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import runpy
import signal
import sys
import traceback
from pathlib import Path

DATA = Path(__file__).resolve().parent / "runner" / "data"


def imported_modules(folder: Path) -> list[str]:
    """Every module the build scripts import at their top level."""
    names: list[str] = []
    for script in sorted(folder.glob("build_*.py")):
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)
    return sorted(set(names))


def run_in_child(request: dict) -> int:
    """Fork, run the script as __main__ in the child with its own folder, environment, argv and output files."""
    child = os.fork()
    if child == 0:
        code = 1
        try:
            # A hung build ends itself (SIGALRM) before the test's own deadline kills the builder.
            signal.alarm(request["timeout_s"])
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["environment"])
            with open(request["stdout"], "w") as out, open(request["stderr"], "w") as err:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
            sys.argv = [request["script"], *request["arguments"]]
            runpy.run_path(request["script"], run_name="__main__")
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


def main() -> None:
    for name in imported_modules(DATA):
        importlib.import_module(name)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps({"returncode": run_in_child(json.loads(line))}), flush=True)


if __name__ == "__main__":
    main()
