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

# BEGIN SOLUTION: answer each statement with True or False, after running the experiments
# HINT: Do not mark anything yet. Each statement has its own experiment, named in the module
#   docstring; make the functions it uses pass their tests, then run `python -m
#   exercises.q09_advanced_cnns` and read what it prints.
# HINT: Read each line of the report against its statement: (1) in which quantities do the plain
#   layer and the bottleneck differ, and what is the statement's claim about? (2) how many filters
#   does every convolution of the dense block have, and where does that number come from? (3)
#   compare both the shapes and the largest difference to the input; (4) compare the two heads'
#   counts.
# HINT: If a line of the report leaves you unsure, open the experiment's test (named in the module
#   docstring) in tests/test_q09_advanced_cnns.py: its comments say what it measures. A wrong mark
#   costs as much as a right one earns; None scores nothing.
ANSWERS = {
    "bottlenecks_prevent_vanishing_gradients": False,
    "dense_block_filters_set_by_growth_rate": True,
    "transposed_conv_restores_the_input": False,
    "global_pooling_keeps_parameters_low": True,
}
# STUB: ANSWERS = {
# STUB:     "bottlenecks_prevent_vanishing_gradients": None,
# STUB:     "dense_block_filters_set_by_growth_rate": None,
# STUB:     "transposed_conv_restores_the_input": None,
# STUB:     "global_pooling_keeps_parameters_low": None,
# STUB: }
# END SOLUTION


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
    # BEGIN SOLUTION: count the weights and biases, and the products per output value
    # HINT: Two separate counts. Parameters: the kernel's weights plus the biases. Multiply-adds:
    #   the products one output value needs, times the number of output values.
    # HINT: One filter holds a k x k kernel for EVERY input channel, and there is one bias per
    #   filter. With 'same' padding and stride 1 each filter's output map is height x width. Biases
    #   are parameters but their additions are not multiply-adds; return a `Cost`.
    weights = kernel_size * kernel_size * in_channels * filters  # kernel (k, k, in, filters)
    outputs = height * width * filters  # (height, width, filters), "same" padding
    return Cost(
        params=weights + filters,  # one bias per filter
        mult_adds=outputs * kernel_size * kernel_size * in_channels,
    )
    # END SOLUTION


def plain_cost(height, width, channels):
    """Return the `Cost` of one 3x3 convolution that keeps `channels` channels (same padding)."""
    # BEGIN SOLUTION: one 3x3 convolution from channels to channels
    # HINT: This is a special case of `conv_cost`: which input channels, filters and kernel size
    #   describe it?
    # HINT: The layer keeps the number of channels, so it has as many filters as input channels, and
    #   its kernel is 3x3. Reuse `conv_cost` instead of counting again.
    return conv_cost(height, width, channels, channels, 3)
    # END SOLUTION


def bottleneck_cost(height, width, channels, reduced):
    """Return the total `Cost` of the bottleneck that replaces `plain_cost`'s layer.

    Three convolutions, all with same padding, on height x width images: a 1x1 convolution from
    `channels` down to `reduced` channels, a 3x3 convolution from `reduced` to `reduced`, and a
    1x1 convolution from `reduced` back up to `channels` (as in ResNet-50's blocks, where
    reduced = channels / 4). The input and output have the same shape as the plain layer's.
    """
    # BEGIN SOLUTION: add up the costs of the three convolutions
    # HINT: Three convolutions in a row, all on height x width maps: cost each one with `conv_cost`
    #   and add them up.
    # HINT: Follow the channels: a 1x1 from `channels` to `reduced`, a 3x3 from `reduced` to
    #   `reduced`, a 1x1 from `reduced` back to `channels`. Add parameters to parameters and
    #   multiply-adds to multiply-adds, and return one `Cost`.
    parts = [
        conv_cost(height, width, channels, reduced, 1),  # narrow: (h, w, channels) -> reduced
        conv_cost(height, width, reduced, reduced, 3),  # the 3x3 work, at reduced width
        conv_cost(height, width, reduced, channels, 1),  # widen back: -> (h, w, channels)
    ]
    return Cost(
        params=sum(p.params for p in parts),
        mult_adds=sum(p.mult_adds for p in parts),
    )
    # END SOLUTION


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
    # BEGIN SOLUTION: stack the layers, each one concatenating its new maps to its input
    # HINT: Loop `num_layers` times. Each time, compute a few new feature maps from everything the
    #   block holds so far, then glue them onto it; the glued tensor is what the next layer reads.
    # HINT: One layer is `BatchNormalization`, then `ReLU`, then a same-padded 3x3 `Conv2D` with
    #   `growth_rate` filters (all from `keras.layers`); join its output to its input with a
    #   `Concatenate` layer on the last (channel) axis.
    # HINT: Trap: concatenate onto the running tensor, not onto the block's original input, and do
    #   not keep only the newest maps. Return the last concatenation; build no `keras.Model`.
    import keras

    for _ in range(num_layers):
        new = keras.layers.BatchNormalization()(x)
        new = keras.layers.ReLU()(new)
        new = keras.layers.Conv2D(growth_rate, 3, padding="same")(new)  # (b, r, c, growth_rate)
        x = keras.layers.Concatenate(axis=-1)([x, new])  # (b, r, c, channels so far + growth)
    return x
    # END SOLUTION


