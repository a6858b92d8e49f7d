"""Question 4: optimizers as NumPy update rules, checked against keras.optimizers, and the
experiments that settle the exam's five statements."""

import copy
from itertools import pairwise

import numpy as np
import pytest

from kata.statements import statement_test
from kata.testing import (
    called,
    check_equal,
    expect_float_array,
    expect_png,
    fail,
    seeds,
    slip_hint,
    within,
)

# BEGIN EXAM KEY: the true statements, the others are false (kept out of the homework copy)
KEY = {"momentum_avoids_local_minima", "batches_cost_memory", "adagrad_rate_vanishes"}
# STUB: KEY = None
# END EXAM KEY
EXPERIMENT = {
    "momentum_avoids_local_minima": "test_momentum_rolls_through_a_shallow_local_minimum",
    "batches_save_memory": "test_activation_memory_grows_with_the_batch_size",
    "batches_cost_memory": "test_activation_memory_grows_with_the_batch_size",
    "adagrad_is_momentum_with_all_gradients": "test_adagrad_and_momentum_remember_different_things",
    "adagrad_rate_vanishes": "test_only_adagrads_effective_learning_rate_keeps_shrinking",
}


test_statement = statement_test(KEY, EXPERIMENT)


CLASS_NAMES = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adadelta": "Adadelta",
    "adam": "Adam",
}


def make(target, name, hyper):
    """The learner's optimizer `name` with `hyper`, and how to name it in a message."""
    description = f"{CLASS_NAMES[name]}({', '.join(f'{k}={v!r}' for k, v in hyper.items())})"
    return getattr(target, CLASS_NAMES[name])(**hyper), description


def run_learner(optimizer, description, start, gradient, steps):
    """Run the learner's optimizer with its own init/update; return the path (steps + 1, ...)."""
    params = np.array(start)
    state = optimizer.init(params.copy())
    path = [params]
    for step in range(1, steps + 1):
        grads = gradient(params)
        result = optimizer.update(params.copy(), grads, state)
        call = f"called {description}.update(params, grads, state) at step {step}"
        if not (isinstance(result, tuple) and len(result) == 2):
            fail(
                f"{call} returned {type(result).__name__}, expected a pair (new_params, new_state)"
            )
        params, state = result
        params = expect_float_array(params, call, shape=np.shape(start), what="new_params as a "
                                    "NumPy float array")  # fmt: skip
        path.append(np.array(params))
    return np.stack(path)


def run_keras(keras, tf, name, hyper, start, gradient, steps):
    """The same run with Keras's own optimizer on a float64 variable."""
    variable = keras.Variable(np.array(start), dtype="float64")
    optimizer = getattr(keras.optimizers, CLASS_NAMES[name])(**hyper)
    path = [np.array(start)]
    for _ in range(steps):
        grads = gradient(variable.numpy())
        optimizer.apply_gradients([(tf.constant(grads, dtype=tf.float64), variable)])
        path.append(variable.numpy().copy())
    return np.stack(path)


# --------------------------------------------------------------------------------------------
# Known slips: the same optimizers with one detail changed. A learner whose path matches one of
# these has made that slip.
# --------------------------------------------------------------------------------------------


