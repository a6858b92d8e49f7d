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

OVERFITTING = None  # one of the keys of DEFINITIONS


def l1_penalty(weights, factor):
    """Return what ``keras.regularizers.L1(l1=factor)`` adds to the loss for ``weights``.

    weights: a float array of any shape; factor: a float >= 0. Returns a float.
    """
    raise NotImplementedError("factor times the sum of the absolute weights")


def l2_penalty(weights, factor):
    """Return what ``keras.regularizers.L2(l2=factor)`` adds to the loss for ``weights``.

    weights: a float array of any shape; factor: a float >= 0. Returns a float.
    Mind Keras's convention: there is no factor 1/2 in front.
    """
    raise NotImplementedError("factor times the sum of the squared weights")


def l1_gradient(weights, factor):
    """Return the gradient of ``l1_penalty(weights, factor)`` with respect to ``weights``.

    A float array of the shape of ``weights``. At a weight of exactly 0 take 0 (as TensorFlow
    does).
    """
    raise NotImplementedError("the derivative of factor * |w| is factor * sign(w)")


def l2_gradient(weights, factor):
    """Return the gradient of ``l2_penalty(weights, factor)`` with respect to ``weights``.

    A float array of the shape of ``weights``.
    """
    raise NotImplementedError("the derivative of factor * w^2 is 2 * factor * w")


def dropout(x, rate, training, rng):
    """Inverted dropout, as ``keras.layers.Dropout(rate)`` applies it.

    x: a float array of any shape; rate: the probability of dropping each entry, 0 <= rate < 1;
    training: a bool; rng: a ``numpy.random.Generator``, the only source of randomness.

    In training, each entry is independently set to 0 with probability ``rate`` and otherwise
    divided by (1 - rate): the expected value of every entry stays x. At inference (training is
    False) ``x`` is returned unchanged. A rate outside [0, 1) raises ValueError.
    """
    raise NotImplementedError("keep each entry with probability 1 - rate; scale the kept ones up")


def polynomial_features(x, degree):
    """Return the powers of ``x`` up to ``degree``: shape (n, degree + 1), column k holds x**k.

    x: a float array of shape (n,); degree: an int >= 0. Column 0 is all ones (the constant).
    """
    raise NotImplementedError("one column per power, from x**0 to x**degree")


def fit_polynomial(x, y, degree, l2=0.0):
    """Return the coefficients c (shape (degree + 1,)) of the best polynomial of that degree.

    "Best" minimises mean((X c - y)^2) + l2 * sum(c^2), where X = polynomial_features(x, degree):
    the mean squared error plus Keras's L2 penalty on every coefficient (the constant too).
    x, y: float arrays of shape (n,); l2: a float >= 0. With l2 = 0 this is least squares;
    where it has many solutions (more coefficients than points) return the one of least norm.
    """
    raise NotImplementedError("least squares on the features, with the penalty as extra rows")


def capacity_curve(x_train, y_train, x_val, y_val, degrees, l2=0.0):
    """Fit a polynomial of each degree to the training points; measure both errors.

    Returns ``(train_errors, val_errors)``, two float arrays of shape (len(degrees),): the mean
    squared error of each fitted polynomial on the training points and on the validation
    points (the penalty is not part of these errors).
    """
    raise NotImplementedError("fit on the training points only, measure on both")


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
