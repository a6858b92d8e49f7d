"""Question 12: counting trainable parameters, checked against the layers Keras builds."""

import numpy as np
import pytest

from kata.testing import called


@pytest.fixture
def keras(tf):
    """Keras 3, imported after the `tf` fixture has seeded everything."""
    import keras

    return keras


def keras_count(keras, layer, input_shape):
    """Keras's parameter count of `layer`, built on inputs of `input_shape` (no batch axis)."""
    layer(keras.Input(shape=input_shape))
    return layer.count_params()


def sizes(seed, n=2, low=1, high=40):
    rng = np.random.default_rng(seed)
    return tuple(int(v) for v in rng.integers(low, high, size=n))


def check(got, expected, call, why, slips=()):
    """Fail unless got == expected; `slips` maps a known wrong count to what it reveals.

    call: what produced `got`, ending in a verb: "called dense_params(3, 4) returned".
    """
    __tracebackhide__ = True
    if got == expected:
        return
    try:
        reason = dict(slips).get(got, why)
    except TypeError:  # an unhashable result, e.g. a list
        reason = why
    pytest.fail(f"{call} {got}, expected {expected}: {reason}", pytrace=False)


SEEDS = range(5)


# --------------------------------------------------------------------------------------------
# Each layer type against Keras, on random sizes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_dense_params_matches_keras(target, keras, seed):
    inputs, units = sizes(seed)
    # even seeds: a plain vector; odd seeds: a sequence, where Dense acts on every time step
    shape = (inputs,) if seed % 2 == 0 else (seed + 3, inputs)
    expected = keras_count(keras, keras.layers.Dense(units), shape)
    check(
        target.dense_params(inputs, units),
        expected,
        called("dense_params", inputs, units) + " returned",
        f"keras.layers.Dense({units}) on inputs of shape {shape} has a kernel with one weight "
        "per (input, unit) pair and one bias per unit; only the last axis counts",
        slips={inputs * units: "you forgot the biases: Keras gives every unit one"},
    )


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_simple_rnn_params_matches_keras(target, keras, seed):
    inputs, units = sizes(seed)
    expected = keras_count(keras, keras.layers.SimpleRNN(units), (7, inputs))
    check(
        target.simple_rnn_params(inputs, units),
        expected,
        called("simple_rnn_params", inputs, units) + " returned",
        "a SimpleRNN has input weights (inputs x units), recurrent weights (units x units) "
        "and a bias (units)",
        slips={
            inputs * units + units: "you forgot the recurrent weights: the previous hidden "
            "state (units values) is fed back in through its own units x units matrix",
        },
    )


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_lstm_params_matches_keras(target, keras, seed):
    inputs, units = sizes(seed)
    expected = keras_count(keras, keras.layers.LSTM(units), (7, inputs))
    one_gate = expected // 4
    check(
        target.lstm_params(inputs, units),
        expected,
        called("lstm_params", inputs, units) + " returned",
        "an LSTM has four gates (input, forget, candidate, output), each with input, recurrent "
        "and bias weights",
        slips={
            one_gate: "that is one gate's worth: an LSTM has four gates (input, forget, "
            "candidate, output), each with input, recurrent and bias weights",
            3 * one_gate: "an LSTM has four gates, not three (that would be a GRU without "
            "reset_after): input, forget, candidate and output",
        },
    )


GRU_CASES = [(seed, reset_after) for seed in range(3) for reset_after in (True, False)]


@pytest.mark.parametrize(
    "seed, reset_after",
    GRU_CASES,
    ids=[f"seed{s}-reset_after={r}" for s, r in GRU_CASES],
)
def test_gru_params_matches_keras(target, keras, seed, reset_after):
    inputs, units = sizes(seed)
    expected = keras_count(keras, keras.layers.GRU(units, reset_after=reset_after), (7, inputs))
    one_bias = 3 * (inputs * units + units * units + units)
    two_biases = one_bias + 3 * units
    if reset_after:
        slips = {
            one_bias: "a GRU with reset_after=True keeps two bias vectors per gate: one added to "
            "the input's product, one to the recurrent product (before the reset gate scales it)",
        }
    else:
        slips = {
            two_biases: "with reset_after=False a GRU keeps a single bias vector per gate; the "
            "second, recurrent bias only exists with reset_after=True",
        }
    check(
        target.gru_params(inputs, units, reset_after=reset_after),
        expected,
        called("gru_params", inputs, units, reset_after=reset_after) + " returned",
        "a GRU has three gates (update, reset, candidate), each with input, recurrent and bias "
        "weights; reset_after=True doubles the biases",
        slips=slips,
    )


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_conv2d_params_matches_keras(target, keras, seed):
    rows, cols = sizes(seed, low=1, high=6)
    if seed % 2 == 0:
        cols = rows
        kernel_size = rows  # an int k means k x k
    else:
        kernel_size = (rows, cols)
    in_channels, filters = sizes(seed + 100, high=20)
    layer = keras.layers.Conv2D(filters, kernel_size)
    expected = keras_count(keras, layer, (rows + 5, cols + 3, in_channels))
    check(
        target.conv2d_params(kernel_size, in_channels, filters),
        expected,
        called("conv2d_params", kernel_size, in_channels, filters) + " returned",
        "every filter has one kernel of kernel_size for EACH input channel, plus one bias; "
        "the image size does not matter",
        slips={
            rows * cols * filters + filters: "each filter spans all input channels: it has a "
            "separate kernel_size kernel for every one of them",
            rows * cols * in_channels * filters: "you forgot the biases: one per filter",
        },
    )


