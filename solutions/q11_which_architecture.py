"""Question 11: which architecture is this?

The exam showed the code of a Keras model whose classes had nonsense names, and asked which
well-known architecture it is, which lines give that away, what the architecture is used for,
and what one of its classes does. This module holds a model of the same kind, written for the
kata with names of its own: the function `mystery` below defines its four classes, `Drizzle`,
`Storm`, `Breeze` and `Forecast` (the first three on `Chain`, which runs a list of layers in
turn). Read it as you would read a colleague's code.

1. Name the architecture: set `ARCHITECTURE` to one of `ARCHITECTURES`.
2. Name the lines that give it away: set `GIVEAWAYS` to the set of keys of `GIVEAWAY_OPTIONS`
   (each key names a line of the code) that identify the architecture; leave out the lines that
   any convolutional network could contain.
3. Name one application: set `APPLICATION` to one of `APPLICATIONS`.
4. What does `Breeze` do in the architecture? Set `TRANSITION_ROLE` to one key of
   `TRANSITION_ROLES`.

Then count, without building anything:

5. `stage_channels`: the number of channels after the stem and after each `Storm` and `Breeze`.

The code has a bug, as the exam's had: in `Forecast.__init__` one line was meant to halve the
number of channels before each `Breeze`, but it has no effect. Find it, and

6. `fixed_model`: build the same model with the bug fixed, where each `Breeze` keeps
   floor(compression * c) of the c channels that reach it. With `compression=1.0` the fixed
   model must have the channel counts of the model as given.

The tests read the channel counts of your models from Keras and compare them with your
`stage_channels`, with and without compression.
"""

from __future__ import annotations

import functools
import math


@functools.cache
def mystery():
    """The mystery model's classes (given code: read it, do not change it).

    They are defined inside this function so that importing the module does not import
    TensorFlow; `mystery().Forecast()` builds the model, `mystery().Storm` is the class itself.
    """
    import types

    import keras

    class Chain(keras.layers.Layer):  # the layers of `self.chain`, one after the other
        def build(self, input_shape):
            for layer in self.chain:
                layer.build(input_shape)
                input_shape = layer.compute_output_shape(input_shape)

        def call(self, air, training=False):
            for layer in self.chain:
                air = layer(air, training=training)
            return air

    class Drizzle(Chain):
        def __init__(self, drops, **kwargs):
            super().__init__(**kwargs)
            self.drops = drops
            self.chain = [
                keras.layers.BatchNormalization(),
                keras.layers.ReLU(),
                keras.layers.Conv2D(drops, kernel_size=3, padding="same", use_bias=False),
                keras.layers.Dropout(0.1),
            ]

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], input_shape[-1] + self.drops)

        def call(self, air, training=False):
            rain = super().call(air, training=training)
            return keras.ops.concatenate([air, rain], axis=-1)

    class Storm(Chain):
        def __init__(self, drizzles, drops, **kwargs):
            super().__init__(**kwargs)
            self.chain = [Drizzle(drops) for _ in range(drizzles)]

    class Breeze(Chain):
        def __init__(self, clouds, **kwargs):
            super().__init__(**kwargs)
            self.chain = [
                keras.layers.BatchNormalization(),
                keras.layers.ReLU(),
                keras.layers.Conv2D(clouds, kernel_size=1, use_bias=False),
                keras.layers.AveragePooling2D(pool_size=2),
            ]

    class Forecast(keras.Model):
        def __init__(self, clouds=16, drops=8, drizzles_per_storm=(2, 3, 4), classes=10, **kwargs):
            super().__init__(**kwargs)
            self.front = keras.Sequential(
                [
                    keras.layers.Conv2D(clouds, kernel_size=3, padding="same", use_bias=False),
                    keras.layers.BatchNormalization(),
                    keras.layers.ReLU(),
                ]
            )
            self.season = []
            for i, drizzles in enumerate(drizzles_per_storm):
                self.season.append(Storm(drizzles, drops))
                clouds += drizzles * drops
                if i < len(drizzles_per_storm) - 1:
                    clouds // 2
                    self.season.append(Breeze(clouds))
            self.horizon = keras.Sequential(
                [
                    keras.layers.GlobalAveragePooling2D(),
                    keras.layers.Dense(classes, activation="softmax"),
                ]
            )

        def call(self, sky, training=False):
            sky = self.front(sky, training=training)
            for weather in self.season:
                sky = weather(sky, training=training)
            return self.horizon(sky, training=training)

    return types.SimpleNamespace(Drizzle=Drizzle, Storm=Storm, Breeze=Breeze, Forecast=Forecast)


# --------------------------------------------------------------------------------------------
# 1-4: choices
# --------------------------------------------------------------------------------------------

ARCHITECTURES = ("VGG", "ResNet", "Inception (GoogLeNet)", "DenseNet", "U-Net")

GIVEAWAY_OPTIONS = {
    "stem": 'keras.layers.Conv2D(clouds, kernel_size=3, padding="same", use_bias=False)',
    "normalisation": "keras.layers.BatchNormalization()",
    "dropout": "keras.layers.Dropout(0.1)",
    "concatenation": "return keras.ops.concatenate([air, rain], axis=-1)",
    "channel_growth": "clouds += drizzles * drops",
    "breeze_between_storms": "self.season.append(Breeze(clouds))",
    "head": "keras.layers.GlobalAveragePooling2D()",
}
"""Lines of the mystery code, by key."""

APPLICATIONS = (
    "image classification",
    "machine translation",
    "image generation",
    "regression on tabular data",
)

