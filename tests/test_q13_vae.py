"""Question 13: variational autoencoders. Six true/false statements, each settled by an experiment.

The statement test carries the points (negative marking); the experiments are tests of the
learner's own VAE: the reparameterisation, the closed-form KL divergence (against a Monte Carlo
estimate), the encoder and decoder, the train step, and a VAE trained for a few hundred steps
beside the same model trained without the KL term.
"""

import math

import numpy as np
import pytest

from kata.statements import statement_test
from kata.testing import as_array, brief, called, expect_png, fail, seeds, show, slip_hint, within

# BEGIN EXAM KEY: the true statements, the others are false (kept out of the homework copy)
KEY = {
    "fixed_code_always_decodes_the_same",
    "kl_compares_latent_distribution_with_standard_normal",
    "dense_latent_space_gives_meaningful_samples",
}
# STUB: KEY = None
# END EXAM KEY
EXPERIMENT = {
    "decoder_outputs_gaussian_parameters": "test_encoder_gives_gaussian_parameters_decoder_images",
    "fixed_code_always_decodes_the_same": "test_fixed_latent_code_decodes_to_the_same_image",
    "kl_compares_latent_distribution_with_standard_normal": (
        "test_kl_term_pulls_encodings_towards_standard_normal"
    ),
    "epsilon_is_the_error_rate": "test_epsilon_is_standard_normal_noise",
    "reparameterisation_sets_standard_normal": (
        "test_reparameterisation_keeps_mean_and_spread_and_passes_gradients"
    ),
    "dense_latent_space_gives_meaningful_samples": "test_prior_samples_look_like_data_only_with_kl",
}

# The training experiment: both models see the same images, seed and budget. Chosen after
# sweeping the reference over seeds 0-4, with TF_ENABLE_ONEDNN_OPTS=0 and =1 (same results).
TRAIN_SEED = 0
TRAIN_IMAGES = 1024
TRAIN_STEPS = 400
PRIOR_DISTANCE_RATIO = 0.6  # VAE / no-KL distance of prior samples to the data: 0.36-0.40
KL_RATIO = 0.25  # VAE / no-KL mean KL of the encodings: 0.056-0.063


test_statements = statement_test(KEY, EXPERIMENT)


def random_gaussians(seed, batch=4, latent=3):
    rng = np.random.default_rng(seed)
    mean = rng.normal(0.0, 1.5, size=(batch, latent)).astype(np.float32)
    logvar = rng.uniform(-2.0, 1.5, size=(batch, latent)).astype(np.float32)
    return mean, logvar


# --------------------------------------------------------------------------------------------
# The reparameterisation
# --------------------------------------------------------------------------------------------

SEEDS = range(5)


@seeds(SEEDS)
def test_reparameterize_with_given_eps_matches_the_formula(target, tf, seed):
    mean, logvar = random_gaussians(seed)
    eps = np.random.default_rng(seed + 100).standard_normal(mean.shape).astype(np.float32)
    call = called("reparameterize", mean, logvar, eps=eps)
    got = as_array(target.reparameterize(mean, logvar, eps=eps), call)
    expected = mean + np.exp(logvar / 2) * eps
    if got.shape == expected.shape and np.allclose(got, expected, rtol=1e-5, atol=1e-6):
        return
    slips = [
        (
            mean + np.exp(logvar) * eps,
            "exp(logvar) is the variance; z needs the standard deviation",
        ),
        (mean + logvar * eps, "logvar is the log of the variance, not a standard deviation"),
        (
            mean + np.sqrt(np.abs(logvar)) * eps,
            "logvar is the log of the variance: undo the log before anything else",
        ),
    ]
    reason = slip_hint(got, expected, slips, within(atol=1e-6)) or (
        "z = mean + standard deviation * eps, and logvar is the log of the VARIANCE"
    )
    fail(f"{call} returned {brief(got)}, expected {brief(expected)}: {reason}")


