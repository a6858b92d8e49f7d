"""Question 3: one backpropagation step, on the exam's network and against tf.GradientTape."""

import copy
import re
from itertools import pairwise

import numpy as np
import pytest

from kata.testing import called

# --------------------------------------------------------------------------------------------
# The exam's network, written out again here so that the tests do not depend on the module.
# --------------------------------------------------------------------------------------------


def exam_network():
    """A fresh copy of the exam's network and training example (keyword arguments)."""
    return {
        "x": np.array([3.0, 2.0, -1.0]),
        "target": np.array([2.0]),
        "weights": [
            np.array([[-2.0, 2.0, 0.5], [0.5, 1.0, -1.0]]),
            np.array([[-0.5, 1.0]]),
        ],
        "biases": [np.array([1.0, -2.0]), np.array([2.0])],
        "learning_rate": 0.1,
    }


FIELDS = {"d": "drives", "a": "activations", "delta": "deltas", "w": "weights", "b": "biases"}


def locate(name):
    """Where a quantity in the exam's notation lives in a BackpropStep.

    ``"w^1_{2,3}"`` -> ``("weights", 0, (1, 2))``: w^l_{i,j} is ``weights[l - 1][i - 1, j - 1]``.
    """
    match = re.fullmatch(r"(delta|d|a|w|b)\^(\d)_\{?(\d)(?:,(\d))?\}?", name)
    symbol, layer, *units = match.groups()
    return FIELDS[symbol], int(layer) - 1, tuple(int(u) - 1 for u in units if u is not None)


def check_exam_value(target, name, expected, why):
    """Run the exam's step and compare the quantity ``name`` (exam notation) with ``expected``."""
    net = exam_network()
    call = f"{called('backprop_step', **net)} on the exam's network"
    step = target.backprop_step(**net)
    field, layer, index = locate(name)
    where = f"result.{field}[{layer}][{', '.join(map(str, index))}]"
    try:
        got = float(np.asarray(getattr(step, field)[layer])[index])
    except (AttributeError, IndexError, TypeError, ValueError) as error:
        pytest.fail(
            f"{call}: could not read {name} as {where} ({type(error).__name__}: {error}); "
            f"{field} must be a list with one array per layer, index 0 = layer 1"
        )
    assert got == pytest.approx(expected, abs=1e-9), (
        f"{call} returned {name} = {got:g} (in {where}), expected {expected:g}: {why}"
    )


FORWARD = {
    "d^1_1": -1.5,
    "a^1_1": 0.0,
    "d^1_2": 2.5,
    "a^1_2": 2.5,
    "d^2_1": 4.5,
    "a^2_1": 4.5,
}
DELTAS = {
    "delta^2_1": 2.5,
    "delta^1_1": 0.0,
    "delta^1_2": 2.5,
}
UPDATES = {
    "w^2_{1,1}": -0.5,
    "w^2_{1,2}": 0.375,
    "b^2_1": 1.75,
    "w^1_{1,1}": -2.0,
    "w^1_{1,2}": 2.0,
    "w^1_{1,3}": 0.5,
    "b^1_1": 1.0,
    "w^1_{2,1}": -0.25,
    "w^1_{2,2}": 0.5,
    "w^1_{2,3}": -0.75,
    "b^1_2": -2.25,
}
HIDDEN_1_IS_DEAD = "delta^1_1 = 0 (its drive is negative), so nothing into hidden neuron 1 changes"
WHY = {
    "d^1_1": "the drive is the weighted sum of the inputs plus the bias, "
    "w^1_{1,1} x_1 + w^1_{1,2} x_2 + w^1_{1,3} x_3 + b^1_1",
    "a^1_1": "ReLU turns the negative drive d^1_1 into 0",
    "d^1_2": "the drive is w^1_{2,1} x_1 + w^1_{2,2} x_2 + w^1_{2,3} x_3 + b^1_2 "
    "(row 2 of W1 holds the weights INTO hidden neuron 2)",
    "a^1_2": "ReLU passes a positive drive unchanged",
    "d^2_1": "the output drive weighs the hidden ACTIVATIONS, not their drives: "
    "w^2_{1,1} a^1_1 + w^2_{1,2} a^1_2 + b^2_1",
    "a^2_1": "the output neuron uses ReLU too, which passes a positive drive unchanged",
    "delta^2_1": "for L = 1/2 * mean (a - t)^2 over n_out outputs, dL/da = (a - t) / n_out "
    "= (4.5 - 2) / 1, times ReLU'(d^2_1) = 1",
    "delta^1_1": "hidden neuron 1 has a negative drive, so ReLU' = 0 there and it passes "
    "no gradient back",
    "delta^1_2": "delta^1_2 = ReLU'(d^1_2) * w^2_{1,2} * delta^2_1 with the OLD output weight "
    "w^2_{1,2} = 1 (update the weights only after every delta is known)",
    "w^2_{1,1}": "its gradient is delta^2_1 * a^1_1 and a^1_1 = 0, so this weight does not change",
    "w^2_{1,2}": "new w = old w - lr * delta^2_1 * a^1_2 = 1 - 0.1 * 2.5 * 2.5: a weight's "
    "gradient is the delta of the neuron it feeds times the activation it comes from",
    "b^2_1": "a bias's gradient is its neuron's delta: 2 - 0.1 * delta^2_1",
    "w^1_{1,1}": HIDDEN_1_IS_DEAD,
    "w^1_{1,2}": HIDDEN_1_IS_DEAD,
    "w^1_{1,3}": HIDDEN_1_IS_DEAD,
    "b^1_1": HIDDEN_1_IS_DEAD,
    "w^1_{2,1}": "new w = old w - lr * delta^1_2 * x_1 = 0.5 - 0.1 * 2.5 * 3 "
    "(row 2 of W1 belongs to hidden neuron 2, column 1 to input x_1)",
    "w^1_{2,2}": "new w = old w - lr * delta^1_2 * x_2 = 1 - 0.1 * 2.5 * 2",
    "w^1_{2,3}": "new w = old w - lr * delta^1_2 * x_3 = -1 - 0.1 * 2.5 * (-1): "
    "a negative input turns the step around",
    "b^1_2": "a bias's gradient is its neuron's delta: -2 - 0.1 * delta^1_2",
}


