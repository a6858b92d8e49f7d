"""Question 8: feature maps by hand, then against tf.nn.conv2d on random cases."""

import math
import numbers
import sys

import numpy as np
import pytest

from kata.testing import (
    called,
    check_equal,
    expect_float_array,
    expect_raises,
    fail,
    slip_hint,
    within,
)

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
# BEGIN EXAM KEY: the exam's feature map and its known slips, worked out by hand
# The instructor's cross-check of TensorFlow, which computes every expected value at test time.
# Worked out by hand. Top left: the patch rows 0-2, cols 0-2 times the kernel, summed:
# 0*-2 + 1*0 + 0*3 + 4*0 + 0*0 + 0*-2 + -5*-1 + 0*0 + -5*0 = 5; then move 2 columns, 2 rows.
EXAM_FEATURE_MAP = np.array([[5.0, 5.0], [0.0, 7.0]])
# What known slips give instead, also by hand: true convolution (the kernel rotated by 180
# degrees), ...
EXAM_TRUE_CONVOLUTION = np.array([[-13.0, -15.0], [-16.0, 9.0]])
# ... the kernel moved one pixel at a time (stride 1), ...
EXAM_STRIDE_ONE = np.array([[5.0, 4.0, 5.0], [2.0, -13.0, 0.0], [0.0, 6.0, 7.0]])
# ... and 'same' padding (one zero on every side) instead of none.
EXAM_SAME = np.array([[-2.0, 0.0, 3.0], [0.0, -13.0, 6.0], [0.0, 0.0, 0.0]])
# STUB: EXAM_FEATURE_MAP = EXAM_TRUE_CONVOLUTION = EXAM_STRIDE_ONE = EXAM_SAME = None
# END EXAM KEY
# conv2d on 8x32x32x16: a loop over output pixels alone runs 1,024 times; over kernel taps, 9.
LINE_BUDGET = 400

FLIPPED = (
    "this is the TRUE convolution, not the cross-correlation: you rotated the kernel by 180 "
    "degrees (flipped its rows and columns). Convolutional layers lay the kernel on each patch "
    "as it is, multiply element by element and sum; only signal processing's convolution "
    "flips it first"
)
TRANSPOSED = (
    "this is the transpose of the right result: rows and columns are swapped (out[i, j] is "
    "the kernel position in row i and column j)"
)
IGNORED_STRIDE = "you ignored the stride: this is the result with stride 1"
STRIDE_IN_LOOP = (
    "the size is right, but the kernel moved one pixel at a time: two neighbouring output "
    "positions lie a whole stride apart in the image"
)
SWAPPED_STRIDES = "you swapped the two strides: stride=(rows, cols), the first one moves down"
PADDED = "'valid' means no padding at all; this is the result of 'same' padding"
NOT_PADDED = (
    "this is the result without padding ('valid'): 'same' puts zeros around the image first"
)
ODD_ZERO_FIRST = (
    "with 'same' padding TensorFlow splits the zeros evenly, and an odd zero goes to the "
    "bottom or the right; you put it at the top or the left"
)
KERNEL_TRANSPOSED = "you swapped the kernel's rows and columns: kernel[row, col]"
FIRST_CHANNEL = (
    "this uses only the first input channel: every filter sums the feature maps of ALL input "
    "channels, each with its own 2-D kernel"
)
CHANNEL_MEAN = "you averaged over the input channels: every filter SUMS them"


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


