"""The variational autoencoder: a model that chooses its own code noise.

Used by notebook 08.

A VAE (Kingma & Welling 2014, "Auto-Encoding Variational Bayes") encodes an input
into a mean and a log-variance per latent, decodes a *sample* ``z = mean + std * eps``
(the reparameterisation trick) and pays for every latent with its KL divergence to
the prior N(0, 1). The loss is the negative ELBO with a Gaussian likelihood of fixed
noise ``sigma`` (up to a constant)::

    loss = sum_positions (x - decode(z))**2 / (2 sigma**2)  +  beta * sum_latents KL_i

so ``beta * sigma**2`` is the noise variance below which a direction of the data is not
worth a latent: for a linear model it is exactly probabilistic PCA (Tipping & Bishop
1999; Lucas et al. 2019, "Don't Blame the ELBO!"), which keeps principal direction i
iff its variance ``lambda_i > beta sigma**2``, with posterior standard deviation
``sqrt(beta sigma**2 / lambda_i)`` and ``KL_i = 0.5 log(lambda_i / (beta sigma**2))``
(:func:`linear_vae_prediction`).

Two models: :class:`CurveVAE` (dense layers on whole 15-point curves) and
:class:`PatchVAE` (the convolution and transposed convolution of Part I, kernel 7,
stride 4). Both are linear, because the data is: the curves are exactly
``p1*a + p2*b``. Plus the losses (:func:`vae_loss`, :func:`regularised_loss` for the tied, sparse and denoising autoencoders), the KL
helpers, "active units" (Burda et al. 2016), and the explorer of notebook 08.

Notebook 08's experiments are one function each, so its cells read as a call, a
figure and a check: reading the latents of a run (:func:`read_latents`), the β sweep
(:func:`beta_sweep`), the tied and untied linear autoencoders and their bases
(:func:`train_autoencoders`, :func:`basis_report`) with what weight decay should do
to them (:func:`weight_decay_prediction`), and the gains of the denoising and sparse
variants (:func:`gains_along`).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import ipywidgets
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

from . import analysis, checks, data, models, training, widgets
from .models import KERNEL, STRIDE
from .plotting import WINDOW_COLORS, curve_axes, patch_axes

LATENTS = 6
"""Latents of the notebook's VAEs: more than the data needs (2 for curves)."""
ACTIVE_THRESHOLD = 0.01
"""Burda et al. (2016): a latent is active if its posterior mean varies across the data by more than this."""


def _check_signals(name: str, x, length: int | None = None):
    if not hasattr(x, "ndim") or x.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, length), got {getattr(x, 'shape', type(x).__name__)}")
    if length is not None and x.shape[1] != length:
        raise ValueError(f"{name} must have shape (batch, {length}), got {x.shape}")
    if length is None and (x.shape[1] < KERNEL or (x.shape[1] - KERNEL) % STRIDE):
        raise ValueError(
            f"{name} length must be {KERNEL} + {STRIDE}*k (7, 11, 15, ...) so the windows tile it, got {x.shape[1]}")


def _check_latents(name: str, z, latents: int, ndim: int, shape_hint: str):
    if not hasattr(z, "ndim") or z.ndim != ndim or z.shape[-1] != latents:
        raise ValueError(f"{name} must have shape {shape_hint} with {latents} latents, "
                         f"got {getattr(z, 'shape', type(z).__name__)}")


class CurveVAE(nnx.Module):
    """A linear VAE on whole curves: Dense(15 -> mean), Dense(15 -> log-variance), Dense(latents -> 15).

    ``encode(x)`` maps curves (batch, 15) to ``(mean, log_var)``, each (batch, latents);
    ``decode(z)`` maps (batch, latents) to curves; ``model(x)`` decodes the mean.
    """

    def __init__(self, *, rngs: nnx.Rngs, latents: int = LATENTS):
        self.latents = checks.positive_int("latents", latents)
        self.mean = nnx.Linear(data.N_POINTS, latents, rngs=rngs)
        self.log_var = nnx.Linear(data.N_POINTS, latents, rngs=rngs)
        self.decoder = nnx.Linear(latents, data.N_POINTS, rngs=rngs)

    def encode(self, x):
        _check_signals("x", x, data.N_POINTS)
        return self.mean(x), self.log_var(x)

    def decode(self, z):
        _check_latents("z", z, self.latents, 2, "(batch, latents)")
        return self.decoder(z)

    def decoder_filters(self) -> jax.Array:
        """(15, latents): column i is what latent i adds to the curve per unit."""
        return self.decoder.kernel[...].T

    def decoder_bias(self) -> jax.Array:
        return self.decoder.bias[...]

    def __call__(self, x):
        return self.decode(self.encode(x)[0])


