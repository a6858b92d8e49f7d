"""Question 4: optimizers (5 points, true/false, wrong answers cost points).

The exam lists five statements about optimizers; each is true or false. A wrong answer costs as
much as a right one earns, an empty one (None) costs nothing. In our words:

1. ``momentum_avoids_local_minima``: giving stochastic gradient descent a momentum term makes it
   less likely to end up stuck in a local minimum.
2. ``batches_save_memory``: learning from mini-batches needs LESS memory than learning from one
   example at a time, because the gradient is computed only once per batch (once every
   batch-size examples).
3. ``batches_cost_memory``: learning from mini-batches needs MORE memory than learning from one
   example at a time, because the gradients have to be computed for every example of the batch.
4. ``adagrad_is_momentum_with_all_gradients``: Adagrad and SGD with momentum differ in exactly one
   way: to form the new update, Adagrad uses all past gradients while momentum uses only the most
   recent one.
5. ``adagrad_rate_vanishes``: a weakness of Adagrad is that its learning rate eventually becomes so
   small that nothing more is learned; Adadelta and RMSProp set out to fix that.

Do not answer from memory: build the optimizers, run the experiments, then answer.

What you implement
------------------
1. Five optimizers as NumPy update rules, each exactly the rule of its namesake in
   ``keras.optimizers`` (Keras 3), with the same hyper-parameters and defaults: ``SGD`` (with
   momentum), ``Adagrad``, ``RMSprop``, ``Adadelta`` and ``Adam``. Each has two methods:

   - ``init(params)``: the optimizer's state before the first step (a dict of arrays and
     counters: the "slots" Keras keeps per variable);
   - ``update(params, grads, state)``: one step; returns ``(new_params, new_state)`` and leaves
     its arguments unchanged.

   Keras's details matter here, since the tests run Keras's own optimizers next to yours:
   SGD keeps a velocity that already contains the learning rate; Adagrad's sum of squares starts
   at ``initial_accumulator_value``, not 0; Adadelta multiplies its step by ``learning_rate``;
   Adam folds both bias corrections into its step size; and epsilon goes INSIDE the square root
   for Adagrad, RMSprop and Adadelta, but is added AFTER the square root for Adam. The code is in
   ``keras/src/optimizers/`` of your installation, one short ``update_step`` per optimizer.

2. ``activation_floats`` and ``gradient_floats``: how many numbers training a fully connected
   network must hold for one step, for the activations kept for backpropagation and for the
   gradient.

The experiments (tests of your code; each settles one or more statements)
-------------------------------------------------------------------------
- ``test_momentum_rolls_through_a_shallow_local_minimum``: plain SGD and SGD with momentum on
  ``valley``, a 1-D loss with a shallow local minimum beside its global one, from many starts.
- ``test_activation_memory_grows_with_the_batch_size``: the floats kept for backpropagation, and
  those of the gradient, for the MLP ``MEMORY_MLP`` at several batch sizes.
- ``test_adagrad_and_momentum_remember_different_things``: both optimizers fed the same gradients,
  then the same gradients with the sign or the size of earlier ones changed.
- ``test_only_adagrads_effective_learning_rate_keeps_shrinking``: Adagrad, RMSprop and Adadelta on
  ``ramp``, a loss that starts steep and then goes on as a long gentle slope.

Run one with ``pytest exercises/q04_optimizers.py::<name>``; its message shows what it measured.
``python -m exercises.q04_optimizers --out DIR`` draws the optimizers' paths on a 2-D loss
surface, the valley runs and the effective learning rates on the ramp.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kata.demo import figures_main, save_figure

ANSWERS = {
    "momentum_avoids_local_minima": None,
    "batches_save_memory": None,
    "batches_cost_memory": None,
    "adagrad_is_momentum_with_all_gradients": None,
    "adagrad_rate_vanishes": None,
}


# --------------------------------------------------------------------------------------------
# The optimizers. `params` and `grads` are float arrays of the same shape (any shape); every
# operation is element by element, so each parameter has its own slots.
# --------------------------------------------------------------------------------------------


class SGD:
    """Stochastic gradient descent with (heavy-ball) momentum, as ``keras.optimizers.SGD``.

    Keras keeps a velocity v that starts at 0 and already contains the learning rate:
    v <- momentum * v - learning_rate * g, then params <- params + v. With ``momentum=0`` this is
    plain gradient descent, params <- params - learning_rate * g.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0):
        self.learning_rate = learning_rate
        self.momentum = momentum

    def init(self, params):
        """Return the state before the first step: a dict holding the velocity (zeros shaped like
        ``params``)."""
        raise NotImplementedError("the velocity starts at zero")

    def update(self, params, grads, state):
        """Return ``(new_params, new_state)`` after one step; do not modify the arguments."""
        raise NotImplementedError("update the velocity, then move the parameters by it")


