"""Question 20: the hard concrete gate of Louizos, Welling and Kingma (2018), against TensorFlow."""

import math

import numpy as np
import pytest

from kata.testing import (
    called,
    check_choice,
    fail,
    key_of,
    layer_weight,
    require,
    saved_and_loaded,
    seeds,
    show,
    slip_hint,
    within,
)

BETA, GAMMA, ZETA = 2 / 3, -0.1, 1.1  # the paper's constants, written out again
SEEDS = range(5)

# --------------------------------------------------------------------------------------------
# Oracles and helpers
# --------------------------------------------------------------------------------------------


def tf_sample(tf, log_alpha, u, beta=BETA, gamma=GAMMA, zeta=ZETA):
    """The hard concrete sample, in float64 TensorFlow."""
    log_alpha, u = tf.constant(log_alpha, tf.float64), tf.constant(u, tf.float64)
    s = tf.sigmoid((tf.math.log(u) - tf.math.log1p(-u) + log_alpha) / beta)
    return tf.clip_by_value(s * (zeta - gamma) + gamma, 0.0, 1.0).numpy()


def tf_probability_nonzero(tf, log_alpha, beta=BETA, gamma=GAMMA, zeta=ZETA):
    """P(gate > 0) from the noise threshold: the gate is 0 exactly when u <= u0.

    s_bar <= 0  <=>  s <= t = -gamma / (zeta - gamma)  <=>  logit(u) <= beta logit(t) - log_alpha
    so u0 = sigmoid(beta logit(t) - log_alpha), and P(gate > 0) = 1 - u0.
    """
    t = -gamma / (zeta - gamma)
    logit_t = math.log(t / (1 - t))
    return (1 - tf.sigmoid(beta * logit_t - tf.constant(log_alpha, tf.float64))).numpy()


def tf_deterministic(tf, log_alpha, gamma=GAMMA, zeta=ZETA):
    s = tf.sigmoid(tf.constant(log_alpha, tf.float64))
    return tf.clip_by_value(s * (zeta - gamma) + gamma, 0.0, 1.0).numpy()


def as_floats(got, call, shape):
    """``got`` (an array or a tensor) as a float64 array of ``shape``."""
    __tracebackhide__ = True
    if got is None:
        fail(f"{call} returned None: did you forget to `return` the result?")
    array = np.asarray(got)
    if array.dtype.kind != "f":
        fail(f"{call} returned {show(got)}, expected floats")
    if array.shape != tuple(shape):
        fail(f"{call} returned shape {array.shape}, expected {tuple(shape)}")
    return array.astype(np.float64)


def sample_slips(log_alpha, u):
    """Known wrong samples, and what each reveals."""
    logistic = np.log(u) - np.log1p(-u)
    s = 1 / (1 + np.exp(-(logistic + log_alpha) / BETA))
    stretched = s * (ZETA - GAMMA) + GAMMA
    no_beta = np.clip((1 / (1 + np.exp(-(logistic + log_alpha)))) * (ZETA - GAMMA) + GAMMA, 0, 1)
    return [
        (stretched, "values below 0 and above 1: clip the stretched sample to [0, 1]"),
        (s, "this is the binary concrete sample s itself: stretch it to (gamma, zeta), then clip"),
        (no_beta, "divide (logit(u) + log_alpha) by the temperature beta before the sigmoid"),
    ]


def check_values(call, got, expected, slips=(), rule=""):
    __tracebackhide__ = True
    if np.allclose(got, expected, atol=1e-5):
        return
    reason = slip_hint(got, expected, slips, within(atol=1e-5)) or rule
    where = int(np.argmax(np.abs(got - expected)))
    fail(
        f"{call} returned {got.flat[where]:.6f} at flat index {where}, expected "
        f"{expected.flat[where]:.6f} ({show(got.astype(np.float32))} against "
        f"{show(expected.astype(np.float32))}): {reason}"
    )


