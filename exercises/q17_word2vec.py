"""Question 17: word embeddings (skip-gram and CBOW) and negative sampling.

The exam asked what makes training CBOW and skip-gram expensive, and how negative sampling makes
it cheaper. Here you write the pieces of word2vec that answer it, count the cost, and train
embeddings on a generated corpus.

Training pairs
--------------
Both models slide a window over a sentence. With ``window = 2``, the centre word at position i
has the context words at positions i-2, i-1, i+1 and i+2 (those that exist).

* Skip-gram predicts each context word from the centre word: one (centre, context) pair per
  context word.
* CBOW (continuous bag of words) predicts the centre word from all of its context words at once:
  one example per position, the context words as input and the centre word as the target.

The cost of a softmax
---------------------
Each word w has an input vector v_w (the embedding) and an output vector u_w. The full model
predicts a context word o from a centre word c with a softmax over the whole vocabulary V:

    p(o | c) = exp(u_o . v_c) / sum over all w in V of exp(u_w . v_c)

so one training pair needs |V| dot products (and updates |V| output vectors), for every pair in
the corpus: with a vocabulary of a million words, a million dot products per pair.

Negative sampling
-----------------
Negative sampling replaces the softmax with k + 1 binary decisions: is this a real (centre,
context) pair or not? The true context word should be told apart from k "negative" words drawn at
random from the unigram distribution raised to the power 3/4 (frequent words are drawn less often
than their frequency, rare words more often):

    loss = -log sigmoid(u_o . v_c) - sum over the k negatives n of log sigmoid(-u_n . v_c)

which costs k + 1 dot products per pair, whatever the size of the vocabulary.

What you implement
------------------
1. ``skipgram_pairs`` and ``cbow_examples``: the training data of a sentence;
2. ``negative_sampling_distribution`` and ``sample_negatives``: the noise distribution;
3. ``negative_sampling_loss``, in TensorFlow (it is trained with ``tf.GradientTape``);
4. ``softmax_dot_products`` and ``negative_sampling_dot_products``: the cost of one pair;
5. ``PROBLEM`` and ``REMEDY``: your answers to the exam's question, chosen from ``OPTIONS``.

The experiment (given code, ``train_skipgram``) trains skip-gram embeddings with your pieces on a
corpus in which words of different topics never share a sentence, and measures whether words that
occur together end up with similar vectors.

    python -m exercises.q17_word2vec --out DIR     # trains, then draws the embeddings in 2-D
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

POWER = 0.75
"""the exponent of the unigram counts in the noise distribution"""


def skipgram_pairs(tokens, window):
    """Return the skip-gram training pairs of one sentence.

    tokens: a 1-D sequence of word ids; window: how many words on each side are context (>= 1).
    Returns an int64 array of shape (pairs, 2): one row (centre, context) for every position i
    and every other position j with |i - j| <= window inside the sentence. Rows are ordered by
    the centre's position, then by the context's position (left to right). A sentence of one
    word gives an array of shape (0, 2).
    """
    raise NotImplementedError("pair every word with each word at most `window` positions away")


def cbow_examples(tokens, window):
    """Return the CBOW training examples of one sentence: ``(contexts, targets)``.

    tokens: a 1-D sequence of word ids; window: context words on each side (>= 1).
    Only positions with a full window on both sides give an example (no padding):
    contexts is an int64 array of shape (examples, 2 * window), the words around the target from
    left to right (the target itself left out); targets is an int64 array of shape (examples,).
    A sentence shorter than 2 * window + 1 gives shapes (0, 2 * window) and (0,).
    """
    raise NotImplementedError("every full window, split into its centre and the words around it")


def negative_sampling_distribution(counts, power=POWER):
    """Return the probability of drawing each word as a negative sample.

    counts: (vocabulary,) how often each word occurs in the corpus (non-negative). Returns a
    float64 array of the same shape, proportional to counts ** power and summing to 1.
    """
    raise NotImplementedError("counts to the power, normalised")


def sample_negatives(probabilities, size, rng):
    """Draw word ids at random, each with its probability.

    probabilities: (vocabulary,) summing to 1; size: an int or a shape tuple; rng: a
    ``numpy.random.Generator``, the only source of randomness (so that a seed reproduces the
    draws). Returns an int64 array of shape ``size``. The true context word is not excluded
    (in a real vocabulary it is drawn rarely).
    """
    raise NotImplementedError("draw from the categorical distribution with rng")


def negative_sampling_loss(center, context, negatives):
    """Return the negative-sampling loss of a batch, averaged over the batch (TensorFlow).

    center: (batch, dim), the input vectors v_c of the centre words; context: (batch, dim), the
    output vectors u_o of the true context words; negatives: (batch, k, dim), the output vectors
    u_n of k negative words per pair. Per pair the loss is
    -log sigmoid(u_o . v_c) - sum over the k negatives of log sigmoid(-u_n . v_c).

    Returns a scalar float32 tensor, differentiable with respect to all three inputs. It must
    stay finite for large dot products (a sigmoid that rounds to 0 has log -inf).
    """
    raise NotImplementedError("sum the k + 1 log-sigmoid terms, average over the batch")


def softmax_dot_products(vocabulary_size):
    """Return how many dot products the full softmax needs for one training pair."""
    raise NotImplementedError("one score per word of the vocabulary")


def negative_sampling_dot_products(negatives):
    """Return how many dot products negative sampling needs for one pair with k negatives."""
    raise NotImplementedError("the true context word's score and one per negative")


# --------------------------------------------------------------------------------------------
# Your answers to the exam's question
# --------------------------------------------------------------------------------------------

OPTIONS = {
    "problem": {
        "softmax_over_vocabulary": "every training pair needs a score for every word of the "
        "vocabulary: the softmax's denominator sums over all of them, and its gradient "
        "reaches every output vector",
        "embedding_lookup": "looking up the vector of the input word",
        "vanishing_gradients": "gradients vanish through the network's many layers",
        "too_many_training_pairs": "a large corpus gives many training pairs",
    },
    "remedy": {
        "few_binary_decisions": "replace the softmax with k + 1 logistic regressions: tell the "
        "true context word apart from k words drawn from the unigram distribution to the 3/4",
        "binary_tree": "arrange the vocabulary in a binary tree and predict the path to the word",
        "drop_frequent_words": "discard some occurrences of frequent words from the corpus",
        "smaller_vocabulary": "keep only the most frequent words in the vocabulary",
    },
}
"""For each question, its options: the key is what you write as your answer."""

PROBLEM = None  # a key of OPTIONS["problem"]
REMEDY = None  # a key of OPTIONS["remedy"]


# --------------------------------------------------------------------------------------------
# The experiment (given code): embeddings from a corpus of topics
# --------------------------------------------------------------------------------------------


def topic_corpus(sentences, rng, topics=4, words_per_topic=6, length=8):
    """A generated corpus: ``sentences`` lists of word ids, each drawn from one topic only.

    Word ``t * words_per_topic + r`` is the r-th word of topic t. A sentence picks a topic at
    random, then ``length`` words of it, the r-th word with a weight 1 / (r + 1) (a few frequent
    words, more rare ones). Words of different topics never share a sentence.
    """
    weights = 1.0 / np.arange(1, words_per_topic + 1)
    weights /= weights.sum()
    corpus = []
    for topic in rng.integers(topics, size=sentences):
        ranks = rng.choice(words_per_topic, size=length, p=weights)
        corpus.append(topic * words_per_topic + ranks)
    return corpus


@dataclass(frozen=True)
class Embeddings:
    """What ``train_skipgram`` returns."""

    vectors: np.ndarray
    """(vocabulary, dim): the trained input vectors, one row per word"""
    topic: np.ndarray
    """(vocabulary,): the topic of each word"""

    def cosine_similarities(self):
        """(vocabulary, vocabulary): the cosine similarity of every pair of words."""
        unit = self.vectors / np.linalg.norm(self.vectors, axis=1, keepdims=True)
        return unit @ unit.T

    def similarity_gaps(self):
        """(vocabulary,): per word, the mean similarity to the other words of its topic minus
        the largest similarity to a word of another topic (positive: its own topic is closer)."""
        similarity = self.cosine_similarities()
        same = self.topic[:, None] == self.topic[None, :]
        np.fill_diagonal(same, False)
        other = self.topic[:, None] != self.topic[None, :]
        within = np.where(same, similarity, 0).sum(axis=1) / same.sum(axis=1)
        across = np.where(other, similarity, -np.inf).max(axis=1)
        return within - across


def train_skipgram(
    seed=0, steps=300, sentences=400, topics=4, words_per_topic=6, window=2, negatives=5,
    dim=8, batch=256, learning_rate=0.05,
):  # fmt: skip
    """Train skip-gram embeddings with negative sampling on a topic corpus; return Embeddings.

    Builds the pairs with ``skipgram_pairs`` (sentence by sentence), the noise distribution from
    the corpus's counts, and minimises ``negative_sampling_loss`` with Adam on random batches of
    pairs, ``negatives`` fresh negatives per pair drawn with ``sample_negatives``.
    """
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    corpus = topic_corpus(sentences, rng, topics, words_per_topic)
    vocabulary = topics * words_per_topic
    pairs = np.concatenate([skipgram_pairs(sentence, window) for sentence in corpus])
    counts = np.bincount(np.concatenate(corpus), minlength=vocabulary)
    probabilities = negative_sampling_distribution(counts)
    # word2vec's initialisation: small random input vectors, zero output vectors
    w_in = tf.Variable(rng.uniform(-0.5, 0.5, (vocabulary, dim)) / dim, dtype=tf.float32)
    w_out = tf.Variable(tf.zeros((vocabulary, dim)))
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function
    def train_step(centers, contexts, noise):
        with tf.GradientTape() as tape:
            loss = negative_sampling_loss(
                tf.gather(w_in, centers), tf.gather(w_out, contexts), tf.gather(w_out, noise)
            )
        gradients = tape.gradient(loss, [w_in, w_out])
        optimizer.apply_gradients(zip(gradients, [w_in, w_out], strict=True))
        return loss

    for _ in range(steps):
        rows = pairs[rng.integers(len(pairs), size=batch)]
        noise = sample_negatives(probabilities, (batch, negatives), rng)
        train_step(rows[:, 0], rows[:, 1], noise)
    topic = np.arange(vocabulary) // words_per_topic
    return Embeddings(w_in.numpy(), topic)


def draw_embeddings(embeddings, path):
    """Write a 2-D projection (the first two principal components) of the vectors to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kata.demo import save_figure

    centred = embeddings.vectors - embeddings.vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    points = centred @ components[:2].T  # (vocabulary, 2)
    fig, ax = plt.subplots(figsize=(6, 6), layout="tight")
    colours = plt.get_cmap("tab10")
    for word, (x, y) in enumerate(points):
        topic = int(embeddings.topic[word])
        ax.scatter(x, y, color=colours(topic % 10), s=40)
        ax.annotate(
            f"t{topic}w{word}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    ax.set_title("skip-gram embeddings, first two principal components\n(colour: topic)")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    save_figure(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m exercises.q17_word2vec",
        description="Train skip-gram embeddings on a topic corpus and draw them in 2-D.",
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the PNG")
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    embeddings = train_skipgram(seed=args.seed, steps=args.steps)
    gaps = embeddings.similarity_gaps()
    print(f"words closer to their own topic than to any other: {np.sum(gaps > 0)}/{len(gaps)}")
    path = args.out / "q17_embeddings.png"
    draw_embeddings(embeddings, path)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    from kata.demo import run  # a function not written yet: two lines, not a traceback

    run(main)
