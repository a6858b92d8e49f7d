"""The learner's loop, end to end: pytest on the fake kata (``conftest.py``), with the kata's
worker process, as a learner runs it.

What needs no run of pytest (rewriting the command line, the score, its table, the hang record)
is tested on its own, in seconds: ``test_arguments.py``, ``test_score.py``, ``test_hangs.py``.
"""

import json
import shutil
import textwrap
import time

import pytest
from conftest import FAKE_PYPROJECT, FAKE_SOLUTIONS, write_fake_questions

from kata.score import SCHEMA as SCORE_SCHEMA

pytest_plugins = ["pytester"]
try:
    import jsonschema
except ImportError:  # then test_score.py skips its schema check too
    jsonschema = None
# Each test runs pytest with a worker process (twice for some); a loaded CI machine needs room.
pytestmark = pytest.mark.timeout(300)

# A call that never returns and never runs Python again in its thread, like a TensorFlow graph
# stuck in a tf.while_loop: a normal mutex locked twice (ctypes releases the GIL).
STUCK_IN_C = """\
import ctypes


def add(a, b):
    mutex = ctypes.create_string_buffer(64)
    libc = ctypes.CDLL(None)
    libc.pthread_mutex_lock(mutex)
    libc.pthread_mutex_lock(mutex)


def sub(a, b):
    return a - b


def invert(m):
    return m
"""

PYTHON_LOOP = """\
def add(a, b):
    while True:
        pass


def sub(a, b):
    return add(a, -b)


def invert(m):
    return m
"""


@pytest.fixture
def kata(pytester, monkeypatch):
    """The fake kata (``conftest.py``), with the kata/ under test on the path."""
    monkeypatch.setenv("KATA_HANG_GRACE", "1")
    pytester.makefile(".toml", pyproject=FAKE_PYPROJECT)
    write_fake_questions(pytester.path)
    return pytester


def solution(name):
    return textwrap.dedent(FAKE_SOLUTIONS[name])


def run(kata, *args, subprocess=False):
    """Run pytest on the fake kata as a learner does; every score it writes follows the schema.

    The tests run in the kata's worker process (pytest-xdist) either way; ``subprocess`` puts
    the run's main process out of this one's too (it must, where the kata may end it).
    """
    runpytest = kata.runpytest_subprocess if subprocess else kata.runpytest_inprocess
    result = runpytest(*args, "--score-json", "score.json")
    score = json.loads((kata.path / "score.json").read_text())
    if jsonschema is not None:
        jsonschema.validate(score, json.loads(SCORE_SCHEMA.read_text()))
    return result, score


def row(score, number):
    return next(q for q in score["questions"] if q["number"] == number)


def earned(score, number):
    return row(score, number)["earned"]


def write(kata, name, text):
    (kata.path / "exercises" / name).write_text(text)


# --- which tests run, against which code ---------------------------------------------------------


def test_solutions_folder_runs_every_test_against_the_reference(kata):
    result, score = run(kata, "solutions/")
    result.assert_outcomes(passed=9, skipped=1)
    assert earned(score, 8) == 3 * 3 / 4 and earned(score, 12) == 4 and earned(score, 1) == 1.5
    assert row(score, 8)["slow_not_run"] == 1 and not row(score, 8)["complete"]
    result.stdout.fnmatch_lines(
        [
            "*Convolution*2.25 / 3*3/4 tests passed (1 slow test not run: add --slow)*",
            "*1 slow test skipped (training, seed sweeps)*",
        ]
    )


def test_one_exercise_file_runs_only_its_question(kata):
    result, score = run(kata, "exercises/q12_params.py")
    result.assert_outcomes(failed=3)
    assert [q["number"] for q in score["questions"] if q["ran"]] == [12]
    assert score["partial_run"] and not row(score, 12)["partial"]
    result.stdout.fnmatch_lines(["*this run covers only part of the exam*pytest exercises/*"])


