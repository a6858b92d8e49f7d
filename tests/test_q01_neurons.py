"""Question 1: an artificial neuron against keras.layers.Dense, a leaky integrate-and-fire neuron
against its recurrence and its closed form, and the experiments that settle the exam's three
statements."""

import math

import numpy as np
import pytest

from kata.statements import statement_test
from kata.testing import called, check_equal, expect_float_array, fail, seeds

# BEGIN EXAM KEY: the true statements, the others are false (kept out of the homework copy)
KEY = {"weighted_inputs"}
# STUB: KEY = None
# END EXAM KEY
EXPERIMENT = {
    "weighted_inputs": "test_weights_excite_or_inhibit_in_both_neurons",
    "learning_grows_connections": "test_training_changes_weights_but_not_connections",
    "information_in_output_strength": "test_spike_height_is_fixed_while_the_rate_grows",
}


test_statement = statement_test(KEY, EXPERIMENT)


# --------------------------------------------------------------------------------------------
# The artificial neuron against one unit of keras.layers.Dense.
# --------------------------------------------------------------------------------------------

NEURON_CASES = [(a, s) for a in ("linear", "relu", "sigmoid", "tanh") for s in range(2)]


@pytest.mark.parametrize(
    "activation, seed", NEURON_CASES, ids=[f"{a}-seed{s}" for a, s in NEURON_CASES]
)
def test_artificial_neuron_matches_keras_dense(target, keras, activation, seed):
    rng = np.random.default_rng(seed)
    n_inputs, batch = int(rng.integers(1, 8)), int(rng.integers(1, 10))
    inputs = rng.normal(scale=2.0, size=(batch, n_inputs))
    weights, bias = rng.normal(size=n_inputs), float(rng.normal())
    layer = keras.layers.Dense(1, activation=activation, dtype="float64")
    layer.build((None, n_inputs))
    layer.set_weights([weights[:, None], np.array([bias])])
    want = np.asarray(layer(inputs))[:, 0]
    call = called("artificial_neuron", inputs, weights, bias, activation)
    got = expect_float_array(
        target.artificial_neuron(inputs, weights, bias, activation), call, shape=(batch,)
    )
    without_bias = np.asarray(layer.activation(inputs @ weights[:, None] + 0.0))[:, 0]
    why = "the activation of the drive (the weighted sum of the inputs plus the bias), one per row"
    if np.allclose(got, without_bias):
        why = "the bias is added to the weighted sum, before the activation"
    assert np.allclose(got, want, rtol=1e-10, atol=1e-12), (
        f"{call} returned {np.round(got, 6).tolist()}, expected {np.round(want, 6).tolist()} "
        f"(keras.layers.Dense(1, activation={activation!r}) with the same weights): {why}"
    )


# --------------------------------------------------------------------------------------------
# The leaky integrate-and-fire neuron.
# --------------------------------------------------------------------------------------------

# The model's constants, written out again so that the tests do not depend on the module.
DT, TAU, R, V_REST, V_TH, V_RESET, V_SPIKE = 0.1, 10.0, 10.0, -65.0, -50.0, -65.0, 20.0


def euler_reference(inputs, weights, dt=DT):
    """The recurrence the docstring states, as a plain loop."""
    v, voltage, spikes = V_REST, [], []
    for row in inputs:
        v += dt / TAU * ((V_REST - v) + R * float(row @ weights))
        fired = v >= V_TH
        voltage.append(V_SPIKE if fired else v)
        spikes.append(fired)
        if fired:
            v = V_RESET
    return np.array(voltage), np.array(spikes)


def run_lif(target, inputs, weights, **kwargs):
    __tracebackhide__ = True
    call = called("lif_neuron", inputs, weights, **kwargs)
    result = target.lif_neuron(inputs, weights, **kwargs)
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(f"{call} returned {type(result).__name__}, expected a pair (voltage, spikes)")
    voltage = expect_float_array(result[0], call + "[0]", shape=(len(inputs),))
    spikes = result[1]
    if not (isinstance(spikes, np.ndarray) and spikes.dtype == bool):
        fail(f"{call}[1] is {type(spikes).__name__}, expected a bool array")
    return call, voltage, spikes


LIF_SEEDS = range(3)


