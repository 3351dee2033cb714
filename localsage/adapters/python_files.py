"""Load a Python file of the project (ml/pipeline.py, a test's helper) as a module, by its path.

By path, not by import name: the module must be this project's file, whichever same-named module was
imported before (tests run several project copies in one process).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_module(path: Path, prefix: str) -> ModuleType:
    """Execute `path` as a fresh module named `<prefix>_<hash of the path>`, registered in sys.modules.

    Registered because dataclasses and pickling look a module up by name while (and after) it executes.
    """
    path = path.resolve()
    name = f"{prefix}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