def check_by_hand(target, function, oracle, args, by_hand, slips, rule):
    """One of the exam's small examples: the learner's ``function`` on the float32 ``args``
    against the TensorFlow ``oracle``'s value; ``by_hand`` is the instructor's hand-worked value
    (None in the students' copy), which the oracle must agree with."""
    __tracebackhide__ = True
    expected = float(oracle)
    if by_hand is not None:
        assert expected == pytest.approx(by_hand, abs=1e-12)
    call = called(function, *args)
    got = as_floats(getattr(target, function)(*map(np.float32, args)), call, ())
    check_values(call, got, np.asarray(expected), slips, rule)


# --------------------------------------------------------------------------------------------
# The gate, by hand and against TensorFlow
# --------------------------------------------------------------------------------------------

LN3 = math.log(3)
# The small examples below: their expected values come from the TensorFlow oracles at test time.
# BEGIN EXAM KEY: the small examples worked out by hand, the instructor's cross-checks
# By hand, with beta = 2/3, gamma = -0.1, zeta = 1.1 (so zeta - gamma = 1.2):
# log_alpha = 0, u = 1/2: logit(u) = 0, s = sigmoid(0) = 1/2, s_bar = 0.6 - 0.1 = 0.5.
# log_alpha = 0, u = 0.1: logit = -ln 9, s = sigmoid(-1.5 ln 9) = 1/28, s_bar < 0 -> 0.
# log_alpha = 0, u = 0.9: s = 27/28, s_bar = 1.057... > 1 -> 1.
# log_alpha = (2/3) ln 3, u = 1/2: s = sigmoid(ln 3) = 3/4, s_bar = 0.9 - 0.1 = 0.8.
# log_alpha = (2/3) ln 3, u = 1/4: logit = -ln 3, (-ln 3 + (2/3) ln 3) / (2/3) = -(1/2) ln 3,
#   s = 1 / (1 + sqrt 3), s_bar = 1.2 / (1 + sqrt 3) - 0.1 = 0.339230...
EXAM_SAMPLES = {
    "0-half": 0.5,
    "0-clipped-to-0": 0.0,
    "0-clipped-to-1": 1.0,
    "ln3-half": 0.8,
    "ln3-quarter": 1.2 / (1 + math.sqrt(3)) - 0.1,
}
# P(gate > 0) = sigmoid(log_alpha - beta ln(-gamma / zeta)) = sigmoid(log_alpha +
# (2/3) ln 11). It is 1/2 at log_alpha = -(2/3) ln 11, and 11^(2/3) / (1 + 11^(2/3)) at 0.
EXAM_PROBABILITIES = {"half": 0.5, "log_alpha-0": 11 ** (2 / 3) / (1 + 11 ** (2 / 3))}
# sigmoid(0) = 1/2 -> 0.6 - 0.1 = 0.5; sigmoid(ln 3) = 3/4 -> 0.8;
# sigmoid(-ln 9) = 1/10 -> 0.12 - 0.1 = 0.02; sigmoid(ln 11) = 11/12 -> 1.1 - 0.1 = 1;
# sigmoid(-3) = 0.047 -> 0.057 - 0.1 < 0 -> 0.
EXAM_GATES = {"0": 0.5, "ln3": 0.8, "-ln9": 0.02, "ln11": 1.0, "-3": 0.0}
# STUB: EXAM_SAMPLES = EXAM_PROBABILITIES = EXAM_GATES = None
# END EXAM KEY
SAMPLE_RULE = (
    "s = sigmoid((log u - log(1 - u) + log_alpha) / beta), s_bar = s (zeta - gamma) + gamma, "
    "z = min(1, max(0, s_bar))"
)
SAMPLE_INPUTS = {  # (log_alpha, u)
    "0-half": (0.0, 0.5),
    "0-clipped-to-0": (0.0, 0.1),
    "0-clipped-to-1": (0.0, 0.9),
    "ln3-half": (2 / 3 * LN3, 0.5),
    "ln3-quarter": (2 / 3 * LN3, 0.25),
}


@pytest.mark.parametrize("case", SAMPLE_INPUTS, ids=list(SAMPLE_INPUTS))
def test_exam_gate_samples_by_hand(target, tf, case):
    log_alpha, u = SAMPLE_INPUTS[case]
    check_by_hand(
        target,
        "hard_concrete_sample",
        tf_sample(tf, log_alpha, u),
        (log_alpha, u),
        None if EXAM_SAMPLES is None else EXAM_SAMPLES[case],
        sample_slips(np.float64(log_alpha), np.float64(u)),
        SAMPLE_RULE,
    )


