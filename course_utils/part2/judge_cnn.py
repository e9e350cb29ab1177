"""An independent judge of synthesised shapes: a classifier of another architecture.

Used by notebook 12. :class:`JudgeCNN` (3x3 kernels, average pooling, a global
*average* instead of the shape classifier's max) is trained on the same data with
another seed, so that a picture that only fools the model that made it can be told
from one that shows the class; :func:`probabilities` reads any classifier's
softmax in batches.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..core import checks
from . import cnn, shapes


class JudgeCNN(nnx.Module):
    """A second shape classifier of another design, to judge synthesised images.

    ``ShapeCNN`` uses 5x5 then 3x3 kernels, max-pooling and a global max; this one
    uses three 3x3 convolutions (12, 24, 32 channels) with 2x2 *average* pooling and
    a global *average* before its dense head. Trained on the same images with another
    seed, it shares the data but not the weights or the inductive bias.
    """

    def __init__(self, *, rngs: nnx.Rngs, n_classes: int = shapes.N_CLASSES):
        checks.rngs("rngs", rngs)
        n_classes = checks.positive_int("n_classes", n_classes, minimum=2)
        self.conv1 = nnx.Conv(1, 12, kernel_size=(3, 3), padding="SAME", rngs=rngs)
        self.conv2 = nnx.Conv(12, 24, kernel_size=(3, 3), padding="SAME", rngs=rngs)
        self.conv3 = nnx.Conv(24, 32, kernel_size=(3, 3), padding="SAME", rngs=rngs)
        self.head = nnx.Linear(32, n_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        pool = functools.partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2), padding="VALID")
        h = pool(jax.nn.relu(self.conv1(x)))
        h = pool(jax.nn.relu(self.conv2(h)))
        h = jax.nn.relu(self.conv3(h))
        return self.head(h.mean(axis=(1, 2)))


@nnx.jit
def _softmax(model, x):
    return jax.nn.softmax(model(x), axis=-1)


def probabilities(model, images) -> np.ndarray:
    """Softmax class probabilities (n, classes) of any classifier of (n, 32, 32, 1) images."""
    cnn.check_classifier(model)
    images = checks.array("images", images, ndim=4, shape_hint="(n, 32, 32, 1)")
    n = images.shape[0]
    pad = cnn.padded_batch_size(n) - n  # one compiled program for 1-8 images, like the ascent
    x = np.concatenate([np.asarray(images, np.float32), np.zeros((pad, *images.shape[1:]), np.float32)])
    return np.asarray(_softmax(model, jnp.asarray(x)))[:n]