def slip_step(name, hyper, slip, params, grads, state):
    """One step of optimizer `name` with the mistake `slip`; state is a dict of arrays."""
    h = {**DEFAULTS[name], **hyper}
    lr, eps = h["learning_rate"], h.get("epsilon", 0.0)
    g2 = np.square(grads)
    if name == "adagrad":
        acc = state.get(
            "acc", np.full_like(params, 0.0 if slip == "acc0" else h["initial_accumulator_value"])
        )
        acc = acc + g2
        denominator = np.sqrt(acc) + eps if slip == "eps_outside" else np.sqrt(acc + eps)
        return params - lr * grads / denominator, {"acc": acc}
    if name == "rmsprop":
        v = h["rho"] * state.get("v", 0.0 * params) + (1 - h["rho"]) * g2
        denominator = np.sqrt(v) + eps if slip == "eps_outside" else np.sqrt(v + eps)
        return params - lr * grads / denominator, {"v": v}
    if name == "adadelta":
        rho = h["rho"]
        acc_g = rho * state.get("g", 0.0 * params) + (1 - rho) * g2
        acc_d = state.get("d", 0.0 * params)
        if slip == "eps_outside":
            delta = -(np.sqrt(acc_d) + eps) * grads / (np.sqrt(acc_g) + eps)
        elif slip == "new_delta_average":  # the step-average updated before it is used
            delta = -np.sqrt(acc_d + eps) * grads / np.sqrt(acc_g + eps)
            acc_d = rho * acc_d + (1 - rho) * np.square(delta)
            delta = -np.sqrt(acc_d + eps) * grads / np.sqrt(acc_g + eps)
            return params + lr * delta, {"g": acc_g, "d": acc_d}
        else:
            delta = -np.sqrt(acc_d + eps) * grads / np.sqrt(acc_g + eps)
        acc_d = rho * acc_d + (1 - rho) * np.square(delta)
        scale = 1.0 if slip == "no_learning_rate" else lr
        return params + scale * delta, {"g": acc_g, "d": acc_d}
    if name == "adam":
        b1, b2 = h["beta_1"], h["beta_2"]
        t = state.get("t", 0) + 1
        m = b1 * state.get("m", 0.0 * params) + (1 - b1) * grads
        v = b2 * state.get("v", 0.0 * params) + (1 - b2) * g2
        if slip == "textbook_epsilon":  # eps added to sqrt of the bias-corrected v
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            return params - lr * m_hat / (np.sqrt(v_hat) + eps), {"m": m, "v": v, "t": t}
        if slip == "no_bias_correction":
            return params - lr * m / (np.sqrt(v) + eps), {"m": m, "v": v, "t": t}
        if slip == "eps_inside":
            alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            return params - alpha * m / np.sqrt(v + eps), {"m": m, "v": v, "t": t}
    if name == "sgd" and slip == "momentum_without_learning_rate":  # v = mu v - g
        v = h["momentum"] * state.get("v", 0.0 * params) - grads
        return params + v, {"v": v}
    raise ValueError(f"no slip {slip} for {name}")


