"""Question 11: which architecture -- choices answered with reasons, channel counts read from Keras.

The choices (architecture, giveaway lines, application, the transition's role) each answer a
wrong option with its reason. The channel counts are read from Keras by running the models
layer by layer: the mystery model as given (its halving line has no effect), and models built
from the given blocks with a transition that keeps floor(compression * c) of its c channels.
"""

import inspect
import math

import numpy as np
import pytest

from kata.statements import at_grading, key_hidden
from kata.testing import called, check_choice, choice, fail, show

# --------------------------------------------------------------------------------------------
# 1-4: the choices
# --------------------------------------------------------------------------------------------

# BEGIN EXAM KEY: the keys, and the reason that answers each wrong option (which names the
# right one by elimination)
ARCHITECTURE_KEY = "DenseNet"
ARCHITECTURE_WRONG = {
    "VGG": "VGG is a plain stack: each layer sees only the output of the layer before it. Here "
    "every Drizzle hands its input on next to its output (look at what Drizzle.call returns)",
    "ResNet": "a residual block ADDS its input to its output (x + F(x)), so the channel count "
    "stays the same through a block. Here the input is concatenated with the output, and the "
    "channel count grows with every Drizzle",
    "Inception (GoogLeNet)": "an Inception module runs several branches side by side on the same "
    "input, with kernels of different sizes (1x1, 3x3, 5x5 and pooling), and concatenates their "
    "outputs. There are no parallel branches of different kernel sizes here: a Drizzle is one "
    "chain of layers with one 3x3 convolution, and what it concatenates is its own input with "
    "its output",
    "U-Net": "a U-Net shrinks the image and then grows it back to the input's resolution, "
    "concatenating the shrinking path's maps into the growing path, to label every pixel. This "
    "model only shrinks, and ends in one softmax per image",
}

GIVEAWAY_KEY = {"concatenation", "channel_growth", "breeze_between_storms"}
GIVEAWAY_REASONS = {
    # why each line identifies the architecture (said when it is missing)
    "concatenation": "this line decides it: a Drizzle concatenates its output to its input, so "
    "every later layer of a block sees the maps of all the layers before it (dense "
    "connectivity)",
    "channel_growth": "the channel count grows by the same number (drops, the growth rate) with "
    "every layer of a block: the bookkeeping of dense connectivity",
    "breeze_between_storms": "a transition of a 1x1 convolution and 2x2 average pooling after "
    "every block but the last is this architecture's way to shrink between blocks (ResNet "
    "shrinks with strided convolutions, VGG and Inception with max pooling)",
    # why each of these identifies nothing (said when it is chosen)
    "stem": "a 3x3 convolution at the start is how nearly every CNN begins",
    "normalisation": "batch normalisation followed by ReLU is in almost every modern CNN "
    "(ResNet, Inception from v2 on, MobileNet); it says nothing about how layers are connected",
    "dropout": "dropout regularises any kind of network; it says nothing about how the layers "
    "are connected",
    "head": "global average pooling followed by a softmax layer ends ResNet, Inception and "
    "MobileNet alike",
}

APPLICATION_KEY = "image classification"
APPLICATION_WRONG = {
    "machine translation": "translation maps a sequence of tokens to another sequence; this "
    "model slides 2-D convolutions over an image's height and width and returns one "
    "probability per class",
    "image generation": "a generator outputs an image; this model outputs a softmax over "
    "classes, and nothing in it grows the maps back",
    "regression on tabular data": "a row of a table has no height and width for 2-D "
    "convolutions to slide over, and a regression predicts a number, not class probabilities",
}

