"""Question 5: activation functions and their derivatives against Keras and tf.GradientTape, and
the experiments that settle the exam's five statements."""

from itertools import pairwise

import numpy as np
import pytest

from kata.statements import statement_test
from kata.testing import called, expect_float_array, expect_png, fail, seeds

# BEGIN EXAM KEY: the true statements, the others are false (kept out of the homework copy)
KEY = {"single_saturating_explode", "pictured_does_not_die", "pictured_does_not_vanish"}
# STUB: KEY = None
# END EXAM KEY
EXPERIMENT = {
    "linear_is_useful": "test_linear_layers_collapse_into_one",
    "leaky_relu_fixes_exploding": "test_leaky_relu_explodes_like_relu",
    "single_saturating_explode": "test_relu_gradients_explode_with_large_weights",
    "pictured_does_not_die": "test_a_negative_bias_kills_relu_units_but_no_leaky_relu_unit",
    "pictured_does_not_vanish": "test_sigmoid_gradients_vanish_but_leaky_relu_gradients_do_not",
}


test_statement = statement_test(KEY, EXPERIMENT)


# --------------------------------------------------------------------------------------------
# The functions and derivatives against Keras's activations and tf.GradientTape.
# --------------------------------------------------------------------------------------------

# (name, keyword arguments). Every alpha is exact in float32: TensorFlow passes it as a float32.
CASES = {
    "sigmoid": ("sigmoid", {}),
    "tanh": ("tanh", {}),
    "relu": ("relu", {}),
    "leaky_relu": ("leaky_relu", {}),
    "leaky_relu-alpha0.25": ("leaky_relu", {"alpha": 0.25}),
    "elu": ("elu", {}),
    "elu-alpha0.5": ("elu", {"alpha": 0.5}),
    "softplus": ("softplus", {}),
}
RTOL, ATOL = 1e-7, 1e-12  # Keras turns leaky ReLU's default 0.1 into a float32: 1.5e-8 off


def keras_function(keras, name, kwargs):
    """Keras's own activation, with the learner's defaults (leaky ReLU's alpha is 0.1 here)."""
    if name == "leaky_relu":
        slope = kwargs.get("alpha", 0.1)
        return lambda x: keras.activations.leaky_relu(x, negative_slope=slope)
    if name == "elu":
        return lambda x: keras.activations.elu(x, alpha=kwargs.get("alpha", 1.0))
    return getattr(keras.activations, name)


