"""Question 3: one backpropagation step, on the exam's network and against tf.GradientTape."""

import copy
import re
from itertools import pairwise, product

import numpy as np
import pytest

from kata.testing import called, expect_float_array, expect_raises, fail, show, slip_hint, within

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


# --------------------------------------------------------------------------------------------
# Reading a BackpropStep: every failure says which part of the result is not what it should be.
# --------------------------------------------------------------------------------------------


def shapes_of(net):
    """The shape of every array of a BackpropStep for ``net``, field by field."""
    weights = [np.shape(w) for w in net["weights"]]
    units = [(shape[0],) for shape in weights]
    return {
        "drives": units,
        "activations": units,
        "deltas": units,
        "weights": weights,
        "biases": units,
    }


def layer_array(step, field, layer, call, shapes):
    """``step.<field>[layer]`` as a float array; fail with a plain message if it is not one.

    ``shapes`` is the list of the field's expected shapes, one per layer (index 0 = layer 1).
    """
    __tracebackhide__ = True
    if not hasattr(step, field):
        fail(
            f"{call} returned {show(step)}, expected a BackpropStep (it has no field `{field}`): "
            f"return BackpropStep(drives, activations, deltas, weights, biases)"
        )
    layers = getattr(step, field)
    if not isinstance(layers, (list, tuple)):
        fail(
            f"{call} returned {field} = {show(layers)}, expected a list with one array per "
            "layer (index 0 = layer 1, the input is not a layer)"
        )
    if len(layers) != len(shapes):
        fail(
            f"{call} returned {field} with {len(layers)} entries, expected {len(shapes)}: one "
            "array per layer (the input is not a layer)"
        )
    got_shapes = [np.shape(a) if isinstance(a, np.ndarray) else None for a in layers]
    if got_shapes != shapes and got_shapes == shapes[::-1]:
        fail(
            f"{call} returned {field} with shapes {got_shapes}, expected {shapes}: index 0 is "
            "layer 1 (the first hidden layer) and index -1 the output layer; yours run from "
            "the output down (going backwards, fill the list by index, or reverse it)"
        )
    part = f"{call}: its {field}[{layer}]"
    array = expect_float_array(layers[layer], part, what="a float64 NumPy array (one per layer)")
    if (
        array.shape != shapes[layer]
        and len(shapes[layer]) == 2
        and array.shape == shapes[layer][::-1]
    ):
        fail(
            f"{part} has shape {array.shape}, expected {shapes[layer]}: W_l has one row per "
            "neuron of layer l and one column per unit of layer l-1, and so does its gradient"
        )
    return expect_float_array(array, part, shape=shapes[layer])


# --------------------------------------------------------------------------------------------
# The oracle: the same step in TensorFlow.
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The exam's numbers: worked out by hand, checked against the oracle, then the learner's.
# --------------------------------------------------------------------------------------------

FORWARD = ["d^1_1", "a^1_1", "d^1_2", "a^1_2", "d^2_1", "a^2_1"]
DELTAS = ["delta^2_1", "delta^1_1", "delta^1_2"]
UPDATES = [
    "w^2_{1,1}",
    "w^2_{1,2}",
    "b^2_1",
    "w^1_{1,1}",
    "w^1_{1,2}",
    "w^1_{1,3}",
    "b^1_1",
    "w^1_{2,1}",
    "w^1_{2,2}",
    "w^1_{2,3}",
    "b^1_2",
]