class PatchVAE(nnx.Module):
    """The Part I patch model as a VAE: Conv(1 -> 2*latents, kernel 7, stride 4), no activation,
    then ConvTranspose(latents -> 1, kernel 7, stride 4, ``transpose_kernel=True``).

    The first ``latents`` channels of the convolution are the means, the rest the
    log-variances. ``encode(x)`` maps signals (batch, length) to ``(mean, log_var)``,
    each (batch, positions, latents): one position for a 7-point patch.
    """

    def __init__(self, *, rngs: nnx.Rngs, latents: int = LATENTS):
        self.latents = checks.positive_int("latents", latents)
        self.conv = nnx.Conv(1, 2 * latents, kernel_size=(KERNEL,), strides=(STRIDE,), padding="VALID", rngs=rngs)
        self.deconv = nnx.ConvTranspose(latents, 1, kernel_size=(KERNEL,), strides=(STRIDE,), padding="VALID",
                                        transpose_kernel=True, rngs=rngs)

    def encode(self, x):
        _check_signals("x", x)
        out = self.conv(x[..., None])
        return out[..., :self.latents], out[..., self.latents:]

    def decode(self, z):
        _check_latents("z", z, self.latents, 3, "(batch, positions, latents)")
        return self.deconv(z)[..., 0]

    def decoder_filters(self) -> jax.Array:
        """(7, latents): column i is painted, scaled by latent i (as ``models.PatchDecoder.filters``)."""
        return self.deconv.kernel[...][:, 0, :]

    def decoder_bias(self) -> jax.Array:
        return self.deconv.bias[...]

    def __call__(self, x):
        return self.decode(self.encode(x)[0])


# --- the KL divergence ---------------------------------------------------------------

def gaussian_kl(mean, log_var):
    """KL( N(mean, exp(log_var)) || N(0, 1) ), elementwise: 0.5 (mean^2 + var - 1 - log var)."""
    return 0.5 * (mean**2 + jnp.exp(log_var) - 1.0 - log_var)


def kl_monte_carlo(mean: float, std: float, *, n: int = 200_000, seed: int = 0) -> float:
    """The same KL estimated by sampling: the mean of log q(z) - log p(z) over z ~ q.

    Checks :func:`gaussian_kl` (tests) and shows what the closed form stands for.
    """
    mean = float(mean)
    std = checks.non_negative_float("std", std)
    if std == 0:
        raise ValueError("std must be > 0: a point mass has infinite KL to N(0, 1)")
    z = mean + std * np.random.default_rng(checks.non_negative_int("seed", seed)).standard_normal(
        checks.positive_int("n", n))
    log_q = -0.5 * ((z - mean) / std) ** 2 - np.log(std)
    log_p = -0.5 * z**2
    return float(np.mean(log_q - log_p))  # the 0.5 log(2 pi) terms cancel


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class VAELoss:
    """Negative ELBO per example: squared error / (2 sigma^2) + beta * KL, summed over positions and latents.

    Made by :func:`vae_loss`. ``beta`` and ``sigma`` are arrays that a compiled run
    takes as inputs, so a beta sweep shares one program.
    """

    beta: Any
    sigma: Any

    def __call__(self, model, batch, key):
        mean, log_var = model.encode(batch)
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape)  # the reparameterisation trick
        reconstruction = ((model.decode(z) - batch) ** 2).sum(axis=-1) / (2 * self.sigma**2)
        kl = gaussian_kl(mean, log_var).reshape(mean.shape[0], -1).sum(axis=-1)
        return (reconstruction + self.beta * kl).mean()