def test_bare_pytest_means_the_exercises(kata):
    result, score = run(kata, "--all-failures")  # every test runs, on every stub
    assert score["target"] == "exercises"
    result.assert_outcomes(passed=1, failed=8, skipped=1)  # the stub answers s1 already
    # s1 right (+0.5), s2 wrong (-0.5), s3 empty (0): the question scores 0, not below
    assert row(score, 1)["tests"] == {"passed": 1, "failed": 1, "unanswered": 1}
    assert earned(score, 1) == 0
    result.stdout.fnmatch_lines(
        ["next: question 1, Biological and artificial neurons: pytest exercises/q01_neurons.py"]
    )


def test_target_option_accepts_any_folder(kata, tmp_path):
    other = tmp_path / "copy" / "exercises"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("")
    for name in FAKE_SOLUTIONS:
        (other / name).write_text(solution(name))
    result, score = run(kata, "tests/", "--target", str(other))
    result.assert_outcomes(passed=9, skipped=1)
    assert score["target"] == str(other)


def test_mixing_both_folders_is_refused(kata):
    result = kata.runpytest_inprocess("exercises/q08_conv.py", "solutions/q12_params.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*separate runs*"])  # every refusal: test_arguments.py
    assert "exam score" not in result.stdout.str()


def test_one_test_of_an_exercise_can_be_named(kata):
    result, score = run(kata, "exercises/q08_conv.py::test_subtracts")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*`sub` is not implemented yet: subtract b from a"])
    assert row(score, 8)["partial"] and score["partial_run"]


def test_running_inside_the_exercises_folder_targets_it(kata, monkeypatch):
    monkeypatch.chdir(kata.path / "exercises")
    result = kata.runpytest_inprocess("q12_params.py", "--score-json", "../score.json")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*`count` is not implemented yet*"])
    score = json.loads((kata.path / "score.json").read_text())
    assert score["next"]["command"] == "pytest q12_params.py"  # works from where it was run


def test_a_named_file_is_the_one_tested_and_a_stray_file_is_reported_once(kata):
    write(kata, "q08_backup.py", solution("q08_conv.py"))
    result, score = run(kata, "exercises/q08_backup.py")
    result.assert_outcomes(passed=3, skipped=1)
    assert row(score, 8)["file"] == "exercises/q08_backup.py"
    result, score = run(kata, "exercises/")
    assert row(score, 8)["tests"].get("passed", 0) == 0  # the usual file, still a stub
    assert score["next"]["command"] == "pytest exercises/q01_neurons.py"
    notes = [n for n in score["notes"] if "more than one file" in n]
    assert notes == [
        "exercises/ has more than one file for question 8: q08_conv.py was tested, "
        "q08_backup.py was not."
    ]
    assert result.stdout.str().count("more than one file for question 8") == 1


# --- what a learner's mistakes cost ----------------------------------------------------------


def test_not_implemented_is_reported_with_the_stubs_hint(kata):
    result, _ = run(kata, "exercises/q08_conv.py")
    result.stdout.fnmatch_lines(
        ["*exercises/q08_conv.py:8: `add` is not implemented yet: add the two numbers"]
    )


