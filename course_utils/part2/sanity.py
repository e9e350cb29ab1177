"""Sanity checks for attribution maps (Adebayo et al. 2018), for :class:`cnn.ShapeCNN`.

Used by notebook 11 (seeing inside a CNN).

A map that explains a model should change when the model changes. Adebayo,
Gilmer, Muelly, Goodfellow, Hardt & Kim (2018, "Sanity checks for saliency maps")
change it two ways and measure how much each method's map moves:

- **cascading randomisation**: re-initialise the weights from the top layer down,
  one more layer per stage (:data:`CASCADE`, :func:`cascading_randomisation`);
- **shuffled labels**: train the same network on labels in random order, so that it
  can learn nothing about the shapes (:func:`shuffled_labels`).

The distance is the Spearman rank correlation between the map before and after, per
image (:func:`stage_correlations`), computed on absolute values (Adebayo et al.
report it with and without them): which pixels matter, whatever the sign. Maps of a
ReLU network are often exactly zero over large areas; two maps that are both zero on
the same pixels share those tied ranks and correlate for that reason alone.
:func:`joint_zero_part` measures how much of a correlation comes from such pixels,
and :func:`correlation_where_nonzero` recomputes it without them.

:func:`attribution_maps` computes every method of :mod:`course_utils.part2.attribution`
for a batch in one compiled program, so that the many models of a sanity check
(which share one structure) reuse it.
"""

from __future__ import annotations

import numpy as np
from flax import nnx

from ..core import checks
from . import attribution, cnn

METHODS = ("saliency", "gradient x input", "guided backprop", "deconvnet", "integrated gradients", "occlusion")
"""The attribution methods compared in notebook 11, in the order of its table."""
IG_STEPS = 8
"""Integrated-gradients path points (midpoint rule): few, because each costs a forward and backward pass per image."""
OCCLUSION_PATCH, OCCLUSION_STRIDE = 8, 6
"""Occluding square and its step, in pixels: a quarter of the side, 5 x 5 = 25 positions (one forward pass each)."""
CASCADE = (("head",), ("head", "conv2"), ("head", "conv2", "conv1"))
"""The layers re-initialised at each stage of the cascading randomisation, top layer first."""


def _method_maps(model, images, classes, methods: tuple[str, ...]) -> dict:
    forward = model  # logits (n, 5)
    compute = {
        "saliency": lambda: attribution.saliency(forward, images, classes),
        "gradient x input": lambda: attribution.gradient_x_input(forward, images, classes),
        "guided backprop": lambda: attribution.gradient(
            lambda x: model(x, activation=attribution.guided_relu), images, classes).sum(axis=-1),
        "deconvnet": lambda: attribution.gradient(
            lambda x: model(x, activation=attribution.deconvnet_relu), images, classes).sum(axis=-1),
        "integrated gradients": lambda: attribution.integrated_gradients(forward, images, classes, steps=IG_STEPS),
        "occlusion": lambda: attribution.occlusion(forward, images, classes, patch=OCCLUSION_PATCH,
                                                   stride=OCCLUSION_STRIDE),
    }
    return {name: compute[name]() for name in methods}


# One compiled program per (model structure, batch shape, methods): the models of a
# sanity check differ only in their weights, so they all reuse it.
_compiled_maps = nnx.jit(_method_maps, static_argnames=("methods",))


def attribution_maps(model: cnn.ShapeCNN, images, classes, methods=METHODS) -> dict[str, np.ndarray]:
    """Every method's map of ``model``'s score for ``classes``: name -> (n, height, width) float32.

    Signed methods (all but saliency) keep their sign; guided backprop and the
    deconvnet sum the gradient over the image's channel. Settings: :data:`IG_STEPS`,
    :data:`OCCLUSION_PATCH`, :data:`OCCLUSION_STRIDE`, grey = each image's mean.
    """
    if not isinstance(model, cnn.ShapeCNN):
        raise TypeError(f"model must be a cnn.ShapeCNN, got {type(model).__name__}")
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    if not methods:
        raise ValueError(f"methods must name at least one of {METHODS}")
    for name in methods:
        checks.one_of("methods", name, set(METHODS))
    images = np.asarray(checks.array("images", images, ndim=4, shape_hint="(n, 32, 32, 1)"), np.float32)
    classes = np.asarray(checks.indices("classes", classes, size=model.head.out_features, what="class"))
    if classes.shape != images.shape[:1] or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(f"classes must be integers of shape ({images.shape[0]},), got {classes.dtype} {classes.shape}")
    maps = _compiled_maps(model, images, classes.astype(np.int32), methods)
    return {name: np.asarray(maps[name], np.float32) for name in methods}


