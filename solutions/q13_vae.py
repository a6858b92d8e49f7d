"""Question 13: variational autoencoders (3 points, true/false; a wrong answer costs its share).

The exam gave six statements about variational autoencoders (VAEs), to be marked true or false.
In our words, each keeping the exam's meaning:

1. ``decoder_outputs_gaussian_parameters``: a VAE's decoder is trained to produce the parameters
   (a mean and a variance) of a multivariate Gaussian distribution.
2. ``fixed_code_always_decodes_the_same``: for one fixed point of the latent space, the decoder
   produces the same sample every time.
3. ``kl_compares_latent_distribution_with_standard_normal``: the Kullback-Leibler divergence is
   used to measure how far the latent distribution (the Gaussian the encoder describes) is from
   the standard normal distribution.
4. ``epsilon_is_the_error_rate``: the epsilon that the reparameterisation brings into the model
   expresses the model's error rate.
5. ``reparameterisation_sets_standard_normal``: setting the latent distribution's parameters to
   those of the standard normal (mean 0, log-variance 0) is what is called the
   "reparameterisation trick".
6. ``dense_latent_space_gives_meaningful_samples``: because the VAE learns a densely packed latent
   space, it can generate meaningful samples.

Do not guess: build a small VAE and let its behaviour answer. You write

* ``reparameterize``: a latent sample z from the encoder's mean and log-variance;
* ``kl_divergence``: the KL divergence of a diagonal Gaussian from the standard normal, in closed
  form (the tests check it against a Monte Carlo estimate);
* ``reconstruction_loss``: how badly a decoded image matches its input;
* ``build_encoder`` and ``build_decoder``: two small Keras models;
* ``vae_train_step``: one training step, the body of the VAE's custom ``train_step``: encode,
  sample, decode, loss = reconstruction + KL, one gradient step.

The given code builds the VAE (``make_vae``, a ``keras.Model`` whose ``train_step`` calls yours),
trains it for a few hundred steps on generated 8x8 images of a soft blob (``make_images``,
``train_vae``), and does the same with the KL term switched off (``kl_weight=0``: an autoencoder
with the same architecture, the same noise and the same budget). The tests then run one
experiment per statement. When they pass, answer in ``ANSWERS`` below.

``python -m exercises.q13_vae --out DIR`` trains both models and draws decoded random draws from
N(0, I) and the latent means of the training images: look at the two side by side.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

# BEGIN SOLUTION: answer each statement with True or False
# HINT: Do not mark anything yet: build the VAE first. Each statement has an experiment test in
#   tests/test_q13_vae.py (its `EXPERIMENT` dict names them); when your functions pass, run those
#   tests with `-s` to see what they print, and `python -m exercises.q13_vae --out DIR` for the
#   pictures.
# HINT: Where to look: (1) what do `build_encoder` and `build_decoder` each output? (2) decode the
#   same codes several times and compare; (3) what does `kl_divergence` compare, and what does the
#   KL term do to the trained encodings? (4) and (5) read `reparameterize`: where does eps come
#   from, and what does the trick make possible? (6) look at the decoded draws from N(0, I) with and
#   without the KL term.
ANSWERS = {
    "decoder_outputs_gaussian_parameters": False,
    "fixed_code_always_decodes_the_same": True,
    "kl_compares_latent_distribution_with_standard_normal": True,
    "epsilon_is_the_error_rate": False,
    "reparameterisation_sets_standard_normal": False,
    "dense_latent_space_gives_meaningful_samples": True,
}
# STUB: ANSWERS = {
# STUB:     "decoder_outputs_gaussian_parameters": None,
# STUB:     "fixed_code_always_decodes_the_same": None,
# STUB:     "kl_compares_latent_distribution_with_standard_normal": None,
# STUB:     "epsilon_is_the_error_rate": None,
# STUB:     "reparameterisation_sets_standard_normal": None,
# STUB:     "dense_latent_space_gives_meaningful_samples": None,
# STUB: }
# END SOLUTION

IMAGE_SIZE = 8
"""The images are IMAGE_SIZE x IMAGE_SIZE pixels."""
LATENT_DIM = 4
"""Size of the latent space. The images vary in two ways only (the blob's row and column)."""
HIDDEN = 64
"""Units of the one hidden layer of the encoder and of the decoder."""


def make_images(n, seed=0):
    """Return ``n`` generated images, float32 of shape (n, 8, 8) with values in [0, 1].

    Each image shows one soft round blob (a Gaussian bump of width 1 pixel, peak value 1) centred
    at a random point of [1, 6] x [1, 6]: a data set that varies along two directions only.
    """
    rng = np.random.default_rng(seed)
    centres = rng.uniform(1.0, IMAGE_SIZE - 2.0, size=(n, 2))  # (n, 2): row, column
    grid = np.arange(IMAGE_SIZE, dtype=np.float64)  # (8,)
    rows = np.exp(-0.5 * (grid[None, :] - centres[:, :1]) ** 2)  # (n, 8)
    cols = np.exp(-0.5 * (grid[None, :] - centres[:, 1:]) ** 2)  # (n, 8)
    return (rows[:, :, None] * cols[:, None, :]).astype(np.float32)  # (n, 8, 8)


def reparameterize(mean, logvar, eps=None):
    """Return a latent sample z with the reparameterisation trick.

    ``mean`` and ``logvar`` are float32 tensors of shape (batch, latent): the mean and the log of
    the variance of the Gaussian the encoder describes for each input. ``eps`` has the same
    shape; when it is None, draw it from the standard normal distribution N(0, I) with
    TensorFlow's random ops (so that ``keras.utils.set_random_seed`` makes runs repeatable).

    z = mean + standard deviation * eps, where the standard deviation is computed from logvar.
    All the randomness is in eps, so z is a differentiable function of mean and logvar.
    Returns a float32 tensor of shape (batch, latent).
    """
    # BEGIN SOLUTION: shift and scale standard normal noise by the encoder's mean and std
    # HINT: z is the mean plus the standard deviation times the noise eps; all the randomness is in
    #   eps, so z stays a differentiable function of the mean and logvar.
    # HINT: logvar is the log of the VARIANCE: undo the log, then take the square root (one `tf.exp`
    #   of a multiple of logvar does both). Neither exp(logvar) nor logvar itself is the standard
    #   deviation.
    # HINT: Convert the inputs to float32 tensors. When eps is None, draw it from TensorFlow's
    #   normal sampler (in `tf.random`) in the mean's shape, not from NumPy, so that Keras's seed
    #   makes runs repeatable.
    import tensorflow as tf

    mean = tf.convert_to_tensor(mean, tf.float32)
    logvar = tf.convert_to_tensor(logvar, tf.float32)
    if eps is None:
        eps = tf.random.normal(tf.shape(mean))  # (batch, latent), N(0, I)
    eps = tf.convert_to_tensor(eps, tf.float32)
    return mean + tf.exp(0.5 * logvar) * eps  # std = sqrt(exp(logvar)) = exp(logvar / 2)
    # END SOLUTION


def kl_divergence(mean, logvar):
    """Return KL( N(mean, diag(exp(logvar))) || N(0, I) ) for every row, in closed form.

    ``mean`` and ``logvar`` are float32 tensors (or arrays) of shape (batch, latent). The result is
    a float32 tensor of shape (batch,): for each row, the sum over the latent dimensions of the
    divergence of a one-dimensional Gaussian from N(0, 1). It is 0 only for mean 0 and
    log-variance 0.
    """
    # BEGIN SOLUTION: the closed-form KL divergence, summed over the latent dims
    # HINT: With a diagonal covariance the divergence splits into independent one-dimensional terms,
    #   one per latent dimension: write the KL of N(m, s^2) from N(0, 1), then add them up.
    # HINT: Per dimension the divergence grows with the variance and with the squared mean, and has
    #   a minus-logvar term that makes it smallest at variance one. Sum over the latent axis only,
    #   keeping the batch axis: shape (batch,).
    # HINT: Each term is half of (variance + mean squared - one - logvar), with the variance
    #   exp(logvar). Check: a row of mean 0 and logvar 0 must give 0.
    import tensorflow as tf

    mean = tf.convert_to_tensor(mean, tf.float32)
    logvar = tf.convert_to_tensor(logvar, tf.float32)
    per_dim = 0.5 * (tf.exp(logvar) + tf.square(mean) - 1.0 - logvar)  # (batch, latent)
    return tf.reduce_sum(per_dim, axis=-1)  # (batch,)
    # END SOLUTION


def reconstruction_loss(images, reconstructions):
    """Return the binary cross-entropy of each reconstruction, summed over its pixels.

    ``images`` (the targets, values in [0, 1]) and ``reconstructions`` (the decoder's outputs,
    probabilities in (0, 1)) are float32 tensors of shape (batch, 8, 8). Returns a float32 tensor
    of shape (batch,): for each image, the sum over its 64 pixels of
    -(x * log(p) + (1 - x) * log(1 - p)). Clip p to [1e-7, 1 - 1e-7] first, as Keras does, so
    that a saturated pixel gives a large loss instead of infinity.
    """
    # BEGIN SOLUTION: per-pixel binary cross-entropy, summed over each image
    # HINT: Write the docstring's per-pixel binary cross-entropy with TensorFlow ops, then add up
    #   the pixels of each image.
    # HINT: Clip the reconstructions with `tf.clip_by_value` (the bounds are in the docstring)
    #   BEFORE taking the logs. Sum over the two pixel axes, not the batch axis, and do not average:
    #   the result has shape (batch,).
    import tensorflow as tf

    x = tf.convert_to_tensor(images, tf.float32)
    p = tf.clip_by_value(tf.convert_to_tensor(reconstructions, tf.float32), 1e-7, 1.0 - 1e-7)
    per_pixel = -(x * tf.math.log(p) + (1.0 - x) * tf.math.log(1.0 - p))  # (batch, 8, 8)
    return tf.reduce_sum(per_pixel, axis=[1, 2])  # (batch,)
    # END SOLUTION


def build_encoder(latent_dim=LATENT_DIM, hidden=HIDDEN):
    """Return the encoder: a ``keras.Model`` from images (batch, 8, 8) to ``[mean, logvar]``.

    Architecture: flatten the image, one Dense layer of ``hidden`` ReLU units, then two separate
    Dense heads with ``latent_dim`` linear units each: the mean and the log-variance of the
    Gaussian that describes where this image lies in the latent space. Both outputs have shape
    (batch, latent_dim). No dropout, no batch normalisation.
    """
    # BEGIN SOLUTION: flatten, a hidden ReLU layer, two linear heads: mean, logvar
    # HINT: Functional Keras: an Input of the image's shape, Flatten, one hidden Dense layer, then
    #   two heads that both read the hidden layer; a `keras.Model` whose outputs are the list of the
    #   two heads.
    # HINT: The heads have no activation: a mean and a log-variance may be any real number. Use the
    #   arguments `latent_dim` and `hidden`, not the module's constants: the tests build other
    #   sizes.
    import keras

    images = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE))
    h = keras.layers.Flatten()(images)  # (batch, 64)
    h = keras.layers.Dense(hidden, activation="relu")(h)  # (batch, hidden)
    mean = keras.layers.Dense(latent_dim, name="mean")(h)  # (batch, latent)
    logvar = keras.layers.Dense(latent_dim, name="logvar")(h)  # (batch, latent)
    return keras.Model(images, [mean, logvar], name="encoder")
    # END SOLUTION