def test_a_syntax_error_fails_only_its_own_question(kata):
    write(kata, "q08_conv.py", "def add(a, b)\n    return a + b\n")
    write(kata, "q12_params.py", solution("q12_params.py"))
    result, score = run(kata, "exercises/")
    result.assert_outcomes(passed=3, failed=3, skipped=1)  # and question 1: not started
    assert earned(score, 12) == 4
    result.stdout.fnmatch_lines(
        ["*exercises/q08_conv.py could not be imported: SyntaxError*line 1*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_an_import_error_names_the_file_and_the_line(kata):
    write(kata, "q12_params.py", "import no_such_module\n")
    result, _ = run(kata, "exercises/q12_params.py")
    result.stdout.fnmatch_lines(
        [
            "*exercises/q12_params.py could not be imported (line 1 of exercises/q12_params.py)*"
            "ModuleNotFoundError*no_such_module*"
        ]
    )


def test_a_missing_function_gets_a_friendly_message(kata):
    write(kata, "q12_params.py", "def counted():\n    return 7\n")
    result, _ = run(kata, "exercises/q12_params.py")
    result.stdout.fnmatch_lines(["*exercises/q12_params.py has no `count`: the task asks for it*"])


def test_library_frames_are_hidden_from_a_traceback(kata):
    write(kata, "q08_conv.py", solution("q08_conv.py"))
    tests = kata.path / "tests" / "test_q08_conv.py"
    tests.write_text(tests.read_text().replace("np.eye(2)", "np.ones((2, 2))"))  # singular
    result, _ = run(kata, "exercises/q08_conv.py::test_inverts")
    out = result.stdout.str()
    assert "LinAlgError" in out and "exercises/q08_conv.py:30: in invert" in out
    assert "site-packages" not in out and "numpy/linalg" not in out


def test_an_endless_loop_costs_one_timeout_and_the_other_questions_still_score(kata):
    write(kata, "q08_conv.py", PYTHON_LOOP)
    write(kata, "q12_params.py", solution("q12_params.py"))
    start = time.perf_counter()
    result, score = run(kata, "exercises/", "--slow")
    elapsed = time.perf_counter() - start
    result.stdout.fnmatch_lines(
        [
            "*Timeout: *within 2 s*line * of exercises/q08_conv.py (in add)*",
            "*`add` did not finish in an earlier test (test_adds*fails at once here*"
            "pytest exercises/q08_conv.py::test_adds",
        ]
    )
    # Count the failure sections' own lines: the short summary repeats each message, in full
    # where pytest sees a CI machine (CI=true) and cut to the terminal's width elsewhere.
    timeouts = [line for line in result.outlines if line.startswith("Timeout: the test did not")]
    assert len(timeouts) == 1, timeouts
    assert earned(score, 12) == 4
    assert elapsed < 2 + 30, "test_subtracts and test_trains call add: they must fail at once"


def test_a_test_stuck_in_compiled_code_is_ended_and_the_run_goes_on(kata):
    write(kata, "q08_conv.py", STUCK_IN_C)
    write(kata, "q12_params.py", solution("q12_params.py"))
    result, score = run(kata, "exercises/", "--slow")
    result.stdout.fnmatch_lines(
        [
            "*test_adds*",
            "*Timeout: the test did not finish within 2 s. It was stuck in compiled code*"
            "called from line 8 of exercises/q08_conv.py (in add)*",
            "*`add` did not finish in an earlier test (test_adds*",  # test_trains, new worker
        ]
    )
    outcomes = {t["test"]: t["outcome"] for t in score["tests"]}
    assert outcomes["test_adds"] == "failed" and outcomes["test_subtracts"] == "passed"
    assert earned(score, 12) == 4, "the questions after the hang ran in a new worker"
    assert score["exit_status"] == 1


def test_without_a_worker_process_a_stuck_test_still_ends_the_run_with_a_score(kata):
    write(kata, "q08_conv.py", STUCK_IN_C)
    result, score = run(kata, "exercises/", "-p", "no:xdist", subprocess=True)
    result.stdout.fnmatch_lines(
        ["*FAILED tests/test_q08_conv.py::test_adds*", "*stuck in compiled code*", "*exam score*"]
    )
    assert {t["test"]: t["outcome"] for t in score["tests"]}["test_adds"] == "failed"
    assert score["partial_run"] and score["exit_status"] == pytest.ExitCode.INTERRUPTED


# --- the score ------------------------------------------------------------------------------


def test_slow_tests_run_with_the_slow_flag(kata):
    result, score = run(kata, "solutions/q08_conv.py", "--slow")
    result.assert_outcomes(passed=4)
    assert row(score, 8)["complete"] and score["slow_skipped"] == 0


def test_a_marker_expression_decides_about_slow_tests(kata):
    result, score = run(kata, "solutions/q08_conv.py", "-m", "not slow")
    result.assert_outcomes(passed=3)
    assert score["slow_skipped"] == 0 and row(score, 8)["partial"]
    assert earned(score, 8) == 3 * 3 / 4  # the slow test did not run: its share is not earned
    result, score = run(kata, "solutions/q08_conv.py", "-m", "slow")
    result.assert_outcomes(passed=1)
    assert earned(score, 8) == 3 / 4


def test_deselected_tests_are_not_failures_and_the_run_says_it_was_partial(kata):
    result, score = run(kata, "solutions/", "-k", "adds or counts and not 3")
    result.assert_outcomes(passed=3)
    assert row(score, 8)["tests"] == {"passed": 1} and row(score, 8)["partial"]
    assert earned(score, 8) == 0.75 and earned(score, 12) == pytest.approx(4 * 2 / 3, abs=0.01)
    assert score["partial_run"] and score["slow_skipped"] == 0
    assert "slow test" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*Convolution*0.75 / 3*part of the question: 1/1 tests passed*"])


def test_tests_that_did_not_run_after_x_are_not_failures(kata):
    result, score = run(kata, "exercises/q08_conv.py", "-x")
    # xdist may run one more test before it stops; the rest did not run
    assert row(score, 8)["tests"]["failed"] >= 1 and row(score, 8)["tests"]["not run"] >= 1
    assert row(score, 8)["partial"] and score["exit_status"] != 0


def test_a_learner_run_has_no_benchmark_header_or_folder(kata):
    result, _ = run(kata, "exercises/q12_params.py")
    assert "benchmark:" not in result.stdout.str()
    assert not (kata.path / ".benchmarks").exists()


# --- what a run prints ----------------------------------------------------------------------

WRONG_SUB = """\
def add(a, b):
    return a + b


def sub(a, b):
    return b - a


def invert(m):
    return m
"""


def test_a_first_run_shows_a_question_not_started_in_one_line_and_the_others_in_full(kata):
    write(kata, "q08_conv.py", WRONG_SUB)  # started: its failures in full
    result, score = run(kata, "exercises/")
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*not started: their tests did not run*",
            "q01 Biological and artificial neurons: not started: open exercises/q01_neurons.py;"
            " 3 tests wait",
            "q12 Counting parameters: not started: open exercises/q12_params.py; 3 tests wait",
            "*exam score*",
            "12  Counting parameters * 0 / 4 * not started (3 tests wait)",
            "next: question 1, *: pytest exercises/q01_neurons.py",
            "*1 failed, 2 passed, 1 skipped, 6 not started*",
        ]
    )
    assert "sub(2, 3) should be -1" in out and "not implemented yet" not in out
    before_score = out.split("exam score")[0]
    assert "test_counts" not in before_score and "test_statement" not in out  # no line per test
    assert result.ret == 1 and score["exit_status"] == 1
    outcomes = {t["nodeid"]: t["outcome"] for t in score["tests"]}
    # the same score as when every test runs (the integrity check: every test fails on a stub)
    _, every = run(kata, "exercises/", "--all-failures")
    assert [earned(score, n) for n in (1, 8, 12)] == [earned(every, n) for n in (1, 8, 12)]
    assert {n for n, o in outcomes.items() if "q12" in n and o == "failed"} == {
        t["nodeid"] for t in every["tests"] if "q12" in t["nodeid"] and t["outcome"] == "failed"
    }


