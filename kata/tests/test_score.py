"""Points: weights split a question's points; true/false questions mark wrong answers negatively."""

import pytest

from kata.points import BONUS_POINTS, EXAM_POINTS, QUESTIONS, Question
from kata.score import Run, compute, print_table, question_score, status_text


def test_the_exam_is_worth_99_points_plus_2_bonus():
    assert EXAM_POINTS == 99
    assert BONUS_POINTS == 2
    assert sorted(QUESTIONS) == list(range(1, 21))


def test_points_follow_the_weights_and_cases_share_their_function_weight():
    q = Question(8, "t", 3, weights={"a": 2, "b": 1})
    earned, notes = question_score(q, {"a": ["passed", "failed"], "b": ["passed"]})
    assert earned == pytest.approx(3 * (2 / 3 * 0.5 + 1 / 3))
    assert notes == []


def test_skipped_and_failed_cases_earn_nothing_without_negative_marking():
    q = Question(8, "t", 3, weights={"a": 1})
    assert question_score(q, {"a": ["failed", "skipped"]})[0] == 0


@pytest.mark.parametrize(
    "outcomes, expected",
    [
        (["passed"] * 4, 4.0),
        (["passed", "passed", "passed", "failed"], 2.0),
        (["passed", "passed", "passed", "unanswered"], 3.0),
        (["failed", "failed", "passed", "unanswered"], 0.0),  # never below 0
    ],
    ids=["all-right", "one-wrong-subtracts", "empty-gives-zero", "floor-at-zero"],
)
def test_negative_marking_as_in_the_exam(outcomes, expected):
    q = Question(9, "t", 4, negative_marking=True, weights={f"s{i}": 1 for i in range(4)})
    cases = {f"s{i}": [o] for i, o in enumerate(outcomes)}
    assert question_score(q, cases)[0] == pytest.approx(expected)


def test_a_test_without_a_weight_is_named_for_the_instructor():
    q = Question(8, "t", 3, weights={"a": 1})
    _, notes = question_score(q, {"a": ["passed"], "b": ["passed"]})
    assert notes == ["q08: b has no weight in kata/points.py"]


def test_every_kata_test_has_a_weight_and_every_weight_a_test():
    """Instructor check: kata/points.py and tests/ agree."""
    from pathlib import Path

    from kata.naming import test_names

    tests = Path(__file__).resolve().parents[2] / "tests"
    for number, question in QUESTIONS.items():
        names = set()
        for path in tests.glob(f"test_q{number:02d}_*.py"):
            names |= set(test_names(path))
        unknown = sorted(name for name in names if question.weight_of(name) is None)
        assert not unknown, f"question {number}: tests without a weight {unknown}"
        stale = sorted(set(question.weights) - names)
        assert not stale, f"question {number}: weights without a test {stale}"
        if question.negative_marking:  # the statements carry the points; the rest teach
            assert {n for n in names if question.weight_of(n)} == set(question.weights), number


def test_an_experiment_of_a_true_false_question_has_no_points_without_being_listed():
    q = Question(1, "t", 2, negative_marking=True, weights={"test_statement": 1})
    cases = {"test_statement": ["passed", "failed", "passed"], "test_experiment": ["failed"]}
    assert question_score(q, cases) == (pytest.approx(2 / 3), [])
    assert Question(2, "t", 2, weights={"a": 1}).weight_of("b") is None


def _landing_tests(number: int) -> set[str]:
    """The test functions of question ``number`` marked ``@pytest.mark.landing``."""
    import ast
    from pathlib import Path

    tests = Path(__file__).resolve().parents[2] / "tests"
    names = set()
    for path in tests.glob(f"test_q{number:02d}_*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and any(
                ast.unparse(d).endswith("mark.landing") for d in node.decorator_list
            ):
                names.add(node.name)
    return names


def test_landing_tests_carry_no_points_and_their_row_says_so():
    """A landing passes on most seeds, not on all: a correct solution never loses points to one."""
    assert _landing_tests(19), "expected question 19's two landings to be marked landing"
    for number, question in QUESTIONS.items():
        landings = _landing_tests(number)
        weighted = sorted(name for name in landings if question.weight_of(name) != 0)
        assert not weighted, f"question {number}: landing tests with points: {weighted}"
        if landings:
            assert question.demonstration, f"question {number} does not say its landings are free"
    row = {"number": 19, "tests": {"passed": 41}, "slow_not_run": 0, "partial": False,
           "complete": True}  # fmt: skip
    assert status_text(row) == (
        "complete: 41/41 tests passed (landing: a demonstration, no points)"
    )


def test_a_correct_solution_that_misses_a_landing_keeps_every_point():
    question = QUESTIONS[19]
    cases = {name: ["passed"] for name in question.weights}
    cases["test_dqn_solves_lunar_lander"] = ["failed"]
    cases["test_ppo_solves_continuous_lunar_lander"] = ["failed"]
    assert question_score(question, cases)[0] == pytest.approx(question.points)


