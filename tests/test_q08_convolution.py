"""Question 8: feature maps by hand, then against tf.nn.conv2d on random cases."""

import math
import sys

import numpy as np
import pytest

from kata.testing import called

# The exam's example: a 5x5 image, a 3x3 kernel, stride 2, no padding.
IMAGE = np.array(
    [
        [0, 1, 0, 0, 0],
        [4, 0, 0, -3, 0],
        [-5, 0, -5, 2, 0],
        [0, 0, 0, 0, 0],
        [-5, 0, 3, 0, 0],
    ]
)
KERNEL = np.array([[-2, 0, 3], [0, 0, -2], [-1, 0, 0]])
# Worked out by hand. Top left: the patch rows 0-2, cols 0-2 times the kernel, summed:
# 0*-2 + 1*0 + 0*3 + 4*0 + 0*0 + 0*-2 + -5*-1 + 0*0 + -5*0 = 5; then move 2 columns, 2 rows.
EXAM_FEATURE_MAP = np.array([[5.0, 5.0], [0.0, 7.0]])
# What true convolution (the kernel rotated by 180 degrees) gives instead, also by hand.
EXAM_TRUE_CONVOLUTION = np.array([[-13.0, -15.0], [-16.0, 9.0]])
# conv2d on 8x32x32x16: a loop over output pixels alone runs 1,024 times; over kernel taps, 9.
LINE_BUDGET = 400


# --------------------------------------------------------------------------------------------
# Oracle and messages
# --------------------------------------------------------------------------------------------


def tf_conv2d(tf, x, kernels, stride, padding):
    """tf.nn.conv2d, one image at a time.

    TensorFlow 2.21's oneDNN kernel returns garbage for a batch of one-channel images with a
    stride of 1 down and more than 1 across when the output is one column wide; single images
    are computed correctly.
    """
    strides = list(stride) if isinstance(stride, tuple) else stride
    return np.concatenate(
        [
            tf.nn.conv2d(
                x[i : i + 1].astype(np.float32),
                kernels.astype(np.float32),
                strides=strides,
                padding=padding.upper(),
            ).numpy()
            for i in range(len(x))
        ]
    )


def tf_feature_map(tf, image, kernel, stride, padding):
    return tf_conv2d(tf, image[None, :, :, None], kernel[:, :, None, None], stride, padding)[
        0, :, :, 0
    ]


def pair(stride):
    return stride if isinstance(stride, tuple) else (stride, stride)


def size_rule(n, k, s, padding, got, axis="rows"):
    """Why a feature map of an n-long axis has the length it has, and a guess at the slip."""
    if padding == "valid":
        out = (n - k) // s + 1
        rule = (
            f"with no padding ('valid') the output has floor((n - k) / s) + 1 {axis}: "
            f"floor(({n} - {k}) / {s}) + 1 = {out}"
        )
        if s > 1 and got == n - k + 1:
            rule += "; you seem to have ignored the stride"
        elif got == math.ceil(n / s):
            rule += "; 'valid' means no padding at all"
    else:
        out = math.ceil(n / s)
        rule = (
            f"with 'same' padding the output has ceil(n / s) {axis}, whatever the kernel size: "
            f"ceil({n} / {s}) = {out}"
        )
        if s > 1 and got == n:
            rule += "; you seem to have ignored the stride"
        elif got == (n - k) // s + 1:
            rule += "; you seem to have forgotten the zero padding"
    return rule


