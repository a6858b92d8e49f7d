"""Question 5: activation functions and their gradients (2.5 points, true/false, wrong answers
cost points).

The exam lists five statements; each is true or false. A wrong answer costs as much as a right
one earns, an empty one (None) costs nothing. In our words:

1. ``linear_is_useful``: linear activation functions are useful in neural networks because their
   derivative is easy to compute.
2. ``leaky_relu_fixes_exploding``: ReLU tends to cause exploding gradients, and leaky ReLU is the
   variant of ReLU made to prevent that.
3. ``single_saturating_explode``: exploding gradients are a common problem of single-saturating
   activation functions (functions that flatten out on one side only, such as ReLU).
4. ``pictured_does_not_die``: the activation function pictured below cannot suffer from dying
   ReLU (units stuck at a zero gradient).
5. ``pictured_does_not_vanish``: the activation function pictured below does not cause vanishing
   gradients.

The exam showed the function's graph; it is a leaky ReLU:

    leaky_relu(x) = x          for x > 0
                    alpha * x  for x <= 0       (alpha: a small positive slope, here 0.1)

                          f(x)
                           |             /
                           |           /
                           |         /      slope 1 for x > 0
                           |       /
                           |     /
                           |   /
                           | /
      ---------------------+--------------------- x
                   ____----|
           ____----        |                slope alpha for x <= 0
      -----                |

Do not answer from memory: build the functions, run the experiments, then answer.

What you implement
------------------
1. Six activation functions and their derivatives, element by element on NumPy float arrays:
   ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``, ``elu`` and ``softplus``, each with its
   ``*_derivative``. They must agree with Keras's (``keras.activations``) and with the gradients
   ``tf.GradientTape`` computes for them, also for large inputs (|x| up to 1000: no overflow to
   inf or nan). Where a function has a kink at 0, take its derivative from the left there, as
   TensorFlow does: ReLU'(0) = 0, leaky ReLU'(0) = alpha, ELU'(0) = alpha.
2. ``collapse_linear``: the single linear layer that computes what a stack of linear layers does.
3. ``layer_gradient_norms``: one backward pass through a fully connected network, giving the size
   of the gradient that reaches each layer's weights.
4. ``dead_units``: which units of a layer pass no gradient at all for a whole batch.

The experiments (tests of your code; each settles one statement)
----------------------------------------------------------------
- ``test_linear_layers_collapse_into_one`` (statement 1): stacks of linear layers, and the one
  layer your ``collapse_linear`` makes of them, on the same inputs.
- ``test_leaky_relu_explodes_like_relu`` (statement 2): gradient sizes layer by layer in a deep
  network with large weights, with ReLU and with leaky ReLU.
- ``test_relu_gradients_explode_with_large_weights`` (statement 3): the same with ReLU and with
  sigmoid (which saturates on both sides).
- ``test_a_negative_bias_kills_relu_units_but_no_leaky_relu_unit`` (statement 4): the units that
  receive no gradient after every bias has been shifted far below zero.
- ``test_sigmoid_gradients_vanish_but_leaky_relu_gradients_do_not`` (statement 5): gradient sizes
  layer by layer in a deep network at initialisation, with sigmoid, ReLU and leaky ReLU.

Run one with ``pytest exercises/q05_activations.py::<name> -s`` to see what it measured.
``python -m exercises.q05_activations --out DIR`` plots your functions and derivatives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kata.demo import figures_main, save_figure

# BEGIN SOLUTION: answer each statement with True or False (None = no answer)
# HINT: Answer nothing before the experiments run: implement the functions first, then each
#   statement's test (listed in the module's docstring) measures what settles it. A wrong answer
#   costs points and None costs nothing, so leave a statement None until you have seen its
#   measurement.
# HINT: Run one experiment at a time with `pytest exercises/q05_activations.py::<test name> -s` and
#   read what it prints: the gradient size of each layer (first against last), the share of dead
#   units before and after the bias shift, the gap between the stack and its collapsed layer.
# HINT: Read every statement to its end: a statement that makes two claims (what a function causes,
#   and what its variant was made for) holds only if both hold. For statement 1, ask what a stack of
#   layers could compute that its collapsed single layer cannot.
ANSWERS = {
    "linear_is_useful": False,
    "leaky_relu_fixes_exploding": False,
    "single_saturating_explode": True,
    "pictured_does_not_die": True,
    "pictured_does_not_vanish": True,
}
# STUB: ANSWERS = {
# STUB:     "linear_is_useful": None,
# STUB:     "leaky_relu_fixes_exploding": None,
# STUB:     "single_saturating_explode": None,
# STUB:     "pictured_does_not_die": None,
# STUB:     "pictured_does_not_vanish": None,
# STUB: }
# END SOLUTION

LEAKY_ALPHA = 0.1
"""The slope of leaky ReLU for x <= 0 (the pictured function)."""


# --------------------------------------------------------------------------------------------
# The functions and their derivatives. Each takes a float array x of any shape and returns a
# float array of the same shape.
# --------------------------------------------------------------------------------------------


def sigmoid(x):
    """1 / (1 + exp(-x)), without overflow for large |x|."""
    # BEGIN SOLUTION: the logistic function, computed so that exp never overflows
    # HINT: The formula is easy; the trap is a large negative x, where exp(-x) overflows to inf and
    #   NumPy warns. Find a way to only ever take exp of a number that is zero or negative.
    # HINT: Use e = exp(-|x|), which never exceeds one. For x >= 0 the usual formula works with it;
    #   for x < 0 multiply the top and the bottom of the fraction by exp(x) to get a form that uses
    #   e too.
    # HINT: Pick between the two forms element by element with `np.where`, and convert x to a
    #   float64 array first so that lists and ints work as well.
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    # END SOLUTION


def sigmoid_derivative(x):
    """The derivative of ``sigmoid`` at x."""
    # BEGIN SOLUTION: s(x) (1 - s(x))
    # HINT: The sigmoid's derivative can be written with the sigmoid itself: no new exponential
    #   needed.
    # HINT: Differentiate 1 / (1 + exp(-x)) and express the result as s times something, where s is
    #   the value your `sigmoid` returns; reusing `sigmoid` keeps the large inputs safe.
    s = sigmoid(x)
    return s * (1.0 - s)
    # END SOLUTION


def tanh(x):
    """The hyperbolic tangent, (e^x - e^-x) / (e^x + e^-x)."""
    # BEGIN SOLUTION: np.tanh
    # HINT: NumPy already has this function, and it is safe for large inputs; writing the
    #   exponentials out yourself would overflow at |x| near the top of the tested range.
    # HINT: Turn x into a float64 array first, then call `np.tanh` on it.
    return np.tanh(np.asarray(x, dtype=np.float64))
    # END SOLUTION


def tanh_derivative(x):
    """The derivative of ``tanh`` at x."""
    # BEGIN SOLUTION: 1 - tanh(x)^2
    # HINT: Like the sigmoid's, the derivative of tanh is a simple expression in tanh itself.
    # HINT: The derivative is one minus the square of tanh(x). Avoid going through `np.cosh`: it
    #   overflows for large |x| even though the derivative there is just a tiny number.
    return 1.0 - np.tanh(np.asarray(x, dtype=np.float64)) ** 2
    # END SOLUTION


def relu(x):
    """max(0, x)."""
    # BEGIN SOLUTION: zero for negative x, x itself otherwise
    # HINT: Negative inputs become zero, the others pass unchanged: an element-wise maximum.
    # HINT: `np.maximum` compares an array with a scalar element by element (unlike `np.max`, which
    #   reduces). Return floats even when the input holds ints.
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)
    # END SOLUTION


def relu_derivative(x):
    """The derivative of ``relu`` at x: 1 for x > 0, 0 for x <= 0."""
    # BEGIN SOLUTION: a step
    # HINT: The derivative is a step: the slope of the flat side on the left, the slope of the
    #   identity on the right.
    # HINT: At exactly x = 0 the task asks for the slope from the left, so only strictly positive x
    #   get the slope of the right side. A comparison gives booleans: turn them into floats.
    return (np.asarray(x) > 0).astype(np.float64)
    # END SOLUTION


def leaky_relu(x, alpha=LEAKY_ALPHA):
    """x for x > 0, alpha * x for x <= 0."""
    # BEGIN SOLUTION: the negative side keeps a small slope alpha
    # HINT: The same picture as ReLU, except the left side keeps a small slope alpha instead of
    #   going flat.
    # HINT: Choose between x and alpha times x element by element with `np.where`, on the condition
    #   that x is positive. Use the `alpha` argument, not the module's constant, so that other
    #   slopes work.
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, alpha * x)
    # END SOLUTION


def leaky_relu_derivative(x, alpha=LEAKY_ALPHA):
    """The derivative of ``leaky_relu`` at x: 1 for x > 0, alpha for x <= 0."""
    # BEGIN SOLUTION: 1 on the right, alpha on the left
    # HINT: Two slopes: one on the right of zero, alpha on the left; and zero itself counts as the
    #   left.
    # HINT: `np.where` on a strict 'greater than zero' condition picks between the two slopes; make
    #   sure the result is a float array with the shape of x, also when alpha is given.
    return np.where(np.asarray(x) > 0, 1.0, float(alpha))
    # END SOLUTION


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) for x <= 0."""
    # BEGIN SOLUTION: exponential on the left, identity on the right
    # HINT: On the right ELU is the identity; on the left it is alpha times (exp(x) - 1), which
    #   bends smoothly towards -alpha.
    # HINT: `np.expm1` computes exp(x) - 1 accurately near zero, where subtracting 1 loses digits.
    #   Trap: `np.where` evaluates BOTH branches on every element, so exp of a large positive x
    #   overflows even though that value is thrown away.
    # HINT: Before taking the exponential, clip its argument so that it never exceeds zero; the
    #   clipped values are only ever used on the left side, where nothing changes.
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    # END SOLUTION


