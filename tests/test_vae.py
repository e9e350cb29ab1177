"""The VAE of notebook 08: shapes, the KL, active units, the losses, the explorer, bad input."""

import types

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pytest
from flax import nnx

from course_utils.core import training
from course_utils.part1 import data
from course_utils.part2 import vae, vae_lesson


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
    from course_utils.part1 import models
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
    fig, artists = vae_lesson.latent_curve_figure(model, (1, 3))
    curve = vae_lesson.update_latent_curve(artists, 0.7, -1.2)
    z = np.zeros((1, vae.LATENTS), np.float32)
    z[0, 1], z[0, 3] = 0.7, -1.2
    assert np.allclose(curve, np.asarray(model.decode(z))[0], atol=1e-5)
    assert np.allclose(artists["curve"].get_ydata(), curve)
    assert np.allclose(artists["scaled"][1].get_ydata(), -1.2 * artists["filters"][:, 3])
    plt.close(fig)


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
        (lambda: vae_lesson.latent_curve_figure(vae.CurveVAE(rngs=nnx.Rngs(0)), (0, 0)), ValueError, "two different"),
        (lambda: vae.linear_vae_prediction(np.zeros((4, 3)), beta=0.0, sigma=0.1), ValueError, "> 0"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


# --- notebook 08's experiment functions ---------------------------------------------------------

def _curve_vae_with_known_posterior():
    """Latent 0: mean 0, std 1 (the prior); latent 1: mean = 3 * p1-ish, std 0.1; latent 2: small mean, std 0.5."""
    model = vae.CurveVAE(rngs=nnx.Rngs(0), latents=3)
    a, b = data.basis()
    kernel = np.zeros((15, 3), np.float32)
    kernel[:, 1] = 3 * a / (a @ a)
    kernel[:, 2] = 0.05 * b / (b @ b)
    model.mean.kernel[...] = kernel
    model.mean.bias[...] = np.zeros(3, np.float32)
    model.log_var.kernel[...] = np.zeros((15, 3), np.float32)
    model.log_var.bias[...] = 2 * np.log(np.array([1.0, 0.1, 0.5], np.float32))
    return model


def test_read_latents_sorts_by_kl_and_counts_by_both_tests():
    model = _curve_vae_with_known_posterior()
    result = types.SimpleNamespace(models=lambda: [model], seeds=(0,))
    x = data.bezier_curves(512, seed=3)
    (row,) = vae_lesson.read_latents(result, x)
    mean, std = vae.posterior(model, x)
    kl = vae.kl_per_latent(mean, std)
    assert row["order"].tolist() == [1, 2, 0]  # the big latent, the small one, the prior
    assert np.allclose(row["kl"], kl[[1, 2, 0]]) and np.allclose(row["mean"], mean[:, [1, 2, 0]])
    assert np.allclose(row["std"], [0.1, 0.5, 1.0], rtol=1e-4)
    counts = vae_lesson.latent_counts([row], vae.linear_vae_prediction(x, beta=1.0, sigma=0.02))
    assert counts["active"] == [int(vae.active_units(mean).sum())]
    assert counts["carrying"] == [int((kl > vae_lesson.CARRYING_NATS).sum())] and counts["predicted"] == 2
    fig = vae_lesson.kl_figure({"curves": [row, row]}, {"curves": vae.linear_vae_prediction(x, beta=1.0, sigma=0.02)},
                        beta=1.0, sigma=0.02)
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == 2 * 3  # two seeds x three latents
    plt.close(fig)


def test_linear_vae_prediction_mse_is_the_error_of_the_ppca_solution():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4000, 5)) @ np.diag([1.0, 0.5, 0.2, 0.05, 0.01]) @ np.linalg.qr(rng.normal(size=(5, 5)))[0]
    noise = 0.3 * 0.1**2
    pred = vae.linear_vae_prediction(x, beta=0.3, sigma=0.1, latents=2)
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    lam = s[:2] ** 2 / len(x)
    w = vt[:2].T * np.sqrt(lam - noise)  # Tipping & Bishop's maximum-likelihood decoder
    z = np.linalg.solve(w.T @ w + noise * np.eye(2), w.T @ centred.T).T  # the posterior mean
    assert np.isclose(pred["mse"], ((centred - z @ w.T) ** 2).mean(), rtol=1e-6)


