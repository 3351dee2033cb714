"""A variant's pipeline definition for the emulator, as cheaply as is exact.

Building with the SageMaker SDK costs seconds, so the last build of each variant is kept (with the digests of
every file it depends on, and the uploads it made) and reused while nothing changed and its uploads are still
in the emulator. When the only changes are inside uploaded sources (a step script), those sources are
uploaded again under their new content-addressed prefixes and the definition's URIs replaced: exactly what a
full build gives (tests/project/test_definitions.py proves it), without the SDK.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import time
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import ClientError

from localsage.adapters import s3io
from localsage.facts.config import check_variant, local_dir
from localsage.facts.state_files import write_atomically
from localsage.project import build, layout
from localsage.project.uploads import Upload, content_addressed_prefix, content_digest, uploaded_uri

# The toolkit modules whose code shapes a built definition (upload layout, arguments).
BUILD_MODULES = ("build.py", "contract.py", "sdk_session.py", "uploads.py", "layout.py")


def definition_cache_file(state_dir: Path, pipeline_name: str) -> Path:
    """Where (in a project's state folder) the last definition built for a pipeline is kept, with its inputs."""
    return state_dir / "project" / "definitions" / f"{pipeline_name}.json"


def project_definition(target, variant: str, say: Callable[[str], None] = print) -> dict:
    """The definition of ml/pipeline.py for `variant` on the local target: cached, refreshed, or built."""
    check_variant(variant)
    digests = input_digests(target.root, variant)
    cache = definition_cache_file(local_dir(target.root), target.config.pipeline_name(variant))
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
        previous = stored["definition"]
        uploads = [Upload(**upload) for upload in stored["uploads"]]
        changed = _changed(stored["inputs"], digests)
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        previous, uploads, changed = None, [], ["(no earlier build)"]
    definition = None
    if previous is not None and _uploads_present(target, uploads):
        if not changed:
            return previous
        stale = _stale_uploads(changed, uploads)
        if stale is not None:
            definition, uploads = _refresh(target, previous, uploads, stale)
            say(f"local-run: {', '.join(changed)} changed: code uploaded again, definition updated")
    if definition is None:
        say(f"local-run: building the {variant} pipeline definition with the SageMaker SDK")
        started = time.monotonic()
        built = build.build(target, variant)
        definition, uploads = built.definition, built.uploads
        say(f"local-run: definition built in {time.monotonic() - started:.1f} s")
    record = {"inputs": digests, "definition": definition, "uploads": [upload.as_dict() for upload in uploads]}
    write_atomically(cache, json.dumps(record, indent=2))
    return definition


def kept_upload_uris(target, variant: str) -> list[str]:
    """The S3 URIs the kept definition of `variant` uploaded (present once `project_definition` returned it)."""
    cache = definition_cache_file(local_dir(target.root), target.config.pipeline_name(variant))
    try:
        return [upload["uri"] for upload in json.loads(cache.read_text(encoding="utf-8"))["uploads"]]
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return []


def input_digests(root: Path, variant: str) -> dict[str, str]:
    """A digest per file the definition depends on, plus the variant, the SDK, the toolkit's build code and the
    sample data's name (the InputData default names it)."""
    toolkit = Path(build.__file__).parent
    digests = {
        "(variant)": variant,
        "(sagemaker)": importlib.metadata.version("sagemaker"),
        "(toolkit build)": _digest(*(toolkit / name for name in BUILD_MODULES)),
        "(sample data)": layout.sample_data_key(root),
    }
    for path in layout.definition_inputs(root):
        digests[path.relative_to(root).as_posix()] = _digest(path)
    return digests


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def _stale_uploads(changed: list[str], uploads: list[Upload]) -> list[Upload] | None:
    """The uploads whose sources hold every changed file; None when a change lies elsewhere (build again)."""
    stale = []
    for name in changed:
        covering = [upload for upload in uploads if upload.source and _inside(name, upload.source)]
        if not covering:
            return None
        stale.extend(upload for upload in covering if upload not in stale)
    return stale


def _inside(name: str, source: str) -> bool:
    return name == source or name.startswith(source.rstrip("/") + "/")


def _refresh(target, definition: dict, uploads: list[Upload], stale: list[Upload]) -> tuple[dict, list[Upload]]:
    """Upload each stale source under its new prefix and point the definition at it."""
    s3 = target.client("s3")
    text = json.dumps(definition)
    refreshed = []
    for upload in uploads:
        if upload not in stale:
            refreshed.append(upload)
            continue
        source = target.root / upload.source
        key_prefix = content_addressed_prefix(upload.sdk_key_prefix, content_digest(source))
        files = [source] if source.is_file() else layout.files_under(source)
        for path in files:
            relative = path.name if source.is_file() else path.relative_to(source).as_posix()
            s3.upload_file(str(path), target.bucket, f"{key_prefix}/{relative}")
        uri = uploaded_uri(target.bucket, key_prefix, source)
        text = text.replace(json.dumps(upload.uri), json.dumps(uri))
        refreshed.append(Upload(uri, upload.sdk_key_prefix, upload.source))
    return json.loads(text), refreshed


def _uploads_present(target, uploads: list[Upload]) -> bool:
    """A kept definition is only reusable while everything it uploaded is still in the emulator (not after a
    reset, nor after the bucket went away)."""
    s3 = target.client("s3")
    try:
        return all(s3io.exists(s3, upload.uri) for upload in uploads)
    except ClientError:
        return False


def upload_sample_data(target) -> str:
    """Put ml/data's sample CSV in the artefact bucket (skipped when the same bytes are there); its S3 URI."""
    s3 = target.client("s3")
    target.ensure_bucket()
    source = layout.sample_data_file(target.root)
    key = layout.sample_data_key(target.root)
    local_md5 = hashlib.md5(source.read_bytes()).hexdigest()
    try:
        if s3.head_object(Bucket=target.bucket, Key=key)["ETag"].strip('"') == local_md5:
            return f"s3://{target.bucket}/{key}"
    except ClientError:
        pass
    s3.upload_file(str(source), target.bucket, key)
    return f"s3://{target.bucket}/{key}"
