"""Question 12: counting trainable parameters, checked against the layers Keras builds."""

import numbers

import numpy as np
import pytest

from kata.testing import called, check_equal, fail, seeds, show


def keras_count(keras, layer, input_shape):
    """Keras's parameter count of `layer`, built on inputs of `input_shape` (no batch axis)."""
    layer(keras.Input(shape=input_shape))
    return layer.count_params()


def sizes(seed, n=2, low=1, high=40):
    rng = np.random.default_rng(seed)
    return tuple(int(v) for v in rng.integers(low, high, size=n))


def check_count(got, expected, call, why, slips=()):
    """``check_equal`` for a count: the right number as a float (875.0) is not yet an int."""
    __tracebackhide__ = True
    if isinstance(got, numbers.Real) and not isinstance(got, numbers.Integral) and got == expected:
        fail(
            f"{call} returned {got!r} (a {type(got).__name__}), expected the int {expected}: a "
            "count is a whole number: keep to ints (a float operand such as 1.0, or a true "
            "division /, makes a float)"
        )
    check_equal(got, expected, call, why, slips)


SEEDS = range(5)


# --------------------------------------------------------------------------------------------
# Each layer type against Keras, on random sizes
# --------------------------------------------------------------------------------------------


@seeds(SEEDS)
def test_dense_params_matches_keras(target, keras, seed):
    inputs, units = sizes(seed)
    # even seeds: a plain vector; odd seeds: a sequence, where Dense acts on every time step
    shape = (inputs,) if seed % 2 == 0 else (seed + 3, inputs)
    expected = keras_count(keras, keras.layers.Dense(units), shape)
    check_count(
        target.dense_params(inputs, units),
        expected,
        called("dense_params", inputs, units),
        f"keras.layers.Dense({units}) on inputs of shape {shape} holds a weight matrix and a "
        "bias vector, and only the last axis of its input counts",
        slips=[
            (inputs * units, "you forgot the biases: Keras gives every unit one"),
        ],
    )


# Why each count is right: what the layer holds (shown when the learner's count is not right).
RULES = {
    "simple_rnn_params": "a SimpleRNN has input weights, recurrent weights (the hidden state is "
    "fed back in at the next step) and a bias",
    "lstm_params": "an LSTM has four gates (input, forget, candidate, output), each with input, "
    "recurrent and bias weights",
    "gru_params": "a GRU has three gates (update, reset, candidate), each with input, recurrent "
    "and bias weights; reset_after=True doubles the biases",
    "conv2d_params": "every filter has one kernel of kernel_size for EACH input channel, plus "
    "one bias; the image size does not matter",
}


def check_params(target, function, args, expected, slips, **options):
    """The learner's ``function(*args, **options)`` against Keras's count ``expected``; the
    reason it is right is ``RULES[function]``, and ``slips`` name known wrong counts."""
    __tracebackhide__ = True
    got = getattr(target, function)(*args, **options)
    call = called(function, *args, **options)
    check_count(got, expected, call, RULES[function], slips)


@seeds(SEEDS)
def test_simple_rnn_params_matches_keras(target, keras, seed):
    inputs, units = sizes(seed)
    expected = keras_count(keras, keras.layers.SimpleRNN(units), (7, inputs))
    slips = [
        (
            inputs * units + units,
            "you forgot the recurrent weights: the previous hidden state is fed back in "
            "through weights of its own",
        ),
        (inputs * units + units * units, "you forgot the biases: one per unit"),
    ]
    check_params(target, "simple_rnn_params", (inputs, units), expected, slips)


@seeds(SEEDS)
def test_lstm_params_matches_keras(target, keras, seed):
    inputs, units = sizes(seed)
    expected = keras_count(keras, keras.layers.LSTM(units), (7, inputs))
    one_gate = inputs * units + units * units + units
    slips = [
        (
            one_gate,
            "that is one gate's worth: an LSTM has four gates (input, forget, candidate, "
            "output), each with input, recurrent and bias weights",
        ),
        (
            3 * one_gate,
            "that is three gates' worth (a GRU without reset_after has three): an LSTM has "
            "four, input, forget, candidate and output",
        ),
        (4 * (inputs * units + units * units), "you forgot the biases: one per unit and gate"),
        (
            4 * (inputs * units + units),
            "you forgot the recurrent weights: every gate also reads the previous hidden "
            "state, through weights of its own",
        ),
    ]
    check_params(target, "lstm_params", (inputs, units), expected, slips)


