"""Question 16: Bahdanau (additive) attention.

The exam asked for a few sentences on how Bahdanau attention works, and on the weakness of the
classical sequence-to-sequence model that it removes. Here you build the attention layer, then
run the experiment that shows the weakness, and answer by choosing from given options.

The weakness
------------
A classical encoder-decoder reads the whole input with an RNN (the encoder) and hands the decoder
a single vector: the encoder's last state. Whatever the length of the input, everything the
decoder will ever know about it has to fit into that one fixed-size vector.

Bahdanau, Cho and Bengio (2015) keep every encoder state h_1, ..., h_T (the "annotations", the
*values*). Before the decoder emits an output, its state s (the *query*) scores every annotation
with a small network with one hidden layer of ``units`` tanh units:

    e_j   = v . tanh(s W_q + h_j W_k)        one score per input step j; no biases
    alpha = softmax(e_1, ..., e_T)           the attention weights: positive, summing to 1
    c     = sum_j alpha_j h_j                the context vector, read for this output step only

with W_q (query_dim, units), W_k (value_dim, units) and v (units,) learned with the rest of the
model. Padding steps (a mask entry False) must receive exactly zero weight: give them a score of
-1e9 before the softmax (exp(-1e9) is 0 in floating point).

Keras's own ``keras.layers.AdditiveAttention`` computes the same scores, with three differences:
it has no W_q and W_k (it adds query and key as they are, so the two must have the same size:
Bahdanau's attention is Keras's layer with Dense layers without bias applied to the query and to
the keys first, the values passed as they are); its ``scale`` vector is v (``use_scale=True``);
and its query is a sequence, (batch, Tq, dim), giving Tq context vectors at once, where this layer
takes one query per example. Its value mask is the second entry of a list ``mask=[None, mask]``.

What you implement
------------------
1. ``BahdanauAttention``: ``build``, ``call`` and ``get_config`` of a Keras layer.
2. ``PROBLEM`` and ``QUERY``: your answers, chosen from ``OPTIONS``.

The experiment (given code) trains two encoder-decoders on reversing long random sequences with
the same budget: one whose decoder sees only the encoder's last state, and one whose decoder also
reads a context vector through your layer at every output step. The query is the decoder's state
at each output step, as in Luong et al. (2015), so that all output steps run at once. Bahdanau et
al. query with the previous state and feed the context into the recurrence; that order needs a
Python loop over the output steps, trains several times slower here, and removes the same
bottleneck.

    python -m exercises.q16_attention --out DIR     # trains, then draws the weights of one example

Unlike most questions, this module imports Keras at the top: ``BahdanauAttention`` subclasses
``keras.layers.Layer``, which must exist when the class is defined.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __name__ == "__main__":  # the demo: Keras loads TensorFlow without its C++ start-up lines
    from kata.demo import import_tensorflow_quietly

    import_tensorflow_quietly()

import keras
import numpy as np
from keras import ops

MASKED_SCORE = -1e9
"""the score of a masked (padding) step: its weight after the softmax is exactly 0"""


@keras.saving.register_keras_serializable(package="kata_q16")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention: one context vector and one set of weights per query.

    ``BahdanauAttention(units)``; ``units`` is the size of the hidden layer of the score network.

    ``build(query_shape, values_shape)`` creates three weights, with these names and shapes, and
    no biases (``add_weight``, Glorot uniform):

    - ``w_query``: (query_dim, units), with query_dim = query_shape[-1];
    - ``w_values``: (value_dim, units), with value_dim = values_shape[-1];
    - ``v``: (units,).

    ``call(query, values, mask=None)``:

    - query: (batch, query_dim), e.g. the decoder's state;
    - values: (batch, time, value_dim), e.g. the encoder's states;
    - mask: None, or (batch, time) bool: True for a real step, False for padding.

    Returns ``(context, weights)``: context (batch, value_dim), weights (batch, time). Every row
    of weights sums to 1, and a masked step gets exactly 0 (every row must keep one step).
    Use ``keras.ops`` (not NumPy), so that the layer trains and runs inside ``tf.function``.

    ``get_config()`` returns the constructor's arguments, so that a saved model loads again.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True  # it takes a mask (and hands none on: see compute_mask)

    def compute_mask(self, inputs, mask=None):
        """No mask leaves the layer: the context vector has no time axis any more."""
        return None

    def build(self, query_shape, values_shape):
        # BEGIN SOLUTION: create w_query, w_values and v
        # HINT: Three weights, one `self.add_weight` call each, with the names and shapes the
        #   class's docstring lists. Each input's feature size is the last entry of its shape.
        # HINT: Give each call a name, a shape and the `"glorot_uniform"` initializer. The query and
        #   the values may have different feature sizes: the first matrix takes its rows from the
        #   query's shape, the second from the values' shape, and both have `self.units` columns. No
        #   biases.
        self.w_query = self.add_weight(
            name="w_query", shape=(query_shape[-1], self.units), initializer="glorot_uniform"
        )
        self.w_values = self.add_weight(
            name="w_values", shape=(values_shape[-1], self.units), initializer="glorot_uniform"
        )
        self.v = self.add_weight(name="v", shape=(self.units,), initializer="glorot_uniform")
        # END SOLUTION

    def call(self, query, values, mask=None):
        # BEGIN SOLUTION: score every step, softmax over time, weighted sum of the values
        # HINT: Follow the shapes: project the query once (units numbers per example) and every
        #   value step (units numbers per example and step); add them, take tanh, and reduce each
        #   step's units with v to one score per step: batch by time.
        # HINT: The projected query has no time axis: give it one of length one (`None` indexing or
        #   `ops.expand_dims`) so that it broadcasts over the steps. The dot with v is a sum over
        #   the last axis. The softmax runs over the time axis, not over the batch.
        # HINT: With a mask, swap the scores of the padding steps for `MASKED_SCORE` before the
        #   softmax (`ops.where` picks between two arrays by a boolean one). The context is the
        #   weighted sum of the values over time: the weights need a trailing axis to broadcast
        #   against the values.
        projected_query = ops.matmul(query, self.w_query)  # (batch, units)
        projected_values = ops.matmul(values, self.w_values)  # (batch, time, units)
        hidden = ops.tanh(projected_query[:, None, :] + projected_values)  # (batch, time, units)
        scores = ops.sum(hidden * self.v, axis=-1)  # (batch, time)
        if mask is not None:
            scores = ops.where(mask, scores, MASKED_SCORE)
        weights = ops.softmax(scores, axis=-1)  # (batch, time)
        context = ops.sum(weights[:, :, None] * values, axis=1)  # (batch, value_dim)
        return context, weights
        # END SOLUTION

    def get_config(self):
        # BEGIN SOLUTION: the constructor's arguments, on top of the base layer's config
        # HINT: Keras rebuilds a layer from its config by calling the class with it as keyword
        #   arguments: the config must hold every argument of `__init__`, besides the base layer's
        #   own ones.
        # HINT: Start from the dictionary that the parent's `get_config()` returns, add `units` to
        #   it, and return it.
        config = super().get_config()
        config.update(units=self.units)
        return config
        # END SOLUTION


# --------------------------------------------------------------------------------------------
# Your answers to the exam's question
# --------------------------------------------------------------------------------------------

OPTIONS = {
    "problem": {
        "fixed_size_bottleneck": "the decoder sees the whole input only through one fixed-size "
        "vector, the encoder's last state, however long the input is",
        "exploding_gradients": "gradients grow without bound through the recurrence",
        "exposure_bias": "the decoder is trained on the true previous outputs but must use its "
        "own when it generates",
        "unknown_words": "words missing from the vocabulary cannot be translated",
        "sequential_computation": "the RNN processes one time step after the other, so "
        "training cannot run the steps in parallel",
    },
    "query": {
        "decoder_state": "the decoder's hidden state at that output step (for Bahdanau et al., "
        "the state before the step): it knows what has been produced so far",
        "last_encoder_state": "the encoder's last state",
        "input_token_at_same_position": "the input token at the same position as the output",
        "all_encoder_states": "all encoder states, scored against each other",
    },
}
"""For each question, its options: the key is what you write as your answer."""

# BEGIN SOLUTION: the key of the option you choose, for each question of OPTIONS
# HINT: Read the module docstring's section on the weakness, then run the experiment: `python -m
#   exercises.q16_attention` trains the attention model, and `train_reverse(False)` beside
#   `train_reverse(True)` compares the two decoders on long inputs. Try a short `length` as well:
#   which option explains why the gap grows with the length?
# HINT: For the query, read `EncoderDecoder.call`: what is handed to the attention layer as its
#   first argument, and does it change from one output step to the next? A query that is the same at
#   every step would give every step the same context. Answer with a key of `OPTIONS`, not with the
#   option's text.
PROBLEM = "fixed_size_bottleneck"
QUERY = "decoder_state"
# STUB: PROBLEM = None  # a key of OPTIONS["problem"]
# STUB: QUERY = None  # a key of OPTIONS["query"]
# END SOLUTION


# --------------------------------------------------------------------------------------------
# The experiment (given code): reversing long sequences, with and without attention
# --------------------------------------------------------------------------------------------

START = 0
"""the token the decoder reads before its first output; data tokens are 1..symbols"""


def reverse_task(n, length, symbols, rng):
    """``n`` random sequences and their reversals, for a decoder trained with teacher forcing.

    Returns ``(inputs, decoder_inputs, targets)``, each (n, length) int32: inputs are tokens
    1..symbols, targets the inputs reversed, decoder_inputs the targets shifted right by one
    with START in front (at step i the decoder reads the true previous output).
    """
    inputs = rng.integers(1, symbols + 1, size=(n, length))
    targets = inputs[:, ::-1]
    decoder_inputs = np.concatenate([np.full((n, 1), START), targets[:, :-1]], axis=1)
    return inputs.astype(np.int32), decoder_inputs.astype(np.int32), targets.astype(np.int32)


class EncoderDecoder(keras.Model):
    """A GRU encoder-decoder; with ``attention=True`` the decoder also reads context vectors.

    Both variants start the decoder from the encoder's last state. With attention, the decoder's
    state at every output step queries the encoder's states through ``BahdanauAttention``, and
    the output layer sees the state and the context vector side by side.
    """

    def __init__(self, symbols, units=32, embedding=16, attention=True, **kwargs):
        super().__init__(**kwargs)
        self.encoder_embedding = keras.layers.Embedding(symbols + 1, embedding)
        self.decoder_embedding = keras.layers.Embedding(symbols + 1, embedding)
        self.encoder = keras.layers.GRU(units, return_sequences=True, return_state=True)
        self.decoder = keras.layers.GRU(units, return_sequences=True)
        self.attention = BahdanauAttention(units) if attention else None
        self.readout = keras.layers.Dense(symbols + 1)

    def call(self, inputs, decoder_inputs, return_weights=False):
        annotations, last = self.encoder(self.encoder_embedding(inputs))  # (b, T, u), (b, u)
        states = self.decoder(self.decoder_embedding(decoder_inputs), initial_state=last)
        if self.attention is None:
            return self.readout(states)  # (b, T_out, symbols + 1)
        steps, units = states.shape[1], states.shape[2]
        queries = ops.reshape(states, (-1, units))  # (b * T_out, u): one query per output step
        values = ops.repeat(annotations, steps, axis=0)  # (b * T_out, T, u)
        context, weights = self.attention(queries, values)
        context = ops.reshape(context, (-1, steps, units))  # (b, T_out, u)
        logits = self.readout(ops.concatenate([states, context], axis=-1))
        if return_weights:
            return logits, ops.reshape(weights, (-1, steps, weights.shape[-1]))
        return logits


@dataclass(frozen=True)
class ReverseResult:
    """What ``train_reverse`` returns."""

    accuracy: float
    """share of the output tokens of fresh test sequences predicted right (teacher forcing)"""
    parameters: int
    """trainable parameters of the model"""
    model: EncoderDecoder
    """the trained model"""


def train_reverse(
    attention, seed=0, steps=300, length=20, symbols=8, units=32, batch=64, learning_rate=0.01,
    test_size=1000, compiled=True, progress=False,
):  # fmt: skip
    """Train one encoder-decoder on reversing sequences of ``length``; return a ReverseResult.

    Adam on the cross-entropy of every output token, ``steps`` batches of fresh random data;
    the accuracy is measured on ``test_size`` other sequences. ``compiled=False`` runs eagerly
    (no tracing: quicker for a handful of steps).
    """
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = EncoderDecoder(symbols, units=units, attention=attention)
    optimizer = keras.optimizers.Adam(learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(inputs, decoder_inputs, targets):
        with tf.GradientTape() as tape:
            loss = loss_fn(targets, model(inputs, decoder_inputs))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    if compiled:
        train_step = tf.function(train_step)
    name = "with attention" if attention else "fixed context"
    start = time.time()
    for step in range(steps):
        loss = train_step(*reverse_task(batch, length, symbols, rng))
        if progress and (step + 1) % 50 == 0:
            print(
                f"  {name}: step {step + 1}/{steps}, loss {float(loss):.3f}, "
                f"{time.time() - start:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    inputs, decoder_inputs, targets = reverse_task(
        test_size, length, symbols, np.random.default_rng([seed, 1])
    )
    predicted = np.argmax(np.asarray(model(inputs, decoder_inputs)), axis=-1)
    return ReverseResult(float(np.mean(predicted == targets)), model.count_params(), model)


def attention_map(model, length=20, symbols=8, seed=0):
    """The attention weights of one fresh example: (output steps, input steps), and its inputs."""
    inputs, decoder_inputs, _ = reverse_task(1, length, symbols, np.random.default_rng([seed, 2]))
    _, weights = model(inputs, decoder_inputs, return_weights=True)
    return np.asarray(weights)[0], inputs[0]


def draw_attention(weights, inputs, path):
    """Write the weights (output steps, input steps) as a heat map to the PNG ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kata.demo import save_figure

    fig, ax = plt.subplots(figsize=(6, 5.5), layout="tight")
    image = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(inputs)), [str(t) for t in inputs], fontsize=7)
    ax.set_yticks(range(len(inputs)), [str(t) for t in inputs[::-1]], fontsize=7)
    ax.set_xlabel("input token (encoder step)")
    ax.set_ylabel("output token (decoder step)")
    ax.set_title("attention weights when reversing a sequence")
    fig.colorbar(image, ax=ax, label="weight")
    save_figure(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m exercises.q16_attention",
        description="Train the attention model on reversing sequences; draw one example's "
        "attention weights as a heat map.",
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the PNG")
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    parser.add_argument("--length", type=int, default=20, help="length of the sequences")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = train_reverse(
        True,
        seed=args.seed,
        steps=args.steps,
        length=args.length,
        compiled=args.steps > 10,
        progress=True,
    )
    print(f"test accuracy after {args.steps} steps: {result.accuracy:.3f}")
    weights, inputs = attention_map(result.model, length=args.length, seed=args.seed)
    path = args.out / "q16_attention_weights.png"
    draw_attention(weights, inputs, path)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    from kata.demo import run  # a function not written yet: two lines, not a traceback

    run(main)
