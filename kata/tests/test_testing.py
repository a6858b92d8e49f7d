"""The helpers that tests use to describe results and to mark true/false statements."""

import numpy as np
import pytest

from kata.testing import (
    Unanswered,
    check_equal,
    expect_float_array,
    expect_raises,
    judge_statement,
    show,
)


@pytest.mark.parametrize(
    "value, shown",
    [
        ("875", "'875' (a str)"),
        (875, "875"),
        (875.0, "875.0"),
        (np.int64(875), "a scalar int64 numpy.int64 875"),
        ([1.0, 2.0], "[1.0, 2.0] (a list)"),
        ((1, 2), "(1, 2) (a tuple)"),
        (np.zeros(2), "a 2 float64 numpy.ndarray [0. 0.]"),
        (None, "None"),
    ],
    ids=["str", "int", "float", "numpy-int", "list", "tuple", "array", "none"],
)
def test_show_adds_the_type_where_the_repr_hides_it(value, shown):
    assert show(value) == shown


def test_a_string_is_not_the_number_it_spells():
    with pytest.raises(pytest.fail.Exception) as failure:
        check_equal("875", 875, "called dense_params(10, 5)", "10 * 5 weights and 5 biases")
    assert str(failure.value) == (
        "called dense_params(10, 5) returned '875' (a str), expected 875: a str is not an int; "
        "return an int itself. 10 * 5 weights and 5 biases"
    )


def test_a_bool_is_not_a_count():
    with pytest.raises(pytest.fail.Exception, match="True, expected 1"):
        check_equal(True, 1, "called f()", "why")


def test_a_float_is_not_a_count():
    with pytest.raises(
        pytest.fail.Exception,
        match="875.0, expected 875: a float is not an int; return an int itself",
    ):
        check_equal(875.0, 875, "called f()", "why")


def test_equal_numbers_of_a_matching_type_pass():
    check_equal(np.int64(875), 875, "called f()", "why")
    check_equal(3, 3.0, "called f()", "why")


def test_a_known_slip_gets_its_own_reason():
    with pytest.raises(pytest.fail.Exception, match="you forgot the biases"):
        check_equal(50, 55, "called f()", "why", slips={50: "you forgot the biases"})


def test_a_list_is_not_a_float_array_even_with_the_right_numbers():
    with pytest.raises(pytest.fail.Exception, match=r"\(a list\), expected a NumPy float array.*"):
        expect_float_array([[5.0, 5.0], [0.0, 7.0]], "called feature_map(...)")
    with pytest.raises(pytest.fail.Exception, match="dtype int64"):
        expect_float_array(np.array([1, 2]), "called f()")
    with pytest.raises(pytest.fail.Exception, match=r"shape \(2,\), expected \(3,\)"):
        expect_float_array(np.zeros(2), "called f()", shape=(3,))
    got = np.zeros(3)
    assert expect_float_array(got, "called f()", shape=(3,)) is got


def test_expect_raises_names_what_came_back():
    with pytest.raises(pytest.fail.Exception, match="returned 3, expected it to raise ValueError"):
        expect_raises(ValueError, lambda: 3, "called f('full')", "only valid and same exist")
    with pytest.raises(NotImplementedError):  # another exception is not swallowed
        expect_raises(ValueError, _not_implemented, "called f()", "why")


def _not_implemented():
    raise NotImplementedError("stub")


class Answers:
    def __init__(self, answers):
        self.ANSWERS = answers

    def _kata_command(self, test):
        return f"pytest exercises/q01_neurons.py::{test}"


def test_an_empty_statement_is_unanswered_and_names_its_experiment():
    with pytest.raises(Unanswered, match="test_spike_height.*pytest exercises/q01"):
        judge_statement(Answers({"s1": None}), "s1", True, experiment="test_spike_height")


def test_a_wrong_statement_fails_with_its_experiment_and_not_the_answer():
    with pytest.raises(pytest.fail.Exception) as failure:
        judge_statement(Answers({"s1": True}), "s1", False, experiment="test_spike_height")
    assert not isinstance(failure.value, Unanswered)
    message = str(failure.value)
    assert "test_spike_height" in message and "pytest exercises/q01_neurons.py::" in message
    assert "False" not in message  # the right answer is not given away


def test_a_right_statement_passes_and_a_non_bool_counts_as_unanswered():
    judge_statement(Answers({"s1": False}), "s1", False, experiment="test_x")
    with pytest.raises(Unanswered, match="neither True nor False"):
        judge_statement(Answers({"s1": "False"}), "s1", False, experiment="test_x")
    with pytest.raises(pytest.fail.Exception, match="no entry 's1'"):
        judge_statement(Answers({}), "s1", False, experiment="test_x")
