"""The learner's loop, end to end, on a small fake kata run in a pytest subprocess."""

import json
import textwrap

import pytest

pytest_plugins = ["pytester"]

PYPROJECT = """\
[tool.pytest.ini_options]
addopts = ["-p", "kata.plugin", "--tb=short"]
testpaths = ["tests"]
markers = ["slow: slow"]
timeout = 2
timeout_method = "signal"
"""

TESTS = {
    "test_q08_conv.py": """
        import pytest

        def test_adds(target):
            assert target.add(2, 3) == 5, f"called add(2, 3), returned {target.add(2, 3)}"

        def test_subtracts(target):
            assert target.sub(2, 3) == -1

        @pytest.mark.slow
        def test_trains(target):
            assert target.add(1, 1) == 2
    """,
    "test_q12_params.py": """
        def test_counts(target):
            assert target.count() == 7
    """,
    "test_q01_neurons.py": """
        import pytest
        from kata.testing import unanswered

        @pytest.mark.parametrize("name", ["s1", "s2", "s3"])
        def test_statement(target, name):
            answer = target.ANSWERS[name]
            if answer is None:
                unanswered(name)
            assert answer is True
    """,
}

SOLUTIONS = {
    "q08_conv.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "q12_params.py": "def count():\n    return 7\n",
    "q01_neurons.py": "ANSWERS = {'s1': True, 's2': True, 's3': True}\n",
}

STUBS = {
    "q08_conv.py": "def add(a, b):\n    raise NotImplementedError('add them')\n\n\n"
    "def sub(a, b):\n    raise NotImplementedError('subtract')\n",
    "q12_params.py": "def count():\n    raise NotImplementedError('count them')\n",
    "q01_neurons.py": "ANSWERS = {'s1': True, 's2': False, 's3': None}\n",
}


@pytest.fixture
def kata(pytester):
    pytester.makefile(".toml", pyproject=PYPROJECT)
    for folder, files in (("solutions", SOLUTIONS), ("exercises", STUBS)):
        (pytester.path / folder).mkdir()
        (pytester.path / folder / "__init__.py").write_text("")
        for name, text in files.items():
            (pytester.path / folder / name).write_text(text)
    (pytester.path / "tests").mkdir()
    for name, text in TESTS.items():
        (pytester.path / "tests" / name).write_text(textwrap.dedent(text))
    return pytester


def run(kata, *args):
    result = kata.runpytest_subprocess(*args, "--score-json", "score.json")
    score = json.loads((kata.path / "score.json").read_text())
    return result, score


def earned(score, number):
    return next(q["earned"] for q in score["questions"] if q["number"] == number)


def test_solutions_folder_runs_every_test_against_the_reference(kata):
    result, score = run(kata, "solutions/")
    result.assert_outcomes(passed=6, skipped=1)
    assert (
        earned(score, 8) == 2 and earned(score, 12) == 4
    )  # the slow third did not run and earned(score, 1) == 1.5
    result.stdout.fnmatch_lines(["*exam score*", "*1 slow tests (training) were skipped*"])


def test_one_exercise_file_runs_only_its_question(kata):
    result, score = run(kata, "exercises/q12_params.py")
    result.assert_outcomes(failed=1)
    assert [q["number"] for q in score["questions"] if q["ran"]] == [12]
    assert score["partial_run"]
    result.stdout.fnmatch_lines(["*this run covers only the questions above*"])


def test_bare_pytest_means_the_exercises(kata):
    result, score = run(kata)
    assert score["target"].endswith("exercises")
    result.assert_outcomes(passed=1, failed=5, skipped=1)  # the stub answers s1 already


def test_not_implemented_is_reported_with_the_stubs_hint(kata):
    result, _ = run(kata, "exercises/q08_conv.py")
    result.stdout.fnmatch_lines(
        ["*exercises/q08_conv.py:2: `add` is not implemented yet: add them"]
    )