def test_a_named_question_and_a_grading_run_show_every_failure_even_on_a_stub(kata, tmp_path):
    result, _ = run(kata, "exercises/q12_params.py")
    result.assert_outcomes(failed=3)
    assert "not started" not in result.stdout.str()
    copy = tmp_path / "submission" / "exercises"  # as kata.grade and kata.integrity run
    shutil.copytree(kata.path / "exercises", copy)
    assert (copy / ".stubs.json").exists()
    result, score = run(kata, "tests/", "--target", str(copy))
    result.assert_outcomes(passed=1, failed=8, skipped=1)
    assert "not started" not in result.stdout.str()


def test_collecting_only_prints_no_score(kata):
    result = kata.runpytest_inprocess("exercises/", "--collect-only", "-q")
    assert result.ret == 0 and "exam score" not in result.stdout.str()
    assert "test_adds" in result.stdout.str()


def test_a_complete_one_question_run_names_the_next_question(kata):
    write(kata, "q08_conv.py", solution("q08_conv.py"))
    result, score = run(kata, "exercises/q08_conv.py", "--slow")
    out = result.stdout.str()
    assert "complete: 4/4 tests passed" in out
    assert "questions worth 3 of 99 points); run `pytest exercises/` for the whole exam." in out
    assert "not every test of them" not in out
    assert "next: question 12, Counting parameters: pytest exercises/q12_params.py" in out
    assert score["next"]["number"] == 12


