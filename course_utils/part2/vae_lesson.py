"""Notebook 08's experiments, figures, explorer and exercises: what a VAE keeps.

The reusable parts (the VAE models, the KL divergence, the losses, reading a
trained VAE, the linear theory) are in :mod:`course_utils.part2.vae`; this module
holds what only notebook 08 runs: its readings of trained models, its figures, the
latent-curve explorer and its exercise checks.
"""

from __future__ import annotations

import functools

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

from ..core import checks, training
from ..core.exercise import solution, solves, verdict, verdict_on_function  # noqa: F401  (notebooks call vae_lesson.solution)
from ..display.explorer import Control, Explorer
from ..part1 import analysis, data, losses, models
from ..part1.plotting import WINDOW_COLORS, curve_axes, patch_axes
from . import vae


CARRYING_NATS = 0.1
"""A latent carries information if its mean KL over the data exceeds this many nats (notebook 08)."""


def _checked_result(result):
    if not hasattr(result, "models") or not hasattr(result, "seeds"):
        raise TypeError(f"result must be a TrainResult from training.train(), got {type(result).__name__}")
    return result


def read_latents(result, x) -> list[dict]:
    """Read every seed of a trained VAE run on ``x``; the latents sorted by KL, largest first.

    One dict per seed: ``kl`` (nats), ``activity`` (variance of the posterior mean),
    ``std`` (mean posterior standard deviation), each (latents,); ``mean`` (rows,
    latents), the posterior means in the same order; ``order[k]``: the model's index of
    the latent ranked k.
    """
    rows = []
    for model in _checked_result(result).models():
        mean, std = vae.posterior(model, x)
        kl = vae.kl_per_latent(mean, std)
        order = np.argsort(-kl, kind="stable")
        rows.append({"kl": kl[order], "activity": vae.activity(mean)[order], "std": std.mean(axis=0)[order],
                     "mean": mean[:, order], "order": order})
    return rows


def latent_counts(readings: list[dict], prediction: dict) -> dict:
    """Latents in use per seed, by two tests, and the linear-VAE prediction.

    ``active``: Burda's variance test (:func:`active_units`); ``carrying``: KL above
    :data:`CARRYING_NATS`; both lists with one count per seed. ``predicted``: how many
    directions ``prediction`` (from :func:`linear_vae_prediction`) keeps.
    """
    if not readings or not all(isinstance(r, dict) and "mean" in r and "kl" in r for r in readings):
        raise TypeError("readings must be the list of dicts that read_latents returns")
    return {"active": [int(vae.active_units(r["mean"]).sum()) for r in readings],
            "carrying": [int(np.sum(r["kl"] > CARRYING_NATS)) for r in readings],
            "predicted": int(np.sum(prediction["active"]))}


def kl_figure(readings: dict, predictions: dict, *, beta: float, sigma: float) -> plt.Figure:
    """Bars: each seed's KL per latent (ranked), one panel per data set; dashes: the linear-VAE prediction.

    ``readings`` maps a data set's name to :func:`read_latents`'s list, ``predictions``
    the same name to :func:`linear_vae_prediction`'s dict.
    """
    if not readings or set(readings) != set(predictions):
        raise ValueError(f"readings and predictions must name the same data sets, got {list(readings)} "
                         f"and {list(predictions)}")
    fig, axes = plt.subplots(1, len(readings), figsize=(5.5 * len(readings), 3.6), sharey=True,
                             constrained_layout=True, squeeze=False)
    for ax, (name, rows) in zip(axes[0], readings.items()):
        n = len(rows[0]["kl"])
        ranks, width = np.arange(1, n + 1), 0.8 / len(rows)
        for s, r in enumerate(rows):
            ax.bar(ranks + (s - (len(rows) - 1) / 2) * width, r["kl"], width, label=f"seed {s}")
        ax.hlines(predictions[name]["kl"][:n], ranks - 0.45, ranks + 0.45, colors="black", linestyles="--",
                  label="linear-VAE prediction")
        ax.set_xticks(ranks)
        ax.set_xlabel("latent, ranked by KL")
        ax.set_title(f"{name}: KL of each latent (β = {beta:g}, σ = {sigma:g})", fontsize=10)
    axes[0, 0].set_ylabel("mean KL to the prior (nats)")
    axes[0, -1].legend(fontsize=8, loc="upper right")
    return fig


