"""Question 3: backpropagation by hand (10 points).

The exam gives a tiny fully connected network, one training example and a learning rate, and asks
for one training step worked out on paper:

1. the forward pass: the drive (weighted input plus bias) and the activation of every neuron;
2. the backward pass: the delta of every neuron, i.e. the derivative of the loss with respect to
   that neuron's drive;
3. one step of plain stochastic gradient descent: every weight and bias after the update.

Here you write that computation once, for a fully connected network of any depth and width, and
the tests check it on the exam's network and on random networks against TensorFlow.

The exam's network (its figure is missing; this is the network the kata uses)::

    layer 0: input     layer 1: hidden (ReLU)       layer 2: output (ReLU)

    x_1 =  3  o---+
                  +--->  o  neuron 1 (b^1_1 =  1)  --+
    x_2 =  2  o---+                                  +--->  o  neuron 1 (b^2_1 = 2)  --->  a^2_1
                  +--->  o  neuron 2 (b^1_2 = -2)  --+                        target t = 2
    x_3 = -1  o---+

    Every input feeds both hidden neurons; both hidden neurons feed the output neuron.

    weights into layer 1 (W1)                  weights into layer 2 (W2)
                from x_1  from x_2  from x_3                 from a^1_1  from a^1_2
    neuron 1:      -2        2        0.5      neuron 1:        -0.5         1
    neuron 2:       0.5      1       -1

- learning rate 0.1;
- ReLU on every neuron, the output neuron included;
- loss L = 1/2 * MSE = 1/2 * mean over the output units of (a^2_i - t_i)^2.

Notation (the exam's):

- superscripts are layers: layer 0 is the input, layer 1 the hidden layer, layer 2 the output;
- ``w^l_{i,j}`` is the weight from unit j of layer l-1 into unit i of layer l, so the matrix
  ``W_l`` has one row per neuron of layer l and one column per unit of layer l-1;
- ``b^l_i`` is the bias of neuron i of layer l;
- ``d^l_i = sum_j w^l_{i,j} a^{l-1}_j + b^l_i`` is the drive, ``a^l_i = f(d^l_i)`` the activation
  (``a^0 = x``);
- ``delta^l_i = dL / d d^l_i`` is the delta.

Work the exam's numbers out on paper first; the tests name each of them in this notation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVATIONS = ("relu", "sigmoid", "linear")
"""The activation names ``backprop_step`` accepts."""

EXAM_NETWORK = {
    "x": np.array([3.0, 2.0, -1.0]),  # (3,) the input a^0
    "target": np.array([2.0]),  # (1,) the target t
    "weights": [
        np.array([[-2.0, 2.0, 0.5], [0.5, 1.0, -1.0]]),  # (2, 3) W1, row i = weights into neuron i
        np.array([[-0.5, 1.0]]),  # (1, 2) W2
    ],
    "biases": [
        np.array([1.0, -2.0]),  # (2,) b1
        np.array([2.0]),  # (1,) b2
    ],
    "learning_rate": 0.1,
}
"""The exam's network and training example: ``backprop_step(**EXAM_NETWORK)`` is the exam's step."""


@dataclass(frozen=True)
class BackpropStep:
    """Everything one training step produces, layer by layer.

    Every field is a list with one NumPy float64 array (not a Python list) per layer l = 1..L of
    the network (the input is not a layer): index 0 is the first hidden layer, index -1 the
    output layer.
    """

    drives: list[np.ndarray]
    """``drives[l - 1]`` has shape (units of layer l,): the drives d^l of the forward pass."""
    activations: list[np.ndarray]
    """``activations[l - 1]`` has shape (units of layer l,): the activations a^l = f(d^l)."""
    deltas: list[np.ndarray]
    """``deltas[l - 1]`` has shape (units of layer l,): delta^l = dL/dd^l, the loss's gradient
    with respect to the drives."""
    weights: list[np.ndarray]
    """``weights[l - 1]`` has shape (units of layer l, units of layer l-1): W_l AFTER the update."""
    biases: list[np.ndarray]
    """``biases[l - 1]`` has shape (units of layer l,): b^l AFTER the update."""


def activate(drive, activation):
    """Apply an activation function to a vector of drives, and give its slope there.

    Receives ``drive``, a float64 array of shape (units,), and ``activation``, one of
    ``"relu"`` (max(0, d); its derivative is taken as 0 at d = 0), ``"sigmoid"``
    (1 / (1 + exp(-d))) or ``"linear"`` (d itself).

    Returns ``(a, slope)``, two float64 arrays of shape (units,): the activations ``a = f(drive)``
    and the derivatives ``slope = f'(drive)``, element by element. Any other ``activation`` raises
    ``ValueError`` with a message that names the accepted activations.
    """
    # BEGIN SOLUTION: return f(drive) and f'(drive); ValueError for an unknown name
    # HINT: Return two arrays of the drive's shape: the activations and the slopes, element by
    #   element.
    # HINT: ReLU's slope is 1 where the drive is positive and 0 elsewhere, 0 itself included; the
    #   sigmoid's slope can be written with the sigmoid's own value; a linear unit's slope is 1.
    if activation == "relu":
        return np.maximum(drive, 0.0), (drive > 0).astype(np.float64)
    if activation == "sigmoid":
        a = 1.0 / (1.0 + np.exp(-drive))
        return a, a * (1.0 - a)
    if activation == "linear":
        return drive.copy(), np.ones_like(drive)
    raise ValueError(f"unknown activation {activation!r}: expected one of {', '.join(ACTIVATIONS)}")
    # END SOLUTION


def backprop_step(x, target, weights, biases, learning_rate, activation="relu"):
    """One training step on one example: forward pass, backward pass, SGD update.

    Receives
      - ``x``: the input a^0, shape (n_0,);
      - ``target``: the target t, a scalar (the same target for every output unit) or shape (n_L,);
      - ``weights``: a list of L arrays, ``weights[l - 1]`` = W_l of shape (n_l, n_{l-1}), whose
        entry [i, j] is w^l_{i,j}, the weight from unit j of layer l-1 into unit i of layer l;
      - ``biases``: a list of L arrays, ``biases[l - 1]`` = b^l of shape (n_l,);
      - ``learning_rate``: a positive float;
      - ``activation``: one of ``ACTIVATIONS``, applied on EVERY layer, the output layer included.

    The loss is half the mean squared error over the output units:
    L = 1/2 * mean_i (a^L_i - t_i)^2. The update is plain SGD on every weight and bias:
    new = old - learning_rate * dL/d(old), with all gradients taken at the OLD parameters.

    Returns a ``BackpropStep`` whose lists hold one NumPy float64 array per layer (index 0 =
    layer 1, also when you compute the layers from the output down): the drives, the
    activations, the deltas dL/dd^l, and the updated weights and biases.
    The arguments are not modified. An unknown ``activation`` raises ``ValueError``.
    """
    # BEGIN SOLUTION: forward pass, backward pass from the output down, then the SGD step
    # HINT: Three passes: forward (keep each layer's input, drive and slope), backward from the
    #   output down to the first hidden layer, then the update. Change no parameter before every
    #   delta is known.
    # HINT: At the output, the loss's derivative with respect to each activation is the error
    #   (output minus target) divided by the number of outputs: the 1/2 cancels the square's 2.
    #   A delta is that times the activation's slope at the drive.
    # HINT: Going down a layer, the error that arrives is the transposed OLD weight matrix times the
    #   deltas above. A weight's gradient is the delta of the neuron it feeds times the
    #   activation it comes from; a bias's gradient is its neuron's delta.
    weights = [np.asarray(w, dtype=np.float64) for w in weights]
    biases = [np.asarray(b, dtype=np.float64) for b in biases]
    a = np.asarray(x, dtype=np.float64)  # (n_0,)

    # Forward: keep each layer's input and the activation's slope for the backward pass.
    inputs, drives, activations, slopes = [], [], [], []
    for w, b in zip(weights, biases, strict=True):
        d = w @ a + b  # (n_l,)
        inputs.append(a)  # a^{l-1}, (n_{l-1},)
        a, slope = activate(d, activation)  # a^l and f'(d^l), both (n_l,)
        drives.append(d)
        activations.append(a)
        slopes.append(slope)

    # Loss L = 1/2 * mean_i (a_i - t_i)^2, so dL/da_i = (a_i - t_i) / n_L.
    t = np.broadcast_to(np.asarray(target, dtype=np.float64), a.shape)  # (n_L,)
    grad_a = (a - t) / a.size  # dL/da^L, (n_L,)

    # Backward: from the output layer down to the first hidden layer.
    depth = len(weights)
    deltas, new_weights, new_biases = [None] * depth, [None] * depth, [None] * depth
    for layer in reversed(range(depth)):
        delta = grad_a * slopes[layer]  # dL/dd^l = dL/da^l * f'(d^l), (n_l,)
        grad_a = weights[layer].T @ delta  # dL/da^{l-1}, through the OLD weights, (n_{l-1},)
        # SGD step. The drive's slopes: dd^l_i/dw^l_{i,j} = a^{l-1}_j and dd^l_i/db^l_i = 1.
        new_weights[layer] = weights[layer] - learning_rate * np.outer(delta, inputs[layer])
        new_biases[layer] = biases[layer] - learning_rate * delta
        deltas[layer] = delta

    return BackpropStep(drives, activations, deltas, new_weights, new_biases)
    # END SOLUTION
