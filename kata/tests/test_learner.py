"""The learner's loop: hints kept in the solutions and shown one at a time, plain output, the
"all done" line; end to end on a fresh clone of a fake kata (and of the real one, with TF)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, clean_env, git, make_fake_kata, needs_tensorflow, run, solve

from kata.fences import FenceError
from kata.stubs import extract_hints

pytestmark = pytest.mark.timeout(900)


# --- hints in the solution files -------------------------------------------------------------


def test_hints_belong_to_the_function_whose_region_holds_them():
    source = textwrap.dedent(
        '''\
        class Agent:
            def act(self, x):
                """Doc."""
                # BEGIN SOLUTION: act
                # HINT: Look at x first.
                # HINT: Then return it,
                #   twice.
                # a plain comment, not a hint
                return x
                # END SOLUTION


        def make_act():
            def act(x):
                """Doc."""
                # BEGIN SOLUTION: inner
                # HINT: Nested.
                # HINT: Still nested.
                return x
                # END SOLUTION

            return act


        # BEGIN SOLUTION: answer
        # HINT: Measure it.
        ANSWERS = {"a": True}
        # STUB: ANSWERS = {"a": None}
        CAUSE = "b"
        # STUB: CAUSE = None
        # END SOLUTION
        '''
    )
    assert extract_hints(source) == {
        "Agent.act": ["Look at x first.", "Then return it, twice."],
        "make_act.act": ["Nested.", "Still nested."],
        "ANSWERS": ["Measure it."],
        "CAUSE": ["Measure it."],
    }


def test_a_failure_in_a_nested_function_finds_its_hints_or_those_around_it(tmp_path):
    from kata.hints import HintBook

    (tmp_path / "exercises").mkdir()
    hints = {"q19_x/ppo.py": {"make_act.act": ["a"], "train": ["b"]}}
    (tmp_path / "exercises" / ".hints.json").write_text(json.dumps(hints))
    book = HintBook(tmp_path, "next")
    book.add([["q19_x/ppo.py", "make_act.act"], ["q19_x/ppo.py", "train.step"]])
    assert book.failing == [("q19_x/ppo.py", "make_act.act"), ("q19_x/ppo.py", "train")]
    with pytest.raises(FenceError, match="an empty hint"):
        extract_hints(
            "def f():\n    # BEGIN SOLUTION: a\n    # HINT:\n    pass\n    # END SOLUTION\n"
        )


def test_the_hint_line_names_each_failing_function_once_in_order(tmp_path):
    from kata.hints import HintBook

    (tmp_path / "exercises").mkdir()
    hints = {f"q0{n}_x.py": {"ANSWERS": ["a"], f"f{n}": ["b"]} for n in (1, 4, 6)}
    (tmp_path / "exercises" / ".hints.json").write_text(json.dumps(hints))
    book = HintBook(tmp_path, None)
    book.add([["q01_x.py", "ANSWERS"], ["q04_x.py", "ANSWERS"], ["q04_x.py", "f4"]])
    book.add([["q06_x.py", "ANSWERS"], ["q01_x.py", "f1"]])
    assert book.lines() == ["stuck? add --hint for a nudge on `ANSWERS`, `f4`, `f1`"]
    book.add([["q06_x.py", "f6"], ["q06_x.py", "f6"]])
    book.add([["q04_x.py", "f4"]])
    assert book.lines() == ["stuck? add --hint for a nudge on `ANSWERS`, `f4`, `f1`, `f6`"]


def test_stubs_never_show_the_hints_and_the_hints_file_is_in_sync():
    hints = json.loads((REPO / "exercises" / ".hints.json").read_text())
    for question in ("q03_backprop.py", "q08_convolution.py", "q12_parameters.py"):
        assert hints[question], f"{question} has no hints"
        assert "# HINT:" not in (REPO / "exercises" / question).read_text()
        assert "# HINT:" in (REPO / "solutions" / question).read_text()
    done = run(REPO, "python", "-m", "kata.stubs", "--check")
    assert done.returncode == 0, done.stdout


def test_every_solution_region_of_every_question_has_graded_hints():
    from kata.stubs import region_hints, solution_files

    hints = json.loads((REPO / "exercises" / ".hints.json").read_text())
    solutions = REPO / "solutions"
    missing, thin = [], []
    for path in solution_files(solutions):
        if path.suffix != ".py":
            continue
        key = path.relative_to(solutions).as_posix()
        owners = {n for names, _ in region_hints(path.read_text()) for n in names}
        for owner in sorted(owners):
            found = hints.get(key, {}).get(owner, [])
            if not found:
                missing.append(f"{key}: {owner}")
            elif len(found) < 2:
                thin.append(f"{key}: {owner}")
    assert not missing, f"solution regions without hints: {missing}"
    assert not thin, f"one hint only (a nudge, then more precise): {thin}"


def test_a_learners_run_never_loads_the_instructors_leak_checks_or_the_export():
    import ast

    import kata.hints

    tree = ast.parse(Path(kata.hints.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not imported & {"kata.export", "kata.leaks"}, "not even inside a function"
    code = (
        "import sys, kata.hints, kata.plugin\n"
        "print(sorted(m for m in sys.modules if m in ('kata.export', 'kata.leaks')))"
    )
    done = run(REPO, "python", "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_no_hint_of_the_kata_gives_an_answer_away():
    from kata.leaks import hint_problems

    assert hint_problems(REPO) == []


def test_the_hint_check_finds_an_answer_and_a_quoted_solution(fake_kata):
    from kata.leaks import hint_problems

    assert hint_problems(fake_kata) == []
    q12 = fake_kata / "solutions" / "q12_params.py"
    q12.write_text(q12.read_text().replace("the biases.", "the biases: 7 in all."))
    q08 = fake_kata / "solutions" / "q08_conv.py"
    q08.write_text(q08.read_text().replace("put it between a and b.", "write total = a + b."))
    assert run(fake_kata, "python", "-m", "kata.stubs").returncode == 0
    problems = hint_problems(fake_kata)
    assert len(problems) == 2, problems
    assert problems[0].startswith("q08_conv.py, add, hint 2 quotes the solution's code: total = a")
    assert problems[1].startswith("q12_params.py, count, hint 1 says 7: a number the tests expect")


# --- the learner's flow on a fresh clone ------------------------------------------------------


def pytest_in(clone, *args, **env):
    done = run(
        clone,
        "python",
        "-m",
        "pytest",
        *args,
        "-p",
        "no:cacheprovider",
        env=clean_env(PYTHONPATH=str(clone), COLUMNS="120", **env),
    )
    return done, done.stdout + done.stderr


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """The fake kata's repository, made once for this module's tests."""
    origin = make_fake_kata(tmp_path_factory.mktemp("origin") / "kata")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "kata")
    return origin


@pytest.fixture
def clone(origin, tmp_path):
    """A fresh clone of a fake kata's repository: what a learner starts from."""
    git(tmp_path, "clone", "-q", str(origin), "learner")
    return tmp_path / "learner"


