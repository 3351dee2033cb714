"""Lambda steps: the function deployed in the emulator's Lambda runs once, in a fresh process on this machine.

As SageMaker does, the step invokes `FunctionArn` with its resolved `Arguments` as the event and reads its
`OutputParameters` from the returned object. The function is fetched through the Lambda API (GetFunction and
its code location, as any client would), unpacked, and run by `serving/lambda_runtime.py` with the function's
environment variables, its role's credentials when the emulator has that role, and its timeout. Only zip
packages of Python runtimes run; an image function or another runtime fails before anything runs.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from botocore.exceptions import ClientError

from localsage.adapters import loopback, roles, s3io
from localsage.errors import UserError
from localsage.facts.endpoints import is_loopback_url
from localsage.runner.definition import Step
from localsage.runner.records import StepRecord
from localsage.runner.steps import output_parameters
from localsage.runner.steps.base import ExecutionStopped, StepContext, StepFailed, StepResult, StepType
from localsage.serving import lambda_runtime

DEFAULT_TIMEOUT_S = 3  # Lambda's own default


class LambdaFunction(StepType):
    type_name = "Lambda"
    extra_properties = frozenset({"OutputParameters"})
    locally = "the emulator's Python function, once, in a fresh process (zip packages, python3.x runtimes)"

    def check(self, step: Step) -> None:
        arn = step.raw.get("FunctionArn")
        if not isinstance(arn, str) or not arn:
            raise UserError(f"{step.where}FunctionArn is missing: a Lambda step names the function it invokes")
        output_parameters.declared(step)

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        step = context.step
        arn = step.raw["FunctionArn"]
        configuration, code = self._function(arn, context)
        folder = context.work_dir / "function"
        try:
            with zipfile.ZipFile(io.BytesIO(code)) as package:
                for member in package.namelist():
                    s3io.inside(folder, member.rstrip("/") or ".", f"{step.where}function {arn}")
                package.extractall(folder)
        except zipfile.BadZipFile:
            raise StepFailed(f"{step.where}the code of function {arn} is not a zip package") from None
        answer = self._invoke(configuration, arguments, folder, context)
        if "result" not in answer:
            raise StepFailed(f"{step.where}function {arn} failed: {answer['errorType']}: {answer['errorMessage']}")
        result = answer["result"]
        if not isinstance(result, dict):
            raise StepFailed(f"{step.where}function {arn} returned {type(result).__name__}, not an object of outputs")
        try:
            outputs = output_parameters.typed(step, result, f"the answer of function {arn}")
        except ValueError as exc:
            raise StepFailed(f"{step.where}{exc}") from None
        return StepResult({"OutputParameters": outputs, "FunctionArn": arn})

    def metadata(self, step: StepRecord) -> dict:
        properties = step.properties or {}
        if "FunctionArn" not in properties:
            return {}
        outputs = [{"Name": name, "Value": str(value)} for name, value in properties["OutputParameters"].items()]
        return {"Lambda": {"Arn": properties["FunctionArn"], "OutputParameters": outputs}}

    @staticmethod
    def _function(arn: str, context: StepContext) -> tuple[dict, bytes]:
        """The function's configuration and zip package, through the Lambda API."""
        where = context.step.where
        try:
            function = context.client("lambda").get_function(FunctionName=arn)
        except ClientError as exc:
            raise UserError(
                f"{where}function {arn} is not in the emulator's Lambda ({exc.response['Error']['Code']}): create it "
                "first (aws lambda create-function --zip-file ..., against the emulator)"
            ) from None
        configuration = function["Configuration"]
        runtime = configuration.get("Runtime", "")
        if configuration.get("PackageType", "Zip") != "Zip" or not runtime.startswith("python3"):
            kind = "an image function" if configuration.get("PackageType") == "Image" else f"runtime {runtime}"
            raise UserError(f"{where}function {arn} is {kind}: only zip packages of python3.x runtimes run locally")
        location = function.get("Code", {}).get("Location", "")
        if not is_loopback_url(location):
            raise UserError(f"{where}function {arn}: its code location {location!r} is not on the local emulator")
        answer = loopback.http.get(location, timeout=60)
        answer.raise_for_status()
        return configuration, answer.content

    @staticmethod
    def _invoke(configuration: dict, event: dict, folder: Path, context: StepContext) -> dict:
        """One invocation in a fresh process; Lambda's answer shape ({"result"} or {"errorType", "errorMessage"})."""
        where = context.step.where
        role = roles.assume(context.target, configuration.get("Role"), context.say)
        timeout = float(configuration.get("Timeout") or DEFAULT_TIMEOUT_S)
        event_file, result_file = context.work_dir / "event.json", context.work_dir / "result.json"
        event_file.write_text(json.dumps(event), encoding="utf-8")
        result_file.unlink(missing_ok=True)  # an earlier attempt's answer is not this one's
        context.logs.mkdir(parents=True, exist_ok=True)
        environment = {
            **os.environ,
            **(role.environment() if role else {}),
            **configuration.get("Environment", {}).get("Variables", {}),
            "AWS_LAMBDA_FUNCTION_NAME": configuration["FunctionName"],
            "AWS_LAMBDA_FUNCTION_VERSION": configuration.get("Version", "$LATEST"),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(configuration.get("MemorySize", 128)),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{configuration['FunctionName']}",
            "LOCALSAGE_FUNCTION_ARN": configuration["FunctionArn"],
            "LOCALSAGE_FUNCTION_TIMEOUT": str(timeout),
        }
        command = [sys.executable, lambda_runtime.__file__, configuration["Handler"], str(event_file), str(result_file)]
        with open(context.logs / "output.log", "wb") as log:
            process = subprocess.Popen(
                command, cwd=folder, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while process.poll() is None:
            if context.stopping.is_set() or time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                if context.stopping.is_set():
                    raise ExecutionStopped()
                raise StepFailed(
                    f"{where}function {configuration['FunctionArn']}: Task timed out after {timeout:g} seconds"
                )
            time.sleep(0.02)
        if not result_file.is_file():
            tail = (context.logs / "output.log").read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
            raise StepFailed(f"{where}the function's process ended with code {process.returncode}", tail=tail)
        return json.loads(result_file.read_text(encoding="utf-8"))
