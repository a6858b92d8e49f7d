"""Question 1: biological and artificial neurons (1.5 points, true/false, wrong answers cost
points).

Artificial neural networks borrow from biological ones. The exam asks which mechanisms the two
kinds of neuron SHARE, and lists three; each is true (both have it) or false (at most one of them
has it). A wrong answer costs as much as a right one earns, an empty one (None) costs nothing.
In our words:

1. ``weighted_inputs``: each input of a neuron can carry its own weight, and an input can either
   strengthen or weaken the neuron's output signal.
2. ``learning_grows_connections``: while learning, the network forms new connections between its
   neurons.
3. ``information_in_output_strength``: the information a neuron passes on is encoded in how
   strong its output is.

Do not answer from memory: build both neurons, run the experiments, then answer. Some facts
about real neurons cannot be computed here; these are the ones the statements rest on:

- a biological neuron's synapses differ in strength, and a synapse is either excitatory (it
  pushes the membrane potential towards firing) or inhibitory (it pushes it away);
- a biological neuron fires all-or-none action potentials, spikes of a fixed height; a stronger
  input makes it fire more often, not higher;
- the brain keeps forming new synapses and removing old ones as it learns (synaptic plasticity
  includes growing new connections).

What you implement
------------------
1. ``artificial_neuron``: a weighted sum of the inputs plus a bias, passed through an activation
   function, exactly as one unit of ``keras.layers.Dense`` computes it.
2. ``lif_neuron``: a leaky integrate-and-fire neuron, the simplest model of a spiking neuron,
   simulated with a fixed time step (the rule is in its docstring), and ``firing_rate``.
3. ``count_connections``: how many connections between neurons a Keras model has.

The experiments (tests of your code; each settles one statement)
----------------------------------------------------------------
- ``test_weights_excite_or_inhibit_in_both_neurons`` (statement 1): both neurons with one input
  weighted positively, then negatively.
- ``test_training_changes_weights_but_not_connections`` (statement 2): a small Keras model
  before and after some training steps.
- ``test_spike_height_is_fixed_while_the_rate_grows`` (statement 3): both neurons driven by ever
  stronger inputs.

Run one with ``pytest exercises/q01_neurons.py::<name> -s`` to see what it measured.
"""

from __future__ import annotations

import numpy as np

# BEGIN SOLUTION: answer each statement with True or False (None = no answer)
# HINT: Build both neurons first, then run the experiment the module's docstring names for each
#   statement: `pytest exercises/q01_neurons.py::<experiment> -s`, and read what it prints.
# HINT: A statement is true only if BOTH kinds of neuron have the mechanism. For each statement ask
#   two questions: does the artificial neuron (or the Keras model) show it in the experiment, and
#   does the biological one show it, in the spiking neuron's run or in the facts the docstring lists
#   about real neurons?
# HINT: A wrong answer costs as much as a right one earns, so leave None where you are unsure. For
#   the statements on learning and on output strength, look at exactly what the experiment measured
#   before and after (the connections or the weights; the height of the output or something else)
#   and compare it with the listed facts.
ANSWERS = {
    "weighted_inputs": True,
    "learning_grows_connections": False,
    "information_in_output_strength": False,
}
# STUB: ANSWERS = {
# STUB:     "weighted_inputs": None,
# STUB:     "learning_grows_connections": None,
# STUB:     "information_in_output_strength": None,
# STUB: }
# END SOLUTION


# --------------------------------------------------------------------------------------------
# The artificial neuron.
# --------------------------------------------------------------------------------------------

ACTIVATIONS = {
    "linear": lambda d: d,
    "relu": lambda d: np.maximum(d, 0.0),
    "sigmoid": lambda d: 0.5 * (1.0 + np.tanh(0.5 * d)),  # 1 / (1 + exp(-d)), without overflow
    "tanh": np.tanh,
}
"""The activation functions ``artificial_neuron`` accepts, by their Keras names (given code)."""


def artificial_neuron(inputs, weights, bias, activation="sigmoid"):
    """The output of one artificial neuron for a batch of inputs.

    ``inputs``: float array of shape (batch, n_inputs), one row per example; ``weights``: shape
    (n_inputs,), one weight per input; ``bias``: a float; ``activation``: a name in
    ``ACTIVATIONS``. The neuron's drive is the weighted sum of its inputs plus the bias; its
    output is the activation of the drive. Returns a float array of shape (batch,).
    """
    # BEGIN SOLUTION: activation(weighted sum + bias), one value per example
    # HINT: For one example: multiply each input by its weight, add the products and the bias; that
    #   is the drive. Then apply the activation named by `activation`, looked up in `ACTIVATIONS`.
    # HINT: For the whole batch at once, a matrix-vector product of the (batch, n_inputs) inputs
    #   with the (n_inputs,) weights gives one weighted sum per row. The bias is added BEFORE the
    #   activation, not after it; work in float64 so that you agree with Keras to the last digits.
    drive = np.asarray(inputs, dtype=np.float64) @ np.asarray(weights, dtype=np.float64) + bias
    return ACTIVATIONS[activation](drive)  # (batch,)
    # END SOLUTION


# --------------------------------------------------------------------------------------------
# The spiking neuron. Units: milliseconds (ms), millivolts (mV), nanoamperes (nA), megaohms.
# --------------------------------------------------------------------------------------------

