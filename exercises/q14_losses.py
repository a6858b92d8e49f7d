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

AUTOENCODER_LOSS = None  # one key of AUTOENCODER_LOSS_OPTIONS
GAN_LOSS = None  # one key of GAN_LOSS_OPTIONS
GAN_ADVANTAGE = None  # one key of GAN_ADVANTAGE_OPTIONS


def reconstruction_loss(inputs, reconstructions):
    """Return the mean squared error of each reconstruction: a float32 tensor of shape (batch,).

    ``inputs`` and ``reconstructions`` have the same shape (batch, ...), e.g. (batch, 8, 8)
    images or (batch, features) vectors. For each example, average the squared differences
    over all of its values (every axis but the first).
    """
    raise NotImplementedError("squared differences, averaged over all but the batch axis")


def discriminator_loss(real_logits, fake_logits):
    """Return the discriminator's loss, a float32 scalar tensor.

    ``real_logits`` are the discriminator's outputs (logits: before any sigmoid) for a batch of
    real samples, ``fake_logits`` for a batch of generated ones; shape (batch, 1) or (batch,).
    The loss is the binary cross-entropy of the real samples with label 1 plus that of the
    generated samples with label 0, each averaged over its batch. Compute it from the logits in
    a numerically stable way: a logit of 100 or -100 must give a finite loss.
    """
    raise NotImplementedError("cross-entropy: label 1 for real logits plus label 0 for fake")


def generator_loss(fake_logits):
    """Return the generator's non-saturating loss, a float32 scalar tensor.

    ``fake_logits`` are the discriminator's logits for a batch of generated samples, shape
    (batch, 1) or (batch,). The generator wants them labelled real: the loss is the binary
    cross-entropy of the generated samples with label 1, averaged over the batch (not the
    minimax form log(1 - D(G(z))), whose gradient vanishes when the discriminator wins).
    Stable from logits, like ``discriminator_loss``.
    """
    raise NotImplementedError("cross-entropy of the fake logits with label 1")


def best_squared_error_prediction(targets):
    """Return the one prediction with the lowest mean ``reconstruction_loss`` over ``targets``.

    ``targets`` is a float32 array of shape (n, ...), n possible right answers for the same
    input. Return a float32 NumPy array of shape ``targets.shape[1:]``: the single prediction p
    that minimises the mean over i of the squared error between p and targets[i]. Work it out
    on paper first (set the derivative to zero); the tests check it with gradient descent.
    """
    raise NotImplementedError("the squared error's minimiser: set its derivative to zero")


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
