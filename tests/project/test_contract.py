"""What ml/pipeline.py must provide: a get_pipeline(...) that takes the toolkit's keyword arguments."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import REPO

from localsage.errors import UserError
from localsage.project import contract


def module_with(source: str) -> SimpleNamespace:
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - the tests' own one-liners
    return SimpleNamespace(**{k: v for k, v in namespace.items() if not k.startswith("__")})


ALL = ", ".join(contract.BUILD_ARGUMENTS)


def test_the_projects_own_pipeline_fulfils_the_contract(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the SDK needs a region when it is imported
    contract.load(REPO)


def test_a_template_style_signature_with_kwargs_is_accepted():
    contract.check(module_with("def get_pipeline(**arguments): pass"), "ml/pipeline.py")


def test_no_get_pipeline_is_one_line_naming_the_file():
    with pytest.raises(UserError, match=r"ml/pipeline.py: defines no get_pipeline\(...\): the workbench calls it with"):
        contract.check(module_with("x = 1"), "ml/pipeline.py")


def test_an_argument_it_does_not_accept_is_named():
    accepted = ", ".join(name for name in contract.BUILD_ARGUMENTS if name != "tags")
    source = f"def get_pipeline(*, {accepted}): pass"
    with pytest.raises(UserError, match=r"get_pipeline\(...\) does not accept tags: add them"):
        contract.check(module_with(source), "ml/pipeline.py")


def test_a_required_argument_the_toolkit_does_not_pass_needs_a_default():
    source = f"def get_pipeline(*, {ALL}, learning_rate): pass"
    with pytest.raises(
        UserError, match=r"requires learning_rate, which the workbench does not pass: give it a default"
    ):
        contract.check(module_with(source), "ml/pipeline.py")
    contract.check(module_with(f"def get_pipeline(*, {ALL}, learning_rate=0.1): pass"), "ml/pipeline.py")


def test_a_missing_pipeline_file_says_what_to_do(tmp_path):
    with pytest.raises(UserError, match=r"ml/pipeline.py is missing: it defines get_pipeline"):
        contract.load(tmp_path)