# --- a run's score, from its outcomes (kata.score.compute) ---------------------------------------

FAKE_CASES = {
    "tests/test_q08_conv.py::test_adds": (8, "test_adds"),
    "tests/test_q08_conv.py::test_subtracts": (8, "test_subtracts"),
    "tests/test_q08_conv.py::test_inverts": (8, "test_inverts"),
    "tests/test_q08_conv.py::test_trains": (8, "test_trains"),
    **{f"tests/test_q12_params.py::test_counts[{n}]": (12, "test_counts") for n in (1, 2, 3)},
    **{f"tests/test_q01_neurons.py::test_statement[s{n}]": (1, "test_statement") for n in "123"},
}


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    from conftest import write_fake_questions

    return write_fake_questions(tmp_path_factory.mktemp("kata"))


def a_run(root, outcomes: dict[str, str], target="exercises", where=None, **fields) -> Run:
    """A run of the fake kata: ``outcomes`` maps a nodeid's end (after ``::``) to its outcome."""
    run = Run(target_dir=root / target, rootpath=root, invocation_dir=where or root, **fields)
    for nodeid, meta in FAKE_CASES.items():
        short = nodeid.partition("::")[2]
        if short in outcomes:
            run.tests[nodeid] = meta
            run.outcomes[nodeid] = outcomes[short]
    return run


FAKE_NODE_TRAINS = "tests/test_q08_conv.py::test_trains"
ALL_PASS = {nodeid.partition("::")[2]: "passed" for nodeid in FAKE_CASES}


def rows(result) -> dict[int, dict]:
    return {row["number"]: row for row in result["questions"] if row["ran"]}


def test_a_whole_run_earns_each_questions_points_and_names_no_next_step(fake_root):
    run = a_run(fake_root, {**ALL_PASS, "test_trains": "skipped"}, slow={FAKE_NODE_TRAINS})
    result = compute(run)
    q = rows(result)
    assert (q[8]["earned"], q[12]["earned"], q[1]["earned"]) == (2.25, 4.0, 1.5)
    assert q[8]["slow_not_run"] == 1 and not q[8]["complete"] and q[12]["complete"]
    assert not result["partial_run"] and result["slow_skipped"] == 1
    assert result["earned"] == 7.75 and result["bonus_earned"] == 0 and result["next"] is None
    assert result["target"] == "exercises" and result["possible"] == 99.0


def test_cases_left_out_by_a_selection_earn_nothing_and_make_the_run_partial(fake_root):
    run = a_run(fake_root, {"test_counts[1]": "passed"})
    run.seen[12, "test_counts"] = 3
    result = compute(run)
    (row,) = rows(result).values()
    assert row["tests"] == {"passed": 1} and row["partial"] and result["partial_run"]
    assert row["earned"] == pytest.approx(4 / 3, abs=0.01)
    assert status_text(row) == "part of the question: 1/1 tests passed"


def test_the_next_step_is_the_first_failing_question_as_the_learner_types_it(fake_root):
    outcomes = {**ALL_PASS, "test_subtracts": "failed", "test_counts[2]": "failed"}
    result = compute(a_run(fake_root, outcomes, where=fake_root / "exercises"))
    assert result["next"] == {
        "number": 8,
        "title": "Convolution",
        "command": "pytest q08_conv.py",
    }


def test_an_unanswered_statement_costs_nothing_and_a_wrong_one_costs_its_share(fake_root):
    outcomes = {"test_statement[s1]": "passed", "test_statement[s2]": "failed"}
    outcomes["test_statement[s3]"] = "unanswered"
    row = rows(compute(a_run(fake_root, outcomes)))[1]
    assert row["earned"] == 0 and row["tests"] == {"passed": 1, "failed": 1, "unanswered": 1}
    assert status_text(row) == "1/3 tests passed (1 unanswered)"


@pytest.mark.parametrize(
    "row, expected",
    [
        (
            {"tests": {"passed": 3}, "slow_not_run": 0, "partial": False, "complete": True},
            "complete: 3/3 tests passed",
        ),
        (
            {"tests": {"passed": 3, "skipped": 2}, "slow_not_run": 1, "partial": False,
             "complete": False},
            "3/5 tests passed (1 slow test not run: add --slow; 1 skipped)",
        ),
        (
            {"tests": {"failed": 2, "not run": 4}, "slow_not_run": 0, "partial": True,
             "complete": False},
            "part of the question: 0/2 tests passed (4 did not run)",
        ),
    ],
    ids=["complete", "slow-and-skipped", "partial"],
)  # fmt: skip
def test_the_status_column_says_what_passed_and_what_did_not_run(row, expected):
    assert status_text(row) == expected


