"""Question 15: GANs (2 points, true/false; a wrong answer costs its share).

The exam gave four statements about generative adversarial networks (GANs), to be marked true or
false. In our words, each keeping the exam's meaning:

1. ``mode_collapse_shows_as_high_generator_loss``: a GAN's generator has a high loss when the GAN
   suffers from mode collapse (the generator produces only a few kinds of samples).
2. ``both_losses_zero_means_success``: when the losses of both the discriminator and the
   generator converge to zero, the GAN has been trained successfully.
3. ``strong_discriminator_can_vanish_generator_gradients``: a discriminator that performs too
   well can make the generator's gradients vanish.
4. ``wgan_clips_weights_for_lipschitz``: Wasserstein GANs clip the weights (of their critic) to
   keep it Lipschitz continuous.

Do not guess: write the pieces and run the experiments. You write

* ``discriminator_loss`` and ``generator_loss``, the latter in both forms: the saturating one
  of the original minimax game, and the non-saturating one used in practice;
* ``generator_gradient_norm``: how large the generator's gradient is, with ``tf.GradientTape``;
* ``gan_train_step``: one round of GAN training, first the discriminator, then the generator;
* ``critic_loss``, ``clip_weights`` and ``critic_step``: the critic of a Wasserstein GAN.

The given code trains a tiny GAN on numbers drawn from two well separated modes (``train_gan``),
trains a discriminator alone against a fixed generator until it wins
(``train_discriminator_alone``), and measures how steep a critic can be (``critic_slope``,
``lipschitz_bound``). The tests run one experiment per statement; when they pass, answer in
``ANSWERS`` below.

A reminder of the notation: D(x) = sigmoid(logit(x)) is the discriminator's probability that x
is real; G(z) is a generated sample for noise z.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# BEGIN SOLUTION: answer each statement with True or False
# HINT: Do not answer from memory: the tests run one experiment per statement. Write the functions
#   first, then run `pytest exercises/q15_gans.py -s -k NAME` with NAME one of `collapsed`,
#   `cannot_both`, `vanishes` and `clipping`, and read what each prints.
# HINT: Mode collapse: `train_gan()` with the default linear generator can only draw one bump; look
#   at the last entries of `run.fractions` and `run.generator_loss`, and compare that loss with the
#   scale the collapse test prints. Both losses at zero: add `discriminator_loss` and
#   `generator_loss` on the same fake logits over a wide range of logits, and find the smallest sum.
# HINT: Vanishing gradients: train a discriminator with `train_discriminator_alone`, then compare
#   `generator_gradient_norm` with saturating on and off, against it and against a fresh one. Weight
#   clipping: train `build_critic()` with `critic_step` with and without a clip, and compare
#   `critic_slope` with `lipschitz_bound`; the WGAN paper's training algorithm lists every step of
#   the critic's update.
ANSWERS = {
    "mode_collapse_shows_as_high_generator_loss": False,
    "both_losses_zero_means_success": False,
    "strong_discriminator_can_vanish_generator_gradients": True,
    "wgan_clips_weights_for_lipschitz": True,
}
# STUB: ANSWERS = {
# STUB:     "mode_collapse_shows_as_high_generator_loss": None,
# STUB:     "both_losses_zero_means_success": None,
# STUB:     "strong_discriminator_can_vanish_generator_gradients": None,
# STUB:     "wgan_clips_weights_for_lipschitz": None,
# STUB: }
# END SOLUTION


def discriminator_loss(real_logits, fake_logits):
    """Return the discriminator's loss, a float32 scalar tensor.

    ``real_logits``: the discriminator's logits for real samples, ``fake_logits``: for generated
    ones; shape (batch, 1) or (batch,). The binary cross-entropy of the real samples with label 1
    plus that of the generated ones with label 0, each averaged over its batch, computed stably
    from the logits (as in question 14).
    """
    # BEGIN SOLUTION: cross-entropy: label 1 for real logits plus label 0 for fake
    # HINT: The discriminator is a binary classifier: real samples are class 1, generated ones class
    #   0. Its loss is one averaged cross-entropy per batch, added together.
    # HINT: In terms of D = sigmoid(logit) the terms are -log D for the reals and -log(1 - D) for
    #   the fakes. Do not compute the sigmoid and then its log: for large logits it rounds to 0 or 1
    #   and the log becomes infinite.
    # HINT: Each term is a softplus, log(1 + e^t), of the logit or of minus the logit (work out
    #   which sign goes with which label); `tf.nn` has softplus and also
    #   `sigmoid_cross_entropy_with_logits`. Cast both inputs to float32 and average each batch on
    #   its own before adding.
    import tensorflow as tf

    real_logits = tf.convert_to_tensor(real_logits, tf.float32)
    fake_logits = tf.convert_to_tensor(fake_logits, tf.float32)
    # -log D = softplus(-logit), -log(1 - D) = softplus(logit)
    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(
        tf.nn.softplus(fake_logits)
    )
    # END SOLUTION


def generator_loss(fake_logits, saturating=False):
    """Return the generator's loss, a float32 scalar tensor, averaged over the batch.

    ``fake_logits``: the discriminator's logits for generated samples, shape (batch, 1) or
    (batch,). With ``saturating=False`` (the non-saturating loss used in practice) the loss is
    -log D(G(z)): the cross-entropy with label 1. With ``saturating=True`` it is the generator's
    side of the original minimax game, log(1 - D(G(z))), which the generator minimises. Both
    stable from logits: a logit of -100 or 100 gives a finite loss.
    """
    # BEGIN SOLUTION: -log D(G(z)), or log(1 - D(G(z))) when saturating
    # HINT: The generator wants its samples called real. Non-saturating: the cross-entropy of its
    #   fakes with label 1. Saturating: the discriminator's own term for the fakes with its sign
    #   flipped, so the generator minimises what the discriminator maximises.
    # HINT: Write both from logits with softplus, as in `discriminator_loss`: the log of one minus
    #   sigmoid(l), and minus the log of sigmoid(l), are each a softplus of l or of -l, one of them
    #   with a minus sign in front. Sanity check of the signs: the saturating loss is never
    #   positive, the non-saturating one never negative.
    import tensorflow as tf

    fake_logits = tf.convert_to_tensor(fake_logits, tf.float32)
    if saturating:
        return -tf.reduce_mean(tf.nn.softplus(fake_logits))  # log(1 - sigmoid(l)) = -softplus(l)
    return tf.reduce_mean(tf.nn.softplus(-fake_logits))  # -log(sigmoid(l)) = softplus(-l)
    # END SOLUTION


def generator_gradient_norm(generator, discriminator, noise, saturating=False):
    """Return the norm of the generator's gradient, a Python float.

    ``generator`` and ``discriminator`` are Keras models, ``noise`` a float32 array (batch, 1).
    With ``tf.GradientTape``, take the gradient of ``generator_loss(discriminator(generator(
    noise)), saturating)`` with respect to ``generator.trainable_weights``, and return the
    global norm: the square root of the sum of all squared gradient entries.
    """
    # BEGIN SOLUTION: tape the loss through the discriminator; the global norm
    # HINT: Run the whole forward pass inside a `tf.GradientTape` block: the generator makes
    #   samples, the discriminator scores them, your `generator_loss` turns the scores into a
    #   number.
    # HINT: Ask the tape for the gradient with respect to the generator's trainable weights only:
    #   you get a list of tensors, one per weight. The global norm is the square root of the sum of
    #   every squared entry of every tensor; `tf.linalg` has a function for it (`global_norm`).
    #   Return a Python float.
    import tensorflow as tf

    with tf.GradientTape() as tape:
        logits = discriminator(generator(noise))  # (batch, 1)
        loss = generator_loss(logits, saturating=saturating)
    gradients = tape.gradient(loss, generator.trainable_weights)
    return float(tf.linalg.global_norm(gradients))
    # END SOLUTION


def gan_train_step(
    generator, discriminator, generator_optimizer, discriminator_optimizer, real, noise
):
    """One round of GAN training; returns ``(d_loss, g_loss)``, two float32 scalar tensors.

    ``real``: a batch of real samples (batch, 1); ``noise``: the generator's input (batch, 1).

    1. The discriminator's step: ``d_loss = discriminator_loss(D(real), D(G(noise)))``; apply its
       gradient with respect to ``discriminator.trainable_weights`` (and nothing else) with
       ``discriminator_optimizer``.
    2. The generator's step, against the discriminator just updated: ``g_loss =
       generator_loss(D(G(noise)))`` (non-saturating); apply its gradient with respect to
       ``generator.trainable_weights`` with ``generator_optimizer``.

    Call the models with ``training=True``. The returned losses are the values each step saw
    before its update. ``train_gan`` runs this step inside ``tf.function``: use TensorFlow
    operations only (no ``.numpy()``, no ``float(...)``).
    """
    # BEGIN SOLUTION: a discriminator step on its loss, then a generator step on its own
    # HINT: Two tapes, two losses, two optimizers, in this order: update only the discriminator on
    #   its loss; then, against the discriminator just updated, update only the generator on its
    #   loss.
    # HINT: In each tape do the forward pass that loss needs, with training=True. Then take that
    #   loss's gradient with respect to that model's trainable weights and hand the (gradient,
    #   weight) pairs to that model's optimizer with `apply_gradients`. The generator's step must
    #   run the generator and the discriminator again inside its own tape.
    # HINT: The generator's step uses the non-saturating loss. Return the two loss tensors as they
    #   are: the step runs inside `tf.function`, so no `.numpy()` and no `float`.
    import tensorflow as tf

    with tf.GradientTape() as tape:
        fake = generator(noise, training=True)  # (batch, 1)
        d_loss = discriminator_loss(
            discriminator(real, training=True), discriminator(fake, training=True)
        )
    weights = discriminator.trainable_weights
    discriminator_optimizer.apply_gradients(
        zip(tape.gradient(d_loss, weights), weights, strict=True)
    )
    with tf.GradientTape() as tape:
        fake_logits = discriminator(generator(noise, training=True), training=True)
        g_loss = generator_loss(fake_logits)
    weights = generator.trainable_weights
    generator_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights, strict=True))
    return d_loss, g_loss
    # END SOLUTION


def critic_loss(real_scores, fake_scores):
    """Return the loss a Wasserstein GAN's critic minimises, a float32 scalar tensor.

    ``real_scores`` and ``fake_scores`` are the critic's outputs (unbounded scores, no sigmoid)
    for real and generated samples, shape (batch, 1) or (batch,). The critic wants high scores
    for real samples and low ones for generated samples: the loss is the mean score of the
    generated samples minus the mean score of the real ones.
    """
    # BEGIN SOLUTION: mean fake score minus mean real score
    # HINT: No sigmoid and no log here: a critic outputs plain scores, and its loss is a difference
    #   of two averages.
    # HINT: The critic minimises its loss, so the scores it wants high (the real ones) enter with a
    #   minus sign. Cast both inputs to float32 and average each batch on its own.
    import tensorflow as tf

    real_scores = tf.convert_to_tensor(real_scores, tf.float32)
    fake_scores = tf.convert_to_tensor(fake_scores, tf.float32)
    return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)
    # END SOLUTION


def clip_weights(model, clip):
    """Clip every weight of ``model`` (kernels and biases) to [-clip, clip], in place.

    A weight already inside the interval keeps its value; one outside becomes -clip or clip.
    Returns nothing.
    """
    # BEGIN SOLUTION: assign every weight its clipped value
    # HINT: Walk over every trainable weight of the model (kernels and biases of every layer) and
    #   replace its value by the clipped one.
    # HINT: Weights are variables: change them in place with their `assign` method; rebinding a
    #   Python name changes nothing in the model. `tf.clip_by_value` bounds every entry between a
    #   low and a high value.
    import tensorflow as tf

    for weight in model.trainable_weights:
        weight.assign(tf.clip_by_value(weight, -clip, clip))
    # END SOLUTION


def critic_step(critic, optimizer, real, fake, clip=None):
    """One training step of a Wasserstein critic; returns the loss (a float32 scalar tensor).

    Take the gradient of ``critic_loss(critic(real), critic(fake))`` with respect to
    ``critic.trainable_weights`` with ``tf.GradientTape``, apply it with ``optimizer``, and
    then, unless ``clip`` is None, clip the critic's weights to [-clip, clip].
    """
    # BEGIN SOLUTION: one optimizer step on the critic loss, then clip the weights
    # HINT: This is a discriminator's step with `critic_loss` in place of the cross-entropy: tape
    #   the loss of the critic's scores on the real and the fake batch, take the gradient with
    #   respect to the critic's trainable weights, apply it with the optimizer.
    # HINT: Clip after the update, not before (the test checks the weights after every step), and
    #   only when a clip is given: reuse your `clip_weights`. Return the loss that the tape
    #   recorded.
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = critic_loss(critic(real, training=True), critic(fake, training=True))
    weights = critic.trainable_weights
    optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))
    if clip is not None:
        clip_weights(critic, clip)
    return loss
    # END SOLUTION


# --------------------------------------------------------------------------------------------
# Given code: the data, the models, a tiny GAN, a discriminator that wins, a critic's slope.
# --------------------------------------------------------------------------------------------

MODES = (-4.0, 4.0)
"""The centres of the two modes of the real data."""
MODE_STD = 0.25
"""The standard deviation of each mode."""


def sample_real(n, seed=0):
    """``n`` real samples (n, 1) float32: each from one of the two modes, at random."""
    rng = np.random.default_rng(seed)
    centres = np.asarray(MODES)[rng.integers(0, 2, size=n)]
    return (centres + MODE_STD * rng.standard_normal(n)).astype(np.float32)[:, None]


def mode_fractions(samples):
    """The fraction of ``samples`` within 3 standard deviations of each mode: (left, right)."""
    samples = np.asarray(samples, np.float64).ravel()
    return tuple(float(np.mean(np.abs(samples - m) < 3 * MODE_STD)) for m in MODES)


def build_generator(hidden=0):
    """noise (batch, 1) -> sample (batch, 1). ``hidden=0``: one linear unit, G(z) = a z + b,
    whose samples form one Gaussian; otherwise a hidden layer of ``hidden`` tanh units first.
    The output layer starts with small weights: the first samples huddle near 0."""
    import keras

    layers = [keras.Input(shape=(1,))]
    if hidden:
        layers.append(keras.layers.Dense(hidden, activation="tanh"))
    small = keras.initializers.RandomNormal(stddev=0.3)
    layers.append(keras.layers.Dense(1, kernel_initializer=small))
    return keras.Sequential(layers, name="generator")


def build_discriminator(hidden=16):
    """sample (batch, 1) -> logit (batch, 1): one hidden layer of ``hidden`` ReLU units."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(1,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(1),
        ],
        name="discriminator",
    )