@seeds(SEEDS)
def test_gate_samples_match_tensorflow(target, tf, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 6, size=2))
    log_alpha = rng.normal(0, 3, size=shape).astype(np.float32)
    u = rng.uniform(1e-4, 1 - 1e-4, size=shape).astype(np.float32)
    expected = tf_sample(tf, log_alpha, u)
    call = called("hard_concrete_sample", log_alpha, u)
    got = as_floats(target.hard_concrete_sample(log_alpha, u), call, shape)
    check_values(
        call,
        got,
        expected,
        sample_slips(log_alpha.astype(float), u.astype(float)),
        SAMPLE_RULE + " (TensorFlow ops in float64)",
    )


def test_gate_samples_use_the_constants_given(target, tf):
    rng = np.random.default_rng(5)
    log_alpha = rng.normal(0, 2, size=6).astype(np.float32)
    u = rng.uniform(0.01, 0.99, size=6).astype(np.float32)
    constants = {"beta": 0.5, "gamma": -0.2, "zeta": 1.3}
    call = called("hard_concrete_sample", log_alpha, u, **constants)
    got = as_floats(target.hard_concrete_sample(log_alpha, u, **constants), call, (6,))
    check_values(
        call,
        got,
        tf_sample(tf, log_alpha, u, **constants),
        rule="use the arguments beta, gamma and zeta, not the module's constants",
    )


def test_gate_samples_broadcast_one_noise_per_example(target, tf):
    log_alpha = np.array([-1.0, 0.0, 2.0], np.float32)  # (3,): one per gate
    u = np.random.default_rng(6).uniform(0.01, 0.99, size=(4, 3)).astype(np.float32)  # (4, 3)
    call = called("hard_concrete_sample", log_alpha, u)
    got = as_floats(target.hard_concrete_sample(log_alpha, u), call, (4, 3))
    check_values(
        call,
        got,
        tf_sample(tf, log_alpha[None, :], u),
        rule="log_alpha (3,) and u (4, 3) broadcast: row i uses noise u[i] for the 3 gates",
    )


# --------------------------------------------------------------------------------------------
# The expected L0 penalty
# --------------------------------------------------------------------------------------------

PROBABILITY_INPUTS = {"half": -2 / 3 * math.log(11), "log_alpha-0": 0.0}  # log_alpha


@pytest.mark.parametrize("case", PROBABILITY_INPUTS, ids=list(PROBABILITY_INPUTS))
def test_exam_probability_nonzero_by_hand(target, tf, case):
    log_alpha = PROBABILITY_INPUTS[case]
    check_by_hand(
        target,
        "probability_nonzero",
        tf_probability_nonzero(tf, log_alpha),
        (log_alpha,),
        None if EXAM_PROBABILITIES is None else EXAM_PROBABILITIES[case],
        [
            (
                1 / (1 + np.exp(-log_alpha)),
                "sigmoid(log_alpha) is the gate's location, not the probability that the "
                "stretched sample is above 0: subtract beta log(-gamma / zeta)",
            )
        ],
        "the gate is 0 when s_bar <= 0; solve for the noise: sigmoid(log_alpha - beta * "
        "log(-gamma / zeta))",
    )


@seeds(SEEDS)
def test_probability_nonzero_matches_the_noise_threshold(target, tf, seed):
    log_alpha = np.random.default_rng(seed + 10).normal(0, 3, size=7).astype(np.float32)
    call = called("probability_nonzero", log_alpha)
    got = as_floats(target.probability_nonzero(log_alpha), call, (7,))
    check_values(
        call,
        got,
        tf_probability_nonzero(tf, log_alpha),
        rule="1 - u0, where u0 is the noise below which the gate is 0 (TensorFlow, float64): "
        "sigmoid(log_alpha - beta * log(-gamma / zeta))",
    )


# Each share of non-zero gates among N draws is binomial. A correct pair of functions lands
# within Z = 6 standard deviations for all 5 gates except with probability 1.1e-8 (exact
# binomial tails, union bound over the gates); with the fixed seed the verdict never changes.
DRAWS = 100_000


