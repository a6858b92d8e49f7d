"""A ``tf.function`` that never finishes, run as a learner runs the kata: the first timeout
names the learner's function and the line of its loop, and the question's other tests that call
it fail at once (in a new worker), while a call that fails before the graph runs (a check at
tracing) behaves as usual. Without a worker the run stops, and says so once."""

import json
import re

import pytest
from conftest import (
    FAKE_PYPROJECT,
    REPO,
    clean_env,
    needs_tensorflow,
    run,
    write_fake_questions,
)

pytest_plugins = ["pytester"]
pytestmark = [needs_tensorflow, pytest.mark.timeout(300)]

ENDLESS_GRAPH = """\
import tensorflow as tf


@tf.function
def add(a, b):
    if not isinstance(a, int):
        raise TypeError("add takes whole numbers")  # checked at tracing, before the graph runs
    total = tf.constant(a + b)
    while total > 0:  # a tensor while: a tf.while_loop in the graph, endless for a + b > 0
        total = total * 1
    return total


def sub(a, b):
    return a - b


def invert(m):
    return m
"""
LOOP_LINE = 9

TESTS = """\
import pytest


def test_adds(target, tf):
    assert int(target.add(2, 3)) == 5


def test_subtracts(target, tf):
    assert target.sub(2, 3) == -1


def test_inverts(target, tf):  # a check at tracing raises as usual after the hang
    with pytest.raises(TypeError):
        target.add(2.5, 1)


@pytest.mark.slow
def test_trains(target, tf):
    assert int(target.add(1, 1)) == 2
"""


@pytest.fixture
def kata(pytester, monkeypatch):
    """The fake kata (``conftest.py``) with a question 8 whose ``add`` is an endless graph."""
    monkeypatch.setenv("KATA_HANG_GRACE", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    pytester.makefile(".toml", pyproject=FAKE_PYPROJECT)
    write_fake_questions(pytester.path)
    (pytester.path / "exercises" / "q08_conv.py").write_text(ENDLESS_GRAPH)
    (pytester.path / "tests" / "test_q08_conv.py").write_text(TESTS)
    return pytester


def durations(result) -> dict[str, float]:
    """Each test's call duration, from ``--durations=0``."""
    found = {}
    for line in result.outlines:
        match = re.match(r"\s*([\d.]+)s call\s+\S+::(\w+)", line)
        if match:
            found[match[2]] = float(match[1])
    return found


def test_a_compiled_loop_costs_one_timeout_that_names_the_function_and_its_line(kata):
    result = kata.runpytest_subprocess(
        "exercises/q08_conv.py", "--slow", "--durations=0", "--durations-min=0"
    )
    result.stdout.fnmatch_lines(
        [
            "*Timeout: the test did not finish within 2 s. It was stuck in `add`, compiled "
            "into a TensorFlow graph (a tf.function) that cannot be interrupted, at line "
            f"{LOOP_LINE} of exercises/q08_conv.py (in add). An endless loop in a compiled*"
            " The test process was replaced and the other tests went on.",
            "*`add` did not finish in an earlier test (test_adds: no result within 2 s, at line "
            f"{LOOP_LINE} of exercises/q08_conv.py (in add)), so its graph is not run again: it "
            "fails at once here. Fix that endless loop first: pytest exercises/q08_conv.py::"
            "test_adds",
        ]
    )
    # the failure sections' own lines (the short summary repeats each message, cut or not)
    timeouts = [line for line in result.outlines if line.startswith("Timeout: the test did not")]
    assert len(timeouts) == 1, timeouts
    result.assert_outcomes(passed=2, failed=2)  # test_subtracts; test_inverts' TypeError
    assert durations(result)["test_trains"] < 1.0, "well under the 2 s limit: it fails at once"


def test_without_a_worker_a_compiled_loop_stops_the_run_and_says_so_once(kata):
    result = kata.runpytest_subprocess("exercises/q08_conv.py", "-p", "no:xdist")
    out = result.stdout.str()
    assert f"at line {LOOP_LINE} of exercises/q08_conv.py (in add)" in out
    assert "The run stops here" in out
    assert "went on" not in out and "was replaced" not in out


LIBRARY_GRAPH = """\
def step(x):
    while x > 0.0:  # compiled into the library's graph: a tf.while_loop
        x = x * 1.0
    return x
"""

WATCH_A_LIBRARY_GRAPH = """\
import json, os, sys, threading, time
from pathlib import Path

from kata.hangs import Watchdog
from kata.loading import import_target, import_tensorflow_quietly

tf = import_tensorflow_quietly()
root = Path.cwd()
module = import_target(root / "exercises", root / "exercises" / "q08_conv.py")
library = tf.function(lambda x: module.step(x))  # a library's tf.function, not the learner's
dog = Watchdog(root / "exercises", root, lambda h: None, lambda n, h: None)
main = threading.get_ident()


def watch():
    time.sleep(3)
    hang = dog.record("tests/test_q08_conv.py::test_x", 1.0, sys._current_frames()[main], False)
    print(json.dumps(hang.to_json()), flush=True)
    os._exit(0)


threading.Thread(target=watch, daemon=True).start()
library(tf.constant(1.0))
"""


def test_a_loop_compiled_into_a_librarys_graph_is_named_by_its_line(tmp_path):
    """Keras's ``fit`` compiles the learner's code into a ``tf.function`` of its own: the
    watchdog finds the learner's loop in the graph that runs, by the line autograph recorded."""
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "q08_conv.py").write_text(LIBRARY_GRAPH)
    (tmp_path / "watch.py").write_text(WATCH_A_LIBRARY_GRAPH)
    done = run(tmp_path, "python", "watch.py", env=clean_env(PYTHONPATH=str(REPO)), timeout=120)
    hang = json.loads(done.stdout.strip().splitlines()[-1])
    assert hang["where"] == "line 2 of exercises/q08_conv.py (in step)"
    assert hang["functions"][0] == ["exercises.q08_conv", "step"]
    assert "It was stuck in `step`, compiled into a TensorFlow graph" in hang["message"]