def build_critic(hidden=16):
    """sample (batch, 1) -> score (batch, 1): two hidden layers of ``hidden`` ReLU units."""
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(1,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(1),
        ],
        name="critic",
    )


@dataclass
class GanRun:
    """What ``train_gan`` returns: the models and, after every chunk of steps, the record."""

    generator: object
    discriminator: object
    steps: list[int] = field(default_factory=list)
    """the step count at the end of each chunk"""
    discriminator_loss: list[float] = field(default_factory=list)
    """the mean discriminator loss over each chunk"""
    generator_loss: list[float] = field(default_factory=list)
    """the mean generator loss over each chunk"""
    fractions: list[tuple[float, float]] = field(default_factory=list)
    """after each chunk: the fraction of 1000 generated samples in each mode"""


def train_gan(
    steps=1000, hidden=0, learning_rate=0.02, batch_size=64, seed=0, chunk=100, progress=False
):
    """Train ``build_generator(hidden)`` against ``build_discriminator()`` with your
    ``gan_train_step`` (Adam with beta_1 = 0.5 for both) on fresh real samples and noise at
    every step; record the losses and the modes every ``chunk`` steps. Returns a ``GanRun``.
    ``progress=True`` shows a progress bar."""
    import keras
    import tensorflow as tf
    from tqdm.auto import tqdm

    keras.utils.set_random_seed(seed)
    run = GanRun(build_generator(hidden), build_discriminator())
    g_opt = keras.optimizers.Adam(learning_rate, beta_1=0.5)
    d_opt = keras.optimizers.Adam(learning_rate, beta_1=0.5)
    draw = tf.random.Generator.from_seed(seed)
    centres = tf.constant(MODES, tf.float32)
    # your step is traced as you wrote it (no autograph): an error points at your line
    your_step = tf.autograph.experimental.do_not_convert(gan_train_step)

    @tf.function
    def train_chunk():
        d_losses, g_losses = tf.TensorArray(tf.float32, chunk), tf.TensorArray(tf.float32, chunk)
        for i in tf.range(chunk):
            modes = draw.uniform((batch_size,), maxval=2, dtype=tf.int32)
            real = tf.gather(centres, modes)[:, None] + MODE_STD * draw.normal((batch_size, 1))
            noise = draw.normal((batch_size, 1))
            d_loss, g_loss = your_step(run.generator, run.discriminator, g_opt, d_opt, real, noise)
            d_losses = d_losses.write(i, d_loss)
            g_losses = g_losses.write(i, g_loss)
        return tf.reduce_mean(d_losses.stack()), tf.reduce_mean(g_losses.stack())

    probe = np.random.default_rng(seed + 1).standard_normal((1000, 1)).astype(np.float32)
    try:  # `pytest --plain` or NO_COLOR: one line per 10 % instead of a redrawn bar
        from kata.plain import tqdm_options
    except ImportError:
        options = {}
    else:
        options = tqdm_options(steps)
    with tqdm(total=steps, desc="GAN", unit="step", disable=not progress, **options) as bar:
        for done in range(chunk, steps + 1, chunk):
            d_loss, g_loss = train_chunk()
            run.steps.append(done)
            run.discriminator_loss.append(float(d_loss))
            run.generator_loss.append(float(g_loss))
            run.fractions.append(mode_fractions(run.generator(probe)))
            bar.update(chunk)
            bar.set_postfix(d_loss=f"{d_loss:.3f}", g_loss=f"{g_loss:.3f}")
    return run