@seeds(LIF_SEEDS)
def test_lif_follows_the_euler_recurrence(target, seed):
    rng = np.random.default_rng(seed)
    steps, n = 3000, 1 + seed
    inputs = np.abs(rng.normal(2.0, 1.5, size=(steps, n)))  # currents that make it fire
    weights = np.concatenate([rng.uniform(0.8, 1.5, size=1), rng.uniform(-0.3, 0.5, size=n - 1)])
    dt = [0.1, 0.05, 0.2][seed]
    call, voltage, spikes = run_lif(target, inputs, weights, dt=dt)
    want_v, want_s = euler_reference(inputs, weights, dt)
    assert want_s.any() and np.array_equal(spikes, want_s), (
        f"{call} fired at steps {np.flatnonzero(spikes)[:8].tolist()}..., expected "
        f"{np.flatnonzero(want_s)[:8].tolist()}...: integrate with v += dt / TAU * ((V_REST - v) "
        "+ RESISTANCE * inputs[k] @ weights), fire when v >= V_THRESHOLD, then reset to V_RESET"
    )
    k = int(np.argmax(~np.isclose(voltage, want_v, rtol=1e-12, atol=1e-9)))
    assert np.allclose(voltage, want_v, rtol=1e-12, atol=1e-9), (
        f"{call} returned voltage[{k}] = {voltage[k]!r}, expected {want_v[k]!r}: the voltage "
        "after each step's update, V_SPIKE at a step where the neuron fires"
    )


CURRENTS = [1.6, 2.0, 3.0, 5.0]


@pytest.mark.parametrize("current", CURRENTS, ids=[f"{c}nA" for c in CURRENTS])
def test_lif_interspike_interval_matches_closed_form(target, current):
    # From V_RESET, after n steps with a constant current: v_n = v_inf + (V_RESET - v_inf) q^n,
    # with v_inf = V_REST + R I and q = 1 - dt / TAU; it fires at the first n with v_n >= V_TH.
    v_inf, q = V_REST + R * current, 1 - DT / TAU
    interval = math.ceil(math.log((v_inf - V_TH) / (v_inf - V_RESET)) / math.log(q))
    inputs = np.full((10 * interval + 5, 1), current)
    call, _, spikes = run_lif(target, inputs, np.array([1.0]))
    got = np.diff(np.flatnonzero(spikes))
    assert len(got) and np.all(got == interval), (
        f"{call} fired every {sorted(set(got.tolist()))} steps, expected every {interval}: "
        "under a constant current the potential climbs from V_RESET towards its resting level "
        f"plus R I, step by step as the docstring's recurrence says, and fires on reaching "
        f"{V_TH:g} mV; the climb after each reset is the same"
    )


def test_lif_stays_silent_below_the_threshold_current(target):
    current = 1.4  # R I = 14 mV: the potential settles at -51 mV, below -50 mV
    inputs = np.full((5000, 1), current)
    call, voltage, spikes = run_lif(target, inputs, np.array([1.0]))
    assert not spikes.any() and abs(voltage[-1] - (V_REST + R * current)) < 1e-3, (
        f"{call} fired {int(spikes.sum())} times and ended at {voltage[-1]:.3f} mV, expected no "
        f"spike and a potential settling at V_REST + R I = {V_REST + R * current:g} mV: the leak "
        "pulls v back towards rest as hard as the current pushes it up"
    )