def elu_derivative(x, alpha=1.0):
    """The derivative of ``elu`` at x: 1 for x > 0, alpha * exp(x) for x <= 0."""
    # BEGIN SOLUTION: 1 on the right, alpha * exp(x) on the left
    # HINT: The slope is one on the right, and on the left it is the derivative of alpha (exp(x) -
    #   1). At zero take the left side, as TensorFlow does.
    # HINT: Select with `np.where` on a strict 'x > 0'; the left branch needs exp(x), so clip its
    #   argument as in `elu`, or large positive inputs overflow in the branch you throw away.
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))
    # END SOLUTION


def softplus(x):
    """log(1 + exp(x)), without overflow for large x."""
    # BEGIN SOLUTION: log(exp(0) + exp(x)), computed stably
    # HINT: Written as it stands, log(1 + exp(x)) overflows for large x (exp gives inf) and loses
    #   the answer, which is close to x itself there.
    # HINT: Softplus is log(exp(0) + exp(x)): NumPy has a function that adds numbers through their
    #   logarithms without overflow, `np.logaddexp`. Or split it as max(x, 0) plus `np.log1p` of
    #   exp(-|x|).
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))
    # END SOLUTION


def softplus_derivative(x):
    """The derivative of ``softplus`` at x."""
    # BEGIN SOLUTION: it is the sigmoid
    # HINT: Differentiate log(1 + exp(x)) with the chain rule and simplify the fraction you get.
    # HINT: After dividing the top and the bottom by exp(x) you will recognise a function you have
    #   already written in this module, and a stable one: reuse it.
    return sigmoid(x)
    # END SOLUTION


ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "elu": (elu, elu_derivative),
    "softplus": (softplus, softplus_derivative),
}
"""Each activation by name: (function, derivative); leaky ReLU with LEAKY_ALPHA, ELU with 1."""