def build_decoder(latent_dim=LATENT_DIM, hidden=HIDDEN):
    """Return the decoder: a ``keras.Model`` from latent codes (batch, latent_dim) to images.

    Architecture: one Dense layer of ``hidden`` ReLU units, a Dense layer of 64 sigmoid units (one
    value in (0, 1) per pixel), reshaped to (batch, 8, 8). No dropout, no batch normalisation.
    """
    # BEGIN SOLUTION: one hidden ReLU layer, 64 sigmoid pixels, reshaped to 8x8
    # HINT: The encoder's mirror: an Input of `latent_dim` values, one hidden ReLU Dense layer, a
    #   Dense layer with one unit per pixel, then a Reshape to the image's shape.
    # HINT: The pixel layer's sigmoid keeps every output in (0, 1), as the cross-entropy needs. Add
    #   no noise and no dropout, and use the arguments `latent_dim` and `hidden`.
    import keras

    codes = keras.Input(shape=(latent_dim,))
    h = keras.layers.Dense(hidden, activation="relu")(codes)  # (batch, hidden)
    pixels = keras.layers.Dense(IMAGE_SIZE * IMAGE_SIZE, activation="sigmoid")(h)  # (batch, 64)
    images = keras.layers.Reshape((IMAGE_SIZE, IMAGE_SIZE))(pixels)  # (batch, 8, 8)
    return keras.Model(codes, images, name="decoder")
    # END SOLUTION


