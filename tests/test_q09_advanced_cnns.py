"""Question 9: four true/false statements about advanced CNNs, each settled by an experiment.

`test_statement` marks the answers (negative marking, as in the exam). Every other test is an
experiment on the learner's own code, checked against Keras or TensorFlow; they carry no points.
"""

import numpy as np
import pytest

from kata.statements import statement_test
from kata.testing import called, check_equal, expect_float_array, expect_raises, fail

# BEGIN EXAM KEY: the true statements, the others are false (kept out of the homework copy)
KEY = {"dense_block_filters_set_by_growth_rate", "global_pooling_keeps_parameters_low"}
# STUB: KEY = None
# END EXAM KEY
EXPERIMENT = {
    "bottlenecks_prevent_vanishing_gradients": "test_bottleneck_costs_match_keras",
    "dense_block_filters_set_by_growth_rate": (
        "test_dense_block_layers_each_add_growth_rate_channels"
    ),
    "transposed_conv_restores_the_input": "test_transposed_conv_restores_shape_not_values",
    "global_pooling_keeps_parameters_low": "test_head_params_match_keras",
}


test_statement = statement_test(KEY, EXPERIMENT)


# --------------------------------------------------------------------------------------------
# Oracles
# --------------------------------------------------------------------------------------------


def keras_costs(keras, shape, convs):
    """Parameters and multiply-adds of same-padded Conv2D layers in turn, as Keras builds them.

    shape: (height, width, channels) of the input; convs: (filters, kernel_size) pairs.
    Multiply-adds per layer: the kernel's weights (k * k * in * filters) times the output's
    positions (height * width), both read from the built layer.
    """
    model = keras.Sequential(
        [keras.Input(shape)] + [keras.layers.Conv2D(f, k, padding="same") for f, k in convs]
    )
    mult_adds = 0
    for layer in model.layers:
        _, rows, cols, _ = layer.output.shape
        mult_adds += int(np.prod(layer.kernel.shape)) * rows * cols
    return model.count_params(), mult_adds