def test_a_syntax_error_fails_only_its_own_question(kata):
    (kata.path / "exercises" / "q08_conv.py").write_text("def add(a, b)\n    return a + b\n")
    (kata.path / "exercises" / "q12_params.py").write_text(SOLUTIONS["q12_params.py"])
    result, score = run(kata, "exercises/")
    result.assert_outcomes(passed=2, failed=4, skipped=1)
    assert earned(score, 12) == 4
    result.stdout.fnmatch_lines(
        ["*exercises/q08_conv.py could not be imported: SyntaxError*line 1*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_an_import_error_names_the_file_and_the_line(kata):
    (kata.path / "exercises" / "q12_params.py").write_text("import no_such_module\n")
    result, _ = run(kata, "exercises/q12_params.py")
    result.stdout.fnmatch_lines(
        [
            "*exercises/q12_params.py could not be imported (line 1 of exercises/q12_params.py)*"
            "ModuleNotFoundError*no_such_module*"
        ]
    )


def test_a_missing_function_gets_a_friendly_message(kata):
    (kata.path / "exercises" / "q12_params.py").write_text("def counted():\n    return 7\n")
    result, _ = run(kata, "exercises/q12_params.py")
    result.stdout.fnmatch_lines(["*exercises/q12_params.py has no `count`: the task asks for it*"])


def test_an_endless_loop_times_out_and_the_other_questions_still_score(kata):
    (kata.path / "exercises" / "q08_conv.py").write_text(
        "def add(a, b):\n    while True:\n        pass\n\n\n"
        "def sub(a, b):\n    while True:\n        pass\n"
    )
    (kata.path / "exercises" / "q12_params.py").write_text(SOLUTIONS["q12_params.py"])
    result, score = run(kata, "exercises/")
    result.stdout.fnmatch_lines(["*Timeout*line 2 of exercises/q08_conv.py (in add)*"])
    assert earned(score, 12) == 4


def test_slow_tests_run_with_the_slow_flag(kata):
    result, _ = run(kata, "solutions/q08_conv.py", "--slow")
    result.assert_outcomes(passed=2 + 1)


def test_true_false_answers_are_marked_negatively(kata):
    result, score = run(kata, "exercises/q01_neurons.py")
    # s1 right (+0.5), s2 wrong (-0.5), s3 empty (0): the question scores 0, not below
    q1 = next(q for q in score["questions"] if q["number"] == 1)
    assert q1["tests"] == {"passed": 1, "failed": 1, "unanswered": 1}
    assert q1["earned"] == 0
    (kata.path / "exercises" / "q01_neurons.py").write_text(
        "ANSWERS = {'s1': True, 's2': True, 's3': None}\n"
    )
    _, score = run(kata, "exercises/q01_neurons.py")
    assert earned(score, 1) == pytest.approx(1.0)


def test_next_step_names_the_first_incomplete_question_and_its_command(kata):
    (kata.path / "exercises" / "q01_neurons.py").write_text(SOLUTIONS["q01_neurons.py"])
    result, score = run(kata, "exercises/")
    assert score["next"] == {
        "number": 8,
        "title": "Convolution",
        "command": "pytest exercises/q08_conv.py",
    }
    result.stdout.fnmatch_lines(["next: question 8, Convolution: pytest exercises/q08_conv.py"])


def test_target_option_accepts_any_folder(kata, tmp_path):
    other = tmp_path / "copy" / "exercises"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("")
    for name, text in SOLUTIONS.items():
        (other / name).write_text(text)
    result, _ = run(kata, "tests/", "--target", str(other))
    result.assert_outcomes(passed=6, skipped=1)


def test_mixing_both_folders_is_refused(kata):
    result = kata.runpytest_subprocess("exercises/q08_conv.py", "solutions/q12_params.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*separate runs*"])


def test_one_test_of_an_exercise_can_be_named(kata):
    result, score = run(kata, "exercises/q08_conv.py::test_subtracts")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*`sub` is not implemented yet: subtract"])


def test_running_inside_the_exercises_folder_targets_it(kata, monkeypatch):
    monkeypatch.chdir(kata.path / "exercises")
    result = kata.runpytest_subprocess("q12_params.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*`count` is not implemented yet*"])
