"""Hidden answer keys and the experiment-first rule (``kata/statements.py``).

A small fake question 1 (no TensorFlow) run by pytest in a subprocess shows the rule: a
statement is judged only once its experiment passes in the same run, whatever selects or skips
the experiment. The real kata, exported, shows the keys' part: in the students' copy a right and
a flipped submission get the same outcomes, messages and points; the grading copy tells them
apart.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO, clean_env, make_fake_kata, needs_tensorflow, run

from kata.export import export, grading_dir_for, strip_exam_keys

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.timeout(600)

PYPROJECT = """\
[tool.pytest.ini_options]
addopts = ["-p", "kata.plugin", "--strict-markers", "--tb=short"]
testpaths = ["tests"]
markers = ["slow: slow"]
timeout = 5
timeout_method = "signal"
"""

STATEMENTS = """
import pytest

from kata.statements import statement_test

# BEGIN EXAM KEY: the true statements
KEY = {"weighted_inputs"}
# STUB: KEY = None
# END EXAM KEY
EXPERIMENT = {
    "weighted_inputs": "test_weights_excite_or_inhibit_in_both_neurons",
    "learning_grows_connections": "test_training_changes_weights_but_not_connections",
    "output_strength": "test_spike_height_is_fixed_while_the_rate_grows",
}

test_statement = statement_test(KEY, EXPERIMENT)


def test_weights_excite_or_inhibit_in_both_neurons(target):
    assert target.weigh(2) == 4, "weigh(2) should be 4"


def test_training_changes_weights_but_not_connections(target):
    assert target.train() == "same"


@pytest.mark.slow
def test_spike_height_is_fixed_while_the_rate_grows(target):
    assert target.spike() == 1
"""

SOLVED = """\
def weigh(x):
    return 2 * x


def train():
    return "same"


def spike():
    return 1