def profiled_mult_adds(tf, keras, shape, convs):
    """Multiply-adds of the same stack, counted by TensorFlow's profiler on the traced graph.

    The profiler counts two floating-point operations (a multiply and an add) per multiply-add
    of a Conv2D; the layers are built without biases so that no bias additions are counted.
    """
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    model = keras.Sequential(
        [keras.Input(shape)]
        + [keras.layers.Conv2D(f, k, padding="same", use_bias=False) for f, k in convs]
    )
    spec = tf.TensorSpec((1, *shape), tf.float32)
    graph = convert_variables_to_constants_v2(tf.function(model).get_concrete_function(spec)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    flops = tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops
    return flops // 2


def read_cost(got, call):
    """(params, mult_adds) of a returned Cost; fail with a message if it is not one."""
    __tracebackhide__ = True
    try:
        return got.params, got.mult_adds
    except AttributeError:
        fail(f"{call} returned {got!r}, expected a Cost(params=..., mult_adds=...)")


# --------------------------------------------------------------------------------------------
# Statement 1: what a bottleneck changes
# --------------------------------------------------------------------------------------------

CONV_SEEDS = range(6)


def conv_case(seed):
    rng = np.random.default_rng(seed)
    height, width = (int(v) for v in rng.integers(1, 12, size=2))
    in_channels, filters = (int(v) for v in rng.integers(1, 20, size=2))
    kernel_size = int(rng.choice([1, 3, 5]))
    return height, width, in_channels, filters, kernel_size


@pytest.mark.parametrize(
    "seed", CONV_SEEDS, ids=["h{}-w{}-in{}-f{}-k{}".format(*conv_case(s)) for s in CONV_SEEDS]
)
def test_conv_cost_matches_keras(target, keras, seed):
    height, width, in_channels, filters, k = conv_case(seed)
    params, mult_adds = keras_costs(keras, (height, width, in_channels), [(filters, k)])
    call = called("conv_cost", height, width, in_channels, filters, k)
    got_params, got_mult_adds = read_cost(
        target.conv_cost(height, width, in_channels, filters, k), call
    )
    check_equal(
        got_params,
        params,
        call + " counted params: it",
        f"keras.layers.Conv2D({filters}, {k}) on {in_channels} channels counts every weight of "
        "its kernel and every bias (count_params() of the built layer)",
        slips={
            params - filters: "you forgot the biases: one per filter",
            k * k * filters + filters: "each filter has a kernel for every input channel",
        },
    )
    per_output = k * k * in_channels
    check_equal(
        got_mult_adds,
        mult_adds,
        call + " counted mult_adds: it",
        f"'same' padding keeps {height}x{width} positions, each with {filters} output values, "
        f"and each output value takes {k}x{k}x{in_channels} = {per_output} multiply-adds",
        slips={
            mult_adds + height * width * filters: "the bias additions are not multiply-adds",
            height * width * k * k * in_channels: "every filter computes its own output map: "
            "multiply by the number of filters",
            height * width * filters * k * k: "each output value sums over all input channels",
            params: "that is the parameter count: a weight is used once per output position",
        },
    )


# The exam-sized case: the third stage of ResNet-50 works on 14x14 maps of 1024 channels with a
# reduction to 256; a quarter of that keeps the profiler quick.
BOTTLENECK_CASES = [(14, 14, 256, 64), (7, 9, 32, 8)]


@pytest.mark.parametrize(
    "height, width, channels, reduced",
    BOTTLENECK_CASES,
    ids=["h{}-w{}-c{}-r{}".format(*case) for case in BOTTLENECK_CASES],
)
def test_bottleneck_costs_match_keras(target, tf, keras, height, width, channels, reduced):
    shape = (height, width, channels)
    stacks = {
        "plain_cost": ([(channels, 3)], (height, width, channels)),
        "bottleneck_cost": (
            [(reduced, 1), (reduced, 3), (channels, 1)],
            (height, width, channels, reduced),
        ),
    }
    for name, (convs, args) in stacks.items():
        params, _ = keras_costs(keras, shape, convs)
        mult_adds = profiled_mult_adds(tf, keras, shape, convs)
        call = called(name, *args)
        got_params, got_mult_adds = read_cost(getattr(target, name)(*args), call)
        layers = " -> ".join(f"Conv2D({f}, {k})" for f, k in convs)
        check_equal(
            got_params,
            params,
            call + " counted params: it",
            f"Keras builds {layers} on {shape} with {params} parameters (count_params())",
        )
        check_equal(
            got_mult_adds,
            mult_adds,
            call + " counted mult_adds: it",
            f"TensorFlow's profiler counts {2 * mult_adds} floating-point operations for "
            f"{layers} on one {shape} image without biases: a multiply and an add each",
        )


# --------------------------------------------------------------------------------------------
# Statement 2: a dense block
# --------------------------------------------------------------------------------------------


def oracle_dense_block(keras, x, num_layers, growth_rate):
    for _ in range(num_layers):
        new = keras.layers.BatchNormalization()(x)
        new = keras.layers.ReLU()(new)
        new = keras.layers.Conv2D(growth_rate, 3, padding="same")(new)
        x = keras.layers.Concatenate()([x, new])
    return x


DENSE_SEEDS = range(3)


def dense_case(seed):
    rng = np.random.default_rng([seed, 9])
    in_channels, growth_rate = (int(v) for v in rng.integers(1, 33, size=2))
    return in_channels, int(rng.integers(1, 5)), growth_rate


def dense_id(seed):
    return "in{}-layers{}-growth{}".format(*dense_case(seed))


@pytest.mark.parametrize("seed", DENSE_SEEDS, ids=[dense_id(s) for s in DENSE_SEEDS])
def test_dense_block_channels_match_keras(target, keras, seed):
    in_channels, num_layers, growth_rate = dense_case(seed)
    x = keras.Input((5, 5, in_channels))
    expected = int(oracle_dense_block(keras, x, num_layers, growth_rate).shape[-1])
    check_equal(
        target.dense_block_channels(in_channels, num_layers, growth_rate),
        expected,
        called("dense_block_channels", in_channels, num_layers, growth_rate),
        f"Keras's dense block of {num_layers} layers on {in_channels} channels hands on "
        f"{expected}: every layer concatenates its {growth_rate} new maps to its input",
        slips={
            num_layers * growth_rate: "the block's input is concatenated too: it is kept",
            in_channels + growth_rate: "every layer adds growth_rate maps, not just the last",
            growth_rate: "the block concatenates; it does not replace its input",
        },
    )


@pytest.mark.parametrize("seed", DENSE_SEEDS, ids=[dense_id(s) for s in DENSE_SEEDS])
def test_dense_block_layers_each_add_growth_rate_channels(target, keras, seed):
    in_channels, num_layers, growth_rate = dense_case(seed)
    x = keras.Input((5, 5, in_channels))
    call = f"called dense_block(keras.Input((5, 5, {in_channels})), {num_layers}, {growth_rate})"
    model = keras.Model(x, target.dense_block(x, num_layers, growth_rate))
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == num_layers, (
        f"{call} built {len(convs)} Conv2D layers, expected {num_layers}: one per layer of the "
        "block (BatchNormalization -> ReLU -> Conv2D)"
    )
    seen = in_channels
    for index, conv in enumerate(convs):
        sees = conv.kernel.shape[2]
        assert conv.filters == growth_rate, (
            f"{call}: convolution {index} has {conv.filters} filters, expected the growth rate "
            f"{growth_rate}: each layer makes growth_rate new feature maps"
        )
        assert sees == seen, (
            f"{call}: convolution {index} reads {sees} channels, expected {seen}: a layer sees "
            f"the block's input and the new maps of every layer before it, concatenated"
        )
        seen += growth_rate
    out = model.output.shape[-1]
    predicted = target.dense_block_channels(in_channels, num_layers, growth_rate)
    assert out == seen == predicted, (
        f"{call} hands on {out} channels and "
        f"{called('dense_block_channels', in_channels, num_layers, growth_rate)} predicts "
        f"{predicted}; expected {seen}: the input plus growth_rate new maps per layer"
    )


# --------------------------------------------------------------------------------------------
# Statement 3: a transposed convolution
# --------------------------------------------------------------------------------------------

SIZE_CASES = [
    (n, k, s, padding)
    for n, k, s in [(4, 3, 2), (5, 2, 2), (3, 1, 3), (6, 5, 1), (2, 4, 3)]
    for padding in ("same", "valid")
]


@pytest.mark.parametrize(
    "n, k, s, padding", SIZE_CASES, ids=[f"n{n}-k{k}-s{s}-{p}" for n, k, s, p in SIZE_CASES]
)
def test_transposed_output_size_matches_keras(target, keras, n, k, s, padding):
    layer = keras.layers.Conv2DTranspose(1, (k, 1), strides=(s, 1), padding=padding)
    expected = int(layer(np.zeros((1, n, 1, 1), np.float32)).shape[1])
    rule = (
        f"'same' makes n * stride = {n} * {s}"
        if padding == "same"
        else f"'valid' spreads every value over a full kernel: ({n} - 1) * {s} + {k}, at least "
        f"{n} * {s}"
    )
    check_equal(
        target.transposed_output_size(n, k, s, padding),
        expected,
        called("transposed_output_size", n, k, s, padding),
        f"keras.layers.Conv2DTranspose gives {expected}: {rule}",
        slips={
            (n - k) // s + 1: "that is the convolution's rule; the transposed one runs it "
            "backwards, from the small map to the large one"
        },
    )


def transpose_case(seed):
    rng = np.random.default_rng([seed, 3])
    rows, cols = (int(v) for v in rng.integers(1, 7, size=2))
    k_rows, k_cols = (int(v) for v in rng.integers(1, 5, size=2))
    batch, in_channels, out_channels = (int(v) for v in rng.integers(1, 4, size=3))
    stride = int(rng.integers(1, 4))
    padding = "same" if seed % 2 == 0 else "valid"
    x = rng.normal(size=(batch, rows, cols, in_channels)).astype(np.float32)
    kernels = rng.normal(size=(k_rows, k_cols, out_channels, in_channels)).astype(np.float32)
    return x, kernels, stride, padding


def tf_transposed(tf, x, kernels, stride, padding, shape):
    return tf.nn.conv2d_transpose(
        x, kernels, output_shape=shape, strides=stride, padding=padding.upper()
    ).numpy()


def transposed_shape(x, kernels, stride, padding):
    """The output shape of Keras's Conv2DTranspose, by its rule (checked above against Keras)."""

    def size(n, k):
        return n * stride if padding == "same" else n * stride + max(k - stride, 0)

    return (
        x.shape[0],
        size(x.shape[1], kernels.shape[0]),
        size(x.shape[2], kernels.shape[1]),
        kernels.shape[2],
    )


TRANSPOSE_SEEDS = range(10)


def transpose_id(seed):
    x, kernels, stride, padding = transpose_case(seed)
    dims = "x".join(map(str, x.shape))
    k = "x".join(map(str, kernels.shape))
    return f"{dims}-k{k}-s{stride}-{padding}"


@pytest.mark.parametrize("seed", TRANSPOSE_SEEDS, ids=[transpose_id(s) for s in TRANSPOSE_SEEDS])
def test_transposed_conv_matches_tensorflow(target, tf, seed):
    x, kernels, stride, padding = transpose_case(seed)
    shape = transposed_shape(x, kernels, stride, padding)
    expected = tf_transposed(tf, x, kernels, stride, padding, shape)
    call = called("transposed_conv2d", x, kernels, stride, padding)
    got = expect_float_array(target.transposed_conv2d(x, kernels, stride, padding), call)
    if got.shape != expected.shape:
        fail(
            f"{call} returned shape {got.shape}, expected {expected.shape} (the shape "
            f"tf.nn.conv2d_transpose and Conv2DTranspose give): batch first, then the sizes of "
            "transposed_output_size, then kernels.shape[2] channels"
        )
    wrong = np.argwhere(~np.isclose(got, expected, atol=1e-4))
    if len(wrong):
        where = tuple(int(i) for i in wrong[0])
        hint = ""
        if padding == "same" and max(kernels.shape[0], kernels.shape[1]) > stride:
            hint = (
                "; with 'same' padding the output is cut out of the full scatter starting at "
                "max(k - stride, 0) // 2 (TensorFlow's split puts the smaller half first)"
            )
        fail(
            f"{call} returned {got[where]:.4g} at {where}, expected {expected[where]:.4g} "
            f"({len(wrong)} of {expected.size} values differ from tf.nn.conv2d_transpose): "
            f"every input value x[b, i, j, c] adds x[b, i, j, c] * kernels[:, :, :, c] onto "
            f"the output at (i * stride, j * stride){hint}"
        )


ADJOINT_SEEDS = range(4)


@pytest.mark.parametrize("seed", ADJOINT_SEEDS, ids=[transpose_id(s) for s in ADJOINT_SEEDS])
def test_transposed_conv_is_the_adjoint_of_conv(target, tf, seed):
    # For every image y of the transposed convolution's output shape and every feature map x:
    # <conv(y), x> = <y, conv_transpose(x)>, with the same kernels. That is what "transposed"
    # means: the convolution is a matrix, and this is the multiplication by its transpose.
    x, kernels, stride, padding = transpose_case(seed)
    shape = transposed_shape(x, kernels, stride, padding)
    y = np.random.default_rng([seed, 4]).normal(size=shape).astype(np.float32)
    conv_y = tf.nn.conv2d(y, kernels, strides=stride, padding=padding.upper()).numpy()
    assert conv_y.shape == x.shape, "the convolution of the output's shape gives x's shape"
    call = called("transposed_conv2d", x, kernels, stride, padding)
    got = expect_float_array(target.transposed_conv2d(x, kernels, stride, padding), call, shape)
    left, right = float(np.sum(conv_y * x)), float(np.sum(y * got))
    assert right == pytest.approx(left, rel=1e-3, abs=1e-3), (
        f"{call}: <y, transposed_conv2d(x)> = {right:.4g}, but <conv2d(y), x> = {left:.4g} "
        "for a random y: a transposed convolution is the transpose of the convolution's "
        "matrix, so the two must agree; the same kernels connect the same pairs of positions"
    )


def test_transposed_conv_restores_shape_not_values(target, tf):
    # The experiment: a 3x3 convolution with stride 2 shrinks 16x16x3 images to 8x8x3; the
    # transposed convolution with the same kernels takes that back to 16x16x3.
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, size=(2, 16, 16, 3)).astype(np.float32)
    kernels = rng.normal(0, 0.3, size=(3, 3, 3, 3)).astype(np.float32)
    features = tf.nn.conv2d(images, kernels, strides=2, padding="SAME").numpy()  # (2, 8, 8, 3)
    call = called("transposed_conv2d", features, kernels, 2, "same")
    got = expect_float_array(target.transposed_conv2d(features, kernels, 2, "same"), call)
    expected = tf_transposed(tf, features, kernels, 2, "same", images.shape)
    assert got.shape == images.shape, (
        f"{call} returned shape {got.shape}, expected {images.shape}, the images' shape: "
        "'same' padding with stride 2 doubles 8 to 16"
    )
    assert np.allclose(got, expected, atol=1e-4), (
        f"{call} differs from tf.nn.conv2d_transpose by up to "
        f"{np.max(np.abs(got - expected)):.3g}: test_transposed_conv_matches_tensorflow shows "
        "where"
    )
    # What the experiment measures (see `python -m exercises.q09_advanced_cnns`): the shape
    # comes back; 3 * 16 * 16 = 768 numbers were squeezed into 192, and they do not.
    assert not np.allclose(got, images, atol=0.05)


