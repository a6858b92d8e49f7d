"""The learner's loop, end to end: pytest on the fake kata (``conftest.py``), with the kata's
worker process, as a learner runs it.

What needs no run of pytest (rewriting the command line, the score, its table, the hang record)
is tested on its own, in seconds: ``test_arguments.py``, ``test_score.py``, ``test_hangs.py``.
"""

import json
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
    result, score = run(kata)
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
    result.assert_outcomes(passed=4, failed=5, skipped=1)
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