SLOW_IMPORT_TESTS = """\
import pytest


@pytest.fixture(scope="session")
def tf():
    import slow_tensorflow  # as TensorFlow's import on a busy machine: past the time limit

    return slow_tensorflow


@pytest.mark.parametrize("n", [1, 2, 3])
def test_with_tensorflow(target, tf, n):
    assert target.count() == 7
"""


def test_a_fixture_that_fails_under_load_says_so_in_each_test_and_in_the_score(kata):
    write(kata, "q12_params.py", solution("q12_params.py"))
    (kata.path / "slow_tensorflow.py").write_text("import time\n\ntime.sleep(30)\n")
    (kata.path / "tests" / "test_q12_params_tf.py").write_text(SLOW_IMPORT_TESTS)
    result, score = run(kata, "exercises/q12_params.py")
    result.assert_outcomes(passed=3, errors=3)
    out = result.stdout.str()
    first = "setup of the test failed: Timeout: the test did not finish within 2 s."
    assert [line.startswith(first) for line in result.outlines].count(True) == 3
    assert earned(score, 12) == 2 and row(score, 12)["tests"] == {"passed": 3, "failed": 3}
    (note,) = [n for n in score["notes"] if "could not start" in n]
    assert note.startswith(f"q12: 3 tests could not start ({first}")
    assert f"note: {note}" in out


ESCAPES_TEST = """\
def test_a_keras_message(target):
    print("\\x1b[1mEpoch 1/1\\x1b[0m \\x1b[32mdone\\x1b[0m")
    raise ValueError(
        "Exception encountered when calling Attention.call().\\n\\n"
        "\\x1b[1mcreate w_query, w_values and v first\\x1b[0m\\n"
    )
"""


@pytest.mark.parametrize("how", ["--plain", "NO_COLOR", None])
def test_plain_mode_removes_every_escape_code_from_messages_and_output(kata, how, monkeypatch):
    (kata.path / "tests" / "test_q08_conv_keras.py").write_text(ESCAPES_TEST)
    monkeypatch.setenv("PY_COLORS", "1")  # as on a terminal: pytest colours its output
    monkeypatch.setenv("TERM", "xterm-256color")
    args = ["exercises/q08_conv.py::test_a_keras_message"]
    if how == "NO_COLOR":
        monkeypatch.setenv("NO_COLOR", "1")
    elif how == "--plain":
        args.append("--plain")
    result, _ = run(kata, *args, subprocess=True)
    out = result.stdout.str()
    assert "create w_query, w_values and v first" in out and "Epoch 1/1 done" in out.replace(
        "\x1b[1m", ""
    ).replace("\x1b[0m", "").replace("\x1b[32m", "")
    if how is None:
        assert "\x1b[1mcreate w_query" in out  # so that the plain runs can fail
    else:
        assert "\x1b" not in out, [line for line in out.splitlines() if "\x1b" in line]