ANSWERS = {answers}
"""
RIGHT = {"weighted_inputs": True, "learning_grows_connections": False, "output_strength": False}
FLIPPED = {key: not value for key, value in RIGHT.items()}


@pytest.fixture
def kata(pytester):
    pytester.makefile(".toml", pyproject=PYPROJECT)
    for folder in ("exercises", "tests"):
        (pytester.path / folder).mkdir()
    (pytester.path / "exercises" / "__init__.py").write_text("")
    (pytester.path / "tests" / "test_q01_neurons.py").write_text(STATEMENTS)
    return pytester


def learner(kata, answers=RIGHT, code=SOLVED, hide_key=False):
    (kata.path / "exercises" / "q01_neurons.py").write_text(code.format(answers=answers))
    if hide_key:
        tests = kata.path / "tests" / "test_q01_neurons.py"
        tests.write_text(strip_exam_keys(tests.read_text()))


def run_fake(kata, *args):
    result = kata.runpytest_subprocess("exercises/", "-rA", *args, "--score-json", "score.json")
    score = json.loads((kata.path / "score.json").read_text())
    jsonschema = pytest.importorskip("jsonschema")
    from kata.score import SCHEMA

    jsonschema.validate(score, json.loads(SCHEMA.read_text()))  # "at grading" is in the contract
    return result, score


def outcomes(score) -> dict[str, str]:
    return {t["nodeid"].split("::")[-1]: t["outcome"] for t in score["tests"]}


def q01(score) -> dict:
    return next(q for q in score["questions"] if q["number"] == 1)


def test_statements_run_after_their_experiments_and_are_judged(kata):
    learner(kata)
    result, score = run_fake(kata, "--slow", "-v")
    assert set(outcomes(score).values()) == {"passed"}
    assert q01(score)["earned"] == 1.5
    order = [
        line.split("::")[1].split(" ")[0]
        for line in result.stdout.lines
        if "test_q01_neurons.py::" in line and ("PASSED" in line or "FAILED" in line)
    ]
    assert order[:3] == [
        "test_weights_excite_or_inhibit_in_both_neurons",
        "test_training_changes_weights_but_not_connections",
        "test_spike_height_is_fixed_while_the_rate_grows",
    ], order
    learner(kata, FLIPPED)
    _, score = run_fake(kata, "--slow")
    assert set(o for name, o in outcomes(score).items() if "statement" in name) == {"failed"}
    assert q01(score)["earned"] == 0


def test_a_statement_whose_experiment_fails_is_unanswered_right_or_wrong(kata):
    broken = SOLVED.replace("return 2 * x", "return x + 1")
    seen = []
    for answers in (RIGHT, FLIPPED):
        learner(kata, answers, code=broken)
        result, score = run_fake(kata, "--slow")
        assert outcomes(score)["test_statement[weighted_inputs]"] == "unanswered"
        text = result.stdout.str()
        assert (
            "the experiment `test_weights_excite_or_inhibit_in_both_neurons` that settles it "
            "has not passed in this run" in text
        )
        assert (
            "pytest exercises/q01_neurons.py::test_weights_excite_or_inhibit_in_both_neurons"
            in text
        )
        assert "says otherwise" not in text.split("test_statement[weighted_inputs]")[1][:600]
        seen.append(outcomes(score)["test_statement[weighted_inputs]"])
    assert seen == ["unanswered", "unanswered"]


def test_a_statement_waits_for_a_slow_experiment_and_for_a_deselected_one(kata):
    learner(kata)
    result, score = run_fake(kata)  # no --slow
    assert outcomes(score)["test_statement[output_strength]"] == "unanswered"
    assert outcomes(score)["test_statement[weighted_inputs]"] == "passed"
    result.stdout.fnmatch_lines(
        ["*is slow and was skipped: run `pytest exercises/q01_neurons.py --slow`*"]
    )
    result, score = run_fake(kata, "--slow", "-k", "statement or training")
    assert outcomes(score)["test_statement[learning_grows_connections]"] == "passed"
    assert outcomes(score)["test_statement[weighted_inputs]"] == "unanswered"
    result.stdout.fnmatch_lines(
        ["*`test_weights_excite_or_inhibit_*` that settles it is not part of this run*"]
    )
    assert q01(score)["earned"] == 0.5  # the unanswered ones cost nothing


def test_a_misspelled_or_missing_key_is_unanswered_and_names_the_valid_keys(kata):
    answers = {"weighted_input": True, "learning_grows_connections": False}
    learner(kata, answers)
    result, score = run_fake(kata, "--slow")
    assert outcomes(score)["test_statement[weighted_inputs]"] == "unanswered"
    assert outcomes(score)["test_statement[output_strength]"] == "unanswered"
    result.stdout.fnmatch_lines(
        [
            "*ANSWERS has no entry 'weighted_inputs'; 'weighted_input' looks like a misspelling"
            " of it*'weighted_inputs', 'learning_grows_connections', 'output_strength'*"
        ]
    )
    assert q01(score)["earned"] == 0.5


STUCK_IN_C = """

def stuck():  # never returns and never runs Python again: like a TensorFlow graph that hangs
    import ctypes

    mutex = ctypes.create_string_buffer(64)
    libc = ctypes.CDLL(None)
    libc.pthread_mutex_lock(mutex)
    libc.pthread_mutex_lock(mutex)