def test_firing_rate_counts_spikes_per_second(target):
    spikes = np.zeros(20000, dtype=bool)  # 2000 ms at dt = 0.1
    spikes[::400] = True  # 50 spikes
    call = called("firing_rate", spikes, dt=0.1)
    check_equal(
        float(target.firing_rate(spikes, dt=0.1)),
        25.0,
        call,
        "a firing rate is in spikes per second (Hz), over the train's whole duration",
        slips={
            0.025: "that is spikes per millisecond: the rate is in spikes per SECOND (Hz)",
            0.0025: "that is spikes per time step: the rate is in spikes per SECOND (Hz)",
        },
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Connections of a Keras model.
# --------------------------------------------------------------------------------------------

CONNECTION_SEEDS = range(3)


def small_model(keras, seed):
    rng = np.random.default_rng(seed)
    sizes = [int(n) for n in rng.integers(1, 12, size=2 + seed)]
    model = keras.Sequential([keras.Input((sizes[0],))])
    for units in sizes[1:]:
        model.add(keras.layers.Dense(units, activation="relu"))
    model.add(keras.layers.Dense(1))
    return model


@seeds(CONNECTION_SEEDS)
def test_count_connections_matches_keras(target, keras, seed):
    model = small_model(keras, seed)
    expected = int(sum(np.prod(layer.kernel.shape) for layer in model.layers))
    check_equal(
        target.count_connections(model),
        expected,
        called("count_connections", model),
        "one connection per entry of every Dense layer's kernel (one weight per pair of units)",
        slips={model.count_params(): "that is count_params(): it includes the biases, which "
               "belong to one neuron each and connect nothing"},
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# The experiments. Each prints what it measured (run with -s to see it).
# --------------------------------------------------------------------------------------------


def test_weights_excite_or_inhibit_in_both_neurons(target):
    """Both neurons get two inputs; the second input's weight is 0, then +0.5, then -0.2.
    Artificial: inputs (1, 1), sigmoid, bias 0. Spiking: constant currents of 2 nA each, for
    one second."""
    second = (0.0, 0.5, -0.2)
    artificial, rates = [], []
    for w in second:
        weights = np.array([1.0, w])
        artificial.append(float(target.artificial_neuron(np.ones((1, 2)), weights, 0.0)[0]))
        _, spikes = target.lif_neuron(target.constant_inputs([2.0, 2.0]), weights)
        rates.append(target.firing_rate(spikes))
    print("\nweight of the second input:   " + "  ".join(f"{w:+.1f}" for w in second))
    print("artificial neuron's output:   " + "  ".join(f"{a:.3f}" for a in artificial))
    print("spiking neuron's rate (Hz):   " + "  ".join(f"{r:.0f}" for r in rates))
    assert artificial[1] > artificial[0] > artificial[2], (
        f"the artificial neuron's outputs were {artificial} for the second weight at 0, +0.5 and "
        "-0.2; expected a positive weight to raise the output and a negative one to lower it"
    )
    # Measured: 72, 144 and 36 Hz.
    assert rates[1] > rates[0] > rates[2] > 0, (
        f"the spiking neuron fired at {rates} Hz for the second weight at 0, +0.5 and -0.2; "
        "expected an excitatory (positive) synapse to raise the rate and an inhibitory "
        "(negative) one to lower it"
    )


def test_training_changes_weights_but_not_connections(target, keras, tf):
    """A Keras model 4 -> 8 -> 1 before and after 10 steps of gradient descent on random data."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, :1] * x[:, 1:2] > 0).astype("float32")  # a rule to learn
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    before = [w.copy() for w in model.get_weights()]
    count_before = target.count_connections(model)
    for _ in range(10):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables, strict=True))  # fmt: skip
    after = model.get_weights()
    count_after = target.count_connections(model)
    kernels = [(b, a) for b, a in zip(before, after, strict=True) if b.ndim == 2]
    changed = sum(int(np.sum(b != a)) for b, a in kernels)
    total = sum(b.size for b, _ in kernels)
    print(f"\nconnections before training: {count_before}, after: {count_after}; "
          f"weights changed: {changed} of {total}; final loss {float(loss):.3f}")  # fmt: skip
    assert count_before == count_after == 4 * 8 + 8 * 1, (
        f"count_connections gave {count_before} before and {count_after} after training, "
        "expected 40 both times: a connection joins a unit (or input) to a unit of the next "
        "layer, and training changes its weight, never which units are joined"
    )
    assert changed > 0.5 * total, f"only {changed} of {total} weights changed during training"


def test_spike_height_is_fixed_while_the_rate_grows(target):
    """Both neurons driven by ever stronger inputs: the artificial neuron (sigmoid, weight 1,
    bias -2) by inputs 2, 3, 5 and 8; the spiking neuron by constant currents of 2, 3, 5 and 8 nA
    for one second."""
    strengths = [2.0, 3.0, 5.0, 8.0]
    outputs = target.artificial_neuron(np.array(strengths)[:, None], np.array([1.0]), -2.0)
    heights, rates = [], []
    for current in strengths:
        voltage, spikes = target.lif_neuron(target.constant_inputs([current]), np.array([1.0]))
        heights.append(sorted(set(voltage[spikes].tolist())))
        rates.append(target.firing_rate(spikes))
    print("\ninput strength:              " + "  ".join(f"{s:6g}" for s in strengths))
    print("artificial neuron's output:  " + "  ".join(f"{o:6.3f}" for o in outputs))
    print("spike heights (mV):          " + "  ".join(f"{h}" for h in heights))
    print("firing rate (Hz):            " + "  ".join(f"{r:6.0f}" for r in rates))
    assert np.all(np.diff(outputs) > 0), (
        f"the artificial neuron's outputs {np.round(outputs, 4).tolist()} should grow with the "
        "input: its output IS its message"
    )
    assert all(h == [V_SPIKE] for h in heights), (
        f"the spikes' heights were {heights} for currents {strengths}; expected every spike at "
        f"V_SPIKE = {V_SPIKE} mV: a spike is all or none"
    )
    # Measured: 72, 144, 277 and 476 Hz.
    assert np.all(np.diff(rates) > 0), (
        f"the firing rates were {rates} Hz for currents {strengths}; expected them to grow with "
        "the current: a stronger input charges the membrane to the threshold sooner"
    )
