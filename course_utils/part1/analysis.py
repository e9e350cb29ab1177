"""Looking inside trained models: aligning seeds, ablating code components, PCA, smoothness.

Used by notebooks 04 (alignment, ablation, PCA, angles to principal directions) and 05
(smoothness, PCA).

Filters of different seeds can only be compared after matching them up to sign and
order: a model whose code component 1 is another model's component 3 with the sign
flipped computes the same thing. :func:`align_filters` finds that matching.

Angles between spans use :func:`scipy.linalg.subspace_angles` (accurate near 0,
where ``arccos`` of a cosine close to 1 is not); the matching of filters across
seeds is an assignment problem, solved by :func:`scipy.optimize.linear_sum_assignment`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import scipy.optimize
from flax import nnx

from ..core import checks
from .models import CODE_SIZE


def _unit_columns(filters: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(filters, axis=-2, keepdims=True)
    return filters / np.where(norms == 0, 1.0, norms)


def _filter_stack(name: str, filters) -> np.ndarray:
    filters = np.asarray(checks.array(name, filters, ndim=3, shape_hint="(seeds, taps, components)"), np.float64)
    if filters.shape[0] < 1 or filters.shape[2] < 1:
        raise ValueError(f"{name} must hold at least one seed and one component, got shape {filters.shape}")
    return filters


def align_filters(filters, reference: int = 0):
    """Match every seed's filters to the reference seed's, up to sign and order.

    ``filters`` has shape (seeds, taps, components). For each seed, the order of
    components and their signs are chosen to maximise the summed absolute cosine
    similarity with the reference seed's filters: an assignment problem, solved
    exactly by ``scipy.optimize.linear_sum_assignment`` (for 3 components it picks
    the same order as trying all 6 permutations).
    Returns ``(aligned, order, signs)``: the reordered, sign-flipped filters (same
    shape), and for each seed the component order (seeds, components) and the
    signs applied (seeds, components).
    """
    filters = _filter_stack("filters", filters)
    n_seeds, _, n_comp = filters.shape
    reference = checks.non_negative_int("reference", reference)
    if reference >= n_seeds:
        raise ValueError(f"reference must be a seed index in 0..{n_seeds - 1}, got {reference}")
    ref = _unit_columns(filters[reference])
    aligned = np.empty_like(filters)
    orders = np.empty((n_seeds, n_comp), np.int64)
    signs = np.empty((n_seeds, n_comp))
    for s in range(n_seeds):
        cos = ref.T @ _unit_columns(filters[s])  # cos[i, j]: reference i vs this seed's j
        _, best = scipy.optimize.linear_sum_assignment(np.abs(cos), maximize=True)  # best[i]: this seed's match for i
        orders[s] = best
        signs[s] = np.where(cos[range(n_comp), best] < 0, -1.0, 1.0)
        aligned[s] = filters[s][:, best] * signs[s]
    return aligned, orders, signs


def consistency(filters, *, align: bool = True) -> float:
    """How alike the filters of different seeds are: a number from 0 to 1.

    The mean absolute cosine similarity between matching filters, averaged over
    every pair of seeds (each seed serves as the reference in turn, so no seed is
    special). With ``align=True`` each seed's filters are first matched to the
    reference's up to sign and order (:func:`align_filters`); with ``align=False``
    component c is compared with component c as trained (signs still ignored).
    """
    filters = _filter_stack("filters", filters)
    n_seeds = filters.shape[0]
    if n_seeds < 2:
        raise ValueError("consistency needs at least two seeds")
    scores = []
    for reference in range(n_seeds):
        matched = align_filters(filters, reference)[0] if align else filters
        unit = _unit_columns(matched)
        cos = np.einsum("tc,stc->sc", unit[reference], unit)
        scores.append(np.abs(np.delete(cos, reference, axis=0)).mean())
    return float(np.mean(scores))


def ablation_mse(model, data) -> np.ndarray:
    """Reconstruction MSE with each code component zeroed in turn.

    Returns ``[mse_with_all, mse_without_component_1, ..., mse_without_component_3]``:
    the larger the loss without a component, the more information it carries.
    """
    checks.model_with("model", model, ("encode", "decode"), "models.PatchAutoencoder")
    data = jnp.asarray(checks.array("data", data, ndim=2, shape_hint="(n_examples, length)"))
    graphdef, state = nnx.split(model)
    return np.asarray(_ablation_losses(graphdef, state, data), np.float64)


@functools.partial(jax.jit, static_argnums=0)
def _ablation_losses(graphdef, state, data):
    """One compiled program for all four losses (one per model structure and data shape)."""
    model = nnx.merge(graphdef, state)
    code = model.encode(data)
    keep = jnp.concatenate([jnp.ones((1, CODE_SIZE)), 1.0 - jnp.eye(CODE_SIZE)])  # all, then each one zeroed
    return jnp.stack([((model.decode(code * mask) - data) ** 2).mean() for mask in keep])


def principal_directions(data, *, centre: bool = False):
    """Principal directions of the rows of ``data`` and the share of variance of each.

    Returns ``(directions, shares)``: directions as columns (length, length), sorted
    by decreasing variance, and each direction's share of the total. With
    ``centre=False`` (the default) the variance is taken about zero, which suits
    the decoder: it can only add multiples of its filters (plus one constant bias).
    """
    data = np.asarray(checks.array("data", data, ndim=2, shape_hint="(n_examples, length)"), np.float64)
    if centre:
        data = data - data.mean(axis=0)
    _, s, vt = np.linalg.svd(data, full_matrices=False)
    return vt.T, s**2 / (s**2).sum()


def principal_angles_deg(span_a, span_b) -> np.ndarray:
    """Principal angles (degrees, ascending) between the column spans of two matrices.

    0 degrees: the spans share a direction; 90: orthogonal. Two spans of equal
    dimension are the same subspace when every angle is 0. There are
    ``min(k_a, k_b)`` angles (``scipy.linalg.subspace_angles``).
    """
    a = checks.array("span_a", span_a, ndim=2, shape_hint="(length, k)")
    b = checks.array("span_b", span_b, ndim=2, shape_hint="(length, k)")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"spans must live in one space: got lengths {a.shape[0]} and {b.shape[0]}")
    angles = scipy.linalg.subspace_angles(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return np.sort(np.degrees(angles))


def filter_angles_deg(filters, directions) -> np.ndarray:
    """Angle (degrees, 0..90) between each filter and its own direction, sign ignored.

    ``filters`` has shape ([seeds,] taps, k) and ``directions`` (taps, k): filter
    column j is compared with direction column j alone, not with the span of all
    directions (that is :func:`principal_angles_deg`). Returns ([seeds,] k).
    """
    ndim = np.ndim(filters)
    if ndim not in (2, 3):
        raise ValueError(f"filters must have shape (taps, k) or (seeds, taps, k), got {ndim} dimensions")
    filters = np.asarray(checks.array("filters", filters, ndim=ndim, shape_hint="([seeds,] taps, k)"), np.float64)
    directions = np.asarray(checks.array("directions", directions, ndim=2, shape_hint="(taps, k)"), np.float64)
    if filters.shape[-2:] != directions.shape:
        raise ValueError(f"filters {filters.shape} and directions {directions.shape} must pair up: "
                         "one direction (column) per filter, same number of taps")
    if np.any(np.linalg.norm(filters, axis=-2) == 0) or np.any(np.linalg.norm(directions, axis=0) == 0):
        raise ValueError("a filter or direction of length 0 has no angle")
    cosines = np.abs((_unit_columns(filters) * _unit_columns(directions)).sum(axis=-2))
    return np.degrees(np.arccos(np.clip(cosines, 0.0, 1.0)))


def roughness(filters) -> np.ndarray:
    """Mean squared second difference of each unit-length filter: 0 for a straight line.

    ``filters`` has shape ([seeds,] taps, components); returns ([seeds,] components).
    Filters are scaled to unit length first, so a big filter is not called rough
    just for being big.
    """
    ndim = np.ndim(filters)
    if ndim not in (2, 3):
        raise ValueError(f"filters must have shape (taps, components) or (seeds, taps, components), got {ndim} dimensions")
    filters = np.asarray(checks.array("filters", filters, ndim=ndim, shape_hint="(seeds, taps, components)"), np.float64)
    if filters.shape[-2] < 3:
        raise ValueError(f"filters need at least 3 taps, got shape {filters.shape}")
    return (np.diff(_unit_columns(filters), n=2, axis=-2) ** 2).mean(axis=-2)
