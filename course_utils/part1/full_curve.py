"""The patch model run over a whole 15-point curve, and the fixes for its overlaps and borders.

Used by notebook 06.

On a 15-point curve the encoder gives a 3x3 code (windows at 0, 4 and 8) and the
decoder paints three 7-tap windows. Positions 4-6 and 8-10 are painted twice, so a
patch model that learned to paint a whole patch doubles the output there. Each
*fix* below changes how the windows are combined, never the trained weights:

- ``"none"``: the plain transposed convolution (the doubled output).
- ``"halve"``: halve every tap but the middle one (index 3), as published. The
  overlaps add two halves, but positions 0-2 and 12-14 get only a half.
- ``"halve_published"``: the published slip, keeping index 4 instead of 3.
- ``"taper"``: weight the taps ``1 - |m - 3| / 4`` (0.25 .. 1 .. 0.25); overlapping
  weights add to 1, but the borders are tapered too.
- ``"normalise"``: divide the painted sum by the overlap count (the transposed
  convolution of a code of ones with a filter of ones): every position becomes the
  average of the windows that cover it, borders included.
- ``"pad"``: extend the curve by 4 points each side (odd reflection about its end
  points, which are 0), so that the code gets a window before 0 and after 8; then
  every position is covered twice except 3, 7 and 11, which the halving weights
  treat right. The output is cropped back to 15 points.

:func:`compare` scores any set of such reconstructions (and end-to-end models)
position by position, and :func:`error_table` sums them up over the three kinds of
position: :data:`OVERLAPS`, :data:`BORDERS` and the window middles :data:`MIDDLES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from ..core import checks, deconv
from . import data
from .models import KERNEL, STRIDE

FIXES = ("none", "halve", "halve_published", "taper", "normalise", "pad")
"""Every way of combining the windows that :func:`reconstruct` knows."""

PAD = STRIDE
"""Points added on each side of the curve by the ``"pad"`` fix: one extra window each side."""

_COUNTS = deconv.overlap_counts(len(data.WINDOW_STARTS), KERNEL, STRIDE)
OVERLAPS = tuple(int(p) for p in np.flatnonzero(_COUNTS > 1))
"""Positions painted by two windows: 4-6 and 8-10."""
MIDDLES = tuple(start + KERNEL // 2 for start in data.WINDOW_STARTS if _COUNTS[start + KERNEL // 2] == 1)
"""Positions painted once, by a window's middle tap: 3, 7 and 11 (every fix weights it 1)."""
BORDERS = tuple(p for p in range(data.N_POINTS) if p not in OVERLAPS + MIDDLES)
"""The rest: positions 0-2 and 12-14, painted once by an outer tap of the first or last window."""
REGIONS = {"overlaps": OVERLAPS, "borders": BORDERS, "middles": MIDDLES}
"""The three kinds of position, by name, in the order :func:`error_table` prints them."""