@seeds(range(3), reset_after=(True, False))
def test_gru_params_matches_keras(target, keras, seed, reset_after):
    inputs, units = sizes(seed)
    expected = keras_count(keras, keras.layers.GRU(units, reset_after=reset_after), (7, inputs))
    one_bias = 3 * (inputs * units + units * units + units)
    two_biases = one_bias + 3 * units
    if reset_after:
        slip = (
            one_bias,
            "a GRU with reset_after=True keeps two bias vectors per gate: one added to the "
            "input's product, one to the recurrent product (before the reset gate scales it)",
        )
    else:
        slip = (
            two_biases,
            "with reset_after=False a GRU keeps a single bias vector per gate; the second, "
            "recurrent bias only exists with reset_after=True",
        )
    slips = [
        slip,
        (
            4 * (inputs * units + units * units + units),
            "that is four gates' worth, an LSTM's count: a GRU has three (update, reset, "
            "candidate)",
        ),
    ]
    check_params(target, "gru_params", (inputs, units), expected, slips, reset_after=reset_after)


@seeds(SEEDS)
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
    slips = [
        (
            rows * cols * filters + filters,
            "each filter spans all input channels: it has a separate kernel_size kernel "
            "for every one of them",
        ),
        (rows * cols * in_channels * filters, "you forgot the biases: one per filter"),
    ]
    check_params(target, "conv2d_params", (kernel_size, in_channels, filters), expected, slips)


# --------------------------------------------------------------------------------------------
# The exam's network
# --------------------------------------------------------------------------------------------

# The exam's network as the task states it: (time steps, features) in, then Dense(5, sigmoid),
# LSTM(15) and Dense(10, softmax). Every count below is Keras's, at test time.
STEPS, FEATURES = 15, 10
DENSE_UNITS, LSTM_UNITS, CLASSES = 5, 15, 10
EXAM_LAYER_NAMES = ["dense_sigmoid", "lstm", "dense_softmax"]  # the names the task asks for

# BEGIN EXAM KEY: the counts worked out by hand, the instructor's cross-check of Keras's
# By hand: the Dense layer works per time step on the 10 features, (15, 10) -> (15, 5);
# the LSTM reads 5 features per step and returns its last hidden state, (15, 5) -> (15,);
# the last Dense layer maps 15 -> 10.
EXAM_LAYERS = {
    "dense_sigmoid": 10 * 5 + 5,  # 55
    "lstm": 4 * (5 * 15 + 15 * 15 + 15),  # 1260
    "dense_softmax": 15 * 10 + 10,  # 160
}
EXAM_TOTAL = 55 + 1260 + 160  # 1475
# STUB: EXAM_LAYERS = None
# STUB: EXAM_TOTAL = None
# END EXAM KEY


