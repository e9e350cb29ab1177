"""A small CNN that classifies the shapes of :mod:`course_utils.part2.shapes`, as a Flax NNX module.

Used by notebooks 11 (deconvnet, attribution, sanity checks) and 12 (activation
maximisation, inversion, DeepDream).

Architecture (``ShapeCNN``), every convolution with ``'SAME'`` padding so that each
feature map stays aligned with the image::

    image (32, 32, 1)
    conv1  5x5, 1 -> 8      act1   pool1  2x2 max, stride 2   -> (16, 16, 8)
    conv2  3x3, 8 -> 16     act2   pool2  2x2 max, stride 2   -> (8, 8, 16)
    gmax   global max over positions                          -> (16,)
    logits dense 16 -> 5

The head takes each layer-2 channel's largest response anywhere in the image: it
asks "is this pattern somewhere?", which suits a shape at a random position. (A
flatten head on the same convolutions, with 1,024 inputs instead of 16, learned
far more slowly in our trials: it needed about three times as many Adam steps.)

The activation is a parameter, of the constructor (the default) and of each call,
so that the same trained weights can be explained by swapping ``jax.nn.relu`` for
a ReLU with a custom gradient (``attribution.guided_relu``,
``attribution.deconvnet_relu``) and calling plain ``jax.grad``.
``model.features(x, upto=name)`` returns every intermediate output by name
(``LAYERS``), which is what the attribution and visualisation code reads.

The dataset-centric view of notebook 12 reads the architecture too:
:func:`receptive_field` and :func:`patch_origin` (which input pixels a unit sees),
:func:`top_patches` (the patches that excite a unit most) and :func:`layer_maps`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ..core import checks, devices
from . import shapes

LAYERS = ("conv1", "act1", "pool1", "conv2", "act2", "pool2", "gmax", "logits")
"""Names of the intermediate outputs of :meth:`ShapeCNN.features`, in forward order."""
PARAM_LAYERS = ("conv1", "conv2", "head")
"""The layers that hold weights, from the input up (``head`` computes ``logits``)."""
CHANNELS = (8, 16)
"""Channels of conv1 and conv2."""
KERNELS = (5, 3)
"""Kernel sizes of conv1 and conv2."""
POOL = 2
"""Window and stride of both max-pools."""


def _check_images(name: str, x):
    if not hasattr(x, "ndim") or x.ndim != 4 or x.shape[-1] != 1 or x.shape[1] % 4 or x.shape[2] % 4:
        raise ValueError(
            f"{name} must have shape (batch, height, width, 1) with height and width multiples of 4, "
            f"got {getattr(x, 'shape', type(x).__name__)}"
        )


def max_pool(x: jax.Array) -> jax.Array:
    """2x2 max-pool with stride 2 over (batch, height, width, channels)."""
    x = checks.array("x", x, ndim=4, shape_hint="(batch, height, width, channels)", dtype=None)
    return nnx.max_pool(x, window_shape=(POOL, POOL), strides=(POOL, POOL), padding="VALID")


class ShapeCNN(nnx.Module):
    """conv -> activation -> max-pool, twice, then a global max-pool and a dense head.

    ``model(x)`` maps images (batch, 32, 32, 1) to class scores (batch, 5).
    ``activation`` (default ``jax.nn.relu``) is any function applied elementwise
    after each convolution; a call may override it with ``activation=...``.
    """

    def __init__(self, *, rngs: nnx.Rngs, activation: Callable = jax.nn.relu, n_classes: int = shapes.N_CLASSES):
        checks.rngs("rngs", rngs)
        if not callable(activation):
            raise TypeError(f"activation must be a function such as jax.nn.relu, got {type(activation).__name__}")
        n_classes = checks.positive_int("n_classes", n_classes, minimum=2)
        self.activation = activation
        self.conv1 = nnx.Conv(1, CHANNELS[0], kernel_size=(KERNELS[0],) * 2, padding="SAME", rngs=rngs)
        self.conv2 = nnx.Conv(CHANNELS[0], CHANNELS[1], kernel_size=(KERNELS[1],) * 2, padding="SAME", rngs=rngs)
        self.head = nnx.Linear(CHANNELS[1], n_classes, rngs=rngs)

    def features(self, x: jax.Array, *, upto: str = "logits", activation: Callable | None = None) -> dict:
        """Every intermediate output from ``conv1`` up to and including ``upto``.

        Returns a dict name -> array, in the order of ``LAYERS``; the computation
        stops at ``upto``. Shapes for a (b, 32, 32, 1) input: conv1/act1 (b, 32, 32, 8),
        pool1 (b, 16, 16, 8), conv2/act2 (b, 16, 16, 16), pool2 (b, 8, 8, 16),
        gmax (b, 16), logits (b, 5). ``conv*`` are before the activation, ``act*``
        after it.
        """
        _check_images("x", x)
        checks.one_of("upto", upto, set(LAYERS))
        act = self.activation if activation is None else activation
        if not callable(act):
            raise TypeError(f"activation must be a function such as jax.nn.relu, got {type(act).__name__}")
        steps = (
            ("conv1", self.conv1),
            ("act1", act),
            ("pool1", max_pool),
            ("conv2", self.conv2),
            ("act2", act),
            ("pool2", max_pool),
            ("gmax", lambda h: h.max(axis=(1, 2))),
            ("logits", self.head),
        )
        out = {}
        h = x
        for name, step in steps:
            h = step(h)
            out[name] = h
            if name == upto:
                break
        return out

    def __call__(self, x: jax.Array, *, activation: Callable | None = None) -> jax.Array:
        return self.features(x, upto="logits", activation=activation)["logits"]


def class_scores(model: ShapeCNN, images, classes, *, activation: Callable | None = None) -> jax.Array:
    """The logit of ``classes[i]`` for ``images[i]``: (batch,) scores to explain.

    Raises ``TypeError`` for classes that are not integers, ``ValueError`` for a class
    outside ``0..n_classes-1`` or a number of classes that differs from the images'.
    """
    check_shape_cnn(model)
    images = checks.array("images", images, ndim=4, shape_hint="(batch, 32, 32, 1)", dtype=None)
    logits = model(images, activation=activation)
    classes = jnp.asarray(checks.indices("classes", classes, size=logits.shape[1], what="class"))
    if classes.shape != logits.shape[:1]:
        raise ValueError(f"classes must have shape ({logits.shape[0]},) (one per image), got {classes.shape}")
    return jnp.take_along_axis(logits, classes[:, None].astype(jnp.int32), axis=1)[:, 0]


def cross_entropy_loss(model: ShapeCNN, batch, key=None) -> jax.Array:
    """Mean softmax cross-entropy of ``batch = (images, labels)``; ``key`` is unused.

    The signature ``loss(model, batch, key)`` is the one ``training.train`` expects.
    """
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError("batch must be a pair (images, labels)")
    check_classifier(model)
    images, labels = batch
    logits = model(checks.array("images", images, ndim=4, shape_hint="(batch, 32, 32, 1)", dtype=None))
    labels = checks.indices("batch labels", labels, size=logits.shape[1], what="class")
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@nnx.jit
def _predict(model, images):
    return model(images).argmax(axis=1)


def accuracy(model: ShapeCNN, images, labels, *, batch_size: int = 1000) -> float:
    """Share of ``images`` whose largest logit is the label (computed in batches)."""
    check_classifier(model)
    images = checks.array("images", images, ndim=4, shape_hint="(n, 32, 32, 1)")
    labels = jnp.asarray(checks.indices("labels", labels, size=model.head.out_features, what="class"))
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {labels.shape}")
    batch_size = checks.positive_int("batch_size", batch_size)
    correct = 0
    for start in range(0, images.shape[0], batch_size):
        chunk = slice(start, start + batch_size)
        correct += int((_predict(model, jnp.asarray(images[chunk])) == labels[chunk]).sum())
    return correct / images.shape[0]


def reinitialise(model: ShapeCNN, layers, *, seed: int) -> ShapeCNN:
    """A copy of ``model`` whose ``layers`` (names from ``PARAM_LAYERS``) have fresh random weights.

    The weights come from a new model built with ``nnx.Rngs(seed)`` (the same
    initialisers as training started from); the other layers keep the trained
    weights and ``model`` itself is unchanged. For Adebayo et al.'s (2018)
    cascading randomisation, pass ``PARAM_LAYERS[-k:]`` for k = 1, 2, 3.
    """
    check_shape_cnn(model)
    checks.non_negative_int("seed", seed)
    if isinstance(layers, str):
        layers = (layers,)
    if not hasattr(layers, "__iter__"):
        raise TypeError(f"layers must be layer names from {PARAM_LAYERS}, got {layers!r}")
    layers = tuple(layers)
    for name in layers:
        checks.one_of("layers", name, set(PARAM_LAYERS))
    fresh = ShapeCNN(rngs=nnx.Rngs(seed), activation=model.activation, n_classes=model.head.out_features)
    copy = nnx.clone(model)
    for name in layers:
        setattr(copy, name, getattr(fresh, name))
    return copy


def receptive_field(layer: str) -> tuple[int, int]:
    """``(size, stride)`` of a unit of ``layer`` ('act1' or 'act2') on the input image.

    A unit at (i, j) of the layer sees input rows ``stride * i + offset`` to
    ``+ size - 1`` (see :func:`patch_origin`). conv1 is 5x5 at stride 1; conv2 is
    3x3 on the 2x2-pooled map, so it reaches one pooled cell (two pixels) further on
    each side of a 6x6 block: 10x10 at stride 2.
    """
    checks.one_of("layer", layer, {"act1", "act2"})
    k1, k2 = KERNELS
    if layer == "act1":
        return k1, 1
    return (k1 - 1) + POOL * k2, POOL


def patch_origin(layer: str, row: int, col: int) -> tuple[int, int]:
    """Input (row, col) of the top-left pixel that unit (row, col) of ``layer`` sees ('SAME' padding)."""
    size, stride = receptive_field(layer)
    row, col = checks.non_negative_int("row", row), checks.non_negative_int("col", col)
    k1, k2 = KERNELS
    if layer == "act1":
        return row - k1 // 2, col - k1 // 2
    # act2 at i reads pool1 cells i-1..i+1, pool1 cell p covers act1 rows 2p, 2p+1,
    # and act1 row q reads input rows q-2..q+2.
    return stride * (row - k2 // 2) - k1 // 2, stride * (col - k2 // 2) - k1 // 2


@dataclasses.dataclass(frozen=True)
class TopPatches:
    """The inputs that excite one channel most: patches, their activations and where they came from."""

    patches: np.ndarray
    """(k, size, size) input patches, the unit's receptive field (zeros beyond the image's border)."""
    activations: np.ndarray
    """(k,) the channel's largest activation in each image, in decreasing order."""
    images: np.ndarray
    """(k,) row numbers of the images in the data set."""
    positions: np.ndarray
    """(k, 2) the (row, col) of the strongest unit in the layer's map."""