def test_epsilon_is_standard_normal_noise(target, tf):
    """Statement 4: eps is drawn from N(0, I), whatever the model, the input or its error."""
    n, latent = 20_000, 4
    zeros = np.zeros((n, latent), np.float32)
    call = called("reparameterize", zeros, zeros)
    first = as_array(target.reparameterize(zeros, zeros), call)
    assert first.shape == (n, latent), (
        f"{call} returned shape {first.shape}, expected {(n, latent)}"
    )
    # with mean 0 and log-variance 0, z is eps itself: its statistics are N(0, 1)'s. Tolerances
    # for 80000 draws: 5 standard errors of the mean, 8 of the standard deviation, 6 of the
    # fraction within one standard deviation
    count = first.size
    assert abs(first.mean()) < 5 / math.sqrt(count), (
        f"{call}: with mean 0 and logvar 0 the draws average {first.mean():.4f}; draws from "
        "N(0, 1) average 0 (within 5 standard errors here)"
    )
    assert abs(first.std() - 1.0) < 0.02, (
        f"{call}: with mean 0 and logvar 0 the draws have standard deviation {first.std():.4f}, "
        "expected 1: eps comes from the standard normal distribution"
    )
    within_one = float(np.mean(np.abs(first) < 1.0))
    print(
        f"\nz with mean 0 and logvar 0 (that is, eps): mean {first.mean():+.4f}, standard "
        f"deviation {first.std():.4f}, within one standard deviation {within_one:.3f} "
        "(N(0, 1): 0, 1, 0.683)"
    )
    assert abs(within_one - 0.6827) < 0.01, (
        f"{call}: {within_one:.3f} of the draws lie within one standard deviation; for N(0, 1) "
        "it is 0.683: eps must be normal (tf.random.normal), not uniform"
    )
    second = as_array(target.reparameterize(zeros, zeros), call)
    assert not np.array_equal(first, second), (
        f"{call} twice gave the same draws: eps is fresh noise at every call"
    )
    # for any mean and logvar, (z - mean) / std is the same N(0, 1) noise
    rng = np.random.default_rng(1)
    mean = np.repeat(rng.normal(0, 2, (1, latent)), n, axis=0).astype(np.float32)
    logvar = np.repeat(rng.uniform(-2, 2, (1, latent)), n, axis=0).astype(np.float32)
    call = called("reparameterize", mean, logvar)
    z = as_array(target.reparameterize(mean, logvar), call)
    eps = (z - mean) / np.exp(logvar / 2)
    print(
        f"(z - mean) / standard deviation for mean {np.round(mean[0], 2)}, logvar "
        f"{np.round(logvar[0], 2)}: mean {eps.mean():+.4f}, standard deviation {eps.std():.4f}"
    )
    assert abs(eps.mean()) < 5 / math.sqrt(count) and abs(eps.std() - 1.0) < 0.02, (
        f"{call}: (z - mean) / standard deviation has mean {eps.mean():.4f} and standard "
        f"deviation {eps.std():.4f}, expected 0 and 1: the noise is N(0, I) for every mean and "
        "variance; it knows nothing about the model or how well it reconstructs"
    )


