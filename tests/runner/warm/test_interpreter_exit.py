"""The two CPython internals a warm child ends with: present, and doing what a normal exit does first.

If this fails after a Python upgrade, `interpreter_exit` must follow the internals' new names (until then a
child ends with a full interpreter shutdown: slower, same result)."""

from __future__ import annotations

import subprocess
import sys

from localsage.runner.warm import interpreter_exit

CHILD = """
import atexit, concurrent.futures, sys, threading, time
from localsage.runner.warm import interpreter_exit

def late_write():
    time.sleep(0.2)
    print("thread done", flush=True)

pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
pool.submit(time.sleep, 0.1)
threading.Thread(target=late_write).start()
atexit.register(lambda: print("atexit ran", flush=True))
interpreter_exit.run_shutdown_handlers()
print("handlers done", flush=True)
import os
os._exit(0)
"""


def test_the_internals_exist_on_this_python():
    assert interpreter_exit.available(), f"threading._shutdown or atexit._run_exitfuncs moved in Python {sys.version}"


def test_they_wait_for_threads_and_pools_and_run_atexit_handlers(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["thread done", "atexit ran", "handlers done"]
