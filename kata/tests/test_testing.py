"""The test toolkit: describing results, failing, slips, choices, true/false statements."""

import os
import random

import numpy as np
import pytest

from kata.statements import Unanswered, judge_statement
from kata.testing import (
    PNG,
    as_array,
    as_scalar,
    brief,
    check_choice,
    check_equal,
    choice,
    expect_close,
    expect_float_array,
    expect_gradients,
    expect_png,
    expect_raises,
    expect_shape,
    fail,
    key_of,
    layer_weight,
    require,
    run_command,
    saved_and_loaded,
    seed_everything,
    seeds,
    show,
    slip_hint,
    within,
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


def test_expect_shape_says_why_the_shape_is_right():
    expect_shape(np.zeros((2, 3)), (2, 3), "called f()")
    with pytest.raises(
        pytest.fail.Exception, match=r"^called f\(\) returned shape \(3,\), expected \(2,\)$"
    ):
        expect_shape(np.zeros(3), [2], "called f()")
    with pytest.raises(pytest.fail.Exception, match=r"expected \(2,\): one per example$"):
        expect_shape(np.zeros(3), (2,), "called f()", "one per example")


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
        judge_statement(Answers({"s1": None}), "s1", {"s1": True}, {"s1": "test_spike_height"})


def test_a_wrong_statement_fails_with_its_experiment_and_not_the_answer():
    with pytest.raises(pytest.fail.Exception) as failure:
        judge_statement(Answers({"s1": True}), "s1", {"s1": False}, {"s1": "test_spike_height"})
    assert not isinstance(failure.value, Unanswered)
    message = str(failure.value)
    assert "test_spike_height" in message and "pytest exercises/q01_neurons.py::" in message
    assert "False" not in message  # the right answer is not given away


def test_a_right_statement_passes_and_a_non_bool_counts_as_unanswered():
    judge_statement(Answers({"s1": False}), "s1", {"s1": False}, {"s1": "test_x"})
    with pytest.raises(Unanswered, match="neither True nor False"):
        judge_statement(Answers({"s1": "False"}), "s1", {"s1": False}, {"s1": "test_x"})
    with pytest.raises(pytest.fail.Exception, match="no entry 's1'"):
        judge_statement(Answers({}), "s1", {"s1": False}, {"s1": "test_x"})


# --- fail and require ---------------------------------------------------------------------------


def test_fail_shows_the_message_alone():
    with pytest.raises(pytest.fail.Exception) as failure:
        fail("called f(), returned 3, expected 4: why")
    assert str(failure.value) == "called f(), returned 3, expected 4: why"
    assert failure.value.pytrace is False


def test_require_fails_only_when_the_condition_does_not_hold():
    require(True, "never shown")
    with pytest.raises(pytest.fail.Exception, match="^the message$"):
        require(False, "the message")


# --- slips --------------------------------------------------------------------------------------


def test_the_one_slip_that_gives_the_value_is_named():
    slips = [(50, "you forgot the biases"), (60, "you counted one bias twice")]
    assert slip_hint(50, 55, slips) == "you forgot the biases"
    assert slip_hint(51, 55, slips) is None


def test_a_value_two_slips_give_gets_no_hint():
    slips = [(4, "'valid' means no padding"), (4, "the kernel's length is missing")]
    assert slip_hint(4, 3, slips) is None


def test_two_slips_with_one_text_still_name_it():
    text = "ReLU is missing on the way forward"
    assert slip_hint(-1.5, 0.0, [(-1.5, text), (-1.5, text)]) == text


def test_a_slip_that_is_right_here_gets_no_hint():
    # with these sizes the "slip" gives the right count: a wrong answer that equals it is a
    # coincidence of another kind, and must not be blamed on it
    assert slip_hint(7, 7, [(7, "you ignored the stride")]) is None
    assert slip_hint(8, 7, [(7, "you ignored the stride"), (8, "rounded up")]) == "rounded up"


def test_slips_compare_arrays_within_a_tolerance_and_by_shape():
    expected = np.array([1.0, 2.0])
    slips = [(2 * expected, "the factor 1/2 is missing"), (expected[:1], "one value only")]
    same = within(atol=1e-4)
    assert slip_hint(2 * expected + 1e-5, expected, slips, same) == "the factor 1/2 is missing"
    assert slip_hint(2 * expected + 1e-2, expected, slips, same) is None
    assert slip_hint(np.array([1.0]), expected, slips, same) == "one value only"
    assert slip_hint("a string", expected, slips, same) is None  # compares as nothing


def test_slips_may_be_a_dict_and_results_that_do_not_compare_match_nothing():
    assert slip_hint(50, 55, {50: "no biases"}) == "no biases"
    assert slip_hint(np.array([50, 51]), 55, {50: "no biases"}) is None


def test_check_equal_applies_the_slip_rule():
    with pytest.raises(pytest.fail.Exception, match="expected 3: the rule"):
        check_equal(4, 3, "called f()", "the rule", slips=[(4, "one slip"), (4, "another")])


# --- choices ------------------------------------------------------------------------------------

OPTIONS = ["fits_noise", "high_training_error", "diverging_loss"]
WRONG = {"high_training_error": "that is underfitting", "diverging_loss": "that is optimisation"}


def test_a_wrong_choice_says_why_without_naming_the_right_one():
    with pytest.raises(pytest.fail.Exception) as failure:
        check_choice("OVERFITTING", "high_training_error", OPTIONS, "fits_noise", WRONG)
    assert str(failure.value) == "OVERFITTING = 'high_training_error': that is underfitting"
    check_choice("OVERFITTING", "fits_noise", OPTIONS, "fits_noise", WRONG)


@pytest.mark.parametrize(
    "got, message",
    [
        (None, "OVERFITTING is None: not answered yet; choose one of"),
        ("fits noise", "OVERFITTING is 'fits noise' \\(a str\\), which is not one of"),
        ([1], "OVERFITTING is \\[1\\] \\(a list\\), which is not one of"),
        (np.zeros(2), "which is not one of"),
    ],
    ids=["none", "misspelt", "unhashable", "array"],
)
def test_a_choice_must_be_one_of_the_options(got, message):
    with pytest.raises(pytest.fail.Exception, match=message):
        check_choice("OVERFITTING", got, OPTIONS, "fits_noise", WRONG)


def test_a_choice_without_its_key_is_judged_at_grading():
    from kata.statements import AtGrading

    with pytest.raises(AtGrading, match="OVERFITTING = 'diverging_loss' is recorded"):
        check_choice("OVERFITTING", "diverging_loss", OPTIONS, None, None)
    with pytest.raises(pytest.fail.Exception, match="not one of"):  # the form is still checked
        check_choice("OVERFITTING", "nonsense", OPTIONS, None, None)


def test_choice_returns_a_valid_answer():
    assert choice("TRANSITION_ROLE", "classify", {"classify": "...", "upsample": "..."}) == (
        "classify"
    )


# --- results of the right type ------------------------------------------------------------------


def test_as_scalar_takes_one_number_and_refuses_a_batch():
    assert as_scalar(np.float32(0.5), "called loss()") == 0.5
    with pytest.raises(pytest.fail.Exception, match="expected one number.*average over the batch"):
        as_scalar(np.zeros(3), "called loss()")
    with pytest.raises(pytest.fail.Exception, match="returned None: did you forget to `return`"):
        as_scalar(None, "called loss()")
    with pytest.raises(pytest.fail.Exception, match=r"'x' \(a str\), not a number"):
        as_scalar("x", "called loss()")


def test_as_array_and_brief():
    got = as_array([[1, 2]], "called f()")
    assert got.dtype == np.float64 and got.shape == (1, 2)
    assert brief(np.array([0.123456, 2], np.float32)) == "[0.1235 2. ] (shape (2,))"


def test_expect_close_names_the_first_value_that_is_off():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    got = expected.copy()
    got[1, 0] = 3.5
    with pytest.raises(pytest.fail.Exception) as failure:
        expect_close(got, expected, "called f()", "the rule", what="grad_w")
    assert str(failure.value) == (
        "called f() returned grad_w 3.5 at index (1, 0), expected 3: the rule"
    )
    assert expect_close(expected + 1e-9, expected, "called f()", "why") is not None
    with pytest.raises(pytest.fail.Exception, match=r"shape \(2,\), expected \(2, 2\)"):
        expect_close(np.zeros(2), expected, "called f()", "why")


# --- files and seeds ----------------------------------------------------------------------------


def test_expect_png_checks_the_file_its_signature_and_its_size(tmp_path):
    picture = tmp_path / "figure.png"
    with pytest.raises(pytest.fail.Exception, match="was not written"):
        expect_png(picture)
    picture.write_bytes(b"GIF89a" + bytes(2000))
    with pytest.raises(pytest.fail.Exception, match="is not a PNG file"):
        expect_png(picture)
    picture.write_bytes(PNG + bytes(10))
    expect_png(str(picture))
    with pytest.raises(pytest.fail.Exception, match="holds 18 bytes"):
        expect_png(picture, min_bytes=1001)


class FakeKeras:
    """Just enough of keras for ``saved_and_loaded``: load_model reads back what save wrote."""

    def __init__(self, error=None):
        self.models = self
        self.error = error

    def load_model(self, path):
        if self.error:
            raise self.error
        return path.read_text()


class FakeModel:
    def save(self, path):
        path.write_text("a model")


def test_saved_and_loaded_gives_the_model_back_or_says_why_not(tmp_path):
    path = tmp_path / "model.keras"
    assert saved_and_loaded(FakeKeras(), FakeModel(), path, "hint") == "a model"
    with pytest.raises(pytest.fail.Exception, match=r"failed \(TypeError: no config\): register"):
        saved_and_loaded(FakeKeras(TypeError("no config")), FakeModel(), path, "register it")


def test_seed_everything_repeats_python_and_numpy_draws(monkeypatch):
    monkeypatch.setenv("PYTHONHASHSEED", "")
    draws = []
    for _ in range(2):
        seed_everything(3, tensorflow=False)
        draws.append((random.random(), float(np.random.rand())))
    assert draws[0] == draws[1]
    assert os.environ["PYTHONHASHSEED"] == "3"


def test_run_command_outside_the_kata_selects_the_test_by_name():
    assert (
        run_command(object(), "test_spike_height_is_fixed")
        == "pytest -k test_spike_height_is_fixed"
    )


def test_key_of_reads_the_key_unless_the_copy_hides_it():
    assert key_of({"PROBLEM": "bottleneck"}, "PROBLEM") == "bottleneck"
    assert key_of(None, "PROBLEM") is None
    assert key_of(None, "PROBLEM", hidden=(None, {})) == (None, {})


def test_seeds_parametrizes_with_readable_ids():
    mark = seeds(range(2)).mark
    assert mark.name == "parametrize"
    assert mark.args == ("seed", [0, 1]) and mark.kwargs == {"ids": ["seed0", "seed1"]}


def test_seeds_crosses_a_setting_with_every_seed():
    mark = seeds(range(2), labels=["seed0", "confident"], saturating=(False, True)).mark
    assert mark.args == (
        ["seed", "saturating"],
        [(0, False), (0, True), (1, False), (1, True)],
    )
    assert mark.kwargs == {
        "ids": [
            "seed0-saturating=False",
            "seed0-saturating=True",
            "confident-saturating=False",
            "confident-saturating=True",
        ]
    }


# --- layers and gradients -----------------------------------------------------------------------


class Weight:
    def __init__(self, shape):
        self.shape = shape

    def assign(self, value):  # what makes it a weight (a Keras variable) and not an array
        pass


class Layer:
    kernel = Weight((3, 2))
    bias = np.zeros(2)  # an array, not a weight: not created with add_weight


def test_layer_weight_needs_a_weight_of_the_right_shape():
    assert layer_weight(Layer(), "kernel", (3, 2), "Gate") is Layer.kernel
    with pytest.raises(pytest.fail.Exception, match="Gate has no weight `bias`.*add_weight"):
        layer_weight(Layer(), "bias", (2,), "Gate")
    with pytest.raises(pytest.fail.Exception, match=r"Gate.kernel has shape \(3, 2\), expected"):
        layer_weight(Layer(), "kernel", (2, 3), "Gate", "kernel is (features, units)")


def test_expect_gradients_names_a_missing_and_a_wrong_gradient():
    expected = [np.ones(2), np.zeros(3)]
    expect_gradients([np.ones(2), np.zeros(3)], expected, ["a", "b"], "the loss", "hint", "tape")
    with pytest.raises(pytest.fail.Exception, match="no gradient of the loss reaches `b`: hint"):
        expect_gradients([np.ones(2), None], expected, ["a", "b"], "the loss", "hint", "tape")
    with pytest.raises(pytest.fail.Exception, match="with respect to `a` is .*expected .*tape"):
        expect_gradients([np.zeros(2), np.zeros(3)], expected, ["a", "b"], "the loss", "", "tape")
