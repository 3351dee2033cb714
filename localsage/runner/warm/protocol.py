"""What the warm interpreter's launcher and server say to each other, and when a step must not use it.

Standard library only: the launcher runs with `python -I -S` (no site-packages) and imports this file from
its own folder. One message per datagram of a SOCK_SEQPACKET Unix socket, JSON encoded; the first message of
a connection carries the launcher's file descriptors.

Launcher → server: {"argv": [...], "cwd": ..., "env": {...}} with every open fd, then {"signal": n} as
signals arrive. A step's server runs `python script ARGS` calls; a command server (`./dev TASK`), `python -m
module ARGS` calls. Server → launcher: {"pid": n} once the child runs, or {"fresh": reason} (the launcher then
becomes a fresh interpreter), then {"exit": code} or {"signal": n} when the child ends.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

# Linux's abstract namespace: no file to clean up, no path-length limit; the server checks the peer's uid.
ADDRESS_PREFIX = "\0localsage-warm-"
MESSAGE_BYTES = 1 << 20
MAX_FDS = 250
# Variables a step's processes get from the runner for the warm interpreter (never compared, never leaked).
SOCKET_VARIABLE = "LOCALSAGE_WARM_SOCKET"
OPT_ML_VARIABLE = "LOCALSAGE_WARM_OPT_ML"
ISOLATION_VARIABLE = "LOCALSAGE_WARM_ISOLATION"
SHIM_VARIABLE = "LOCALSAGE_WARM_SHIM"
# Set by ./dev for the launcher alone: the command server's key (the launcher removes it, so a task never sees it).
COMMANDS_VARIABLE = "LOCALSAGE_WARM_COMMANDS"
OWN_VARIABLES = frozenset({SOCKET_VARIABLE, OPT_ML_VARIABLE, ISOLATION_VARIABLE, SHIM_VARIABLE})
# Read by the interpreter or by compiled libraries when they are imported (thread pools, allocators, locale,
# hashing, import paths): a value other than the warm interpreter's means the step needs its own interpreter.
IMPORT_TIME_PREFIXES = (
    "PYTHON", "OMP_", "MKL_", "OPENBLAS_", "GOTO", "BLIS_", "VECLIB_", "NUMEXPR_", "KMP_", "NUMBA_",
    "SKLEARN_", "JOBLIB_", "LOKY_", "LANG", "LC_", "LD_", "MALLOC_", "CUDA_", "TF_", "TORCH", "INVOKE_",
)  # fmt: skip
# The SageMaker container contract: set per job, read by the step code when it runs, never at import.
CONTRACT_PREFIXES = ("SM_", "SAGEMAKER_", "TRAINING_JOB_", "PROCESSING_JOB_", "AWS_", "PATH")


# Interpreter options a warm child honours (unbuffered output, no bytecode files); others run fresh.
ACCEPTED_FLAGS = frozenset({"-u", "-B"})


class ProgramCall(NamedTuple):
    flags: list[str]
    program: str  # the script's path, or the module's name (`-m`)
    arguments: list[str]
    is_module: bool


def program_call(argv: list[str]) -> ProgramCall | None:
    """`python [-u] [-B] script ARGS` or `python [-u] [-B] -m module ARGS` split into its parts; None for any
    other way to call python."""
    for index, argument in enumerate(argv):
        if argument in ACCEPTED_FLAGS:
            continue
        if argument == "-m":
            return ProgramCall(argv[:index], argv[index + 1], argv[index + 2 :], True) if argv[index + 1 :] else None
        if argument.startswith("-"):
            return None
        return ProgramCall(argv[:index], argument, argv[index + 1 :], False)
    return None


def script_call(argv: list[str]) -> ProgramCall | None:
    """A script call (what a step's server forks), or None."""
    call = program_call(argv)
    return call if call and not call.is_module else None


def module_call(argv: list[str]) -> ProgramCall | None:
    """A `-m module` call (what the command server forks), or None."""
    call = program_call(argv)
    return call if call and call.is_module else None


@dataclass(frozen=True)
class ServerRecord:
    """What a ready server writes for the runners: who it is and what it was imported under."""

    pid: int
    started: float  # the process's start time: with the PID, it names this process and no later one
    key: str
    ready_s: float
    environment: dict[str, str]  # its import-time variables (import_time_environment)


def import_time_environment(environment: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in environment.items() if name.startswith(IMPORT_TIME_PREFIXES)}


def address(key: str) -> str:
    return f"{ADDRESS_PREFIX}{key}"


def same_user(connection: socket.socket) -> bool:
    """The other end of this Unix socket runs as this process's user (abstract addresses have no permissions:
    a name left behind by a server that died could be taken by anyone)."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1] == os.getuid()


def send(connection: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    payload = json.dumps(message).encode()
    if fds:
        socket.send_fds(connection, [payload], fds)
    else:
        connection.send(payload)


def receive(connection: socket.socket) -> dict | None:
    """The next message, or None when the other side closed the connection."""
    payload = connection.recv(MESSAGE_BYTES)
    return json.loads(payload) if payload else None


def receive_with_fds(connection: socket.socket) -> tuple[dict | None, list[int]]:
    payload, fds, _, _ = socket.recv_fds(connection, MESSAGE_BYTES, MAX_FDS)
    return (json.loads(payload) if payload else None), fds


def fresh_reason(step: Mapping[str, str], warm: Mapping[str, str], declared: Mapping[str, str] = ()) -> str | None:
    """Why a process with environment `step` cannot be forked from an interpreter whose import-time variables
    were `warm`, or None when it can.

    `declared`: the variables the job itself sets (its request's Environment, the SageMaker contract aside):
    the warm interpreter may have read any of them under another value while importing.
    """
    step_values, warm_values = import_time_environment(step), import_time_environment(warm)
    for name in sorted(set(step_values) | set(warm_values)):
        if step_values.get(name) != warm_values.get(name):
            return f"{name}={step_values.get(name, '(unset)')} differs from the warm interpreter's"
    for name in sorted(dict(declared)):
        if not name.startswith(CONTRACT_PREFIXES) and name not in OWN_VARIABLES:
            return f"the job sets {name}, which a library may read when it is imported"
    return None


def open_fds(exclude: int | None = None) -> list[int]:
    """This process's open descriptors, in order (but `exclude`)."""
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd == exclude:
            continue
        try:
            os.fstat(fd)
        except OSError:
            continue  # the listing's own descriptor, closed by now
        fds.append(fd)
    return sorted(fds)