def test_transposed_conv_rejects_bad_arguments(target):
    x = np.ones((1, 4, 4, 2), np.float32)
    expect_raises(
        ValueError,
        lambda: target.transposed_conv2d(x, np.ones((3, 3, 1, 2), np.float32), 2, "full"),
        called("transposed_conv2d", x, np.ones((3, 3, 1, 2)), 2, "full"),
        "only 'same' and 'valid' are defined",
    )
    kernels = np.ones((3, 3, 2, 5), np.float32)
    expect_raises(
        ValueError,
        lambda: target.transposed_conv2d(x, kernels, 2, "same"),
        called("transposed_conv2d", x, kernels, 2, "same"),
        "x has 2 channels, but kernels.shape[3] (the input channels of a transposed "
        "convolution's kernels) is 5",
    )


# --------------------------------------------------------------------------------------------
# Statement 4: the classifier head
# --------------------------------------------------------------------------------------------

HEAD_SEEDS = range(4)


def head_case(seed):
    rng = np.random.default_rng([seed, 5])
    height, width = (int(v) for v in rng.integers(2, 16, size=2))
    channels, classes = int(rng.integers(8, 600)), int(rng.integers(2, 100))
    return height, width, channels, classes


@pytest.mark.parametrize(
    "seed", HEAD_SEEDS, ids=["h{}-w{}-c{}-classes{}".format(*head_case(s)) for s in HEAD_SEEDS]
)
def test_head_params_match_keras(target, keras, seed):
    height, width, channels, classes = head_case(seed)
    args = (height, width, channels, classes)
    heads = {
        "flatten_head_params": keras.layers.Flatten(),
        "pooling_head_params": keras.layers.GlobalAveragePooling2D(),
    }
    for name, first in heads.items():
        model = keras.Sequential(
            [keras.Input((height, width, channels)), first, keras.layers.Dense(classes)]
        )
        expected = model.count_params()
        check_equal(
            getattr(target, name)(*args),
            expected,
            called(name, *args),
            f"Keras counts {expected}: {type(first).__name__} has no weights of its own and "
            f"hands its values to Dense({classes}), which has a weight from each of them to "
            "each class, plus a bias per class",
            slips={expected - classes: "you forgot the Dense layer's biases: one per class"},
        )


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def test_report_shows_every_experiment(target, tf):
    # `python -m exercises.q09_advanced_cnns` prints this: what each experiment measured.
    text = target.report()
    for number in "1234":
        assert f"\n{number}. " in f"\n{text}", (
            f"report() printed no line for experiment {number}:\n{text}"
        )