class Adagrad:
    """Adagrad, as ``keras.optimizers.Adagrad``.

    Every parameter keeps the sum of its squared gradients, starting at
    ``initial_accumulator_value`` (not 0); the step divides the gradient by the square root of
    that sum, with epsilon added INSIDE the square root.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
        self.learning_rate = learning_rate
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def init(self, params):
        """Return the state before the first step: the accumulator of squared gradients."""
        raise NotImplementedError("the accumulator starts at initial_accumulator_value")

    def update(self, params, grads, state):
        """Return ``(new_params, new_state)`` after one step; do not modify the arguments."""
        raise NotImplementedError("add g^2 to the accumulator, step by lr * g / sqrt(acc + eps)")


class RMSprop:
    """RMSprop, as ``keras.optimizers.RMSprop`` (without its momentum and centered options).

    Every parameter keeps a moving average of its squared gradients, starting at 0 and forgetting
    old gradients at the rate ``rho``; the step divides the gradient by the square root of that
    average, with epsilon added INSIDE the square root.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7):
        self.learning_rate = learning_rate
        self.rho = rho
        self.epsilon = epsilon

    def init(self, params):
        """Return the state before the first step: the moving average of squared gradients."""
        raise NotImplementedError("the moving average starts at zero")

    def update(self, params, grads, state):
        """Return ``(new_params, new_state)`` after one step; do not modify the arguments."""
        raise NotImplementedError("average g^2 (weight 1 - rho), step by lr * g / sqrt(avg + eps)")


class Adadelta:
    """Adadelta, as ``keras.optimizers.Adadelta``.

    Every parameter keeps two moving averages (rate ``rho``, both starting at 0): one of its
    squared gradients and one of its squared steps. The step is the gradient times
    sqrt(average of squared steps + eps) / sqrt(average of squared gradients + eps), where the
    average of squared steps is the one from BEFORE this step; that average is updated with the
    new step afterwards. Keras multiplies the step by ``learning_rate`` (the paper's Adadelta
    has none, i.e. 1.0).
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7):
        self.learning_rate = learning_rate
        self.rho = rho
        self.epsilon = epsilon

    def init(self, params):
        """Return the state before the first step: the two moving averages."""
        raise NotImplementedError("both moving averages start at zero")

    def update(self, params, grads, state):
        """Return ``(new_params, new_state)`` after one step; do not modify the arguments."""
        raise NotImplementedError("average g^2, take the step, then average its square")


class Adam:
    """Adam, as ``keras.optimizers.Adam`` (without amsgrad).

    Every parameter keeps moving averages of its gradients (m, rate ``beta_1``) and of its squared
    gradients (v, rate ``beta_2``), both starting at 0, and the optimizer counts its steps t
    (1 for the first step). Keras corrects both averages' bias in the step size,
    alpha = learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t), and steps by
    alpha * m / (sqrt(v) + eps): epsilon is added AFTER the square root, to the uncorrected v.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def init(self, params):
        """Return the state before the first step: both moving averages and the step count."""
        raise NotImplementedError("zero averages, zero steps taken")

    def update(self, params, grads, state):
        """Return ``(new_params, new_state)`` after one step; do not modify the arguments."""
        raise NotImplementedError("update m and v, then step by alpha * m / (sqrt(v) + eps)")


OPTIMIZERS = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adadelta": Adadelta,
    "adam": Adam,
}
"""Each optimizer class by the name of its ``keras.optimizers`` twin, in lower case."""


# --------------------------------------------------------------------------------------------
# Running an optimizer (given code).
# --------------------------------------------------------------------------------------------