def test_reparameterisation_keeps_mean_and_spread_and_passes_gradients(target, tf):
    """Statement 5: the trick moves the randomness into eps; the encoder's Gaussian stays."""
    n = 20_000
    mean = np.full((n, 2), [3.0, -1.0], np.float32)
    logvar = np.full((n, 2), [math.log(4.0), math.log(0.25)], np.float32)
    call = called("reparameterize", mean, logvar)
    z = as_array(target.reparameterize(mean, logvar), call)
    print(
        f"\nmean [3, -1], variance [4, 0.25]: the draws of z have means {np.round(z.mean(0), 3)} "
        f"and standard deviations {np.round(z.std(0), 3)}"
    )
    # tolerances: 5.6 and 6 standard errors of 20000 draws
    assert np.allclose(z.mean(axis=0), [3.0, -1.0], atol=0.08) and np.allclose(
        z.std(axis=0), [2.0, 0.5], rtol=0.03
    ), (
        f"{call} gave draws with means {np.round(z.mean(0), 3)} and standard deviations "
        f"{np.round(z.std(0), 3)}, expected [3, -1] and [2, 0.5]: z follows the encoder's "
        "Gaussian N(mean, exp(logvar)); nothing is set to mean 0 and variance 1"
    )
    # the gradients of z reach mean and logvar: that is what the trick is for
    small_mean, small_logvar = random_gaussians(7, batch=3, latent=2)
    eps = np.random.default_rng(8).standard_normal(small_mean.shape).astype(np.float32)
    m, lv = tf.Variable(small_mean), tf.Variable(small_logvar)
    with tf.GradientTape(persistent=True) as tape:
        learner = tf.reduce_sum(tf.cast(target.reparameterize(m, lv, eps=eps), tf.float32))
        oracle = tf.reduce_sum(m + tf.exp(lv / 2) * eps)
    call = called("reparameterize", m, lv, eps=eps)
    for variable, name in ((m, "mean"), (lv, "logvar")):
        got, expected = tape.gradient(learner, variable), tape.gradient(oracle, variable)
        if got is None:
            fail(
                f"{call}: tf.GradientTape found no gradient of z with respect to {name}: compute "
                "z with TensorFlow operations on mean and logvar (no NumPy in between), so that "
                "training can reach the encoder through the sample"
            )
        print(f"dz/d{name} (summed over z), first row: {np.round(got.numpy()[0], 4)}")
        assert np.allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6), (
            f"{call}: dz/d{name} is {np.round(got.numpy(), 4)}, expected "
            f"{np.round(expected.numpy(), 4)} (tf.GradientTape on the reference's z, with the "
            "same eps)"
        )


# --------------------------------------------------------------------------------------------
# The KL divergence and the reconstruction loss
# --------------------------------------------------------------------------------------------

KL_CASES = {
    "standard_normal": ([[0.0, 0.0]], [[0.0, 0.0]], [0.0]),
    # 1/2 (e^lv + m^2 - 1 - lv) per dimension: 1/2 (1 + 1 - 1) + 1/2 (2 - 1 - ln 2)
    "shifted_and_wider": ([[1.0, 0.0]], [[0.0, math.log(2.0)]], [1.0 - math.log(2.0) / 2]),
    "two_rows": (
        [[0.0], [0.5]],
        [[-1.0], [0.0]],
        [0.5 * math.exp(-1.0), 0.125],
    ),
}


@pytest.mark.parametrize("case", list(KL_CASES), ids=list(KL_CASES))
def test_kl_divergence_hand_computed(target, tf, case):
    mean, logvar, expected = (np.array(v, np.float32) for v in KL_CASES[case])
    call = called("kl_divergence", mean, logvar)
    got = as_array(target.kl_divergence(mean, logvar), call)
    if got.shape == expected.shape and np.allclose(got, expected, atol=1e-6):
        return
    per_dim = 0.5 * (np.exp(logvar) + mean**2 - 1 - logvar)
    slips = [
        (2 * expected, "you left out the factor 1/2"),
        (per_dim.mean(axis=-1), "sum over the latent dimensions, do not average"),
        (per_dim, "return one value per row (shape (batch,)): sum over the latent dimensions"),
    ]
    reason = slip_hint(got, expected, slips, within(atol=1e-6)) or (
        "the closed-form KL divergence of each latent dimension's Gaussian from N(0, 1), summed "
        "over the latent dimensions (0 only for mean 0 and logvar 0)"
    )
    fail(f"{call} returned {brief(got)}, expected {brief(expected)}: {reason}")