def conv2d_slips(tf, x, kernels, stride, padding, expected):
    """What known slips give for conv2d(x, kernels, stride, padding), each with what it reveals.

    ``expected`` is the right result. Every alternative is computed by TensorFlow on changed
    arguments (a flipped kernel, stride 1, the other padding, ...).
    """

    def run(x=x, kernels=kernels, stride=stride, padding=padding):
        return tf_conv2d(tf, x, kernels, stride, padding)

    (sr, sc), (n_r, n_c), (k_r, k_c) = pair(stride), x.shape[1:3], kernels.shape[:2]
    slips = [
        (run(kernels=kernels[::-1, ::-1]), FLIPPED),
        (np.swapaxes(expected, 1, 2), TRANSPOSED),
    ]
    if k_r == k_c:
        slips.append((run(kernels=np.swapaxes(kernels, 0, 1)), KERNEL_TRANSPOSED))
    if (sr, sc) != (1, 1):
        full = run(stride=1)
        slips.append((full, IGNORED_STRIDE))
        slips.append((full[:, : expected.shape[1], : expected.shape[2]], STRIDE_IN_LOOP))
        if sr != sc:
            slips.append((run(stride=(sc, sr)), SWAPPED_STRIDES))
    if padding == "valid":
        slips.append((run(padding="same"), PADDED))
    else:
        if k_r <= n_r and k_c <= n_c:
            slips.append((run(padding="valid"), NOT_PADDED))
        totals = [
            max((math.ceil(n / s) - 1) * s + k - n, 0)
            for n, k, s in zip((n_r, n_c), (k_r, k_c), (sr, sc), strict=True)
        ]
        if any(t % 2 for t in totals):
            odd_first = [(0, 0)] + [(t - t // 2, t // 2) for t in totals] + [(0, 0)]
            slips.append((run(x=np.pad(x, odd_first), padding="valid"), ODD_ZERO_FIRST))
    channels = x.shape[3]
    if channels > 1:
        slips.append((run(x=x[..., :1], kernels=kernels[:, :, :1]), FIRST_CHANNEL))
        slips.append((expected / channels, CHANNEL_MEAN))
    return slips


def feature_map_slips(tf, image, kernel, stride, padding, expected):
    """``conv2d_slips`` for one image, one channel, one filter."""
    return [
        (alternative[0, :, :, 0], text)
        for alternative, text in conv2d_slips(
            tf, image[None, :, :, None], kernel[:, :, None, None], stride, padding,
            expected[None, :, :, None],
        )
    ]  # fmt: skip


def size_rule(axes, padding):
    """Why a feature map has the length it has along each of ``axes``: (name, n, k, s) tuples.

    The rule only, in the task's words, never worked out for the case at hand: how to count the
    positions is the graded hints' to give (``pytest --hint``), not a failure message's.
    """
    names = " and ".join(name for name, *_ in axes)
    if padding == "valid":
        return (
            "with no padding ('valid') every output position needs the whole kernel inside the "
            f"image, and two neighbouring positions lie a stride apart: that decides the {names}"
        )
    return f"with 'same' padding the output has ceil(n / s) {names}, whatever the kernel size"


def size_slips(n, k, s, padding):
    """Known wrong lengths of one axis, each with what it reveals."""
    if padding == "valid":
        return [
            (n - k + 1, "you ignored the stride: that is the length with stride 1"),
            # ceil(n / s) is the length with 'same' padding, and also (n - 1) // s + 1, the count
            # without the kernel's length: two slips, so that number never gets a hint.
            (math.ceil(n / s), "'valid' means no padding at all; that is the length with 'same'"),
            ((n - 1) // s + 1, "the kernel's length is missing from the count"),
            ((n - k) / s + 1, "round the division down: where the kernel does not fit, no output"),
        ]
    return [
        (n, "you ignored the stride: that is the length with stride 1"),
        ((n - k) // s + 1, "that is the length without padding ('valid')"),
        (n / s, "round the division up: ceil(n / s)"),
        (n // s, "round the division up: ceil(n / s)"),
    ]


def explain(call, got, expected, image_hw, kernel_hw, stride, padding, spatial, slips):
    """A message for a wrong feature map: its size or its first wrong value, and a known slip."""
    hint = slip_hint(got, expected, slips, within(atol=1e-4))
    if got.shape != expected.shape:
        text = f"{call} returned shape {got.shape}, expected {expected.shape}"
        if got.ndim != expected.ndim:
            return f"{text}: one value per kernel position (and per image and filter for conv2d)"
        wrong = [
            (name, n, k, s)
            for name, axis, n, k, s in zip(
                ("rows", "cols"), spatial, image_hw, kernel_hw, pair(stride), strict=True
            )
            if got.shape[axis] != expected.shape[axis]
        ]
        if wrong:
            rule = size_rule(wrong, padding)
        else:
            rule = "the output keeps the batch axis first and has one channel per filter"
        swapped = [got.shape[a] for a in spatial] == [expected.shape[a] for a in spatial[::-1]]
        if hint is None and swapped:
            hint = "your rows and columns are swapped"
        return f"{text}: {hint}. {rule[0].upper()}{rule[1:]}" if hint else f"{text}: {rule}"
    wrong = np.argwhere(~np.isclose(got, expected, atol=1e-4))
    where = tuple(int(i) for i in wrong[0])
    text = (
        f"{call} returned {got[where]:g} at index {where}, expected {expected[where]:g} "
        f"({len(wrong)} of {expected.size} values wrong)"
    )
    return f"{text}: {hint}" if hint else text


def check_result(target, tf, function, x, kernels, expected, slips=None, **options):
    """Call the learner's ``function`` ("feature_map" or "conv2d") on ``x`` and ``kernels`` with
    ``options`` (stride, padding); fail with a teaching message unless it returns ``expected``.

    ``slips`` lists (wrong result, what it reveals); by default the known slips for these
    arguments, computed only on a failure. A hint is given only when exactly one of them matches.
    """
    __tracebackhide__ = True
    stride, padding = options.get("stride", 1), options.get("padding", "valid")
    batch = function == "conv2d"  # conv2d: (batch, rows, cols, channels); feature_map: one image
    got = getattr(target, function)(x, kernels, **options)
    call = called(function, x, kernels, **options)
    got = expect_float_array(got, call)
    if got.shape == expected.shape and np.allclose(got, expected, atol=1e-4):
        return
    if slips is None:
        known = conv2d_slips if batch else feature_map_slips
        slips = known(tf, x, kernels, stride, padding, expected)
    image_hw, kernel_hw = (x.shape[1:3], kernels.shape[:2]) if batch else (x.shape, kernels.shape)
    spatial = (1, 2) if batch else (0, 1)
    fail(explain(call, got, expected, image_hw, kernel_hw, stride, padding, spatial, slips))


# --------------------------------------------------------------------------------------------
# The exam's example
# --------------------------------------------------------------------------------------------


def test_exam_feature_map_with_stride_two(target, tf):
    expected = tf_feature_map(tf, IMAGE, KERNEL, 2, "valid")
    if EXAM_FEATURE_MAP is not None:  # the instructor's cross-check; not in the students' copy
        assert np.array_equal(expected, EXAM_FEATURE_MAP), "TensorFlow disagrees with us"
    check_result(target, tf, "feature_map", IMAGE, KERNEL, expected, stride=2)


def test_exam_example_as_a_batch_matches_tensorflow(target, tf):
    x = IMAGE[None, :, :, None]  # (batch, rows, cols, channels)
    kernels = KERNEL[:, :, None, None]  # (k_rows, k_cols, in_channels, filters)
    oracle = tf_conv2d(tf, x, kernels, 2, "valid")
    if EXAM_FEATURE_MAP is not None:  # the instructor's cross-checks; not in the students' copy
        assert np.array_equal(oracle[0, :, :, 0], EXAM_FEATURE_MAP), "TensorFlow disagrees"
        hand = {
            "true convolution": (EXAM_TRUE_CONVOLUTION, (kernels[::-1, ::-1], 2, "valid")),
            "stride 1": (EXAM_STRIDE_ONE, (kernels, 1, "valid")),
            "'same' padding": (EXAM_SAME, (kernels, 2, "same")),
        }
        for what, (by_hand, (k, s, p)) in hand.items():
            assert np.array_equal(tf_conv2d(tf, x, k, s, p)[0, :, :, 0], by_hand), (
                f"TensorFlow disagrees with our {what} by hand"
            )
    check_result(target, tf, "conv2d", x, kernels, oracle, stride=2)


def test_feature_map_returns_floats(target):
    expect_float_array(
        target.feature_map(IMAGE, KERNEL, stride=2),
        called("feature_map", IMAGE, KERNEL, stride=2),
        what="a NumPy float array: a feature map is a sum of products, and real images and "
        "kernels are not integers",
    )


def test_kernel_is_not_flipped(target):
    impulse = np.zeros((5, 5))
    impulse[2, 2] = 1.0  # a single 1 in the middle
    kernel = np.arange(1.0, 10.0).reshape(3, 3)
    # Sliding the kernel over a lone 1 prints it rotated by 180 degrees: at the top left the
    # 1 sits under the kernel's bottom right entry.
    expected = kernel[::-1, ::-1]
    slips = [(kernel, FLIPPED), (expected.T, TRANSPOSED)]
    check_result(target, None, "feature_map", impulse, kernel, expected, slips)


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
    check_result(target, tf, "feature_map", image, kernel, expected, stride=stride, padding=padding)


@pytest.mark.parametrize("seed", CONV2D_SEEDS, ids=[case_id(s, batch=True) for s in CONV2D_SEEDS])
def test_conv2d_matches_tensorflow(target, tf, seed):
    shape, k_shape, stride, padding = random_case(seed, batch=True)
    rng = np.random.default_rng([seed, 1])
    x = rng.integers(-5, 6, size=shape).astype(np.float32)
    kernels = rng.integers(-3, 4, size=k_shape).astype(np.float32)
    expected = tf_conv2d(tf, x, kernels, stride, padding)
    check_result(target, tf, "conv2d", x, kernels, expected, stride=stride, padding=padding)


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
    call = called("output_size", n, k, s, padding)
    if isinstance(got, numbers.Real) and not isinstance(got, numbers.Integral) and got == expected:
        fail(
            f"{call} returned {got!r} (a {type(got).__name__}), expected the int {expected}: "
            "a length is a count of kernel positions, and it sizes an array: keep to ints (a "
            "float operand or a true division / makes a float)"
        )
    check_equal(
        got,
        expected,
        call,
        size_rule([("positions along the axis", n, k, s)], padding),
        slips=size_slips(n, k, s, padding),
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
    expect_raises(
        ValueError,
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
    expect_raises(
        ValueError,
        lambda: LARGE_CALLS[function](target),
        f"called {function} with a kernel longer than the 3x3 image and padding='valid'",
        "without padding every output position needs the whole kernel inside the image, and a "
        "kernel longer than the image fits nowhere",
    )


def test_conv2d_rejects_channel_mismatch(target):
    x = np.ones((2, 5, 5, 3))
    kernels = np.ones((3, 3, 2, 4))
    expect_raises(
        ValueError,
        lambda: target.conv2d(x, kernels),
        called("conv2d", x, kernels),
        "the images have 3 channels but the kernels are made for 2 (kernels.shape[2] must equal "
        "x.shape[3])",
    )


# --------------------------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------------------------


def test_conv2d_keeps_float32(target):
    call = called("conv2d", X, KERNELS, stride=2)
    got = expect_float_array(target.conv2d(X, KERNELS, stride=2), call)
    if got.dtype != np.float32:
        fail(
            f"{call} returned dtype {got.dtype}, expected float32 like its inputs (and like "
            "tf.nn.conv2d): float64 doubles the memory and the time"
        )


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


@pytest.mark.timeout(30)
def test_conv2d_is_vectorised(target):
    # Counted in lines of Python, not seconds, so the verdict is the same on every machine.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 32, 32, 16)).astype(np.float32)
    kernels = rng.standard_normal((3, 3, 16, 32)).astype(np.float32)
    call = called("conv2d", x, kernels, padding="same")
    path = target.conv2d.__code__.co_filename
    got, lines = lines_run_in(path, target.conv2d, x, kernels, padding="same")
    expect_float_array(got, call, shape=(8, 32, 32, 32))
    if lines > LINE_BUDGET:
        fail(
            f"{call} ran {lines} lines of Python in your file, expected at most {LINE_BUDGET}: "
            "a loop over pixels runs its body thousands of times. conv2d must be vectorised: no "
            "Python loop may run once per pixel (`pytest --hint` says how, one step at a time)"
        )
