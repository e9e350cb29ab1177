"""A small CNN that classifies the shapes of :mod:`course_utils.shapes`, as a Flax NNX module.

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
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from . import checks, shapes

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
    return nnx.max_pool(x, window_shape=(POOL, POOL), strides=(POOL, POOL), padding="VALID")


class ShapeCNN(nnx.Module):
    """conv -> activation -> max-pool, twice, then a global max-pool and a dense head.

    ``model(x)`` maps images (batch, 32, 32, 1) to class scores (batch, 5).
    ``activation`` (default ``jax.nn.relu``) is any function applied elementwise
    after each convolution; a call may override it with ``activation=...``.
    """

    def __init__(self, *, rngs: nnx.Rngs, activation: Callable = jax.nn.relu, n_classes: int = shapes.N_CLASSES):
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
    """The logit of ``classes[i]`` for ``images[i]``: (batch,) scores to explain."""
    logits = model(images, activation=activation)
    classes = jnp.asarray(classes)
    if classes.shape != logits.shape[:1]:
        raise ValueError(f"classes must have shape ({logits.shape[0]},) (one per image), got {classes.shape}")
    return jnp.take_along_axis(logits, classes[:, None].astype(jnp.int32), axis=1)[:, 0]


def cross_entropy_loss(model: ShapeCNN, batch, key=None) -> jax.Array:
    """Mean softmax cross-entropy of ``batch = (images, labels)``; ``key`` is unused.

    The signature ``loss(model, batch, key)`` is the one ``training.train`` expects.
    """
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError("batch must be a pair (images, labels)")
    images, labels = batch
    logits = model(images)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@nnx.jit
def _predict(model, images):
    return model(images).argmax(axis=1)


def accuracy(model: ShapeCNN, images, labels, *, batch_size: int = 1000) -> float:
    """Share of ``images`` whose largest logit is the label (computed in batches)."""
    images = checks.array("images", images, ndim=4, shape_hint="(n, 32, 32, 1)")
    labels = jnp.asarray(labels)
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
    checks.non_negative_int("seed", seed)
    if isinstance(layers, str):
        layers = (layers,)
    layers = tuple(layers)
    for name in layers:
        checks.one_of("each layer", name, set(PARAM_LAYERS))
    fresh = ShapeCNN(rngs=nnx.Rngs(seed), activation=model.activation, n_classes=model.head.out_features)
    copy = nnx.clone(model)
    for name in layers:
        setattr(copy, name, getattr(fresh, name))
    return copy