"""


def test_an_experiment_that_passed_before_the_worker_was_replaced_still_counts(kata, monkeypatch):
    monkeypatch.setenv("KATA_HANG_GRACE", "1")
    learner(kata, code=SOLVED + STUCK_IN_C)
    tests = kata.path / "tests" / "test_q01_neurons.py"
    tests.write_text(tests.read_text() + "\n\ndef test_stuck(target):\n    target.stuck()\n")
    result, score = run_fake(kata, "--slow")
    got = outcomes(score)
    assert got["test_stuck"] == "failed"
    result.stdout.fnmatch_lines(["*stuck in compiled code*"])
    # the statements ran in the new worker, after the hang, and were judged all the same
    assert {got[f"test_statement[{key}]"] for key in RIGHT} == {"passed"}


def normalised(text: str) -> str:
    text = re.sub(r"= (True|False)\b", "= <answer>", text)
    return re.sub(r"\bin [\d.]+s\b", "", text)


def test_without_the_key_right_and_flipped_answers_look_the_same(kata):
    runs = []
    for answers in (RIGHT, FLIPPED):
        learner(kata, answers, hide_key=True)
        result, score = run_fake(kata, "--slow")
        runs.append((normalised(result.stdout.str()), outcomes(score), q01(score)))
    (right_text, right, right_row), (flipped_text, flipped, flipped_row) = runs
    assert right == flipped
    assert right["test_statement[weighted_inputs]"] == "at grading"
    assert right_row == flipped_row and right_row["earned"] == 0
    assert right_row["tests"]["at grading"] == 3
    assert right_text == flipped_text
    assert "3 answers judged at grading" in right_text
    assert "SKIPPED [1] tests/test_q01_neurons.py:" in right_text  # where the test is made
    assert "kata/statements.py" not in right_text
    assert "judged at grading: answers worth 1.5 points are recorded but not scored here" in (
        right_text
    )


# --- the real kata, exported --------------------------------------------------------------------

SELECTION = (
    "statement or weights_excite or training_changes or spike_height or definition_of_overfitting"
)


def submission(folder: Path, flipped: bool) -> Path:
    """Questions 1 and 7 of the reference in ``folder``, their answers flipped if asked."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    q01 = (REPO / "solutions" / "q01_neurons.py").read_text()
    q07 = (REPO / "solutions" / "q07_overfitting.py").read_text()
    if flipped:
        start = q01.index("\nANSWERS = {")
        end = q01.index("}", start)
        block = q01[start:end].replace("True", "<T>").replace("False", "True")
        q01 = q01[:start] + block.replace("<T>", "False") + q01[end:]
        q07 = q07.replace('OVERFITTING = "fits_noise"', 'OVERFITTING = "too_many_epochs"')
        assert "too_many_epochs" in q07
    (folder / "q01_neurons.py").write_text(q01)
    (folder / "q07_overfitting.py").write_text(q07)
    return folder


def grade(copy: Path, sub: Path, out: Path):
    done = run(
        copy,
        "python",
        "-m",
        "pytest",
        "tests/test_q01_neurons.py",
        "tests/test_q07_overfitting.py",
        "--target",
        str(sub),
        "-k",
        SELECTION,
        "--slow",
        "--plain",
        "-rA",
        "-p",
        "no:cacheprovider",
        "--score-json",
        str(out),
        env=clean_env(PYTHONPATH=str(copy)),
    )
    score = json.loads(out.read_text())
    return done, score


@needs_tensorflow
def test_the_students_copy_cannot_tell_right_from_flipped_and_the_grading_copy_can(tmp_path):
    homework, _ = export(tmp_path / "homework", REPO, git=False)
    grading = grading_dir_for(homework)
    sub = tmp_path / "submission" / "exercises"  # the same path for both: the same messages

    def seen(done, score):
        text = re.sub(r"= (True|False)\b", "= <answer>", done.stdout)
        text = re.sub(r"'(fits_noise|too_many_epochs)'", "<choice>", text)
        text = re.sub(r"\b[\d.]+s\b", "", text)
        tests = {t["nodeid"]: t["outcome"] for t in score["tests"]}
        rows = {q["number"]: (q["earned"], q["tests"]) for q in score["questions"] if q["ran"]}
        return text, tests, rows, score["earned"], score.get("at_grading_points")

    def graded(copy, flipped):
        submission(sub, flipped)
        return grade(copy, sub, tmp_path / "score.json")

    student = [seen(*graded(homework, flipped)) for flipped in (False, True)]

    diff = "\n".join(difflib.unified_diff(student[0][0].splitlines(), student[1][0].splitlines()))
    assert student[0] == student[1], diff
    text, tests, rows, earned, at_grading = student[0]
    assert earned == 0 and at_grading > 1.5  # Q1's statements and Q7's definition
    assert tests["tests/test_q07_overfitting.py::test_definition_of_overfitting"] == "at grading"
    assert "judged at grading" in text

    scores = [graded(grading, flipped)[1] for flipped in (False, True)]
    by_question = [{q["number"]: q["earned"] for q in s["questions"] if q["ran"]} for s in scores]
    assert by_question[0][1] == 1.5 and by_question[1][1] == 0
    assert by_question[0][7] > 0 and by_question[1][7] == 0
    assert scores[0]["at_grading_points"] == scores[1]["at_grading_points"] == 0
    # what the students' copy left unscored is what the grading copy gave the right answers
    assert at_grading == pytest.approx(by_question[0][1] + by_question[0][7], abs=0.02)