def train_discriminator_alone(generator, steps=300, learning_rate=0.1, seed=0):
    """Train a fresh ``build_discriminator()`` with your ``discriminator_loss`` against a FIXED
    generator (real: 512 samples of ``sample_real``; fake: the generator's samples for 512 noise
    draws), full batch, plain SGD. The generator does not move, so the discriminator wins."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    discriminator = build_discriminator()
    optimizer = keras.optimizers.SGD(learning_rate)
    real = tf.constant(sample_real(512, seed=seed))
    noise = np.random.default_rng(seed + 1).standard_normal((512, 1)).astype(np.float32)
    fake = tf.constant(generator(noise))

    @tf.function(autograph=False)  # an error in your loss then points at your line
    def step():
        with tf.GradientTape() as tape:
            loss = discriminator_loss(discriminator(real), discriminator(fake))
        weights = discriminator.trainable_weights
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))

    for _ in range(steps):
        step()
    return discriminator


def critic_slope(critic, low=-8.0, high=8.0, points=2001):
    """The largest |d critic(x) / dx| over a grid of ``points`` inputs in [low, high]: how steep
    the critic is, a lower estimate of its Lipschitz constant."""
    import tensorflow as tf

    x = tf.Variable(np.linspace(low, high, points, dtype=np.float32)[:, None])
    with tf.GradientTape() as tape:
        scores = critic(x)
    return float(tf.reduce_max(tf.abs(tape.gradient(scores, x))))


def lipschitz_bound(critic, clip):
    """An upper bound on the critic's Lipschitz constant when every weight is in [-clip, clip].

    A Dense layer with an (m, n) kernel W stretches any difference of inputs by at most the
    Frobenius norm of W, at most clip * sqrt(m * n) when every entry is in [-clip, clip]; ReLU
    never stretches, biases only shift. The product over the layers bounds the whole critic.
    """
    bound = 1.0
    for layer in critic.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            m, n = kernel.shape
            bound *= clip * float(np.sqrt(m * n))
    return bound