def explain(
    call, got, expected, flipped, image_hw, kernel_hw, stride, padding, spatial=(0, 1), hint=""
):
    """A message for a wrong feature map: its size, a flipped kernel, or the first wrong value."""
    got = np.asarray(got)
    if got.shape != expected.shape:
        text = f"{call} returned shape {got.shape}, expected {expected.shape}"
        if got.ndim != expected.ndim:
            return f"{text}: one value per kernel position (and per image and filter for conv2d)"
        axes = zip(("rows", "cols"), spatial, image_hw, kernel_hw, pair(stride), strict=True)
        for axis_name, axis, n, k, s in axes:
            if got.shape[axis] != expected.shape[axis]:
                return f"{text}: {size_rule(n, k, s, padding, got.shape[axis], axis_name)}"
        return (
            f"{text}: the output keeps the batch axis first and has one channel per filter "
            "(kernels.shape[3])"
        )
    if flipped is not None and np.allclose(got, flipped) and not np.allclose(expected, flipped):
        return (
            f"{call} returned the TRUE convolution, expected the cross-correlation: you rotated "
            "the kernel by 180 degrees (flipped its rows and columns). Convolutional layers lay "
            "the kernel on each patch as it is, multiply element by element and sum; only "
            "signal processing's convolution flips it first."
        )
    wrong = np.argwhere(~np.isclose(got, expected, atol=1e-4))
    where = tuple(int(i) for i in wrong[0])
    text = (
        f"{call} returned {got[where]:g} at index {where}, expected {expected[where]:g} "
        f"({len(wrong)} of {expected.size} values wrong)"
    )
    text += hint
    if padding == "same":
        text += (
            "; with 'same' padding TensorFlow puts total // 2 zeros before and the rest after "
            "(the odd zero goes to the bottom or the right)"
        )
    return text


def check_feature_map(
    call, got, expected, flipped, image_hw, kernel_hw, stride, padding, spatial=(0, 1), hint=""
):
    """Fail with a teaching message unless `got` has the expected shape and values."""
    __tracebackhide__ = True
    if got is None:
        pytest.fail(f"{call} returned None: did you forget to return the result?", pytrace=False)
    got = np.asarray(got)
    if got.shape == expected.shape and np.allclose(got, expected, atol=1e-4):
        return
    pytest.fail(
        explain(call, got, expected, flipped, image_hw, kernel_hw, stride, padding, spatial, hint),
        pytrace=False,
    )


def expect_value_error(function, description, why):
    try:
        got = function()
    except ValueError:
        return
    shape = getattr(got, "shape", got)
    pytest.fail(f"{description} returned {shape}, expected a ValueError: {why}", pytrace=False)


# --------------------------------------------------------------------------------------------
# The exam's example
# --------------------------------------------------------------------------------------------


def test_exam_feature_map_with_stride_two(target):
    got = target.feature_map(IMAGE, KERNEL, stride=2)
    check_feature_map(
        called("feature_map", IMAGE, KERNEL, stride=2),
        got,
        EXAM_FEATURE_MAP,
        EXAM_TRUE_CONVOLUTION,
        IMAGE.shape,
        KERNEL.shape,
        2,
        "valid",
    )


def test_exam_example_as_a_batch_matches_tensorflow(target, tf):
    x = IMAGE[None, :, :, None]  # (batch, rows, cols, channels)
    kernels = KERNEL[:, :, None, None]  # (k_rows, k_cols, in_channels, filters)
    oracle = tf_conv2d(tf, x, kernels, 2, "valid")
    assert np.array_equal(oracle[0, :, :, 0], EXAM_FEATURE_MAP), "TensorFlow disagrees with us"
    got = target.conv2d(x, kernels, stride=2)
    flipped = tf_conv2d(tf, x, kernels[::-1, ::-1], 2, "valid")
    check_feature_map(
        called("conv2d", x, kernels, stride=2),
        got,
        oracle,
        flipped,
        IMAGE.shape,
        KERNEL.shape,
        2,
        "valid",
        spatial=(1, 2),
    )


def test_feature_map_returns_floats(target):
    got = np.asarray(target.feature_map(IMAGE, KERNEL, stride=2))
    assert got.dtype.kind == "f", (
        f"{called('feature_map', IMAGE, KERNEL, stride=2)} returned dtype {got.dtype}, expected "
        "a float array: a feature map is a sum of products, and real images and kernels are "
        "not integers"
    )


def test_kernel_is_not_flipped(target):
    impulse = np.zeros((5, 5))
    impulse[2, 2] = 1.0  # a single 1 in the middle
    kernel = np.arange(1.0, 10.0).reshape(3, 3)
    # Sliding the kernel over a lone 1 prints it rotated by 180 degrees: at the top left the
    # 1 sits under the kernel's bottom right entry.
    expected = kernel[::-1, ::-1]
    got = target.feature_map(impulse, kernel)
    check_feature_map(
        called("feature_map", impulse, kernel), got, expected, kernel, (5, 5), (3, 3), 1, "valid"
    )


# --------------------------------------------------------------------------------------------
# Random cases against TensorFlow
# --------------------------------------------------------------------------------------------