class Reporter:
    """What pytest's terminal reporter would print, as lines."""

    def __init__(self):
        self.lines: list[str] = []

    def write_sep(self, sep, title):
        self.lines.append(f"{sep * 3} {title} {sep * 3}")

    def write_line(self, line):
        self.lines.append(line)


def test_the_table_of_a_partial_run_shows_only_what_ran_and_how_to_run_the_rest(fake_root):
    run = a_run(fake_root, {f"test_counts[{n}]": "passed" for n in (1, 2, 3)})
    tr = Reporter()
    print_table(compute(run), tr, run)
    assert tr.lines == [
        "=== exam score (exercises) ===",
        "12  Counting parameters                        4 / 4     complete: 3/3 tests passed",
        "",
        "total 4 / 99: this run covers only part of the exam (questions worth 4 of 99 points); "
        "run `pytest exercises/` for the whole exam.",
        "next: question 1, Biological and artificial neurons: pytest exercises/q01_neurons.py",
        "note: q12: test_counts has no weight in kata/points.py",  # a fake test
    ]


def test_the_table_of_a_whole_run_lists_every_question_and_the_notes(fake_root):
    run = a_run(fake_root, ALL_PASS, notes=["a note for the instructor"])
    tr = Reporter()
    print_table(compute(run), tr, run)
    questions = [line for line in tr.lines if line[:2].strip().isdigit()]
    assert len(questions) == len(QUESTIONS)
    assert questions[1].startswith(" 2  Application") and questions[1].endswith("in the kata yet")
    assert questions[7].endswith("3 / 3     complete: 4/4 tests passed")
    assert "total 8.5 / 99" in tr.lines
    assert "all done: every question of the kata passes. Final score: 8.5 / 99" in tr.lines
    assert tr.lines[tr.lines.index("total 8.5 / 99") + 2] == "note: a note for the instructor"


def test_a_run_of_the_reference_points_to_the_reference(fake_root):
    run = a_run(fake_root, {"test_counts[1]": "passed"}, target="solutions")
    tr = Reporter()
    print_table(compute(run), tr, run)
    assert tr.lines[0] == "=== exam score (solutions) ==="
    assert "run `pytest solutions/` for the whole exam." in tr.lines[3]
    assert not any("exercises" in line for line in tr.lines)


def test_fixing_a_wrong_statement_earns_its_share(fake_root):
    outcomes = {"test_statement[s1]": "passed", "test_statement[s2]": "passed"}
    outcomes["test_statement[s3]"] = "unanswered"
    assert rows(compute(a_run(fake_root, outcomes)))[1]["earned"] == 1.0


@pytest.mark.parametrize("kind", ["whole", "partial", "failing"])
def test_the_score_json_follows_its_schema(fake_root, tmp_path, kind):
    jsonschema = pytest.importorskip("jsonschema")
    import json

    from kata.score import SCHEMA, write_json

    outcomes = {
        "whole": {**ALL_PASS, "test_trains": "skipped"},
        "partial": {"test_adds": "passed"},
        "failing": {**ALL_PASS, "test_adds": "failed", "test_statement[s3]": "unanswered"},
    }[kind]
    write_json(compute(a_run(fake_root, outcomes)), tmp_path / "out" / "score.json")
    score = json.loads((tmp_path / "out" / "score.json").read_text())
    jsonschema.validate(score, json.loads(SCHEMA.read_text()))
    assert score["schema_version"] == 1 and isinstance(score["possible"], float)
    assert all(isinstance(q["earned"], float) for q in score["questions"])


def test_a_complete_run_of_one_question_names_the_next_question_of_the_kata(fake_root):
    q08 = ["test_adds", "test_subtracts", "test_inverts", "test_trains"]
    run = a_run(fake_root, dict.fromkeys(q08, "passed"))
    result = compute(run)
    assert result["partial_run"] and not rows(result)[8]["partial"]
    assert result["next"]["number"] == 12  # after 8 in exam order; then 1 (wrapping round)
    run = a_run(fake_root, {f"test_counts[{n}]": "passed" for n in (1, 2, 3)})
    assert compute(run)["next"]["number"] == 1
    run = a_run(fake_root, {"test_counts[1]": "passed"})  # a part of a question: no guess
    run.seen[12, "test_counts"] = 3
    assert compute(run)["next"] is None


def test_a_question_not_started_is_one_line_and_its_row_says_so(fake_root):
    from kata.score import not_started_lines

    run = a_run(fake_root, {**ALL_PASS, "test_counts[1]": "failed", "test_counts[2]": "failed"})
    run.outcomes.update({n: "failed" for n in run.tests if "q12" in n})
    run.not_started = {12: 3}
    result = compute(run)
    assert not_started_lines(result, run) == [
        "q12 Counting parameters: not started: open exercises/q12_params.py; 3 tests wait"
    ]
    tr = Reporter()
    print_table(result, tr, run)
    assert any(
        line.startswith("12  Counting") and line.endswith("not started (3 tests wait)")
        for line in tr.lines
    )
