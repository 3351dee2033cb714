"""Copy the KPI CSVs from S3 (the emulator, or AWS with `--aws`) into a local cache, fetching only what changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from localsage.adapters.s3io import inside
from localsage.adapters.targets import Target
from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.facts.state_files import write_atomically
from localsage.kpi.files import NoKpiFiles

MANIFEST = ".manifest.json"
DOWNLOAD_THREADS = 8


@dataclass(frozen=True)
class SyncSummary:
    folder: Path
    downloaded: int
    deleted: int
    unchanged: int


def cache_folder(target: Target) -> Path:
    """Where the KPI files of the target's bucket are cached (one folder per bucket)."""
    return project_config.local_dir(target.root) / "kpi-cache" / target.bucket


def sync(target: Target, say: Callable[[str], None] = print) -> SyncSummary:
    """Mirror s3://<bucket>/<kpi prefix>*.csv into the cache: new or changed objects (ETag, size) are fetched,
    local files whose objects are gone are deleted."""
    folder = cache_folder(target)
    prefix = target.config.kpi_prefix
    location = f"s3://{target.bucket}/{prefix}"
    hint = "run './dev local-run' first" if target.is_local else "run the pipeline in AWS first"
    client = target.client("s3")
    remote = _list_objects(client, target.bucket, prefix, location, hint)
    if not remote:
        raise NoKpiFiles(f"no KPI files under {location}: {hint}")
    wanted = {key[len(prefix) :]: stamp for key, stamp in remote.items()}
    for relative in wanted:
        inside(folder, relative, f"KPI file s3://{target.bucket}/{prefix}{relative}")
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST
    known = _read_manifest(manifest_path)
    stale = [
        relative
        for relative, stamp in wanted.items()
        if known.get(relative) != stamp or not (folder / relative).is_file()
    ]
    gone = [path for path in folder.rglob("*.csv") if path.relative_to(folder).as_posix() not in wanted]
    for path in gone:
        path.unlink()
    if stale:
        say(f"fetching {len(stale)} KPI files from {location}")
        with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
            list(
                pool.map(lambda relative: _download(client, target.bucket, prefix + relative, folder / relative), stale)
            )
    write_atomically(manifest_path, json.dumps(wanted, indent=0, sort_keys=True))
    return SyncSummary(folder, downloaded=len(stale), deleted=len(gone), unchanged=len(wanted) - len(stale))


def _list_objects(client, bucket: str, prefix: str, location: str, hint: str) -> dict[str, str]:
    stamps: dict[str, str] = {}
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith(".csv"):
                    stamps[item["Key"]] = f"{item['ETag'].strip(chr(34))}:{item['Size']}"
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            raise NoKpiFiles(f"bucket {bucket} does not exist, so no KPI files under {location}: {hint}") from None
        raise UserError(f"listing {location} failed ({code or exc}): check access to the bucket") from None
    except BotoCoreError as exc:
        raise UserError(f"listing {location} failed ({exc}): is the endpoint reachable?") from None
    return stamps


def _download(client, bucket: str, key: str, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    try:
        client.download_file(bucket, key, str(partial))
    except (BotoCoreError, ClientError) as exc:
        partial.unlink(missing_ok=True)
        raise UserError(f"downloading s3://{bucket}/{key} failed ({exc}): run kpi-check again") from None
    partial.replace(destination)


def _read_manifest(path: Path) -> dict[str, str]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}