# --------------------------------------------------------------------------------------------
# What the experiments measure.
# --------------------------------------------------------------------------------------------


def collapse_linear(weights, biases):
    """The one linear layer that computes what a stack of linear layers computes.

    ``weights[l]`` has shape (n_l, n_{l+1}) and ``biases[l]`` shape (n_{l+1},): layer l maps a
    batch ``a`` of shape (batch, n_l) to ``a @ weights[l] + biases[l]`` (as ``keras.layers.Dense``
    does, with no activation). Returns ``(W, b)``, float arrays of shapes (n_0, n_L) and (n_L,),
    such that ``x @ W + b`` equals the output of the whole stack for every input x.
    """
    # BEGIN SOLUTION: compose the affine maps one after the other
    # HINT: Write out what two linear layers do to an input x: put the first layer's output into the
    #   second, expand the brackets, and read off one weight matrix and one bias.
    # HINT: The weights multiply together in order; the first bias does not vanish: it goes through
    #   every later weight matrix before the later biases are added. Forgetting that is the usual
    #   slip.
    # HINT: Start from the layer that does nothing (an identity matrix of size n_0, a zero bias) and
    #   fold in the layers one by one, updating the weight and the bias each time.
    w = np.eye(np.shape(weights[0])[0])  # (n_0, n_0)
    b = np.zeros(np.shape(weights[0])[0])  # (n_0,)
    for weight, bias in zip(weights, biases, strict=True):
        w = w @ weight  # (n_0, n_{l+1})
        b = b @ weight + bias  # (n_{l+1},)
    return w, b
    # END SOLUTION