def vae_train_step(vae, images):
    """One training step of a VAE built by ``make_vae``; its ``train_step`` calls this.

    ``vae`` has ``vae.encoder``, ``vae.decoder``, ``vae.kl_weight`` (a float), ``vae.optimizer``
    and three ``keras.metrics.Mean`` trackers ``vae.loss_tracker``, ``vae.reconstruction_tracker``
    and ``vae.kl_tracker``. ``images`` is a float32 tensor of shape (batch, 8, 8).

    Inside a ``tf.GradientTape``: encode the images (``training=True``), draw z with
    ``reparameterize``, decode z, and compute, as means over the batch,
    ``reconstruction`` (``reconstruction_loss``) and ``kl`` (``kl_divergence``), and
    ``loss = reconstruction + vae.kl_weight * kl``. Then apply the gradients of ``loss`` with
    respect to ``vae.trainable_weights`` with ``vae.optimizer``, update each tracker with its
    value, and return ``{"loss": ..., "reconstruction": ..., "kl": ...}`` with the trackers'
    results. ``train_vae`` (and ``fit``) run this step inside ``tf.function``: use TensorFlow
    operations only (no ``.numpy()``, no ``float(...)``).
    """
    # BEGIN SOLUTION: encode, sample, decode; reconstruction + weighted KL; one step
    # HINT: Inside the tape: encode, sample z with `reparameterize`, decode, compute the two losses
    #   as batch means and combine them. Outside it: one optimizer step, then the trackers.
    # HINT: Everything the loss depends on must be computed inside the `tf.GradientTape` block.
    #   Reduce each per-image loss with `tf.reduce_mean`; the total is the reconstruction plus
    #   `vae.kl_weight` times the KL. Pass `training=True` to the encoder.
    # HINT: Take the tape's gradient of the loss with respect to `vae.trainable_weights` and give
    #   the optimizer's `apply_gradients` the (gradient, weight) pairs. Call `update_state` on each
    #   tracker and return their `result()`s; no `.numpy()` or `float()` anywhere.
    import tensorflow as tf

    with tf.GradientTape() as tape:
        mean, logvar = vae.encoder(images, training=True)  # 2 x (batch, latent)
        z = reparameterize(mean, logvar)  # (batch, latent)
        decoded = vae.decoder(z, training=True)  # (batch, 8, 8)
        reconstruction = tf.reduce_mean(reconstruction_loss(images, decoded))
        kl = tf.reduce_mean(kl_divergence(mean, logvar))
        loss = reconstruction + vae.kl_weight * kl
    gradients = tape.gradient(loss, vae.trainable_weights)
    vae.optimizer.apply_gradients(zip(gradients, vae.trainable_weights, strict=True))
    vae.loss_tracker.update_state(loss)
    vae.reconstruction_tracker.update_state(reconstruction)
    vae.kl_tracker.update_state(kl)
    return {
        "loss": vae.loss_tracker.result(),
        "reconstruction": vae.reconstruction_tracker.result(),
        "kl": vae.kl_tracker.result(),
    }
    # END SOLUTION


