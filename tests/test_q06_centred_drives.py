"""Question 6: zero-centred drives, against Keras's layers, and the experiments that show why."""

import numpy as np
import pytest

from kata.statements import at_grading, experiments_first, key_hidden
from kata.testing import called, expect_close, fail, run_command, seeds, show

SEEDS = range(5)
# BEGIN EXAM KEY: the true reasons, the experiment that shows each, and why each other one is
# not a reason
TRUE_REASONS = {"zigzag", "saturation"}
REASON_WHY = {
    "linear": "centring shifts and scales each unit's drives; the activation functions stay "
    "nonlinear, and so does the network",
    "memory": "a float takes the same number of bytes whatever its value",
    "fewer_parameters": "centring changes no layer's size; batch normalisation even adds two "
    "parameters (gamma and beta) per unit",
}
REASON_EXPERIMENT = {
    "zigzag": "test_positive_inputs_give_every_weight_gradient_one_sign",
    "saturation": "test_centred_drives_keep_the_sigmoid_steep",
}
# STUB: TRUE_REASONS = REASON_WHY = REASON_EXPERIMENT = None
# END EXAM KEY


# --------------------------------------------------------------------------------------------
# Technique 1: standardise the inputs with the training data's statistics
# --------------------------------------------------------------------------------------------


def random_split(seed):
    rng = np.random.default_rng(seed)
    features = int(rng.integers(1, 6))
    centre = rng.uniform(-50, 50, size=features)
    scale = rng.uniform(0.1, 20, size=features)
    train = centre + scale * rng.standard_normal((int(rng.integers(5, 40)), features))
    test = centre + 2 * scale * rng.standard_normal((int(rng.integers(1, 10)), features)) + scale
    return train, test


@seeds(SEEDS)
def test_standardise_matches_keras_normalization(target, keras, seed):
    train, test = random_split(seed)
    layer = keras.layers.Normalization()
    layer.adapt(train.astype(np.float32))
    expected = np.asarray(layer(test.astype(np.float32)), dtype=np.float64)
    mean, std = target.fit_standardiser(train)
    got = target.standardise(test, mean, std)
    call = f"{called('standardise', test, mean, std)} after fit_standardiser(train)"
    own = (test - test.mean(axis=0)) / test.std(axis=0) if len(test) > 1 else None
    why = "(x - mean) / std with the mean and std of the TRAINING data (ddof=0), per column"
    if own is not None and np.allclose(np.asarray(got), own, atol=1e-6):
        why = (
            "you standardised the test data with its own mean and std; the training data's "
            "statistics must be used for every later input"
        )
    expect_close(got, expected, call, why, "the value", rtol=1e-4, atol=1e-4)


def test_one_example_is_standardised_like_inside_a_batch(target):
    train, test = random_split(7)
    mean, std = target.fit_standardiser(train)
    batch = np.asarray(target.standardise(test, mean, std))
    alone = target.standardise(test[:1], mean, std)
    expect_close(
        alone,
        batch[:1],
        called("standardise", test[:1], mean, std),
        "the same example standardised inside a batch gave this; only the training statistics "
        "may matter, never the other rows",
        "for one example the value",
        atol=1e-5,
    )


# --------------------------------------------------------------------------------------------
# Technique 2: batch normalisation, training and inference mode
# --------------------------------------------------------------------------------------------


def bn_case(seed):
    rng = np.random.default_rng(seed)
    units = int(rng.integers(1, 6))
    batch = int(rng.integers(2, 12))
    x = rng.normal(rng.uniform(-5, 5, units), rng.uniform(0.5, 4, units), (batch, units))
    gamma, beta = rng.uniform(0.5, 2, units), rng.normal(0, 1, units)
    moving_mean, moving_variance = rng.normal(0, 2, units), rng.uniform(0.5, 3, units)
    momentum = [0.99, 0.9, 0.5][seed % 3]
    epsilon = [1e-3, 1e-5, 0.1][seed % 3]
    return x, gamma, beta, moving_mean, moving_variance, momentum, epsilon


def keras_batch_norm(keras, x, gamma, beta, moving_mean, moving_variance, momentum, epsilon, mode):
    """keras.layers.BatchNormalization on ``x``: its output and its moving statistics after."""
    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
    layer.build(x.shape)
    layer.set_weights([gamma, beta, moving_mean, moving_variance])
    y = np.asarray(layer(x.astype(np.float32), training=mode), dtype=np.float64)
    return y, np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)