def layer_gradient_norms(x, weights, biases, activation):
    """How large the gradient is that reaches each layer, after one backward pass.

    ``x``: inputs, shape (batch, n_0). ``weights[l]``: shape (n_l, n_{l+1}); ``biases[l]``:
    shape (n_{l+1},). Every layer computes the drive ``d_l = a @ weights[l] + biases[l]`` of its
    input ``a`` and passes on ``f(d_l)`` with the activation ``ACTIVATIONS[activation]``, the last
    layer included. The loss is the sum of the network's outputs over the batch and the output
    units.

    Returns a float array of shape (L,): entry l is the Frobenius norm (the square root of the sum
    of squares) of the gradient of the loss with respect to the drives d_l of layer l, i.e. of
    the deltas of question 3, for the whole batch. Entry 0 belongs to the first layer, the one
    farthest from the loss; a layer's weight gradient is its input times its deltas.
    """
    # BEGIN SOLUTION: forward pass keeping each layer's slopes, then the deltas backwards
    # HINT: Two passes. Forward: for every layer compute the drive and keep the activation's
    #   derivative at it. Backward: start from the gradient of the loss with respect to the outputs
    #   and walk the layers from last to first.
    # HINT: The loss is a plain sum of the outputs, so its gradient with respect to them is an array
    #   of ones. At each layer, the delta is the incoming gradient times the stored slopes, element
    #   by element; its norm over the whole batch is the Frobenius norm of that 2-D array.
    # HINT: To go one layer further back, multiply the delta by the transpose of that layer's weight
    #   matrix. Remember that the last layer has the activation too, and store the norms so that
    #   entry 0 belongs to the first layer.
    f, derivative = ACTIVATIONS[activation]
    a = np.asarray(x, dtype=np.float64)  # (batch, n_0)
    slopes = []
    for weight, bias in zip(weights, biases, strict=True):
        drive = a @ weight + bias  # (batch, n_{l+1})
        slopes.append(derivative(drive))
        a = f(drive)
    grad_a = np.ones_like(a)  # d(sum of outputs) / d(outputs), (batch, n_L)
    norms = np.zeros(len(weights))
    for layer in reversed(range(len(weights))):
        delta = grad_a * slopes[layer]  # dL/d(drive), (batch, n_{l+1})
        norms[layer] = np.linalg.norm(delta)
        grad_a = delta @ weights[layer].T  # dL/d(input of layer l), (batch, n_l)
    return norms
    # END SOLUTION