def test_probability_nonzero_matches_the_sampled_gates(target, tf):
    log_alpha = np.array([-3.0, -1.6, 0.0, 1.0, 3.0], np.float32)
    u = np.random.default_rng(7).uniform(1e-6, 1 - 1e-6, size=(DRAWS, 5)).astype(np.float32)
    gates = np.asarray(target.hard_concrete_sample(log_alpha, u))
    frequency = np.mean(gates > 0, axis=0)
    probability = np.asarray(target.probability_nonzero(log_alpha), dtype=float)
    tolerance = 6 * np.sqrt(probability * (1 - probability) / DRAWS)
    require(
        np.all(np.abs(frequency - probability) <= tolerance),
        f"of {DRAWS} gates sampled with hard_concrete_sample for log_alpha {log_alpha.tolist()}, "
        f"the shares above 0 are {np.round(frequency, 4).tolist()}, but probability_nonzero "
        f"says {np.round(probability, 4).tolist()} (tolerance 6 standard deviations): the two "
        "must describe the same gate",
    )


# --------------------------------------------------------------------------------------------
# The test-time gate
# --------------------------------------------------------------------------------------------

GATE_INPUTS = {"0": 0.0, "ln3": LN3, "-ln9": -math.log(9), "ln11": math.log(11), "-3": -3.0}


@pytest.mark.parametrize("case", GATE_INPUTS, ids=list(GATE_INPUTS))
def test_exam_deterministic_gate_by_hand(target, tf, case):
    log_alpha = GATE_INPUTS[case]
    tempered = np.clip(1 / (1 + np.exp(-log_alpha / BETA)) * (ZETA - GAMMA) + GAMMA, 0, 1)
    check_by_hand(
        target,
        "deterministic_gate",
        tf_deterministic(tf, log_alpha),
        (log_alpha,),
        None if EXAM_GATES is None else EXAM_GATES[case],
        [
            (
                tempered,
                "the test-time gate has no temperature: sigmoid(log_alpha), not "
                "sigmoid(log_alpha / beta)",
            ),
            (
                1 / (1 + np.exp(-log_alpha)),
                "stretch sigmoid(log_alpha) to (gamma, zeta) and clip it to [0, 1]",
            ),
        ],
        "min(1, max(0, sigmoid(log_alpha) (zeta - gamma) + gamma))",
    )


@seeds(SEEDS)
def test_deterministic_gate_matches_tensorflow(target, tf, seed):
    log_alpha = np.random.default_rng(seed + 20).normal(0, 3, size=(3, 4)).astype(np.float32)
    call = called("deterministic_gate", log_alpha)
    got = as_floats(target.deterministic_gate(log_alpha), call, (3, 4))
    check_values(
        call,
        got,
        tf_deterministic(tf, log_alpha),
        rule="min(1, max(0, sigmoid(log_alpha) (zeta - gamma) + gamma)) (TensorFlow, float64)",
    )


def test_without_the_stretch_no_gate_is_exactly_zero(target):
    # The experiment behind SUMMARY["why_stretch_and_clip"]: the binary concrete alone
    # (gamma = 0, zeta = 1) lies strictly inside (0, 1); the stretched, clipped gate has point
    # masses at exactly 0 and exactly 1, and values strictly between them.
    rng = np.random.default_rng(8)
    log_alpha = np.linspace(-3, 3, 7, dtype=np.float32)
    u = rng.uniform(1e-6, 1 - 1e-6, size=(20_000, 7)).astype(np.float32)
    plain = np.asarray(target.hard_concrete_sample(log_alpha, u, gamma=0.0, zeta=1.0), float)
    hard = np.asarray(target.hard_concrete_sample(log_alpha, u), float)
    shares = {
        "plain == 0": np.mean(plain == 0),
        "plain == 1": np.mean(plain == 1),
        "hard == 0": np.mean(hard == 0),
        "hard == 1": np.mean(hard == 1),
        "hard strictly between": np.mean((hard > 0) & (hard < 1)),
    }
    require(
        shares["plain == 0"] == 0
        and shares["hard == 0"] > 0.1
        and shares["hard == 1"] > 0.1
        and shares["hard strictly between"] > 0.1,
        f"shares of 140,000 samples: { ({k: round(float(v), 4) for k, v in shares.items()}) }; "
        "expected no exact 0 without the stretch (gamma = 0, zeta = 1), and with it more than "
        "10 % exact zeros, exact ones and values in between",
    )


