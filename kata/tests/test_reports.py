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


def test_plain_text_loses_every_escape_code_and_redrawn_lines_become_lines():
    from kata.plain import strip

    keras = "Exception encountered.\n\n\x1b[1mcreate w_query\x1b[0m\n"
    assert strip(keras) == "Exception encountered.\n\ncreate w_query\n"
    assert strip("\x1b]0;title\x07a\x1b[2K\rb\r\n") == "a\nb\n"


def test_a_report_is_made_plain_in_place_and_a_setup_failure_says_so():
    from _pytest._code.code import ReprEntryNative, ReprFileLocation, ReprTraceback
    from _pytest.reports import TestReport

    from kata.plain import plain_report
    from kata.reports import mark_setup_failure

    crash = ReprFileLocation("t.py", 3, "ValueError: \x1b[1mbold\x1b[0m")
    chain = [
        (ReprTraceback([ReprEntryNative(["\x1b[31mline\x1b[0m"])], None, "native"), crash, None)
    ]
    from _pytest._code.code import ExceptionChainRepr

    report = TestReport(
        "t.py::test",
        ("t.py", 3, "test"),
        {},
        "failed",
        ExceptionChainRepr(chain),
        "setup",
        [("Captured stdout setup", "\x1b[1mEpoch\x1b[0m")],
    )
    plain_report(report)
    assert "\x1b" not in str(report.longrepr) and report.sections[0][1] == "Epoch"
    assert mark_setup_failure(report) == "ValueError: bold"
    assert str(report.longrepr).startswith("setup of the test failed: ValueError: bold\n")
    assert report.longrepr.reprcrash.message == "ValueError: bold"  # for the short summary
