"""Question 6: zero-centred drives (3 points).

A neuron's drive is its weighted input plus its bias, d = w . x + b; the activation function is
applied to it. The exam asked why it helps to keep drives centred around zero, and for two ways of
getting there. Here you implement both ways, and two experiments that show why they help:

The two techniques
------------------
* Standardise the inputs: subtract each feature's mean and divide by its standard deviation, with
  the mean and standard deviation of the TRAINING data (``fit_standardiser``, ``standardise``);
  the same numbers are then used for validation, test and every later input.
* Batch normalisation: inside the network, standardise every unit's drives over the current
  mini-batch, then scale and shift them by two learned parameters per unit (``batch_norm``).
  At inference time there is no batch to average over: the layer uses running averages of the
  batch statistics, collected during training.

Why centring helps (the experiments)
------------------------------------
* The gradient of a neuron's loss with respect to its weight w_i is delta * x_i, where delta is
  the loss's derivative with respect to the drive. If every input x_i is positive (raw
  measurements, or the outputs of a sigmoid or ReLU layer), every weight gradient of one example
  has the sign of delta: all weights grow together or shrink together, and reaching weights of
  mixed signs takes a zig-zag path. ``neuron_gradients`` computes these gradients, and the tests
  count the signs and the steps plain gradient descent needs (``steps_to_loss``, given code).
* Sigmoid and tanh are steepest at 0 and flat far from it: a drive of 20 passes almost no gradient
  back. Centred, unit-scale drives keep the units in their steep part.

You write ``REASONS``, ``fit_standardiser``, ``standardise``, ``batch_norm`` and
``neuron_gradients``. NumPy only: the tests compare your code with Keras and TensorFlow.
"""

from __future__ import annotations

import numpy as np

REASON_OPTIONS = {
    "zigzag": "with all-positive inputs every weight gradient of a neuron has the same sign, so "
    "gradient descent can only move all its weights up or all down together and zig-zags",
    "saturation": "drives near zero sit where sigmoid and tanh are steepest, so the gradients "
    "passed back do not vanish",
    "linear": "centred drives make the network linear, and linear networks train faster",
    "memory": "centred numbers are smaller, so they take less memory",
    "fewer_parameters": "with centred drives a network needs fewer parameters",
}
"""Statements about why zero-centred drives help; some are true, some are not."""

# BEGIN SOLUTION: the keys of REASON_OPTIONS whose statements are true
# HINT: Each option is a claim you can check. Implement the functions, then run the experiments on
#   signs, steps and the sigmoid's slope: `pytest exercises/q06_centred_drives.py -k 'sign or steps
#   or steep' -s`, and read their messages.
# HINT: Keep the options that an experiment here demonstrates or that follow from the gradient
#   arithmetic in the module's docstring. For each of the others, ask whether centring, which only
#   shifts and rescales numbers, could really cause what it claims.
REASONS = {"zigzag", "saturation"}
# STUB: REASONS = set()  # the keys of REASON_OPTIONS whose statements are true
# END SOLUTION


def fit_standardiser(x_train):
    """Return ``(mean, std)`` of each feature of the training data.

    x_train: float array of shape (n, features). Returns two float arrays of shape (features,):
    the mean and the standard deviation (NumPy's default, ddof=0) of each column.
    """
    # BEGIN SOLUTION: the mean and the standard deviation of each column
    # HINT: One mean and one standard deviation per feature, that is per column, taken over the
    #   examples.
    # HINT: Reduce along the examples' axis (axis 0) of the (n, features) array; NumPy's default
    #   `std` (ddof=0) is the one Keras's Normalization layer uses too. Convert the input to a float
    #   array first.
    x_train = np.asarray(x_train, dtype=np.float64)  # (n, features)
    return x_train.mean(axis=0), x_train.std(axis=0)
    # END SOLUTION


def standardise(x, mean, std):
    """Return ``x`` standardised with the given statistics: (x - mean) / std, per feature.

    x: float array of shape (n, features); mean, std: what ``fit_standardiser`` returned for the
    TRAINING data. Returns a float array of shape (n, features). The statistics of ``x`` itself
    play no part: a single example is standardised exactly as it would be inside a batch.
    """
    # BEGIN SOLUTION: subtract the training mean, divide by the training std
    # HINT: Subtract the mean and divide by the standard deviation, feature by feature, with the
    #   statistics you are GIVEN.
    # HINT: Broadcasting does the per-feature part: an (n, features) array minus a (features,) array
    #   works row by row. Do not compute anything from `x` itself: one example alone must come out
    #   exactly as it would inside a batch.
    return (np.asarray(x, dtype=np.float64) - mean) / std  # (n, features)
    # END SOLUTION