def dead_units(x, weight, bias, activation):
    """Which units of one layer pass no gradient back, for any example of the batch.

    ``x``: the layer's inputs, shape (batch, n_in); ``weight``: (n_in, units); ``bias``:
    (units,); ``activation``: a name in ``ACTIVATIONS``. A unit is dead when the activation's
    derivative at its drive is 0 for every example of the batch: no gradient reaches its weights,
    so training can never change them. Returns a bool array of shape (units,).
    """
    # BEGIN SOLUTION: a zero derivative on every example
    # HINT: For each unit, look at the activation's derivative at its drive on every example of the
    #   batch: the unit is dead when none of them is nonzero.
    # HINT: Compute the drives of the whole batch at once with one matrix product plus the bias,
    #   apply the derivative from `ACTIVATIONS`, then reduce over the batch axis (axis 0, not the
    #   units' axis) with `np.all` on a comparison with zero.
    derivative = ACTIVATIONS[activation][1]
    slopes = derivative(np.asarray(x, dtype=np.float64) @ weight + bias)  # (batch, units)
    return np.all(slopes == 0.0, axis=0)
    # END SOLUTION


def he_weights(layer_sizes, gain=1.0, seed=0):
    """Random weights for a fully connected network (given code).

    ``layer_sizes`` = (n_0, ..., n_L). Weight l is drawn from a normal distribution with standard
    deviation gain * sqrt(2 / n_l) (He initialisation, the usual one for ReLU, times ``gain``);
    biases are 0. Returns ``(weights, biases)``, lists of float64 arrays.
    """
    rng = np.random.default_rng(seed)
    weights = [
        rng.normal(0.0, gain * np.sqrt(2.0 / n_in), size=(n_in, n_out))
        for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True)
    ]
    return weights, [np.zeros(n_out) for n_out in layer_sizes[1:]]


DEEP_NETWORK = (64,) * 21
"""The deep network of the experiments: 64 inputs, 20 layers of 64 units."""


# --------------------------------------------------------------------------------------------
# Pictures (given code): python -m exercises.q05_activations --out DIR
# --------------------------------------------------------------------------------------------


def draw_figures(out_dir):
    """Plot YOUR functions and derivatives, and the gradient sizes of the deep network."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    written = []
    x = np.linspace(-4, 4, 401)
    fig, axes = plt.subplots(2, 3, figsize=(10, 6), dpi=100, sharex=True)
    for ax, (name, (f, derivative)) in zip(axes.flat, ACTIVATIONS.items(), strict=True):
        ax.plot(x, f(x), label="f(x)")
        ax.plot(x, derivative(x), "--", label="f'(x)")
        ax.axhline(0, color="0.8", linewidth=0.8)
        ax.axvline(0, color="0.8", linewidth=0.8)
        ax.set_title(name)
        ax.set_ylim(-1.5, 4)
    axes.flat[0].legend(loc="upper left")
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.06, top=0.94, hspace=0.25)
    written.append(save_figure(fig, out_dir / "activations.png"))

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    inputs = np.random.default_rng(0).normal(size=(64, DEEP_NETWORK[0]))
    # relu's and leaky_relu's curves almost coincide: each activation has its colour and its
    # marker (on every third layer, at a different offset), each gain its line style, and
    # relu's line is wider than leaky_relu's, drawn over it: none of the six hides another
    looks = {
        "sigmoid": dict(color="C0", marker="^", markevery=(0, 3), linewidth=1.5),
        "relu": dict(color="C1", marker="o", markevery=(1, 3), linewidth=4),
        "leaky_relu": dict(color="C2", marker="s", markevery=(2, 3), linewidth=1.5),
    }
    for gain, style in ((1.0, "-"), (2.0, "--")):
        weights, biases = he_weights(DEEP_NETWORK, gain=gain, seed=0)
        for name, look in looks.items():
            norms = layer_gradient_norms(inputs, weights, biases, name)
            ax.semilogy(
                range(1, len(norms) + 1),
                norms,
                linestyle=style,
                markersize=5,
                label=f"{name}, gain {gain:g}",
                **look,
            )
    ax.set_xlabel("layer (1 = first, farthest from the loss)")
    ax.set_ylabel("|dL/d drives| of the layer")
    ax.legend(fontsize="small")
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.13, top=0.95)
    written.append(save_figure(fig, out_dir / "gradient_norms.png"))
    return written


main = figures_main(draw_figures, "figures/q05", "Plot your activation functions.")

if __name__ == "__main__":
    from kata.demo import run  # a function not written yet: two lines, not a traceback

    run(main, tensorflow=False)
