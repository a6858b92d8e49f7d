"""Question 7: overfitting measured, and L1, L2 and dropout checked against Keras."""

import numpy as np
import pytest

from kata.testing import (
    called,
    check_choice,
    expect_close,
    expect_float_array,
    expect_png,
    expect_raises,
    fail,
    seeds,
    show,
    slip_hint,
    within,
)

SEEDS = range(5)


def check_number(got, expected, call, why, slips=()):
    """Fail unless ``got`` is a number close to ``expected``; ``slips``: (value, meaning) pairs."""
    __tracebackhide__ = True
    if not isinstance(got, (float, int, np.floating, np.integer)) or isinstance(got, bool):
        fail(f"{call} returned {show(got)}, expected a float: {why}")
    if np.isclose(got, expected, rtol=1e-6, atol=1e-9):
        return
    why = slip_hint(got, expected, slips, within(rtol=1e-6, atol=1e-9)) or why
    fail(f"{call} returned {got:.6g}, expected {expected:.6g}: {why}")


# --------------------------------------------------------------------------------------------
# What overfitting is
# --------------------------------------------------------------------------------------------

# BEGIN EXAM KEY: the right definition, and why each other one is wrong
DEFINITION_KEY = "fits_noise"
DEFINITION_WHY = {
    "high_training_error": "that is underfitting: too little capacity (or training) to fit even "
    "the training data",
    "validation_below_training": "that happens with dropout (the training loss is measured with "
    "units dropped) or with an easy validation set; an overfitting model does worse on new "
    "data, not better",
    "too_many_epochs": "long training is one way to get there (and early stopping one remedy), "
    "but it is not what overfitting is: a small model trains forever without overfitting, and "
    "a large one can overfit in a few epochs",
    "diverging_loss": "that is a failure of optimisation: the training error does not even fall",
}
# STUB: DEFINITION_KEY = DEFINITION_WHY = None
# END EXAM KEY


def test_definition_of_overfitting(target):
    check_choice(
        "OVERFITTING", target.OVERFITTING, target.DEFINITIONS, DEFINITION_KEY, DEFINITION_WHY
    )


# --------------------------------------------------------------------------------------------
# L1 and L2 penalties against keras.regularizers
# --------------------------------------------------------------------------------------------


def random_weights(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 4))))
    weights = rng.normal(0.0, 1.5, size=shape)
    weights.flat[0] = 0.0  # a weight of exactly zero: its L1 gradient is taken as 0
    return weights, float(rng.choice([0.0, 1e-3, 0.01, 0.5]) if seed else 0.01)


def l1_slips(weights, factor, expected):
    return [(factor * np.sum(weights), "take the absolute value: every weight adds its size")]


def l2_slips(weights, factor, expected):
    return [
        (expected / 2, "Keras puts no 1/2 in front of the sum of squares"),
        (factor * np.sqrt(np.sum(weights**2)), "square the weights; do not take the norm"),
    ]


def check_penalty(target, keras, seed, norm, rule, slips):
    """The learner's `{norm}_penalty` against keras.regularizers.L1 or L2 (the same factor) on
    random weights; `rule`: what Keras adds; `slips(weights, factor, expected)`: known wrong
    values, each with its reason."""
    weights, factor = random_weights(seed)
    regularizer = getattr(keras.regularizers, norm.upper())(**{norm: factor})
    expected = float(regularizer(weights))
    function = f"{norm}_penalty"
    check_number(
        getattr(target, function)(weights, factor),
        expected,
        called(function, weights, factor),
        f"keras.regularizers.{norm.upper()} adds {rule} over every entry",
        slips=slips(weights, factor, expected),
    )


@seeds(SEEDS)
def test_l1_penalty_matches_keras(target, keras, seed):
    check_penalty(target, keras, seed, "l1", "factor * sum(|w|)", l1_slips)


@seeds(SEEDS)
def test_l2_penalty_matches_keras(target, keras, seed):
    check_penalty(target, keras, seed, "l2", "factor * sum(w^2)", l2_slips)