def family_check(samples) -> dict:
    """How far decoded curves are from the Bezier family: ``ends`` (largest |y| at an end point),
    ``off_plane`` (largest distance from the plane of ``data.basis``), ``max_abs`` (each curve's largest |y|)."""
    samples = np.asarray(checks.array("samples", samples, ndim=2, shape_hint=f"(n, {data.N_POINTS})"), np.float64)
    if samples.shape[1] != data.N_POINTS:
        raise ValueError(f"samples must have shape (n, {data.N_POINTS}), got {samples.shape}")
    plane, _ = np.linalg.qr(np.column_stack(data.basis()))
    return {"ends": float(np.abs(samples[:, [0, -1]]).max()),
            "off_plane": float(np.linalg.norm(samples - samples @ plane @ plane.T, axis=1).max()),
            "max_abs": np.abs(samples).max(axis=1)}


def prior_samples_figure(samples, *, limit: float = 0.75, n: int = 20) -> plt.Figure:
    """The first ``n`` decoded prior samples over the band |y| > ``limit`` that no curve of the family enters."""
    samples = checks.array("samples", samples, ndim=2, shape_hint=f"(n, {data.N_POINTS})")
    n = checks.positive_int("n", n)
    limit = checks.positive_float("limit", limit)
    fig, ax = plt.subplots(figsize=(7, 3.4), constrained_layout=True)
    curve_axes(ax, f"{min(n, len(samples))} curves decoded from the prior N(0, I)")
    for k, curve in enumerate(np.asarray(samples)[:n]):
        ax.plot(range(samples.shape[1]), curve, color="tab:blue", alpha=0.5, label="prior sample" if k == 0 else None)
    ax.axhspan(limit, 0.8, color="tab:red", alpha=0.15, label=f"|y| > {limit:g}: outside the family")
    ax.axhspan(-0.8, -limit, color="tab:red", alpha=0.15)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the axes: covers no curve
    return fig


def beta_sweep(train_x, test_x, betas, *, sigma: float, steps: int, seeds=(0, 1), done: dict | None = None) -> dict:
    """Train a :class:`PatchVAE` per β (one compiled program for all) and read each against the prediction.

    ``done`` maps a β to a run already trained (its first ``len(seeds)`` seeds are used).
    Returns, per β: ``result``, ``active`` (Burda's count per seed), ``mse`` (held-out
    error of the decoded mean per seed), ``predicted`` (kept directions) and
    ``predicted_mse`` (from :func:`linear_vae_prediction`).
    """
    train_x = checks.array("train_x", train_x, ndim=2, shape_hint="(n_patches, 7)", dtype=None)
    test_x = checks.array("test_x", test_x, ndim=2, shape_hint="(n_patches, 7)", dtype=None)
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__iter__"):
        raise TypeError(f"betas must be a list of beta values, e.g. [0.1, 1.0], got {betas!r}")
    betas = [checks.non_negative_float(f"betas[{i}]", b) for i, b in enumerate(betas)]
    checks.positive_float("sigma", sigma)
    steps = checks.positive_int("steps", steps)
    seeds, done = list(checks.int_sequence("seeds", seeds)), dict(done or {})
    table = {}
    for beta in betas:
        beta = checks.non_negative_float("beta", beta)
        result = done.get(beta) or training.train(
            vae.PatchVAE, train_x, seeds=seeds, config=training.TrainConfig(steps=steps),
            loss=vae.vae_loss(beta=beta, sigma=sigma), progress=False)
        models = result.models()[:len(seeds)]
        prediction = vae.linear_vae_prediction(train_x, beta=beta, sigma=sigma)
        table[beta] = {"result": result, "active": [int(vae.active_units(vae.posterior(m, test_x)[0]).sum()) for m in models],
                       "mse": losses.reconstruction_mse(result, test_x)[:len(seeds)],
                       "predicted": int(prediction["active"].sum()), "predicted_mse": prediction["mse"]}
    return table


def beta_sweep_figure(table: dict, train_x, *, sigma: float) -> plt.Figure:
    """Left: active latents against β, trained and predicted; right: held-out error, trained and predicted."""
    betas = np.array(sorted(table))
    grid = np.logspace(np.log10(betas.min()) - 2, np.log10(betas.max()) + 1, 200)
    spectrum = vae.principal_variances(train_x)
    predicted = [vae.linear_vae_prediction(spectrum, beta=g, sigma=sigma) for g in grid]
    fig, (ax_n, ax_e) = plt.subplots(1, 2, figsize=(11, 3.4), constrained_layout=True)
    ax_n.step(grid, [p["active"].sum() for p in predicted], where="post", color="black",
              label="prediction: variance > βσ²")
    for k, beta in enumerate(betas):
        active = table[beta]["active"]
        ax_n.plot([beta] * len(active), active, "o", color="tab:blue", alpha=0.6,
                  label="trained (each seed)" if k == 0 else None)
    ax_n.set_ylabel(f"active latents (of {vae.LATENTS})")
    ax_n.set_title("the price β switches latents off", fontsize=10)
    ax_e.plot(grid, [p["mse"] for p in predicted], color="black", label="prediction (pPCA)")
    ax_e.plot(betas, [table[b]["mse"].mean() for b in betas], "o", color="tab:red",
              label=f"trained (mean of {len(table[betas[0]]['mse'])} seeds)")
    ax_e.set_yscale("log")
    ax_e.set_ylabel("held-out MSE (decoded mean)")
    ax_e.set_title("and the reconstruction pays for it", fontsize=10)
    for ax in (ax_n, ax_e):
        ax.set_xscale("log")
        ax.set_xlabel("β")
        ax.legend(fontsize=8, loc="upper left" if ax is ax_e else "lower left")
    return fig