def tap_weights(fix: str) -> np.ndarray:
    """The weight of each of the 7 filter taps under ``fix`` (ones for ``"none"``/``"normalise"``)."""
    checks.one_of("fix", fix, set(FIXES))
    taps = np.arange(KERNEL)
    if fix in ("halve", "pad"):
        return np.where(taps == KERNEL // 2, 1.0, 0.5)
    if fix == "halve_published":
        return np.where(taps == 4, 1.0, 0.5)  # the slip: index 4 is not the middle of 7 taps
    if fix == "taper":
        return 1.0 - np.abs(taps - KERNEL // 2) / STRIDE
    return np.ones(KERNEL)


def coverage(fix: str, n_windows: int = 3) -> np.ndarray:
    """Total tap weight each output position receives: what multiplies a constant filter.

    For ``"none"`` this is the overlap count ``[1,1,1,1,2,2,2,1,2,2,2,1,1,1,1]``; a
    fix is exact at a position only where its coverage is 1 (``"normalise"``
    divides by the overlap count, so its coverage is 1 everywhere).
    """
    weights = tap_weights(fix)
    n_windows = checks.positive_int("n_windows", n_windows)
    ones = np.ones((n_windows, 1), np.float32)
    covered = np.asarray(deconv.conv_transpose_1d(ones, weights[:, None, None].astype(np.float32), STRIDE)[:, 0])
    return covered / deconv.overlap_counts(n_windows, KERNEL, STRIDE) if fix == "normalise" else covered


def _odd_reflect(curves: np.ndarray) -> np.ndarray:
    """Extend curves by PAD points each side: y[-k] = -y[k] and y[14+k] = -y[14-k]."""
    left = -curves[:, PAD:0:-1]
    right = -curves[:, -2 : -PAD - 2 : -1]
    return np.concatenate([left, curves, right], axis=1)


def decode_windows(model, code, fix: str = "none") -> np.ndarray:
    """Decode codes (batch, windows, 3) with the patch model's filters, combined by ``fix``.

    ``fix="pad"`` is not a way of decoding but of encoding; here it decodes with
    the halving weights. Returns (batch, 4*(windows-1) + 7).
    """
    checks.one_of("fix", fix, set(FIXES))
    checks.model_with("model", model, ("encode", "decode"), "models.PatchAutoencoder")
    code = np.asarray(checks.array("code", code, ndim=3, shape_hint="(batch, windows, 3)"), np.float32)
    filters = np.asarray(model.decoder.filters()) * tap_weights(fix)[:, None]
    painted = np.zeros((code.shape[0], deconv.output_length(code.shape[1], KERNEL, STRIDE)), np.float32)
    for i in range(code.shape[1]):  # window i paints its scaled filters at positions 4i .. 4i+6
        painted[:, STRIDE * i : STRIDE * i + KERNEL] += code[:, i, :] @ filters.T
    if fix == "normalise":
        painted = painted / deconv.overlap_counts(code.shape[1], KERNEL, STRIDE)
    return painted + float(model.decoder.bias())


def reconstruct(model, curves, fix: str = "none") -> np.ndarray:
    """Encode whole curves (n, 15) with the patch model and decode them combined by ``fix``."""
    checks.one_of("fix", fix, set(FIXES))
    checks.model_with("model", model, ("encode", "decode"), "models.PatchAutoencoder")
    curves = checks.array("curves", curves, ndim=2, shape_hint="(n_curves, 15)")
    if curves.shape[1] != data.N_POINTS:
        raise ValueError(f"curves must have shape (n_curves, {data.N_POINTS}), got {curves.shape}")
    curves = np.asarray(curves, np.float32)
    if fix == "pad":
        code = np.asarray(model.encode(jnp.asarray(_odd_reflect(curves))))
        return decode_windows(model, code, fix)[:, PAD:-PAD]
    return decode_windows(model, np.asarray(model.encode(jnp.asarray(curves))), fix)


def error_by_position(reconstruction, curves) -> np.ndarray:
    """Mean squared error at each of the 15 positions, averaged over curves."""
    reconstruction = np.asarray(checks.array("reconstruction", reconstruction, ndim=2, shape_hint="(n, 15)"))
    curves = np.asarray(checks.array("curves", curves, ndim=2, shape_hint="(n, 15)"))
    if reconstruction.shape != curves.shape:
        raise ValueError(f"reconstruction {reconstruction.shape} and curves {curves.shape} must have one shape")
    return ((reconstruction - curves) ** 2).mean(axis=0)


Reconstructor = Callable[[np.ndarray], np.ndarray]
"""Anything that maps curves (n, 15) to reconstructions (n, 15): one trained model, one way."""


def assembled(models: Sequence, fix: str) -> list[Reconstructor]:
    """One reconstructor per patch model: :func:`reconstruct` with ``fix``."""
    checks.one_of("fix", fix, set(FIXES))
    models = _checked_models(models, ("encode", "decode"))
    return [lambda curves, m=m: reconstruct(m, curves, fix) for m in models]


def _checked_models(models, methods) -> list:
    if isinstance(models, (str, bytes)) or not hasattr(models, "__iter__"):
        raise TypeError(f"models must be a list of trained models, got {type(models).__name__}")
    models = list(models)
    if not models:
        raise ValueError("models must hold at least one model")
    for i, model in enumerate(models):
        checks.model_with(f"models[{i}]", model, methods, "models.PatchAutoencoder")
    return models


def end_to_end(models: Sequence) -> list[Reconstructor]:
    """One reconstructor per model trained on whole curves: the model itself, no fix."""
    models = _checked_models(models, ("encode", "decode"))
    return [lambda curves, m=m: np.asarray(m(jnp.asarray(curves, jnp.float32))) for m in models]


def compare(variants: Mapping[str, Sequence[Reconstructor]], curves) -> dict[str, np.ndarray]:
    """Error by position of every variant, averaged over its models (seeds): name -> (15,)."""
    curves = checks.array("curves", curves, ndim=2, shape_hint="(n_curves, 15)")
    if curves.shape[1] != data.N_POINTS:
        raise ValueError(f"curves must have shape (n_curves, {data.N_POINTS}), got {curves.shape}")
    checks.mapping("variants", variants, what="variant names to lists of reconstructors (functions curves -> curves)")
    errors = {}
    for name, reconstructors in variants.items():
        if isinstance(reconstructors, (str, bytes)) or not hasattr(reconstructors, "__len__") or not all(
                callable(r) for r in reconstructors):
            raise TypeError(f"variants[{name!r}] must be a list of reconstructors (functions curves -> curves), "
                            f"got {reconstructors!r}")
        if len(reconstructors) == 0:
            raise ValueError(f"variants[{name!r}] has no models to score")
        errors[name] = np.mean([error_by_position(r(curves), curves) for r in reconstructors], axis=0)
    return errors


def region_errors(errors) -> dict[str, float]:
    """Mean error over all 15 positions and over each of :data:`REGIONS`."""
    errors = np.asarray(checks.array("errors", errors, ndim=1, shape_hint="(15,)"))
    if errors.shape != (data.N_POINTS,):
        raise ValueError(f"errors must have one value per position, shape ({data.N_POINTS},), got {errors.shape}")
    return {"all 15": float(errors.mean())} | {name: float(errors[list(p)].mean()) for name, p in REGIONS.items()}


def error_table(errors: Mapping[str, np.ndarray]) -> str:
    """The errors of :func:`compare` as a text table: one row per variant, one column per region."""
    checks.mapping("errors", errors, what="variant names to errors by position (15,)")
    rows = {name: region_errors(e) for name, e in errors.items()}
    width = max(len(name) for name in rows) + 2
    header = f"{'variant':{width}s}" + "".join(f"{column:>10s}" for column in next(iter(rows.values())))
    lines = [f"{name:{width}s}" + "".join(f"{v:10.2e}" for v in row.values()) for name, row in rows.items()]
    return "\n".join([header, *lines])
