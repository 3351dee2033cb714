"""Run one invocation of a Python Lambda function: `python lambda_runtime.py HANDLER EVENT_FILE RESULT_FILE`.

Started in the function's unpacked code folder (its working directory, first on sys.path, as Lambda's
/var/task is), with the function's environment variables. Calls `module.function(event, context)` once and
writes `{"result": ...}`, or Lambda's error shape `{"errorType", "errorMessage"}` (exit code 1), to RESULT_FILE.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from pathlib import Path


class LambdaContext:
    """The `context` argument of a handler, with the attributes Lambda's Python runtime gives it."""

    def __init__(self, environment: dict, deadline: float):
        self.function_name = environment.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = environment.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = environment.get("LOCALSAGE_FUNCTION_ARN", "")
        self.memory_limit_in_mb = environment.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = environment.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = environment.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def invoke(handler: str, event: object, environment: dict) -> object:
    module_name, _, function_name = handler.rpartition(".")
    module_name = module_name.replace("/", ".")  # `src/app.handler`: a module in a folder of the package
    if not module_name:
        raise ValueError(f"handler {handler!r} must be <module>.<function>")
    module = importlib.import_module(module_name)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise AttributeError(f"module {module_name} has no function {function_name} (handler {handler})")
    deadline = time.time() + float(environment.get("LOCALSAGE_FUNCTION_TIMEOUT", "3"))
    return function(event, LambdaContext(environment, deadline))


def main(argv: list[str]) -> int:
    handler, event_file, result_file = argv[1:4]
    sys.path.insert(0, os.getcwd())
    try:
        result = invoke(handler, json.loads(Path(event_file).read_text(encoding="utf-8")), dict(os.environ))
        Path(result_file).write_text(json.dumps({"result": result}), encoding="utf-8")
        return 0
    except Exception as exc:  # noqa: BLE001 - every error of the function is its invocation's answer
        traceback.print_exc()
        error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        Path(result_file).write_text(json.dumps(error), encoding="utf-8")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