def test_fresh_clone_hint_solve_score(clone):
    done, out = pytest_in(clone, "exercises/q08_conv.py")
    assert done.returncode == 1
    assert "stuck? add --hint for a nudge on `add`, `sub`" in out

    done, out = pytest_in(clone, "exercises/q08_conv.py", "--hint")
    assert "q08_conv.py, add: hint 1 of 2\n    Python has an operator for this." in out
    assert "q08_conv.py, sub: hint 1 of 1\n    The order matters: a comes first." in out
    assert out.index("= hints =") < out.index("exam score")  # the score stays last
    assert git(clone, "status", "--porcelain") == ""  # remembered in an ignored file
    assert json.loads((clone / ".kata" / "hints.json").read_text())["shown"] == {
        "q08_conv.py::add": 1,
        "q08_conv.py::sub": 1,
        "q08_conv.py::invert": 1,
    }

    done, out = pytest_in(clone, "--hint", "exercises/q08_conv.py")  # the flag first: same
    assert "add: hint 2 of 2\n    The operator is the one written with a plus sign; put it" in out
    assert "sub: all 1 hints shown already; --hint=all shows them again" in out
    assert "hint 1 of 2" not in out

    done, out = pytest_in(clone, "exercises/q08_conv.py", "--hint=all")
    assert "add: hint 1 of 2" in out and "add: hint 2 of 2" in out and "sub: hint 1 of 1" in out

    solve(clone / "exercises", clone / "solutions", "q08_conv.py")
    done, out = pytest_in(clone, "exercises/", "--hint")  # question 12 is not started: no hint
    assert "q12 Counting parameters: not started: open exercises/q12_params.py; 3 tests wait" in out
    assert "hint 1" not in out and "q08_conv.py" not in out.split("exam")[0]
    done, out = pytest_in(clone, "exercises/q12_params.py", "--hint")
    assert "q12_params.py, count: hint 1 of 1" in out

    solve(clone / "exercises", clone / "solutions", "q12_params.py")
    solve(clone / "exercises", clone / "solutions", "q01_neurons.py")
    done, out = pytest_in(clone, "exercises/", "--slow", "--score-json", "score.json")
    assert done.returncode == 0
    assert "all done: every question of the kata passes. Final score: 8.5 / 99" in out
    assert "stuck?" not in out
    score = json.loads((clone / "score.json").read_text())
    assert score["earned"] == 8.5 and not score["partial_run"] and score["next"] is None