# --------------------------------------------------------------------------------------------
# The gated Dense layer
# --------------------------------------------------------------------------------------------


def built_layer(target, units, features, seed=0, **kwargs):
    layer = target.L0Dense(units, seed=seed, **kwargs)
    layer(np.zeros((1, features), np.float32))
    owner, on = f"L0Dense({units})", f"on {features} inputs"
    layer_weight(layer, "kernel", (features, units), owner, on)
    layer_weight(layer, "bias", (units,), owner, on)
    layer_weight(layer, "log_alpha", (features,), owner, on)
    return layer


def set_random_weights(layer, rng, features, units, spread=3.0):
    kernel = rng.standard_normal((features, units)).astype(np.float32)
    bias = rng.standard_normal(units).astype(np.float32)
    log_alpha = rng.normal(0, spread, size=features).astype(np.float32)
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    layer.log_alpha.assign(log_alpha)
    return kernel, bias, log_alpha


@pytest.mark.parametrize("drop_rate", [0.5, 0.2], ids=["drop0.5", "drop0.2"])
def test_layer_weights_have_the_documented_shapes(target, keras, drop_rate):
    layer = built_layer(target, 3, 5, init_drop_rate=drop_rate)
    mean = math.log(1 - drop_rate) - math.log(drop_rate)
    log_alpha = np.asarray(layer.log_alpha)
    require(
        np.all(np.abs(log_alpha - mean) < 0.05),
        f"L0Dense(3, init_drop_rate={drop_rate}) starts with log_alpha {show(log_alpha)}, "
        f"expected values near log(1 - p) - log(p) = {mean:.3f} (standard deviation 0.01)",
    )
    require(np.allclose(np.asarray(layer.bias), 0), "the bias starts at zero")


def random_layer(target, seed, units, features):
    """An L0Dense(units) on ``features`` inputs with random weights, and the generator that drew
    them (it goes on to draw the inputs)."""
    rng = np.random.default_rng(seed)
    layer = built_layer(target, units, features)
    return layer, rng, set_random_weights(layer, rng, features, units)


def check_layer_output(layer, x, expected, slip, rule, **options):
    """The learner's ``layer(x, **options)`` (training, noise) against ``expected``; ``slip`` is a
    known wrong output and what it reveals."""
    __tracebackhide__ = True
    call = called(f"L0Dense({expected.shape[1]})", x, **options)
    got = as_floats(layer(x, **options), call, expected.shape)
    check_values(call, got, expected, [slip], rule)


UNGATED = "every input passed ungated: multiply each input by its deterministic gate"
NOT_SAMPLED = "in training the gates are samples, hard_concrete_sample(log_alpha, noise)"


@seeds(range(3))
def test_layer_at_test_time_uses_the_deterministic_gates(target, tf, keras, seed):
    layer, rng, (kernel, bias, log_alpha) = random_layer(target, seed + 30, units=3, features=6)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    check_layer_output(
        layer,
        x,
        (x * tf_deterministic(tf, log_alpha)) @ kernel + bias,
        (x @ kernel + bias, UNGATED),
        "(inputs * deterministic_gate(log_alpha)) @ kernel + bias",
        training=False,
    )


@seeds(range(3))
def test_layer_in_training_gates_with_the_given_noise(target, tf, keras, seed):
    layer, rng, (kernel, bias, log_alpha) = random_layer(target, seed + 40, units=2, features=5)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    noise = rng.uniform(0.01, 0.99, size=(6, 5)).astype(np.float32)
    check_layer_output(
        layer,
        x,
        (x * tf_sample(tf, log_alpha[None, :], noise)) @ kernel + bias,
        ((x * tf_deterministic(tf, log_alpha)) @ kernel + bias, NOT_SAMPLED),
        "(inputs * hard_concrete_sample(log_alpha, noise)) @ kernel + bias, one gate per "
        "example and input",
        training=True,
        noise=noise,
    )


