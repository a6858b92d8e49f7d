"""Question 10: what goes wrong in deep models, and how CNNs and RNNs were adapted to it.

The exam noted that deeper networks often solve a task better, but that depth brings a problem
of its own, and asked four things in prose: the problem's name and why depth makes it likely;
two adaptations of the classical CNN against it, one explained in detail; why a simple RNN of a
single layer suffers from it too; and two adaptations of the vanilla RNN, one in detail.

Here the names become choices from given options (the `*_OPTIONS` dicts below), and the
"explain one in detail" becomes code you write and measure:

* `ResidualBlock`, a Keras layer: a ResNet block, with a projection shortcut where the
  shortcut's shape would not fit;
* `plain_network` and `residual_network`, 30 convolutions deep each, and
  `backward_gradient_norms`, which measures how much gradient reaches every depth of a network
  at initialisation;
* `LSTMCell`, a Keras layer: an LSTM cell written from its equations, which must compute what
  `keras.layers.LSTMCell` computes when given the same weights;
* `input_gradient_norms`, which measures how much gradient flows from a recurrent layer's last
  output back to each of its inputs, for a SimpleRNN and for your LSTM over 50 steps.

`python -m exercises.q10_deep_models --out DIR` draws both measurements from your code into
DIR/gradient_norms.png.

A note on what the measurements show. They use Keras's default initialisers (Glorot uniform
kernels, zero biases): with them, every ReLU layer of the plain network passes back about
1/sqrt(2) of the gradient it receives. He initialisation (`kernel_initializer="he_normal"`) was
designed to hold the gradient's size at initialisation, and you can try it; plain networks of
this depth still train worse than residual ones (He et al., 2016, "Deep residual learning"),
because the product of many layers' Jacobians is badly conditioned even when its size is right.
The residual blocks here have no batch normalisation, so the experiment shows what the shortcut
alone does; without normalisation every block adds its branch to the signal, and the residual
network's gradient even grows a little towards the input. In time, your LSTM's gradient shrinks
too at initialisation (its forget gates start near sigmoid(1) = 0.73, so the cell state keeps
73% per step), but far more slowly than the SimpleRNN's; and training can push a forget gate
towards 1, which keeps the cell state, and its gradient, over long spans. A SimpleRNN has no
such gate: its only path back in time passes a tanh and the recurrent matrix at every step.
(Try `keras.layers.GRU` in the experiment: its update gate starts half open, with no bias
towards keeping, and at initialisation it does no better than the SimpleRNN. What a gate buys
is a path that training can hold open.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

if __name__ == "__main__":  # the demo: Keras loads TensorFlow without its C++ start-up lines
    from kata.demo import import_tensorflow_quietly

    import_tensorflow_quietly()

# A Keras layer subclass needs its base class when the module is imported, so this module
# imports Keras (and with it TensorFlow) at the top; only question 10 imports this module.
import keras
import numpy as np

# --------------------------------------------------------------------------------------------
# 1. The problem, and why depth causes it
# --------------------------------------------------------------------------------------------

PROBLEM_OPTIONS = {
    "vanishing_gradients": "the gradient that reaches the early layers is too small to change "
    "their weights",
    "overfitting": "the network fits its training data but does worse on new data",
    "dying_relus": "ReLU units whose input is negative for every example, so they output zero "
    "and never recover",
}
CAUSE_OPTIONS = {
    "product_of_layer_factors": "backpropagation multiplies the gradient by one factor per layer "
    "on its way down; many factors smaller than one shrink it exponentially with depth",
    "loss_shared_among_parameters": "the loss is divided among more parameters, so each one "
    "receives a smaller share of it",
    "learning_rate_split_among_layers": "the optimiser splits the learning rate among the "
    "layers, so each layer of a deep network takes smaller steps",
    "receptive_field_blurs_gradient": "deep units see a large part of the input, which "
    "averages their gradient away",
}

# BEGIN SOLUTION: choose the problem and its cause (a key of each *_OPTIONS dict)
# HINT: Let the measurement decide: once `plain_network` and `backward_gradient_norms` work, run
#   `python -m exercises.q10_deep_models` and compare the gradient at the plain network's output
#   with the gradient that reaches its input. Pick the problem that describes what you see.
# HINT: For the cause, ask of every option whether it depends on the number of layers and on nothing
#   else (a wide shallow network with as many parameters would not have it). Both names are keys of
#   their dicts, strings, not the descriptions; a wrong key fails with the reason it is wrong.
PROBLEM = "vanishing_gradients"
CAUSE = "product_of_layer_factors"
# STUB: PROBLEM = None  # one key of PROBLEM_OPTIONS
# STUB: CAUSE = None  # one key of CAUSE_OPTIONS
# END SOLUTION

# --------------------------------------------------------------------------------------------
# 2. Two adaptations of the classical CNN
# --------------------------------------------------------------------------------------------

CNN_ADAPTATION_OPTIONS = {
    "residual_connections": "ResNet: every block adds its input to its output through a shortcut",
    "dense_connections": "DenseNet: every layer of a block receives the concatenated outputs of "
    "all layers before it",
    "dilated_convolutions": "kernels with gaps between their taps",
    "bottleneck_layers": "1x1 convolutions that narrow the channels around a 3x3 convolution",
    "max_pooling": "keeping only the largest value of every window",
    "larger_kernels": "5x5 or 7x7 kernels instead of 3x3",
}

# BEGIN SOLUTION: choose two adaptations (keys of CNN_ADAPTATION_OPTIONS)
# HINT: The problem lives in the path the gradient takes back to the early layers. Which options
#   change that path, and which change something else about the network?
# HINT: This module measures one candidate (`residual_network` against `plain_network`), and
#   question 9 builds the dense block and the bottleneck: look at how each connects a layer to the
#   ones before it. Write a set of two keys.
CNN_ADAPTATIONS = {"residual_connections", "dense_connections"}
# STUB: CNN_ADAPTATIONS = set()  # two keys of CNN_ADAPTATION_OPTIONS
# END SOLUTION


@keras.saving.register_keras_serializable(package="kata_q10")
class ResidualBlock(keras.layers.Layer):
    """A ResNet basic block: out = relu(F(x) + shortcut(x)), with no batch normalisation.

    filters: the channels of the output; strides: the stride of the first convolution (2 halves
    the rows and columns). The residual branch F is
    `conv1 = Conv2D(filters, 3, strides=strides, padding="same", activation="relu")` followed by
    `conv2 = Conv2D(filters, 3, padding="same")`. The shortcut is the input itself when it has
    the output's shape (as many channels as `filters`, and strides 1); otherwise the sum would
    not fit, and the shortcut is a projection `Conv2D(filters, 1, strides=strides)`.

    Keep the sublayers as the attributes `conv1`, `conv2` and `shortcut` (None for the
    identity): the tests read their weights. Create them in `build`, when the input's channels
    are known, and build them there too (`layer.build(shape)`), so that a saved block can be
    loaded. The class is registered with Keras, so a model that uses it can be saved to a
    `.keras` file and loaded again; `get_config` must return what `__init__` needs.
    """

    def __init__(self, filters, strides=1, **kwargs):
        # BEGIN SOLUTION: pass the keyword arguments on to Layer and keep the settings
        # HINT: Hand the extra keyword arguments (name, dtype, ...) to the base class's `__init__`
        #   first, then keep this layer's own arguments.
        # HINT: Store `filters` and `strides` as attributes of those names: `build` and `get_config`
        #   read them. Create no sublayers here: the input's channels are not known yet.
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides
        # END SOLUTION

    def build(self, input_shape):
        """Create (and build) `conv1`, `conv2` and `shortcut` for inputs of `input_shape`."""
        # BEGIN SOLUTION: create the branch, and a projection where the shapes differ
        # HINT: Create the branch's two convolutions as the class docstring describes them; the
        #   shortcut depends on whether the input's shape matches the shape the branch produces.
        # HINT: The identity fits only when the input's channels (the last entry of `input_shape`)
        #   equal `filters` AND the stride is 1; otherwise use a 1x1 projection with the block's
        #   stride. Set `shortcut` to None for the identity: the tests look for it.
        # HINT: Build every sublayer with the shape it will really receive: the second convolution
        #   sees the first one's output (`compute_output_shape`), not the block's input.
        # input_shape: (batch, rows, cols, channels)
        self.conv1 = keras.layers.Conv2D(
            self.filters, 3, strides=self.strides, padding="same", activation="relu"
        )
        self.conv2 = keras.layers.Conv2D(self.filters, 3, padding="same")
        self.conv1.build(input_shape)
        branch_shape = self.conv1.compute_output_shape(input_shape)  # (b, r / s, c / s, filters)
        self.conv2.build(branch_shape)
        if input_shape[-1] == self.filters and self.strides == 1:
            self.shortcut = None  # the identity: x already has the output's shape
        else:
            self.shortcut = keras.layers.Conv2D(self.filters, 1, strides=self.strides)
            self.shortcut.build(input_shape)
        # END SOLUTION

    def call(self, inputs):
        """Return relu(conv2(conv1(inputs)) + shortcut(inputs))."""
        # BEGIN SOLUTION: add the shortcut to the branch, then apply the ReLU
        # HINT: Two paths leave the same input: the branch (both convolutions) and the shortcut. Add
        #   them, then apply one ReLU.
        # HINT: The ReLU comes after the sum; the second convolution itself has no activation. When
        #   `shortcut` is None the shortcut path is the input itself. Use `keras.ops` for the ReLU.
        branch = self.conv2(self.conv1(inputs))  # (batch, rows / s, cols / s, filters)
        skip = inputs if self.shortcut is None else self.shortcut(inputs)
        return keras.ops.relu(branch + skip)
        # END SOLUTION

    def get_config(self):
        """Return the layer's configuration: Layer's own, plus `filters` and `strides`."""
        # BEGIN SOLUTION: add this layer's arguments to the base configuration
        # HINT: Start from the base class's configuration: it already holds the name, the dtype and
        #   the other settings every layer has.
        # HINT: Return a new dict: that configuration plus the arguments `__init__` takes, so that
        #   `ResidualBlock.from_config(block.get_config())` rebuilds the same block.
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}
        # END SOLUTION


def plain_network(depth, filters, input_shape):
    """Return a `keras.Sequential` of `depth` Conv2D(filters, 3, padding="same", relu) layers.

    input_shape: (rows, cols, channels) of one image, given to `keras.Input`. Keras's default
    initialisers; nothing else in the model.
    """
    # BEGIN SOLUTION: stack the convolutions
    # HINT: A `keras.Sequential` that starts with a `keras.Input` of `input_shape`, followed by
    #   `depth` convolutions.
    # HINT: Create a new `Conv2D` object for every layer (one object used twice would share its
    #   weights): `filters` 3x3 kernels, same padding, ReLU, default initialisers.
    convolutions = [
        keras.layers.Conv2D(filters, 3, padding="same", activation="relu") for _ in range(depth)
    ]
    return keras.Sequential([keras.Input(input_shape), *convolutions])
    # END SOLUTION


def residual_network(num_blocks, filters, input_shape):
    """Return a `keras.Sequential` of `num_blocks` ResidualBlock(filters) layers (stride 1).

    input_shape: (rows, cols, channels) of one image. With num_blocks = 15 the network has
    30 convolutions, as deep as `plain_network(30, ...)`.
    """
    # BEGIN SOLUTION: stack the residual blocks
    # HINT: Like `plain_network`, with blocks instead of convolutions.
    # HINT: A `keras.Sequential` of a `keras.Input` of `input_shape` and `num_blocks` fresh
    #   `ResidualBlock(filters)` objects (stride 1).
    return keras.Sequential(
        [keras.Input(input_shape)] + [ResidualBlock(filters) for _ in range(num_blocks)]
    )
    # END SOLUTION


def backward_gradient_norms(model, x, probe):
    """Return how much gradient reaches each depth of a Sequential model, as a float array.

    x: a batch of inputs; probe: an array of the model's output shape. The loss is
    L = sum(model(x) * probe), so that the gradient at the output is the probe itself, the same
    for any model. Apply the layers of `model.layers` in turn under a `tf.GradientTape`, and
    return the Euclidean norms (over the whole batch) of the gradient of L with respect to x
    and with respect to the output of every layer: len(model.layers) + 1 numbers, from the
    input up to the output. The last one is the norm of `probe`.
    """
    # BEGIN SOLUTION: record every layer's output, then L's gradient w.r.t. each
    # HINT: You need the gradient with respect to intermediate tensors, not weights: apply the
    #   layers one at a time inside a `tf.GradientTape` and keep every output in a list, the input
    #   first.
    # HINT: A constant is not watched by default: call `tape.watch` on the input. Compute L (the sum
    #   of the last output times `probe`) inside the tape, then ask the tape once for the gradients
    #   with respect to the whole list.
    # HINT: Turn each gradient into one number, its Euclidean norm over all axes (`tf.norm`), and
    #   return a float NumPy array of len(model.layers) + 1 values, input first. Calling `model(x)`
    #   as a whole would not give you the tensors you recorded.
    import tensorflow as tf

    x = tf.convert_to_tensor(x, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = [x]  # the input, then every layer's output
        for layer in model.layers:
            outputs.append(layer(outputs[-1]))
        loss = tf.reduce_sum(outputs[-1] * probe)
    gradients = tape.gradient(loss, outputs)
    return np.array([float(tf.norm(g)) for g in gradients])
    # END SOLUTION


# --------------------------------------------------------------------------------------------
# 3. Why a one-layer RNN suffers too
# --------------------------------------------------------------------------------------------

RNN_CAUSE_OPTIONS = {
    "depth_in_time": "unrolled over the sequence, one recurrent layer is as deep as the "
    "sequence is long: the gradient reaching an early input has passed the recurrent step once "
    "for every later time step",
    "too_many_parameters": "the recurrent weight matrix has many parameters",
    "hidden_state_too_small": "the hidden state has too few units to remember the input",
    "loss_averaged_over_steps": "the loss is averaged over the time steps, so each step's "
    "gradient is divided by the sequence's length",
}

# BEGIN SOLUTION: choose the reason (a key of RNN_CAUSE_OPTIONS)
# HINT: One recurrent layer is shallow if you draw it once; draw it unrolled over the sequence
#   instead. How many recurrent steps lie between the last output and the first input?
# HINT: Once `input_gradient_norms` works, `python -m exercises.q10_deep_models` measures the
#   gradient reaching the first and the last input of a SimpleRNN: pick the option that explains a
#   difference growing with the distance in time. A wrong key fails with its reason.
RNN_CAUSE = "depth_in_time"
# STUB: RNN_CAUSE = None  # one key of RNN_CAUSE_OPTIONS
# END SOLUTION


def input_gradient_norms(rnn, inputs, probe):
    """Return how much gradient flows from a recurrent layer's last output to each input step.

    rnn: a Keras recurrent layer that returns its last output, (batch, units);
    inputs: (batch, time, features); probe: (batch, units). With L = sum(rnn(inputs) * probe),
    return, for every time step t, the Euclidean norm of dL/d inputs[:, t, :] (over the batch
    and the features): a float array of `time` numbers. The first is how much of the last
    output's gradient reaches the first input.
    """
    # BEGIN SOLUTION: one gradient w.r.t. the whole input sequence, then a norm per step
    # HINT: Take one gradient of L with respect to the whole input sequence, then split its norm by
    #   time step.
    # HINT: Convert `inputs` to a float32 tensor and `tape.watch` it; L is the sum of the layer's
    #   output times `probe`. The gradient has the inputs' shape (batch, time, features): square it,
    #   sum over the batch and the features but NOT over time, take the square root.
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = tf.reduce_sum(rnn(inputs) * probe)
    gradient = tape.gradient(loss, inputs).numpy()  # (batch, time, features)
    return np.sqrt(np.sum(gradient**2, axis=(0, 2)))
    # END SOLUTION


# --------------------------------------------------------------------------------------------
# 4. Two adaptations of the vanilla RNN
# --------------------------------------------------------------------------------------------

RNN_ADAPTATION_OPTIONS = {
    "lstm": "long short-term memory: a cell state updated through forget, input and output gates",
    "gru": "gated recurrent unit: an update gate mixes the previous state with a candidate",
    "gradient_clipping": "scaling the gradient down whenever its norm exceeds a threshold",
    "bidirectional": "a second RNN that reads the sequence backwards",
    "stacked_layers": "several recurrent layers on top of each other",
    "truncated_backpropagation": "backpropagating through the last k time steps only",
}

# BEGIN SOLUTION: choose two adaptations (keys of RNN_ADAPTATION_OPTIONS)
# HINT: For every option ask: does it give the gradient a path back in time that need not shrink at
#   every step, or does it act on something else?
# HINT: Your `LSTMCell` and `measure_time` show what such a path buys; the module docstring suggests
#   trying `keras.layers.GRU` there too. Write a set of two keys; a wrong key fails with its reason.
RNN_ADAPTATIONS = {"lstm", "gru"}
# STUB: RNN_ADAPTATIONS = set()  # two keys of RNN_ADAPTATION_OPTIONS
# END SOLUTION


@keras.saving.register_keras_serializable(package="kata_q10")
class LSTMCell(keras.layers.Layer):
    """One step of an LSTM, from its equations; usable in `keras.layers.RNN(LSTMCell(units))`.

    With x the input at this step (batch, features), h and c the previous hidden and cell
    states (batch, units), and z = x @ kernel + h @ recurrent_kernel + bias, split into four
    blocks of `units` columns in Keras's order z_i, z_f, z_c, z_o:

        i = sigmoid(z_i)           input gate
        f = sigmoid(z_f)           forget gate
        o = sigmoid(z_o)           output gate
        c_new = f * c + i * tanh(z_c)
        h_new = o * tanh(c_new)

    `call(inputs, states)` receives states = [h, c] and returns (h_new, [h_new, c_new]).

    Weights, created in `build` under these attribute names, initialised as Keras's LSTMCell
    initialises them: `kernel` (features, 4 * units), Glorot uniform; `recurrent_kernel`
    (units, 4 * units), orthogonal; `bias` (4 * units,), zeros except ones for the forget gate
    (Keras's unit_forget_bias=True). `state_size` is [units, units] and `output_size` is units,
    so that `keras.layers.RNN` knows what states to start from (zeros).
    """

    def __init__(self, units, **kwargs):
        # BEGIN SOLUTION: keep the size; tell keras.layers.RNN the states' sizes
        # HINT: Besides keeping `units`, a cell must tell `keras.layers.RNN` how big its states and
        #   its output are, so that the RNN can start from zeros.
        # HINT: Call the base `__init__` with the keyword arguments. `state_size` lists the sizes of
        #   h and c, in that order; `output_size` is the size of h.
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]  # h, c
        self.output_size = units
        # END SOLUTION

    def build(self, input_shape):
        """Create `kernel`, `recurrent_kernel` and `bias` for inputs of (batch, features)."""
        # BEGIN SOLUTION: one matrix for all four gates, in Keras's order i, f, c, o
        # HINT: All four gates share one kernel, one recurrent kernel and one bias, each 4 * units
        #   wide, blocks in the order i, f, c, o. Create them with `self.add_weight` under the
        #   attribute names the docstring gives.
        # HINT: The kernel's rows are the input's features, the last entry of `input_shape`.
        #   Initialisers: `glorot_uniform` for the kernel, `orthogonal` for the recurrent kernel.
        # HINT: The bias needs an initialiser of your own, a function of (shape, dtype), that
        #   returns zeros except ones in the forget gate's block, the second of the four.
        units = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * units), initializer="glorot_uniform", name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(units, 4 * units), initializer="orthogonal", name="recurrent_kernel"
        )

        def unit_forget_bias(shape, dtype=None):
            ones = keras.ops.ones((units,), dtype=dtype)
            zeros = keras.ops.zeros((units,), dtype=dtype)
            return keras.ops.concatenate([zeros, ones, zeros, zeros])  # i, f, c, o

        self.bias = self.add_weight(shape=(4 * units,), initializer=unit_forget_bias, name="bias")
        # END SOLUTION

    def call(self, inputs, states):
        """Return (h_new, [h_new, c_new]) for inputs (batch, features) and states [h, c]."""
        # BEGIN SOLUTION: the gates, the new cell state, the new hidden state
        # HINT: One product with the input and one with the previous h, plus the bias, give all four
        #   gates' pre-activations at once; split the result into four equal blocks along the last
        #   axis.
        # HINT: Sigmoid for i, f and o; tanh for the candidate. The new c keeps the old c through f
        #   and lets the candidate in through i; the new h is o times tanh of the NEW c, not the old
        #   one.
        # HINT: Return h_new and the list [h_new, c_new]: h appears twice, once as the output and
        #   once as a state. Use `keras.ops` (`matmul`, `split`, `sigmoid`, `tanh`).
        ops = keras.ops
        h, c = states  # (batch, units) each
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)  # (batch, units) each
        i, f, o = ops.sigmoid(z_i), ops.sigmoid(z_f), ops.sigmoid(z_o)
        c_new = f * c + i * ops.tanh(z_c)  # the cell state is updated by addition
        h_new = o * ops.tanh(c_new)
        return h_new, [h_new, c_new]
        # END SOLUTION

    def get_config(self):
        """Return Layer's configuration plus `units`."""
        # BEGIN SOLUTION: add this layer's argument to the base configuration
        # HINT: As for `ResidualBlock`: the base class's configuration plus this layer's own
        #   constructor argument.
        # HINT: Only `units` is needed: `state_size` and `output_size` follow from it.
        return {**super().get_config(), "units": self.units}
        # END SOLUTION


# --------------------------------------------------------------------------------------------
# The experiments and their picture (given code)
# --------------------------------------------------------------------------------------------


def measure_depth(num_blocks=15, filters=16, seed=0):
    """Gradient norms at every depth of the plain and of the residual network, at init.

    Returns (plain, residual): `backward_gradient_norms` of plain_network(2 * num_blocks) and of
    residual_network(num_blocks), on the same seeded 8x8 inputs and probe.
    """
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    shape = (8, 8, filters)
    x = rng.standard_normal((4, *shape)).astype(np.float32)
    probe = rng.standard_normal((4, *shape)).astype(np.float32)
    plain = backward_gradient_norms(plain_network(2 * num_blocks, filters, shape), x, probe)
    residual = backward_gradient_norms(residual_network(num_blocks, filters, shape), x, probe)
    return plain, residual


def measure_time(steps=50, units=32, features=8, seed=0):
    """`input_gradient_norms` of a SimpleRNN and of an RNN of your LSTMCell, at init.

    Returns (simple, lstm), each `steps` numbers, on the same seeded inputs and probe.
    """
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((8, steps, features)).astype(np.float32)
    probe = rng.standard_normal((8, units)).astype(np.float32)
    simple = input_gradient_norms(keras.layers.SimpleRNN(units), inputs, probe)
    lstm = input_gradient_norms(keras.layers.RNN(LSTMCell(units)), inputs, probe)
    return simple, lstm


def plot_gradient_norms(out_dir, plain, residual, simple, lstm):
    """Draw the two experiments' measurements into out_dir/gradient_norms.png; return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kata.demo import save_figure

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="tight")
    depth, blocks, steps = len(plain) - 1, len(residual) - 1, len(simple)
    left.semilogy(range(depth + 1), plain, "o-", ms=3, label=f"plain, {depth} convolutions")
    left.semilogy(
        np.linspace(0, depth, blocks + 1), residual, "s-", ms=3, label=f"residual, {blocks} blocks"
    )
    left.set_xlabel("convolutions between the input and this point")
    left.set_ylabel("norm of the loss's gradient")
    left.set_title("Depth: gradient reaching each layer at initialisation")
    left.legend()
    right.semilogy(range(1, steps + 1), simple, "o-", ms=3, label="SimpleRNN")
    right.semilogy(range(1, steps + 1), lstm, "s-", ms=3, label="your LSTMCell")
    right.set_xlabel("input time step")
    right.set_ylabel("norm of d(last output) / d(input at this step)")
    right.set_title(f"Time: one recurrent layer over {steps} steps")
    right.legend()
    return save_figure(fig, Path(out_dir) / "gradient_norms.png")


def main(argv=None):
    """Measure both experiments on your code, print the result and draw it."""
    parser = argparse.ArgumentParser(
        prog="python -m exercises.q10_deep_models", description=main.__doc__
    )
    parser.add_argument("--out", default=".", help="folder for gradient_norms.png")
    parser.add_argument("--blocks", type=int, default=15, help="residual blocks (2 convs each)")
    parser.add_argument("--steps", type=int, default=50, help="time steps of the recurrent net")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    plain, residual = measure_depth(args.blocks, seed=args.seed)
    simple, lstm = measure_time(args.steps, seed=args.seed)
    print(
        f"gradient reaching the input of {2 * args.blocks} convolutions (at the output: "
        f"{plain[-1]:.3g}): plain {plain[0]:.3g}, residual {residual[0]:.3g}"
    )
    print(
        f"gradient of the last output reaching the first of {args.steps} inputs (the last "
        f"input: SimpleRNN {simple[-1]:.3g}, LSTM {lstm[-1]:.3g}): SimpleRNN {simple[0]:.3g}, "
        f"LSTM {lstm[0]:.3g}"
    )
    path = plot_gradient_norms(args.out, plain, residual, simple, lstm)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    from kata.demo import run  # a function not written yet: two lines, not a traceback

    run(main)
