"""Question 18: reverse ML engineering -- a model from the shapes it produces.

The exam listed what a tensor looks like after each of ten layers and asked for a Keras model
that reproduces that list, "fully functional": a proper subclass of Keras's model class with the
methods Keras needs to run, train, copy and save it. The list (batch axis left out):

    input             (64, 64, 3)
    after layer  1    (32, 32, 16)
    after layer  2    (30, 30, 32)
    after layer  3    (15, 15, 32)
    after layer  4    (7200,)
    after layer  5    (10,)
    after layer  6    (8192,)
    after layer  7    (16, 16, 32)
    after layer  8    (32, 32, 32)
    after layer  9    (64, 64, 64)
    after layer 10    (64, 64, 3)

An image goes in, is squeezed through ten numbers and comes out as an image of the same size:
the shape of an hourglass (an autoencoder).

Here you write

* `conv_length` and `conv_transpose_length`: the arithmetic that decides each spatial size, for
  convolutions and pooling windows, and for transposed convolutions;
* the model, `Hourglass`: a subclass of `keras.Model`, registered with Keras's serialisation,
  with `__init__`, `call` and `get_config`. It is defined inside the function `hourglass_class`
  so that importing this module does not import TensorFlow; `hourglass_class()` returns the class.

Given: `TARGET_SHAPES`, `layer_output_shapes(model)` (the shape after each layer of a model), and
a command that prints your model's summary and its shapes beside the asked ones:

    python -m exercises.q18_reverse_engineering

Rules that matter:

* "Layer" means one Keras layer with its own attribute: exactly ten of them, created in
  `__init__` in the order `call` applies them (`model.layers` lists them in that order).
  Activations go inside the layers (`activation=...`), not into layers of their own.
* The model must train (`compile` + `fit`), and `get_config`/`from_config` and a `.keras`
  save/load round trip must give back the same model.

Two traps (a teaching note)
---------------------------
The exam's participant wrote a model that looks right and even runs, yet produces other shapes.
Keras builds every layer for whatever input reaches it, so a wrong size early on does not stop the
model: it only shows in the summary. Their two slips, which you should not repeat:

1. *Halving with a strided convolution and no padding.* A k x k kernel moved with stride s over n
   pixels without padding fits floor((n - k) / s) + 1 times: for n = 64, k = 3, s = 2 that is 31,
   not 32. Every later size inherits the error (29, then 14, then 14 * 14 * 32 = 6272 values
   instead of 7200), and the first dense layer is silently built for the wrong input. With 'same'
   padding the output has ceil(n / s) pixels, whatever the kernel.
2. *Growing a map with ordinary convolutions.* A convolution never makes a map larger: with
   'same' padding and stride 1 it keeps n, with stride s it gives ceil(n / s). Going from 16 to
   32 to 64 needs an upsampling layer: a transposed convolution with stride s (n * s with 'same'
   padding) or `UpSampling2D` followed by a convolution.

Check each size with `conv_length` and `conv_transpose_length` before you pick a layer.
"""

from __future__ import annotations

import functools
import math
import sys

INPUT_SHAPE = (64, 64, 3)
"""The model's input, without the batch axis."""

TARGET_SHAPES = [
    (32, 32, 16),
    (30, 30, 32),
    (15, 15, 32),
    (7200,),
    (10,),
    (8192,),
    (16, 16, 32),
    (32, 32, 32),
    (64, 64, 64),
    (64, 64, 3),
]
"""The output shape of layers 1 to 10, without the batch axis."""

PACKAGE = "kata_q18"
"""The package name under which `Hourglass` is registered with Keras's serialisation."""

PADDINGS = ("valid", "same")


def conv_length(n, kernel, stride=1, padding="valid"):
    """Return the output length, along one axis, of a convolution or pooling window.

    n: the input's length along that axis; kernel: the window's length (the kernel of a
    `Conv2D`, the `pool_size` of `MaxPooling2D`/`AveragePooling2D`); stride: the step between
    two positions of the window; padding: "valid" (no padding) or "same", as Keras means them.
    Pooling follows the same arithmetic as a convolution (its stride defaults to its size).

    Raises ValueError for any other padding, and for a window longer than n with "valid".
    """
    raise NotImplementedError("count the positions of the window along one axis")