def vae_loss(*, beta: float = 1.0, sigma: float = 0.02) -> VAELoss:
    """The VAE loss with KL weight ``beta`` and likelihood noise ``sigma`` (both > 0 for sigma)."""
    beta = checks.non_negative_float("beta", beta)
    if checks.non_negative_float("sigma", sigma) == 0:
        raise ValueError("sigma must be > 0: it is the standard deviation of the likelihood")
    return VAELoss(np.float32(beta), np.float32(sigma))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class RegularisedLoss:
    """Mean squared error of an autoencoder plus the classic prices on it (notebook 08, parts 2-3).

    ``weight_decay`` times the sum of squared kernel weights (L2; Kunin et al. 2019),
    ``code_l1`` times the mean absolute code value (a sparse autoencoder), and Gaussian
    input noise of standard deviation ``input_noise`` (a denoising autoencoder,
    Vincent et al. 2008; notebook 05). For models with ``encode``/``decode`` such as
    ``models.PatchAutoencoder`` and ``models.TiedPatchAutoencoder``; biases are not
    decayed. The numbers are arrays, so all variants share one compiled program.
    Made by :func:`regularised_loss`.
    """

    weight_decay: Any
    code_l1: Any
    input_noise: Any

    def __call__(self, model, batch, key):
        code = model.encode(batch + self.input_noise * jax.random.normal(key, batch.shape))
        error = ((model.decode(code) - batch) ** 2).mean()
        kernels = [v for path, v in nnx.to_flat_state(nnx.state(model, nnx.Param)) if path[-1] == "kernel"]
        decay = sum((k[...] ** 2).sum() for k in kernels)
        return error + self.weight_decay * decay + self.code_l1 * jnp.abs(code).mean()


def regularised_loss(*, weight_decay: float = 0.0, code_l1: float = 0.0, input_noise: float = 0.0) -> RegularisedLoss:
    """MSE + ``weight_decay`` * |kernels|^2 + ``code_l1`` * mean |code|, inputs noised by ``input_noise``."""
    return RegularisedLoss(*(np.float32(checks.non_negative_float(name, v)) for name, v in
                             [("weight_decay", weight_decay), ("code_l1", code_l1), ("input_noise", input_noise)]))


# --- reading a trained VAE ---------------------------------------------------------------

def _latent_rows(array) -> np.ndarray:
    """(batch, [positions,] latents) -> (rows, latents): every position counts as a row."""
    array = np.asarray(array, np.float64)
    return array.reshape(-1, array.shape[-1])


def posterior(model, x) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and standard deviations of ``x``: each (rows, latents) as NumPy."""
    if not hasattr(model, "encode") or not hasattr(model, "latents"):
        raise TypeError(f"model must be a CurveVAE or PatchVAE, got {type(model).__name__}")
    x = jnp.asarray(checks.array("x", x, ndim=2, shape_hint="(n_examples, length)"))
    mean, log_var = _encode(nnx.split(model), x)
    return _latent_rows(mean), np.exp(0.5 * _latent_rows(log_var))


@functools.partial(jax.jit, static_argnums=0)
def _encode_jit(graphdef, state, x):
    return nnx.merge(graphdef, state).encode(x)


def _encode(split, x):
    return _encode_jit(split[0], split[1], x)


def kl_per_latent(mean, std) -> np.ndarray:
    """Mean KL (nats) of each latent's posterior to N(0, 1) over the data: (latents,).

    ``mean`` and ``std`` as :func:`posterior` returns them, (rows, latents).
    """
    mean = np.asarray(checks.array("mean", mean, ndim=2, shape_hint="(rows, latents)"), np.float64)
    std = np.asarray(checks.array("std", std, ndim=2, shape_hint="(rows, latents)"), np.float64)
    if mean.shape != std.shape:
        raise ValueError(f"mean and std must have one shape, got {mean.shape} and {std.shape}")
    if np.any(std <= 0):
        raise ValueError("std must be > 0 everywhere")
    return (0.5 * (mean**2 + std**2 - 1.0) - np.log(std)).mean(axis=0)  # gaussian_kl, in float64


def activity(mean) -> np.ndarray:
    """Variance across the data of each latent's posterior mean (Burda et al. 2016): (latents,)."""
    mean = np.asarray(checks.array("mean", mean, ndim=2, shape_hint="(rows, latents)"), np.float64)
    if mean.shape[0] < 2:
        raise ValueError(f"activity needs at least two rows to measure a variance, got {mean.shape[0]}")
    return mean.var(axis=0)