TRANSITION_ROLES = {
    "add_shortcut": "add the input of a block to its output, so that gradients can skip it",
    "parallel_kernels": "look at the same maps with kernels of several sizes side by side",
    "downsample_and_compress": "between two blocks, halve the maps' height and width and set "
    "with a 1x1 convolution how many channels go on",
    "grow_channels": "add new feature maps to those computed before",
    "classify": "turn the features into class probabilities",
    "upsample": "double the maps' height and width",
}

# BEGIN SOLUTION: pick your answers from the options above
# HINT: Start at the smallest class, `Drizzle`, and read the last line of its `call`: how does the
#   block combine its input with what its layers computed? The architectures in `ARCHITECTURES`
#   differ exactly there (stacked, added, side by side, joined, mirrored with skips).
# HINT: For `GIVEAWAYS`, ask of each line in `GIVEAWAY_OPTIONS`: would it look out of place in
#   a plain VGG-style network? A line that any convolutional network could hold identifies
#   nothing; keep only the lines that are there because of this architecture's own idea, and
#   check each one against the idea you found in `Drizzle`.
# HINT: For `APPLICATION`, read the head (`self.horizon`): what does one softmax vector per input
#   mean? For `TRANSITION_ROLE`, write down what each layer of `Breeze.chain` does to the height,
#   the width and the channels, then pick the role that describes that change.
ARCHITECTURE = "DenseNet"
GIVEAWAYS = {"concatenation", "channel_growth", "breeze_between_storms"}
APPLICATION = "image classification"
TRANSITION_ROLE = "downsample_and_compress"
# STUB: ARCHITECTURE = None  # one of ARCHITECTURES
# STUB: GIVEAWAYS = None  # a set of keys of GIVEAWAY_OPTIONS
# STUB: APPLICATION = None  # one of APPLICATIONS
# STUB: TRANSITION_ROLE = None  # one key of TRANSITION_ROLES
# END SOLUTION


# --------------------------------------------------------------------------------------------
# 5-6: channel counts, and the bug
# --------------------------------------------------------------------------------------------


def stage_labels(blocks):
    """The names of the stages of a model with `blocks` Storms: stem, block 1, transition 1, ..."""
    labels = ["stem"]
    for i in range(1, blocks + 1):
        labels.append(f"block {i}")
        if i < blocks:
            labels.append(f"transition {i}")
    return labels


def stage_channels(clouds, drops, drizzles_per_storm, compression=1.0):
    """Return the number of channels after each stage, as a list of ints, without a model.

    clouds, drops, drizzles_per_storm: the arguments of `Forecast` (the stem's filters, the
    `drops` of every Drizzle, and how many Drizzles each Storm holds); compression: the share of
    its input channels that each Breeze keeps, floor(compression * c) of c. 1.0 keeps them all:
    the model as given, bug and all.

    The stages are those of `stage_labels(len(drizzles_per_storm))`: the stem, then each Storm
    (a "block") followed by a Breeze (a "transition"), except after the last Storm.
    """
    # BEGIN SOLUTION: follow the channel count through the stem, the blocks and the transitions
    # HINT: Follow one number, the channel count, through `Forecast.__init__`: the stem sets it,
    #   each `Drizzle` adds to it (read its `compute_output_shape`), each `Breeze` resets it to the
    #   filters of its 1x1 convolution.
    # HINT: A `Storm` of k Drizzles grows the count by k times `drops`; a `Breeze` comes after every
    #   Storm but the last, and keeps the floor of compression times the count (`math.floor`, an
    #   int). With compression one, the model as given, bug included.
    # HINT: Record the count once after the stem, once after every Storm, and once after every
    #   Breeze, in that order, so that the list lines up with `stage_labels`.
    channels = [clouds]  # the stem: a 3x3 convolution with `clouds` filters
    for i, drizzles in enumerate(drizzles_per_storm):
        clouds += drizzles * drops  # every Drizzle concatenates `drops` new maps to its input
        channels.append(clouds)
        if i < len(drizzles_per_storm) - 1:
            clouds = math.floor(compression * clouds)  # the transition's 1x1 convolution
            channels.append(clouds)
    return channels
    # END SOLUTION


def fixed_model(clouds=16, drops=8, drizzles_per_storm=(2, 3, 4), compression=0.5, classes=10):
    """Return the mystery model with its bug fixed, as a Keras model (not yet built).

    Same arguments as `Forecast`, plus compression: each Breeze keeps floor(compression * c) of
    the c channels that reach it. Build it from the given `Drizzle`/`Storm`/`Breeze` classes
    (`mystery().Storm`, ...), so that `model.layers`, applied one after the other, are: the stem
    (one layer or several), then the Storms and Breezes in turn, then the head.
    """
    # BEGIN SOLUTION: rebuild the model, keeping the result of the line that compresses
    # HINT: First find the bug: in `Forecast.__init__`, one expression computes a smaller channel
    #   count and then throws the result away. The fixed model keeps that result, with compression
    #   instead of a fixed halving.
    # HINT: Build a `keras.Sequential` from the given classes (`mystery().Storm`,
    #   `mystery().Breeze`): the stem's layers, then Storms and Breezes in turn, then the head's
    #   layers, all as in `Forecast`. Do not write new block classes.
    # HINT: Update the count before creating each Breeze, so the Breeze is given the compressed
    #   number (the floor of compression times the count), and let the next Storm grow from it.
    import keras

    parts = mystery()
    layers = [
        keras.layers.Conv2D(clouds, kernel_size=3, padding="same", use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
    ]
    for i, drizzles in enumerate(drizzles_per_storm):
        layers.append(parts.Storm(drizzles, drops))
        clouds += drizzles * drops
        if i < len(drizzles_per_storm) - 1:
            clouds = math.floor(compression * clouds)  # the fix: keep the result
            layers.append(parts.Breeze(clouds))
    layers += [
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(classes, activation="softmax"),
    ]
    return keras.Sequential(layers)
    # END SOLUTION