def random_case(seed, batch=False):
    """Sizes, stride and padding for one random case: every mix of int/pair stride and padding."""
    rng = np.random.default_rng(seed)
    padding = "valid" if seed % 4 in (0, 3) else "same"
    rows, cols = (int(v) for v in rng.integers(1, 10, size=2))
    k_rows, k_cols = (int(v) for v in rng.integers(1, 6, size=2))
    if padding == "valid":
        k_rows, k_cols = min(k_rows, rows), min(k_cols, cols)
    if seed % 2 == 0:
        stride = int(rng.integers(1, 4))
    else:
        stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
    if not batch:
        return (rows, cols), (k_rows, k_cols), stride, padding
    n, channels, filters = (int(v) for v in rng.integers(1, 4, size=3))
    return (n, rows, cols, channels), (k_rows, k_cols, channels, filters), stride, padding


def case_id(seed, batch=False):
    x_shape, k_shape, stride, padding = random_case(seed, batch)
    sizes = "x".join(map(str, x_shape))
    kernel = "x".join(map(str, k_shape))
    s = "x".join(map(str, stride)) if isinstance(stride, tuple) else str(stride)
    return f"{sizes}-k{kernel}-s{s}-{padding}"


FEATURE_MAP_SEEDS = range(12)
CONV2D_SEEDS = range(100, 110)


@pytest.mark.parametrize("seed", FEATURE_MAP_SEEDS, ids=[case_id(s) for s in FEATURE_MAP_SEEDS])
def test_feature_map_matches_tensorflow(target, tf, seed):
    shape, k_shape, stride, padding = random_case(seed)
    rng = np.random.default_rng([seed, 1])
    image = rng.integers(-5, 6, size=shape).astype(float)  # small integers: exact in float32
    kernel = rng.integers(-3, 4, size=k_shape).astype(float)
    expected = tf_feature_map(tf, image, kernel, stride, padding)
    flipped = tf_feature_map(tf, image, kernel[::-1, ::-1], stride, padding)
    got = target.feature_map(image, kernel, stride=stride, padding=padding)
    call = called("feature_map", image, kernel, stride=stride, padding=padding)
    check_feature_map(call, got, expected, flipped, shape, k_shape, stride, padding)


@pytest.mark.parametrize("seed", CONV2D_SEEDS, ids=[case_id(s, batch=True) for s in CONV2D_SEEDS])
def test_conv2d_matches_tensorflow(target, tf, seed):
    shape, k_shape, stride, padding = random_case(seed, batch=True)
    rng = np.random.default_rng([seed, 1])
    x = rng.integers(-5, 6, size=shape).astype(np.float32)
    kernels = rng.integers(-3, 4, size=k_shape).astype(np.float32)
    expected = tf_conv2d(tf, x, kernels, stride, padding)
    flipped = tf_conv2d(tf, x, kernels[::-1, ::-1], stride, padding)
    got = target.conv2d(x, kernels, stride=stride, padding=padding)
    call = called("conv2d", x, kernels, stride=stride, padding=padding)
    check_feature_map(
        call,
        got,
        expected,
        flipped,
        shape[1:3],
        k_shape[:2],
        stride,
        padding,
        spatial=(1, 2),
        hint="; every filter f sums over ALL input channels c: "
        "out[..., f] = sum over c of feature_map(x[..., c], kernels[:, :, c, f])",
    )


OUTPUT_SIZES = [
    (5, 3, 2, "valid"),  # the exam's case
    (5, 3, 2, "same"),
    (7, 3, 1, "same"),
    (6, 4, 3, "valid"),
    (8, 1, 3, "valid"),
    (9, 3, 4, "valid"),
    (10, 4, 3, "same"),
    (4, 5, 2, "same"),  # a kernel larger than the image is fine when padded
    (1, 1, 1, "valid"),
]


@pytest.mark.parametrize(
    "n, k, s, padding", OUTPUT_SIZES, ids=[f"n{n}-k{k}-s{s}-{p}" for n, k, s, p in OUTPUT_SIZES]
)
def test_output_size_matches_tensorflow(target, tf, n, k, s, padding):
    image, kernel = np.zeros((1, n, 1, 1)), np.zeros((k, 1, 1, 1))  # one column, one channel
    expected = tf_conv2d(tf, image, kernel, (s, 1), padding).shape[1]
    got = target.output_size(n, k, s, padding)
    assert got == expected, (
        f"{called('output_size', n, k, s, padding)} returned {got}, expected {expected}: "
        f"{size_rule(n, k, s, padding, got)}"
    )


