"""How a warm child ends: what CPython's own shutdown does first, then nothing of the slow rest.

A fresh interpreter ends by waiting for its non-daemon threads (after threading's own exit callbacks, which
stop `concurrent.futures` workers), running the atexit handlers, flushing stdio, then tearing every module
down. The teardown is the slow part in a child that shares pandas and scikit-learn with the warm interpreter
(0.16-0.5 s per process, measured) and does nothing for the step: its files are closed by the handlers or
by dropping the script's own globals. The first two steps exist only as CPython internals
(`threading._shutdown`, `atexit._run_exitfuncs`), used here and nowhere else;
tests/runner/warm/test_interpreter_exit.py fails when either moves, and without them a child ends with a
full interpreter shutdown (slower, same result).
"""

from __future__ import annotations

import atexit
import threading


def available() -> bool:
    return callable(getattr(threading, "_shutdown", None)) and callable(getattr(atexit, "_run_exitfuncs", None))


def run_shutdown_handlers() -> None:
    """Wait for non-daemon threads and run the atexit handlers, as the interpreter's own exit does."""
    threading._shutdown()
    atexit._run_exitfuncs()