def descend(optimizer, gradient, start, steps):
    """Run ``steps`` updates from ``start``, taking the gradient at the current point each time.

    ``gradient`` maps parameters to the loss's gradient there (same shape). Returns the path, a
    float64 array of shape (steps + 1, *start.shape) whose row 0 is ``start``. Since every rule
    works element by element, ``start`` may hold many independent 1-D runs side by side.
    """
    params = np.array(start, dtype=np.float64)
    state = optimizer.init(params)
    path = [params]
    for _ in range(steps):
        params, state = optimizer.update(params, gradient(params), state)
        path.append(np.array(params, dtype=np.float64))
    return np.stack(path)


def follow(optimizer, start, gradients):
    """Apply a given sequence of gradients, whatever the parameters are; return the path.

    ``gradients`` has shape (steps, *start.shape). Returns shape (steps + 1, *start.shape).
    """
    gradients = np.asarray(gradients, dtype=np.float64)
    steps = iter(gradients)
    return descend(optimizer, lambda _params: next(steps), start, len(gradients))


def effective_learning_rates(path, gradients):
    """The learning rate an optimizer effectively applied at each step: |step| / |gradient|.

    ``path`` has shape (steps + 1, ...), ``gradients`` (steps, ...): the gradient of each step.
    Returns shape (steps, ...). For plain SGD it is the learning rate at every step.
    """
    path = np.asarray(path, dtype=np.float64)
    return np.abs(np.diff(path, axis=0)) / np.abs(np.asarray(gradients, dtype=np.float64))


# --------------------------------------------------------------------------------------------
# The losses of the experiments (given code).
# --------------------------------------------------------------------------------------------

VALLEY_LOCAL_MINIMUM = 2.7383
"""Where ``valley`` has its shallow local minimum (its global minimum is at 0)."""
VALLEY_BUMP = 2.0913
"""The crest between the two minima: a run that starts to its right must cross it."""


def valley(x):
    """A 1-D loss: a wide bowl with its minimum at 0, and a shallow dip at ~2.74 on its side."""
    x = np.asarray(x, dtype=np.float64)
    return x**2 / 10 - 0.6 * np.exp(-((x - 3.0) ** 2) / 0.5)


def valley_gradient(x):
    """The derivative of ``valley``."""
    x = np.asarray(x, dtype=np.float64)
    return x / 5 + 2.4 * (x - 3.0) * np.exp(-((x - 3.0) ** 2) / 0.5)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # 1 / (1 + exp(-z)), without overflow


def ramp(x):
    """A 1-D loss that falls steeply (slope about -2) up to x = 1, then gently (slope -0.05)."""
    x = np.asarray(x, dtype=np.float64)
    return -0.05 * x - 1.95 * (x - np.logaddexp(0.0, 10.0 * (x - 1.0)) / 10.0)


def ramp_gradient(x):
    """The derivative of ``ramp``: about -2 before x = 1, -0.05 after it."""
    x = np.asarray(x, dtype=np.float64)
    return -(0.05 + 1.95 * _sigmoid(-10.0 * (x - 1.0)))


RAMP_OPTIMIZERS = {
    "adagrad": {"learning_rate": 0.1},
    "rmsprop": {"learning_rate": 0.1},
    "adadelta": {"learning_rate": 1.0, "epsilon": 1e-6},  # the paper's settings
}
"""The hyper-parameters of the ramp experiment (the others are Keras's defaults)."""


# --------------------------------------------------------------------------------------------
# Memory.
# --------------------------------------------------------------------------------------------

MEMORY_MLP = (784, 256, 128, 10)
"""The MLP of the memory experiment: 784 inputs, two hidden layers (256, 128), 10 outputs."""


def activation_floats(layer_sizes, batch_size):
    """How many floats one forward pass must keep for the backward pass, for a whole batch.

    ``layer_sizes`` = (n_0, n_1, ..., n_L): n_0 inputs, then the units of each fully connected
    layer (each with a bias and an activation such as ReLU or sigmoid). ``batch_size``: how many
    examples go through the network together.

    Count every array the backward pass needs: the input of each layer (its weight gradient is
    built from it) and the output of each layer (the activation's slope is computed from it, and
    it is the next layer's input, so count each array once). Every such array holds one row per
    example. Returns an int.
    """
    raise NotImplementedError("every layer's activations, the input included, for every example")


def gradient_floats(layer_sizes):
    """How many floats the gradient of the loss with respect to all parameters holds.

    ``layer_sizes`` as in ``activation_floats``: fully connected layers, each with weights and
    biases. Returns an int.
    """
    raise NotImplementedError("one entry per weight and per bias")


