"""What the warm interpreter imports for a script: read from its source, installed modules only."""

from __future__ import annotations

from localsage.runner.warm import imports


def test_every_import_statement_counts_at_any_depth():
    source = (
        "import os, numpy as np\n"
        "from sklearn.metrics import r2_score\n"
        "from . import sibling\n"
        "def main():\n"
        "    import pandas\n"
        "    from json import *\n"
    )
    assert imports.imported_names(source) == [
        "os", "numpy", "sklearn.metrics", "sklearn.metrics.r2_score", "pandas", "json",
    ]  # fmt: skip


def test_unreadable_source_imports_nothing():
    assert imports.imported_names("def broken(:\n") == []


def test_only_modules_of_the_installation_qualify(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import json\nimport pandas\nimport helpers\nimport localsage\nimport not_installed_anywhere\n")
    (tmp_path / "helpers.py").write_text("")
    assert imports.installed_modules(script) == ["json", "pandas"]


def test_a_module_the_scripts_folder_shadows_is_never_imported_for_it(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import json\nimport pandas\n")
    (tmp_path / "pandas").mkdir()
    (tmp_path / "pandas" / "__init__.py").write_text("")
    (tmp_path / "json.py").write_text("")
    assert imports.installed_modules(script) == []
    assert imports.local_names(tmp_path) == {"json", "pandas", "train"}
