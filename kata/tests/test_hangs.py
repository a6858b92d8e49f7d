"""A test that hangs: the record that crosses processes, its message, and the functions that then
fail at once. (The time limits themselves run end to end in ``test_plugin.py``.)"""

from __future__ import annotations

import json
import re
import signal
import sys
import time

import pytest

from kata.hangs import Hang, Watchdog, timeout_message
from kata.loading import import_target
from kata.standins import StandIns, hung_message

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
def learners_module(tmp_path):
    """Import a learner's ``exercises/q08_conv.py`` with the given text from its own folder."""

    def ours(name):
        return name == "exercises" or name.startswith("exercises.")

    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    exercises = tmp_path / "exercises"
    exercises.mkdir()

    def load(text):
        (exercises / "q08_conv.py").write_text(text)
        return import_target(exercises, exercises / "q08_conv.py")

    yield load
    for name in [name for name in sys.modules if ours(name)]:
        del sys.modules[name]
    sys.modules.update(saved)


@pytest.fixture
def learner(learners_module):
    """A learner's module with a nested call."""
    return learners_module(LOOP)


def standins(tmp_path, hangs=None) -> StandIns:
    command = lambda question, test: f"pytest q{question:02d}::{test}"  # noqa: E731
    return StandIns(tmp_path / "exercises", hangs if hangs is not None else [], command)


def watchdog(tmp_path, on_hang=lambda hang: None) -> Watchdog:
    return Watchdog(tmp_path / "exercises", tmp_path, on_hang, lambda nodeid, hang: None)


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
    standins(tmp_path, [hang]).apply(learner)
    with pytest.raises(pytest.fail.Exception, match=r"`Net.fit` did not finish.*q08::test_adds$"):
        learner.Net().fit()
    with pytest.raises(pytest.fail.Exception, match="`spin` did not finish"):
        learner.spin()


# --- after a Python loop: a later call fails at once only in the same loop ------------------

LOOPS = """\
import time


def total(values, padding="valid", wait=0.0):
    if padding not in ("valid", "same"):
        raise ValueError(f"unknown padding {padding!r}")
    time.sleep(wait)  # work before the loop, longer than a stand-in's short limit
    result, i = 0, 0
    while i < len(values):
        result += values[i]
        i += values[i] > 0  # a zero never moves on: an endless loop
    return result


def make_counter(step):
    def count(n):
        i = 0
        while i != n:
            i += step
        return i

    return count
"""


class Caught(BaseException):
    def __init__(self, hang):
        self.hang = hang


def hang_now(tmp_path, call, seconds: float = 0.4) -> Hang:
    """Run ``call`` until a SIGALRM after ``seconds``, as the time limit does; the hang, which
    later calls meet as a stand-in."""
    dog = watchdog(tmp_path)

    def handler(signum, frame):
        raise Caught(dog.record("tests/test_q08_conv.py::test_x[1]", seconds, frame, True))

    saved_handler = signal.signal(signal.SIGALRM, handler)
    saved_time = signal.setitimer(signal.ITIMER_REAL, seconds)[0]  # the test's own limit
    try:
        call()
    except Caught as caught:
        hang = caught.hang
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, saved_handler)
        if saved_time:
            signal.setitimer(signal.ITIMER_REAL, saved_time)
    standins(tmp_path).add(hang)
    return hang


def timed(call):
    start = time.perf_counter()
    try:
        return call(), time.perf_counter() - start
    except BaseException as exc:  # noqa: BLE001
        return exc, time.perf_counter() - start


needs_sigalrm = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no SIGALRM here")


@needs_sigalrm
def test_after_a_python_loop_a_call_fails_at_once_only_when_it_is_in_that_loop(
    learners_module, tmp_path
):
    module = learners_module(LOOPS)
    hang = hang_now(tmp_path, lambda: module.total([1, 0, 2]))
    assert re.fullmatch(r"line (9|10|11) of exercises/q08_conv.py \(in total\)", hang.where)
    assert hang.loop == ["exercises.q08_conv", "total", 9, 11]
    # the padding check comes before the loop: the call raises as it would have
    with pytest.raises(ValueError, match="unknown padding 'full'"):
        module.total([1, 0], padding="full")
    # a case the loop handles, and work elsewhere for longer than the short limit (0.1 s)
    assert module.total([1, 2]) == 3
    assert timed(lambda: module.total([4], wait=0.3))[0] == 4
    # the same loop again: a failure that names the earlier test, after the short limit
    failure, seconds = timed(lambda: module.total([0]))
    assert isinstance(failure, pytest.fail.Exception)
    assert str(failure).startswith(
        f"`total` did not finish in an earlier test (test_x[1]: no result within 0.4 s, at "
        f"{hang.where}), and here it was in the same loop again after "
    )
    assert str(failure).endswith("Fix that endless loop first: pytest q08::test_x")
    assert seconds < 0.4, "a quarter of the time limit at most"


@needs_sigalrm
def test_a_made_function_that_hung_is_watched_in_what_its_maker_returns(learners_module, tmp_path):
    module = learners_module(LOOPS)
    hang = hang_now(tmp_path, lambda: module.make_counter(0)(3))
    assert hang.functions[0] == ("exercises.q08_conv", "make_counter.<locals>.count")
    assert module.make_counter(1)(3) == 3, "the maker still works, and so does a good count"
    failure, seconds = timed(lambda: module.make_counter(0)(3))
    assert isinstance(failure, pytest.fail.Exception), failure
    assert str(failure).startswith("`count` (made in `make_counter`) did not finish")
    assert seconds < 0.4