# BEGIN EXAM KEY: the exam's numbers, worked out by hand: the instructor's cross-check of
# tf.GradientTape, which computes every expected value at test time
BY_HAND = {
    "d^1_1": -1.5,
    "a^1_1": 0.0,
    "d^1_2": 2.5,
    "a^1_2": 2.5,
    "d^2_1": 4.5,
    "a^2_1": 4.5,
    "delta^2_1": 2.5,
    "delta^1_1": 0.0,
    "delta^1_2": 2.5,
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
# STUB: BY_HAND = None
# END EXAM KEY

# Why each quantity has its value. The rules are written out; the numbers in them come from the
# oracle's step (``why``), so that no answer of the exam stands here in plain sight.
DRIVES = {
    "d^1_1": "the drive is the weighted sum of the inputs plus the bias, "
    "w^1_{1,1} x_1 + w^1_{1,2} x_2 + w^1_{1,3} x_3 + b^1_1",
    "d^1_2": "the drive is w^1_{2,1} x_1 + w^1_{2,2} x_2 + w^1_{2,3} x_3 + b^1_2 "
    "(row 2 of W1 holds the weights INTO hidden neuron 2)",
    "d^2_1": "the output drive weighs the hidden activations: "
    "w^2_{1,1} a^1_1 + w^2_{1,2} a^1_2 + b^2_1",
}


def relu_says(drive_name, drive):
    """What ReLU does to the drive ``drive_name``, by its sign."""
    if drive > 0:
        return f"ReLU passes the positive drive {drive_name} unchanged"
    return f"ReLU turns the {'negative ' if drive < 0 else ''}drive {drive_name} into 0"


def why(name, step, net):
    """Why ``name`` has its value: the rule, with the oracle's numbers put in."""
    if name in DRIVES:
        return DRIVES[name]
    field, layer, index = locate(name)
    n, i = layer + 1, index[0] + 1  # the exam's notation: layer n, unit i
    depth = len(net["weights"])
    neuron = "the output neuron" if n == depth else f"hidden neuron {i}"
    drive = float(step["drives"][layer][index[0]])
    if field == "activations":
        says = relu_says(f"d^{n}_{i}", drive)
        return f"the output neuron uses ReLU too: {says}" if n == depth else says
    sign = "negative" if drive < 0 else "0"
    no_slope = "" if drive > 0 else f"; {neuron}'s drive is {sign}, where ReLU' = 0"
    # The rules only, in the docstring's words: how a delta or a gradient is computed is the
    # graded hints' to give (pytest --hint), and the exam asks for exactly that by hand.
    if field == "deltas":
        rule = (
            f"delta^{n}_{i} = dL / d d^{n}_{i}, the loss's derivative with respect to the DRIVE "
            "(not the activation), for L = 1/2 * mean over the output units of (a - t)^2"
        )
        if n < depth:
            rule += (
                f"; {neuron} reaches the loss only through the layer above, with its weights as "
                "they are before the update (every gradient is taken at the old parameters)"
            )
        return rule + no_slope
    dead = f": {neuron}'s drive is {sign}, where ReLU' = 0" if no_slope else ""
    if field == "biases":
        return (
            f"new b^{n}_{i} = old b^{n}_{i} - learning_rate * dL / d b^{n}_{i}, the gradient "
            f"taken at the old parameters{dead}"
        )
    j = index[1] + 1
    source = f"x_{j}" if n == 1 else f"a^{n - 1}_{j}"
    w = f"w^{n}_{{{i},{j}}}"
    text = (
        f"new {w} = old {w} - learning_rate * dL / d {w}, the gradient taken at the old "
        f"parameters; this weight carries {source} into {neuron}"
    )
    if n == 1 and not dead:
        text += f" (row {i} of W1 belongs to {neuron}, column {j} to input {source})"
    return text + dead


# Known slips, each a small function of the oracle's ReLU step: a value that one of them (and
# only one) gives on the exam's network gets its text as a hint (kata.testing.slip_hint).


def with_deltas(net, step, deltas):
    """``step`` with other deltas, and the parameters that a gradient step takes with them."""
    lr, inputs = net["learning_rate"], [net["x"], *step["activations"][:-1]]
    layers = list(zip(net["weights"], net["biases"], deltas, inputs, strict=True))
    return dict(
        step,
        deltas=deltas,
        weights=[w - lr * np.outer(d, a) for w, _, d, a in layers],
        biases=[b - lr * d for _, b, d, _ in layers],
    )


def without_the_half(tf, net):
    """L = mean (a - t)^2: every delta, and every step, twice as large."""
    step = tape_step(tf, net, "relu")
    return with_deltas(net, step, [2 * d for d in step["deltas"]])


def with_the_sign_flipped(tf, net):
    """dL/da = t - a: every delta, and every step, the other way."""
    step = tape_step(tf, net, "relu")
    return with_deltas(net, step, [-d for d in step["deltas"]])


def without_relu(tf, net):
    """No activation function on the way forward. On the exam's network, handing each layer's
    drives (not its activations) to the next layer gives the same wrong values."""
    return tape_step(tf, net, "linear")


def without_the_slope(tf, net):
    """f'(d) left out on the way back: each delta is the error that arrives from above."""
    step = tape_step(tf, net, "relu")
    target = np.broadcast_to(net["target"], np.shape(step["activations"][-1]))
    deltas = [(step["activations"][-1] - target) / target.size]
    for w in reversed(net["weights"][1:]):
        deltas.insert(0, w.T @ deltas[0])
    return with_deltas(net, step, deltas)


def through_the_updated_weights(tf, net):
    """Each delta carried back through the weights of the layer above AFTER their update."""
    step = tape_step(tf, net, "relu")
    deltas = list(step["deltas"])
    for layer in reversed(range(len(deltas) - 1)):
        error = step["weights"][layer + 1].T @ deltas[layer + 1]
        deltas[layer] = (step["drives"][layer] > 0) * error
    return with_deltas(net, step, deltas)


def without_the_learning_rate(tf, net):
    """new = old - gradient."""
    return tape_step(tf, dict(net, learning_rate=1.0), "relu")


SLIPS = {
    without_the_half: "the factor 1/2 of the loss is missing: the loss is HALF the mean squared "
    "error, L = 1/2 * mean (a - t)^2, and its derivative keeps that half",
    with_the_sign_flipped: "the sign is flipped: a delta is the derivative of the loss, which "
    "grows as the output moves away from the target, and SGD steps against it (new = old - "
    "learning_rate * gradient)",
    without_relu: "ReLU is missing on the way forward: every neuron, the output included, "
    "applies a = max(0, d), and the next layer takes these activations as its inputs, not the "
    "drives",
    without_the_slope: "the activation's slope is missing: a delta is the derivative with "
    "respect to the DRIVE, and the drive reaches the loss through the activation f",
    through_the_updated_weights: "delta^1 was carried back through the UPDATED output weights; "
    "use the old ones: update the weights only after every delta is known",
    without_the_learning_rate: "the learning rate is missing: new = old - lr * gradient, with "
    "lr = 0.1",
}
_EXAM_STEPS = {}


def exam_step(tf, slip=None):
    """The oracle's step on the exam's network (``slip=None``), or a slip's (memoised)."""
    if slip not in _EXAM_STEPS:
        net = exam_network()
        _EXAM_STEPS[slip] = slip(tf, net) if slip else tape_step(tf, net, "relu")
    return _EXAM_STEPS[slip]


def exam_slip(tf, name, got, expected):
    """The text of the one known slip that gives ``got`` for ``name``, or None."""
    field, layer, index = locate(name)
    slips = [(float(exam_step(tf, slip)[field][layer][index]), t) for slip, t in SLIPS.items()]
    return slip_hint(got, expected, slips, within(rtol=0, atol=1e-9))


def check_exam_value(target, tf, name):
    """Run the exam's step and compare the quantity ``name`` (exam notation) with the oracle's."""
    __tracebackhide__ = True
    field, layer, index = locate(name)
    oracle = exam_step(tf)
    expected = float(oracle[field][layer][index])
    if BY_HAND is not None:  # the instructor's cross-check; not in the students' copy
        assert expected == pytest.approx(BY_HAND[name], abs=1e-12), (
            f"tf.GradientTape gives {name} = {expected}, we worked out {BY_HAND[name]} by hand"
        )
    net = exam_network()
    call = f"{called('backprop_step', **net)} on the exam's network"
    step = target.backprop_step(**net)
    shapes = [np.shape(a) for a in oracle[field]]
    got = float(layer_array(step, field, layer, call, shapes)[index])
    if abs(got - expected) <= 1e-9:
        return
    where = f"result.{field}[{layer}][{', '.join(map(str, index))}]"
    slip = exam_slip(tf, name, got, expected)
    fail(
        f"{call} returned {name} = {got:g} (in {where}), expected {expected:g}: "
        f"{why(name, oracle, exam_network())}"
        + (f". Your value reveals a slip: {slip}" if slip else "")
    )


@pytest.mark.parametrize("name", FORWARD, ids=FORWARD)
def test_exam_forward_pass(target, tf, name):
    check_exam_value(target, tf, name)


@pytest.mark.parametrize("name", DELTAS, ids=DELTAS)
def test_exam_deltas(target, tf, name):
    check_exam_value(target, tf, name)


@pytest.mark.parametrize("name", UPDATES, ids=UPDATES)
def test_exam_updated_parameters(target, tf, name):
    check_exam_value(target, tf, name)


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


def check_against_tape(target, tf, seed, activation, fields, why):
    __tracebackhide__ = True
    net = random_network(seed)
    call = called("backprop_step", **copy.deepcopy(net), activation=activation)
    got = target.backprop_step(**copy.deepcopy(net), activation=activation)
    want = tape_step(tf, net, activation)
    shapes = shapes_of(net)
    for field in fields:
        for layer, want_array in enumerate(want[field]):
            got_array = layer_array(got, field, layer, call, shapes[field])
            if not np.allclose(got_array, want_array, rtol=RTOL, atol=ATOL):
                fail(
                    f"{call} returned {field}[{layer}] (layer {layer + 1}) = "
                    f"{np.round(got_array, 6).tolist()}, expected "
                    f"{np.round(want_array, 6).tolist()} (from tf.GradientTape): {why}"
                )


# What each comparison with tf.GradientTape reads from the step, and the rule it checks.
TAPE_CHECKS = {
    "forward": (
        ["drives", "activations"],
        "d^l = W_l a^{l-1} + b^l and a^l = f(d^l) on every layer, the output layer included",
    ),
    "deltas": (
        ["deltas"],
        "delta^l = dL / dd^l, the loss's derivative with respect to the drives, for "
        "L = 1/2 * mean over the output units of (a^L - t)^2, with every gradient taken at the "
        "OLD weights; a scalar target applies to every output unit",
    ),
    "updates": (
        ["weights", "biases"],
        "new = old - learning_rate * dL / d(old) for every weight and bias, every gradient "
        "taken at the old parameters",
    ),
}
# Every seed with every activation (ids 0-relu, 0-sigmoid, ..., 7-linear).
RANDOM_CASES = pytest.mark.parametrize(("seed", "activation"), list(product(SEEDS, ACTIVATIONS)))


@RANDOM_CASES
def test_forward_pass_matches_tensorflow(target, tf, seed, activation):
    check_against_tape(target, tf, seed, activation, *TAPE_CHECKS["forward"])


@RANDOM_CASES
def test_deltas_match_gradient_tape(target, tf, seed, activation):
    check_against_tape(target, tf, seed, activation, *TAPE_CHECKS["deltas"])


@RANDOM_CASES
def test_updated_parameters_match_sgd_on_gradient_tape(target, tf, seed, activation):
    check_against_tape(target, tf, seed, activation, *TAPE_CHECKS["updates"])


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
    if not isinstance(step, target.BackpropStep):
        fail(f"{call} returned {show(step)}, expected a BackpropStep")
    for field, shapes in shapes_of(net).items():
        layers = getattr(step, field)
        if not isinstance(layers, list):
            fail(
                f"{call} returned {field} = {show(layers)}, expected a list of {len(shapes)} "
                "arrays: one per layer (the input is not a layer)"
            )
        for layer in range(len(shapes)):
            array = layer_array(step, field, layer, call, shapes)
            if array.dtype != np.float64:
                fail(
                    f"{call} returned {field}[{layer}] of dtype {array.dtype}, expected "
                    "float64: the inputs are float64, and so are the results"
                )


def test_inputs_are_not_modified(target):
    net = random_network(7)
    before = copy.deepcopy(net)
    target.backprop_step(**net, activation="sigmoid")
    call = called("backprop_step", **before, activation="sigmoid")
    for key in ("x", "target"):
        if not np.array_equal(net[key], before[key]):
            fail(
                f"{call} changed its argument {key}: compute new arrays instead of updating the "
                "caller's in place"
            )
    for key in ("weights", "biases"):
        same = len(net[key]) == len(before[key]) and all(
            np.array_equal(new, old) for new, old in zip(net[key], before[key], strict=False)
        )
        if not same:
            fail(
                f"{call} changed its argument {key}: return updated copies, do "
                "not use `-=` on the caller's arrays"
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
    delta = float(layer_array(step, "deltas", 0, call, [(1,), (1,)])[0])
    if delta != 0.0:
        fail(
            f"{call} returned delta^1_1 = {delta:g} for a hidden neuron whose drive is exactly "
            "0, expected 0: take ReLU'(0) = 0, as TensorFlow does"
        )


@pytest.mark.parametrize("activation", ["tanh", "softmax"])
def test_unknown_activation_raises_value_error(target, activation):
    expect_raises(
        ValueError,
        lambda: target.backprop_step(**exam_network(), activation=activation),
        f"{called('backprop_step', **exam_network(), activation=activation)}",
        f"the accepted activations are relu, sigmoid and linear; {activation!r} is none of them",
    )