def active_units(mean, threshold: float = ACTIVE_THRESHOLD) -> np.ndarray:
    """Which latents are active: posterior-mean variance > ``threshold`` (Burda et al. 2016)."""
    threshold = checks.non_negative_float("threshold", threshold)
    return activity(mean) > threshold


def principal_variances(x) -> np.ndarray:
    """The data's (centred) variance along each principal direction, largest first: (length,)."""
    x = np.asarray(checks.array("x", x, ndim=2, shape_hint="(n_examples, length)"), np.float64)
    centred = x - x.mean(axis=0)
    # eigenvalues of the small (length, length) covariance: far cheaper than an SVD of all the rows
    return np.clip(np.linalg.eigvalsh(centred.T @ centred / len(x)), 0, None)[::-1]


def linear_vae_prediction(x, *, beta: float, sigma: float, latents: int = LATENTS) -> dict:
    """What a linear VAE should find on ``x`` (pPCA; Lucas et al. 2019), per principal direction.

    ``variance``: the data's variance along each direction (centred), the largest
    ``latents``; ``active``: ``variance > beta sigma^2``; ``std``: posterior standard
    deviation ``sqrt(beta sigma^2 / variance)`` (1 where inactive); ``kl``: nats,
    ``0.5 log(variance / (beta sigma^2))`` (0 where inactive); ``mse``: the error per
    value of decoding the posterior mean, which keeps ``1 - beta sigma^2 / variance`` of
    a kept direction (pPCA's shrinkage) and none of a dropped one, so each direction
    adds ``(beta sigma^2)^2 / variance`` or ``variance``, over the row length.
    ``x`` may also be the output of :func:`principal_variances`, a 1-D array, to
    predict many β from one decomposition.
    """
    every = (np.asarray(checks.array("variances", x, ndim=1, shape_hint="(length,)"), np.float64)
             if np.ndim(x) == 1 else principal_variances(x))
    noise = checks.non_negative_float("beta", beta) * checks.non_negative_float("sigma", sigma) ** 2
    if noise == 0:
        raise ValueError("beta and sigma must be > 0")
    latents = checks.positive_int("latents", latents)
    # only `latents` directions can be kept, however many pay for themselves
    kept = np.arange(len(every)) < latents
    mse = np.where(kept & (every > noise), noise**2 / np.where(every > 0, every, 1.0), every).sum() / len(every)
    variance = np.pad(every, (0, max(0, latents - len(every))))[:latents]
    active = variance > noise
    ratio = np.where(active, variance / noise, 1.0)
    return {"variance": variance, "active": active, "std": np.sqrt(1 / ratio), "kl": 0.5 * np.log(ratio),
            "mse": float(mse)}


def r_squared(features, targets) -> np.ndarray:
    """R^2 of the least-squares linear fit (with intercept) of each target column from ``features``."""
    features = np.asarray(checks.array("features", features, ndim=2, shape_hint="(rows, k)"), np.float64)
    targets = np.asarray(checks.array("targets", targets, ndim=2, shape_hint="(rows, m)"), np.float64)
    if features.shape[0] != targets.shape[0]:
        raise ValueError(f"features and targets need one row per example, got {features.shape[0]} and "
                         f"{targets.shape[0]} rows")
    design = np.column_stack([features, np.ones(len(features))])
    fit, *_ = np.linalg.lstsq(design, targets, rcond=None)
    residual = ((targets - design @ fit) ** 2).sum(axis=0)
    return 1 - residual / ((targets - targets.mean(axis=0)) ** 2).sum(axis=0)