def test_layer_in_training_draws_one_gate_per_example(target, keras):
    layer = built_layer(target, 1, 4, seed=3)
    layer.kernel.assign(np.ones((4, 1), np.float32))
    layer.log_alpha.assign(np.zeros(4, np.float32))  # gates well inside (0, 1) half the time
    x = np.ones((64, 4), np.float32)  # 64 identical examples
    first = np.asarray(layer(x, training=True))[:, 0]
    second = np.asarray(layer(x, training=True))[:, 0]
    require(
        len(np.unique(np.round(first, 6))) > 10,
        f"L0Dense in training gave 64 identical examples only "
        f"{len(np.unique(np.round(first, 6)))} different outputs: in training the gates are "
        "samples, one per example and input (hard_concrete_sample with noise of shape "
        "(batch, in_features))",
    )
    require(
        not np.allclose(first, second),
        "two calls of L0Dense in training gave the same outputs: draw fresh noise at every "
        "call (keras.random.uniform with the layer's seed_generator)",
    )
    require(
        np.all((first >= 0) & (first <= 4)),
        f"with a kernel of ones and 4 inputs of 1, every output must lie in [0, 4] (gates in "
        f"[0, 1]); got {show(first)}",
    )


def test_expected_l0_counts_the_weights_each_gate_switches(target, tf, keras):
    layer, _, (_, _, log_alpha) = random_layer(target, 50, units=3, features=5)
    expected = 3 * np.sum(tf_probability_nonzero(tf, log_alpha))
    with tf.GradientTape() as tape:
        penalty = layer.expected_l0()
    got = float(np.asarray(penalty))
    require(
        got == pytest.approx(expected, rel=1e-5),
        f"L0Dense(3) on 5 inputs returned expected_l0() = {got:.5f}, expected {expected:.5f}: "
        "units * sum over the inputs of probability_nonzero(log_alpha) (each gate switches a "
        "row of 3 weights)"
        + (" -- you counted the gates, not the weights" if np.isclose(got, expected / 3) else ""),
    )
    gradient = tape.gradient(penalty, layer.log_alpha)
    require(
        gradient is not None and np.all(np.asarray(gradient) > 0),
        "the gradient of expected_l0() with respect to log_alpha must exist and be positive "
        "(a larger log_alpha keeps a gate on more often): compute it with keras.ops",
    )


def test_gradients_reach_the_gates_in_training(target, tf, keras):
    layer = built_layer(target, 2, 4)
    x = np.random.default_rng(60).standard_normal((8, 4)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True) ** 2)
    gradients = tape.gradient(loss, [layer.kernel, layer.log_alpha])
    require(
        all(g is not None for g in gradients),
        "in training, the loss must reach kernel and log_alpha through the sampled gates "
        "(the reparameterisation trick): compute them with keras.ops, not NumPy",
    )


def test_saved_model_loads_with_the_same_outputs(target, keras, tmp_path):
    inputs = keras.Input(shape=(5,))
    model = keras.Model(inputs, target.L0Dense(2, init_drop_rate=0.3, seed=4, name="gated")(inputs))
    x = np.random.default_rng(70).standard_normal((3, 5)).astype(np.float32)
    loaded = saved_and_loaded(
        keras,
        model,
        tmp_path / "l0.keras",
        "a model with L0Dense(2) does not load again: get_config must return the constructor's "
        "arguments",
    )
    layer = loaded.get_layer("gated")
    got = (getattr(layer, "units", None), getattr(layer, "init_drop_rate", None))
    require(
        got == (2, 0.3), f"the loaded layer has (units, init_drop_rate) {got}, expected (2, 0.3)"
    )
    require(
        np.allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6),
        "the loaded model computes something else than the saved one",
    )


# --------------------------------------------------------------------------------------------
# The paper in brief
# --------------------------------------------------------------------------------------------

