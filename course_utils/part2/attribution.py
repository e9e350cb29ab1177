"""Which pixels made the network say that? Attribution maps and the deconvnet.

Used by notebooks 11 (seeing inside a CNN) and 12 (what a unit wants).

**The calling convention.** Every map function takes ``forward, images, classes``:
``forward(images)`` maps a batch (n, height, width, channels) to scores (n, k) (a
model's logits, or any layer's units flattened to (n, k)), and ``classes`` picks
the score to explain, one int for all images or one per image. The map for image
``i`` explains ``forward(images)[i, classes[i]]``; each image's score must depend
on that image only (true of any network without batch statistics). So
``saliency(model, images, labels)`` explains the labels, and
``gradient(lambda x: model(x, activation=guided_relu), images, labels)`` is
guided backpropagation: a model that takes its activation as an argument (such as
``cnn.ShapeCNN``) is explained with plain ``jax.grad``. The functions are
traceable; wrap a call in ``jax.jit`` if it is repeated many times.

**The rules at a ReLU** (forward ``max(x, 0)`` in every case; they differ in what
the backward pass lets through, given the forward input ``x`` and the gradient
``g`` arriving from above):

- gradient (saliency, Simonyan, Vedaldi & Zisserman 2014): ``g`` where ``x > 0``;
- deconvnet (Zeiler & Fergus 2014): ``g`` where ``g > 0``, whatever ``x`` was, i.e.
  the ReLU applied to the backward signal (:func:`deconvnet_relu`);
- guided backpropagation (Springenberg et al. 2015): ``g`` where ``x > 0`` and
  ``g > 0`` (:func:`guided_relu`).

:func:`deconvnet_projection` computes the deconvnet the way Zeiler & Fergus
describe it, for ``cnn.ShapeCNN``: unpool with the forward pass's max locations
("switches"), rectify, filter with the transposed filters, layer by layer. It is
the backward pass with :func:`deconvnet_relu` written out (the tests check that).

All maps are (n, height, width): signed methods sum over the image's channels,
saliency takes the largest magnitude over channels (as Simonyan et al. do for
colour). :func:`on_object_share` scores a map by the share of its absolute mass
that falls on the object's mask.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks
from . import cnn

# ---------------------------------------------------------------------------
# ReLUs with the backward rules of the deconvnet and of guided backpropagation


@jax.custom_vjp
def guided_relu(x):
    """ReLU whose backward pass keeps ``g`` only where ``x > 0`` and ``g > 0`` (guided backprop)."""
    return jnp.maximum(x, 0)


def _guided_forward(x):
    return jnp.maximum(x, 0), x


def _guided_backward(x, g):
    return (jnp.where((x > 0) & (g > 0), g, jnp.zeros_like(g)),)


guided_relu.defvjp(_guided_forward, _guided_backward)


@jax.custom_vjp
def deconvnet_relu(x):
    """ReLU whose backward pass is ``max(g, 0)``, whatever ``x`` was (Zeiler & Fergus's deconvnet)."""
    return jnp.maximum(x, 0)


def _deconvnet_forward(x):
    return jnp.maximum(x, 0), None


def _deconvnet_backward(_, g):
    return (jnp.maximum(g, 0),)


deconvnet_relu.defvjp(_deconvnet_forward, _deconvnet_backward)


# ---------------------------------------------------------------------------
# Argument checks


def _check_forward(forward):
    if not callable(forward):
        raise TypeError(f"forward must be a function images -> scores (n, k), got {type(forward).__name__}")
    return forward


def _checked_images(images):
    return jnp.asarray(checks.array("images", images, ndim=4, shape_hint="(n, height, width, channels)"))


def _check_classes(classes, n: int):
    """``classes`` as an int32 array (n,): an int is used for every image."""
    if isinstance(classes, numbers.Integral) and not isinstance(classes, bool):
        return jnp.full((n,), int(classes), dtype=jnp.int32)
    arr = classes if isinstance(classes, jax.Array) else np.asarray(classes)
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"classes must be an int or integers (one per image), got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"classes must be an int or have shape ({n},) (one per image), got shape {arr.shape}")
    return jnp.asarray(arr, dtype=jnp.int32)


def _picked(scores, classes, n: int):
    """``scores[i, classes[i]]`` after checking that ``forward`` returned (n, k)."""
    if scores.ndim != 2 or scores.shape[0] != n:
        raise ValueError(f"forward(images) must return scores of shape ({n}, k), got shape {scores.shape}")
    try:
        low, high = int(classes.min()), int(classes.max())
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerIntegerConversionError):
        pass  # classes only known when the program runs (inside jit): nothing to check here
    else:
        if low < 0 or high >= scores.shape[1]:
            raise ValueError(f"classes must lie in 0..{scores.shape[1] - 1}, got values from {low} to {high}")
    return jnp.take_along_axis(scores, classes[:, None], axis=1)[:, 0]