def check_batch_norm(target, keras, seed, training):
    __tracebackhide__ = True
    x, gamma, beta, mean, variance, momentum, epsilon = bn_case(seed)
    args = (x, gamma, beta, mean.copy(), variance.copy(), training)
    expected = keras_batch_norm(keras, x, gamma, beta, mean, variance, momentum, epsilon, training)
    call = called("batch_norm", *args, momentum=momentum, epsilon=epsilon)
    got = target.batch_norm(*args, momentum=momentum, epsilon=epsilon)
    if not isinstance(got, tuple) or len(got) != 3:
        fail(
            f"{call} returned {show(got)}, expected a tuple (y, new_moving_mean, "
            "new_moving_variance)"
        )
    mode = "training" if training else "inference"
    if training:
        unbiased = x.var(axis=0, ddof=1)
        why_y = "normalise with THIS batch's mean and variance (per unit, over the batch axis)"
        if np.allclose(
            np.asarray(got[0]), gamma * (x - x.mean(0)) / np.sqrt(unbiased + epsilon) + beta
        ):
            why_y = "Keras divides by the variance without Bessel's correction (np.var, ddof=0)"
        whys = [
            why_y + ", then scale by gamma and shift by beta; epsilon goes inside the sqrt",
            "the moving mean moves towards the batch mean: "
            "momentum * moving_mean + (1 - momentum) * batch_mean",
            "the moving variance moves towards the batch variance (ddof=0): "
            "momentum * moving_variance + (1 - momentum) * batch_variance",
        ]
    else:
        whys = [
            "in inference mode normalise with the MOVING mean and variance, not the batch's: "
            "a prediction must not depend on the other examples in the batch",
            "in inference mode the moving mean stays as it is",
            "in inference mode the moving variance stays as it is",
        ]
    names = ["y", "new_moving_mean", "new_moving_variance"]
    for mine, part, name, why in zip(got, expected, names, whys, strict=True):
        expect_close(mine, part, f"{call} ({mode})", why, name, rtol=1e-4, atol=1e-4)


@seeds(SEEDS)
def test_batch_norm_training_matches_keras(target, keras, seed):
    check_batch_norm(target, keras, seed, training=True)


@seeds(SEEDS)
def test_batch_norm_inference_matches_keras(target, keras, seed):
    check_batch_norm(target, keras, seed, training=False)


def test_batch_norm_does_not_modify_its_arguments(target):
    x, gamma, beta, mean, variance, momentum, epsilon = bn_case(0)
    kept = [a.copy() for a in (x, gamma, beta, mean, variance)]
    target.batch_norm(x, gamma, beta, mean, variance, True, momentum=momentum, epsilon=epsilon)
    names = ["x", "gamma", "beta", "moving_mean", "moving_variance"]
    for name, before, after in zip(names, kept, (x, gamma, beta, mean, variance), strict=True):
        assert np.array_equal(before, after), (
            f"batch_norm(...) changed its argument {name} in place: return the new moving "
            "statistics instead, the caller decides what to keep"
        )


# --------------------------------------------------------------------------------------------
# Why: the gradients of one neuron
# --------------------------------------------------------------------------------------------


@seeds(SEEDS)
def test_neuron_gradients_match_gradient_tape(target, tf, seed):
    rng = np.random.default_rng(seed)
    n, features = int(rng.integers(1, 8)), int(rng.integers(1, 5))
    x, y = rng.normal(0, 2, (n, features)), rng.normal(0, 2, n)
    w, b = rng.normal(0, 1, features), float(rng.normal())
    w_var, b_var = tf.Variable(w), tf.Variable(b, dtype=tf.float64)
    expected_w, expected_b = np.zeros((n, features)), np.zeros(n)
    for i in range(n):  # one example's loss at a time
        with tf.GradientTape() as tape:
            loss = 0.5 * (tf.reduce_sum(x[i] * w_var) + b_var - y[i]) ** 2
        grad_w, grad_b = tape.gradient(loss, [w_var, b_var])
        expected_w[i], expected_b[i] = grad_w.numpy(), grad_b.numpy()
    call = called("neuron_gradients", x, w, b, y)
    got = target.neuron_gradients(x, w, b, y)
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"{call} returned {show(got)}, expected (grad_w, grad_b)")
    expect_close(
        got[0],
        expected_w,
        call,
        "row n is dL_n/dw for L_n = 1/2 * (d_n - y_n)^2: the loss depends on w only through "
        "the drive d_n = w . x_n + b",
        "grad_w",
        atol=1e-5,
    )
    expect_close(
        got[1],
        expected_b,
        call,
        "entry n is dL_n/db for L_n = 1/2 * (d_n - y_n)^2, through the drive d_n = w . x_n + b",
        "grad_b",
        atol=1e-5,
    )


def mixed_share(grad_w):
    """The share of examples whose weight gradients have both signs."""
    grad_w = np.asarray(grad_w)
    return float(np.mean((grad_w > 0).any(axis=1) & (grad_w < 0).any(axis=1)))


def gradients_at_start(target, x, y):
    w = np.full(x.shape[1], 0.1)
    return target.neuron_gradients(x, w, 0.0, y)[0]


def test_positive_inputs_give_every_weight_gradient_one_sign(target):
    x, y = target.positive_data(seed=0)
    share = mixed_share(gradients_at_start(target, x, y))
    assert share == 0.0, (
        f"with all-positive inputs {share:.0%} of the examples gave weight gradients of mixed "
        "signs, expected none: every input is positive, so all of one example's weight "
        "gradients have one sign; check neuron_gradients first "
        "(test_neuron_gradients_match_gradient_tape)"
    )