@pytest.mark.parametrize("name", FORWARD, ids=list(FORWARD))
def test_exam_forward_pass(target, name):
    check_exam_value(target, name, FORWARD[name], WHY[name])


@pytest.mark.parametrize("name", DELTAS, ids=list(DELTAS))
def test_exam_deltas(target, name):
    check_exam_value(target, name, DELTAS[name], WHY[name])


@pytest.mark.parametrize("name", UPDATES, ids=list(UPDATES))
def test_exam_updated_parameters(target, name):
    check_exam_value(target, name, UPDATES[name], WHY[name])


# --------------------------------------------------------------------------------------------
# Random networks against TensorFlow.
# --------------------------------------------------------------------------------------------

SEEDS = range(8)
ACTIVATIONS = ["relu", "sigmoid", "linear"]
RTOL, ATOL = 1e-9, 1e-12


def random_network(seed):
    """Depth 1..4 (by seed), widths 1..6, 1..3 outputs; a scalar target for seeds 0..3."""
    rng = np.random.default_rng(seed)
    depth = 1 + seed % 4
    sizes = [int(n) for n in rng.integers(1, 7, size=depth)] + [1 + seed % 3]  # n_0 .. n_L
    target = round(float(rng.normal()), 3) if seed < 4 else rng.normal(size=sizes[-1])
    return {
        "x": rng.normal(size=sizes[0]),
        "target": target,
        "weights": [rng.normal(size=(n_out, n_in)) for n_in, n_out in pairwise(sizes)],
        "biases": [rng.normal(size=n_out) for n_out in sizes[1:]],
        "learning_rate": round(float(rng.uniform(0.01, 0.5)), 3),
    }


def tape_step(tf, net, activation):
    """The same step in TensorFlow (float64): drives, activations, deltas, updated parameters."""
    f = {"relu": tf.nn.relu, "sigmoid": tf.math.sigmoid, "linear": tf.identity}[activation]
    weights = [tf.constant(w, dtype=tf.float64) for w in net["weights"]]
    biases = [tf.constant(b, dtype=tf.float64) for b in net["biases"]]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(weights + biases)
        a = tf.constant(net["x"], dtype=tf.float64)
        drives, activations = [], []
        for w, b in zip(weights, biases, strict=True):
            d = tf.linalg.matvec(w, a) + b
            a = f(d)
            drives.append(d)
            activations.append(a)
        t = tf.constant(net["target"], dtype=tf.float64)
        loss = 0.5 * tf.reduce_mean(tf.square(a - t))
    deltas = tape.gradient(loss, drives)
    grad_w, grad_b = tape.gradient(loss, [weights, biases])
    lr = net["learning_rate"]
    return {
        "drives": [d.numpy() for d in drives],
        "activations": [a.numpy() for a in activations],
        "deltas": [g.numpy() for g in deltas],
        "weights": [(w - lr * g).numpy() for w, g in zip(weights, grad_w, strict=True)],
        "biases": [(b - lr * g).numpy() for b, g in zip(biases, grad_b, strict=True)],
    }


