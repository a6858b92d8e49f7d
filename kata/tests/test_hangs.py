"""A test that hangs: the record that crosses processes, its message, and the functions that then
fail at once. (The time limits themselves run end to end in ``test_plugin.py``.)"""

from __future__ import annotations

import json
import sys

import pytest

from kata.hangs import Hang, Watchdog, hung_message, timeout_message
from kata.loading import import_target

LOOP = """\
import sys


class Net:
    def fit(self):
        return spin()


def spin():
    return sys._getframe()  # where a SIGALRM would find the learner's code
"""


def a_hang(**changes) -> Hang:
    fields = dict(
        question=8,
        nodeid="tests/test_q08_conv.py::test_adds[2-3]",
        test="test_adds[2-3]",
        seconds=2.0,
        where="line 3 of exercises/q08_conv.py (in add)",
        functions=[("exercises.q08_conv", "add"), ("exercises.q08_conv", "Net.fit")],
        message="Timeout: ...",
        inside_python=False,
    )
    return Hang(**{**fields, **changes})


def test_a_hang_survives_the_trip_through_json():
    hang = a_hang()
    data = json.loads(json.dumps(hang.to_json()))
    assert set(data) == {
        "question", "nodeid", "test", "seconds", "where", "functions", "message", "inside_python",
        "compiled", "loop",
    }  # fmt: skip
    assert Hang.from_json(data) == hang


@pytest.mark.parametrize(
    "inside_python, where, expected",
    [
        (
            True,
            "line 3 of exercises/q08_conv.py (in add)",
            "Timeout: the test did not finish within 2 s. It was running line 3 of "
            "exercises/q08_conv.py (in add). An endless loop? Check the loop's exit condition.",
        ),
        (True, "", "Timeout: the test did not finish within 2 s. An endless loop? Check"),
        (
            False,
            "line 3 of exercises/q08_conv.py (in add)",
            "Timeout: the test did not finish within 2 s. It was stuck in compiled code that "
            "cannot be interrupted (a TensorFlow graph, or another C extension), called from "
            "line 3 of exercises/q08_conv.py (in add). An endless loop in a compiled function?",
        ),
    ],
    ids=["python", "python-elsewhere", "compiled"],
)
def test_the_timeout_message_says_where_and_what_to_check(inside_python, where, expected):
    assert timeout_message(2.0, where, inside_python).startswith(expected)


def test_a_function_that_hung_before_names_the_test_and_the_command():
    text = hung_message("add", a_hang(), "pytest exercises/q08_conv.py::test_adds")
    assert text == (
        "`add` did not finish in an earlier test (test_adds[2-3]: no result within 2 s, at "
        "line 3 of exercises/q08_conv.py (in add)), so it fails at once here. Fix that endless "
        "loop first: pytest exercises/q08_conv.py::test_adds"
    )


@pytest.fixture
def learner(tmp_path):
    """A learner's module with a nested call, imported from its own exercises/ folder."""

    def ours(name):
        return name == "exercises" or name.startswith("exercises.")

    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "q08_conv.py").write_text(LOOP)
    yield import_target(exercises, exercises / "q08_conv.py")
    for name in [name for name in sys.modules if ours(name)]:
        del sys.modules[name]
    sys.modules.update(saved)


def watchdog(tmp_path, hangs=None) -> Watchdog:
    return Watchdog(
        tmp_path / "exercises",
        tmp_path,
        hangs if hangs is not None else [],
        command=lambda question, test: f"pytest q{question:02d}::{test}",
        on_stuck=lambda nodeid, hang: None,
    )


def test_the_record_names_the_learners_functions_innermost_first(learner, tmp_path):
    frame = learner.Net().fit()
    hang = watchdog(tmp_path).record(
        "tests/test_q08_conv.py::test_fits", 2.0, frame, inside_python=True
    )
    assert hang.question == 8 and hang.test == "test_fits"
    assert hang.functions == [("exercises.q08_conv", "spin"), ("exercises.q08_conv", "Net.fit")]
    assert hang.where == "line 10 of exercises/q08_conv.py (in spin)"
    assert hang.message == timeout_message(2.0, hang.where, True)


def test_functions_that_hung_fail_at_once_in_every_later_test(learner, tmp_path):
    hang = a_hang(functions=[("exercises.q08_conv", "spin"), ("exercises.q08_conv", "Net.fit")])
    watchdog(tmp_path, [hang]).apply(learner)
    with pytest.raises(pytest.fail.Exception, match=r"`Net.fit` did not finish.*q08::test_adds$"):
        learner.Net().fit()
    with pytest.raises(pytest.fail.Exception, match="`spin` did not finish"):
        learner.spin()