SUMMARY_QUESTIONS = ["penalty", "obstacle", "remedy", "why_stretch_and_clip", "at_test_time"]
# BEGIN EXAM KEY: the key of each question, and why each other option is wrong (which names the
# key by elimination)
SUMMARY_KEY = {
    "penalty": "count_nonzero",
    "obstacle": "zero_gradient",
    "remedy": "expected_count_of_stochastic_gates",
    "why_stretch_and_clip": "exact_zeros_with_gradients",
    "at_test_time": "deterministic_gate",
}
SUMMARY_WRONG = {
    "sum_of_absolute_values": "that is L1 (the lasso): it shrinks every weight and charges large "
    "weights more; the paper counts weights, whatever their size",
    "sum_of_squares": "that is L2 (weight decay): it shrinks weights but never makes one "
    "exactly zero",
    "too_expensive_to_evaluate": "counting non-zero weights is cheap (np.count_nonzero); the "
    "trouble is that the count gives gradient descent no direction",
    "convexity": "the count is not convex; its trouble is a gradient that is zero wherever it "
    "exists",
    "straight_through": "the paper needs no pretended gradient: the expected number of "
    "non-zero gates is a smooth function of log_alpha (see probability_nonzero)",
    "l1_surrogate": "that is the lasso again; the paper keeps the count and makes its "
    "expectation differentiable",
    "faster_sampling": "both cost one uniform number, a logit and a sigmoid; the stretch and clip "
    "add work (see test_without_the_stretch_no_gate_is_exactly_zero for what they buy)",
    "discrete_gates": "between its point masses at 0 and 1 a hard concrete gate takes every "
    "value in (0, 1), and that part carries the gradient (see "
    "test_without_the_stretch_no_gate_is_exactly_zero)",
    "one_random_sample": "predictions would change from one call to the next; the paper uses a "
    "deterministic gate at test time",
    "all_gates_open": "that would bring back every pruned weight and throw the sparsity away",
}
# STUB: SUMMARY_KEY = SUMMARY_WRONG = None
# END EXAM KEY


@pytest.mark.parametrize("question", SUMMARY_QUESTIONS, ids=SUMMARY_QUESTIONS)
def test_summary_of_the_paper(target, question):
    assert SUMMARY_KEY is None or list(SUMMARY_KEY) == SUMMARY_QUESTIONS
    summary = target.SUMMARY
    options = list(target.OPTIONS[question])
    got = summary.get(question) if isinstance(summary, dict) else None
    key = key_of(SUMMARY_KEY, question)
    check_choice(f"SUMMARY[{question!r}]", got, options, key, SUMMARY_WRONG)


# --------------------------------------------------------------------------------------------
# The experiment: a sparse regression
# --------------------------------------------------------------------------------------------


def test_l0_training_switches_off_the_irrelevant_inputs(target, keras):
    # Measured over seeds 0-7 (300 steps, l0_strength 10), TF_ENABLE_ONEDNN_OPTS 0 and 1: every
    # irrelevant gate exactly 0 and every relevant gate exactly 1, on every seed.
    result = target.fit_sparse_regression(seed=0, steps=300, l0_strength=10.0)
    gates, relevant = np.asarray(result.gates), np.asarray(result.relevant)
    require(
        np.all(gates[~relevant] == 0) and np.all(gates[relevant] > 0.5),
        f"after training L0Dense(1) on a regression that uses {relevant.sum()} of "
        f"{len(relevant)} inputs, the deterministic gates of the irrelevant inputs are "
        f"{show(gates[~relevant])} (expected exactly 0) and those of the relevant ones "
        f"{show(gates[relevant])} (expected above 0.5)",
    )


def test_without_the_penalty_the_irrelevant_inputs_stay_on(target, keras):
    # The control: the same training with l0_strength = 0. Measured over seeds 0-7, oneDNN on
    # and off: 16 of 16 irrelevant gates open on every seed, the smallest 0.116.
    result = target.fit_sparse_regression(seed=0, steps=300, l0_strength=0.0)
    gates, relevant = np.asarray(result.gates), np.asarray(result.relevant)
    require(
        np.all(gates[~relevant] > 0),
        f"without the L0 penalty, the gates of irrelevant inputs are {show(gates[~relevant])}; "
        "expected all of them above 0 (nothing pushes them off): check that the data term "
        "alone does not close gates, i.e. that expected_l0 is the only penalty",
    )