@pytest.mark.parametrize("kind", ["l1", "l2"])
@seeds(SEEDS)
def test_penalty_gradients_match_gradient_tape(target, keras, tf, seed, kind):
    weights, factor = random_weights(seed)
    regulariser = (
        keras.regularizers.L1(l1=factor) if kind == "l1" else keras.regularizers.L2(factor)
    )
    variable = tf.Variable(weights)
    with tf.GradientTape() as tape:
        penalty = regulariser(variable)
    expected = tape.gradient(penalty, variable).numpy()
    name = f"{kind}_gradient"
    why = {
        "l1": "d(factor * |w|)/dw = factor * sign(w): the same pull for a small weight as for a "
        "large one (and 0 at w = 0, as TensorFlow takes it)",
        "l2": "d(factor * w^2)/dw = 2 * factor * w: the pull shrinks with the weight",
    }[kind]
    got = getattr(target, name)(weights, factor)
    expect_close(got, expected, called(name, weights, factor), why, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------------


def test_dropout_is_the_identity_in_inference(target):
    x = np.random.default_rng(0).normal(size=(6, 5))
    got = target.dropout(x, 0.5, False, np.random.default_rng(1))
    expect_close(
        got,
        x,
        called("dropout", x, 0.5, False, "rng"),
        "at inference nothing is dropped and nothing is scaled: the scaling happened in training",
        rtol=0,
        atol=0,
    )


RATES = [0.1, 0.5, 0.8]


@pytest.mark.parametrize("rate", RATES)
def test_dropout_keeps_the_expectation_in_training(target, rate):
    x = np.tile(np.array([1.0, -2.0, 0.5, 3.0]), (20_000, 1))  # (20000, 4): the same row
    call = called("dropout", x, rate, True, "rng")
    got = expect_float_array(target.dropout(x, rate, True, np.random.default_rng(0)), call)
    kept = got != 0.0
    if not np.allclose(got[kept], (x / (1 - rate))[kept]):
        fail(
            f"{call}: a kept entry x became {got[kept][0]:g} for x = {x[kept][0]:g}, expected "
            f"x / (1 - rate) = {x[kept][0] / (1 - rate):g}: inverted dropout scales the "
            "survivors up in training, so that the expected output stays x"
        )
    mean = got.mean(axis=0)  # (4,): should be close to the row
    # standard error of each column's mean: |x| sqrt(rate / (1 - rate)) / sqrt(20000)
    error = np.abs(x[0]) * np.sqrt(rate / (1 - rate)) / np.sqrt(len(x))
    assert np.all(np.abs(mean - x[0]) <= 5 * error), (
        f"{call}: the average output over 20000 draws is {np.round(mean, 3).tolist()}, expected "
        f"{x[0].tolist()} (within 5 standard errors): each entry survives with probability "
        "1 - rate and then counts 1 / (1 - rate) times"
    )


@pytest.mark.parametrize("rate", RATES)
def test_dropout_matches_keras_in_distribution(target, keras, rate):
    n = 20_000
    x = np.full(n, 2.0)
    ours = np.asarray(target.dropout(x, rate, True, np.random.default_rng(3)))
    theirs = np.asarray(keras.layers.Dropout(rate, seed=3)(x.astype(np.float32), training=True))
    # both drop a share of the entries close to rate, and scale the rest the same way
    tolerance = 5 * np.sqrt(rate * (1 - rate) / n)
    assert abs(np.mean(theirs == 0.0) - rate) <= tolerance, "Keras's dropout is not as we think"
    call = called("dropout", x, rate, True, "rng")
    dropped = float(np.mean(ours == 0.0))
    assert abs(dropped - rate) <= tolerance, (
        f"{call} set {dropped:.3f} of the entries to 0, expected about {rate} (keras.layers."
        f"Dropout({rate}) dropped {np.mean(theirs == 0.0):.3f}): rate is the probability of "
        "DROPPING an entry, not of keeping it"
    )
    kept_ours, kept_theirs = np.unique(ours[ours != 0.0]), np.unique(theirs[theirs != 0.0])
    assert np.allclose(kept_ours, kept_theirs[0], rtol=1e-6), (
        f"{call} kept entries as {kept_ours[:3].tolist()}, expected {kept_theirs[0]:g} like "
        "keras.layers.Dropout: a kept entry is divided by 1 - rate"
    )


def test_dropout_draws_from_the_given_generator(target):
    x = np.ones((8, 8))
    first = np.asarray(target.dropout(x, 0.5, True, np.random.default_rng(5)))
    again = np.asarray(target.dropout(x, 0.5, True, np.random.default_rng(5)))
    rng = np.random.default_rng(5)
    target.dropout(x, 0.5, True, rng)
    second = np.asarray(target.dropout(x, 0.5, True, rng))
    assert np.array_equal(first, again), (
        "dropout(x, 0.5, True, rng) gave different masks for two generators with the same seed: "
        "draw the mask from `rng`, the only source of randomness, so that runs can be repeated"
    )
    assert not np.array_equal(first, second), (
        "two calls of dropout with the same generator gave the same mask: each training step "
        "must drop a fresh random set of units"
    )


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_dropout_rejects_a_rate_outside_0_1(target, rate):
    expect_raises(
        ValueError,
        lambda: target.dropout(np.ones(4), rate, True, np.random.default_rng(0)),
        called("dropout", np.ones(4), rate, True, "rng"),
        "rate is a probability of dropping, in [0, 1); at 1 every unit is dropped and the "
        "survivors' scale 1 / (1 - rate) is a division by zero",
    )


# --------------------------------------------------------------------------------------------
# Polynomial regression
# --------------------------------------------------------------------------------------------


def test_polynomial_features_are_powers_of_x(target):
    x = np.array([-1.5, 0.0, 0.5, 2.0])
    expected = np.vander(x, 4, increasing=True)  # columns 1, x, x^2, x^3
    expect_close(
        target.polynomial_features(x, 3),
        expected,
        called("polynomial_features", x, 3),
        "column k holds x**k, from k = 0 (all ones) to k = degree",
        rtol=1e-6,
        atol=1e-9,
    )


def random_fit_case(seed):
    rng = np.random.default_rng(seed)
    n, degree = int(rng.integers(8, 30)), int(rng.integers(0, 7))
    l2 = [0.0, 1e-3, 0.1][seed % 3]
    x = rng.uniform(-1.0, 1.0, n)
    return x, rng.normal(0.0, 1.0, n) + x, degree, l2


FIT_SEEDS = range(6)


@seeds(FIT_SEEDS)
def test_fit_polynomial_matches_tensorflow_lstsq(target, tf, seed):
    x, y, degree, l2 = random_fit_case(seed)
    design = np.vander(x, degree + 1, increasing=True)  # (n, degree + 1)
    # tf.linalg.lstsq solves (A^T A + l2_regularizer I) c = A^T y; the mean squared error has
    # a 1/n in front, so the same minimiser needs l2_regularizer = n * l2
    expected = tf.linalg.lstsq(design, y[:, None], l2_regularizer=len(x) * l2).numpy()[:, 0]
    why = "minimise mean((X c - y)^2) + l2 * sum(c^2)"
    if l2:
        plain = tf.linalg.lstsq(design, y[:, None], l2_regularizer=l2).numpy()[:, 0]
        got = np.asarray(target.fit_polynomial(x, y, degree, l2=l2))
        if got.shape == plain.shape and np.allclose(got, plain, rtol=1e-6):
            why += (
                "; you minimised sum((X c - y)^2) + l2 * sum(c^2): the error is a MEAN, so "
                "the penalty weighs n times more against it"
            )
    expect_close(
        target.fit_polynomial(x, y, degree, l2=l2),
        expected,
        called("fit_polynomial", x, y, degree, l2=l2),
        why,
        rtol=1e-6,
        atol=1e-8,
    )


def test_capacity_curve_matches_numpy_polyfit(target):
    rng = np.random.default_rng(0)
    x_train, x_val = rng.uniform(-1, 1, 12), rng.uniform(-1, 1, 30)
    y_train, y_val = np.sin(3 * x_train), np.sin(3 * x_val)
    degrees = [0, 1, 2, 5]
    train, val = [], []
    for degree in degrees:
        c = np.polynomial.polynomial.polyfit(x_train, y_train, degree)
        p = np.polynomial.polynomial.Polynomial(c)
        train.append(np.mean((p(x_train) - y_train) ** 2))
        val.append(np.mean((p(x_val) - y_val) ** 2))
    call = called("capacity_curve", x_train, y_train, x_val, y_val, degrees)
    got = target.capacity_curve(x_train, y_train, x_val, y_val, degrees)
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"{call} returned {show(got)}, expected (train_errors, val_errors)")
    why = "fit on the training points, then the mean squared error on them"
    expect_close(got[0], np.array(train), f"{call} (train_errors)", why, rtol=1e-6, atol=1e-10)
    why = "fit on the TRAINING points, then the mean squared error on the validation points"
    expect_close(got[1], np.array(val), f"{call} (val_errors)", why, rtol=1e-6, atol=1e-10)