@seeds(SEEDS)
def test_kl_divergence_matches_monte_carlo(target, tf, seed):
    """E_q[log q(z) - log p(z)] estimated from 200 000 draws of z per row."""
    mean, logvar = random_gaussians(seed)
    call = called("kl_divergence", mean, logvar)
    got = as_array(target.kl_divergence(mean, logvar), call)
    assert got.shape == (len(mean),), (
        f"{call} returned shape {got.shape}, expected {(len(mean),)}: one divergence per row"
    )
    rng = np.random.default_rng(seed + 1000)
    std = np.exp(logvar.astype(np.float64) / 2)
    for row in range(len(mean)):
        z = mean[row] + std[row] * rng.standard_normal((200_000, mean.shape[1]))
        log_q = -0.5 * (
            ((z - mean[row]) / std[row]) ** 2 + 2 * np.log(std[row]) + np.log(2 * np.pi)
        )
        log_p = -0.5 * (z**2 + np.log(2 * np.pi))
        terms = (log_q - log_p).sum(axis=1)  # (draws,)
        estimate, error = terms.mean(), terms.std() / math.sqrt(len(terms))
        # 6 standard errors: a correct closed form fails this on fewer than 1 in 10^8 draws
        assert abs(got[row] - estimate) <= 6 * error + 1e-4, (
            f"{call}: row {row} (mean {mean[row]}, logvar {logvar[row]}) has KL {got[row]:.5f}, "
            f"but a Monte Carlo estimate of E_q[log q(z) - log p(z)] over 200000 draws gives "
            f"{estimate:.5f} +- {error:.5f}"
        )


@seeds(range(3))
def test_reconstruction_loss_matches_keras(target, tf, seed):
    import keras

    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, size=(5, 8, 8)).astype(np.float32)
    decoded = rng.uniform(0.01, 0.99, size=(5, 8, 8)).astype(np.float32)
    call = called("reconstruction_loss", images, decoded)
    got = as_array(target.reconstruction_loss(images, decoded), call)
    per_pixel = keras.losses.binary_crossentropy(images[..., None], decoded[..., None])
    expected = np.asarray(per_pixel).sum(axis=(1, 2))  # (batch,)
    if got.shape == expected.shape and np.allclose(got, expected, rtol=1e-4):
        return
    reason = "sum keras.losses.binary_crossentropy over the 64 pixels of each image"
    if got.shape == expected.shape and np.allclose(got * 64, expected, rtol=1e-4):
        reason = "sum over the pixels, do not average: each pixel is one term of the likelihood"
    fail(f"{call} returned {brief(got)}, expected {brief(expected)}: {reason}")


# --------------------------------------------------------------------------------------------
# Encoder, decoder, train step
# --------------------------------------------------------------------------------------------


def test_encoder_gives_gaussian_parameters_decoder_images(target, tf):
    """Statement 1: who outputs the parameters of a Gaussian, and what does the decoder give?"""
    images = np.random.default_rng(0).uniform(0, 1, size=(5, 8, 8)).astype(np.float32)
    encoder = target.build_encoder(3, 16)
    call = f"{called('build_encoder', 3, 16)}, then encoder({show(images)})"
    outputs = encoder(images)
    assert isinstance(outputs, (list, tuple)) and len(outputs) == 2, (
        f"{call} returned {show(outputs)}: expected two outputs, [mean, logvar]"
    )
    for output, name in zip(outputs, ("mean", "logvar"), strict=True):
        assert tuple(output.shape) == (5, 3), (
            f"{call}: {name} has shape {tuple(output.shape)}, expected (5, 3): one value per "
            "latent dimension: the encoder describes a Gaussian in the latent space"
        )
    print(
        f"\nencoder: image {images.shape[1:]} -> mean {tuple(outputs[0].shape)} and logvar "
        f"{tuple(outputs[1].shape)}"
    )
    decoder = target.build_decoder(3, 16)
    z = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    call = f"{called('build_decoder', 3, 16)}, then decoder({show(z)})"
    decoded = decoder(z)
    assert not isinstance(decoded, (list, tuple)) and tuple(decoded.shape) == (5, 8, 8), (
        f"{call} returned {show(decoded)}: expected one image per code, shape (5, 8, 8): one "
        "value per pixel (no mean and variance per pixel)"
    )
    values = np.asarray(decoded)
    print(
        f"decoder: code {z.shape} -> {tuple(decoded.shape)}, pixel values in "
        f"[{values.min():.3f}, {values.max():.3f}]"
    )
    assert values.min() >= 0 and values.max() <= 1, (
        f"{call} gave pixel values in [{values.min():.3f}, {values.max():.3f}], expected [0, 1] "
        "(a sigmoid output): they are compared with the input pixels directly"
    )
    assert decoder.count_params() == 3 * 16 + 16 + 16 * 64 + 64, (
        f"{call}: the decoder has {decoder.count_params()} parameters; expected Dense(16, relu) "
        "and Dense(64, sigmoid) on a 3-dimensional code"
    )


