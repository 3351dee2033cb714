"""ml/notebooks: committed without outputs, importing (never copying) the pipeline, and executed headless.

Each notebook runs in a real Jupyter kernel from the repository root against the emulator. The kernel gets
this process's environment with a private state folder, hence its own emulator and step cache: the models
the notebooks register must not shift the version numbers the runner tests expect from a fresh registry.
"""

from __future__ import annotations

import os

import nbformat
import pytest
from devops_support import REPO
from nbclient import NotebookClient

NOTEBOOKS = sorted((REPO / "ml" / "notebooks").glob("*.ipynb"))
# SDK names that only a copied pipeline definition would use.
DEFINITION_BUILDING_NAMES = ("ProcessingStep", "TrainingStep", "ModelTrainer", "ScriptProcessor", "ConditionStep")
# A cell waits on a whole pipeline run; this only keeps a hung kernel from hanging the suite.
CELL_TIMEOUT_S = 900


def test_both_notebooks_exist():
    assert [path.name for path in NOTEBOOKS] == ["run_experimental_pipeline.ipynb", "run_stable_pipeline.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_valid_short_and_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert len(notebook.cells) <= 6, "keep the notebooks short: the logic lives in localsage and ml/"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), "strip the outputs"
    source = "\n".join(cell.source for cell in code)
    assert "from localsage" in source
    assert not [name for name in DEFINITION_BUILDING_NAMES if name in source], "import the pipeline, do not copy it"


@pytest.fixture(scope="module")
def kernel_environment(tmp_path_factory):
    """This process's environment with a private LOCALSAGE_STATE_DIR; the emulator started there is stopped after."""
    from localsage.adapters.emulators.selection import for_project

    state = tmp_path_factory.mktemp("notebook-state")
    yield {**os.environ, "LOCALSAGE_STATE_DIR": str(state)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCALSAGE_STATE_DIR", str(state))
        for_project(REPO, say=lambda message: None).down()


def executed(path, environment) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3").execute(cwd=str(REPO), env=environment)
    return notebook


def printed(notebook) -> str:
    return "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )


def test_the_experimental_notebook_runs_the_pipeline_locally(kernel_environment):
    text = printed(executed(REPO / "ml" / "notebooks" / "run_experimental_pipeline.ipynb", kernel_environment))
    assert "Succeeded: test rmse" in text and "model package version 1" in text


def test_the_stable_notebook_runs_locally_then_upserts_into_the_emulator(kernel_environment):
    text = printed(executed(REPO / "ml" / "notebooks" / "run_stable_pipeline.ipynb", kernel_environment))
    assert "Succeeded: test rmse" in text and "model package version 1" in text
    assert "abalone-stable in local" in text
