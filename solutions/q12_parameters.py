"""Question 12: counting trainable parameters.

The exam described a small sequence model and asked how many trainable parameters it has, layer
by layer, with the working shown:

    input: 15 time steps of 10 features each, shape (15, 10)
    -> Dense, 5 units, sigmoid
    -> LSTM, 15 units (only the last hidden state is returned)
    -> Dense, 10 units, softmax

Here you write the counting rules as functions of the layer sizes, so that they can be checked
against what Keras actually creates for any size, and then apply them to the exam's network.

Rules that matter:

* Count what Keras would create with its default settings: every layer has a bias.
* Activations (sigmoid, softmax) and the input have no parameters.
* A Dense layer works on the last axis of its input only. Given a sequence it is applied to every
  time step with the same weights, so the number of time steps never enters its count.
* A recurrent layer's weights do not depend on the number of time steps either: the same weights
  are reused at every step.

Pure Python: no TensorFlow, no NumPy needed.
"""

from __future__ import annotations

from dataclasses import dataclass


def dense_params(inputs, units):
    """Return the number of trainable parameters of `keras.layers.Dense(units)`.

    inputs: the size of the last axis of the layer's input (the features it sees);
    units: the number of output units. Count the weights and the biases Keras creates, and
    return the count as an int.
    """
    # BEGIN SOLUTION: count the weight matrix and the bias vector
    # HINT: A Dense layer holds two arrays, a weight matrix and a bias vector: how big is each?
    # HINT: The weight matrix connects every input to every unit; the bias adds one number per unit.
    return inputs * units + units  # kernel (inputs, units) + bias (units,)
    # END SOLUTION


def simple_rnn_params(inputs, units):
    """Return the number of trainable parameters of `keras.layers.SimpleRNN(units)`.

    inputs: features per time step; units: size of the hidden state. The hidden state is fed
    back into the layer at the next time step. Returns an int.
    """
    # BEGIN SOLUTION: count the input weights, the recurrent weights and the bias
    # HINT: Besides the input weights and the bias, the hidden state of the previous step comes back
    #   in: through which matrix, and of what shape?
    # HINT: The recurrent matrix maps the previous hidden state (units values) to the units.
    return inputs * units + units * units + units  # kernel + recurrent_kernel + bias
    # END SOLUTION


def lstm_params(inputs, units):
    """Return the number of trainable parameters of `keras.layers.LSTM(units)`.

    inputs: features per time step; units: size of the hidden (and of the cell) state.
    Keras's defaults: one bias per gate, no peepholes, no projection. Returns an int.
    """
    # BEGIN SOLUTION: count the weights of every gate of the cell
    # HINT: An LSTM cell is several gates, each built like a SimpleRNN layer of the same size.
    # HINT: Count one gate (input weights, recurrent weights, bias), then multiply by the number of
    #   gates: input, forget, candidate and output.
    # four gates (input, forget, candidate, output), each a SimpleRNN-like transformation
    return 4 * (inputs * units + units * units + units)
    # END SOLUTION


def gru_params(inputs, units, reset_after=True):
    """Return the number of trainable parameters of `keras.layers.GRU(units, reset_after=...)`.

    inputs: features per time step; units: size of the hidden state. With `reset_after=True`
    (Keras's default) the reset gate is applied after the recurrent matrix multiplication, and
    Keras then keeps separate biases for the input and for the recurrent transformation.
    Returns an int.
    """
    # BEGIN SOLUTION: count the weights of every gate, and the biases reset_after adds
    # HINT: A GRU has one gate fewer than an LSTM (update, reset, candidate); count it the same way.
    # HINT: With reset_after=True Keras keeps two bias vectors per gate, one for the input's product
    #   and one for the recurrent product; with reset_after=False, one.
    # three gates (update, reset, candidate)
    per_gate = inputs * units + units * units + units
    extra_bias = units if reset_after else 0  # a second, recurrent bias per gate
    return 3 * (per_gate + extra_bias)
    # END SOLUTION


def conv2d_params(kernel_size, in_channels, filters):
    """Return the number of trainable parameters of `keras.layers.Conv2D(filters, kernel_size)`.

    kernel_size: an int k (a k x k kernel) or a pair (rows, cols); in_channels: channels of the
    input; filters: number of output channels. The image size does not matter: the same kernels
    slide over every position. Returns an int.
    """
    # BEGIN SOLUTION: count one kernel per (input channel, filter) pair, plus the biases
    # HINT: The image size does not matter: the same kernels slide over every position. What does
    #   one filter hold?
    # HINT: One filter holds a kernel of kernel_size for EVERY input channel, plus one bias. An int
    #   k means a k x k kernel.
    try:
        rows, cols = kernel_size  # a pair
    except TypeError:
        rows = cols = kernel_size  # an int: square
    return rows * cols * in_channels * filters + filters  # kernel (r, c, in, filters) + bias
    # END SOLUTION


@dataclass(frozen=True)
class ParamCount:
    """Trainable parameters of a network, per layer and in total."""

    layers: list[tuple[str, int]]
    """(layer name, trainable parameters): a str and an int for each layer with weights, from
    input to output"""
    total: int
    """the sum over all layers, an int"""


def exam_network_params():
    """Return a `ParamCount` for the exam's network (see the module docstring).

    `layers` has exactly three entries, in this order and with these names:
    ("dense_sigmoid", ...), ("lstm", ...), ("dense_softmax", ...). Use the functions above.
    """
    # BEGIN SOLUTION: apply the counting rules layer by layer and add them up
    # HINT: Go layer by layer and ask each time: how many features does this layer see at one step?
    # HINT: The first Dense layer is applied to each time step on its own, so it sees the features
    #   of one step; the number of time steps never enters a count.
    # HINT: The LSTM's inputs are the outputs of the Dense layer before it, and it hands on only its
    #   last hidden state to the last Dense layer.
    features = 10  # per time step; the 15 time steps never enter a count
    layers = [
        ("dense_sigmoid", dense_params(features, 5)),  # per time step: (15, 10) -> (15, 5)
        ("lstm", lstm_params(5, 15)),  # (15, 5) -> (15,), the last hidden state
        ("dense_softmax", dense_params(15, 10)),  # (15,) -> (10,)
    ]
    return ParamCount(layers=layers, total=sum(count for _, count in layers))
    # END SOLUTION
