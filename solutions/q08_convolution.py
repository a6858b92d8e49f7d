"""Question 8: computing a feature map by hand.

The exam gave a small single-channel image and a 3x3 kernel and asked for the feature map that a
convolutional layer produces with stride 2 and no padding:

    image (5x5)                  kernel (3x3)
    [[ 0  1  0  0  0]            [[-2  0  3]
     [ 4  0  0 -3  0]             [ 0  0 -2]
     [-5  0 -5  2  0]             [-1  0  0]]
     [ 0  0  0  0  0]
     [-5  0  3  0  0]]

Here you write the computation itself, as NumPy code, so that a machine checks it for every image,
kernel, stride and padding rather than for that one example:

* `output_size` -- how many rows (or columns) a feature map has;
* `feature_map` -- one 2-D channel, one 2-D kernel;
* `conv2d` -- a batch of multi-channel images and a bank of kernels, the way `tf.nn.conv2d` does
  it, fast enough for real inputs.

Cross-correlation, not convolution
----------------------------------
What deep-learning libraries call a "convolution" is, strictly speaking, a cross-correlation: the
kernel is laid on a patch of the image as it is, the overlapping numbers are multiplied pairwise
and summed. The convolution of signal processing first rotates the kernel by 180 degrees (flips
rows and columns) and then does the same. For a learned kernel the difference does not matter
(the network would simply learn the flipped kernel), but for a given kernel the numbers differ,
and the exam, like TensorFlow, means cross-correlation.

Padding, as TensorFlow defines it
---------------------------------
* ``"valid"``: no padding; the kernel only visits positions where it fits inside the image.
* ``"same"``: the output has ceil(n / s) rows; the image gets just enough zeros around it for that,
  split evenly, the odd one going to the bottom (or the right).

No TensorFlow here: NumPy only.
"""

from __future__ import annotations

import numpy as np

PADDINGS = ("valid", "same")