AUTOENCODERS = ("untied", "tied")
"""The two linear patch autoencoders of notebook 08: ``models.PatchAutoencoder`` and ``models.TiedPatchAutoencoder``."""


def train_autoencoders(x, variants: dict, *, steps: int, seeds=(0, 1)) -> dict:
    """Train linear patch autoencoders, one run per variant: ``{label: (kind, loss)}`` -> ``{label: TrainResult}``.

    ``kind`` is "untied" or "tied"; ``loss`` a :func:`regularised_loss` (its prices are
    inputs of the compiled program, so variants of one kind share it).
    """
    makers = {"untied": functools.partial(models.PatchAutoencoder, activation="linear"),
              "tied": functools.partial(models.TiedPatchAutoencoder, activation="linear")}
    x = checks.array("x", x, ndim=2, shape_hint="(n_patches, 7)", dtype=None)
    checks.mapping("variants", variants, what="labels to (kind, loss) pairs")
    steps = checks.positive_int("steps", steps)
    seeds = checks.int_sequence("seeds", seeds)
    runs = {}
    for label, (kind, loss) in variants.items():
        checks.one_of("kind", kind, set(AUTOENCODERS))
        if not isinstance(loss, vae.RegularisedLoss):
            raise TypeError(f"the loss of {label!r} must come from regularised_loss(), got {type(loss).__name__}")
        runs[label] = training.train(makers[kind], x, seeds=list(seeds), config=training.TrainConfig(steps=steps),
                                     loss=loss, progress=False)
    return runs


def _decoder_and_encoder(model):
    decoder = model.decoder_filters() if hasattr(model, "decoder_filters") else model.decoder.filters()
    return np.asarray(decoder, np.float64), np.asarray(model.encoder.filters(), np.float64)


def _angles_deg(columns, reference):
    """Angle between column k of each and reference column k, sign ignored."""
    unit = columns / np.linalg.norm(columns, axis=0)
    return np.degrees(np.arccos(np.clip(np.abs((unit * reference).sum(axis=0)), 0, 1)))


def basis_report(result, directions) -> dict:
    """How a trained linear autoencoder's bases sit against the top principal ``directions`` (columns), per seed.

    ``span``: the largest principal angle between the decoder filters' span and the
    directions' span; ``singular_vectors``: the largest angle between the decoder's
    left singular vector k and direction k; ``filters``: the same for the filters
    themselves after matching sign and order (``analysis.align_filters``);
    ``transpose_gap``: |E - D| / |D| of encoder and decoder filters; ``singular_values``
    of the decoder, (seeds, k). Angles in degrees, each (seeds,).
    """
    directions = np.asarray(checks.array("directions", directions, ndim=2, shape_hint="(taps, k)"), np.float64)
    rows = {key: [] for key in ("span", "singular_vectors", "filters", "transpose_gap", "singular_values")}
    for model in _checked_result(result).models():
        decoder, encoder = _decoder_and_encoder(model)
        k = decoder.shape[1]
        left, singular, _ = np.linalg.svd(decoder, full_matrices=False)
        matched = analysis.align_filters(np.stack([directions[:, :k], decoder]))[0][1]
        rows["span"].append(analysis.principal_angles_deg(decoder, directions[:, :k]).max())
        rows["singular_vectors"].append(_angles_deg(left, directions[:, :k]).max())
        rows["filters"].append(_angles_deg(matched, directions[:, :k]).max())
        rows["transpose_gap"].append(np.linalg.norm(encoder - decoder) / np.linalg.norm(decoder))
        rows["singular_values"].append(singular)
    return {key: np.array(value) for key, value in rows.items()}


