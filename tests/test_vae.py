"""The VAE of notebook 08: shapes, the KL, active units, the losses, the explorer, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from course_utils import data, training, vae


def test_shapes_of_both_vaes():
    curve = vae.CurveVAE(rngs=nnx.Rngs(0))
    mean, log_var = curve.encode(np.zeros((5, 15), np.float32))
    assert mean.shape == log_var.shape == (5, vae.LATENTS)
    assert curve.decode(mean).shape == (5, 15) and curve(np.zeros((5, 15))).shape == (5, 15)
    assert curve.decoder_filters().shape == (15, vae.LATENTS)
    patch = vae.PatchVAE(rngs=nnx.Rngs(0), latents=4)
    mean, log_var = patch.encode(np.zeros((3, 7), np.float32))
    assert mean.shape == log_var.shape == (3, 1, 4)
    assert patch.decode(mean).shape == (3, 7)
    assert patch.encode(np.zeros((2, 15), np.float32))[0].shape == (2, 3, 4)  # three windows on a curve
    assert patch.decoder_filters().shape == (7, 4)


def test_patch_vae_decoder_paints_its_filters_as_stored():
    patch = vae.PatchVAE(rngs=nnx.Rngs(1), latents=3)
    z = np.zeros((1, 1, 3), np.float32)
    z[0, 0, 2] = 1.0
    painted = np.asarray(patch.decode(z))[0] - np.asarray(patch.decoder_bias())[0]
    assert np.allclose(painted, np.asarray(patch.decoder_filters())[:, 2], atol=1e-6)


@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (0.5, 0.2), (-1.5, 2.0), (0.3, 0.05)])
def test_closed_form_kl_matches_monte_carlo(mean, std):
    closed = float(vae.gaussian_kl(mean, 2 * np.log(std)))
    assert closed >= 0
    assert np.isclose(vae.kl_monte_carlo(mean, std, n=400_000, seed=1), closed, atol=0.02 + 0.01 * closed)


def test_kl_is_zero_only_at_the_prior():
    assert float(vae.gaussian_kl(0.0, 0.0)) == 0.0
    assert float(vae.gaussian_kl(0.1, 0.0)) > 0 and float(vae.gaussian_kl(0.0, -0.1)) > 0


def test_kl_per_latent_and_active_units_on_hand_made_means():
    rng = np.random.default_rng(0)
    mean = np.column_stack([rng.normal(size=1000), 0.2 * rng.normal(size=1000), np.full(1000, 0.3),
                            0.05 * rng.normal(size=1000)])
    std = np.ones_like(mean)
    assert vae.active_units(mean).tolist() == [True, True, False, False]  # variances 1, 0.04, 0, 0.0025
    assert np.allclose(vae.activity(mean), mean.var(axis=0))
    assert np.allclose(vae.kl_per_latent(mean, std), 0.5 * (mean**2).mean(axis=0))


def test_vae_loss_is_reconstruction_plus_beta_kl():
    model = vae.CurveVAE(rngs=nnx.Rngs(2))
    x = data.bezier_curves(32, seed=0)
    key = jax.random.key(0)
    mean, log_var = model.encode(x)
    z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape)
    recon = float((((model.decode(z) - x) ** 2).sum(axis=1) / (2 * 0.1**2)).mean())
    kl = float(vae.gaussian_kl(mean, log_var).sum(axis=1).mean())
    assert np.isclose(float(vae.vae_loss(beta=3.0, sigma=0.1)(model, x, key)), recon + 3.0 * kl, rtol=1e-5)


def test_linear_vae_prediction_on_data_with_known_variances():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20000, 4)) * np.array([1.0, 0.3, 0.05, 0.0])
    pred = vae.linear_vae_prediction(x, beta=1.0, sigma=0.1, latents=5)
    assert pred["active"].tolist() == [True, True, False, False, False]
    assert np.allclose(pred["std"][:2], [0.1, 0.1 / 0.3], rtol=0.02)
    assert np.allclose(pred["kl"][:2], 0.5 * np.log(np.array([1.0, 0.09]) / 0.01), atol=0.02)


def test_r_squared_of_an_exact_linear_relation_is_one():
    rng = np.random.default_rng(4)
    features = rng.normal(size=(100, 2))
    targets = features @ np.array([[1.0, 2.0], [-1.0, 0.5]]) + 3.0
    assert np.allclose(vae.r_squared(features, targets), 1.0)
    assert vae.r_squared(features[:, :1], rng.normal(size=(100, 1)))[0] < 0.2


def test_prior_samples_shapes():
    assert vae.prior_samples(vae.CurveVAE(rngs=nnx.Rngs(0)), 9, seed=0).shape == (9, 15)
    assert vae.prior_samples(vae.PatchVAE(rngs=nnx.Rngs(0)), 9, seed=0).shape == (9, 7)


def test_a_short_training_run_switches_off_latents_on_curves():
    result = training.train(lambda rngs: vae.CurveVAE(rngs=rngs, latents=3), data.bezier_curves(2048, seed=0),
                            seeds=[0], config=training.TrainConfig(steps=8000), loss=vae.vae_loss(sigma=0.05),
                            progress=False)
    mean, std = vae.posterior(result.model(0), data.bezier_curves(512, seed=1))
    kl = np.sort(vae.kl_per_latent(mean, std))
    assert kl[0] < 0.1 < kl[1], "curves are 2-D: one of three latents should be switched off"


def test_regularised_loss_adds_its_prices():
    from course_utils import models
    model = models.PatchAutoencoder(rngs=nnx.Rngs(0), activation="linear")
    x = data.patches(data.bezier_curves(8, seed=0))
    key = jax.random.key(0)
    plain = float(vae.regularised_loss()(model, x, key))
    kernels = float((model.encoder.conv.kernel[...] ** 2).sum() + (model.decoder.deconv.kernel[...] ** 2).sum())
    assert np.isclose(plain, float(((model(x) - x) ** 2).mean()), rtol=1e-6)
    assert np.isclose(float(vae.regularised_loss(weight_decay=0.5)(model, x, key)), plain + 0.5 * kernels, rtol=1e-5)
    l1 = float(np.abs(np.asarray(model.encode(x))).mean())
    assert np.isclose(float(vae.regularised_loss(code_l1=2.0)(model, x, key)), plain + 2.0 * l1, rtol=1e-5)


def test_explorer_draws_what_the_decoder_computes():
    model = vae.CurveVAE(rngs=nnx.Rngs(5))
    fig, artists = vae.latent_curve_figure(model, (1, 3))
    curve = vae.update_latent_curve(artists, 0.7, -1.2)
    z = np.zeros((1, vae.LATENTS), np.float32)
    z[0, 1], z[0, 3] = 0.7, -1.2
    assert np.allclose(curve, np.asarray(model.decode(z))[0], atol=1e-5)
    assert np.allclose(artists["curve"].get_ydata(), curve)
    assert np.allclose(artists["scaled"][1].get_ydata(), -1.2 * artists["filters"][:, 3])


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: vae.CurveVAE(rngs=nnx.Rngs(0)).encode(np.zeros((2, 7))), ValueError, "(batch, 15)"),
        (lambda: vae.PatchVAE(rngs=nnx.Rngs(0)).encode(np.zeros((2, 8))), ValueError, "7 + 4*k"),
        (lambda: vae.PatchVAE(rngs=nnx.Rngs(0)).decode(np.zeros((2, 1, 3))), ValueError, "6 latents"),
        (lambda: vae.CurveVAE(rngs=nnx.Rngs(0), latents=0), ValueError, "latents"),
        (lambda: vae.vae_loss(sigma=0.0), ValueError, "sigma"),
        (lambda: vae.vae_loss(beta=-1.0), ValueError, "beta"),
        (lambda: vae.regularised_loss(input_noise=-0.1), ValueError, "input_noise"),
        (lambda: vae.kl_per_latent(np.zeros((3, 2)), np.zeros((3, 2))), ValueError, "std must be > 0"),
        (lambda: vae.kl_per_latent(np.zeros((3, 2)), np.ones((3, 3))), ValueError, "one shape"),
        (lambda: vae.activity(np.zeros(4)), ValueError, "(rows, latents)"),
        (lambda: vae.activity(np.zeros((1, 4))), ValueError, "two rows"),
        (lambda: vae.kl_monte_carlo(0.0, 0.0), ValueError, "std must be > 0"),
        (lambda: vae.r_squared(np.zeros((3, 1)), np.zeros((4, 1))), ValueError, "one row per example"),
        (lambda: vae.posterior("model", np.zeros((2, 15))), TypeError, "CurveVAE or PatchVAE"),
        (lambda: vae.latent_curve_figure(vae.CurveVAE(rngs=nnx.Rngs(0)), (0, 0)), ValueError, "two different"),
        (lambda: vae.linear_vae_prediction(np.zeros((4, 3)), beta=0.0, sigma=0.1), ValueError, "> 0"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