DEFAULTS = {
    "sgd": {"learning_rate": 0.01, "momentum": 0.0},
    "adagrad": {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7},
    "rmsprop": {"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-7},
    "adadelta": {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7},
    "adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
}

SLIPS = {
    "sgd": {
        "momentum_without_learning_rate": "the learning rate scales every step, and Keras's "
        "velocity already holds it: v <- momentum * v - learning_rate * g, then "
        "params <- params + v",
    },
    "adagrad": {
        "acc0": "the accumulator starts at initial_accumulator_value, not at 0",
        "eps_outside": "Keras adds epsilon INSIDE the square root: g / sqrt(accumulator + eps)",
    },
    "rmsprop": {
        "eps_outside": "Keras adds epsilon INSIDE the square root: g / sqrt(average + eps)",
    },
    "adadelta": {
        "eps_outside": "Keras adds epsilon INSIDE both square roots: "
        "sqrt(step average + eps) / sqrt(gradient average + eps)",
        "no_learning_rate": "Keras multiplies Adadelta's step by learning_rate (the paper does "
        "not); the tests pass learning_rate != 1",
        "new_delta_average": "the step uses the average of squared steps from BEFORE this step; "
        "update that average with the new step only afterwards",
    },
    "adam": {
        "textbook_epsilon": "that is the paper's Adam, m_hat / (sqrt(v_hat) + eps); Keras folds "
        "the bias corrections into the step size alpha = lr * sqrt(1 - beta_2^t) / "
        "(1 - beta_1^t) and adds eps to sqrt(v) itself: alpha * m / (sqrt(v) + eps)",
        "no_bias_correction": "you left out the bias correction: alpha = lr * sqrt(1 - beta_2^t) "
        "/ (1 - beta_1^t), with t = 1 at the first step",
        "eps_inside": "Adam adds epsilon AFTER the square root: m / (sqrt(v) + eps)",
    },
}


def slip_path(name, hyper, slip, start, gradient, steps):
    params, state, path = np.array(start), {}, [np.array(start)]
    for _ in range(steps):
        params, state = slip_step(name, hyper, slip, params, gradient(params), state)
        path.append(params)
    return np.stack(path)


# --------------------------------------------------------------------------------------------
# The update rules against keras.optimizers.
# --------------------------------------------------------------------------------------------

# Every hyper-parameter is exactly representable in float32: Keras stores the learning rate in a
# float32 variable and turns Python floats into float32 tensors, so 0.1 would differ from
# NumPy's 0.1 in the 8th digit. With these values both sides compute the same float64 numbers.
# Epsilon is about as large as the averages of squared gradients, so that where it goes shows.
CASES = {
    "sgd-plain": ("sgd", {"learning_rate": 0.125}),
    "sgd-momentum": ("sgd", {"learning_rate": 0.0625, "momentum": 0.875}),
    "adagrad": ("adagrad", {"learning_rate": 0.5, "initial_accumulator_value": 0.5,
                            "epsilon": 0.25}),
    "rmsprop": ("rmsprop", {"learning_rate": 0.125, "rho": 0.9375, "epsilon": 0.25}),
    "adadelta": ("adadelta", {"learning_rate": 0.5, "rho": 0.875, "epsilon": 0.0625}),
    "adam": ("adam", {"learning_rate": 0.125, "beta_1": 0.75, "beta_2": 0.96875,
                      "epsilon": 0.25}),
}  # fmt: skip
STEPS = 25
RTOL, ATOL = 1e-10, 1e-12


def quadratic_problems(seed, rows=4, dim=3):
    """`rows` independent random quadratic losses 1/2 (w - c)^T A (w - c), one per row of w."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(rows, dim, dim))
    a = a @ a.transpose(0, 2, 1) + 0.1 * np.eye(dim)
    a /= np.linalg.norm(a, ord=2, axis=(1, 2))[:, None, None] / 2  # largest curvature 2
    c = rng.normal(size=(rows, dim))
    start = c + 3 * rng.normal(size=(rows, dim))
    return start, lambda w: np.einsum("rij,rj->ri", a, w - c)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_update_matches_keras(target, keras, tf, case):
    name, hyper = CASES[case]
    start, gradient = quadratic_problems(seed=list(CASES).index(case))
    optimizer, description = make(target, name, hyper)
    got = run_learner(optimizer, description, start, gradient, STEPS)
    want = run_keras(keras, tf, name, hyper, start, gradient, STEPS)
    if np.allclose(got, want, rtol=RTOL, atol=ATOL):
        return
    step = int(np.argmax(~np.all(np.isclose(got, want, rtol=RTOL, atol=ATOL), axis=(1, 2))))
    slips = [
        (slip_path(name, hyper, slip, start, gradient, STEPS), why)
        for slip, why in SLIPS.get(name, {}).items()
    ]
    reason = slip_hint(got, want, slips, within(rtol=1e-8)) or (
        "the first differing step shows where your rule departs from Keras's update_step"
    )
    fail(
        f"called {description}.update {STEPS} times on 4 random quadratic losses (one per row "
        f"of a 4x3 parameter array): after step {step} your parameters' first row is "
        f"{np.round(got[step, 0], 8).tolist()}, keras.optimizers.{CLASS_NAMES[name]} gives "
        f"{np.round(want[step, 0], 8).tolist()}: {reason}"
    )


@pytest.mark.parametrize("name", list(CLASS_NAMES), ids=list(CLASS_NAMES))
def test_update_does_not_modify_its_arguments(target, name):
    rng = np.random.default_rng(11)
    hyper = {"learning_rate": 0.1, **({"momentum": 0.9} if name == "sgd" else {})}
    optimizer, description = make(target, name, hyper)
    params = rng.normal(size=(3, 2))
    state = optimizer.init(params.copy())
    for _ in range(2):  # the second call sees a state with non-zero slots
        grads = rng.normal(size=(3, 2))
        before = (params.copy(), grads.copy(), copy.deepcopy(state))
        new_params, new_state = optimizer.update(params, grads, state)
        changed = [
            what
            for what, old, now in [("params", before[0], params), ("grads", before[1], grads)]
            if not np.array_equal(old, now)
        ]
        changed += [
            f"state[{key!r}]"
            for key, old in before[2].items()
            if not np.array_equal(np.asarray(old), np.asarray(state[key]))
        ]
        assert not changed, (
            f"called {description}.update(params, grads, state) and it changed "
            f"{', '.join(changed)}: return new arrays (a = a + x makes a new one; a += x "
            "changes the caller's)"
        )
        params, state = new_params, new_state


# --------------------------------------------------------------------------------------------
# Memory against Keras.
# --------------------------------------------------------------------------------------------

MEMORY_SEEDS = range(4)


def random_mlp(seed):
    rng = np.random.default_rng(100 + seed)
    depth = 1 + seed % 3
    return tuple(int(n) for n in rng.integers(1, 50, size=depth + 1)), int(rng.integers(1, 65))


def keras_mlp(keras, layer_sizes):
    inputs = keras.Input(shape=(layer_sizes[0],))
    outputs, x = [], inputs
    for units in layer_sizes[1:]:
        x = keras.layers.Dense(units, activation="relu")(x)
        outputs.append(x)
    return keras.Model(inputs, [inputs, *outputs])


@seeds(MEMORY_SEEDS)
def test_activation_floats_matches_keras(target, keras, seed):
    layer_sizes, batch = random_mlp(seed)
    model = keras_mlp(keras, layer_sizes)
    arrays = model(np.zeros((batch, layer_sizes[0]), dtype="float32"))
    expected = int(sum(np.prod(a.shape) for a in arrays))
    check_equal(
        target.activation_floats(layer_sizes, batch),
        expected,
        called("activation_floats", layer_sizes, batch),
        f"a Keras MLP of these sizes, run on a batch of {batch}, produces its input and one "
        "output per Dense layer, each with one row per example: that is what backpropagation "
        "needs (the input of every layer, the output of every layer)",
        slips={
            sum(layer_sizes): "that is one example's worth: every example of the batch has its "
            "own activations",
            2 * expected - batch * (layer_sizes[0] + layer_sizes[-1]): "you counted the arrays "
            "between two layers twice: one layer's output is the next one's input",
        },
    )


@seeds(MEMORY_SEEDS)
def test_gradient_floats_matches_keras(target, keras, seed):
    layer_sizes, _ = random_mlp(seed)
    expected = int(keras_mlp(keras, layer_sizes).count_params())
    weights_only = sum(a * b for a, b in pairwise(layer_sizes))
    check_equal(
        target.gradient_floats(layer_sizes),
        expected,
        called("gradient_floats", layer_sizes),
        "the gradient has one entry per parameter: Keras's count_params() of the same MLP",
        slips={weights_only: "you forgot the biases: they have gradients too"},
    )


# --------------------------------------------------------------------------------------------
# The experiments. Each prints what it measured (run with -s to see it).
# --------------------------------------------------------------------------------------------

VALLEY_STEPS = 300


def test_momentum_rolls_through_a_shallow_local_minimum(target):
    """Plain SGD and SGD with momentum 0.9 (both with learning rate 0.1) on the 1-D `valley`
    loss: from x = 6, and from 60 random starts in [-2, 8], 300 steps each."""
    local, bump = target.VALLEY_LOCAL_MINIMUM, target.VALLEY_BUMP
    starts = np.concatenate([[6.0], np.random.default_rng(0).uniform(-2, 8, size=60)])
    ends = {}
    for momentum in (0.0, 0.9):
        optimizer, description = make(target, "sgd", {"learning_rate": 0.1, "momentum": momentum})
        path = run_learner(optimizer, description, starts, target.valley_gradient, VALLEY_STEPS)
        ends[momentum] = path[-1]
    trapped = {m: float(np.mean(np.abs(e[1:] - local) < 0.01)) for m, e in ends.items()}
    print(
        f"\nfrom x = 6: plain SGD ends at {ends[0.0][0]:.4f}, momentum at {ends[0.9][0]:.4f} "
        f"(local minimum {local}, global minimum 0)\n"
        f"stuck in the local minimum from 60 random starts: plain {trapped[0.0]:.0%}, "
        f"momentum {trapped[0.9]:.0%}"
    )
    assert abs(ends[0.0][0] - local) < 0.01, (
        f"plain SGD (momentum 0) from x = 6 ended at {ends[0.0][0]:.4f}, expected it to stop in "
        f"the local minimum at {local}: with momentum 0, SGD moves by -learning_rate * gradient"
    )
    assert abs(ends[0.9][0]) < 0.01, (
        f"SGD with momentum 0.9 from x = 6 ended at {ends[0.9][0]:.4f}, expected it to reach "
        "the global minimum at 0: the velocity it gathers on the way down carries it over the "
        f"crest at {bump}; check your velocity update"
    )
    # Measured with rng seed 0: plain 58 %, momentum 5 %. Seeds 0-9: plain 50-68 %, momentum
    # 5-17 %; momentum's share is at most 0.33 x plain's (seed 8), the threshold is 0.5 x.
    assert trapped[0.9] < 0.5 * trapped[0.0], (
        f"from 60 random starts, {trapped[0.0]:.0%} of plain SGD's runs and {trapped[0.9]:.0%} "
        "of momentum's ended in the local minimum; expected far fewer with momentum"
    )


def test_activation_memory_grows_with_the_batch_size(target):
    """The floats kept for backpropagation and the floats of the gradient, for MEMORY_MLP at
    batch sizes 1, 32 and 256."""
    sizes = target.MEMORY_MLP
    rows = [(b, target.activation_floats(sizes, b), target.gradient_floats(sizes))
            for b in (1, 32, 256)]  # fmt: skip
    print(f"\nMLP {sizes}:")
    for batch, acts, grads in rows:
        print(f"  batch {batch:4d}: {acts:9,} activation floats, {grads:9,} gradient floats")
    (_, one, grad_one), *rest = rows
    expected_one = sum(sizes)
    assert one == expected_one, (
        f"{called('activation_floats', sizes, 1)} returned {one}, expected {expected_one}: one "
        "example keeps every layer's activations, the input included"
    )
    for batch, acts, grads in rest:
        assert acts == batch * one, (
            f"{called('activation_floats', sizes, batch)} returned {acts}, expected "
            f"{batch * one}: every array the backward pass needs holds one row per example, "
            "kept until the backward pass has used it"
        )
        assert grads == grad_one, (
            f"{called('gradient_floats', sizes)} returned {grads} and then {grad_one}: "
            "the gradient has one entry per parameter"
        )


def replay(gradients):
    """A `gradient` function that returns the given gradients one after the other."""
    steps = iter(gradients)
    return lambda _params: next(steps)


def test_adagrad_and_momentum_remember_different_things(target):
    """SGD with momentum 0.9 and Adagrad (both with learning rate 0.1), fed six given 2-D
    gradients; then the same gradients with the first one's sign flipped, with the first one
    tripled, and with the second coordinate's gradients all multiplied by 100. Compared: the
    last (sixth) step each optimizer takes."""
    rng = np.random.default_rng(4)
    grads = rng.uniform(0.5, 1.5, size=(6, 2)) * rng.choice([-1.0, 1.0], size=(6, 2))
    variants = {"as given": grads.copy()}
    variants["first flipped"] = grads.copy()
    variants["first flipped"][0] *= -1
    variants["first tripled"] = grads.copy()
    variants["first tripled"][0] *= 3
    variants["y times 100"] = grads * np.array([1.0, 100.0])
    last = {}
    for name, hyper in [("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
                        ("adagrad", {"learning_rate": 0.1})]:  # fmt: skip
        optimizer, description = make(target, name, hyper)
        for variant, sequence in variants.items():
            path = run_learner(optimizer, description, np.zeros(2), replay(sequence), 6)
            last[name, variant] = path[-1] - path[-2]
    print("\nlast step taken (x, y):")
    for (name, variant), step in last.items():
        print(f"  {name:8s} {variant:14s} {np.round(step, 5).tolist()}")

    def same(name, variant):
        return np.allclose(last[name, variant], last[name, "as given"], rtol=1e-9, atol=1e-15)

    assert not same("sgd", "first flipped"), (
        "flipping the sign of the FIRST gradient did not change momentum's sixth step: the "
        "velocity v <- momentum * v - lr * g sums every past gradient, each weighted by "
        "momentum^age; check your SGD"
    )
    assert same("adagrad", "first flipped") and not same("adagrad", "first tripled"), (
        "Adagrad's sixth step should ignore the sign of the first gradient (it sums SQUARED "
        "gradients) but not its size; check your Adagrad"
    )
    ratio = {n: abs(last[n, "y times 100"][1] / last[n, "as given"][1]) for n in ("sgd", "adagrad")}
    print(f"  y gradients x 100: momentum's y step x {ratio['sgd']:.3g}, "
          f"Adagrad's x {ratio['adagrad']:.3g}")  # fmt: skip
    # Measured: momentum x 100 exactly, Adagrad x 1.03 (its accumulator starts at 0.1, not 0).
    assert abs(ratio["sgd"] - 100) < 1e-6 and ratio["adagrad"] < 1.5, (
        f"with the y gradients multiplied by 100, momentum's y step grew {ratio['sgd']:.3g} "
        f"times and Adagrad's {ratio['adagrad']:.3g} times; expected 100 and about 1: Adagrad "
        "divides each parameter's gradient by the root of that parameter's own sum of squares"
    )


RAMP_STEPS = 600


def test_only_adagrads_effective_learning_rate_keeps_shrinking(target):
    """Adagrad, RMSprop and Adadelta (hyper-parameters RAMP_OPTIMIZERS) for 600 steps down the
    1-D `ramp` loss from x = 0: steep until x = 1, gentle after. Measured: the effective learning
    rate |step| / |gradient| of every step."""
    rates, ends = {}, {}
    for name, hyper in target.RAMP_OPTIMIZERS.items():
        optimizer, description = make(target, name, hyper)
        path = run_learner(optimizer, description, np.zeros(1), target.ramp_gradient, RAMP_STEPS)
        rates[name] = np.abs(np.diff(path[:, 0])) / np.abs(target.ramp_gradient(path[:-1, 0]))
        ends[name] = path[-1, 0]
    print("\neffective learning rate: first step, smallest, last step; position after 600 steps")
    for name, r in rates.items():
        print(f"  {name:8s} {r[0]:.4g}  {r.min():.4g} (step {r.argmin() + 1})  {r[-1]:.4g};"
              f"  x = {ends[name]:.3f}")  # fmt: skip
    adagrad = rates["adagrad"]
    # Measured: Adagrad's last rate is 0.17 x its first; it never rises (by construction).
    assert np.all(np.diff(adagrad) <= 1e-12 * adagrad[:-1]) and adagrad[-1] < 0.5 * adagrad[0], (
        "Adagrad's effective learning rate lr / sqrt(accumulator + eps) should shrink at every "
        "step (its accumulator only grows); check your Adagrad"
    )
    # Measured: RMSprop's last rate is 23.7 x its smallest, Adadelta's 19.7 x.
    for name in ("rmsprop", "adadelta"):
        r = rates[name]
        assert r[-1] > 5 * r.min(), (
            f"{name}'s effective learning rate ended at {r[-1]:.4g}, its smallest was "
            f"{r.min():.4g}: on the gentle slope its moving average of squared gradients should "
            f"forget the steep start, and the rate rise again; check your {name}"
        )


def test_figures_are_written(target, tmp_path):
    paths = target.draw_figures(tmp_path)
    assert paths, "draw_figures returned no paths"
    for path in paths:
        expect_png(path, min_bytes=1001)