def singular_vectors_figure(runs: dict, directions, *, seed_index: int = 0) -> plt.Figure:
    """One panel per run: the decoder's left singular vectors (dots) over the principal directions (thick)."""
    directions = np.asarray(checks.array("directions", directions, ndim=2, shape_hint="(taps, k)"), np.float64)
    if not runs:
        raise ValueError("runs must hold at least one trained run")
    fig, axes = plt.subplots(1, len(runs), figsize=(3.3 * len(runs), 3.2), sharey=True, constrained_layout=True,
                             squeeze=False)
    for ax, (label, result) in zip(axes[0], runs.items()):
        first = ax is axes[0, 0]
        patch_axes(ax, label, ylim=1.0, ylabel="component of the unit vector" if first else "")
        left, _, _ = np.linalg.svd(_decoder_and_encoder(result.model(seed_index))[0], full_matrices=False)
        for k, color in enumerate(WINDOW_COLORS[:left.shape[1]]):
            pc = directions[:, k]
            ax.plot(range(len(pc)), pc, "-", color=color, linewidth=3, alpha=0.35,
                    label=f"principal direction {k + 1}" if first else None)
            ax.plot(range(len(pc)), left[:, k] * np.sign(left[:, k] @ pc), "o--", color=color, markersize=3,
                    label=f"decoder singular vector {k + 1}" if first else None)
    fig.legend(loc="outside lower center", ncol=6, fontsize=8)
    fig.suptitle(f"seed {seed_index}: the decoder's left singular vectors against the principal directions")
    return fig


def latent_curve_figure(model, latents=(0, 1)):
    """Figure for the VAE explorer: the decoded curve (left) and the scaled filters (right)."""
    if not isinstance(model, vae.CurveVAE):
        raise TypeError(f"model must be a CurveVAE, got {type(model).__name__}")
    latents = checks.int_sequence("latents", latents)
    if len(latents) != 2 or max(latents) >= model.latents or latents[0] == latents[1]:
        raise ValueError(f"latents must name two different latents in 0..{model.latents - 1}, got {latents}")
    filters = np.asarray(model.decoder_filters(), np.float64)
    bias = np.asarray(model.decoder_bias(), np.float64)
    fig, (ax_curve, ax_filters) = plt.subplots(1, 2, figsize=(10, 3.4), constrained_layout=True)
    curve_axes(ax_curve, "decoded curve")
    (curve,) = ax_curve.plot(range(data.N_POINTS), np.zeros(data.N_POINTS), "o-", color="black", label="decoder output")
    (nearest,) = ax_curve.plot(range(data.N_POINTS), np.zeros(data.N_POINTS), "--", color="0.6",
                               label="nearest curve of the family")
    ax_curve.legend(loc="lower left", fontsize=8)
    curve_axes(ax_filters, "z_i × filter i (and the bias)")
    colors = ("tab:blue", "tab:orange")
    scaled = [ax_filters.plot(range(data.N_POINTS), np.zeros(data.N_POINTS), "o-", color=c, markersize=3,
                              label=f"model latent {i} × its filter")[0] for i, c in zip(latents, colors)]
    # under the moving lines, in a full draw as in the explorer's frames
    ax_filters.plot(range(data.N_POINTS), bias, ":", color="0.4", label="bias", zorder=1.5)
    ax_filters.legend(loc="lower left", fontsize=8)
    plt.close(fig)
    a, b = data.basis()
    return fig, {"curve": curve, "nearest": nearest, "scaled": scaled, "filters": filters, "bias": bias,
                 "latents": latents, "basis": np.column_stack([a, b])}


def update_latent_curve(artists: dict, z1: float, z2: float) -> np.ndarray:
    """Set the two latents to (z1, z2), the others to 0 (their prior mean); redraw; return the curve."""
    filters, (i, j) = artists["filters"], artists["latents"]
    z = np.zeros(filters.shape[1])
    z[i], z[j] = z1, z2
    curve = filters @ z + artists["bias"]
    for line, k in zip(artists["scaled"], (i, j)):
        line.set_ydata(z[k] * filters[:, k])
    artists["curve"].set_ydata(curve)
    p, *_ = np.linalg.lstsq(artists["basis"], curve, rcond=None)
    artists["nearest"].set_ydata(artists["basis"] @ p)
    return curve


def _latent_curve_scene(model, latents=(0, 1)):
    fig, artists = latent_curve_figure(model, latents)
    moving = [artists["scaled"], artists["curve"], artists["nearest"]]
    labels = {name: f"latent {k}" for name, k in zip(("z1", "z2"), artists["latents"])}
    return fig, moving, lambda z1, z2: update_latent_curve(artists, z1, z2), labels


