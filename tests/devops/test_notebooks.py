"""ml/notebooks: plain SageMaker SDK code, committed without outputs, executed headless against the emulator.

Each notebook runs in a real Jupyter kernel started in ml/notebooks (as Jupyter starts it), with the variables
`./dev emulator.env` prints for a private emulator (its own state folder, so "version 1" means a fresh
registry). The same notebook, without those variables, runs in AWS.
"""

from __future__ import annotations

import os

import nbformat
import pytest
from devops_support import REPO
from nbclient import NotebookClient

from localsage.adapters import aws
from localsage.adapters.emulators.selection import for_project

NOTEBOOKS = sorted((REPO / "ml" / "notebooks").glob("*.ipynb"))
SDK_CALLS = ("pipeline.upsert(", "pipeline.start(", "execution.wait(", "execution.list_steps(")
# A cell waits on a whole pipeline run; this only keeps a hung kernel from hanging the suite.
CELL_TIMEOUT_S = 900


def test_both_notebooks_exist():
    assert [path.name for path in NOTEBOOKS] == ["run_experimental_pipeline.ipynb", "run_stable_pipeline.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_is_plain_sdk_code_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), "strip the outputs"
    source = "\n".join(cell.source for cell in code)
    assert all(call in source for call in SDK_CALLS)
    imported = {
        line.split()[1] for line in source.splitlines() if line.startswith(("from localsage", "import localsage"))
    }
    assert imported == {"localsage.facts.config"}, "only the project's names come from the toolkit"
    assert "AWS_ENDPOINT_URL" not in source and "localhost" not in source, "where it runs is the environment's choice"


@pytest.fixture(scope="module")
def kernel_environment(tmp_path_factory):
    """The variables `./dev emulator.env` prints, for an emulator on a private state folder (stopped after)."""
    state = tmp_path_factory.mktemp("notebook-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCALSAGE_STATE_DIR", str(state))
        emulator = for_project(REPO, say=lambda message: None)
        endpoint = emulator.endpoint()
        environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        environment.update(aws.client_environment(endpoint, "us-east-1", state))
        environment.update(LOCALSAGE_STATE_DIR=str(state))
        yield environment
        emulator.down()


def executed(path, environment) -> str:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3").execute(
        cwd=str(path.parent), env=environment
    )
    return "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_runs_its_pipeline_on_this_machine(kernel_environment, path):
    text = executed(path, kernel_environment)
    assert "Succeeded: test rmse" in text and "model package version 1" in text