def test_a_hint_value_that_is_neither_a_path_nor_all_is_a_usage_error(clone):
    done, out = pytest_in(clone, "exercises/q08_conv.py", "--hint=some")
    assert done.returncode == 4 and "--hint=some: say --hint (the next hint) or --hint=all" in out


# --- plain output ------------------------------------------------------------------------------

BAR_TEST = """\
import os

from tqdm import tqdm

import kata.plain


def test_bar():
    assert os.environ.get("KATA_PLAIN") == "1", "the test process should see plain mode"
    path = os.environ["BAR_FILE"]
    with open(path, "w") as stream:
        options = dict(mininterval=0.25, file=stream)
        options.update(kata.plain.tqdm_options(500, stream=stream))
        bar = tqdm(total=500, desc="training", **options)
        for _ in range(250):
            bar.update(2)
        bar.close()
"""


@pytest.mark.parametrize("how", ["--plain", "NO_COLOR"])
def test_plain_output_has_no_colours_no_redraws_and_bars_print_a_line_per_tenth(clone, how):
    pytest.importorskip("tqdm")
    (clone / "tests" / "test_q08_conv_bar.py").write_text(BAR_TEST)
    args, env = (["--plain"], {}) if how == "--plain" else ([], {"NO_COLOR": "1"})
    bar_file = clone.parent / "bar.txt"
    env["BAR_FILE"] = str(bar_file)
    done, out = pytest_in(clone, "exercises/q08_conv.py", *args, PY_COLORS="", TERM="xterm", **env)
    assert "exam score" in out
    assert "\x1b[" not in out and "\r" not in out
    assert "FAILED tests/test_q08_conv_bar.py" not in out, out  # the bar test passed
    bars = [line for line in bar_file.read_text().splitlines() if line]
    assert 10 <= len(bars) <= 12 and bars[-1].startswith("training: 100%")
    assert not any("\r" in line for line in bars)


def test_without_plain_mode_colours_come_through(clone):
    done, out = pytest_in(clone, "exercises/q08_conv.py", PY_COLORS="1")
    assert "\x1b[" in out  # so the test above can fail


# --- the real kata, end to end (TensorFlow) ----------------------------------------------------


@needs_tensorflow
def test_the_real_kata_fresh_clone_hint_solve_score(homework, tmp_path):
    """A learner's real clone (here: of the homework export): hint, solve question 12, score."""
    git(tmp_path, "clone", "-q", str(homework), "learner")
    clone = tmp_path / "learner"
    done, out = pytest_in(clone, "exercises/q12_parameters.py", "--hint")
    assert done.returncode == 1
    assert "q12_parameters.py, dense_params: hint 1 of 2" in out
    assert "q12_parameters.py, exam_network_params: hint 1 of 3" in out
    solve(clone / "exercises", REPO / "solutions", "q12_parameters.py")
    done, out = pytest_in(clone, "exercises/q12_parameters.py", "--score-json", "score.json")
    assert done.returncode == 0, out
    score = json.loads((clone / "score.json").read_text())
    (row,) = [q for q in score["questions"] if q["ran"]]
    assert row["number"] == 12 and row["complete"] and row["earned"] == 4.0
    assert "Counting parameters" in out and "complete:" in out