DT = 0.1
"""The simulation's time step, in ms."""
TAU = 10.0
"""The membrane time constant, in ms: how fast the potential leaks back to rest."""
RESISTANCE = 10.0
"""The membrane resistance, in megaohms: a current of I nA moves the resting level by R I mV."""
V_REST = -65.0
"""The resting potential, in mV."""
V_THRESHOLD = -50.0
"""The neuron fires when its potential reaches this, in mV."""
V_RESET = -65.0
"""The potential right after a spike, in mV."""
V_SPIKE = 20.0
"""What the voltage trace shows at a step where the neuron fires, in mV (the spike's peak)."""


def lif_neuron(inputs, weights, dt=DT):
    """Simulate a leaky integrate-and-fire neuron; return its voltage trace and its spikes.

    ``inputs``: float array of shape (steps, n_inputs), the current each presynaptic input
    delivers at each time step, in nA; ``weights``: shape (n_inputs,), the synapses' strengths
    (positive: excitatory, negative: inhibitory); ``dt``: the time step in ms.

    The potential v starts at ``V_REST``. At every step k = 0, 1, ..., steps - 1:

    1. the synaptic current is I = inputs[k] @ weights (nA);
    2. one Euler step of tau dv/dt = (V_REST - v) + RESISTANCE * I:
       v <- v + dt / TAU * ((V_REST - v) + RESISTANCE * I);
    3. if now v >= ``V_THRESHOLD``, the neuron fires: spikes[k] = True, voltage[k] = ``V_SPIKE``,
       and v is reset to ``V_RESET`` (for the next step); otherwise voltage[k] = v.

    Returns ``(voltage, spikes)``: a float array of shape (steps,) in mV and a bool array of
    shape (steps,).
    """
    # BEGIN SOLUTION: integrate the current, fire and reset at the threshold
    # HINT: Simulate step by step with a single number of state, the potential v: it starts at rest,
    #   moves by the docstring's Euler rule at each step, and is then compared with the threshold.
    # HINT: The synaptic current of every step can be computed before the loop, one weighted sum per
    #   row of `inputs`. Inside the loop keep the order: update v first, then test the NEW v against
    #   `V_THRESHOLD` (reaching it is enough to fire).
    # HINT: At a step where the neuron fires, the trace records `V_SPIKE` (not v) and v becomes
    #   `V_RESET` for the next step; at any other step the trace records v. Prepare a float array
    #   for the trace and an all-False bool array for the spikes, one entry per step.
    currents = np.asarray(inputs, dtype=np.float64) @ np.asarray(weights, dtype=np.float64)
    voltage = np.empty(len(currents))  # (steps,)
    spikes = np.zeros(len(currents), dtype=bool)  # (steps,)
    v = V_REST
    for k, current in enumerate(currents):
        v = v + dt / TAU * ((V_REST - v) + RESISTANCE * current)
        if v >= V_THRESHOLD:
            spikes[k], voltage[k], v = True, V_SPIKE, V_RESET
        else:
            voltage[k] = v
    return voltage, spikes
    # END SOLUTION


def firing_rate(spikes, dt=DT):
    """The number of spikes per second (Hz) in a spike train of ``len(spikes)`` steps of ``dt``
    ms each. Returns a float."""
    # BEGIN SOLUTION: spikes counted over the duration in seconds
    # HINT: A rate is a count divided by a duration: count the spikes (the True entries), and work
    #   out how long the spike train lasts.
    # HINT: The train lasts len(spikes) steps of `dt` milliseconds each, but the rate is per SECOND
    #   (Hz): convert the duration to seconds before dividing. `np.count_nonzero` counts the spikes;
    #   return a plain Python float.
    return float(np.count_nonzero(spikes) / (len(spikes) * dt / 1000.0))
    # END SOLUTION


def constant_inputs(currents, duration=1000.0, dt=DT):
    """Inputs for ``lif_neuron`` that hold each current constant (given code).

    ``currents``: one current per input, in nA; ``duration`` in ms. Returns shape
    (round(duration / dt), len(currents)).
    """
    steps = int(round(duration / dt))
    return np.tile(np.asarray(currents, dtype=np.float64), (steps, 1))


# --------------------------------------------------------------------------------------------
# The architecture of a Keras model.
# --------------------------------------------------------------------------------------------


def count_connections(model):
    """How many connections between neurons a Keras model of ``Dense`` layers has.

    A connection links one unit (or input) of a layer to one unit of the next layer and carries
    one weight: the entries of every Dense layer's ``kernel``. Biases are not connections
    between neurons. Returns an int.
    """
    # BEGIN SOLUTION: the size of every kernel
    # HINT: A connection joins one unit (or input) to one unit of the next layer and carries exactly
    #   one weight: count weights, not every parameter of the model.
    # HINT: Go through `model.layers`; a Dense layer's `kernel` has the shape (inputs, units), and
    #   its number of entries is the product of that shape. Leave the biases out, which is why
    #   `model.count_params()` is not the answer. Return an int.
    return int(
        sum(np.prod(layer.kernel.shape) for layer in model.layers if hasattr(layer, "kernel"))
    )
    # END SOLUTION
