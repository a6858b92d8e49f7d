"""The reference conv2d (NumPy) against tf.nn.conv2d on a realistic layer."""

import numpy as np
import pytest

from solutions.q08_convolution import conv2d

BATCH, SIZE, CHANNELS, FILTERS, KERNEL = 32, 64, 16, 32, 3


@pytest.fixture(scope="module")
def layer():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZE, SIZE, CHANNELS)).astype(np.float32)
    kernels = rng.standard_normal((KERNEL, KERNEL, CHANNELS, FILTERS)).astype(np.float32)
    return x, kernels


@pytest.mark.benchmark(group="q08 conv2d: 32x64x64x16 in, 32 filters of 3x3, 'same'")
def test_reference_conv2d(benchmark, layer):
    x, kernels = layer
    out = benchmark(conv2d, x, kernels, 1, "same")
    assert out.shape == (BATCH, SIZE, SIZE, FILTERS)


@pytest.mark.benchmark(group="q08 conv2d: 32x64x64x16 in, 32 filters of 3x3, 'same'")
def test_tf_nn_conv2d(benchmark, layer):
    from kata.plugin import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    x, kernels = layer
    x_t, k_t = tf.constant(x), tf.constant(kernels)
    out = benchmark(lambda: tf.nn.conv2d(x_t, k_t, strides=1, padding="SAME").numpy())
    np.testing.assert_allclose(out, conv2d(x, kernels, 1, "same"), rtol=1e-3, atol=1e-3)