def oracle(tf, keras, name, kwargs, x):
    """Keras's values and tf.GradientTape's derivatives at x (float64)."""
    tensor = tf.constant(x, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        y = keras_function(keras, name, kwargs)(tensor)
    return y.numpy(), tape.gradient(y, tensor).numpy()


def random_inputs(case):
    rng = np.random.default_rng(list(CASES).index(case))
    shape = [(200,), (5, 8, 3)][list(CASES).index(case) % 2]
    return rng.normal(scale=4.0, size=shape)


def check_values(got, want, call, what, why):
    __tracebackhide__ = True
    got = expect_float_array(got, call, shape=want.shape)
    bad = ~np.isclose(got, want, rtol=RTOL, atol=ATOL)
    if bad.any():
        i = np.argwhere(bad)[0]
        index = tuple(int(k) for k in i)
        fail(
            f"{call} returned {float(got[index])!r} at index {index} (and {int(bad.sum()) - 1} "
            f"more differences), expected {float(want[index])!r} ({what}): {why}"
        )


def check_against_oracle(target, tf, keras, spec, x, derivative, what, why):
    """The learner's function of ``spec`` (or its derivative) at ``x`` against the oracle's."""
    name, kwargs = spec
    want = oracle(tf, keras, name, kwargs, x)[1 if derivative else 0]
    function = f"{name}_derivative" if derivative else name
    got = getattr(target, function)(x.copy(), **kwargs)
    check_values(got, want, called(function, x, **kwargs), what, why)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_function_matches_keras(target, tf, keras, case):
    what = f"keras.activations.{CASES[case][0]}"
    why = "element by element, on random inputs between about -12 and 12"
    check_against_oracle(target, tf, keras, CASES[case], random_inputs(case), False, what, why)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_derivative_matches_gradient_tape(target, tf, keras, case):
    what = f"tf.GradientTape on keras.activations.{CASES[case][0]}"
    why = "the slope of the function at each input"
    check_against_oracle(target, tf, keras, CASES[case], random_inputs(case), True, what, why)


KINKS = {case: spec for case, spec in CASES.items() if spec[0] in ("relu", "leaky_relu", "elu")}


@pytest.mark.parametrize("case", list(KINKS), ids=list(KINKS))
def test_derivative_at_zero_is_the_left_slope(target, tf, keras, case):
    why = "at the kink x = 0 take the slope of the left side, as TensorFlow does: the x <= 0 branch"
    check_against_oracle(
        target, tf, keras, KINKS[case], np.zeros(3), True, "TensorFlow's choice", why
    )


LARGE = np.array([-1000.0, -100.0, -30.0, 30.0, 100.0, 1000.0])


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_large_inputs_give_finite_exact_results(target, tf, keras, case):
    name, kwargs = CASES[case]
    want_f, want_d = oracle(tf, keras, name, kwargs, LARGE)
    with np.errstate(all="ignore"):  # an overflow shows as a wrong value below
        got_f = getattr(target, name)(LARGE.copy(), **kwargs)
        got_d = getattr(target, f"{name}_derivative")(LARGE.copy(), **kwargs)
    hint = {
        "sigmoid": "exp(-x) is inf for x = -1000, and inf / inf is nan: the task asks for no "
        "overflow, so no intermediate value may become inf, on either side of 0",
        "tanh": "e^x is inf for x = 1000, and inf / inf is nan: the task asks for no overflow, "
        "so no intermediate value may become inf",
        "softplus": "log(1 + exp(x)) is inf for x = 1000, where the answer is close to x: the "
        "task asks for no overflow, so no intermediate value may become inf",
        "elu": "exp(x) is inf for x = 1000, and 0 * inf is nan, also in a value you then throw "
        "away: the task asks for no overflow, so no intermediate value may become inf",
    }.get(name, "keep every intermediate value finite")
    for got, want, function in ((got_f, want_f, name), (got_d, want_d, f"{name}_derivative")):
        check_values(
            got, want, called(function, LARGE, **kwargs), "from TensorFlow, in float64", hint
        )


# --------------------------------------------------------------------------------------------
# The measuring tools against TensorFlow.
# --------------------------------------------------------------------------------------------

GRADIENT_CASES = [(a, s) for a in ("sigmoid", "tanh", "relu", "leaky_relu") for s in range(2)]


def random_network(seed, depth=None, bias_scale=0.5):
    rng = np.random.default_rng(seed)
    depth = depth or 1 + seed % 4
    sizes = [int(n) for n in rng.integers(1, 9, size=depth + 1)]
    weights = [rng.normal(size=(a, b)) for a, b in pairwise(sizes)]
    biases = [rng.normal(scale=bias_scale, size=b) for b in sizes[1:]]
    return rng.normal(size=(int(rng.integers(1, 6)), sizes[0])), weights, biases


@pytest.mark.parametrize(
    "activation, seed", GRADIENT_CASES, ids=[f"{a}-seed{s}" for a, s in GRADIENT_CASES]
)
def test_layer_gradient_norms_match_gradient_tape(target, tf, keras, activation, seed):
    x, weights, biases = random_network(seed + 3)
    f = keras_function(keras, activation, {})
    with tf.GradientTape() as tape:
        a, drives = tf.constant(x), []
        for w, b in zip(weights, biases, strict=True):
            drive = a @ tf.constant(w) + tf.constant(b)
            tape.watch(drive)
            drives.append(drive)
            a = f(drive)
        loss = tf.reduce_sum(a)
    want = np.array([float(tf.norm(g)) for g in tape.gradient(loss, drives)])
    call = called("layer_gradient_norms", x, weights, biases, activation)
    got = expect_float_array(
        target.layer_gradient_norms(x, weights, biases, activation), call, shape=want.shape
    )
    assert np.allclose(got, want, rtol=RTOL, atol=ATOL), (
        f"{call} returned {np.round(got, 6).tolist()}, expected {np.round(want, 6).tolist()} "
        "(norms of tf.GradientTape's gradients of sum(outputs) with respect to each layer's "
        "drives): a layer's deltas are question 3's, for the whole batch and the loss "
        "sum(outputs), with the activation on every layer, and each norm is taken over the whole "
        "batch"
    )


DEAD_CASES = [(a, s) for a in ("relu", "leaky_relu") for s in range(3)]


@pytest.mark.parametrize(
    "activation, seed", DEAD_CASES, ids=[f"{a}-seed{s}" for a, s in DEAD_CASES]
)
def test_dead_units_match_gradient_tape(target, tf, keras, activation, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(16, 6))
    weight = rng.normal(size=(6, 12))
    bias = rng.uniform(-8, 2, size=12)  # some units far below zero for every input
    kernel = tf.Variable(weight)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(keras_function(keras, activation, {})(x @ kernel + bias))
    want = np.all(tape.gradient(loss, kernel).numpy() == 0.0, axis=0)
    call = called("dead_units", x, weight, bias, activation)
    got = target.dead_units(x, weight, bias, activation)
    ok = isinstance(got, np.ndarray) and got.dtype == bool and got.shape == want.shape
    assert ok and np.array_equal(got, want), (
        f"{call} returned {got!r}, expected the bool array {want.tolist()}: a unit is dead when "
        "tf.GradientTape gives its weights (its column of the kernel) an all-zero gradient, i.e. "
        "the activation's derivative is 0 at its drive for every example"
    )


# --------------------------------------------------------------------------------------------
# The experiments. Each prints what it measured (run with -s to see it).
# --------------------------------------------------------------------------------------------

COLLAPSE_SEEDS = range(3)


@seeds(COLLAPSE_SEEDS)
def test_linear_layers_collapse_into_one(target, keras, seed):
    """A stack of 2 to 4 linear Dense layers (Keras, float64) and the single layer
    (W, b) = collapse_linear(...) of your code, on the same random inputs."""
    x, weights, biases = random_network(seed + 10, depth=2 + seed)
    model = keras.Sequential([keras.Input((x.shape[1],), dtype="float64")])
    for w, b in zip(weights, biases, strict=True):
        layer = keras.layers.Dense(w.shape[1], dtype="float64")
        model.add(layer)
        layer.set_weights([w, b])
    want = np.asarray(model(x))
    call = called("collapse_linear", weights, biases)
    result = target.collapse_linear(weights, biases)
    assert isinstance(result, tuple) and len(result) == 2, (
        f"{call} returned {type(result).__name__}, expected a pair (W, b)"
    )
    w = expect_float_array(result[0], call + "[0]", shape=(x.shape[1], want.shape[1]))
    b = expect_float_array(result[1], call + "[1]", shape=(want.shape[1],))
    got = x @ w + b
    print(f"\n{len(weights)} linear layers {[w.shape for w in weights]} -> one {w.shape} layer; "
          f"largest difference between their outputs: {np.abs(got - want).max():.2e}")  # fmt: skip
    assert np.allclose(got, want, rtol=1e-9, atol=1e-9), (
        f"{call}: x @ W + b gave {np.round(got[0], 5).tolist()} for the first input, the stack of "
        f"{len(weights)} linear Keras layers gave {np.round(want[0], 5).tolist()}: the one "
        "layer must give what the whole stack gives, for every input x, biases included (each "
        "layer's output is the next layer's input)"
    )


DEPTH_NOTE = "a 20-layer network of 64 units (DEEP_NETWORK), 64 random inputs"


def norms_for(target, activation, gain, seed=0):
    weights, biases = target.he_weights(target.DEEP_NETWORK, gain=gain, seed=seed)
    inputs = np.random.default_rng(1000 + seed).normal(size=(64, target.DEEP_NETWORK[0]))
    return target.layer_gradient_norms(inputs, weights, biases, activation)


def measured(target, activations, gain):
    """|dL/d drives| per layer (first, farthest from the loss, to last) of each activation in the
    deep network with weights of `gain`; printed (run with -s to see them)."""
    norms = {name: norms_for(target, name, gain=gain) for name in activations}
    what = f"{DEPTH_NOTE}, gain {gain:g}"
    print(f"\n{what}: |dL/d drives| per layer, first (farthest from the loss) to last")
    for name, n in norms.items():
        print(f"  {name:10s} " + " ".join(f"{v:.1e}" for v in n[::3]) + f"  (first/last "
              f"{n[0] / n[-1]:.2e})")  # fmt: skip
    return norms


def grows_at_every_layer(norms):
    """From the last layer back to the first: larger at every layer, 1e3 times larger in all."""
    return bool(np.all(norms[:-1] > norms[1:]) and norms[0] > 1e3 * norms[-1])


def test_relu_gradients_explode_with_large_weights(target):
    """ReLU (saturates only for x < 0) and sigmoid (saturates on both sides) in a deep network
    whose weights are twice as large as He initialisation makes them (gain 2)."""
    norms = measured(target, ("relu", "sigmoid"), gain=2.0)
    relu, sigmoid = norms["relu"], norms["sigmoid"]
    # Measured, seeds 0-19: ReLU's gradient grows by 1.56 or more at every layer, 1e6 or more
    # from the last layer to the first; sigmoid's shrinks to 7e-6 or less.
    assert grows_at_every_layer(relu), (
        f"ReLU's gradient norms, first to last layer: {np.round(relu, 2).tolist()}; expected "
        "them to grow at every layer on the way back: on its unbounded side ReLU passes the "
        "gradient on unchanged, so each large weight matrix multiplies it again"
    )
    assert sigmoid[0] < sigmoid[-1], (
        f"sigmoid's gradient norms, first to last layer: {sigmoid.tolist()}; expected them to "
        "shrink: its slope is at most 1/4 and near 0 where it saturates"
    )


def test_leaky_relu_explodes_like_relu(target):
    """ReLU and leaky ReLU in the same deep network with large weights (gain 2)."""
    norms = measured(target, ("relu", "leaky_relu"), gain=2.0)
    relu, leaky = norms["relu"], norms["leaky_relu"]
    # Measured, seeds 0-19: leaky ReLU grows by 1.6 or more at every layer, 9.6e5 or more in all.
    assert grows_at_every_layer(leaky), (
        f"leaky ReLU's gradient norms, first to last layer: {np.round(leaky, 2).tolist()}; "
        "expected them to grow at every layer on the way back, as ReLU's do "
        f"({relu[0] / relu[-1]:.1e} in all): for x > 0 both are the identity"
    )


def test_a_negative_bias_kills_relu_units_but_no_leaky_relu_unit(target):
    """One layer of 128 units on 256 random inputs, He-initialised, before and after every
    bias is shifted to -5 (as one large update can do)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 32))
    weight = rng.normal(0.0, np.sqrt(2.0 / 32), size=(32, 128))
    dead = {}
    for shift in (0.0, -5.0):
        for name in ("relu", "leaky_relu"):
            units = target.dead_units(x, weight, np.full(128, shift), name)
            dead[name, shift] = float(np.mean(units))
    print("\ndead units (no gradient on any of 256 inputs):")
    for (name, shift), fraction in dead.items():
        print(f"  {name:10s} bias {shift:+.0f}: {fraction:.0%}")
    assert dead["relu", 0.0] == 0 and dead["leaky_relu", 0.0] == 0, (
        f"with bias 0, {dead['relu', 0.0]:.0%} of ReLU units and {dead['leaky_relu', 0.0]:.0%} "
        "of leaky ReLU units were dead; expected none: every unit has some positive drives"
    )
    # Measured, seeds 0-9: 84 % to 93 % of the ReLU units die at bias -5.
    assert dead["relu", -5.0] > 0.5, (
        f"with bias -5, only {dead['relu', -5.0]:.0%} of the ReLU units were dead; expected most: "
        "their drives are negative for every input, where ReLU's slope is 0"
    )
    assert dead["leaky_relu", -5.0] == 0, (
        f"with bias -5, {dead['leaky_relu', -5.0]:.0%} of the leaky ReLU units were dead; "
        "expected none: its slope is alpha > 0 for negative drives"
    )


def test_sigmoid_gradients_vanish_but_leaky_relu_gradients_do_not(target):
    """Sigmoid, ReLU and leaky ReLU in a deep network at He initialisation (gain 1)."""
    norms = measured(target, ("sigmoid", "relu", "leaky_relu"), gain=1.0)
    ratio = {name: n[0] / n[-1] for name, n in norms.items()}
    # Measured, seeds 0-9: sigmoid's first/last 4e-10 or less; ReLU's and leaky ReLU's 1.8 to 5.
    assert ratio["sigmoid"] < 1e-6, (
        f"the first layer of the sigmoid network got {ratio['sigmoid']:.2e} times the last "
        "layer's gradient; expected it to vanish: every layer multiplies it by sigmoid's slope, "
        "at most 1/4"
    )
    for name in ("relu", "leaky_relu"):
        assert 0.1 < ratio[name] < 100, (
            f"the first layer of the {name} network got {ratio[name]:.2e} times the last "
            "layer's gradient; expected about the same size: its slope is 1 for positive drives"
        )


def test_figures_are_written(target, tmp_path):
    paths = target.draw_figures(tmp_path)
    assert paths, "draw_figures returned no paths"
    for path in paths:
        expect_png(path, min_bytes=1001)


# A line counts as visible where pixels of its own colour disappear when it is hidden. Measured
# (pixels): before the fix, relu's lines showed 0 and 25 (under leaky_relu's); after, each of
# the six shows 614 or more.
VISIBLE_PIXELS = 200


def test_gradient_norm_picture_shows_six_distinguishable_lines(target, tmp_path, monkeypatch):
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgb
    from matplotlib.figure import Figure

    figures, savefig = {}, Figure.savefig

    def keep(fig, fname, *args, **kwargs):  # the figure behind each picture, to look inside
        figures[os.path.basename(fname)] = fig
        return savefig(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    target.draw_figures(tmp_path)
    path = tmp_path / "gradient_norms.png"
    expect_png(path, min_bytes=1001)
    picture = matplotlib.image.imread(path)[..., :3]
    fig = figures[path.name]
    canvas = FigureCanvasAgg(fig)

    def render():
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].astype(float) / 255

    drawn = render()
    assert drawn.shape == picture.shape and np.allclose(drawn, picture, atol=0.02), (
        f"{path.name} is not the figure draw_figures drew"
    )
    lines = [
        line for ax in fig.axes for line in ax.get_lines() if not line.get_label().startswith("_")
    ]
    labels = [line.get_label() for line in lines]
    assert len(set(labels)) == 6, f"{path.name}: expected six labelled lines, found {labels}"
    looks = {(to_rgb(ln.get_color()), ln.get_linestyle(), ln.get_marker()) for ln in lines}
    assert len(looks) == 6, f"{path.name}: two of the six lines share colour, line style and marker"
    for line in lines:
        line.set_visible(False)
        without = render()
        line.set_visible(True)
        own_colour = np.abs(drawn - np.array(to_rgb(line.get_color()))).max(axis=-1) < 0.12
        shown = int((own_colour & (np.abs(drawn - without).max(axis=-1) > 0.1)).sum())
        assert shown >= VISIBLE_PIXELS, (
            f"in {path.name} the line '{line.get_label()}' shows {shown} pixels of its own colour, "
            f"expected at least {VISIBLE_PIXELS}: it hides under the others"
        )