def _example_curve_vae() -> tuple:
    return vae.CurveVAE(rngs=nnx.Rngs(0)), (0, 1)


LATENT_CURVE_EXPLORER = Explorer(
    "vae_curve", "08_learned_code_noise.ipynb", __name__, "latent_curve_explorer", _latent_curve_scene,
    (Control("z1", -2.5, 2.5, 0.05), Control("z2", -2.5, 2.5, 0.05)), {"z1": 0.5, "z2": 0.5},
    ("model", "latents"), examples=_example_curve_vae)


def latent_curve_explorer(model, latents=(0, 1), z1: float = LATENT_CURVE_EXPLORER.defaults["z1"],
                          z2: float = LATENT_CURVE_EXPLORER.defaults["z2"]) -> ipywidgets.Widget:
    """Two sliders on the active latents -> the decoded curve and the scaled filters.

    Built from ``LATENT_CURVE_EXPLORER``: each move redraws only the four lines.
    """
    return LATENT_CURVE_EXPLORER.widget(model, latents, z1=z1, z2=z2)
# --- exercises -------------------------------------------------------------------

KL_PRECISION = 0.01
"""Exercise 1 asks for the KL to two decimals: any answer within this many nats of the exact value is right."""


def check_gaussian_kl(answer, mean, std):
    """Exercise: KL( N(mean, std^2) || N(0, 1) ) in nats, to two decimals (within :data:`KL_PRECISION`).

    A Monte Carlo estimate such as ``vae.kl_monte_carlo(0.5, 0.2)`` (1.2533 against the
    exact 1.2544) passes, as does the exact value rounded (1.25).
    """
    return verdict(answer, float(vae.gaussian_kl(float(mean), 2 * np.log(float(std)))),
                   what=f"one number, in nats, to two decimals (within {KL_PRECISION})", atol=KL_PRECISION, rtol=0)


@solves
def solve_gaussian_kl(mean, std):
    variance = std**2
    return 0.5 * (mean**2 + variance - 1 - np.log(variance))  # KL(N(mean, std^2) || N(0, 1)), nats


def _code_noise(variances, beta, sigma):
    """The reference: vae.linear_vae_prediction's posterior std, one per variance."""
    variances = np.asarray(variances, np.float64)
    return vae.linear_vae_prediction(variances, beta=float(beta), sigma=float(sigma), latents=len(variances))["std"]


def _slips(variances, beta, sigma) -> dict:
    """Common wrong answers to check_code_noise on one input, each with the sentence that names the slip."""
    price = beta * sigma**2
    kept = variances > price
    return {
        "Your numbers are the squares of the expected ones: take the square root of beta sigma^2 / lambda.":
            np.where(kept, price / variances, 1.0),
        "Your numbers are the inverse of the expected ones: the noise is sqrt(beta sigma^2 / lambda), "
        "small for a large variance.": np.where(kept, np.sqrt(variances / price), 1.0),
        "Use sigma squared: the price of a latent is beta * sigma^2.":
            np.where(variances > beta * sigma, np.sqrt(beta * sigma / variances), 1.0),
        "A direction with variance at or below beta sigma^2 is not worth a latent: its noise is the prior's, 1.":
            np.sqrt(price / variances),
    }


def check_code_noise(answer_function):
    """Exercise: write ``code_noise(variances, beta, sigma)``, the posterior std a linear VAE chooses
    along each principal direction (``sqrt(beta sigma^2 / variance)``, or 1 where ``variance <= beta
    sigma^2``), checked on random inputs against :func:`vae.linear_vae_prediction`.
    """
    rng = np.random.default_rng(8)
    # variances spread over four decades around the price, so some directions are kept and some not
    inputs = [(10 ** rng.uniform(-5, -1, size=n), beta, sigma)
              for n, beta, sigma in [(6, 1.0, 0.02), (7, 10.0, 0.02), (4, 0.5, 0.05)]]

    def hint(got, expected):
        for args in inputs:  # the input whose expected answer this is
            if np.array_equal(_code_noise(*args), expected):
                for message, slip in _slips(*args).items():
                    if got.shape == slip.shape and np.allclose(got, slip, rtol=1e-4, atol=1e-6):
                        return message
        return ""

    return verdict_on_function(answer_function, _code_noise, inputs, what="code_noise(variances, beta, sigma)",
                               hint=hint)


@solves
def solve_code_noise():
    def code_noise(variances, beta, sigma):
        price = beta * sigma**2  # a direction is worth a latent when its variance beats this
        return np.where(variances > price, np.sqrt(price / variances), 1.0)  # else: the prior's noise, 1

    return code_noise