def batch_norm(x, gamma, beta, moving_mean, moving_variance, training, momentum=0.99, epsilon=1e-3):
    """The forward pass of batch normalisation, as ``keras.layers.BatchNormalization`` computes it.

    x: drives of shape (batch, units); gamma, beta: the learned scale and shift, shape (units,);
    moving_mean, moving_variance: the running statistics, shape (units,); training: a bool.

    In training mode the drives are normalised with the mean and variance of this batch (per
    unit, over the batch axis; the variance without Bessel's correction), and the running
    statistics move towards them:

        y = gamma * (x - mean) / sqrt(variance + epsilon) + beta
        new_moving = momentum * moving + (1 - momentum) * batch statistic

    In inference mode the running statistics take the place of the batch's, and they stay as
    they are. Returns ``(y, new_moving_mean, new_moving_variance)``, float arrays of shapes
    (batch, units), (units,), (units,). The arguments are not modified.
    """
    # BEGIN SOLUTION: normalise with the batch's (training) or the running statistics
    # HINT: Two cases: in training, use this batch's mean and variance per unit (over the batch
    #   axis) and move the running statistics towards them; in inference, use the running statistics
    #   as they are.
    # HINT: The variance is the plain one, without Bessel's correction (NumPy's default `var`).
    #   Normalise with epsilon inside the square root, then scale by gamma and shift by beta. Each
    #   running average keeps the fraction `momentum` of its old value.
    # HINT: Return new arrays for the running statistics, copies in inference mode, and change
    #   nothing in place: the tests check that the arguments are the same after the call.
    x = np.asarray(x, dtype=np.float64)  # (batch, units)
    if training:
        mean, variance = x.mean(axis=0), x.var(axis=0)  # (units,), (units,)
        new_mean = momentum * moving_mean + (1.0 - momentum) * mean
        new_variance = momentum * moving_variance + (1.0 - momentum) * variance
    else:
        mean, variance = np.asarray(moving_mean), np.asarray(moving_variance)
        new_mean, new_variance = mean.copy(), variance.copy()
    y = gamma * (x - mean) / np.sqrt(variance + epsilon) + beta  # (batch, units)
    return y, new_mean, new_variance
    # END SOLUTION


def neuron_gradients(x, w, b, y):
    """Per-example gradients of one linear neuron's squared error.

    The neuron's output for example n is its drive d_n = w . x_n + b; its loss on that example is
    L_n = 1/2 * (d_n - y_n)^2. x: (n, features); w: (features,); b: a float; y: (n,).

    Returns ``(grad_w, grad_b)``: grad_w of shape (n, features), row n = dL_n/dw; grad_b of shape
    (n,), entry n = dL_n/db. (The gradient of the mean loss is the mean of the rows.)
    """
    # BEGIN SOLUTION: delta = dL/dd per example; dd/dw = x, dd/db = 1
    # HINT: Chain rule: the loss depends on w and b only through the drive. First compute delta, the
    #   derivative of each example's loss with respect to its drive: one number per example.
    # HINT: With the loss 1/2 (d - y)^2, delta is the error, the drive minus the target. The drive's
    #   derivative with respect to w is the input itself, and with respect to b it is 1; so row n of
    #   grad_w is example n's delta times its input row.
    # HINT: Give the (n,) deltas a trailing axis (np.newaxis or reshape) so that they broadcast
    #   against the (n, features) inputs; do not average over the examples, the function returns one
    #   gradient per example.
    x = np.asarray(x, dtype=np.float64)  # (n, features)
    delta = x @ w + b - np.asarray(y, dtype=np.float64)  # (n,) dL_n/dd_n
    return delta[:, None] * x, delta  # (n, features), (n,)
    # END SOLUTION


# ------------------------------------------------------------------------------------------------
# Given code: the experiments' data and plain gradient descent.
# ------------------------------------------------------------------------------------------------


def positive_data(n=200, features=3, seed=0):
    """Inputs that are all positive (between 1 and 4) and targets from a noisy linear rule."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(1.0, 4.0, size=(n, features))  # (n, features), every entry > 0
    w = rng.normal(0.0, 1.0, size=features)  # weights of mixed signs
    y = x @ w + 0.5 + rng.normal(0.0, 0.3, size=n)  # (n,)
    return x, y


def mean_loss(x, w, b, y):
    """The neuron's loss on the whole data: the mean of 1/2 (w . x_n + b - y_n)^2."""
    return 0.5 * float(np.mean((x @ w + b - y) ** 2))


LEARNING_RATES = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


def steps_to_loss(x, y, target_loss, learning_rates=LEARNING_RATES, max_steps=2000):
    """Full-batch gradient descent on one neuron from zero weights, with ``neuron_gradients``.

    Tries every learning rate and returns the fewest steps after which the loss is at most
    ``target_loss`` (``max_steps`` if no learning rate gets there).
    """
    best = max_steps
    for lr in learning_rates:
        w, b = np.zeros(x.shape[1]), 0.0
        for step in range(best):
            loss = mean_loss(x, w, b, y)
            if loss <= target_loss:
                best = step
                break
            if not np.isfinite(loss) or loss > 1e8:  # this learning rate diverges
                break
            grad_w, grad_b = neuron_gradients(x, w, b, y)
            w = w - lr * grad_w.mean(axis=0)
            b = b - lr * float(np.mean(grad_b))
    return best