def _as_pair(value, name):
    """Return `value` as a pair of positive ints; an int `v` becomes `(v, v)`."""
    pair = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(pair) != 2 or not all(int(v) == v and v >= 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def output_size(n, kernel, stride, padding):
    """Return the length of a feature map along one axis.

    n: the image's length along that axis (rows or columns); kernel: the kernel's length along it;
    stride: the step between two kernel positions; padding: "valid" or "same" (TensorFlow's
    meaning, see the module docstring).

    Returns an int. Raises ValueError for any other padding, and for a kernel longer than the
    image with "valid".
    """
    # BEGIN SOLUTION: count the kernel positions along one axis
    # HINT: Picture where the kernel's first cell may sit: every start from which the whole kernel
    #   still lies on the (padded) line, stepping by the stride. Count those starts.
    # HINT: Without padding the starts are 0, s, 2s, ... up to n - k, so a division rounded down is
    #   involved. With 'same' padding TensorFlow pads just enough that the count depends on n
    #   and the stride only: n / s rounded up, kept an int.
    # HINT: Check the padding's name before anything else: anything but 'valid' or 'same' is a
    #   ValueError, and so is a kernel longer than n without padding.
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if padding == "same":
        return -(-n // stride)  # ceil(n / s): the kernel size does not matter
    if kernel > n:
        raise ValueError(f"a kernel of {kernel} does not fit in {n} without padding")
    return (n - kernel) // stride + 1
    # END SOLUTION


def feature_map(image, kernel, stride=1, padding="valid"):
    """Return the feature map of one channel.

    image: (rows, cols); kernel: (k_rows, k_cols); stride: an int, or a pair (rows, cols);
    padding: "valid" or "same", as in TensorFlow. Both may hold ints or floats.

    Returns a NumPy array of floats (not a list), of shape (out_rows, out_cols): out[i, j] is
    the value of the kernel position in row i and column j.

    The kernel is not flipped: each output pixel is the sum of the element-wise product of the
    kernel with the image patch under it (cross-correlation).

    Raises ValueError for an unknown padding and for a kernel larger than the image with "valid".
    """
    # BEGIN SOLUTION: slide the kernel over the (padded) image and sum the products
    # HINT: Work out the output's shape first (output_size along the rows, then the columns), make
    #   an array of zeros of that shape, and fill it one value at a time.
    # HINT: Output value (i, j) belongs to the patch whose top-left corner is row i times the row
    #   stride and column j times the column stride of the padded image; the patch has the
    #   kernel's shape.
    # HINT: Each value is the sum of the patch times the kernel, element by element, with the kernel
    #   as it is (not flipped). For 'same', np.pad the image first: half the zeros before, the
    #   rest (the odd one) after.
    image = np.asarray(image, dtype=float)  # (rows, cols)
    kernel = np.asarray(kernel, dtype=float)  # (k_rows, k_cols)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("feature_map takes a 2-D image and a 2-D kernel")
    strides = _as_pair(stride, "stride")
    out_shape, pads = [], []
    for n, k, s in zip(image.shape, kernel.shape, strides, strict=True):
        out = output_size(n, k, s, padding)
        total = max((out - 1) * s + k - n, 0)  # zeros needed so that `out` positions fit
        out_shape.append(out)
        pads.append((total // 2, total - total // 2))  # the odd zero goes last
    padded = np.pad(image, pads)
    (sr, sc), (kr, kc) = strides, kernel.shape
    result = np.zeros(out_shape)  # (out_rows, out_cols)
    for i in range(out_shape[0]):
        for j in range(out_shape[1]):
            patch = padded[i * sr : i * sr + kr, j * sc : j * sc + kc]  # (k_rows, k_cols)
            result[i, j] = np.sum(patch * kernel)
    return result
    # END SOLUTION


def conv2d(x, kernels, stride=1, padding="valid"):
    """Return what `tf.nn.conv2d(x, kernels, strides=stride, padding=padding.upper())` returns.

    x: (batch, rows, cols, in_channels); kernels: (k_rows, k_cols, in_channels, filters);
    stride: an int, or a pair (rows, cols); padding: "valid" or "same".
    Returns a NumPy float array of shape (batch, out_rows, out_cols, filters) (float32 inputs
    give float32).

    Every filter sums the feature maps of all input channels, each with its own 2-D kernel.
    It must be vectorised: a batch of 32 images of 64x64x16 with 32 filters of 3x3 should take
    well under a second (`numpy.lib.stride_tricks.sliding_window_view` may help).

    Raises ValueError for an unknown padding, for a kernel larger than the image with "valid",
    and when the kernels' in_channels differ from the images' channels.
    """
    # BEGIN SOLUTION: contract all kernel-sized windows with the kernels at once
    # HINT: Each filter is a feature map summed over all input channels, one 2-D kernel per channel.
    #   Get it right with loops first; then remove the loops over pixels.
    # HINT: numpy.lib.stride_tricks.sliding_window_view hands you every kernel-sized window of the
    #   padded images at once, as a view (no copy); keep every stride-th window along each axis.
    # HINT: One np.tensordot (or np.einsum) over the channel axis and the two kernel axes turns the
    #   windows and the kernels into (batch, rows, cols, filters). Cast to the inputs' float
    #   dtype so that float32 stays float32.
    from numpy.lib.stride_tricks import sliding_window_view

    x = np.asarray(x)
    kernels = np.asarray(kernels)
    dtype = np.result_type(x.dtype, kernels.dtype, np.float32)
    if x.ndim != 4 or kernels.ndim != 4:
        raise ValueError(
            "conv2d takes x of shape (batch, rows, cols, channels) and kernels "
            "of shape (k_rows, k_cols, in_channels, filters)"
        )
    if x.shape[3] != kernels.shape[2]:
        raise ValueError(
            f"the images have {x.shape[3]} channels but the kernels expect {kernels.shape[2]}"
        )
    strides = _as_pair(stride, "stride")
    out_shape, pads = [], [(0, 0)]
    for n, k, s in zip(x.shape[1:3], kernels.shape[:2], strides, strict=True):
        out = output_size(n, k, s, padding)
        total = max((out - 1) * s + k - n, 0)
        out_shape.append(out)
        pads.append((total // 2, total - total // 2))
    pads.append((0, 0))
    padded = np.pad(x.astype(dtype), pads)  # (batch, rows + pad, cols + pad, channels)
    windows = sliding_window_view(padded, kernels.shape[:2], axis=(1, 2))
    # windows: (batch, positions_r, positions_c, channels, k_rows, k_cols), a view (no copy)
    (sr, sc), (out_r, out_c) = strides, out_shape
    windows = windows[:, ::sr, ::sc][:, :out_r, :out_c]
    # sum over channels and kernel rows/cols: (batch, out_rows, out_cols, filters)
    return np.tensordot(windows, kernels.astype(dtype), axes=([3, 4, 5], [2, 0, 1]))
    # END SOLUTION