def check_against_tape(target, tf, seed, activation, fields, why):
    net = random_network(seed)
    call = called("backprop_step", **copy.deepcopy(net), activation=activation)
    got = target.backprop_step(**copy.deepcopy(net), activation=activation)
    want = tape_step(tf, net, activation)
    for field in fields:
        layers = getattr(got, field)
        assert len(layers) == len(want[field]), (
            f"{call} returned {len(layers)} arrays in {field}, expected {len(want[field])}: "
            f"one per layer of the network"
        )
        for layer, (got_array, want_array) in enumerate(zip(layers, want[field], strict=True)):
            got_array = np.asarray(got_array)
            assert got_array.shape == want_array.shape, (
                f"{call} returned {field}[{layer}] of shape {got_array.shape}, "
                f"expected {want_array.shape}"
            )
            assert np.allclose(got_array, want_array, rtol=RTOL, atol=ATOL), (
                f"{call} returned {field}[{layer}] (layer {layer + 1}) = "
                f"{np.round(got_array, 6).tolist()}, expected {np.round(want_array, 6).tolist()} "
                f"(from tf.GradientTape): {why}"
            )


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("seed", SEEDS)
def test_forward_pass_matches_tensorflow(target, tf, seed, activation):
    check_against_tape(
        target,
        tf,
        seed,
        activation,
        ["drives", "activations"],
        "d^l = W_l a^{l-1} + b^l and a^l = f(d^l) on every layer, the output layer included",
    )


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("seed", SEEDS)
def test_deltas_match_gradient_tape(target, tf, seed, activation):
    check_against_tape(
        target,
        tf,
        seed,
        activation,
        ["deltas"],
        "delta^L = (a^L - t) / n_out * f'(d^L) and delta^l = f'(d^l) * (W_{l+1}^T delta^{l+1}) "
        "with the old weights; a scalar target applies to every output unit",
    )


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("seed", SEEDS)
def test_updated_parameters_match_sgd_on_gradient_tape(target, tf, seed, activation):
    check_against_tape(
        target,
        tf,
        seed,
        activation,
        ["weights", "biases"],
        "new W_l = W_l - lr * outer(delta^l, a^{l-1}) and new b^l = b^l - lr * delta^l, "
        "every gradient taken at the old parameters",
    )


# --------------------------------------------------------------------------------------------
# The contract: result types and shapes, no mutation, edge cases.
# --------------------------------------------------------------------------------------------


def test_result_holds_one_float64_array_per_layer(target):
    sizes = [4, 5, 3, 2]
    rng = np.random.default_rng(0)
    net = {
        "x": rng.normal(size=4),
        "target": rng.normal(size=2),
        "weights": [rng.normal(size=(n_out, n_in)) for n_in, n_out in pairwise(sizes)],
        "biases": [rng.normal(size=n_out) for n_out in sizes[1:]],
        "learning_rate": 0.1,
    }
    call = called("backprop_step", **net)
    step = target.backprop_step(**copy.deepcopy(net))
    assert isinstance(step, target.BackpropStep), (
        f"{call} returned a {type(step).__name__}, expected a BackpropStep"
    )
    expected = {
        "drives": [(n,) for n in sizes[1:]],
        "activations": [(n,) for n in sizes[1:]],
        "deltas": [(n,) for n in sizes[1:]],
        "weights": [(n_out, n_in) for n_in, n_out in pairwise(sizes)],
        "biases": [(n,) for n in sizes[1:]],
    }
    for field, shapes in expected.items():
        layers = getattr(step, field)
        assert isinstance(layers, list) and len(layers) == len(shapes), (
            f"{call} returned {field} = a {type(layers).__name__} of length "
            f"{len(layers) if hasattr(layers, '__len__') else '?'}, expected a list of "
            f"{len(shapes)} arrays: one per layer (the input is not a layer)"
        )
        for layer, (array, shape) in enumerate(zip(layers, shapes, strict=True)):
            ok = isinstance(array, np.ndarray) and array.dtype == np.float64
            assert ok and array.shape == shape, (
                f"{call} returned {field}[{layer}] = {type(array).__name__} "
                f"{getattr(array, 'dtype', '')} of shape {getattr(array, 'shape', '?')}, "
                f"expected a float64 array of shape {shape}"
            )


def test_inputs_are_not_modified(target):
    net = random_network(7)
    before = copy.deepcopy(net)
    target.backprop_step(**net, activation="sigmoid")
    for key in ("x", "target"):
        assert np.array_equal(net[key], before[key]), (
            f"{called('backprop_step', **before, activation='sigmoid')} changed its argument "
            f"{key}: compute new arrays instead of updating the caller's in place"
        )
    for key in ("weights", "biases"):
        assert len(net[key]) == len(before[key]) and all(
            np.array_equal(new, old) for new, old in zip(net[key], before[key], strict=False)
        ), (
            f"{called('backprop_step', **before, activation='sigmoid')} changed its argument "
            f"{key}: return updated copies (w - lr * grad), do not use `-=` on the caller's arrays"
        )


def test_relu_passes_no_gradient_at_zero_drive(target):
    net = {
        "x": np.array([1.0]),
        "target": np.array([0.0]),
        "weights": [np.array([[1.0]]), np.array([[2.0]])],
        "biases": [np.array([-1.0]), np.array([1.0])],  # the hidden drive is exactly 0
        "learning_rate": 0.1,
    }
    call = called("backprop_step", **net)
    step = target.backprop_step(**copy.deepcopy(net))
    delta = float(np.asarray(step.deltas[0])[0])
    assert delta == 0.0, (
        f"{call} returned delta^1_1 = {delta:g} for a hidden neuron whose drive is exactly 0, "
        f"expected 0: take ReLU'(0) = 0, as TensorFlow does"
    )


@pytest.mark.parametrize("activation", ["tanh", "softmax"])
def test_unknown_activation_raises_value_error(target, activation):
    with pytest.raises(ValueError):
        target.backprop_step(**exam_network(), activation=activation)
