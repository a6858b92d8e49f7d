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
    raise NotImplementedError("count the kernel positions along one axis")


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
    raise NotImplementedError("slide the kernel over the (padded) image and sum the products")


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
    raise NotImplementedError("contract all kernel-sized windows with the kernels at once")