def test_weight_decay_prediction_matches_a_numerical_minimum():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(6)
    basis = np.linalg.qr(rng.normal(size=(7, 7)))[0]
    x = 0.3 + rng.normal(size=(3000, 7)) * np.array([0.6, 0.25, 0.08, 0.02, 0.01, 0.005, 0.0]) @ basis.T
    wd = 3e-4

    for tied in (False, True):
        def loss(params, tied=tied):
            enc = params[:21].reshape(7, 3)
            dec = enc if tied else params[21:42].reshape(7, 3)
            b1, b2 = params[42:45], params[45:52]
            out = (x @ enc + b1) @ dec.T + b2
            return ((out - x) ** 2).mean() + wd * ((enc**2).sum() + (0 if tied else (dec**2).sum()))

        start = np.concatenate([0.3 * basis[:, :3].ravel(), 0.3 * basis[:, :3].ravel(), np.zeros(10)])
        best = scipy_optimize.minimize(loss, start, method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-12})
        enc = best.x[:21].reshape(7, 3)
        dec = enc if tied else best.x[21:42].reshape(7, 3)
        pred = vae.weight_decay_prediction(x, wd, tied=tied)
        b1, b2 = best.x[42:45], best.x[45:52]
        mse = (((x @ enc + b1) @ dec.T + b2 - x) ** 2).mean()
        assert np.isclose(mse, pred["mse"], rtol=0.02), (tied, mse, pred["mse"])
        centred_dirs = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)[2][:3].T
        gains = np.einsum("tk,tk->k", dec @ enc.T @ centred_dirs, centred_dirs)
        assert np.allclose(gains, pred["gain"], atol=0.02), (tied, gains, pred["gain"])
    untied, tied = (vae.weight_decay_prediction(x, wd, tied=t)["gain"] for t in (False, True))
    assert np.all(tied >= untied) and vae.weight_decay_prediction(x, 0.0)["gain"].tolist() == [1.0, 1.0, 1.0]


def _projection_autoencoder(directions, scales=(1.0, 1.0, 1.0)):
    """A tied linear autoencoder whose kernel is three orthogonal directions of lengths ``scales``;
    with unit lengths model(x) projects x on them."""
    from course_utils.part1 import models
    model = models.TiedPatchAutoencoder(rngs=nnx.Rngs(0), activation="linear")
    model.encoder.conv.kernel[...] = np.asarray(directions[:, None, :3] * np.array(scales), np.float32)
    model.encoder.conv.bias[...] = np.zeros(3, np.float32)
    return model


def test_gains_components_and_bases_of_a_projection():
    directions = np.linalg.qr(np.random.default_rng(7).normal(size=(7, 7)))[0]
    model = _projection_autoencoder(directions)
    assert np.allclose(vae.gains_along(model, directions), [1, 1, 1, 0, 0, 0, 0], atol=1e-5)
    x = np.random.default_rng(8).normal(size=(200, 3)) @ directions[:, :3].T
    assert vae.components_in_use(model, x.astype(np.float32)) == 3
    assert vae.components_in_use(model, (x @ directions[:, :2] @ directions[:, :2].T).astype(np.float32)) == 2
    # distinct lengths, so that the singular vectors are defined: they are the directions
    scaled = _projection_autoencoder(directions, (1.0, 0.8, 0.5))
    assert np.allclose(vae.gains_along(scaled, directions[:, :4]), [1, 0.64, 0.25, 0], atol=1e-5)
    report = vae_lesson.basis_report(types.SimpleNamespace(models=lambda: [scaled], seeds=(0,)), directions[:, :3])
    for key in ("span", "singular_vectors", "filters", "transpose_gap"):
        assert np.allclose(report[key], 0, atol=0.05), key
    assert np.allclose(report["singular_values"], [[1, 0.8, 0.5]], atol=1e-5)
    fig = vae_lesson.singular_vectors_figure({"a": types.SimpleNamespace(model=lambda i: model)}, directions[:, :3])
    assert fig.axes[0].get_ylabel() == "component of the unit vector" and len(fig.axes[0].lines) == 1 + 6
    plt.close(fig)


def test_family_check_and_prior_samples_figure():
    curves = data.bezier_curves(50, seed=2)
    check = vae_lesson.family_check(curves)
    assert check["ends"] < 1e-6 and check["off_plane"] < 1e-5 and check["max_abs"].max() <= 0.75 + 1e-6
    assert np.isclose(vae_lesson.family_check(curves + 0.1)["ends"], 0.1, atol=1e-6)
    fig = vae_lesson.prior_samples_figure(curves, n=7)
    assert len([line for line in fig.axes[0].lines if line.get_color() == "tab:blue"]) == 7
    plt.close(fig)