def test_centred_inputs_mix_the_signs(target):
    x, y = target.positive_data(seed=0)
    mean, std = target.fit_standardiser(x)
    share = mixed_share(gradients_at_start(target, target.standardise(x, mean, std), y))
    # with 3 centred features about 3/4 of the examples mix signs: 0.73 to 0.82 on seeds 0..9,
    # 0.79 on this one
    assert share > 0.5, (
        f"with standardised inputs {share:.0%} of the examples gave weight gradients of mixed "
        "signs, expected more than half: centred inputs have both signs, and so do one "
        "example's weight gradients; check neuron_gradients and standardise first"
    )


# Gradient descent from zero weights to within 10 % of the best possible loss (least squares).
# Measured on seeds 0..9: raw inputs need 49 to 273 steps, standardised ones 1 or 2 (a ratio of
# at least 27).
STEP_RATIO = 10
CENTRED_SEEDS = range(3)


@seeds(CENTRED_SEEDS)
def test_centred_inputs_reach_the_loss_in_fewer_steps(target, seed):
    x, y = target.positive_data(seed=seed)
    design = np.column_stack([x, np.ones(len(x))])
    best = 0.5 * float(np.mean((design @ np.linalg.lstsq(design, y, rcond=None)[0] - y) ** 2))
    goal = 1.1 * best
    mean, std = target.fit_standardiser(x)
    raw = target.steps_to_loss(x, y, goal)
    centred = target.steps_to_loss(target.standardise(x, mean, std), y, goal)
    assert centred * STEP_RATIO <= raw, (
        f"gradient descent (best of {len(target.LEARNING_RATES)} learning rates) needed {raw} "
        f"steps on the raw positive inputs and {centred} on the standardised ones to get within "
        f"10 % of the best loss, expected at least {STEP_RATIO} times fewer on the standardised "
        "ones: on raw inputs every weight moves the same way each step, and the path zig-zags"
    )


def sigmoid_slope(d):
    s = 1.0 / (1.0 + np.exp(-d))
    return s * (1.0 - s)


def test_centred_drives_keep_the_sigmoid_steep(target):
    rng = np.random.default_rng(0)
    x = rng.uniform(20.0, 150.0, size=(64, 2))  # lengths in millimetres: big, all positive
    w = rng.normal(0.0, 0.5, size=(2, 8))  # 8 units
    drives = x @ w  # (64, 8)
    units = w.shape[1]
    y, _, _ = target.batch_norm(
        drives, np.ones(units), np.zeros(units), np.zeros(units), np.ones(units), True
    )
    before, after = sigmoid_slope(drives).mean(), sigmoid_slope(np.asarray(y)).mean()
    # sigmoid'(0) = 0.25 is the largest slope; measured here: before 0.002, after 0.203 (with
    # the generator seeded 0..9: before at most 0.011, after at least 0.202)
    assert after > 0.18 > 0.05 > before, (
        f"the mean slope of a sigmoid at the raw drives is {before:.3f} and at the drives after "
        f"batch_norm {after:.3f}, expected above 0.18 after (the slope is 0.25 at 0): "
        "batch normalisation in training mode should give each unit drives of mean 0 and "
        "variance 1 over the batch (gamma = 1, beta = 0)"
    )


# --------------------------------------------------------------------------------------------
# Your reasons
# --------------------------------------------------------------------------------------------


REASON_EXPERIMENTS = [  # every experiment above: REASONS is judged once they all pass
    "test_positive_inputs_give_every_weight_gradient_one_sign",
    "test_centred_inputs_mix_the_signs",
    "test_centred_inputs_reach_the_loss_in_fewer_steps",
    "test_centred_drives_keep_the_sigmoid_steep",
]


@pytest.mark.kata_statement
def test_reasons(target):
    reasons = target.REASONS
    if not isinstance(reasons, (set, frozenset, list, tuple)):
        fail(f"REASONS is {show(reasons)}: write a set of keys of REASON_OPTIONS")
    reasons = set(reasons)
    unknown = reasons - set(target.REASON_OPTIONS)
    assert not unknown, f"REASONS holds {sorted(unknown)}, which are not keys of REASON_OPTIONS"
    experiments_first(target, REASON_EXPERIMENTS, f"REASONS = {sorted(reasons)}")
    if key_hidden(TRUE_REASONS):
        at_grading(f"REASONS = {sorted(reasons)}")
    wrong = sorted(reasons - TRUE_REASONS)
    if wrong:
        fail(
            "REASONS holds statements that are not true: "
            + "; ".join(f"{key!r}: {REASON_WHY[key]}" for key in wrong)
        )
    missing = TRUE_REASONS - reasons
    if missing:
        experiments = ", ".join(
            f"`{run_command(target, test)}`" for test in sorted(REASON_EXPERIMENT.values())
        )
        fail(
            f"REASONS misses {len(missing)} true statement(s) of REASON_OPTIONS. The experiments "
            f"of this question measure what is true; run them and read what they measure: "
            f"{experiments}"
        )
