"""Transform steps: the CreateTransformJob contract (batch transform).

The model (`ModelName`, as a Model step or CreateModel made it, or its model package) is served by its image's
`serve` on this machine, as SageMaker serves it: the model artefact unpacked into /opt/ml/model, the inference
code (`SAGEMAKER_SUBMIT_DIRECTORY`, downloaded when it is in S3) in /opt/ml/code. This step type is then what
SageMaker's batch platform is: it splits every input object into records, packs them into requests to
`/invocations`, joins and filters the answers (`transform_records`) and writes `<object>.out` under
`S3OutputPath`.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from localsage.adapters import loopback, s3io
from localsage.errors import UserError
from localsage.runner.backends.base import ContainerSpec
from localsage.runner.definition import Step
from localsage.runner.expressions import is_expression
from localsage.runner.steps import model_hosting as hosting
from localsage.runner.steps import transform_records as records
from localsage.runner.steps.base import StepContext, StepFailed
from localsage.runner.steps.container_job import ContainerJob

REQUEST_TIMEOUT_S = 600


def _processing_inputs(arguments: dict) -> list:
    """The values DataProcessing's checks read (filters, the join, the content types)."""
    processing = arguments.get("DataProcessing", {})
    return [
        *processing.values(),
        arguments.get("TransformInput", {}).get("ContentType"),
        arguments.get("TransformOutput", {}).get("Accept"),
    ]


