"""Question 14: what the loss? (5 points)

The exam asked, in a few sentences each, what the loss of a generative adversarial network (GAN)
is, what the loss of an autoencoder is, and what the GAN loss does better when the goal is to
generate images.

Here the two losses become code, and the "better" becomes an experiment you can run:

* ``reconstruction_loss``: the autoencoder's loss, the mean squared error between each input and
  its reconstruction;
* ``discriminator_loss`` and ``generator_loss``: the GAN's two losses, computed from the
  discriminator's logits (the generator's in its common non-saturating form), equal to Keras's
  binary cross-entropy with ``from_logits=True``;
* ``best_squared_error_prediction``: the one image that minimises the squared error against a
  set of targets.

The experiment. ``make_targets`` draws 8x8 images of a vertical bar that stands either in
column 2 or in column 5: two modes, like a scene whose next frame may go either way. A model
trained with a squared error that must produce one image for such a target does best with the
average of the two modes, two half-bright bars: an image that looks like neither mode (the
blur of autoencoders). A discriminator, trained with your ``discriminator_loss`` by the given
``train_discriminator``, tells that average apart from real images at once, and your
``generator_loss`` then scores it badly: an adversarial loss rewards looking real, not being
close to the average. (No linear discriminator could do it: the average of real images lies
between them. The discriminator's hidden layer can.)

Then answer the exam's three free-text parts by choosing from the given options:
``AUTOENCODER_LOSS``, ``GAN_LOSS`` and ``GAN_ADVANTAGE`` (each one key of its ``..._OPTIONS``).
"""

from __future__ import annotations

import numpy as np

AUTOENCODER_LOSS_OPTIONS = {
    "reconstruction": "a distance between each input and the network's reconstruction of it, "
    "such as the mean squared error over the pixels: the input is its own target",
    "labels": "the cross-entropy between the network's output and the class label of the input",
    "adversarial": "the verdict of a second network on whether the output looks like real data",
    "latent_prior": "how far the codes of the inputs are from a standard normal distribution",
}
GAN_LOSS_OPTIONS = {
    "two_player": "a discriminator is trained with binary cross-entropy to label real samples 1 "
    "and generated samples 0, and the generator is trained to make the discriminator label its "
    "samples 1",
    "pixel_distance": "every generated image is compared pixel by pixel with a training image",
    "shared_minimum": "the generator and the discriminator minimise one and the same loss",
    "likelihood": "the generator maximises the likelihood of the training data under the "
    "distribution of its samples",
}
GAN_ADVANTAGE_OPTIONS = {
    "sharp_samples": "the loss is learned and judges whether a sample looks real, not how far it "
    "is from one target: the average of several plausible images is rejected, so generated "
    "images stay sharp",
    "stable_training": "GAN training is more stable and converges more reliably than training an "
    "autoencoder",
    "all_modes": "the generator is guaranteed to produce every kind of image the data contains",
    "likelihood": "a GAN gives the likelihood of every image it generates, so models are easy to "
    "compare",
}

# BEGIN SOLUTION: choose one key of each ..._OPTIONS dict
# HINT: Let your own code answer: the options describe losses, and you implement the two families
#   below. Read what `reconstruction_loss` compares, and what `discriminator_loss` and
#   `generator_loss` compare, before choosing.
# HINT: For the autoencoder ask: what is the target of an autoencoder's output? For the GAN ask: how
#   many networks are trained, with which labels, and do they minimise one and the same number?
#   Check each option against the code you wrote.
# HINT: For the advantage, run the two experiments with -s and read what they measure:
#   `pytest exercises/q14_losses.py::test_squared_error_prefers_a_blur_of_neither_mode -s`, then
#   `test_discriminator_rejects_the_blur` the same way. Then ask of each option whether it is a
#   claim these experiments speak to, and whether what they printed supports it.
AUTOENCODER_LOSS = "reconstruction"
GAN_LOSS = "two_player"
GAN_ADVANTAGE = "sharp_samples"
# STUB: AUTOENCODER_LOSS = None  # one key of AUTOENCODER_LOSS_OPTIONS
# STUB: GAN_LOSS = None  # one key of GAN_LOSS_OPTIONS
# STUB: GAN_ADVANTAGE = None  # one key of GAN_ADVANTAGE_OPTIONS
# END SOLUTION


def reconstruction_loss(inputs, reconstructions):
    """Return the mean squared error of each reconstruction: a float32 tensor of shape (batch,).

    ``inputs`` and ``reconstructions`` have the same shape (batch, ...), e.g. (batch, 8, 8)
    images or (batch, features) vectors. For each example, average the squared differences
    over all of its values (every axis but the first).
    """
    # BEGIN SOLUTION: squared differences, averaged over all but the batch axis
    # HINT: One number per example: the mean of the squared differences over all of that example's
    #   values, whatever shape the examples have.
    # HINT: Trap: the examples may be vectors or images, so a reduction over axis 1 alone is not
    #   enough. Either reshape each example into one row (keep the batch axis, -1 for the rest) or
    #   reduce over every axis but the first. Convert both inputs to float32 tensors first.
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs, tf.float32)
    reconstructions = tf.convert_to_tensor(reconstructions, tf.float32)
    squared = tf.square(inputs - reconstructions)  # (batch, ...)
    return tf.reduce_mean(tf.reshape(squared, (tf.shape(squared)[0], -1)), axis=1)  # (batch,)
    # END SOLUTION