def top_patches(model, images, layer: str, channel: int, *, k: int = 9, batch_size: int = 1000) -> TopPatches:
    """The ``k`` images whose strongest ``layer`` unit of ``channel`` fires most, cut to its receptive field.

    Each image contributes at most one patch (at its strongest position), so the
    gallery shows ``k`` different images.
    """
    check_shape_cnn(model)
    images = checks.array("images", images, ndim=4, shape_hint="(n, 32, 32, 1)")
    checks.one_of("layer", layer, {"act1", "act2"})
    channels = CHANNELS[0 if layer == "act1" else 1]
    channel = checks.non_negative_int("channel", channel)
    if channel >= channels:
        raise ValueError(f"channel must be in 0..{channels - 1} for {layer}, got {channel}")
    k = checks.positive_int("k", k)
    if k > images.shape[0]:
        raise ValueError(f"k must be at most the number of images ({images.shape[0]}), got {k}")
    maps = layer_maps(model, images, layer, batch_size=batch_size)[..., channel]
    flat = maps.reshape(len(maps), -1)
    best = flat.max(axis=1)
    order = np.argsort(-best, kind="stable")[:k]
    positions = np.stack(np.unravel_index(flat[order].argmax(axis=1), maps.shape[1:]), axis=1)
    size, _ = receptive_field(layer)
    padded = np.pad(np.asarray(images)[..., 0], ((0, 0), (size, size), (size, size)))
    patches = []
    for i, (r, c) in zip(order, positions):
        r0, c0 = patch_origin(layer, int(r), int(c))
        patches.append(padded[i, r0 + size:r0 + 2 * size, c0 + size:c0 + 2 * size])
    return TopPatches(np.stack(patches), best[order], order, positions)