def prior_samples(model, n: int, *, seed: int) -> np.ndarray:
    """Decode ``n`` draws from the prior N(0, I): (n, length) for a CurveVAE, (n, 7) for a PatchVAE."""
    if not hasattr(model, "decode") or not hasattr(model, "latents"):
        raise TypeError(f"model must be a CurveVAE or PatchVAE, got {type(model).__name__}")
    n = checks.positive_int("n", n)
    z = np.random.default_rng(checks.non_negative_int("seed", seed)).standard_normal((n, model.latents))
    z = z.astype(np.float32) if isinstance(model, CurveVAE) else z[:, None, :].astype(np.float32)
    return np.asarray(model.decode(z))


# --- notebook 08's experiments, one function each ---------------------------------------------

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
        mean, std = posterior(model, x)
        kl = kl_per_latent(mean, std)
        order = np.argsort(-kl, kind="stable")
        rows.append({"kl": kl[order], "activity": activity(mean)[order], "std": std.mean(axis=0)[order],
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
    return {"active": [int(active_units(r["mean"]).sum()) for r in readings],
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
    fig, ax = plt.subplots(figsize=(7, 3.4), constrained_layout=True)
    curve_axes(ax, f"{min(n, len(samples))} curves decoded from the prior N(0, I)")
    for k, curve in enumerate(np.asarray(samples)[:n]):
        ax.plot(range(samples.shape[1]), curve, color="tab:blue", alpha=0.5, label="prior sample" if k == 0 else None)
    ax.axhspan(limit, 0.8, color="tab:red", alpha=0.15, label=f"|y| > {limit:g}: outside the family")
    ax.axhspan(-0.8, -limit, color="tab:red", alpha=0.15)
    ax.legend(fontsize=8, loc="lower left")
    return fig


def beta_sweep(train_x, test_x, betas, *, sigma: float, steps: int, seeds=(0, 1), done: dict | None = None) -> dict:
    """Train a :class:`PatchVAE` per β (one compiled program for all) and read each against the prediction.

    ``done`` maps a β to a run already trained (its first ``len(seeds)`` seeds are used).
    Returns, per β: ``result``, ``active`` (Burda's count per seed), ``mse`` (held-out
    error of the decoded mean per seed), ``predicted`` (kept directions) and
    ``predicted_mse`` (from :func:`linear_vae_prediction`).
    """
    seeds, done = list(seeds), dict(done or {})
    table = {}
    for beta in betas:
        beta = checks.non_negative_float("beta", beta)
        result = done.get(beta) or training.train(
            PatchVAE, train_x, seeds=seeds, config=training.TrainConfig(steps=steps),
            loss=vae_loss(beta=beta, sigma=sigma), progress=False)
        models = result.models()[:len(seeds)]
        prediction = linear_vae_prediction(train_x, beta=beta, sigma=sigma)
        table[beta] = {"result": result, "active": [int(active_units(posterior(m, test_x)[0]).sum()) for m in models],
                       "mse": training.reconstruction_mse(result, test_x)[:len(seeds)],
                       "predicted": int(prediction["active"].sum()), "predicted_mse": prediction["mse"]}
    return table


def beta_sweep_figure(table: dict, train_x, *, sigma: float) -> plt.Figure:
    """Left: active latents against β, trained and predicted; right: held-out error, trained and predicted."""
    betas = np.array(sorted(table))
    grid = np.logspace(np.log10(betas.min()) - 2, np.log10(betas.max()) + 1, 200)
    spectrum = principal_variances(train_x)
    predicted = [linear_vae_prediction(spectrum, beta=g, sigma=sigma) for g in grid]
    fig, (ax_n, ax_e) = plt.subplots(1, 2, figsize=(11, 3.4), constrained_layout=True)
    ax_n.step(grid, [p["active"].sum() for p in predicted], where="post", color="black",
              label="prediction: variance > βσ²")
    for k, beta in enumerate(betas):
        active = table[beta]["active"]
        ax_n.plot([beta] * len(active), active, "o", color="tab:blue", alpha=0.6,
                  label="trained (each seed)" if k == 0 else None)
    ax_n.set_ylabel(f"active latents (of {LATENTS})")
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


# --- notebook 08, parts 2-3: regularised linear autoencoders -------------------------------------

AUTOENCODERS = ("untied", "tied")
"""The two linear patch autoencoders of notebook 08: ``models.PatchAutoencoder`` and ``models.TiedPatchAutoencoder``."""


def train_autoencoders(x, variants: dict, *, steps: int, seeds=(0, 1)) -> dict:
    """Train linear patch autoencoders, one run per variant: ``{label: (kind, loss)}`` -> ``{label: TrainResult}``.

    ``kind`` is "untied" or "tied"; ``loss`` a :func:`regularised_loss` (its prices are
    inputs of the compiled program, so variants of one kind share it).
    """
    makers = {"untied": functools.partial(models.PatchAutoencoder, activation="linear"),
              "tied": functools.partial(models.TiedPatchAutoencoder, activation="linear")}
    runs = {}
    for label, (kind, loss) in variants.items():
        checks.one_of("kind", kind, set(AUTOENCODERS))
        if not isinstance(loss, RegularisedLoss):
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


def weight_decay_prediction(x, weight_decay: float, *, components: int = 3, tied: bool = False) -> dict:
    """What L2 weight decay does to a linear autoencoder with ``components`` code channels on ``x``.

    The loss is the MSE (a mean over the ``length`` values of a row) plus
    ``weight_decay`` times the squared kernels, biases free. Along principal direction k
    (centred variance ``lambda_k``) the optimum's gain is ``1 - length * wd / lambda_k``
    (untied: the price of gain g is 2 wd g, split over encoder and decoder) or
    ``1 - length * wd / (2 lambda_k)`` (tied: one kernel, price wd g), 0 if negative.
    Returns ``gain`` (components,) and ``mse``: the dropped directions' variance plus
    each kept one's ``lambda_k (1 - gain)^2``, over ``length``.
    """
    x = np.asarray(checks.array("x", x, ndim=2, shape_hint="(n_examples, length)"), np.float64)
    weight_decay = checks.non_negative_float("weight_decay", weight_decay)
    components = checks.positive_int("components", components)
    length = x.shape[1]
    variance = principal_variances(x)
    kept = np.pad(variance, (0, max(0, components - len(variance))))[:components]
    safe = np.where(kept > 0, kept, 1.0)
    gain = np.where(kept > 0, np.clip(1 - length * weight_decay / ((2 if tied else 1) * safe), 0, 1), 0.0)
    mse = (variance[components:].sum() + (kept * (1 - gain) ** 2).sum()) / length
    return {"gain": gain, "mse": float(mse)}


def gains_along(model, directions) -> np.ndarray:
    """The model's gain along each direction u (columns): u . (model(u) - model(0)), the bias removed."""
    directions = np.asarray(checks.array("directions", directions, ndim=2, shape_hint="(taps, k)"), np.float32)
    basis = directions.T
    change = np.asarray(model(basis)) - np.asarray(model(np.zeros_like(basis)))
    return np.einsum("kt,kt->k", change.astype(np.float64), basis.astype(np.float64))


def components_in_use(model, x) -> int:
    """Code components whose loss at least doubles the reconstruction error (``analysis.ablation_mse``)."""
    ablation = analysis.ablation_mse(model, x)
    return int(np.sum(ablation[1:] >= 2 * ablation[0]))


# --- the explorer: two active latents -> a curve ---------------------------------------------

def latent_curve_figure(model, latents=(0, 1)):
    """Figure for the VAE explorer: the decoded curve (left) and the scaled filters (right)."""
    if not isinstance(model, CurveVAE):
        raise TypeError(f"model must be a CurveVAE, got {type(model).__name__}")
    latents = tuple(checks.non_negative_int("latent", i) for i in latents)
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
                              label=f"latent {i} × its filter")[0] for i, c in zip(latents, colors)]
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


def latent_curve_explorer(model, latents=(0, 1), z1: float = widgets.VAE_CURVE.defaults["z1"],
                          z2: float = widgets.VAE_CURVE.defaults["z2"]) -> ipywidgets.Widget:
    """Two sliders on the active latents -> the decoded curve and the scaled filters.

    Built from ``widgets.VAE_CURVE``: each move redraws only the four lines.
    """
    return widgets.VAE_CURVE.widget(model, latents, z1=z1, z2=z2)
