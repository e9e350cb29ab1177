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
``p1*a + p2*b``. Notebook 08 writes both models, the sample and the loss in its cells
and checks them against these. Plus the losses (:func:`vae_loss`, :func:`regularised_loss`
for the tied autoencoders with weight decay), the KL helpers, "active units" (Burda et
al. 2016), and reading a trained VAE (:func:`posterior`, :func:`kl_per_latent`).
What weight decay, input noise and an L1 price on the code do to a linear autoencoder
(:func:`weight_decay_prediction`, :func:`gains_along`, :func:`components_in_use`) is
tested here but no longer shown in the notebook. Notebook 08's experiments, figures,
explorer and exercises are in :mod:`course_utils.part2.vae_lesson`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..core import checks
from ..part1 import analysis, data
from ..part1.models import KERNEL, STRIDE

LATENTS = 6
"""Latents of the notebook's VAEs: more than the data needs (2 for curves)."""
ACTIVE_THRESHOLD = 0.01
"""Burda et al. (2016): a latent is active if its posterior mean varies across the data by more than this."""


def _check_vae_signals(name: str, x, length: int | None = None):
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
        checks.rngs("rngs", rngs)
        self.latents = checks.positive_int("latents", latents)
        self.mean = nnx.Linear(data.N_POINTS, latents, rngs=rngs)
        self.log_var = nnx.Linear(data.N_POINTS, latents, rngs=rngs)
        self.decoder = nnx.Linear(latents, data.N_POINTS, rngs=rngs)

    def encode(self, x):
        _check_vae_signals("x", x, data.N_POINTS)
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
        checks.rngs("rngs", rngs)
        self.latents = checks.positive_int("latents", latents)
        self.conv = nnx.Conv(1, 2 * latents, kernel_size=(KERNEL,), strides=(STRIDE,), padding="VALID", rngs=rngs)
        self.deconv = nnx.ConvTranspose(latents, 1, kernel_size=(KERNEL,), strides=(STRIDE,), padding="VALID",
                                        transpose_kernel=True, rngs=rngs)

    def encode(self, x):
        _check_vae_signals("x", x)
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
    """KL( N(mean, exp(log_var)) || N(0, 1) ), elementwise: 0.5 (mean^2 + var - 1 - log var).

    ``mean`` and ``log_var`` are arrays of one shape (numbers, NumPy or JAX, traced
    or not); raises ``ValueError`` for NaN, infinity or shapes that differ.
    """
    mean = checks.array("mean", mean, ndim=np.ndim(mean), shape_hint="like log_var", dtype=None)
    log_var = checks.array("log_var", log_var, ndim=np.ndim(log_var), shape_hint="like mean", dtype=None)
    if np.shape(mean) != np.shape(log_var):
        raise ValueError(f"mean and log_var must have the same shape, got {np.shape(mean)} and {np.shape(log_var)}")
    return 0.5 * (mean**2 + jnp.exp(log_var) - 1.0 - log_var)


def kl_monte_carlo(mean: float, std: float, *, n: int = 200_000, seed: int = 0) -> float:
    """The same KL estimated by sampling: the mean of log q(z) - log p(z) over z ~ q.

    Checks :func:`gaussian_kl` (tests) and shows what the closed form stands for.
    """
    mean = checks.number("mean", mean)
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
    """Mean squared error of an autoencoder plus the classic prices on it (notebook 08: weight decay).

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


# --- regularised linear autoencoders: what each price should do -------------------------------------


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
    checks.model_with("model", model, ("encode", "decode"), "models.PatchAutoencoder, models.TiedPatchAutoencoder")
    directions = np.asarray(checks.array("directions", directions, ndim=2, shape_hint="(taps, k)"), np.float32)
    basis = directions.T
    change = np.asarray(model(basis)) - np.asarray(model(np.zeros_like(basis)))
    return np.einsum("kt,kt->k", change.astype(np.float64), basis.astype(np.float64))


def components_in_use(model, x) -> int:
    """Code components whose loss at least doubles the reconstruction error (``analysis.ablation_mse``)."""
    x = checks.array("x", x, ndim=2, shape_hint="(n_examples, length)", dtype=None)
    ablation = analysis.ablation_mse(model, x)
    return int(np.sum(ablation[1:] >= 2 * ablation[0]))