# --------------------------------------------------------------------------------------------
# The experiment: overfitting, measured (15 training points, degrees 0 to 12, seed 0)
# --------------------------------------------------------------------------------------------

# Measured with the reference on seeds 0..9: the validation error at degree 12 is 90 to 4.6e8
# times its minimum (seed 0: 1190); with L2 = 1e-3 it falls by a factor of 54 to 2.4e8 (seed 0:
# 968). NumPy only, so TF_ENABLE_ONEDNN_OPTS plays no part.
RISE = 10
L2_GAIN = 10


def curve(target, l2=0.0):
    x_train, y_train, x_val, y_val = target.experiment(seed=0)
    degrees = list(target.DEGREES)
    train, val = target.capacity_curve(x_train, y_train, x_val, y_val, degrees, l2=l2)
    return degrees, np.asarray(train), np.asarray(val)


def test_training_error_falls_with_capacity(target):
    degrees, train, _ = curve(target)
    rises = [d for d, a, b in zip(degrees[1:], train, train[1:], strict=False) if b > a * 1.000001]
    assert not rises, (
        f"the training error rose from degree {rises[0] - 1} to {rises[0]} "
        f"({np.round(train, 4).tolist()}): a polynomial of higher degree can do everything a lower "
        "one can (set the extra coefficients to 0), so the best fit never gets worse on the "
        "points it is fitted to"
    )
    # measured: degree 12 ends at 0.011 times degree 0's error (seeds 0..9: 0.003 to 0.097)
    assert train[-1] < 0.2 * train[0], (
        f"the training error fell only from {train[0]:.4f} (degree 0) to {train[-1]:.4f} (degree "
        f"{degrees[-1]}), expected below a fifth: 13 coefficients almost pass through 15 points"
    )