def discriminator_loss(real_logits, fake_logits):
    """Return the discriminator's loss, a float32 scalar tensor.

    ``real_logits`` are the discriminator's outputs (logits: before any sigmoid) for a batch of
    real samples, ``fake_logits`` for a batch of generated ones; shape (batch, 1) or (batch,).
    The loss is the binary cross-entropy of the real samples with label 1 plus that of the
    generated samples with label 0, each averaged over its batch. Compute it from the logits in
    a numerically stable way: a logit of 100 or -100 must give a finite loss.
    """
    # BEGIN SOLUTION: cross-entropy: label 1 for real logits plus label 0 for fake
    # HINT: Two binary cross-entropies: real samples should be labelled 1, generated ones 0; average
    #   each over its own batch and add the two averages.
    # HINT: Trap: taking the sigmoid first and then its logarithm gives log(0) = -inf for a
    #   confident logit. Stay with the logits: minus the log of the sigmoid of a logit, and minus
    #   the log of one minus that sigmoid, can each be written as softplus of plus or minus the
    #   logit (work out which), and TensorFlow's `softplus` (in `tf.nn`) is stable.
    # HINT: `tf.nn.sigmoid_cross_entropy_with_logits` with labels of ones or zeros is an
    #   alternative; either way, return a float32 scalar.
    import tensorflow as tf

    real_logits = tf.convert_to_tensor(real_logits, tf.float32)
    fake_logits = tf.convert_to_tensor(fake_logits, tf.float32)
    # -log(sigmoid(l)) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l), stable for any l
    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(
        tf.nn.softplus(fake_logits)
    )
    # END SOLUTION


def generator_loss(fake_logits):
    """Return the generator's non-saturating loss, a float32 scalar tensor.

    ``fake_logits`` are the discriminator's logits for a batch of generated samples, shape
    (batch, 1) or (batch,). The generator wants them labelled real: the loss is the binary
    cross-entropy of the generated samples with label 1, averaged over the batch (not the
    minimax form log(1 - D(G(z))), whose gradient vanishes when the discriminator wins).
    Stable from logits, like ``discriminator_loss``.
    """
    # BEGIN SOLUTION: cross-entropy of the fake logits with label 1
    # HINT: The generator wants its samples called real: the loss is the cross-entropy of the fake
    #   logits with label 1, averaged over the batch.
    # HINT: It is the 'real' half of your `discriminator_loss`, applied to the fake logits: the same
    #   stable softplus form. Do not use the minimax form (minus the discriminator's loss on the
    #   fakes): its gradient vanishes when the discriminator is confident.
    import tensorflow as tf

    fake_logits = tf.convert_to_tensor(fake_logits, tf.float32)
    return tf.reduce_mean(tf.nn.softplus(-fake_logits))  # -log(sigmoid(l)), averaged
    # END SOLUTION


def best_squared_error_prediction(targets):
    """Return the one prediction with the lowest mean ``reconstruction_loss`` over ``targets``.

    ``targets`` is a float32 array of shape (n, ...), n possible right answers for the same
    input. Return a float32 NumPy array of shape ``targets.shape[1:]``: the single prediction p
    that minimises the mean over i of the squared error between p and targets[i]. Work it out
    on paper first (set the derivative to zero); the tests check it with gradient descent.
    """
    # BEGIN SOLUTION: the squared error's minimiser: set its derivative to zero
    # HINT: Each pixel is independent: minimise, for one pixel, the mean over i of (p - t_i)
    #   squared.
    # HINT: Set the derivative with respect to p to zero and solve for p; you get a familiar
    #   statistic of the targets. Compute it for every pixel at once with one NumPy reduction over
    #   the first axis, and return float32.
    return np.asarray(targets, np.float32).mean(axis=0)  # every pixel: the mean of its targets
    # END SOLUTION


# --------------------------------------------------------------------------------------------
# Given code: the two-mode targets and a small discriminator trained with your loss.
# --------------------------------------------------------------------------------------------

BAR_COLUMNS = (2, 5)
"""The two modes: the column of the bright vertical bar."""
NOISE = 0.05
"""Standard deviation of the pixel noise on every image."""


def make_targets(n, seed=0):
    """``n`` images (n, 8, 8) float32: a bar of 1s in column 2 or 5 (at random), plus noise."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 8, 8), np.float32)
    columns = np.asarray(BAR_COLUMNS)[rng.integers(0, 2, size=n)]  # (n,)
    images[np.arange(n), :, columns] = 1.0
    return (images + NOISE * rng.standard_normal(images.shape)).astype(np.float32)


def with_noise(image, n, seed=0):
    """``n`` copies of one image (8, 8), each with the same pixel noise as ``make_targets``."""
    rng = np.random.default_rng(seed)
    return (image[None] + NOISE * rng.standard_normal((n, *image.shape))).astype(np.float32)


def build_discriminator(hidden=16):
    """A small discriminator: 8x8 image -> flatten -> Dense(hidden, relu) -> Dense(1), a logit."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(8, 8)),
            keras.layers.Flatten(),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(1),
        ]
    )


def train_discriminator(real, fake, steps=200, learning_rate=0.1, seed=0):
    """Train ``build_discriminator()`` with your ``discriminator_loss`` on all of ``real`` and
    ``fake`` (arrays (n, 8, 8)) at every step, with plain SGD; return it."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    discriminator = build_discriminator()
    optimizer = keras.optimizers.SGD(learning_rate)
    real, fake = tf.constant(real, tf.float32), tf.constant(fake, tf.float32)

    @tf.function(autograph=False)  # an error in your loss then points at your line
    def step():
        with tf.GradientTape() as tape:
            loss = discriminator_loss(
                discriminator(real, training=True), discriminator(fake, training=True)
            )
        weights = discriminator.trainable_weights
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))
        return loss

    for _ in range(steps):
        step()
    return discriminator
