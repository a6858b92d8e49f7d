"""Question 9: advanced convolutional networks, four true/false statements.

The exam listed four statements about (advanced) CNNs, to be marked true or false; a wrong mark
cost as much as a right one earned. In our words:

1. ``bottlenecks_prevent_vanishing_gradients``: bottleneck layers (1x1 convolutions that narrow
   the channels before a more expensive convolution and widen them again after it) are there to
   help against vanishing gradients.
2. ``dense_block_filters_set_by_growth_rate``: in a densely connected CNN (DenseNet), the number
   of filters of the convolutions in a dense block is given by the growth rate.
3. ``transposed_conv_restores_the_input``: applying a transposed convolution to a feature map
   gives back the original input image.
4. ``global_pooling_keeps_parameters_low``: pooling the feature maps, instead of flattening them,
   before the classifier keeps the number of trainable parameters low.

Do not guess: every statement has an experiment, and the experiment runs your own code.

* Statement 1: `conv_cost`, `plain_cost` and `bottleneck_cost` count the parameters and the
  multiply-adds of a plain 3x3 layer and of the bottleneck that replaces it
  (`test_bottleneck_costs_match_keras`).
* Statement 2: `dense_block` builds a dense block in Keras, `dense_block_channels` predicts how
  many channels come out of it (`test_dense_block_layers_each_add_growth_rate_channels`).
* Statement 3: `transposed_conv2d` is a transposed convolution in NumPy, equal to
  `tf.nn.conv2d_transpose`; the experiment runs a strided convolution and then your transposed
  convolution with the same kernels (`test_transposed_conv_restores_shape_not_values`).
* Statement 4: `flatten_head_params` and `pooling_head_params` count the classifier heads
  (`test_head_params_match_keras`).

When those pass, `python -m exercises.q09_advanced_cnns` prints what each experiment measured.
Read it, then write your answers into `ANSWERS` (True or False; None means unanswered and scores
0, as an empty box did in the exam).

Conventions used throughout: images are channels-last, (batch, rows, cols, channels), as in
Keras; a "multiply-add" is one multiplication of a kernel weight with an input value, added to a
sum (bias additions are not counted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANSWERS = {
    "bottlenecks_prevent_vanishing_gradients": None,
    "dense_block_filters_set_by_growth_rate": None,
    "transposed_conv_restores_the_input": None,
    "global_pooling_keeps_parameters_low": None,
}


# --------------------------------------------------------------------------------------------
# Statement 1: what a bottleneck changes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    """What a layer (or a stack of layers) costs."""

    params: int
    """trainable parameters (weights and biases)"""
    mult_adds: int
    """multiply-adds of one forward pass over one image"""


def conv_cost(height, width, in_channels, filters, kernel_size):
    """Return the `Cost` of `keras.layers.Conv2D(filters, kernel_size, padding="same")`.

    The layer (stride 1, with a bias) is applied to one image of height x width x in_channels;
    kernel_size is an int k (a k x k kernel). With "same" padding the output keeps height x
    width; every output value of every filter takes one multiply-add per kernel weight that
    filter has (k * k * in_channels of them).
    """
    raise NotImplementedError("count the weights and biases, and the products per output value")


def plain_cost(height, width, channels):
    """Return the `Cost` of one 3x3 convolution that keeps `channels` channels (same padding)."""
    raise NotImplementedError("one 3x3 convolution from channels to channels")


def bottleneck_cost(height, width, channels, reduced):
    """Return the total `Cost` of the bottleneck that replaces `plain_cost`'s layer.

    Three convolutions, all with same padding, on height x width images: a 1x1 convolution from
    `channels` down to `reduced` channels, a 3x3 convolution from `reduced` to `reduced`, and a
    1x1 convolution from `reduced` back up to `channels` (as in ResNet-50's blocks, where
    reduced = channels / 4). The input and output have the same shape as the plain layer's.
    """
    raise NotImplementedError("add up the costs of the three convolutions")


# --------------------------------------------------------------------------------------------
# Statement 2: a dense block
# --------------------------------------------------------------------------------------------


def dense_block(x, num_layers, growth_rate):
    """Return the output of a DenseNet dense block applied to the Keras tensor `x`.

    x: a Keras tensor of shape (batch, rows, cols, channels), e.g. `keras.Input((8, 8, 16))`.
    The block has `num_layers` layers. Each layer is BatchNormalization -> ReLU ->
    Conv2D(growth_rate, 3, padding="same"), applied to everything the block has so far; its
    output is concatenated to that along the channel axis, and the result is what the next
    layer sees. Return the final concatenation (functional Keras: no Model, no training).
    """
    raise NotImplementedError("stack the layers, each one concatenating its new maps to its input")


def dense_block_channels(in_channels, num_layers, growth_rate):
    """Return the number of channels that come out of `dense_block` (an int)."""
    raise NotImplementedError("every layer adds its new feature maps to what it received")


# --------------------------------------------------------------------------------------------
# Statement 3: a transposed convolution
# --------------------------------------------------------------------------------------------

PADDINGS = ("valid", "same")


def transposed_output_size(n, kernel, stride, padding):
    """Return the length of a transposed convolution's output along one axis.

    n: the input's length along the axis; kernel: the kernel's length; stride: an int;
    padding: "same" (the output is n * stride long) or "valid" (every input value spreads a
    full kernel: (n - 1) * stride + kernel, and at least n * stride). These are the sizes of
    `keras.layers.Conv2DTranspose`. Raises ValueError for any other padding.
    """
    raise NotImplementedError("the inverse of the convolution's size rule")


def transposed_conv2d(x, kernels, stride, padding="same"):
    """Return the transposed convolution of `x`, as `tf.nn.conv2d_transpose` computes it.

    x: (batch, rows, cols, in_channels), floats; kernels: (k_rows, k_cols, out_channels,
    in_channels), TensorFlow's layout for a transposed convolution (note: out before in);
    stride: an int; padding: "same" or "valid". The output is (batch, out_rows, out_cols,
    out_channels), with the sizes of `transposed_output_size`, and a float array.

    Where a convolution gathers a kernel-sized patch into one output value, the transposed
    convolution scatters: every input value x[b, i, j, c] adds x[b, i, j, c] * kernels[:, :, :, c]
    onto the output patch whose top-left corner is (i * stride, j * stride); overlapping
    contributions add up. With "same" padding, the rows and columns that a "same" convolution
    of the output's size would have padded are then cut off: total = max(k - stride, 0) of
    them, total // 2 before and the rest after (TensorFlow's split).

    Vectorise over the batch, the positions and the channels: loop over the kernel's taps at
    most. Raises ValueError for an unknown padding and when kernels.shape[3] is not the
    number of channels of x.
    """
    raise NotImplementedError("scatter every input value's kernel-weighted copy onto the output")


# --------------------------------------------------------------------------------------------
# Statement 4: the classifier head
# --------------------------------------------------------------------------------------------


def flatten_head_params(height, width, channels, classes):
    """Trainable parameters of Flatten -> Dense(classes) on height x width x channels maps."""
    raise NotImplementedError("every value of every map gets a weight to every class")


def pooling_head_params(height, width, channels, classes):
    """Trainable parameters of GlobalAveragePooling2D -> Dense(classes) on the same maps."""
    raise NotImplementedError("pooling leaves one value per channel, and has no parameters itself")


# --------------------------------------------------------------------------------------------
# The report: what your code measures (given code)
# --------------------------------------------------------------------------------------------


def report():
    """Run the four experiments on your code and return what they measured, as text."""
    lines = []
    h = w = 14
    channels, reduced = 256, 64
    plain, neck = plain_cost(h, w, channels), bottleneck_cost(h, w, channels, reduced)
    lines += [
        f"1. on a {h}x{w}x{channels} feature map, same input and output shape:",
        f"   plain 3x3 convolution:       {plain.params:>9,} parameters "
        f"{plain.mult_adds:>13,} multiply-adds",
        f"   bottleneck 1x1-3x3-1x1 ({reduced}): {neck.params:>9,} parameters "
        f"{neck.mult_adds:>13,} multiply-adds",
        f"   ratio plain / bottleneck:    {plain.params / neck.params:>9.1f}x "
        f"{plain.mult_adds / neck.mult_adds:>12.1f}x",
    ]
    import keras

    in_channels, num_layers, growth = 16, 4, 12
    x = keras.Input((8, 8, in_channels))
    model = keras.Model(x, dense_block(x, num_layers, growth))
    filters = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    lines += [
        f"2. a dense block of {num_layers} layers, growth rate {growth}, on {in_channels} "
        f"channels: its convolutions have {filters} filters;",
        f"   {model.output.shape[-1]} channels come out (you predicted "
        f"{dense_block_channels(in_channels, num_layers, growth)})",
    ]
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, size=(1, 16, 16, 3)).astype(np.float32)
    kernels = rng.normal(0, 0.3, size=(3, 3, 3, 3)).astype(np.float32)  # 3 channels in and out
    features = tf.nn.conv2d(images, kernels, strides=2, padding="SAME").numpy()
    restored = transposed_conv2d(features, kernels, 2, "same")
    lines += [
        "3. a 3x3 convolution with stride 2, then the transposed convolution with the same "
        "kernels:",
        f"   shapes {images.shape} -> {features.shape} -> {np.shape(restored)}; largest "
        f"difference to the input: {np.max(np.abs(restored - images)):.3f} "
        f"(the input's values lie in [0, 1])",
    ]
    h, w, channels, classes = 7, 7, 512, 10
    lines += [
        f"4. on {h}x{w}x{channels} feature maps, {classes} classes: flatten head "
        f"{flatten_head_params(h, w, channels, classes):,} parameters, global pooling head "
        f"{pooling_head_params(h, w, channels, classes):,}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    from kata.demo import run  # a function not written yet: two lines, not a traceback

    print(run(report))