# --------------------------------------------------------------------------------------------
# Given code: the VAE model, its training, and the pictures.
# --------------------------------------------------------------------------------------------


def make_vae(latent_dim=LATENT_DIM, kl_weight=1.0, hidden=HIDDEN):
    """A VAE: a ``keras.Model`` with your encoder and decoder and a custom ``train_step``.

    ``kl_weight=0`` gives an autoencoder with the same architecture and the same sampling noise,
    trained without the KL term. Calling the model encodes and decodes the mean (no sampling).
    """
    import keras

    class VAE(keras.Model):
        def __init__(self):
            super().__init__(name="vae" if kl_weight else "autoencoder")
            self.encoder = build_encoder(latent_dim, hidden)
            self.decoder = build_decoder(latent_dim, hidden)
            self.kl_weight = float(kl_weight)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
            self.kl_tracker = keras.metrics.Mean(name="kl")

        @property
        def metrics(self):  # reset by fit() at the start of every epoch
            return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

        def call(self, images):
            mean, _ = self.encoder(images)
            return self.decoder(mean)

        def train_step(self, data):
            images = data[0] if isinstance(data, tuple) else data  # fit() may wrap x in a tuple
            return vae_train_step(self, images)

    return VAE()


def train_vae(images, kl_weight=1.0, steps=400, batch_size=64, learning_rate=0.1, seed=0):
    """Train a fresh ``make_vae(kl_weight=kl_weight)`` on ``images``; return it.

    Every step runs the model's ``train_step`` (your ``vae_train_step``) on a random batch, as
    ``vae.fit(images, batch_size=batch_size)`` would: this loop only starts faster than ``fit``.
    Plain SGD keeps the start-up short. ``vae.final_metrics`` holds the metrics (means over all
    steps) that the last step returned.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    vae = make_vae(kl_weight=kl_weight)
    vae.compile(optimizer=keras.optimizers.SGD(learning_rate))
    # what fit() compiles, too; without autograph, an error in your code points at your line
    step = tf.function(vae.train_step, autograph=False)
    rng = np.random.default_rng(seed)
    batches = images[rng.integers(0, len(images), size=(steps, batch_size))]  # (steps, batch, 8, 8)
    for batch in batches:
        metrics = step(tf.constant(batch))
    vae.final_metrics = {name: float(value) for name, value in metrics.items()}
    return vae


def distance_to_data(samples, data):
    """For each sample, the Euclidean distance to its nearest image in ``data``; their mean."""
    samples = np.asarray(samples, np.float64).reshape(len(samples), -1)  # (n, 64)
    data = np.asarray(data, np.float64).reshape(len(data), -1)  # (m, 64)
    squared = (samples**2).sum(1)[:, None] - 2 * samples @ data.T + (data**2).sum(1)[None, :]
    return float(np.sqrt(np.maximum(squared.min(axis=1), 0.0)).mean())


def prior_samples(model, n, seed=0):
    """Decode ``n`` draws from N(0, I) with the model's decoder: (n, 8, 8) float32."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, model.decoder.input_shape[-1])).astype(np.float32)
    return np.asarray(model.decoder(z))