# ---------------------------------------------------------------------------
# Gradient-based maps


def gradient(forward: Callable, images, classes) -> jax.Array:
    """d score_i / d images_i for every image: an array shaped like ``images``.

    One backward pass for the whole batch (the gradient of the sum of the scores,
    which is each image's own gradient because scores do not mix images).
    """
    _check_forward(forward)
    images = _checked_images(images)
    classes = _check_classes(classes, images.shape[0])
    return jax.grad(lambda x: _picked(forward(x), classes, x.shape[0]).sum())(images)


def saliency(forward: Callable, images, classes) -> jax.Array:
    """|d score / d input| (Simonyan et al. 2014), largest over channels: (n, height, width)."""
    return jnp.abs(gradient(forward, images, classes)).max(axis=-1)


def gradient_x_input(forward: Callable, images, classes) -> jax.Array:
    """Gradient times input, summed over channels: (n, height, width), signed."""
    images = _checked_images(images)
    return (gradient(forward, images, classes) * images).sum(axis=-1)


def integrated_gradients(forward: Callable, images, classes, *, baseline=0.0, steps: int = 32) -> jax.Array:
    """Integrated gradients (Sundararajan, Taly & Yan 2017), summed over channels: (n, height, width).

    ``(x - baseline) * mean of the gradient along the straight path from
    ``baseline`` to ``x``, estimated with the midpoint rule at ``steps`` points
    ``baseline + (j + 1/2)/steps * (x - baseline)``. The map adds up to about
    ``score(x) - score(baseline)`` (completeness); more steps, closer. ``baseline``
    is a number (a flat grey image) or an array broadcastable to ``images``. All
    ``steps`` x n path images go through ``forward`` in one vmapped batch.
    """
    _check_forward(forward)
    images = _checked_images(images)
    classes = _check_classes(classes, images.shape[0])
    steps = checks.positive_int("steps", steps)
    if isinstance(baseline, numbers.Real) and not isinstance(baseline, bool):
        baseline = jnp.full_like(images, float(baseline))
    else:
        baseline = jnp.asarray(baseline, dtype=images.dtype)
        try:
            baseline = jnp.broadcast_to(baseline, images.shape)
        except ValueError as err:
            raise ValueError(
                f"baseline must be a number or broadcast to the images' shape {images.shape}, got shape {baseline.shape}"
            ) from err
    alphas = (jnp.arange(steps, dtype=images.dtype) + 0.5) / steps
    grads = jax.vmap(lambda a: gradient(forward, baseline + a * (images - baseline), classes))(alphas)
    return ((images - baseline) * grads.mean(axis=0)).sum(axis=-1)


# ---------------------------------------------------------------------------
# Occlusion


def patch_starts(length: int, patch: int, stride: int) -> tuple[int, ...]:
    """Where the occluding patches start along one axis: every ``stride``, plus one flush with the end."""
    length, patch = checks.positive_int("length", length), checks.positive_int("patch", patch)
    stride = checks.positive_int("stride", stride)
    if patch > length:
        raise ValueError(f"patch ({patch}) must fit in the length ({length})")
    starts = set(range(0, length - patch + 1, stride))
    starts.add(length - patch)  # so the last pixels are covered too
    return tuple(sorted(starts))