def cascading_randomisation(model: cnn.ShapeCNN, *, seed: int) -> list[tuple[str, cnn.ShapeCNN]]:
    """The stages of :data:`CASCADE`: ``[(label, model with those layers re-initialised), ...]``.

    Labels read "head", "head+conv2", "head+conv2+conv1". Every stage draws its fresh
    weights from ``nnx.Rngs(seed)``, so a layer re-initialised at one stage keeps the
    same random weights at the next (a cascade, not a new draw each time).
    """
    cnn.check_shape_cnn(model)
    seed = checks.non_negative_int("seed", seed)
    return [("+".join(layers), cnn.reinitialise(model, layers, seed=seed)) for layers in CASCADE]


def shuffled_labels(labels, *, seed: int) -> np.ndarray:
    """``labels`` in a random order: the same classes in the same numbers, no link to the images."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape (n,), got {labels.shape}")
    seed = checks.non_negative_int("seed", seed)
    return np.random.default_rng(seed).permutation(labels)


def _flattened_pair(maps_a, maps_b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(checks.array("maps_a", maps_a, ndim=3, shape_hint="(n, height, width)", dtype=np.float64), np.float64)
    b = np.asarray(checks.array("maps_b", maps_b, ndim=3, shape_hint="(n, height, width)", dtype=np.float64), np.float64)
    if a.ndim != 3 or a.shape != b.shape:
        raise ValueError(f"maps_a and maps_b must have the same shape (n, height, width), got {a.shape} and {b.shape}")
    return a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)


def stage_correlations(reference: dict, stages: dict) -> dict[str, np.ndarray]:
    """Spearman correlation of |map| with |reference map|, per method, stage and image.

    ``reference`` is name -> maps (n, h, w) of the trained model, ``stages`` is
    label -> (name -> maps) of changed models. Returns name -> array (stages, n), the
    stages in the order given. Uses ``attribution.rank_correlation`` (average ranks for ties).
    """
    if not isinstance(reference, dict) or not isinstance(stages, dict) or not stages:
        raise TypeError("reference must map method -> maps, stages must map a label -> (method -> maps)")
    out = {}
    for name, ref in reference.items():
        missing = [label for label, maps in stages.items() if name not in maps]
        if missing:
            raise ValueError(f"method {name!r} has no maps at stage(s) {missing}")
        out[name] = np.stack([attribution.rank_correlation(np.abs(ref), np.abs(maps[name]))
                              for maps in stages.values()])
    return out


def joint_zero_part(maps_a, maps_b) -> np.ndarray:
    """The part of each pair's Spearman rho (of absolute values) that comes from pixels zero in both: (n,).

    Spearman's rho is sum_i (ra_i - mean)(rb_i - mean) / norm over pixels ``i``, with
    ranks ``ra``, ``rb`` of |a| and |b|; this is the same sum over only the pixels where
    a and b are both exactly 0, divided by the same norm, so rho = this part + the
    rest. Zeros hold the lowest (tied) ranks in both maps, so each such pixel adds a
    positive term: the maps agree on where nothing happens. NaN where a map is constant.
    """
    from scipy import stats  # imported here: a third of the package's import time

    a, b = _flattened_pair(maps_a, maps_b)
    a, b = np.abs(a), np.abs(b)
    ra = stats.rankdata(a, axis=1)
    rb = stats.rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    both_zero = (a == 0) & (b == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb * both_zero).sum(axis=1) / np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))


def joint_zero_share(maps_a, maps_b) -> np.ndarray:
    """:func:`joint_zero_part` as a share of rho, per image: (n,); NaN where rho is 0 or undefined.

    Per image the share is unstable when rho is near 0 (it can leave [0, 1]); to
    summarise many images, divide the mean part by the mean rho instead.
    """
    part = joint_zero_part(maps_a, maps_b)
    rho = attribution.rank_correlation(np.abs(np.asarray(maps_a, np.float64)), np.abs(np.asarray(maps_b, np.float64)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rho != 0, part / rho, np.nan)


def correlation_where_nonzero(maps_a, maps_b) -> np.ndarray:
    """Spearman correlation of |a| and |b| over the pixels where at least one map is non-zero: (n,).

    ``scipy.stats.spearmanr`` per image; NaN where fewer than 3 such pixels remain or
    a map is constant on them.
    """
    from scipy import stats  # imported here: a third of the package's import time

    a, b = _flattened_pair(maps_a, maps_b)
    a, b = np.abs(a), np.abs(b)
    out = np.full(a.shape[0], np.nan)
    for i in range(a.shape[0]):
        keep = (a[i] != 0) | (b[i] != 0)
        if keep.sum() >= 3 and np.ptp(a[i, keep]) > 0 and np.ptp(b[i, keep]) > 0:
            out[i] = stats.spearmanr(a[i, keep], b[i, keep]).statistic
    return out


def zero_share(maps) -> np.ndarray:
    """Share of each map's pixels that are exactly 0: (n,)."""
    maps = checks.array("maps", maps, ndim=3, shape_hint="(n, height, width)", dtype=None)
    return (maps == 0).mean(axis=(1, 2))

