"""Failure messages: a stub's NotImplementedError in one line, and no library noise."""

from __future__ import annotations

import pytest

from kata.reports import not_implemented_message, without_library_noise


def test_not_implemented_inside_a_tf_function_names_the_learners_function(tmp_path):
    """TensorFlow re-raises an error of a tf.function with the user's frames in its message."""
    target = tmp_path / "exercises"
    message = (
        "in user code:\n\n"
        f'    File "{tmp_path}/exercises/q19_x/ppo.py", line 250, in train  *\n'
        "        actions = act(obs)\n"
        f'    File "{tmp_path}/exercises/q19_x/ppo.py", line 268, in act  *\n'
        '        raise NotImplementedError("sample an action")\n\n'
        "    NotImplementedError: sample an action\n"
    )
    try:
        raise NotImplementedError(message)
    except NotImplementedError:
        excinfo = pytest.ExceptionInfo.from_current()
    assert not_implemented_message(excinfo, target, tmp_path) == (
        "exercises/q19_x/ppo.py:268: `act` is not implemented yet: sample an action"
    )


def test_an_error_outside_the_code_under_test_is_left_as_it_is(tmp_path):
    try:
        raise NotImplementedError("not the learner's")
    except NotImplementedError:
        excinfo = pytest.ExceptionInfo.from_current()
    assert not_implemented_message(excinfo, tmp_path / "exercises", tmp_path) is None


def test_tensorflows_start_up_lines_leave_the_captured_output():
    noise = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1733450000.123456   4242 cpu_feature_guard.cc:210] This TensorFlow binary\n"
    )
    sections = [("Captured stderr call", noise), ("Captured stdout call", noise + "epoch 1\n")]
    assert without_library_noise(sections) == [("Captured stdout call", "epoch 1\n")]
