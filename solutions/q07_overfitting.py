"""Question 7: overfitting and regularisation (5 points).

The exam asked what overfitting is, and for two regularisation methods that deep networks use
against it. Here you measure overfitting instead of describing it, and implement the methods:

* ``OVERFITTING``: which of ``DEFINITIONS`` says what overfitting is.
* Weight penalties, as ``keras.regularizers.L1`` and ``keras.regularizers.L2`` add them to the
  loss: ``l1_penalty`` (factor * sum |w|) and ``l2_penalty`` (factor * sum w^2), and their
  gradients ``l1_gradient`` and ``l2_gradient``. L2 pulls every weight towards 0 in proportion to
  its size; L1 pulls with the same strength whatever the size, and so drives small weights all
  the way to exactly 0 (sparse weights).
* Dropout, as ``keras.layers.Dropout`` does it ("inverted" dropout): in training every unit is
  zeroed with probability ``rate`` and the survivors are divided by (1 - rate), so that each
  unit's expected output stays what it was; at inference nothing is dropped and nothing scaled.
* The experiment: fit polynomials of growing degree (capacity) to a few noisy points by least
  squares (``polynomial_features``, ``fit_polynomial``), and measure the mean squared error on
  the training points and on fresh validation points (``capacity_curve``). Then fit the largest
  polynomial again with an L2 penalty.

Run ``python -m exercises.q07_overfitting --out DIR`` to draw the training and validation error
against the degree, computed by your code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kata.demo import figures_main, save_figure

DEFINITIONS = {
    "fits_noise": "the error on the training data keeps falling while the error on data the "
    "model has not seen rises: the model learns the noise of its training examples instead of "
    "the rule behind them",
    "high_training_error": "the model cannot fit even its training data: the training error and "
    "the validation error both stay high",
    "validation_below_training": "the validation error is lower than the training error",
    "too_many_epochs": "the model was trained for more epochs than it needed",
    "diverging_loss": "the learning rate is so large that the training loss grows from step to "
    "step",
}
"""Candidate definitions of overfitting; one is right."""

# BEGIN SOLUTION: the key of DEFINITIONS that says what overfitting is
# HINT: Do not answer from memory: make `capacity_curve` work, then draw the curves with `python -m
#   exercises.q07_overfitting --out DIR` and watch what the training error and the validation error
#   do as the degree (the capacity) grows.
# HINT: The tests `test_training_error_falls_with_capacity` and
#   `test_validation_error_rises_with_capacity` measure the same thing; run them with -s. Then pick
#   the definition that describes what the two curves do at the high degrees, and ask of each other
#   candidate whether it is a different failure (of fitting, or of the optimiser).
OVERFITTING = "fits_noise"
# STUB: OVERFITTING = None  # one of the keys of DEFINITIONS
# END SOLUTION


def l1_penalty(weights, factor):
    """Return what ``keras.regularizers.L1(l1=factor)`` adds to the loss for ``weights``.

    weights: a float array of any shape; factor: a float >= 0. Returns a float.
    """
    # BEGIN SOLUTION: factor times the sum of the absolute weights
    # HINT: The penalty is the factor times the total size of all the weights, where a weight's size
    #   is its absolute value.
    # HINT: The weights may have any shape: `np.sum` without an axis adds up everything. Return a
    #   Python float, not a NumPy array of shape ().
    return float(factor * np.sum(np.abs(weights)))
    # END SOLUTION


def l2_penalty(weights, factor):
    """Return what ``keras.regularizers.L2(l2=factor)`` adds to the loss for ``weights``.

    weights: a float array of any shape; factor: a float >= 0. Returns a float.
    Mind Keras's convention: there is no factor 1/2 in front.
    """
    # BEGIN SOLUTION: factor times the sum of the squared weights
    # HINT: Like the L1 penalty, but each weight counts by its square instead of its absolute value.
    # HINT: Keras puts no one-half in front: the factor multiplies the plain sum of squares over
    #   every entry, whatever the shape. Return a Python float.
    return float(factor * np.sum(np.square(weights)))
    # END SOLUTION


def l1_gradient(weights, factor):
    """Return the gradient of ``l1_penalty(weights, factor)`` with respect to ``weights``.

    A float array of the shape of ``weights``. At a weight of exactly 0 take 0 (as TensorFlow
    does).
    """
    # BEGIN SOLUTION: the derivative of factor * |w| is factor * sign(w)
    # HINT: Differentiate factor times |w| one weight at a time: the slope does not depend on how
    #   large the weight is, only on which side of zero it lies.
    # HINT: `np.sign` gives that slope's direction for every entry, and it already returns zero at
    #   exactly zero, as the docstring asks. Keep the shape of the weights; the result is an array,
    #   not a number.
    return factor * np.sign(np.asarray(weights, dtype=np.float64))
    # END SOLUTION


def l2_gradient(weights, factor):
    """Return the gradient of ``l2_penalty(weights, factor)`` with respect to ``weights``.

    A float array of the shape of ``weights``.
    """
    # BEGIN SOLUTION: the derivative of factor * w^2 is 2 * factor * w
    # HINT: Differentiate factor times w squared, one weight at a time: the pull grows in proportion
    #   to the weight.
    # HINT: The power rule brings the exponent down, and since Keras's penalty has no one-half in
    #   front, nothing cancels it. Return a float array of the weights' shape.
    return 2.0 * factor * np.asarray(weights, dtype=np.float64)
    # END SOLUTION


def dropout(x, rate, training, rng):
    """Inverted dropout, as ``keras.layers.Dropout(rate)`` applies it.

    x: a float array of any shape; rate: the probability of dropping each entry, 0 <= rate < 1;
    training: a bool; rng: a ``numpy.random.Generator``, the only source of randomness.

    In training, each entry is independently set to 0 with probability ``rate`` and otherwise
    divided by (1 - rate): the expected value of every entry stays x. At inference (training is
    False) ``x`` is returned unchanged. A rate outside [0, 1) raises ValueError.
    """
    # BEGIN SOLUTION: keep each entry with probability 1 - rate; scale the kept ones up
    # HINT: Three cases in order: reject a bad rate first, return x untouched when not training, and
    #   only in training draw a random keep-or-drop decision for every entry.
    # HINT: Draw the randomness from the given `rng` only (for example `rng.random` with x's shape),
    #   never from `np.random`: the tests replay the generator. An entry survives with probability 1
    #   - rate.
    # HINT: Survivors are divided by (1 - rate), dropped entries become zero; check the rate's range
    #   with a chained comparison that lets zero in and keeps one out.
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate!r}")
    x = np.asarray(x, dtype=np.float64)
    if not training:
        return x
    keep = rng.random(x.shape) >= rate  # True with probability 1 - rate
    return np.where(keep, x / (1.0 - rate), 0.0)
    # END SOLUTION


def polynomial_features(x, degree):
    """Return the powers of ``x`` up to ``degree``: shape (n, degree + 1), column k holds x**k.

    x: a float array of shape (n,); degree: an int >= 0. Column 0 is all ones (the constant).
    """
    # BEGIN SOLUTION: one column per power, from x**0 to x**degree
    # HINT: Each row is one x; each column is one power of it, from the zeroth (all ones) up to the
    #   degree itself.
    # HINT: Broadcasting does it without a loop: x as a column of shape (n, 1) raised to a row of
    #   exponents. `np.arange` stops before its argument, so mind the last power.
    x = np.asarray(x, dtype=np.float64)  # (n,)
    return x[:, None] ** np.arange(degree + 1)  # (n, degree + 1)
    # END SOLUTION


def fit_polynomial(x, y, degree, l2=0.0):
    """Return the coefficients c (shape (degree + 1,)) of the best polynomial of that degree.

    "Best" minimises mean((X c - y)^2) + l2 * sum(c^2), where X = polynomial_features(x, degree):
    the mean squared error plus Keras's L2 penalty on every coefficient (the constant too).
    x, y: float arrays of shape (n,); l2: a float >= 0. With l2 = 0 this is least squares;
    where it has many solutions (more coefficients than points) return the one of least norm.
    """
    # BEGIN SOLUTION: least squares on the features, with the penalty as extra rows
    # HINT: Without the penalty this is ordinary least squares on the feature matrix;
    #   NumPy's solver `lstsq` (in `np.linalg`) solves it and, when there are more coefficients
    #   than points, already returns the solution of least norm.
    # HINT: The penalty is ridge regression. Trap: the loss is a MEAN of squared errors, so compared
    #   with a sum of squares the penalty weighs n times more; forget the n and the fit is off for
    #   every positive l2.
    # HINT: The penalty can be written as extra rows of the system: the square root of n times l2,
    #   times an identity matrix, with zeros as their targets. Stack them under the features and
    #   solve once with `lstsq` (this also works when l2 is zero, unlike inverting the normal
    #   equations).
    features = polynomial_features(x, degree)  # (n, degree + 1)
    n = len(features)
    # mean((Xc - y)^2) + l2 |c|^2 = (|Xc - y|^2 + |sqrt(n l2) c|^2) / n: one stacked system
    stacked = np.vstack([features, np.sqrt(n * l2) * np.eye(degree + 1)])
    targets = np.concatenate([np.asarray(y, dtype=np.float64), np.zeros(degree + 1)])
    return np.linalg.lstsq(stacked, targets, rcond=None)[0]
    # END SOLUTION


def capacity_curve(x_train, y_train, x_val, y_val, degrees, l2=0.0):
    """Fit a polynomial of each degree to the training points; measure both errors.

    Returns ``(train_errors, val_errors)``, two float arrays of shape (len(degrees),): the mean
    squared error of each fitted polynomial on the training points and on the validation
    points (the penalty is not part of these errors).
    """
    # BEGIN SOLUTION: fit on the training points only, measure on both
    # HINT: For every degree: fit on the training points only, then measure the fitted polynomial on
    #   the training points and on the validation points.
    # HINT: The prediction of a polynomial is its feature matrix times its coefficients; the error
    #   is the mean of the squared differences. Pass l2 on to the fit, but leave the penalty out of
    #   both errors, and return two float arrays.
    train_errors, val_errors = [], []
    for degree in degrees:
        c = fit_polynomial(x_train, y_train, degree, l2)  # (degree + 1,)
        train_errors.append(np.mean((polynomial_features(x_train, degree) @ c - y_train) ** 2))
        val_errors.append(np.mean((polynomial_features(x_val, degree) @ c - y_val) ** 2))
    return np.array(train_errors), np.array(val_errors)
    # END SOLUTION


# ------------------------------------------------------------------------------------------------
# Given code: the experiment's data and its picture.
# ------------------------------------------------------------------------------------------------

DEGREES = range(13)
"""The capacities the experiment tries: polynomials of degree 0 to 12."""
L2_FACTOR = 1e-3
"""The L2 factor of the regularised fit."""


def noisy_points(n, seed, noise=0.3):
    """``n`` points (x, y) with x uniform in [-1, 1] and y = sin(pi x) plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=n)  # (n,)
    return x, np.sin(np.pi * x) + rng.normal(0.0, noise, size=n)