def occlusion(forward: Callable, images, classes, *, patch: int = 8, stride: int = 4, value=None) -> jax.Array:
    """Score drop when a square patch is painted over (Zeiler & Fergus 2014): (n, height, width).

    A ``patch`` x ``patch`` square of grey ``value`` (None: each image's mean) is
    slid with ``stride`` (see :func:`patch_starts`); for each position the drop
    ``score(image) - score(occluded image)`` is recorded, and each pixel gets the
    mean drop of the positions whose patch covers it. Positive: hiding the pixel
    lowers the score. The positions are evaluated with ``jax.vmap``, so all of
    them go through ``forward`` in one batch (positions x n images).
    """
    _check_forward(forward)
    images = _checked_images(images)
    n, height, width, _ = images.shape
    classes = _check_classes(classes, n)
    patch = checks.positive_int("patch", patch)
    stride = checks.positive_int("stride", stride)
    if patch >= min(height, width):
        raise ValueError(f"patch must be smaller than the images ({height}x{width}), got {patch}: a patch that covers "
                         "the whole image gives every pixel the same score drop (pass a smaller patch=)")
    if stride > patch:
        raise ValueError(f"stride must be at most patch ({patch}) so that every pixel is covered, got {stride}")
    if value is None:
        fill = images.mean(axis=(1, 2, 3), keepdims=True)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        fill = jnp.full((n, 1, 1, 1), float(value), dtype=images.dtype)
    else:
        raise TypeError(f"value must be a number or None (each image's mean), got {type(value).__name__}")
    rows, cols = patch_starts(height, patch, stride), patch_starts(width, patch, stride)
    covers = np.zeros((len(rows) * len(cols), height, width), dtype=np.float32)
    for p, (r, c) in enumerate((r, c) for r in rows for c in cols):
        covers[p, r : r + patch, c : c + patch] = 1.0
    covers = jnp.asarray(covers)

    def score(x):
        return _picked(forward(x), classes, n)

    def occluded_score(cover):
        m = cover[None, :, :, None]
        return score(images * (1 - m) + fill * m)

    drops = score(images)[None, :] - jax.vmap(occluded_score)(covers)  # (positions, n)
    return jnp.einsum("pn,phw->nhw", drops, covers) / covers.sum(axis=0)


# ---------------------------------------------------------------------------
# Scores for maps


def dilate_masks(masks, pixels: int) -> np.ndarray:
    """Grow boolean masks (n, height, width) by ``pixels`` in every direction (a square neighbourhood)."""
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.dtype != bool:
        raise ValueError(f"masks must be boolean with shape (n, height, width), got {masks.dtype} {masks.shape}")
    pixels = checks.non_negative_int("pixels", pixels)
    if pixels == 0:
        return masks.copy()
    width = 2 * pixels + 1
    padded = np.pad(masks, ((0, 0), (pixels, pixels), (pixels, pixels)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (width, width), axis=(1, 2))
    return windows.any(axis=(-2, -1))


def on_object_share(attribution_maps, masks, dilate: int = 1) -> np.ndarray:
    """Share of each map's absolute mass that lies on its (dilated) object mask: (n,) in [0, 1].

    ``attribution_maps`` (n, height, width), ``masks`` boolean of the same shape;
    the mask is grown by ``dilate`` pixels first, because a shape's edge pixels
    and their neighbours carry the evidence. A map with no mass at all gives NaN.
    Chance level, the share of a flat map, is ``on_object_share(np.ones_like(maps), masks)``.
    """
    maps = np.abs(np.asarray(checks.array("attribution_maps", attribution_maps, ndim=3,
                                          shape_hint="(n, height, width)", dtype=np.float64), np.float64))
    checks.non_negative_int("dilate", dilate)
    grown = dilate_masks(masks, dilate)
    if grown.shape != maps.shape:
        raise ValueError(f"masks must have the maps' shape {maps.shape}, got {grown.shape}")
    total = maps.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (maps * grown).sum(axis=(1, 2)) / total


def rank_correlation(maps_a, maps_b) -> np.ndarray:
    """Spearman rank correlation between matching maps, one number per image: (n,).

    The sanity check of Adebayo et al. (2018): a map that barely changes when the
    model's weights are randomised correlates highly with the original. Ties get
    their average rank; a constant map gives NaN.
    """
    from scipy import stats  # imported here: a third of the package's import time

    a = np.asarray(checks.array("maps_a", maps_a, ndim=np.ndim(maps_a) if np.ndim(maps_a) >= 2 else 2,
                                shape_hint="(n, height, width)", dtype=np.float64), np.float64)
    b = np.asarray(checks.array("maps_b", maps_b, ndim=a.ndim, shape_hint=f"{a.shape}, like maps_a", dtype=np.float64), np.float64)
    if a.shape != b.shape:
        raise ValueError(f"maps_a and maps_b must have the same shape (n, ...), got {a.shape} and {b.shape}")
    ra = stats.rankdata(a.reshape(a.shape[0], -1), axis=1)
    rb = stats.rankdata(b.reshape(b.shape[0], -1), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb).sum(axis=1) / np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))