def conv_transpose_length(n, kernel, stride=1, padding="valid"):
    """Return the output length, along one axis, of `keras.layers.Conv2DTranspose`.

    n: the input's length along that axis; kernel: the kernel's length; stride: the step, which
    here spreads the input out (every input pixel stamps a kernel-sized patch, stride pixels
    after the previous one); padding: "valid" or "same", as Keras means them (no
    `output_padding`).

    Raises ValueError for any other padding.
    """
    raise NotImplementedError("count the pixels the stamped kernels cover along one axis")


@functools.cache
def hourglass_class():
    """Define the class `Hourglass` (on the first call), register it with Keras, and return it.

    `hourglass_class()(hidden_activation="relu", output_activation="sigmoid")` builds a model.
    """
    import keras

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class Hourglass(keras.Model):
        """Ten layers whose outputs have the shapes `TARGET_SHAPES` from an input of (64, 64, 3).

        hidden_activation: the activation of every layer with weights except the last;
        output_activation: the activation of the last layer (sigmoid: pixels in [0, 1]).
        Further keyword arguments (name, dtype, trainable) go to `keras.Model`.
        """

        def __init__(self, hidden_activation="relu", output_activation="sigmoid", **kwargs):
            """Keep the arguments and create the ten layers, one attribute each, in call order."""
            raise NotImplementedError("keep the arguments and create the ten layers in call order")

        def call(self, inputs):
            """Apply the ten layers in order: (batch, 64, 64, 3) -> (batch, 64, 64, 3)."""
            raise NotImplementedError("apply the ten layers in order")

        def get_config(self):
            """Return a dict from which `from_config` builds the same model: the parent's config
            plus this class's constructor arguments."""
            raise NotImplementedError("add the constructor's arguments to the parent's config")

    return Hourglass


def layer_output_shapes(model, input_shape=INPUT_SHAPE):
    """Return [(layer name, layer class, output shape)] for each of `model.layers`, in order.

    Runs a batch of one zero image through the layers one after the other (building them if
    needed); the shapes leave out the batch axis.
    """
    import numpy as np

    x = np.zeros((1, *input_shape), dtype="float32")
    rows = []
    for layer in model.layers:
        x = layer(x)
        rows.append((layer.name, type(layer).__name__, tuple(int(d) for d in x.shape[1:])))
    return rows


def shape_table(rows, target=TARGET_SHAPES, input_shape=INPUT_SHAPE):
    """The asked shapes beside the ones in `rows` (from `layer_output_shapes`), as text."""
    lines = [
        f"{'':>6}  {'asked':<16}{'yours':<16}{'':4}layer",
        f"{'input':>6}  {input_shape!s:<16}",
    ]
    for index in range(max(len(target), len(rows))):
        asked = str(target[index]) if index < len(target) else "-"
        name, kind, shape = rows[index] if index < len(rows) else ("", "", "-")
        mark = "ok" if index < len(target) and shape == target[index] else "<--"
        lines.append(f"{index + 1:>6}  {asked:<16}{shape!s:<16}{mark:<4}{name} ({kind})")
    return "\n".join(lines)


def main(argv=None):
    """Print your model's summary, then its shapes beside the asked ones; 0 if they all match."""
    import argparse
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name if __spec__ else __name__}",
        description=__doc__.split("\n\n")[0],
    )
    parser.parse_args(argv)

    import keras

    model = hourglass_class()()
    model(keras.Input(INPUT_SHAPE))  # a symbolic call builds every layer and records its shape
    model.summary()  # it shows '?' for a subclassed model's layers without weights
    rows = layer_output_shapes(model)
    print(shape_table(rows))
    matches = [shape for _, _, shape in rows] == TARGET_SHAPES
    print("all ten shapes match" if matches else "the shapes marked <-- differ from the asked ones")
    return 0 if matches else 1


if __name__ == "__main__":
    from kata.demo import run  # a function not written yet: two lines, not a traceback

    sys.exit(run(main))
