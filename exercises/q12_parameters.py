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
    raise NotImplementedError("count the weight matrix and the bias vector")


def simple_rnn_params(inputs, units):
    """Return the number of trainable parameters of `keras.layers.SimpleRNN(units)`.

    inputs: features per time step; units: size of the hidden state. The hidden state is fed
    back into the layer at the next time step. Returns an int.
    """
    raise NotImplementedError("count the input weights, the recurrent weights and the bias")


def lstm_params(inputs, units):
    """Return the number of trainable parameters of `keras.layers.LSTM(units)`.

    inputs: features per time step; units: size of the hidden (and of the cell) state.
    Keras's defaults: one bias per gate, no peepholes, no projection. Returns an int.
    """
    raise NotImplementedError("count the weights of every gate of the cell")


def gru_params(inputs, units, reset_after=True):
    """Return the number of trainable parameters of `keras.layers.GRU(units, reset_after=...)`.

    inputs: features per time step; units: size of the hidden state. With `reset_after=True`
    (Keras's default) the reset gate is applied after the recurrent matrix multiplication, and
    Keras then keeps separate biases for the input and for the recurrent transformation.
    Returns an int.
    """
    raise NotImplementedError("count the weights of every gate, and the biases reset_after adds")


def conv2d_params(kernel_size, in_channels, filters):
    """Return the number of trainable parameters of `keras.layers.Conv2D(filters, kernel_size)`.

    kernel_size: an int k (a k x k kernel) or a pair (rows, cols); in_channels: channels of the
    input; filters: number of output channels. The image size does not matter: the same kernels
    slide over every position. Returns an int.
    """
    raise NotImplementedError("count one kernel per (input channel, filter) pair, plus the biases")


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
    raise NotImplementedError("apply the counting rules layer by layer and add them up")
