"""A private /opt/ml for a process forked from the warm interpreter: what `unshare` does, done in-process.

A fresh step process runs under `unshare --mount` (or `--user --map-root-user --mount` without root) and a
bind mount of its step folder over /opt/ml. A forked child must make the same namespace itself, through
libc's unshare(2) and mount(2) (Python 3.11's os module has neither). It is single-threaded right after the
fork, which a new user namespace requires.
"""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
CONTAINER_ROOT = "/opt/ml"
# How the runner isolates steps on this machine (the launcher passes the runner's choice along).
MOUNT = "mount"
USER_AND_MOUNT = "user+mount"
PATHS = "paths"


def enter(isolation: str, step_folder: str) -> None:
    """Give this process `step_folder` as /opt/ml, as the fresh process's `unshare` prefix would."""
    if isolation == PATHS:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | (CLONE_NEWUSER if isolation == USER_AND_MOUNT else 0)
    _check(libc.unshare(flags), "unshare")
    if isolation == USER_AND_MOUNT:
        # --map-root-user: this user becomes root inside, as the fresh process sees itself.
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    os.makedirs(CONTAINER_ROOT, exist_ok=True)
    _check(libc.mount(step_folder.encode(), CONTAINER_ROOT.encode(), None, MS_BIND | MS_REC, None), "mount --bind")


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as stream:
        stream.write(text)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")
