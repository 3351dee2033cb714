"""The warm interpreter: imports the libraries step code uses, then forks one child per step `python` process.

`python -m localsage.runner.warm.server --key K --record FILE [--preload a,b] [--watch PID:START]`
`... --commands --address FILE [--prepare MODULE:FUNCTION] [--after-fork MODULE:FUNCTION]` (`commands.py`)

The server never runs step code: it imports installed modules that the step scripts import (read from their
source, `imports`), listens on an abstract Unix socket for the launcher, and forks. The child takes the
launcher's descriptors, environment, working folder and arguments, makes the step's /opt/ml (`namespace`),
reseeds the random generators a fresh interpreter would seed itself, and runs the script as `__main__`;
then the interpreter ends as a fresh one would (atexit handlers, flushed output, its exit code).

With `--commands` it is the command server instead: it imports the toolkit's task code, and its children run
`python -m module ARGS` calls (`./dev TASK`) with no /opt/ml of their own. Its key is written to the `--address`
file once it listens (./dev reads it there); a request that finds the toolkit's own code changed since the
imports runs fresh, and the server retires: it takes no more requests and ends when its children have.

Single-threaded on purpose (fork copies only the calling thread). It ends when the emulator it serves is
gone, after IDLE_SECONDS without work, or on SIGTERM (`./dev emulator.down` stops it by PID).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gc
import importlib
import json
import os
import random
import runpy
import selectors
import signal
import socket
import sys
import sysconfig
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import psutil

from localsage.adapters import processes
from localsage.facts.state_files import write_atomically
from localsage.runner.warm import imports, interpreter_exit, namespace, protocol

INTERRUPTED = 130
IDLE_SECONDS = float(os.environ.get("LOCALSAGE_WARM_IDLE_S", "1800"))
POLL_SECONDS = 1.0
KILL_GRACE_SECONDS = 5.0
FIRST_MESSAGE_SECONDS = 5.0


@dataclass
class Request:
    """What a child runs: the launcher's call, as it made it."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    fds: list[int]  # as received here
    numbers: list[int]  # the same descriptors' numbers in the launcher


@dataclass
class Child:
    connection: socket.socket
    pid: int
    orphaned_at: float | None = None


