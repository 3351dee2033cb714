"""When a step may fork from the warm interpreter, and how a python call is read."""

from __future__ import annotations

from localsage.runner.warm import protocol

WARM = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}


def test_the_same_import_time_variables_allow_a_fork_whatever_else_differs():
    step = {**WARM, "PATH": "/opt/bin", "SM_MODEL_DIR": "/opt/ml/model", "HOME": "/root"}
    assert protocol.fresh_reason(step, WARM) is None


def test_a_thread_count_set_for_the_step_makes_it_fresh():
    reason = protocol.fresh_reason({**WARM, "OMP_NUM_THREADS": "1"}, WARM)
    assert reason == "OMP_NUM_THREADS=1 differs from the warm interpreter's"


def test_an_import_time_variable_the_step_lacks_makes_it_fresh():
    assert protocol.fresh_reason({"PATH": "/usr/bin", "LANG": "C.UTF-8"}, WARM) == (
        "PYTHONUNBUFFERED=(unset) differs from the warm interpreter's"
    )


def test_a_variable_the_job_declares_makes_it_fresh_unless_it_is_the_sagemaker_contract():
    declared = {"SM_CHANNEL_TRAIN": "/opt/ml/input/data/train", "FEATURE_FLAG": "on"}
    step = {**WARM, **declared}
    assert protocol.fresh_reason(step, WARM, declared) == (
        "the job sets FEATURE_FLAG, which a library may read when it is imported"
    )
    assert protocol.fresh_reason(step, WARM, {"SM_CHANNEL_TRAIN": "x", "TRAINING_JOB_NAME": "y"}) is None


def test_only_plain_script_calls_go_warm():
    assert protocol.script_call(["-u", "train.py", "--epochs", "3"]) == (["-u"], "train.py", ["--epochs", "3"], False)
    assert protocol.script_call(["-B", "-u", "a.py"]).flags == ["-B", "-u"]
    for other in (["-c", "print(1)"], ["-m", "pip"], ["--version"], [], ["-u"], ["-X", "dev", "a.py"]):
        assert protocol.script_call(other) is None, other


def test_the_command_server_takes_module_calls_only():
    call = protocol.module_call(["-m", "invoke", "--search-root", "/p", "local-run"])
    assert call == ([], "invoke", ["--search-root", "/p", "local-run"], True)
    for other in (["invoke.py"], ["-m"], ["-c", "pass"], ["-X", "dev", "-m", "invoke"]):
        assert protocol.module_call(other) is None, other