TRANSITION_KEY = "downsample_and_compress"
TRANSITION_WRONG = {
    "add_shortcut": "there is no addition in Breeze; adding a block's input to its output is "
    "ResNet's shortcut",
    "parallel_kernels": "Breeze is one chain of layers with a single 1x1 convolution; kernels "
    "of several sizes side by side are Inception's",
    "grow_channels": "the Drizzles inside a Storm add feature maps; Breeze's 1x1 convolution "
    "sets how many channels go on (as many as come in, or fewer), and its pooling halves the "
    "height and width",
    "classify": "the head (global average pooling and the softmax Dense layer) classifies; "
    "Breeze sits between two Storms and returns feature maps",
    "upsample": "AveragePooling2D(pool_size=2) halves the height and width; nothing here "
    "enlarges a map",
}
# STUB: ARCHITECTURE_KEY = ARCHITECTURE_WRONG = GIVEAWAY_KEY = GIVEAWAY_REASONS = None
# STUB: APPLICATION_KEY = APPLICATION_WRONG = TRANSITION_KEY = TRANSITION_WRONG = None
# END EXAM KEY
GIVEAWAY_CASES = [
    "breeze_between_storms",
    "channel_growth",
    "concatenation",
    "dropout",
    "head",
    "normalisation",
    "stem",
]
"""The keys of GIVEAWAY_OPTIONS: one case each."""


def test_architecture(target):
    check_choice(
        "ARCHITECTURE",
        target.ARCHITECTURE,
        target.ARCHITECTURES,
        ARCHITECTURE_KEY,
        ARCHITECTURE_WRONG,
    )


@pytest.mark.parametrize("option", GIVEAWAY_CASES, ids=GIVEAWAY_CASES)
def test_giveaway_lines(target, option):
    options = target.GIVEAWAY_OPTIONS
    assert GIVEAWAY_REASONS is None or sorted(GIVEAWAY_REASONS) == GIVEAWAY_CASES
    source = inspect.getsource(target.mystery)
    assert options[option] in source, (
        f"the line {options[option]!r} is no longer in mystery(): restore the given code"
    )
    given = target.GIVEAWAYS
    if given is None:
        fail(
            f"GIVEAWAYS is None: not answered yet; write the set of keys of GIVEAWAY_OPTIONS "
            f"whose lines identify the architecture (this case asks about {option!r})"
        )
    if isinstance(given, str) or not all(isinstance(key, str) for key in given):
        fail(f"GIVEAWAYS is {show(given)}, expected a set of keys such as {{'stem'}}")
    unknown = set(given) - set(options)
    if unknown:
        fail(
            f"GIVEAWAYS holds {sorted(unknown)}, which are not keys of GIVEAWAY_OPTIONS "
            f"{sorted(options)}"
        )
    line = options[option]
    if key_hidden(GIVEAWAY_KEY):
        at_grading(f"{option!r} {'in' if option in given else 'not in'} GIVEAWAYS")
    if option in GIVEAWAY_KEY and option not in given:
        fail(f"GIVEAWAYS leaves out {option!r} ({line}): {GIVEAWAY_REASONS[option]}")
    if option not in GIVEAWAY_KEY and option in given:
        fail(
            f"GIVEAWAYS holds {option!r} ({line}), which identifies nothing: "
            f"{GIVEAWAY_REASONS[option]}"
        )


def test_application(target):
    check_choice(
        "APPLICATION", target.APPLICATION, target.APPLICATIONS, APPLICATION_KEY, APPLICATION_WRONG
    )


def test_transition_role(target):
    answer = choice("TRANSITION_ROLE", target.TRANSITION_ROLE, target.TRANSITION_ROLES)
    if key_hidden(TRANSITION_KEY):
        at_grading(f"TRANSITION_ROLE = {answer!r}")
    if answer != TRANSITION_KEY:
        fail(
            f"TRANSITION_ROLE = {answer!r} ({target.TRANSITION_ROLES[answer]}): "
            f"{TRANSITION_WRONG[answer]}"
        )


# --------------------------------------------------------------------------------------------
# 5-6: channel counts, read from Keras
# --------------------------------------------------------------------------------------------

IMAGE = (16, 16, 3)  # small: the counts do not depend on the image size
DEFAULTS = (16, 8, (2, 3, 4))  # Forecast's defaults: clouds, drops, drizzles_per_storm


def random_config(seed):
    rng = np.random.default_rng([11, seed])
    blocks = int(rng.integers(2, 4))
    clouds = int(rng.integers(3, 25))
    drops = int(rng.integers(2, 13))
    per_storm = tuple(int(v) for v in rng.integers(1, 3, size=blocks))
    return clouds, drops, per_storm