def experiment(seed=0, n_train=15, n_val=200):
    """The training and validation points of the experiment: 15 to fit, 200 to check."""
    x_train, y_train = noisy_points(n_train, seed)
    x_val, y_val = noisy_points(n_val, seed + 1000)
    return x_train, y_train, x_val, y_val


def draw(out_dir, seed=0):
    """Draw the errors against the degree, and the fitted curves; return the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_train, y_train, x_val, y_val = experiment(seed)
    degrees = list(DEGREES)
    train, val = capacity_curve(x_train, y_train, x_val, y_val, degrees)
    _, val_l2 = capacity_curve(x_train, y_train, x_val, y_val, degrees, l2=L2_FACTOR)

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="tight")
    left.semilogy(degrees, train, "o-", label="training error")
    left.semilogy(degrees, val, "s-", label="validation error")
    left.semilogy(degrees, val_l2, "^--", label=f"validation error, L2 = {L2_FACTOR:g}")
    left.set_xlabel("degree of the polynomial (capacity)")
    left.set_ylabel("mean squared error")
    left.set_title("Overfitting: training error falls, validation error rises")
    left.legend()

    grid = np.linspace(-1.0, 1.0, 400)
    right.plot(x_val, y_val, ".", color="0.8", label="validation points")
    right.plot(x_train, y_train, "ko", label="training points")
    top = degrees[-1]
    best = degrees[int(np.argmin(val))]
    for degree, l2, style in ((best, 0.0, "-"), (top, 0.0, ":"), (top, L2_FACTOR, "--")):
        c = fit_polynomial(x_train, y_train, degree, l2)
        label = f"degree {degree}" + (f", L2 = {l2:g}" if l2 else "")
        right.plot(grid, polynomial_features(grid, degree) @ c, style, label=label)
    right.set_ylim(-2.5, 2.5)
    right.set_title("The fitted polynomials")
    right.legend(fontsize="small")
    return [save_figure(fig, Path(out_dir) / "q07_capacity.png")]


main = figures_main(draw, "figures", prog="python -m exercises.q07_overfitting")

if __name__ == "__main__":
    from kata.demo import run  # a function not written yet: two lines, not a traceback

    run(main, tensorflow=False)