# --------------------------------------------------------------------------------------------
# Pictures (given code): python -m exercises.q04_optimizers --out DIR
# --------------------------------------------------------------------------------------------


def ravine(p):
    """A 2-D loss, a long narrow valley: 0.5 * (x^2 / 10 + 4 y^2); p has shape (..., 2)."""
    p = np.asarray(p, dtype=np.float64)
    return 0.5 * (p[..., 0] ** 2 / 10 + 4 * p[..., 1] ** 2)


def ravine_gradient(p):
    """The gradient of ``ravine``, shape (..., 2)."""
    p = np.asarray(p, dtype=np.float64)
    return np.stack([p[..., 0] / 10, 4 * p[..., 1]], axis=-1)


PICTURE_OPTIMIZERS = {
    "SGD": (SGD, {"learning_rate": 0.2}),
    "SGD, momentum 0.9": (SGD, {"learning_rate": 0.05, "momentum": 0.9}),
    "Adagrad": (Adagrad, {"learning_rate": 0.8}),
    "RMSprop": (RMSprop, {"learning_rate": 0.1}),
    "Adadelta": (Adadelta, {"learning_rate": 1.0, "epsilon": 1e-6}),
    "Adam": (Adam, {"learning_rate": 0.3}),
}


def draw_figures(out_dir):
    """Draw the optimizers' behaviour with YOUR optimizers; return the paths of the PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    written = []

    # 1. Paths on the ravine.
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    xs, ys = np.meshgrid(np.linspace(-11, 3, 200), np.linspace(-3, 3, 120))
    grid = np.stack([xs, ys], axis=-1)
    ax.contour(xs, ys, ravine(grid), levels=np.geomspace(0.01, 30, 15), colors="0.75")
    for name, (cls, hyper) in PICTURE_OPTIMIZERS.items():
        path = descend(cls(**hyper), ravine_gradient, np.array([-10.0, 2.0]), 60)
        ax.plot(path[:, 0], path[:, 1], ".-", markersize=3, label=f"{name} {hyper}")
    ax.plot(0, 0, "k*", markersize=12)
    ax.set_title("60 steps from (-10, 2) on 0.5 (x^2/10 + 4 y^2)")
    ax.legend(fontsize="x-small", loc="lower right")
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.12, top=0.92, wspace=0.25)
    written.append(save_figure(fig, out_dir / "optimizer_paths.png"))

    # 2. The valley: plain SGD against momentum.
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    x = np.linspace(-3, 7, 400)
    left.plot(x, valley(x), color="0.4")
    for momentum in (0.0, 0.9):
        path = descend(SGD(0.1, momentum), valley_gradient, np.array([6.0]), 300)[:, 0]
        left.plot(path, valley(path), ".", markersize=4, label=f"momentum {momentum}")
        right.plot(path, label=f"momentum {momentum}")
    left.set_title("valley(x): where SGD goes from x = 6")
    left.legend()
    right.axhline(VALLEY_LOCAL_MINIMUM, linestyle=":", color="0.5")
    right.set_xlabel("step")
    right.set_ylabel("x")
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.12, top=0.92, wspace=0.25)
    written.append(save_figure(fig, out_dir / "valley.png"))

    # 3. Effective learning rates on the ramp.
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for name, hyper in RAMP_OPTIMIZERS.items():
        path = descend(OPTIMIZERS[name](**hyper), ramp_gradient, np.array([0.0]), 600)
        rates = effective_learning_rates(path, ramp_gradient(path[:-1]))[:, 0]
        left.semilogy(rates, label=f"{name} {hyper}")
        right.plot(path[:, 0], label=name)
    left.set_title("effective learning rate |step| / |gradient|")
    left.set_xlabel("step")
    left.legend(fontsize="small")
    right.set_title("position x on the ramp (steep until x = 1)")
    right.set_xlabel("step")
    right.legend(fontsize="small")
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.12, top=0.92, wspace=0.25)
    written.append(save_figure(fig, out_dir / "effective_learning_rates.png"))
    return written


main = figures_main(draw_figures, "figures/q04", "Draw the optimizers' paths with your code.")

if __name__ == "__main__":
    from kata.demo import run  # a function not written yet: two lines, not a traceback

    run(main, tensorflow=False)