# --------------------------------------------------------------------------------------------
# The exam's network
# --------------------------------------------------------------------------------------------

# By hand: the Dense layer works per time step on the 10 features, (15, 10) -> (15, 5);
# the LSTM reads 5 features per step and returns its last hidden state, (15, 5) -> (15,);
# the last Dense layer maps 15 -> 10.
EXAM_LAYERS = {
    "dense_sigmoid": 10 * 5 + 5,  # 55
    "lstm": 4 * (5 * 15 + 15 * 15 + 15),  # 1260
    "dense_softmax": 15 * 10 + 10,  # 160
}
EXAM_TOTAL = 55 + 1260 + 160  # 1475

EXAM_SLIPS = {
    "dense_sigmoid": {
        15 * 5 + 5: "a Dense layer on a sequence acts per time step: it sees 10 features, not "
        "the 15 time steps",
        15 * 10 * 5 + 5: "a Dense layer on a sequence acts per time step: it sees 10 features, "
        "not 15*10 (the input is not flattened)",
    },
    "lstm": {
        10 * 15 + 15 * 15 + 15: "an LSTM has four gates, each with input, recurrent and bias "
        "weights; and its inputs are the 5 outputs of the Dense layer before it, not the "
        "10 raw features",
        4 * (10 * 15 + 15 * 15 + 15): "the LSTM's inputs are the 5 outputs of the Dense layer "
        "before it, not the 10 raw features",
        5 * 15 + 15 * 15 + 15: "an LSTM has four gates, each with input, recurrent and bias "
        "weights",
    },
    "dense_softmax": {
        15 * 15 * 10 + 10: "an LSTM returns only its last hidden state by default "
        "(return_sequences=False), so this layer sees 15 values, not 15 time steps of 15",
    },
}
EXAM_WHY = {
    "dense_sigmoid": "the Dense layer is applied to each of the 15 time steps with the same "
    "weights, so only the 10 features per step count",
    "lstm": "an LSTM has four gates, each with input, recurrent and bias weights; its inputs "
    "per step are the outputs of the layer before it",
    "dense_softmax": "the LSTM hands on its last hidden state",
}


def exam_keras_model(keras):
    return keras.Sequential(
        [
            keras.Input(shape=(15, 10)),  # (time steps, features)
            keras.layers.Dense(5, activation="sigmoid"),
            keras.layers.LSTM(15),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def exam_result_layers(target):
    result = target.exam_network_params()
    try:
        layers = dict(result.layers)
    except (AttributeError, TypeError, ValueError) as error:
        pytest.fail(
            f"{called('exam_network_params')} returned {result!r}: expected a ParamCount whose "
            f"`layers` is a list of (name, count) pairs ({type(error).__name__}: {error})",
            pytrace=False,
        )
    return result, layers


@pytest.mark.parametrize("index, name", list(enumerate(EXAM_LAYERS)), ids=list(EXAM_LAYERS))
def test_exam_network_layer_params(target, keras, index, name):
    oracle = exam_keras_model(keras).layers[index].count_params()
    assert oracle == EXAM_LAYERS[name], f"Keras counts {oracle} for {name}, we counted by hand"
    _, layers = exam_result_layers(target)
    if name not in layers:
        pytest.fail(
            f"{called('exam_network_params')} has no entry {name!r} in `layers`; expected the "
            f"names {list(EXAM_LAYERS)}, in that order, got {list(layers)}",
            pytrace=False,
        )
    check(
        layers[name],
        oracle,
        f"{called('exam_network_params')} counted for layer {name!r}",
        EXAM_WHY[name],
        slips=EXAM_SLIPS[name],
    )


def test_exam_network_total(target, keras):
    oracle = exam_keras_model(keras).count_params()
    assert oracle == EXAM_TOTAL, f"Keras counts {oracle}, we counted {EXAM_TOTAL} by hand"
    result, layers = exam_result_layers(target)
    assert list(layers) == list(EXAM_LAYERS), (
        f"{called('exam_network_params')} listed the layers {list(layers)}, expected "
        f"{list(EXAM_LAYERS)}: the three layers with weights, from input to output (the input "
        "and the activations have no parameters)"
    )
    check(
        result.total,
        oracle,
        f"{called('exam_network_params')} returned a total of",
        "the total is the sum over the layers (the input and the activations add nothing); "
        "the failures of test_exam_network_layer_params show which layer is off",
        slips={
            sum(layers.values()): "the sum of your layers; the failures of "
            "test_exam_network_layer_params show which layer is off",
        },
    )