@functools.partial(nnx.jit, static_argnames=("layer",))
def _layer_maps(model, x, *, layer):
    return model.features(x, upto=layer)[layer]


def layer_maps(model, images, layer: str, *, batch_size: int = 1000) -> np.ndarray:
    """The output of ``layer`` (a name from ``LAYERS``) for every image, computed compiled, in batches."""
    check_shape_cnn(model)
    images = checks.array("images", images, ndim=4, shape_hint="(n, 32, 32, 1)")
    checks.one_of("layer", layer, set(LAYERS))
    batch_size = checks.positive_int("batch_size", batch_size)
    return np.concatenate([np.asarray(_layer_maps(model, jnp.asarray(images[s:s + batch_size]), layer=layer))
                           for s in range(0, images.shape[0], batch_size)])


BATCH_MULTIPLE = 8
"""Batches are padded to a multiple of this, so runs of 1-8 images share one compiled program."""


def padded_batch_size(n: int) -> int:
    """``n`` rounded up to a multiple of ``BATCH_MULTIPLE`` and of the number of CPU devices (1 stays 1).

    A single image (the explorer's) is not padded: it climbs alone on one device,
    44 ms for 100 steps against 62 ms when padded to one image per device, because a
    sharded program pays for its coordination at every step.
    """
    return devices.padded_length(n, BATCH_MULTIPLE)


def check_shape_cnn(model, name: str = "model") -> None:
    """Raise a ``TypeError`` unless ``model`` is a :class:`ShapeCNN` (or has its ``features()`` method)."""
    if not isinstance(model, nnx.Module) or not hasattr(model, "features"):
        raise TypeError(f"{name} must be a ShapeCNN (course_utils.part2.cnn): a network with features(x) -> "
                        f"the named layers' outputs, got {type(model).__name__}")


def check_classifier(model, name: str = "model") -> None:
    """Raise a ``TypeError`` unless ``model`` is an NNX classifier with a dense ``head`` (ShapeCNN, JudgeCNN)."""
    if not isinstance(model, nnx.Module) or not callable(model) or not hasattr(getattr(model, "head", None),
                                                                              "out_features"):
        raise TypeError(f"{name} must be an NNX image classifier with a dense head, e.g. cnn.ShapeCNN or "
                        f"judge_cnn.JudgeCNN, got {type(model).__name__}")
