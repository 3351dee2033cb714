"""Which installed modules a step's code imports: read from its source (the code is never run to find out).

The warm interpreter imports exactly these before it forks a step. Only modules of the interpreter's own
installation qualify (the standard library and site-packages): never the step's own modules, and never an
installed module that the step's folder shadows with one of its own.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import sysconfig
from pathlib import Path

INSTALLATION_ROOTS = tuple(
    str(Path(path).resolve())
    for path in {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def imported_names(source: str) -> list[str]:
    """Every module name the source imports at any level of its code, in order, with `from a import b`
    giving both `a` and `a.b` (b may be a submodule)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
    return list(dict.fromkeys(names))


def local_names(folder: Path) -> set[str]:
    """The top-level module names a script in `folder` finds beside itself (its sys.path[0])."""
    if not folder.is_dir():
        return set()
    return {
        path.stem if path.suffix == ".py" else path.name
        for path in folder.iterdir()
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").is_file())
    }


def installed_modules(script: Path) -> list[str]:
    """The modules `script` imports that this interpreter's installation provides and its folder does not."""
    try:
        source = script.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    shadowed = local_names(script.parent)
    return [name for name in imported_names(source) if name.split(".")[0] not in shadowed and is_installed(name)]


def is_installed(name: str) -> bool:
    """True when the top-level package of `name` comes from this interpreter's installation."""
    top = name.split(".")[0]
    if top in sys.builtin_module_names:
        return True
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if spec.origin == "frozen":
        return True
    locations = ([spec.origin] if spec.origin else []) + list(spec.submodule_search_locations or [])
    return bool(locations) and all(str(Path(place).resolve()).startswith(INSTALLATION_ROOTS) for place in locations)