@dataclass
class Server:
    listener: socket.socket
    watch: tuple[int, float] | None
    environment: dict[str, str]
    children: dict[int, Child] = field(default_factory=dict)
    tried: set[str] = field(default_factory=set)
    last_work: float = field(default_factory=time.monotonic)
    commands: bool = False
    sources: dict[str, int] = field(default_factory=dict)  # command server: what it imported, as it was then
    address_file: Path | None = None
    key: str = ""
    retiring: bool = False
    home: Path | None = None  # where children report the installed modules they imported (`learned_file`)
    learned: set[str] = field(default_factory=set)

    def serve(self) -> Request:
        """Answer launchers until a fork; returns only in the child, with what it must run."""
        wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(wakeup_write, False)
        signal.set_wakeup_fd(wakeup_write)
        signal.signal(signal.SIGCHLD, lambda number, frame: None)
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ, "listener")
        selector.register(wakeup_read, selectors.EVENT_READ, "wakeup")
        while True:
            for key, _ in selector.select(POLL_SECONDS):
                if key.data == "wakeup":
                    os.read(wakeup_read, 4096)
                elif key.data == "listener":
                    request = self._accept(selector)
                    if request is not None:
                        for fd in (wakeup_read, wakeup_write):
                            os.close(fd)
                        selector.close()
                        return request
                else:
                    self._from_launcher(key.data, selector)
            self._reap(selector)
            self._import_learned()
            self._kill_orphans()
            if self._should_end():
                self._end()
            if self.retiring and self.listener.fileno() != -1:
                self._retire(selector)

    def _accept(self, selector: selectors.BaseSelector) -> Request | None:
        connection, _ = self.listener.accept()
        if not protocol.same_user(connection):
            connection.close()
            return None
        connection.settimeout(FIRST_MESSAGE_SECONDS)  # a caller that says nothing must not stall every other
        try:
            message, fds = protocol.receive_with_fds(connection)
        except OSError:
            message, fds = None, []
        connection.settimeout(None)
        if message is None:
            _close_all(fds)
            connection.close()
            return None
        reason = self._command_refusal(message) if self.commands else None
        reason = reason or protocol.fresh_reason(message["env"], self.environment)
        if reason is not None:
            _log(f"{message['argv']}: fresh ({reason})")
            protocol.send(connection, {"fresh": reason})
            _close_all(fds)
            connection.close()
            return None
        if self.commands:
            _log(f"{' '.join(message['argv'])}: forking")
        else:
            imported = self._preload_for(message)
            _log(f"{protocol.script_call(message['argv']).program}: forking ({imported})")
        sys.stdout.flush()
        sys.stderr.flush()
        # What the server holds is never collected in a child: kept out of its collections (and pages unshared).
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            self.listener.close()
            for child in self.children.values():
                child.connection.close()
            connection.close()
            signal.set_wakeup_fd(-1)
            return Request(message["argv"], message["cwd"], message["env"], fds, message["fds"])
        _close_all(fds)
        self.children[pid] = Child(connection, pid)
        selector.register(connection, selectors.EVENT_READ, pid)
        protocol.send(connection, {"pid": pid})
        self.last_work = time.monotonic()
        return None

    def _command_refusal(self, message: dict) -> str | None:
        """Why the command server must not fork this request (it then runs fresh), or None."""
        if protocol.module_call(message["argv"]) is None:
            return "not a `python -m module` call"
        changed = changed_sources(self.sources)
        if changed:
            self.retiring = True
            return f"{changed} changed since the command server imported it"
        return None

    def _retire(self, selector: selectors.BaseSelector) -> None:
        """Take no more requests (they run fresh until a new server starts); end once the children have."""
        selector.unregister(self.listener)
        self.listener.close()
        self._forget_address()

    def _forget_address(self) -> None:
        if self.address_file is None:
            return
        with contextlib.suppress(OSError):
            if self.address_file.read_text(encoding="utf-8").strip() == self.key:
                self.address_file.unlink()

    def _preload_for(self, message: dict) -> str:
        """Import what the script imports and this server has not tried yet; says how long that took."""
        call = protocol.script_call(message["argv"])
        script = _host_path(call.program, message)
        wanted = [name for name in imports.installed_modules(script) if name not in self.tried]
        started = time.monotonic()
        preload(wanted)
        self.tried.update(wanted)
        return f"{len(wanted)} new imports in {time.monotonic() - started:.2f} s" if wanted else "nothing new to import"

    def _from_launcher(self, pid: int, selector: selectors.BaseSelector) -> None:
        child = self.children.get(pid)
        if child is None:
            return
        try:
            message = protocol.receive(child.connection)
        except OSError:
            message = None
        if message is None:
            # The launcher is gone (killed): its program must not outlive it.
            selector.unregister(child.connection)
            _signal(pid, signal.SIGTERM)
            child.orphaned_at = time.monotonic()
        elif "signal" in message:
            _signal(pid, message["signal"])

    def _reap(self, selector: selectors.BaseSelector) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            self._read_learned(pid)
            outcome = {"exit": os.WEXITSTATUS(status)} if os.WIFEXITED(status) else {"signal": os.WTERMSIG(status)}
            _log(f"child {pid} ended: {outcome}")
            if child.orphaned_at is None:
                selector.unregister(child.connection)
                with contextlib.suppress(OSError):
                    protocol.send(child.connection, outcome)
            child.connection.close()
            self.last_work = time.monotonic()

    def _read_learned(self, pid: int) -> None:
        if self.home is None:
            return
        path = learned_file(self.home, pid)
        with contextlib.suppress(OSError):
            self.learned.update(path.read_text(encoding="utf-8").split())
            path.unlink()

    def _import_learned(self) -> None:
        """What children imported from the installation beyond what the server had (a model's classes that its
        pickle names, a step not yet forked this lifetime), imported between runs: never while a child runs,
        which could be waiting for a fork."""
        wanted = sorted(self.learned - self.tried - set(sys.modules))
        self.learned.clear()
        if self.children or not wanted:
            self.learned.update(wanted)
            return
        started = time.monotonic()
        preload(wanted)
        self.tried.update(wanted)
        _log(f"imported {len(wanted)} modules the steps imported, in {time.monotonic() - started:.2f} s")

    def _kill_orphans(self) -> None:
        for child in self.children.values():
            if child.orphaned_at is not None and time.monotonic() - child.orphaned_at > KILL_GRACE_SECONDS:
                _signal(child.pid, signal.SIGKILL)

    def terminate(self) -> None:
        """SIGTERM (`emulator.down`, or an emulator restarted by a task): a step server ends now, with its
        children; the command server retires, because its children are the caller's own tasks (one of them may
        be the task that restarts the emulator), and ends when they have."""
        if not self.commands:
            self._end()
        _log("asked to stop: retiring")
        self.retiring = True

    def _should_end(self) -> bool:
        if self.watch is not None and not processes.alive(*self.watch):
            if not self.commands:
                return True
            self.retiring = True
        if self.retiring:
            return not self.children
        return not self.children and time.monotonic() - self.last_work > IDLE_SECONDS

    def _end(self) -> None:
        self._forget_address()
        for child in self.children.values():
            _signal(child.pid, signal.SIGKILL)
        raise SystemExit(0)


