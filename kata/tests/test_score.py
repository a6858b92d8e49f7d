"""Points: weights split a question's points; true/false questions mark wrong answers negatively."""

import pytest

from kata.points import BONUS_POINTS, EXAM_POINTS, QUESTIONS, Question
from kata.score import question_score


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
    import ast
    from pathlib import Path

    tests = Path(__file__).resolve().parents[2] / "tests"
    for number, question in QUESTIONS.items():
        names = set()
        for path in tests.glob(f"test_q{number:02d}_*.py"):
            tree = ast.parse(path.read_text())
            names |= {
                n.name
                for n in tree.body
                if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
            }
        assert names == set(question.weights), (
            f"question {number}: tests without a weight {sorted(names - set(question.weights))}, "
            f"weights without a test {sorted(set(question.weights) - names)}"
        )