def save_pictures(models, images, out_dir):
    """Draw decoded draws from N(0, I) and the latent means of ``images``, for every model.

    ``models`` maps a title to a trained model (from ``train_vae``). Writes two PNG files into
    ``out_dir`` and returns their paths: a grid of 8x8 decoded samples per model, and a scatter
    plot of the encoder's means (the two dimensions that vary most) coloured by the blob's column.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = (images.sum(axis=1) * np.arange(IMAGE_SIZE)).sum(1) / images.sum(axis=(1, 2))

    fig, axes = plt.subplots(1, len(models), figsize=(4.5 * len(models), 4.8), squeeze=False)
    for ax, (title, model) in zip(axes[0], models.items(), strict=True):
        samples = prior_samples(model, 64)  # (64, 8, 8)
        grid = samples.reshape(8, 8, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 1, 3)
        ax.imshow(grid.reshape(8 * IMAGE_SIZE, 8 * IMAGE_SIZE), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{title}: decoded draws from N(0, I)", fontsize=10)
        ax.axis("off")
    samples_path = out_dir / "q13_samples.png"
    fig.tight_layout()
    fig.savefig(samples_path, dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(models), figsize=(4.5 * len(models), 4.5), squeeze=False)
    for ax, (title, model) in zip(axes[0], models.items(), strict=True):
        mean, _ = model.encoder(images)
        mean = np.asarray(mean)  # (n, latent)
        dims = np.argsort(mean.var(axis=0))[::-1][:2]
        ax.scatter(mean[:, dims[0]], mean[:, dims[1]], c=columns, s=6, cmap="viridis")
        circle = plt.Circle((0, 0), 2.0, fill=False, linestyle="--", color="gray")
        ax.add_patch(circle)  # 2 standard deviations of N(0, I)
        ax.set_title(f"{title}: latent means", fontsize=10)
        ax.set_xlabel(f"z[{dims[0]}]")
        ax.set_ylabel(f"z[{dims[1]}]")
        ax.set_aspect("equal", adjustable="datalim")
    fig.suptitle("colour: the blob's column; dashed: 2 standard deviations of N(0, I)", fontsize=9)
    means_path = out_dir / "q13_latent_means.png"
    fig.tight_layout()
    fig.savefig(means_path, dpi=100)
    plt.close(fig)
    return [samples_path, means_path]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train a VAE and an autoencoder; draw both.")
    parser.add_argument("--out", default=".", help="folder for the PNG files")
    parser.add_argument("--steps", type=int, default=1500, help="training steps per model")
    args = parser.parse_args(argv)
    images = make_images(2048)
    models = {
        "VAE": train_vae(images, kl_weight=1.0, steps=args.steps),
        "no KL term": train_vae(images, kl_weight=0.0, steps=args.steps),
    }
    for path in save_pictures(models, images, args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    from kata.demo import run  # a function not written yet: two lines, not a traceback

    run(main)