def config_id(config, compression=None):
    clouds, drops, per_storm = config
    text = f"clouds{clouds}-drops{drops}-storms{'x'.join(map(str, per_storm))}"
    return text if compression is None else f"{text}-compression{compression}"


def labels(blocks):
    names = ["stem"]
    for i in range(1, blocks + 1):
        names += [f"block {i}"] + ([f"transition {i}"] if i < blocks else [])
    return names


def read_stages(model, parts):
    """(channels, heights, output): the channels and heights after the stem and after every
    Storm and Breeze, read by running a zero image through `model.layers` one after the other."""
    x = np.zeros((1, *IMAGE), dtype="float32")
    channels, heights = [], []
    for layer in model.layers:
        before, x = x, layer(x)
        if isinstance(layer, (parts.Storm, parts.Breeze)):
            if not channels:  # the first Storm: what reached it is the stem's output
                channels.append(int(before.shape[-1]))
                heights.append(int(before.shape[1]))
            channels.append(int(x.shape[-1]))
            heights.append(int(x.shape[1]))
    return channels, heights, x


_ORACLE = {}


def oracle(keras, parts, config, compression):
    """The channel counts after every stage, read from Keras.

    compression None: the mystery model as given. Otherwise a chain built from the given blocks
    whose every Breeze gets floor(compression * c) filters, c read from the Storm before it.
    """
    key = (parts.Forecast, config, compression)
    if key not in _ORACLE:
        clouds, drops, per_storm = config
        if compression is None:
            channels, _, _ = read_stages(parts.Forecast(clouds, drops, per_storm), parts)
        else:
            x = keras.layers.Conv2D(clouds, 3, padding="same")(np.zeros((1, *IMAGE), "float32"))
            channels = [int(x.shape[-1])]
            for i, drizzles in enumerate(per_storm):
                x = parts.Storm(drizzles, drops)(x)
                channels.append(int(x.shape[-1]))
                if i < len(per_storm) - 1:
                    x = parts.Breeze(math.floor(compression * channels[-1]))(x)
                    channels.append(int(x.shape[-1]))
        _ORACLE[key] = channels
    return _ORACLE[key]


def stage_reason(config, compression, index, expected, got):
    """Why stage `index` has `expected` channels, and what `got` reveals, if anything."""
    clouds, drops, per_storm = config
    name = labels(len(per_storm))[index]
    if index == 0:
        return f"the stem is a 3x3 convolution with clouds={clouds} filters"
    before = expected[index - 1]
    if name.startswith("block"):
        layers = per_storm[int(name.split()[1]) - 1]
        reason = (
            f"{name} holds {layers} Drizzles, each concatenating drops={drops} new maps to "
            "everything that reaches it"
        )
        if got == before + drops and layers > 1:
            reason += "; you added one Drizzle's maps, but every Drizzle of the block adds its own"
        elif got == layers * drops:
            reason += "; concatenation keeps the block's input: the new maps come on top of it"
        return reason
    if compression is None:
        reason = (
            f"{name}'s 1x1 convolution has as many filters as channels reach it: {before} (in "
            "the model as given, the line meant to halve them computes a number and drops it)"
        )
        if got == before // 2:
            reason += "; you halved them, as the line intended, but the model never does"
        return reason
    reason = (
        f"{name}'s 1x1 convolution keeps floor(compression * c) of the c channels that reach "
        f"it, with compression={compression}"
    )
    if got == before and compression < 1:
        reason += "; it kept all of them: the compressed count must be the one used"
    return reason


def check_stages(got, expected, config, compression, call):
    __tracebackhide__ = True
    names = labels(len(config[2]))
    if not isinstance(got, (list, tuple)) or len(got) != len(expected):
        fail(
            f"{call} returned {show(got)}, expected a list of {len(expected)} ints, one per "
            f"stage: {names}"
        )
    for index, (value, want) in enumerate(zip(got, expected, strict=True)):
        if value != want or isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            fail(
                f"{call} returned {show(list(got))}: {names[index]} has {show(value)}, expected "
                f"{want} channels: {stage_reason(config, compression, index, expected, value)}"
            )