# ---------------------------------------------------------------------------
# The deconvnet written out (Zeiler & Fergus 2014) for cnn.ShapeCNN

PROJECTABLE = ("conv1", "act1", "pool1", "conv2", "act2", "pool2")
"""Layers of ``cnn.ShapeCNN`` that :func:`deconvnet_projection` projects down from."""


def pool_switches(x) -> jax.Array:
    """Where each 2x2 max-pool window of ``x`` (b, h, w, c) took its maximum: bool, shaped like ``x``.

    One True per window, at the first maximum in reading order (row by row), which
    is where JAX's max-pool gradient sends the signal when several values tie
    (common after a ReLU: a window of zeros).
    """
    x = checks.array("x", x, ndim=4, shape_hint="(b, h, w, c) with h and w even", dtype=None)
    if x.shape[1] % cnn.POOL or x.shape[2] % cnn.POOL:
        raise ValueError(f"x must have shape (b, h, w, c) with h and w even, got {x.shape}")
    b, h, w, c = x.shape
    p = cnn.POOL
    windows = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 5, 2, 4).reshape(b, h // p, w // p, c, p * p)
    first_max = jax.nn.one_hot(windows.argmax(axis=-1), p * p, dtype=bool)
    return first_max.reshape(b, h // p, w // p, c, p, p).transpose(0, 1, 4, 2, 5, 3).reshape(b, h, w, c)


def unpool(signal, switches) -> jax.Array:
    """Put each pooled value back where its window's maximum was; zeros elsewhere.

    ``signal`` (b, h/2, w/2, c), ``switches`` from :func:`pool_switches` (b, h, w, c).
    """
    p = cnn.POOL
    signal = checks.array("signal", signal, ndim=4, shape_hint="(b, h/2, w/2, c)", dtype=None)
    if not hasattr(switches, "ndim") or switches.ndim != 4:
        raise ValueError(f"switches must be (b, h, w, c) from pool_switches, got {getattr(switches, 'shape', switches)!r}")
    if signal.shape[0] != switches.shape[0] or signal.shape[1:3] != (switches.shape[1] // p, switches.shape[2] // p):
        raise ValueError(f"signal {signal.shape} is not the pooled size of switches {switches.shape}")
    return jnp.repeat(jnp.repeat(signal, p, axis=1), p, axis=2) * switches


def transposed_filter(signal, kernel) -> jax.Array:
    """Apply the transpose of a stride-1 'SAME' convolution with ``kernel`` (kh, kw, in, out) to ``signal``.

    For an odd kernel this is an ordinary 'SAME' convolution with the kernel flipped
    in both spatial directions and its in/out channels swapped: it maps (b, h, w, out)
    back to (b, h, w, in). The bias plays no part, as in Zeiler & Fergus.
    """
    kernel = jnp.asarray(checks.array("kernel", kernel, ndim=4, shape_hint="(kh, kw, in_channels, out_channels)"))
    signal = checks.array("signal", signal, ndim=4, shape_hint="(batch, height, width, out_channels)")
    if kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ValueError(f"kernel must have odd height and width, got shape {kernel.shape}")
    if signal.shape[-1] != kernel.shape[-1]:
        raise ValueError(f"signal has {signal.shape[-1]} channels but the kernel maps to {kernel.shape[-1]} "
                         f"(kernel shape {kernel.shape}): they must match")
    flipped = jnp.flip(kernel, axis=(0, 1)).transpose(0, 1, 3, 2)
    return jax.lax.conv_general_dilated(
        signal, flipped, window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


def deconvnet_projection(model: cnn.ShapeCNN, images, layer: str, signal) -> jax.Array:
    """Project ``signal`` at ``layer`` down to pixels with the deconvnet: (n, 32, 32, 1).

    ``signal`` has the shape of ``model.features(images)[layer]`` (for Zeiler &
    Fergus: that layer's activations with all but one set to zero). Going down
    through the layers: a max-pool is undone by :func:`unpool` with the switches
    of the forward pass (which uses ``jax.nn.relu``), a ReLU by rectifying the
    signal, a convolution by :func:`transposed_filter` with its kernel.
    """
    if not isinstance(model, cnn.ShapeCNN):
        raise TypeError(f"model must be a cnn.ShapeCNN, got {type(model).__name__}")
    checks.one_of("layer", layer, set(PROJECTABLE))
    images = _checked_images(images)
    feats = model.features(images, upto=layer, activation=jax.nn.relu)
    signal = jnp.asarray(checks.array("signal", signal, ndim=4, shape_hint=f"{feats[layer].shape}, the layer's", dtype=None),
                         dtype=images.dtype)
    if signal.shape != feats[layer].shape:
        raise ValueError(f"signal must have the shape of layer {layer!r}, {feats[layer].shape}, got {signal.shape}")
    undo = {
        "pool2": lambda g: unpool(g, pool_switches(feats["act2"])),
        "act2": lambda g: jnp.maximum(g, 0),
        "conv2": lambda g: transposed_filter(g, model.conv2.kernel[...]),
        "pool1": lambda g: unpool(g, pool_switches(feats["act1"])),
        "act1": lambda g: jnp.maximum(g, 0),
        "conv1": lambda g: transposed_filter(g, model.conv1.kernel[...]),
    }
    g = signal
    for name in reversed(PROJECTABLE[: PROJECTABLE.index(layer) + 1]):
        g = undo[name](g)
    return g


def strongest_unit(model: cnn.ShapeCNN, images, layer: str, channel: int) -> tuple[jax.Array, jax.Array]:
    """Each image's strongest activation of ``channel`` at ``layer``, alone.

    Returns ``(signal, positions)``: ``signal`` has the layer's shape and is zero
    except, per image, at the largest value of that channel (which it keeps);
    ``positions`` (n, 2) are its (row, col) in the layer's grid. This is the
    signal Zeiler & Fergus project down with :func:`deconvnet_projection`.
    """
    cnn.check_shape_cnn(model)
    checks.one_of("layer", layer, set(PROJECTABLE))
    images = _checked_images(images)
    feats = model.features(images, upto=layer, activation=jax.nn.relu)[layer]
    channel = checks.non_negative_int("channel", channel)
    if channel >= feats.shape[-1]:
        raise ValueError(f"channel must lie in 0..{feats.shape[-1] - 1} for layer {layer!r}, got {channel}")
    n, h, w, _ = feats.shape
    flat = feats[..., channel].reshape(n, -1)
    best = flat.argmax(axis=1)
    keep = jax.nn.one_hot(best, h * w, dtype=feats.dtype) * flat
    signal = jnp.zeros_like(feats).at[..., channel].set(keep.reshape(n, h, w))
    return signal, jnp.stack([best // w, best % w], axis=1)