def test_validation_error_rises_with_capacity(target):
    degrees, train, val = curve(target)
    best = int(np.argmin(val))
    assert best < len(degrees) - 1 and val[-1] >= RISE * val[best], (
        f"the validation error is lowest at degree {degrees[best]} ({val[best]:.4f}) and "
        f"{val[-1]:.4g} at degree {degrees[-1]}, expected at least {RISE} times the lowest: "
        "past the right capacity the polynomial bends through the noise of its 15 points, and "
        "misses new points in between: that is overfitting"
    )


def test_l2_lowers_the_validation_error(target):
    degrees, _, val = curve(target)
    _, _, val_l2 = curve(target, l2=target.L2_FACTOR)
    assert val_l2[-1] * L2_GAIN <= val[-1], (
        f"at degree {degrees[-1]} the validation error is {val[-1]:.4g} without a penalty and "
        f"{val_l2[-1]:.4g} with L2 = {target.L2_FACTOR}, expected at least {L2_GAIN} times "
        "lower with it: the penalty keeps the coefficients small, and a polynomial with small "
        "coefficients cannot swing wildly between the points"
    )


def test_picture_is_written(target, tmp_path):
    target.main(["--out", str(tmp_path)])
    pictures = sorted(tmp_path.glob("*.png"))
    assert pictures, f"python -m exercises.q07_overfitting --out {tmp_path} wrote no PNG"
    for picture in pictures:
        expect_png(picture, min_bytes=1001)