def dense_block_channels(in_channels, num_layers, growth_rate):
    """Return the number of channels that come out of `dense_block` (an int)."""
    # BEGIN SOLUTION: every layer adds its new feature maps to what it received
    # HINT: What does the block's input contribute to the output, and what does each layer add?
    # HINT: Concatenation drops nothing: the input's channels stay, and every layer (not only the
    #   last) adds `growth_rate` channels.
    return in_channels + num_layers * growth_rate
    # END SOLUTION


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
    # BEGIN SOLUTION: the inverse of the convolution's size rule
    # HINT: Run the convolution's size rule backwards: a strided convolution shrinks a length by
    #   about the stride, so its transpose stretches it by the stride.
    # HINT: Check the padding's name first (anything else is a ValueError). 'same' only multiplies
    #   by the stride. 'valid': the last input value's copy starts at (n - 1) * stride and covers a
    #   whole kernel; the docstring says the result is never below n * stride, so take the larger of
    #   the two.
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if padding == "same":
        return n * stride
    return n * stride + max(kernel - stride, 0)
    # END SOLUTION


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
    # BEGIN SOLUTION: scatter every input value's kernel-weighted copy onto the output
    # HINT: Scatter, do not gather: every input value drops a kernel-weighted copy onto the output,
    #   starting at stride times its position, and overlapping copies add up. Fill a large enough
    #   canvas of zeros first and crop it at the end.
    # HINT: Loop over the kernel's taps (a, b) only. For one tap, input position (i, j) lands on row
    #   i * stride + a and column j * stride + b, so the whole input lands on a strided slice of the
    #   canvas at once, mixed over channels by that tap's (out, in) matrix: `np.einsum` or
    #   `np.tensordot` over the input channels.
    # HINT: The uncropped canvas must reach the end of the last row's copy: stride times (rows minus
    #   one), plus k_rows (and the same for columns). For 'same', cut off max(k - stride, 0) rows in
    #   total, the smaller half at the front; the final size comes from `transposed_output_size`.
    #   Validate the padding and the channels first, and keep float32 as float32.
    x = np.asarray(x)
    kernels = np.asarray(kernels)
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if x.shape[3] != kernels.shape[3]:
        raise ValueError(
            f"x has {x.shape[3]} channels but the kernels take {kernels.shape[3]} "
            "(kernels.shape[3] is the transposed convolution's input channels)"
        )
    dtype = np.result_type(x.dtype, kernels.dtype, np.float32)
    batch, rows, cols, _ = x.shape
    k_rows, k_cols, out_channels, _ = kernels.shape
    out_rows = transposed_output_size(rows, k_rows, stride, padding)
    out_cols = transposed_output_size(cols, k_cols, stride, padding)
    # where the scattered patches start: "same" cuts total // 2 rows (columns) off the front
    top = max(k_rows - stride, 0) // 2 if padding == "same" else 0
    left = max(k_cols - stride, 0) // 2 if padding == "same" else 0
    full_rows = max((rows - 1) * stride + k_rows, top + out_rows)
    full_cols = max((cols - 1) * stride + k_cols, left + out_cols)
    full = np.zeros((batch, full_rows, full_cols, out_channels), dtype=dtype)
    for a in range(k_rows):
        for b in range(k_cols):
            # every input position (i, j) lands on (i * stride + a, j * stride + b)
            tap = np.einsum("bijc,oc->bijo", x, kernels[a, b])  # (batch, rows, cols, out)
            full[
                :,
                a : a + (rows - 1) * stride + 1 : stride,
                b : b + (cols - 1) * stride + 1 : stride,
            ] += tap
    return full[:, top : top + out_rows, left : left + out_cols]
    # END SOLUTION


# --------------------------------------------------------------------------------------------
# Statement 4: the classifier head
# --------------------------------------------------------------------------------------------


def flatten_head_params(height, width, channels, classes):
    """Trainable parameters of Flatten -> Dense(classes) on height x width x channels maps."""
    # BEGIN SOLUTION: every value of every map gets a weight to every class
    # HINT: Flatten turns the maps into one long vector: how long is it? After that it is just a
    #   Dense layer's count.
    # HINT: A Dense layer has one weight per (input, class) pair plus one bias per class; the
    #   flattened vector has one value per row, column and channel. Flatten itself has no
    #   parameters.
    return height * width * channels * classes + classes
    # END SOLUTION


def pooling_head_params(height, width, channels, classes):
    """Trainable parameters of GlobalAveragePooling2D -> Dense(classes) on the same maps."""
    # BEGIN SOLUTION: pooling leaves one value per channel, and has no parameters itself
    # HINT: Global average pooling leaves one number per channel and has no weights of its own: how
    #   many inputs does the Dense layer then see?
    # HINT: The map's height and width drop out of the count entirely. Count the Dense layer's
    #   weights and add one bias per class.
    return channels * classes + classes
    # END SOLUTION


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