def preload(names: list[str]) -> None:
    """Import each installed module; one that fails to import is left to the step, which will say why."""
    for name in names:
        try:
            importlib.import_module(name)
        except (Exception, SystemExit):  # noqa: BLE001 - any import error is the step's to report, not the server's
            continue


def changed_sources(sources: dict[str, int]) -> str | None:
    """The first of these files (or folders) whose modification time is no longer the recorded one."""
    for path, recorded in sources.items():
        try:
            if os.stat(path).st_mtime_ns != recorded:
                return path
        except OSError:
            return path
    return None


def own_sources(since_ns: int) -> dict[str, int]:
    """What a command server's imports came from, beyond the standard library: each imported module's file that
    the installation does not hold (the toolkit's, installed editable), and the installation's package folders
    (an install or uninstall changes them). A file saved after `since_ns` (while the server imported) may have
    been imported as it was before: it counts as changed already."""
    paths = [str(Path(sysconfig.get_paths()[key])) for key in ("purelib", "platlib")]
    for module in list(sys.modules.values()):
        location = getattr(module, "__file__", None)
        if location and not str(Path(location).resolve()).startswith(imports.INSTALLATION_ROOTS):
            paths.append(location)
    found = {path: os.stat(path).st_mtime_ns for path in dict.fromkeys(paths) if os.path.exists(path)}
    return {path: mtime if mtime < since_ns else -1 for path, mtime in found.items()}


def learned_file(home: Path, pid: int) -> Path:
    return home / f"learned-{pid}.txt"


def run_child(request: Request, after_fork: Callable[[], None] | None = None, home: Path | None = None) -> None:
    """In the forked child: become the launcher's program and run it (see the module docstring). A step's child
    tells the server, in `home`, which installed modules it imported that the server had not."""
    imported_before = set(sys.modules)
    _take_descriptors(request.fds, request.numbers)
    os.setsid()
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD, signal.SIGQUIT):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    call = protocol.program_call(request.argv)
    if not call.is_module:
        namespace.enter(
            request.env.get(protocol.ISOLATION_VARIABLE, namespace.PATHS),
            request.env.get(protocol.OPT_ML_VARIABLE, ""),
        )
    os.chdir(request.cwd)
    os.environ.clear()
    os.environ.update(request.env)
    time.tzset()
    _reseed()
    unbuffered = "-u" in call.flags or bool(request.env.get("PYTHONUNBUFFERED"))
    sys.dont_write_bytecode = "-B" in call.flags or bool(request.env.get("PYTHONDONTWRITEBYTECODE"))
    _fresh_stdio(unbuffered)
    if call.is_module:
        sys.path.insert(0, request.cwd)  # `python -m` looks in the working folder first
        sys.argv = ["-m", *call.arguments]  # runpy puts the module's file in argv[0], as `python -m` does
    else:
        script_folder = os.path.dirname(os.path.realpath(call.program))
        for name in imports.local_names(Path(script_folder)):
            for loaded in [module for module in sys.modules if module == name or module.startswith(f"{name}.")]:
                del sys.modules[loaded]
        sys.path[0] = script_folder
        sys.argv = [call.program, *call.arguments]
        sys.executable = request.env.get(protocol.SHIM_VARIABLE, sys.executable)
    main_globals: dict = {}
    try:
        if after_fork is not None:
            after_fork()
        if call.is_module:
            main_globals = runpy.run_module(call.program, run_name="__main__", alter_sys=True)
        else:
            main_globals = runpy.run_path(call.program, run_name="__main__")
        code = 0
    except SystemExit as exit_request:
        code = _exit_code(exit_request)
    except BaseException as exc:  # noqa: BLE001 - whatever the program raised, reported as python reports it
        _print_users_traceback(exc, call.program)
        code = INTERRUPTED if isinstance(exc, KeyboardInterrupt) else 1
    if home is not None:
        _report_imports(learned_file(home, os.getpid()), imported_before)
    _finish(code, main_globals)


def _exit_code(exit_request: SystemExit) -> int:
    """The status `sys.exit(value)` gives: None is 0, an int is itself, anything else is printed and is 1."""
    if exit_request.code is None:
        return 0
    if isinstance(exit_request.code, int):
        return exit_request.code & 0xFF
    print(exit_request.code, file=sys.stderr)
    return 1


def _report_imports(path: Path, before: set[str]) -> None:
    """The installed modules this child imported that the server had not, for the server to import next."""
    names = [
        name
        for name, module in list(sys.modules.items())
        if name not in before and str(getattr(module, "__file__", None) or "").startswith(imports.INSTALLATION_ROOTS)
    ]
    if names:
        with contextlib.suppress(OSError):
            path.write_text("\n".join(names), encoding="utf-8")