def test_fixed_latent_code_decodes_to_the_same_image(target, tf):
    """Statement 2: the decoder is a deterministic function; the randomness is in sampling z."""
    decoder = target.build_decoder()
    z = np.random.default_rng(2).standard_normal((6, target.LATENT_DIM)).astype(np.float32)
    outputs = [np.asarray(decoder(z)) for _ in range(3)]
    outputs += [np.asarray(decoder(z, training=True)) for _ in range(2)]
    spread = max(float(np.abs(o - outputs[0]).max()) for o in outputs)
    print(f"\n6 fixed codes decoded 5 times: largest difference between runs {spread}")
    for other in outputs[1:]:
        assert np.array_equal(outputs[0], other), (
            f"{called('build_decoder')} decoded the same codes {show(z)} to different images: "
            "the decoder must be a plain function of z (no noise, no dropout)"
        )
    encoder = target.build_encoder()
    image = np.repeat(target.make_images(1, seed=3), 2, axis=0)  # the same image twice
    mean, logvar = encoder(image)
    z = np.asarray(target.reparameterize(mean, logvar))
    print(f"one image encoded twice, then sampled: z = {np.round(z[0], 3)} and {np.round(z[1], 3)}")
    assert not np.allclose(z[0], z[1]), (
        f"{called('reparameterize', mean, logvar)} gave the same z for the same image twice: "
        "sampling z is where a VAE's variety comes from"
    )


def replace_logvar(keras, encoder, value):
    """The encoder with its log-variance head replaced by a constant: z is then the mean."""
    images = keras.Input(shape=(8, 8))
    mean, logvar = encoder(images)
    return keras.Model(images, [mean, logvar * 0.0 + value])


@pytest.mark.parametrize("kl_weight", [1.0, 0.25], ids=["kl_weight=1", "kl_weight=0.25"])
def test_train_step_loss_is_reconstruction_plus_kl(target, tf, kl_weight):
    import keras

    vae = target.make_vae(kl_weight=kl_weight)
    # log-variance -30: the sample z equals the mean to 7 digits, so the step is deterministic
    vae.encoder = replace_logvar(keras, vae.encoder, -30.0)
    vae.compile(optimizer=keras.optimizers.SGD(0.05))
    images = target.make_images(16, seed=4)
    mean, logvar = (np.asarray(v, np.float64) for v in vae.encoder(images))
    kl = float(np.mean(0.5 * (np.exp(logvar) + mean**2 - 1 - logvar).sum(axis=1)))
    decoded = np.clip(np.asarray(vae.decoder(mean.astype(np.float32)), np.float64), 1e-7, 1 - 1e-7)
    bce = -(images * np.log(decoded) + (1 - images) * np.log(1 - decoded)).sum(axis=(1, 2))
    reconstruction = float(bce.mean())
    weights = {"encoder": vae.encoder.trainable_weights, "decoder": vae.decoder.trainable_weights}
    before = {part: [w.numpy().copy() for w in ws] for part, ws in weights.items()}
    call = f"{called('vae_train_step', vae, images)} with kl_weight={kl_weight}"
    result = target.vae_train_step(vae, tf.constant(images))
    assert isinstance(result, dict) and {"loss", "reconstruction", "kl"} <= set(result), (
        f"{call} returned {show(result)}: expected a dict with 'loss', 'reconstruction', 'kl'"
    )
    got = {k: float(result[k]) for k in ("loss", "reconstruction", "kl")}
    assert got["kl"] == pytest.approx(kl, rel=1e-4), (
        f"{call} reported kl {got['kl']:.4f}, expected {kl:.4f}: the batch mean of the closed-"
        "form KL of the encoder's Gaussians"
    )
    assert got["reconstruction"] == pytest.approx(reconstruction, rel=1e-4), (
        f"{call} reported reconstruction {got['reconstruction']:.4f}, expected "
        f"{reconstruction:.4f}: the batch mean of reconstruction_loss(images, decoded z)"
    )
    expected = reconstruction + kl_weight * kl
    assert got["loss"] == pytest.approx(expected, rel=1e-4), (
        f"{call} reported loss {got['loss']:.4f}, expected {expected:.4f} = reconstruction + "
        f"{kl_weight} * kl"
    )
    for part, ws in weights.items():
        changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before[part], ws, strict=True)]
        # the encoder's log-variance head is cut off above: its weights get no gradient here
        assert all(changed) if part == "decoder" else any(changed), (
            f"{call} left the {part}'s weights unchanged: apply the gradients of the loss with "
            "respect to vae.trainable_weights with vae.optimizer"
        )


