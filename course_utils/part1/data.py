"""The data of the course: cubic Bezier curves sampled at 15 points, and their patches.

Used by every notebook; introduced in notebook 01.

A curve has control points P0=(0,0), P1=(0.5,p1), P2=(0.5,p2), P3=(1,0) with p1, p2
uniform in [-1, 1]. It is drawn densely (150 values of t) and resampled onto the
15 x-positions ``linspace(0, 1, 15)`` by taking the dense point nearest in x; only
y is kept. Because x(t) does not depend on p1 or p2, the same 15 values of t are
picked for every curve, so every curve is exactly ``p1*a + p2*b`` for two fixed
15-vectors ``a`` and ``b`` (see :func:`basis`).
"""

from __future__ import annotations

import numpy as np

from ..core import checks

N_POINTS = 15
"""Points per curve."""
N_DENSE = 150
"""Values of t used to draw a curve densely before resampling."""
PATCH = 7
"""Points per patch: the kernel size of the patch model (``models.KERNEL`` is this number)."""
STRIDE = 4
"""Stride of the patch model (``models.STRIDE`` is this number)."""
WINDOW_STARTS = tuple(range(0, N_POINTS - PATCH + 1, STRIDE))
"""Where the patch model's windows start on a whole curve: 0, 4 and 8."""
ALL_OFFSETS = tuple(range(N_POINTS - PATCH + 1))
"""Every start of a 7-point window in a 15-point curve: 0..8."""
PUBLISHED_OFFSETS = tuple(range(N_POINTS - PATCH))
"""The offsets of the published random crops: 0..7, so offset 8 never appears."""
X = np.linspace(0.0, 1.0, N_POINTS)
"""The 15 x-positions of every curve."""
TRAIN_CURVES = 16384
"""Curves in the course's training set (notebooks 02-08)."""
TEST_CURVES = 2048
"""Curves in the course's held-out set."""
TEST_SEED_OFFSET = 1000
"""The held-out curves are drawn with seed ``seed + TEST_SEED_OFFSET``: curves the models never saw."""


def _resampled_t() -> np.ndarray:
    """The 15 values of t whose x is nearest to each of the 15 x-positions."""
    t = np.linspace(0.0, 1.0, N_DENSE)
    x = 3 * (1 - t) ** 2 * t * 0.5 + 3 * (1 - t) * t**2 * 0.5 + t**3
    return t[np.abs(x[None, :] - X[:, None]).argmin(axis=1)]


def basis() -> tuple[np.ndarray, np.ndarray]:
    """The two fixed 15-vectors ``a``, ``b`` with ``curve = p1*a + p2*b``.

    They are the Bernstein weights of P1 and P2 at the resampled t values.
    """
    t = _resampled_t()
    return 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2


def curves_from_parameters(p1, p2) -> np.ndarray:
    """Curves for given control heights: arrays (or numbers) p1, p2 -> (n, 15) float32.

    Drawn the published way (dense Bezier, nearest-x resampling), so it also checks
    the claim that the result equals ``p1*a + p2*b``.
    """
    try:
        p1 = np.atleast_1d(np.asarray(p1, dtype=np.float64))
        p2 = np.atleast_1d(np.asarray(p2, dtype=np.float64))
    except (TypeError, ValueError) as err:
        raise TypeError(f"p1 and p2 must be numbers or arrays of numbers, got {p1!r} and {p2!r}") from err
    if not (np.all(np.isfinite(p1)) and np.all(np.isfinite(p2))):
        raise ValueError("p1 and p2 must be finite numbers (no NaN or inf)")
    if p1.ndim != 1 or p1.shape != p2.shape:
        raise ValueError(f"p1 and p2 must be numbers or 1-D arrays of one length, got shapes {p1.shape} and {p2.shape}")
    t = np.linspace(0.0, 1.0, N_DENSE)
    w0, w1, w2, w3 = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
    x = 0.5 * w1 + 0.5 * w2 + w3  # the same for every curve
    y = w1[None, :] * p1[:, None] + w2[None, :] * p2[:, None]  # P0 and P3 have y = 0
    nearest = np.abs(x[None, :] - X[:, None]).argmin(axis=1)
    return y[:, nearest].astype(np.float32)


def bezier_parameters(n: int, *, seed: int) -> np.ndarray:
    """``n`` pairs (p1, p2), uniform in [-1, 1], deterministic for ``seed``: shape (n, 2)."""
    n = checks.positive_int("n", n)
    seed = checks.non_negative_int("seed", seed)
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, 2))


def bezier_curves(n: int, *, seed: int, return_parameters: bool = False):
    """``n`` curves of the published family as a float32 array of shape (n, 15).

    Deterministic for a given ``seed``. With ``return_parameters=True`` also returns
    the (n, 2) array of (p1, p2) that made them.
    """
    params = bezier_parameters(n, seed=seed)
    curves = curves_from_parameters(params[:, 0], params[:, 1])
    return (curves, params) if return_parameters else curves


def course_curves(seed: int, *, return_parameters: bool = False):
    """The course's data: ``(training curves, held-out curves)``, 16,384 and 2,048 of them.

    The training curves come from ``seed``, the held-out ones from
    ``seed + TEST_SEED_OFFSET``. With ``return_parameters=True`` each is a pair
    ``(curves, parameters)`` (see :func:`bezier_curves`).
    """
    seed = checks.non_negative_int("seed", seed)
    return (bezier_curves(TRAIN_CURVES, seed=seed, return_parameters=return_parameters),
            bezier_curves(TEST_CURVES, seed=seed + TEST_SEED_OFFSET, return_parameters=return_parameters))


def patches(curves, *, offsets: str = "all", seed: int | None = None, return_offsets: bool = False):
    """7-point windows cut from curves of shape (n, 15).

    ``offsets="all"`` returns every window at offsets 0..8 of every curve, shape
    (9n, 7), ordered offset-major. ``offsets="published"`` mimics the published
    code: one random crop per curve at an offset drawn from 0..7 (so offset 8, the
    third window of the full model, never appears); it needs ``seed``.
    With ``return_offsets=True`` also returns the offset of every patch.
    """
    curves = checks.array("curves", curves, ndim=2, shape_hint="(n_curves, 15)")
    if curves.shape[1] != N_POINTS:
        raise ValueError(f"curves must have shape (n_curves, {N_POINTS}), got {curves.shape}")
    checks.one_of("offsets", offsets, {"all", "published"})
    curves = np.asarray(curves)
    if offsets == "all":
        starts = np.repeat(np.array(ALL_OFFSETS), len(curves))
        rows = np.tile(np.arange(len(curves)), len(ALL_OFFSETS))
    else:
        if seed is None:
            raise ValueError('offsets="published" draws random crops: pass seed=<int>')
        seed = checks.non_negative_int("seed", seed)
        starts = np.random.default_rng(seed).integers(0, len(PUBLISHED_OFFSETS), size=len(curves))
        rows = np.arange(len(curves))
    window = starts[:, None] + np.arange(PATCH)[None, :]
    out = curves[rows[:, None], window].astype(np.float32)
    return (out, starts) if return_offsets else out
