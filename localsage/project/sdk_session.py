"""The SageMaker SDK session the toolkit builds definitions with (imports the SDK: load it only to build).

A `PipelineSession` (the SDK's own class for building pipelines) with:
- telemetry off through the SDK's config (its only switch; telemetry goes to a fixed AWS host);
- every upload in the artefact bucket under a content-addressed prefix (`localsage.project.uploads`), through
  the public `upload_data` method the SDK routes code and local inputs through, and whose returned URI the
  definition holds. Uploads ignore a staging bucket the SDK may pick from the caller's IAM permissions, so
  a definition never depends on who builds it.
"""

from __future__ import annotations

from pathlib import Path

from sagemaker.core.workflow.pipeline_context import PipelineSession

from localsage.project.uploads import Upload, content_addressed_prefix, content_digest, project_source, uploaded_uri

TELEMETRY_OPT_OUT = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


class ContentAddressedSession(PipelineSession):
    """A PipelineSession that records and content-addresses what it uploads (see the module docstring)."""

    def __init__(self, *, boto_session, bucket: str, root: Path, dry_run: bool = False):
        """`dry_run`: nothing is uploaded or created; the definition holds the URIs the uploads would have."""
        super().__init__(boto_session=boto_session, default_bucket=bucket, sagemaker_config=TELEMETRY_OPT_OUT)
        self.project_root = root
        self.bucket = bucket
        self.dry_run = dry_run
        self.uploads: list[Upload] = []

    def default_bucket(self):
        # The SDK's own creates the bucket when it is missing; a dry run only names it.
        return self.bucket if self.dry_run else super().default_bucket()

    def upload_data(self, path, bucket=None, key_prefix="data", callback=None, extra_args=None):
        local = Path(path)
        key_prefix_used = content_addressed_prefix(key_prefix, content_digest(local))
        if self.dry_run:
            uri = uploaded_uri(self.bucket, key_prefix_used, local)
        else:
            uri = super().upload_data(
                str(local),
                bucket=self.default_bucket(),
                key_prefix=key_prefix_used,
                callback=callback,
                extra_args=extra_args,
            )
        self.uploads.append(Upload(uri, key_prefix, project_source(local, self.project_root)))
        return uri