# --------------------------------------------------------------------------------------------
# The trained models: a VAE, and the same model trained without the KL term
# --------------------------------------------------------------------------------------------

_TRAINED = {}


def trained(target):
    """The training images and both trained models, trained once per target module."""
    key = target.__file__
    if key not in _TRAINED:
        images = target.make_images(TRAIN_IMAGES, seed=TRAIN_SEED)
        models = {
            "VAE": target.train_vae(images, kl_weight=1.0, steps=TRAIN_STEPS, seed=TRAIN_SEED),
            "no KL term": target.train_vae(
                images, kl_weight=0.0, steps=TRAIN_STEPS, seed=TRAIN_SEED
            ),
        }
        _TRAINED[key] = images, models
    return _TRAINED[key]


def test_kl_term_pulls_encodings_towards_standard_normal(target, tf):
    """Statement 3: the KL term measures, and training shrinks, the distance to N(0, I)."""
    images, models = trained(target)
    kl = {}
    print()
    for name, model in models.items():
        mean, logvar = model.encoder(images)
        kl[name] = float(np.mean(target.kl_divergence(mean, logvar)))
        mean, variance = np.asarray(mean), np.exp(np.asarray(logvar))
        print(
            f"{name:>10s}: mean KL from N(0, I) {kl[name]:6.2f}; per latent dimension: "
            f"spread of the means {np.round(mean.std(0), 2)}, mean variance "
            f"{np.round(variance.mean(0), 3)}"
        )
    assert kl["VAE"] <= KL_RATIO * kl["no KL term"], (
        f"after {TRAIN_STEPS} steps the VAE's encodings have a mean KL divergence from N(0, I) of "
        f"{kl['VAE']:.2f}, the same model trained without the KL term {kl['no KL term']:.2f}; "
        f"expected at most {KL_RATIO} times as much: the KL term pulls every encoded Gaussian "
        "towards the standard normal"
    )


def test_prior_samples_look_like_data_only_with_kl(target, tf):
    """Statement 6: decode draws from N(0, I) and measure how far they are from any real image."""
    images, models = trained(target)
    distance = {
        name: target.distance_to_data(target.prior_samples(model, 256), images)
        for name, model in models.items()
    }
    blank = target.distance_to_data(np.zeros((1, 8, 8)), images)
    print(
        f"\ndecoded draws from N(0, I), distance to the nearest training image: VAE "
        f"{distance['VAE']:.3f}, no KL term {distance['no KL term']:.3f} "
        f"(a blank image: {blank:.3f})"
    )
    assert distance["VAE"] <= PRIOR_DISTANCE_RATIO * distance["no KL term"], (
        f"decoded draws from N(0, I) lie {distance['VAE']:.3f} from the nearest training image "
        f"with the VAE and {distance['no KL term']:.3f} without the KL term (a blank image: "
        f"{blank:.3f}); expected the VAE's at most {PRIOR_DISTANCE_RATIO} times the other's: "
        "the KL term packs the codes densely around 0, so that random codes decode to images "
        "like the data"
    )


def test_pictures_are_written(target, tf, tmp_path):
    images, models = trained(target)
    paths = target.save_pictures(models, images[:256], tmp_path)
    assert len(paths) == 2, f"save_pictures returned {show(paths)}, expected two paths"
    for path in paths:
        expect_png(path, min_bytes=1001)
