"""Moving a job's data between S3 and its /opt/ml folder, the way SageMaker's File mode does.

Object keys and archive members are names chosen by whoever can write to the bucket: a name that would land
outside the folder it is copied into (`..`, an absolute path, a link out of an archive) is refused before
anything is written.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from localsage.errors import UserError

TRANSFER_THREADS = 8
# Up to this size an object moves in one request (boto3's managed transfer adds a HEAD and its own threads,
# which costs more than it saves on the small files jobs mostly move).
SINGLE_REQUEST_BYTES = 8 * 2**20


def split_uri(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise UserError(f"{uri!r} is not an s3:// URI")
    return parts.netloc, parts.path.lstrip("/")


def list_objects(s3, uri: str) -> list[dict]:
    """The objects at `uri`: the object itself when the key exists, else everything under it as a prefix."""
    bucket, key = split_uri(uri)
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        found.extend(page.get("Contents", []))
    exact = [item for item in found if item["Key"] == key]
    if exact:
        return exact
    prefix = key if not key or key.endswith("/") else key + "/"
    return [item for item in found if item["Key"].startswith(prefix) and not item["Key"].endswith("/")]


def inside(folder: Path, relative: str, what: str) -> Path:
    """`folder / relative`, refused with one line naming it when the name would land outside `folder`."""
    name = PurePosixPath(relative)
    refused = (
        not relative
        or name.is_absolute()
        or ".." in name.parts
        or any(character in relative for character in ("\\", "\0"))
        or not (folder / name).resolve().is_relative_to(folder.resolve())
    )
    if refused:
        raise UserError(f"{what}: {relative!r} would be written outside {folder}: refused, nothing was written")
    return folder / name


def download(s3, uri: str, destination: Path, what: str) -> int:
    """Copy the object (into `destination/<its name>`) or the prefix (keeping relative keys); returns the count.

    Every key is checked first: one that would land outside `destination` stops the copy before any file.
    """
    objects = list_objects(s3, uri)
    if not objects:
        raise UserError(f"{what}: nothing found at {uri}")
    bucket, key = split_uri(uri)
    targets = [
        (item["Key"], inside(destination, _relative_name(item["Key"], key), f"{what}: key {item['Key']!r}"))
        for item in objects
    ]
    destination.mkdir(parents=True, exist_ok=True)

    sizes = {item["Key"]: item["Size"] for item in objects}

    def fetch(pair: tuple[str, Path]) -> None:
        object_key, target = pair
        target.parent.mkdir(parents=True, exist_ok=True)
        if sizes[object_key] <= SINGLE_REQUEST_BYTES:
            with open(target, "wb") as stream:
                shutil.copyfileobj(s3.get_object(Bucket=bucket, Key=object_key)["Body"], stream)
        else:
            s3.download_file(bucket, object_key, str(target))

    with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
        list(pool.map(fetch, targets))
    return len(objects)


def _relative_name(object_key: str, key: str) -> str:
    """The name an object gets under the destination: its file name for the object itself, else its key below
    the prefix."""
    return object_key.rsplit("/", 1)[-1] if object_key == key else object_key[len(key) :].lstrip("/")


def upload_folder(s3, folder: Path, uri: str) -> int:
    """Upload every file under `folder` to the prefix `uri`, keeping relative paths; returns the count."""
    bucket, prefix = split_uri(uri)
    files = [path for path in sorted(folder.rglob("*")) if path.is_file()]

    def put(path: Path) -> None:
        key = "/".join(part for part in (prefix.rstrip("/"), path.relative_to(folder).as_posix()) if part)
        upload_file(s3, path, f"s3://{bucket}/{key}")

    with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
        list(pool.map(put, files))
    return len(files)


def upload_file(s3, path: Path, uri: str) -> None:
    """One PUT for a small file; boto3's managed (multipart) transfer for a large one."""
    bucket, key = split_uri(uri)
    if path.stat().st_size <= SINGLE_REQUEST_BYTES:
        with open(path, "rb") as stream:
            s3.put_object(Bucket=bucket, Key=key, Body=stream)
    else:
        s3.upload_file(str(path), bucket, key)


def content_digest(s3, uri: str) -> str:
    """A digest of what is at `uri` (relative keys and ETags), independent of where it lives."""
    bucket, key = split_uri(uri)
    digest = hashlib.sha256()
    for item in sorted(list_objects(s3, uri), key=lambda entry: entry["Key"]):
        digest.update(f"{item['Key'][len(key) :]}\0{item['ETag']}\0{item['Size']}\n".encode())
    return digest.hexdigest()


def exists(s3, uri: str) -> bool:
    return bool(list_objects(s3, uri))


def pack(folder: Path, archive: Path) -> Path:
    """A gzipped tar of the folder's contents (what SageMaker uploads as model.tar.gz / output.tar.gz)."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def unpack(archive: Path, folder: Path, what: str) -> None:
    """Extract the archive with tarfile's `data` filter: a member that is absolute, climbs out with `..`, or links
    outside the folder is refused (one line naming it) before anything is extracted."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            try:
                if PurePosixPath(member.name).is_absolute():
                    raise tarfile.AbsolutePathError(member)
                tarfile.data_filter(member, str(folder))
            except tarfile.FilterError as exc:
                raise UserError(f"{what}: member {member.name!r} is refused ({exc}): nothing was extracted") from None
        tar.extractall(folder, members=members, filter="data")