def test_beta_sweep_reuses_runs_and_reads_each_beta():
    x = data.patches(data.bezier_curves(256, seed=0))
    table = vae_lesson.beta_sweep(x, x, (3000.0,), sigma=0.02, steps=300, seeds=(0,))
    row = table[3000.0]
    assert row["predicted"] == 0 and row["active"] == [0] and row["mse"].shape == (1,)
    assert np.isclose(row["predicted_mse"], x.var(axis=0).sum() / x.shape[1], rtol=1e-4)  # nothing kept
    again = vae_lesson.beta_sweep(x, x, (3000.0,), sigma=0.02, steps=300, seeds=(0,), done={3000.0: row["result"]})
    assert again[3000.0]["result"] is row["result"]
    fig = vae_lesson.beta_sweep_figure(table, x, sigma=0.02)
    assert [ax.get_xscale() for ax in fig.axes] == ["log", "log"]
    plt.close(fig)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: vae_lesson.read_latents("run", np.zeros((2, 15))), TypeError, "TrainResult"),
        (lambda: vae_lesson.latent_counts([], {}), TypeError, "read_latents"),
        (lambda: vae_lesson.kl_figure({"a": []}, {"b": {}}, beta=1.0, sigma=0.1), ValueError, "same data sets"),
        (lambda: vae_lesson.family_check(np.zeros((2, 7))), ValueError, "(n, 15)"),
        (lambda: vae.weight_decay_prediction(np.zeros((4, 7)), -1.0), ValueError, "weight_decay"),
        (lambda: vae_lesson.train_autoencoders(np.zeros((4, 7)), {"x": ("loose", vae.regularised_loss())}, steps=1),
         ValueError, "kind"),
        (lambda: vae_lesson.train_autoencoders(np.zeros((4, 7)), {"x": ("tied", vae.vae_loss())}, steps=1),
         TypeError, "regularised_loss"),
        (lambda: vae_lesson.singular_vectors_figure({}, np.eye(7)[:, :3]), ValueError, "at least one"),
    ],
)
def test_bad_input_to_the_experiments_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_linear_vae_prediction_from_a_spectrum_equals_the_one_from_data():
    x = data.patches(data.bezier_curves(512, seed=4))
    spectrum = vae.principal_variances(x)
    assert np.allclose(spectrum, np.linalg.svd(x - x.mean(axis=0), compute_uv=False) ** 2 / len(x), rtol=1e-6,
                       atol=1e-12)
    for beta in (0.1, 10.0, 1000.0):
        a, b = vae.linear_vae_prediction(x, beta=beta, sigma=0.02), vae.linear_vae_prediction(spectrum, beta=beta,
                                                                                               sigma=0.02)
        assert all(np.allclose(a[k], b[k]) for k in a)


def test_gaussian_kl_check_accepts_every_answer_at_the_stated_precision(capsys):
    exact = float(vae.gaussian_kl(0.5, 2 * np.log(0.2)))
    # the Monte Carlo estimate the notebook points to, the exact value, and both rounded
    for answer in (vae.kl_monte_carlo(0.5, 0.2), 1.2533, 1.254, 1.25, exact, round(exact, 2)):
        assert vae_lesson.check_gaussian_kl(answer, 0.5, 0.2) is True, answer
    for wrong in (2 * exact, exact + 0.5, 1.27):  # no 1/2, no -1, off at the second decimal
        assert vae_lesson.check_gaussian_kl(wrong, 0.5, 0.2) is False, wrong
    assert vae_lesson.check_gaussian_kl(None, 0.5, 0.2) is None
    assert "two decimals" in capsys.readouterr().out


def test_code_noise_check_accepts_any_right_function_and_names_the_slip(capsys):
    assert vae_lesson.check_code_noise(None) is None
    solution = vae_lesson.solve_code_noise()
    assert vae_lesson.check_code_noise(solution) is True
    assert vae_lesson.check_code_noise(
        lambda v, b, s: jnp.minimum(1.0, jnp.sqrt(b * s * s / jnp.asarray(v)))) is True  # another right way
    capsys.readouterr()
    slips = {
        "squares": lambda v, b, s: np.where(v > b * s**2, b * s**2 / v, 1.0),
        "inverse": lambda v, b, s: np.where(v > b * s**2, np.sqrt(v / (b * s**2)), 1.0),
        "sigma squared": lambda v, b, s: np.where(v > b * s, np.sqrt(b * s / v), 1.0),
        "prior's, 1": lambda v, b, s: np.sqrt(b * s**2 / v),
    }
    for words, wrong in slips.items():
        assert vae_lesson.check_code_noise(wrong) is False
        assert words in capsys.readouterr().out, words
    assert vae_lesson.check_code_noise(lambda v, b, s: float(np.sum(v))) is False
    assert "expected shape" in capsys.readouterr().out
