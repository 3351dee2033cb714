"""`python` inside a step, in warm mode (and `./dev TASK`): ask a warm interpreter to fork the program, or become
a fresh one.

The step's PATH starts with a folder whose `python`, `python3` and `python3.X` run this file as
`<interpreter> -I -S launcher.py ARGS` (milliseconds: no site-packages). `python [-u|-B] script.py ARGS` is
sent to the warm interpreter with this process's environment, working folder and every open file
descriptor; anything else (`-c`, `-m`, `--version`, no server) execs the real interpreter with the same
arguments, which is what a fresh process would have done. `./dev` calls it as
`<interpreter> -I -S launcher.py -m invoke ...` with the command server's key in LOCALSAGE_WARM_COMMANDS, which the
launcher removes before anything else sees it. The launcher stays as the program's stand-in: it
forwards signals and exits as the program exits, so pipes, exit codes and `kill` behave as with one process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol  # noqa: E402  (this file runs without site-packages: its sibling, by path)

FORWARDED_SIGNALS = (
    signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCONT,
    signal.SIGWINCH,
)  # fmt: skip


def main(arguments: list[str]) -> None:
    if protocol.COMMANDS_VARIABLE in os.environ:
        key = os.environ.pop(protocol.COMMANDS_VARIABLE)
        runnable = protocol.module_call(arguments) is not None
    else:
        key = os.environ.get(protocol.SOCKET_VARIABLE)
        call = protocol.script_call(arguments)
        runnable = call is not None and os.path.isfile(call.program)
    if not key or not runnable:
        _become_fresh(arguments)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(protocol.address(key))
        if not protocol.same_user(connection):
            raise OSError("the server runs as another user")
        fds = protocol.open_fds(exclude=connection.fileno())
        if len(fds) > protocol.MAX_FDS:
            raise OSError("more descriptors than one message carries")
        request = {"argv": arguments, "cwd": os.getcwd(), "env": dict(os.environ), "fds": fds}
        protocol.send(connection, request, fds)
        answer = protocol.receive(connection)
    except OSError:
        answer = None
    if not answer or "pid" not in answer:
        connection.close()
        _become_fresh(arguments)
    # The child has our descriptors now: ours must close, or a reader of our stdout never sees its end.
    for fd in fds:
        os.close(fd)
    for number in FORWARDED_SIGNALS:
        signal.signal(number, lambda received, frame: protocol.send(connection, {"signal": received}))
    signal.signal(signal.SIGTSTP, lambda received, frame: _suspend(connection))
    while True:
        message = protocol.receive(connection)
        if message is None:
            os._exit(1)
        if "exit" in message:
            os._exit(message["exit"])
        if "signal" in message:
            with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP have no handler to reset
                signal.signal(message["signal"], signal.SIG_DFL)
            os.kill(os.getpid(), message["signal"])
            os._exit(128 + message["signal"])


def _suspend(connection: socket.socket) -> None:
    """Ctrl-Z: the program stops (SIGSTOP: it has no terminal of its own to stop it), then this stand-in; SIGCONT
    (`fg`) is forwarded to it like any other signal."""
    protocol.send(connection, {"signal": signal.SIGSTOP})
    signal.signal(signal.SIGTSTP, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTSTP)
    signal.signal(signal.SIGTSTP, lambda received, frame: _suspend(connection))


def _become_fresh(arguments: list[str]) -> None:
    os.execv(sys.executable, [sys.executable, *arguments])


if __name__ == "__main__":
    main(sys.argv[1:])