def exam_slips(keras, name, expected):
    """Known wrong counts for one layer of the exam's network, and what each reveals.

    Every wrong count is Keras's own, for the layer built with the slip in it (a bias left out,
    the wrong inputs, return_sequences=True before the last layer); ``expected`` is the right one.
    """
    if name == "dense_sigmoid":
        pairs = [
            (
                keras_count(keras, keras.layers.Dense(DENSE_UNITS), (STEPS,)),
                f"a Dense layer on a sequence acts per time step: it sees the {FEATURES} features "
                f"of a step, not the {STEPS} time steps",
            ),
            (
                keras_count(keras, keras.layers.Dense(DENSE_UNITS), (STEPS * FEATURES,)),
                f"a Dense layer on a sequence acts per time step: it sees {FEATURES} features, "
                f"not {STEPS}*{FEATURES} (the input is not flattened)",
            ),
            (
                keras_count(keras, keras.layers.Dense(DENSE_UNITS, use_bias=False), (FEATURES,)),
                "you forgot the biases: one per unit",
            ),
        ]
    elif name == "lstm":
        raw = keras_count(keras, keras.layers.LSTM(LSTM_UNITS), (STEPS, FEATURES))
        gate = expected // 4  # an LSTM's four gates have the same size
        pairs = [
            (
                raw // 4,
                f"that is one gate's worth, and with the {FEATURES} raw features as inputs: an "
                f"LSTM has four gates, and its inputs are the {DENSE_UNITS} outputs of the Dense "
                "layer before it",
            ),
            (
                raw,
                f"the LSTM's inputs are the {DENSE_UNITS} outputs of the Dense layer before it, "
                f"not the {FEATURES} raw features",
            ),
            (gate, "that is one gate's worth: an LSTM has four gates"),
            (3 * gate, "that is three gates' worth: an LSTM has four"),
            (
                keras_count(
                    keras, keras.layers.LSTM(LSTM_UNITS, use_bias=False), (STEPS, DENSE_UNITS)
                ),
                "you forgot the biases: one per unit and gate",
            ),
        ]
    else:
        pairs = [
            (
                keras_count(keras, keras.layers.Dense(CLASSES), (STEPS * LSTM_UNITS,)),
                "an LSTM returns only its last hidden state by default "
                f"(return_sequences=False), so this layer sees {LSTM_UNITS} values, not {STEPS} "
                f"time steps of {LSTM_UNITS}",
            ),
            (
                keras_count(keras, keras.layers.Dense(CLASSES, use_bias=False), (LSTM_UNITS,)),
                "you forgot the biases: one per unit",
            ),
        ]
    return pairs


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
            keras.Input(shape=(STEPS, FEATURES)),
            keras.layers.Dense(DENSE_UNITS, activation="sigmoid"),
            keras.layers.LSTM(LSTM_UNITS),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )


def exam_result_layers(target):
    """The learner's ParamCount and its layers as a dict; fail plainly if it is not one."""
    __tracebackhide__ = True
    result = target.exam_network_params()
    problem = None
    try:
        layers = dict(result.layers)
    except (AttributeError, TypeError, ValueError) as error:
        problem = f"{type(error).__name__}: {error}"
    if problem is not None:  # failed outside the except: no chained traceback
        fail(
            f"{called('exam_network_params')} returned {show(result)}, expected a ParamCount "
            f"whose `layers` is a list of (name, count) pairs ({problem})"
        )
    return result, layers


@pytest.mark.parametrize(
    "index, name", list(enumerate(EXAM_LAYER_NAMES)), ids=list(EXAM_LAYER_NAMES)
)
def test_exam_network_layer_params(target, keras, index, name):
    oracle = exam_keras_model(keras).layers[index].count_params()
    if EXAM_LAYERS is not None:  # the instructor's cross-check; not in the students' copy
        assert oracle == EXAM_LAYERS[name], (
            f"Keras counts {oracle} for {name}, we counted {EXAM_LAYERS[name]} by hand"
        )
    _, layers = exam_result_layers(target)
    if name not in layers:
        fail(
            f"{called('exam_network_params')} has no entry {name!r} in `layers`; expected the "
            f"names {EXAM_LAYER_NAMES}, in that order, got {list(layers)}"
        )
    got = layers[name]
    check_count(
        got,
        oracle,
        f"{called('exam_network_params')}: its count for layer {name!r}",
        EXAM_WHY[name],
        slips=exam_slips(keras, name, oracle) if got != oracle else {},
    )


def test_exam_network_total(target, keras):
    oracle = exam_keras_model(keras).count_params()
    if EXAM_TOTAL is not None:  # the instructor's cross-check; not in the students' copy
        assert oracle == EXAM_TOTAL, f"Keras counts {oracle}, we counted {EXAM_TOTAL} by hand"
    result, layers = exam_result_layers(target)
    if list(layers) != EXAM_LAYER_NAMES:
        fail(
            f"{called('exam_network_params')} listed the layers {list(layers)}, expected "
            f"{EXAM_LAYER_NAMES}: the three layers with weights, from input to output (the "
            "input and the activations have no parameters)"
        )
    try:
        yours = sum(layers.values())
    except TypeError:  # a count that is not a number: test_exam_network_layer_params says so
        yours = None
    check_count(
        getattr(result, "total", None),
        oracle,
        f"{called('exam_network_params')}: its total",
        "the total is the sum over the layers (the input and the activations add nothing)",
        slips=[
            (
                yours,
                "that is the sum of your layers; the failures of "
                "test_exam_network_layer_params show which layer is off",
            ),
        ],
    )