MYSTERY_CASES = [DEFAULTS, random_config(0), random_config(1)]


@pytest.mark.parametrize("config", MYSTERY_CASES, ids=[config_id(c) for c in MYSTERY_CASES])
def test_stage_channels_of_the_mystery_model(target, keras, config):
    expected = oracle(keras, target.mystery(), config, None)
    got = target.stage_channels(*config)
    check_stages(got, expected, config, None, called("stage_channels", *config))


COMPRESSED_CASES = [(DEFAULTS, 0.5), (random_config(2), 0.25), (random_config(3), 0.75)]


@pytest.mark.parametrize(
    "config, compression", COMPRESSED_CASES, ids=[config_id(*c) for c in COMPRESSED_CASES]
)
def test_stage_channels_with_compression(target, keras, config, compression):
    expected = oracle(keras, target.mystery(), config, compression)
    got = target.stage_channels(*config, compression=compression)
    call = called("stage_channels", *config, compression=compression)
    check_stages(got, expected, config, compression, call)


# The oracles of these cases are those of the cases above: each model is built once.
FIXED_CASES = [(DEFAULTS, 0.5), (DEFAULTS, 1.0), (random_config(0), 1.0), (random_config(3), 0.75)]


@pytest.mark.parametrize(
    "config, compression", FIXED_CASES, ids=[config_id(*c) for c in FIXED_CASES]
)
def test_fixed_model_channels(target, keras, config, compression):
    parts = target.mystery()
    # compression 1.0 must give the counts of the model as given, read from Keras
    expected = oracle(keras, parts, config, None if compression == 1.0 else compression)
    call = called("fixed_model", *config, compression=compression)
    model = target.fixed_model(*config, compression=compression)
    if not isinstance(model, keras.Model):
        fail(f"{call} returned {show(model)}, expected a Keras model")
    channels, heights, _ = read_stages(model, parts)
    names = labels(len(config[2]))
    if len(channels) != len(expected):
        fail(
            f"{call}: running model.layers one after the other went through "
            f"{max(len(channels) - 1, 0)} Storms and Breezes, expected {len(expected) - 1}: "
            f"build the model from the given classes (mystery().Storm, mystery().Breeze), one "
            f"per stage: {names[1:]}"
        )
    for index, (value, want) in enumerate(zip(channels, expected, strict=True)):
        if value != want:
            fail(
                f"{call}: Keras reads {value} channels after {names[index]}, expected "
                f"{want}: {stage_reason(config, compression, index, expected, value)}"
            )
    transitions = [
        sum(n.startswith("transition") for n in names[: i + 1]) for i in range(len(names))
    ]
    halved = [IMAGE[0] // 2**count for count in transitions]
    if heights != halved:
        fail(
            f"{call}: the maps' heights after each stage are {heights} on a {IMAGE} image, "
            f"expected {halved}: every transition halves them, nothing else changes them"
        )
    computed = target.stage_channels(*config, compression=compression)
    if list(computed) != channels:
        fail(
            f"your fixed model has {channels} channels after its stages, as it should, but "
            f"{called('stage_channels', *config, compression=compression)} returned "
            f"{show(computed)}: the computation and the model must agree"
        )


def test_fixed_model_still_classifies(target, keras):
    model = target.fixed_model(4, 2, (1, 1), compression=0.5, classes=7)
    x = np.random.default_rng(0).uniform(size=(2, *IMAGE)).astype("float32")
    out = np.asarray(model(x))
    call = called("fixed_model", 4, 2, (1, 1), compression=0.5, classes=7)
    if out.shape != (2, 7) or not np.allclose(out.sum(axis=1), 1, atol=1e-5) or out.min() < 0:
        fail(
            f"{call} turns 2 images of {IMAGE} into {show(out)}, expected shape (2, 7) with "
            "every row a probability distribution: keep the head (global average pooling and "
            "a softmax Dense layer with `classes` units)"
        )