class Transform(ContainerJob):
    type_name = "Transform"
    job_kind = "TransformJob"
    arn_resource = "transform-job"
    cache_key_attributes = ("DataProcessing", "Environment", "ModelName", "TransformInput")
    describe_operation = "DescribeTransformJob"
    create_operation = "CreateTransformJob"
    name_member = "TransformJobName"
    locally = "the model served by its image's `serve`; records split, batched, joined and filtered as in AWS"

    def check(self, step: Step) -> None:
        """What can be refused before the run; a value given by an expression is checked when the step runs."""
        arguments = step.arguments
        where = step.where
        transform_input = arguments.get("TransformInput", {})
        source = transform_input.get("DataSource", {}).get("S3DataSource", {})
        data_type = source.get("S3DataType", "S3Prefix")
        if not is_expression(data_type) and data_type != "S3Prefix":
            raise UserError(
                f"{where}TransformInput.DataSource.S3DataSource.S3DataType {data_type} is not supported locally: "
                "use S3Prefix"
            )
        split_type = transform_input.get("SplitType", "None")
        if not is_expression(split_type) and split_type not in records.SPLIT_TYPES:
            raise UserError(
                f"{where}TransformInput.SplitType {split_type} is not supported locally: use one of "
                f"{', '.join(records.SPLIT_TYPES)}"
            )
        compression = transform_input.get("CompressionType", "None")
        if not is_expression(compression) and compression not in ("None", "Gzip"):
            raise UserError(f"{where}TransformInput.CompressionType must be None or Gzip")
        if any(is_expression(value) for value in _processing_inputs(arguments)):
            return
        try:
            self._processing(arguments, where)
        except records.RecordError as exc:
            raise UserError(f"{where}{exc}") from None

    def input_uris(self, arguments: dict) -> list[str]:
        return [arguments["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]]

    def output_uris(self, properties: dict) -> list[str]:
        return [properties["TransformOutput"]["S3OutputPath"]]

    def written_uris(self, arguments: dict) -> list[str]:
        return [arguments["TransformOutput"]["S3OutputPath"]]

    def inputs(self, arguments: dict, context: StepContext) -> Iterator[tuple[str, Path, str]]:
        container = hosting.model_container(context.client("sagemaker"), arguments["ModelName"], context.step.where)
        context.found["container"] = container
        yield from hosting.downloads(container, context.work_dir)
        yield self.input_uris(arguments)[0], context.work_dir / "input", "the input data"

    def prepare(self, arguments: dict, context: StepContext) -> None:
        hosting.unpack(context.work_dir, context.opt_ml, context.step.where)

    def container(self, arguments: dict, context: StepContext) -> ContainerSpec:
        context.found["port"] = loopback.free_port()
        return hosting.serving_spec(
            context.found["container"],
            context.job_name(),
            context.opt_ml,
            context.logs,
            context.found["port"],
            int(arguments.get("MaxConcurrentTransforms") or 1),
            arguments.get("Environment"),
        )

    def execute(self, arguments: dict, context: StepContext) -> None:
        spec = self.container(arguments, context)
        input_folder = context.work_dir / "input"
        output_folder = context.work_dir / "output"
        shutil.rmtree(output_folder, ignore_errors=True)  # a retried execution's earlier attempt wrote there
        try:  # once per job: the filters compiled, the record formats checked (expressions now resolved)
            settings = self._processing(arguments, context.step.where)
        except records.RecordError as exc:
            raise StepFailed(f"{context.step.where}{exc}") from None
        with context.serving(spec, context.found["port"]) as url:
            for path in sorted(item for item in input_folder.rglob("*") if item.is_file()):
                relative = path.relative_to(input_folder).as_posix()
                try:
                    result = self._transform_object(arguments, settings, context, url, path.read_bytes())
                except records.RecordError as exc:
                    raise StepFailed(f"{context.step.where}input object {relative}: {exc}") from None
                target = output_folder / f"{relative}.out"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(result)

    def upload_outputs(self, arguments: dict, context: StepContext) -> None:
        output_folder = context.work_dir / "output"
        if output_folder.is_dir():
            s3io.upload_folder(context.client("s3"), output_folder, arguments["TransformOutput"]["S3OutputPath"])

    def properties(self, arguments: dict, context: StepContext) -> dict:
        job_name = context.job_name()
        return {
            "TransformJobName": job_name,
            "TransformJobArn": context.arn(self.arn_resource, job_name),
            "TransformJobStatus": "Completed",
            **{
                key: arguments[key]
                for key in (
                    "ModelName",
                    "MaxConcurrentTransforms",
                    "MaxPayloadInMB",
                    "BatchStrategy",
                    "Environment",
                    "TransformInput",
                    "TransformOutput",
                    "TransformResources",
                    "DataProcessing",
                )
                if key in arguments
            },
        }

    # ---- the batch platform ---------------------------------------------------------------------

    @staticmethod
    def _processing(arguments: dict, where: str) -> dict:
        """The DataProcessing settings, compiled and checked: filters, join, and the record formats they need."""
        processing = arguments.get("DataProcessing", {})
        transform_input = arguments.get("TransformInput", {})
        accept = arguments.get("TransformOutput", {}).get("Accept") or transform_input.get("ContentType")
        settings = {"input_filter": None, "output_filter": None, "join": processing.get("JoinSource") == "Input"}
        for key, field_name in (("input_filter", "InputFilter"), ("output_filter", "OutputFilter")):
            text = processing.get(field_name, "$")
            if text != "$":
                settings[key] = records.compile_path(text, f"DataProcessing.{field_name}")
        if settings["input_filter"] or settings["join"]:
            settings["input_format"] = records.format_of(
                transform_input.get("ContentType"), "TransformInput.ContentType"
            )
        if settings["output_filter"] or settings["join"]:
            settings["output_format"] = records.format_of(accept, "TransformOutput.Accept")
        return settings

    def _transform_object(self, arguments: dict, settings: dict, context: StepContext, url: str, data: bytes) -> bytes:
        transform_input = arguments["TransformInput"]
        output = arguments["TransformOutput"]
        split_type = transform_input.get("SplitType", "None")
        if transform_input.get("CompressionType") == "Gzip":
            data = gzip.decompress(data)
        originals = records.split(data, split_type)
        sent = originals
        if settings["input_filter"]:
            input_format = settings["input_format"]
            sent = [
                records.render(settings["input_filter"].select(records.parse(record, input_format)), input_format)
                for record in originals
            ]
        strategy = arguments.get("BatchStrategy", "MultiRecord")
        max_payload = arguments.get("MaxPayloadInMB", records.DEFAULT_MAX_PAYLOAD_MB)
        groups = records.batches(sent, strategy, max_payload, split_type)
        headers = {"Content-Type": transform_input.get("ContentType") or "application/octet-stream"}
        if output.get("Accept"):
            headers["Accept"] = output["Accept"]

        def invoke(group: list[int]) -> bytes:
            body = records.join_records([sent[index] for index in group], split_type)
            answer = loopback.http.post(f"{url}/invocations", data=body, headers=headers, timeout=REQUEST_TIMEOUT_S)
            if answer.status_code != 200:
                first_line = answer.text.strip().splitlines()[0] if answer.text.strip() else "no message"
                raise StepFailed(
                    f"{context.step.where}the model answered {answer.status_code} for records {group[0] + 1}-"
                    f"{group[-1] + 1}: {first_line}"
                )
            return answer.content

        pool = ThreadPoolExecutor(max(1, int(arguments.get("MaxConcurrentTransforms") or 1)))
        try:
            answers = list(pool.map(invoke, groups))
        finally:  # after a refused batch, the ones not sent yet are not sent
            pool.shutdown(wait=True, cancel_futures=True)
        line = output.get("AssembleWith", "None") == "Line"
        if not (settings["join"] or settings["output_filter"]):
            return b"".join(answer if not line or answer.endswith(b"\n") else answer + b"\n" for answer in answers)
        output_format = settings["output_format"]
        results = []
        for group, answer in zip(groups, answers, strict=True):
            for index, result in zip(group, records.answer_records(answer, len(group), output_format), strict=True):
                value = (
                    records.joined(originals[index], result, settings["input_format"], output_format)
                    if settings["join"]
                    else records.parse(result, output_format)
                )
                if settings["output_filter"]:
                    value = settings["output_filter"].select(value)
                results.append(records.render(value, output_format))
        return b"\n".join(results) + b"\n" if line else b"".join(results)