# --------------------------------------------------------------------------------------------
# Invalid arguments
# --------------------------------------------------------------------------------------------

X = IMAGE[None, :, :, None].astype(np.float32)  # (1, 5, 5, 1)
KERNELS = KERNEL[:, :, None, None].astype(np.float32)  # (3, 3, 1, 1)
PADDING_CALLS = {
    "output_size": lambda t: t.output_size(5, 3, 1, "full"),
    "feature_map": lambda t: t.feature_map(IMAGE, KERNEL, padding="full"),
    "conv2d": lambda t: t.conv2d(X, KERNELS, padding="full"),
}


@pytest.mark.parametrize("function", PADDING_CALLS, ids=list(PADDING_CALLS))
def test_unknown_padding_is_rejected(target, function):
    expect_value_error(
        lambda: PADDING_CALLS[function](target),
        f"called {function}(..., padding='full')",
        "only 'valid' and 'same' are defined; a typo must not silently pick one of them",
    )


SMALL = np.ones((3, 3))
LARGE_CALLS = {
    "output_size": lambda t: t.output_size(3, 5, 1, "valid"),
    "feature_map": lambda t: t.feature_map(SMALL, np.ones((2, 4))),
    "conv2d": lambda t: t.conv2d(SMALL[None, :, :, None], np.ones((4, 2, 1, 1))),
}


@pytest.mark.parametrize("function", LARGE_CALLS, ids=list(LARGE_CALLS))
def test_kernel_larger_than_image_is_rejected_without_padding(target, function):
    expect_value_error(
        lambda: LARGE_CALLS[function](target),
        f"called {function} with a kernel longer than the 3x3 image and padding='valid'",
        "without padding the kernel fits nowhere, and floor((n - k) / s) + 1 would be 0 or less",
    )


def test_conv2d_rejects_channel_mismatch(target):
    x = np.ones((2, 5, 5, 3))
    kernels = np.ones((3, 3, 2, 4))
    expect_value_error(
        lambda: target.conv2d(x, kernels),
        called("conv2d", x, kernels),
        "the images have 3 channels but the kernels are made for 2 (kernels.shape[2] must equal "
        "x.shape[3])",
    )


# --------------------------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------------------------


def test_conv2d_keeps_float32(target):
    got = np.asarray(target.conv2d(X, KERNELS, stride=2))
    assert got.dtype == np.float32, (
        f"{called('conv2d', X, KERNELS, stride=2)} returned dtype {got.dtype}, expected float32 "
        "like its inputs (and like tf.nn.conv2d): float64 doubles the memory and the time"
    )


@pytest.mark.timeout(30)
def lines_run_in(path, function, *args, **kwargs):
    """Call ``function`` and count the lines of Python it runs in the file ``path``."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if frame.f_code.co_filename != path:
            return None
        if event == "line":
            count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = function(*args, **kwargs)
    finally:
        sys.settrace(previous)
    return result, count


def test_conv2d_is_vectorised(target):
    # Counted in lines of Python, not seconds, so the verdict is the same on every machine.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 32, 32, 16)).astype(np.float32)
    kernels = rng.standard_normal((3, 3, 16, 32)).astype(np.float32)
    path = target.conv2d.__code__.co_filename
    got, lines = lines_run_in(path, target.conv2d, x, kernels, padding="same")
    assert np.asarray(got).shape == (8, 32, 32, 32), (
        f"{called('conv2d', x, kernels, padding='same')} returned shape {np.asarray(got).shape}, "
        "expected (8, 32, 32, 32)"
    )
    assert lines <= LINE_BUDGET, (
        f"{called('conv2d', x, kernels, padding='same')} ran {lines} lines of Python in your "
        f"file, expected at most {LINE_BUDGET}: a loop over pixels runs its body thousands of "
        "times. Loop at most over the kernel's rows and columns (9 here) and let "
        "NumPy do the rest, e.g. sliding_window_view with np.tensordot or np.einsum"
    )