def _finish(code: int, main_globals: dict) -> None:
    """End as a fresh interpreter ends, without tearing down the libraries shared with the server."""
    if not interpreter_exit.available():
        raise SystemExit(code)
    interpreter_exit.run_shutdown_handlers()
    main_globals.clear()  # the script's own objects: open files among them are closed (and flushed) now
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    if code == INTERRUPTED:
        # python ends an interrupted program by the signal itself, so its parent sees a Ctrl-C.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


def _take_descriptors(received: list[int], numbers: list[int]) -> None:
    """Give the launcher's descriptors the numbers it had them under, and close every other one."""
    above = max([*received, *numbers, 2]) + 1
    parked = [fcntl.fcntl(fd, fcntl.F_DUPFD, above) for fd in received]
    _close_all(received)
    for source, number in zip(parked, numbers, strict=True):
        os.dup2(source, number)
    _close_all(parked)
    _close_all([fd for fd in protocol.open_fds() if fd not in numbers])


def _reseed() -> None:
    """A fresh interpreter seeds its generators from the OS; a fork copies the server's: seed anew."""
    random.seed()
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()


def _fresh_stdio(unbuffered: bool) -> None:
    """sys.stdin/stdout/stderr as a fresh interpreter sets them up for these descriptors."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            setattr(sys, name, None)
            setattr(sys, f"__{name}__", None)
            continue
        if name != "stdin":
            getattr(sys, name).reconfigure(line_buffering=name == "stderr" or os.isatty(fd), write_through=unbuffered)


def _print_users_traceback(exc: BaseException, script: str) -> None:
    """The traceback a fresh `python script.py` prints: from the script's own frames on (all of it for a module,
    whose name is no frame's file)."""
    frames = traceback.extract_tb(exc.__traceback__)
    start = next((index for index, frame in enumerate(frames) if frame.filename == script), 0)
    tb = exc.__traceback__
    for _ in range(start):
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)


def _host_path(path: str, message: dict) -> Path:
    """The script as this server sees it: /opt/ml/... is the step folder on the host."""
    opt_ml = message["env"].get(protocol.OPT_ML_VARIABLE)
    absolute = os.path.join(message["cwd"], path)
    if opt_ml and (absolute == namespace.CONTAINER_ROOT or absolute.startswith(f"{namespace.CONTAINER_ROOT}/")):
        return Path(opt_ml + absolute[len(namespace.CONTAINER_ROOT) :])
    return Path(absolute)


def _log(message: str) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S.%f')[:-3]} {message}", flush=True)


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def main(argv: list[str] | None = None) -> tuple[Request, Callable[[], None] | None, Path | None]:
    parser = argparse.ArgumentParser(prog="python -m localsage.runner.warm.server")
    parser.add_argument("--key", required=True)
    parser.add_argument("--record", required=True, type=Path)
    parser.add_argument("--preload", default="")
    parser.add_argument("--watch", default="")
    parser.add_argument("--commands", action="store_true")
    parser.add_argument("--address", type=Path)
    parser.add_argument("--prepare", default="")
    parser.add_argument("--after-fork", default="")
    arguments = parser.parse_args(argv)
    # Only installed modules are ever imported here: nothing from the folder the server was started in.
    sys.path[:] = [entry for entry in sys.path if entry not in ("", os.getcwd())]
    started, started_ns = time.monotonic(), time.time_ns()
    # What the libraries read when they are imported, before they are: some also set defaults of their own
    # (scikit-learn: KMP_DUPLICATE_LIB_OK), which a fresh step process sets again when it imports them.
    environment = protocol.import_time_environment(os.environ)
    preloaded = [name for name in arguments.preload.split(",") if name]
    preload(preloaded)
    if arguments.prepare:
        named_function(arguments.prepare)()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(protocol.address(arguments.key))
    listener.listen(64)
    watch = None
    if arguments.watch:
        pid, start = arguments.watch.split(":")
        watch = (int(pid), float(start))
    server = Server(
        listener,
        watch,
        environment,
        tried=set(preloaded),
        commands=arguments.commands,
        sources=own_sources(started_ns) if arguments.commands else {},
        address_file=arguments.address,
        key=arguments.key,
        home=None if arguments.commands else arguments.record.parent,
    )
    created = psutil.Process().create_time()
    ready = round(time.monotonic() - started, 3)
    record = protocol.ServerRecord(os.getpid(), created, arguments.key, ready, environment)
    write_atomically(arguments.record, json.dumps(asdict(record)))
    if arguments.address:
        write_atomically(arguments.address, arguments.key)
    after_fork = named_function(arguments.after_fork) if arguments.after_fork else None
    signal.signal(signal.SIGTERM, lambda number, frame: server.terminate())
    return server.serve(), after_fork, server.home


def named_function(name: str):
    """`package.module:function`, imported."""
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


if __name__ == "__main__":
    run_child(*main())