def test_every_statement_names_an_experiment_of_its_own_module():
    """A statement whose experiment is in another module (or renamed) could never be judged."""
    from kata.naming import test_names

    found = 0
    for path in sorted((REPO / "tests").glob("test_q*.py")):
        text = path.read_text()
        if "statement_test(KEY, EXPERIMENT)" not in text:
            continue
        block = re.search(r"^EXPERIMENT = \{.*?^\}", text, re.S | re.M).group(0)
        experiments = set(re.findall(r'"(test_\w+)"', block))
        assert experiments and experiments <= set(test_names(path)), path.name
        found += 1
    assert found == 6  # questions 1, 4, 5, 9, 13 and 15
    q06 = REPO / "tests" / "test_q06_centred_drives.py"
    block = re.search(r"^REASON_EXPERIMENTS = \[.*?^\]", q06.read_text(), re.S | re.M).group(0)
    assert set(re.findall(r'"(test_\w+)"', block)) <= set(test_names(q06))


def test_the_grader_judges_a_statement_by_the_same_rule(tmp_path):
    """``kata.grade`` on a class: right answers with a failing experiment score as unanswered
    (0 for that statement, never minus), flipped answers with passing experiments lose."""
    from kata.grade import grade

    root = make_fake_kata(tmp_path / "kata")
    (root / "tests" / "test_q01_neurons.py").write_text(STATEMENTS)
    room = tmp_path / "submissions"
    broken = SOLVED.replace("return 2 * x", "return x + 1")
    for name, code, answers in (
        ("ann", SOLVED, RIGHT),
        ("ben", broken, RIGHT),
        ("cyd", SOLVED, FLIPPED),
    ):
        (room / name).mkdir(parents=True)
        (room / name / "q01_neurons.py").write_text(code.format(answers=answers))
    out = tmp_path / "gradebook.csv"
    grade(room, out, root=root, jobs=1, slow=True, timeout=120, log=lambda *_: None)
    book = json.loads(out.with_suffix(".json").read_text())
    assert [(s["student"], s["status"]) for s in book["students"]] == [
        ("ann", "graded"),
        ("ben", "graded"),
        ("cyd", "graded"),
    ], book
    q01 = {s["student"]: s["questions"]["q01"] for s in book["students"]}
    assert q01["ann"]["earned"] == 1.5
    assert q01["ben"]["earned"] == 1.0  # two statements right, one waiting for its experiment
    assert (
        q01["ben"]["tests"].get("unanswered") == 1 and not q01["ben"]["tests"].get("failed", 0) - 1
    )
    assert q01["cyd"]["earned"] == 0


def test_answers_at_grading_earn_nothing_cost_nothing_and_are_counted_apart():
    from kata.points import Question
    from kata.score import at_grading_share, question_score, status_text

    question = Question(1, "t/f", 3, negative_marking=True, weights={"test_statement": 1})
    cases = {"test_statement": ["at grading", "at grading", "passed"]}
    assert question_score(question, cases) == (1.0, [])
    assert at_grading_share(question, cases) == 2.0
    row = {"tests": {"at grading": 2, "passed": 1}, "slow_not_run": 0, "partial": False}
    assert status_text(row | {"complete": True}) == (
        "complete: 1/1 tests passed (2 answers judged at grading)"
    )
    only = {"tests": {"at grading": 2}, "slow_not_run": 0, "partial": False, "complete": True}
    assert status_text(only) == "complete: 2 answers judged at grading"


def test_statement_test_judges_each_statement_against_the_set_of_true_ones():
    """The test ``statement_test`` makes: one case per statement, run last, judged by the set of
    true statements; a key that is not such a set stops the module at import."""
    from kata.statements import MARKER, statement_test

    experiments = {"a": "test_a", "b": "test_b"}
    with pytest.raises(TypeError, match="the set of the true statements"):
        statement_test({"a": True, "b": False}, experiments)
    with pytest.raises(ValueError, match=r"\['c'\]"):
        statement_test({"a", "c"}, experiments)
    test = statement_test({"a"}, experiments)
    marks = {mark.name: mark for mark in test.pytestmark}
    assert MARKER in marks and marks["parametrize"].args == ("statement", ["a", "b"])

    class Right:
        ANSWERS = {"a": True, "b": False}

    class Flipped:
        ANSWERS = {"a": False, "b": False}

    test(Right, "a")
    test(Right, "b")
    with pytest.raises(pytest.fail.Exception, match="says otherwise"):
        test(Flipped, "a")
