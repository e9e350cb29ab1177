"""What a unit wants: images made by gradient ascent, and images rebuilt from features.

Used by notebook 12 (activation maximisation, dataset-centric patches, inversion,
DeepDream) on the shape classifier of :mod:`course_utils.part2.cnn`.

- :func:`maximise` climbs the gradient of a class score or a channel's mean
  activation from small noise (Erhan et al. 2009; Simonyan et al. 2014), with
  Yosinski et al.'s (2015) regularisers (:class:`Regularisers`: L2 decay, Gaussian
  blur every few steps, clipping pixels of small norm or small contribution) and
  transformation robustness (a random shift each step, as in Olah et al. 2017).
- :func:`invert` finds an image whose features at one layer match a given image's
  (Mahendran & Vedaldi 2015), with a total-variation prior of weight ``tv_weight``,
  by minimising :func:`inversion_loss`.
- :func:`high_frequency_share` measures how much of an image's variance lies at
  high spatial frequencies: the tell-tale of unregularised ascent.
- The dataset-centric view (top patches, receptive fields) is in
  :mod:`course_utils.part2.cnn`, the independent judge in
  :mod:`course_utils.part2.judge_cnn`, and notebook 12's explorer and exercises in
  :mod:`course_utils.part2.synthesis_lesson`.

Every optimisation runs as one compiled ``lax.scan`` over all its images at once.
The layer being maximised or inverted and every regulariser strength are inputs of
that program, not constants, so the notebook's runs (every class, every variant,
every layer, every TV weight) share a handful of compiled programs; batches are
padded to a multiple of ``cnn.BATCH_MULTIPLE`` for the same reason.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ..core import checks, devices
from . import cnn, shapes

OBJECTIVE_LAYERS = ("act1", "act2", "gmax", "logits")
"""Layers whose units :func:`maximise` can climb: a channel's mean over positions, or a score."""
INVERSION_LAYERS = ("act1", "pool1", "act2", "pool2", "gmax")
"""Layers :func:`invert` can rebuild an image from, from the input up."""
INVERSION_START_NOISE = 0.01
"""Standard deviation of the noise around the originals' mean grey that :func:`invert` starts from."""
BLUR_RADIUS = 3
"""The Gaussian blur's kernel reaches this many pixels each side (enough for sigma <= 1.5)."""


# --- measures -------------------------------------------------------------------

def radial_frequency(size: int = shapes.IMAGE_SIZE) -> np.ndarray:
    """(size, size) radial spatial frequency of each 2-D FFT bin, in cycles per pixel (0 to ~0.71)."""
    size = checks.positive_int("size", size, minimum=2)
    f = np.fft.fftfreq(size)
    return np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)


def high_frequency_share(images, *, cutoff: float = 0.25) -> np.ndarray:
    """Share of each image's variance at radial frequencies above ``cutoff`` cycles per pixel.

    ``images`` is (n, h, w) or (n, h, w, 1); each image's mean is removed first, so
    the share is of its variance (Parseval). 0.25 cycles per pixel is half the
    Nyquist frequency: white noise puts about 80 % of its variance above it, a smooth
    shape very little. A flat image (no variance) gets 0.
    """
    ndim = np.ndim(images) if not isinstance(images, str) else 0
    x = np.asarray(checks.array("images", images, ndim=ndim if ndim in (3, 4) else 3,
                                shape_hint="(n, size, size) or (n, size, size, 1)", dtype=np.float64), np.float64)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1] != x.shape[2]:
        raise ValueError(f"images must have shape (n, size, size) or (n, size, size, 1), got {x.shape}")
    cutoff = checks.non_negative_float("cutoff", cutoff)
    if cutoff >= 0.5:
        raise ValueError(f"cutoff must be below 0.5 cycles per pixel (the Nyquist frequency), got {cutoff}")
    x = x - x.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(x)) ** 2
    total = power.sum(axis=(1, 2))
    high = power[:, radial_frequency(x.shape[1]) > cutoff].sum(axis=1)
    return np.where(total > 0, high / np.where(total > 0, total, 1.0), 0.0)


def _grey_images(name: str, x):
    x = checks.array(name, x, ndim=4, shape_hint="(n, height, width, 1)")
    if x.shape[-1] != 1:
        raise ValueError(f"{name} must be grey images (n, height, width, 1), got shape {x.shape}")
    return x


def total_variation(x: jax.Array) -> jax.Array:
    """Mean squared difference between neighbouring pixels of each image (n, h, w, 1) -> (n,).

    Mahendran & Vedaldi's TV prior with beta = 2: summed over both directions and
    averaged over pixels. Noise of standard deviation s scores about 4 s^2; a flat image 0.
    Raises ``ValueError`` unless ``x`` is (n, height, width, 1).
    """
    x = _grey_images("x", x)
    dy = jnp.diff(x, axis=1) ** 2
    dx = jnp.diff(x, axis=2) ** 2
    return dy.mean(axis=(1, 2, 3)) + dx.mean(axis=(1, 2, 3))


def gaussian_blur(x: jax.Array, sigma) -> jax.Array:
    """Blur images (n, h, w, 1) with a Gaussian of standard deviation ``sigma`` pixels (0: unchanged).

    Separable, with edge values repeated at the border so that a flat image stays flat.
    ``sigma`` may be a traced number or one per image (n,). Raises ``ValueError``
    unless ``x`` is (n, height, width, 1) and every sigma a finite number >= 0.
    """
    x = _grey_images("x", x)
    if not isinstance(sigma, jax.core.Tracer):
        values = np.asarray(sigma, np.float64)
        if values.ndim > 1 or values.ndim == 1 and values.shape != x.shape[:1]:
            raise ValueError(f"sigma must be one number or one per image ({x.shape[0]},), got shape {values.shape}")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(f"sigma must be a finite number >= 0 (0: no blur), got {sigma!r}")
    offsets = jnp.arange(-BLUR_RADIUS, BLUR_RADIUS + 1, dtype=jnp.float32)
    sigma = jnp.broadcast_to(jnp.asarray(sigma, jnp.float32), x.shape[:1])
    # exp(-d^2 / (2 sigma^2)) with a tiny floor: sigma = 0 gives the identity kernel.
    weights = jnp.exp(-offsets[None] ** 2 / (2 * sigma[:, None] ** 2 + 1e-6))
    weights = weights / weights.sum(axis=1, keepdims=True)
    r = BLUR_RADIUS
    padded = jnp.pad(x[..., 0], ((0, 0), (r, r), (r, r)), mode="edge")
    h, w = x.shape[1:3]
    rows = sum(weights[:, k, None, None] * padded[:, k:k + h, :] for k in range(2 * r + 1))
    out = sum(weights[:, k, None, None] * rows[:, :, k:k + w] for k in range(2 * r + 1))
    return out[..., None]


# --- activation maximisation ----------------------------------------------------

@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Regularisers:
    """Yosinski et al.'s (2015) regularisers and a random shift, applied after every ascent step.

    All fields are numbers that the compiled program takes as inputs (0 switches a
    regulariser off), so every combination shares one program. Pixels are measured
    from the ``base`` grey that :func:`maximise` starts from: decaying or clipping a
    pixel pulls it towards that grey, the image's "zero".
    """

    decay: float = 0.0
    """L2 decay: each step multiplies every pixel's offset from the base grey by (1 - decay)."""
    blur_sigma: float = 0.0
    """Standard deviation (pixels) of the Gaussian blur applied every ``blur_every`` steps."""
    blur_every: int = 4
    """Blur on every this-many-th step."""
    norm_percentile: float = 0.0
    """Each step, pixels whose |offset| is below this percentile (0-100) of the image's are set to the base grey."""
    contribution_percentile: float = 0.0
    """Likewise for pixels whose contribution |offset * gradient| is below this percentile."""
    jitter: int = 0
    """Transformation robustness: the gradient is taken at the image shifted (rolled) by up to this many pixels."""

    def __post_init__(self):
        # Only settings of plain numbers are checked: stacked or traced copies (inside
        # maximise's compiled program) were built from checked ones.
        if not all(isinstance(v, (numbers.Real, str)) for v in dataclasses.astuple(self)):
            return
        checks.non_negative_float("decay", self.decay)
        if self.decay >= 1:
            raise ValueError(f"decay must be < 1 (a share of the offset removed per step), got {self.decay}")
        checks.non_negative_float("blur_sigma", self.blur_sigma)
        if self.blur_sigma > BLUR_RADIUS / 2:
            raise ValueError(f"blur_sigma must be <= {BLUR_RADIUS / 2} (the kernel reaches {BLUR_RADIUS} pixels), "
                             f"got {self.blur_sigma}")
        checks.positive_int("blur_every", self.blur_every)
        for name in ("norm_percentile", "contribution_percentile"):
            if not 0 <= checks.non_negative_float(name, getattr(self, name)) < 100:
                raise ValueError(f"{name} must be in [0, 100), got {getattr(self, name)}")
        checks.non_negative_int("jitter", self.jitter)


YOSINSKI = Regularisers(decay=0.01, blur_sigma=0.5, blur_every=4, norm_percentile=20.0, contribution_percentile=20.0)
"""All four of Yosinski et al.'s regularisers at once, at moderate strengths chosen once, by eye."""
VARIANTS = {
    "none": Regularisers(),
    "L2 decay": Regularisers(decay=0.01),
    "blur": Regularisers(blur_sigma=0.5, blur_every=4),
    "clipping": Regularisers(norm_percentile=20.0, contribution_percentile=20.0),
    "all four": YOSINSKI,
    "shifts": Regularisers(jitter=2),
    "all + shifts": dataclasses.replace(YOSINSKI, jitter=2),
}
"""The regulariser settings notebook 12 compares, by name: none, each alone, all four, and random shifts."""


def _channel_means(h: jax.Array) -> jax.Array:
    """(n, ..., C) -> (n, C): a channel's mean over positions (a score stays itself)."""
    return h.reshape(h.shape[0], -1, h.shape[-1]).mean(axis=1)


def _objectives(model, x, targets, layer_weights):
    """Per image: the target unit's value at the layer picked by ``layer_weights`` (n, len(OBJECTIVE_LAYERS))."""
    feats = model.features(x)
    values = []
    for name in OBJECTIVE_LAYERS:
        means = _channel_means(feats[name])
        # Out-of-range units (e.g. channel 12 of the 5 logits) are clipped; their weight is 0.
        values.append(jnp.take_along_axis(means, jnp.minimum(targets, means.shape[1] - 1)[:, None], axis=1)[:, 0])
    return (jnp.stack(values, axis=1) * layer_weights).sum(axis=1)


def _percentile_mask(values, percentile, halvings: int = 16):
    """True where a pixel's value (>= 0) lies below the image's ``percentile`` (per image).

    The threshold is found by bisection on [0, max]: each halving counts the pixels
    below the midpoint, which on CPU costs far less than sorting every image at every
    step (the ascent's most expensive part otherwise). 16 halvings pin it to 1/65,536
    of the image's largest value; a percentile of 0 clips nothing.
    """
    n = values.shape[0]
    flat = values.reshape(n, -1)
    wanted = percentile / 100 * flat.shape[1]

    def halve(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) / 2
        below = (flat < mid[:, None]).sum(axis=1)
        return jnp.where(below <= wanted, mid, lo), jnp.where(below <= wanted, hi, mid)

    lo, _ = jax.lax.fori_loop(0, halvings, halve, (jnp.zeros(n), flat.max(axis=1) * (1 + 1e-6)))
    return values < jnp.where(percentile > 0, lo, 0.0)[:, None, None, None]


@functools.partial(jax.jit, static_argnames=("graphdef", "steps"))
def _ascend(graphdef, state, targets, layer_weights, regs, start, step_size, key, *, steps):
    model = nnx.merge(graphdef, state)
    base = start.mean(axis=(1, 2, 3), keepdims=True)

    def gradient(x, key):
        # Transformation robustness: climb the score of a randomly shifted copy, so a
        # pattern that only works at one offset gains little. The gradient is taken
        # with respect to the unshifted x: autodiff already rolls it back into place.
        shifts = jax.random.randint(key, (x.shape[0], 2), -regs.jitter[:, None], regs.jitter[:, None] + 1)
        roll = jax.vmap(lambda im, s: jnp.roll(im, s, axis=(0, 1)))
        return jax.grad(lambda y: _objectives(model, roll(y, shifts), targets, layer_weights).sum())(x)

    def step(x, inputs):
        t, key = inputs
        g = gradient(x, key)
        # A normalised step: every image and layer climbs at the same pace, whatever its gradient's scale.
        x = x + step_size * g / (jnp.sqrt((g**2).mean(axis=(1, 2, 3), keepdims=True)) + 1e-8)
        offset = (x - base) * (1 - regs.decay[:, None, None, None])
        blurred = gaussian_blur(offset, regs.blur_sigma)
        offset = jnp.where(((t + 1) % regs.blur_every == 0)[:, None, None, None], blurred, offset)
        small = _percentile_mask(jnp.abs(offset), regs.norm_percentile)
        weak = _percentile_mask(jnp.abs(offset * g), regs.contribution_percentile)
        offset = jnp.where(small | weak, 0.0, offset)
        # The image stays an image: pixels in [0, 1], as in the data.
        return jnp.clip(base + offset, 0.0, 1.0), None

    x, _ = jax.lax.scan(step, start, (jnp.arange(steps), jax.random.split(key, steps)))
    return x


def maximise(model, targets, *, layer: str = "logits", regularisers=Regularisers(), steps: int = 200,
             step_size: float = 0.02, base: float = 0.2, start_noise: float = 0.02, seed: int = 0) -> np.ndarray:
    """Images (n, 32, 32, 1) that climb the score of each unit in ``targets`` (n,) of ``layer``.

    ``layer`` is one of ``OBJECTIVE_LAYERS``: for ``logits`` a target is a class
    (the raw score, as Simonyan et al. 2014 climb, not the softmax), for ``gmax`` a
    layer-2 channel's global maximum, for ``act1``/``act2`` a channel's mean
    activation over all positions. Each image starts as the grey ``base`` plus
    Gaussian noise of standard deviation ``start_noise`` and takes ``steps`` steps
    of size ``step_size`` along its normalised gradient; ``regularisers`` (one
    :class:`Regularisers`, or one per target) act after each step; pixels stay in
    [0, 1]. The same seed gives the same images.
    """
    cnn.check_shape_cnn(model)
    checks.one_of("layer", layer, set(OBJECTIVE_LAYERS))
    targets = np.asarray(targets)
    if targets.ndim != 1 or targets.size == 0 or not np.issubdtype(targets.dtype, np.integer) or targets.min() < 0:
        raise ValueError(f"targets must be a non-empty 1-D array of unit numbers >= 0, got {targets!r}")
    n = targets.size
    units = {"logits": model.head.out_features, "gmax": cnn.CHANNELS[1], "act2": cnn.CHANNELS[1],
             "act1": cnn.CHANNELS[0]}[layer]
    checks.indices("targets", targets, size=units, what=f"{layer} unit")
    if isinstance(regularisers, Regularisers):
        regularisers = [regularisers] * n
    regularisers = list(regularisers)
    if len(regularisers) != n or not all(isinstance(r, Regularisers) for r in regularisers):
        raise TypeError(f"regularisers must be one Regularisers or a list of {n} (one per target)")
    steps = checks.positive_int("steps", steps)
    step_size = checks.non_negative_float("step_size", step_size)
    base = checks.non_negative_float("base", base)
    start_noise = checks.non_negative_float("start_noise", start_noise)
    seed = checks.non_negative_int("seed", seed)

    size = cnn.padded_batch_size(n)
    pad = size - n
    stacked = Regularisers(*(np.array([getattr(r, f.name) for r in regularisers + regularisers[:1] * pad],
                                      np.int32 if f.name in ("blur_every", "jitter") else np.float32)
                             for f in dataclasses.fields(Regularisers)))
    weights = np.zeros((size, len(OBJECTIVE_LAYERS)), np.float32)
    weights[:n, OBJECTIVE_LAYERS.index(layer)] = 1.0  # padding rows climb nothing
    rng = np.random.default_rng(seed)
    start = (base + start_noise * rng.standard_normal((size, shapes.IMAGE_SIZE, shapes.IMAGE_SIZE, 1))).astype(np.float32)
    graphdef, state = nnx.split(model)
    (targets, weights, stacked, start), (state, step_size, key) = devices.spread(
        (np.pad(targets, (0, pad)).astype(np.int32), weights, stacked, np.clip(start, 0, 1).astype(np.float32)),
        (state, np.float32(step_size), jax.random.key(seed)))
    x = _ascend(graphdef, state, targets, weights, stacked, start, step_size, key, steps=steps)
    return np.asarray(x)[:n]


# --- inversion ----------------------------------------------------------------------

def _inversion_losses(model, x, targets, layer_weights, tv_weights):
    """Per image: ||phi(x) - phi0||^2 / ||phi0||^2 at the layer picked by ``layer_weights``, + tv_weight * TV(x)."""
    feats = model.features(x, upto=INVERSION_LAYERS[-1])
    errors = []
    for name in INVERSION_LAYERS:
        axes = tuple(range(1, feats[name].ndim))
        # The floor avoids 0/0 for a layer that is silent on the original.
        errors.append(((feats[name] - targets[name]) ** 2).sum(axis=axes)
                      / ((targets[name] ** 2).sum(axis=axes) + 1e-8))
    feature_error = (jnp.stack(errors, axis=1) * layer_weights).sum(axis=1)
    return feature_error + tv_weights * total_variation(x)


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _losses(graphdef, state, x, originals, layer_weights, tv_weights):
    model = nnx.merge(graphdef, state)
    return _inversion_losses(model, x, model.features(originals, upto=INVERSION_LAYERS[-1]), layer_weights, tv_weights)


@functools.partial(jax.jit, static_argnames=("graphdef", "steps"))
def _invert(graphdef, state, originals, layer_weights, tv_weights, start, learning_rate, *, steps):
    model = nnx.merge(graphdef, state)
    targets = model.features(originals, upto=INVERSION_LAYERS[-1])

    def loss(x):
        return _inversion_losses(model, x, targets, layer_weights, tv_weights).sum()

    optimiser = optax.adam(learning_rate)

    def step(carry, _):
        x, opt = carry
        updates, opt = optimiser.update(jax.grad(loss)(x), opt)
        return (jnp.clip(optax.apply_updates(x, updates), 0.0, 1.0), opt), None

    (x, _), _ = jax.lax.scan(step, (start, optimiser.init(start)), None, length=steps)
    return x


def _layers_and_weights(layer, tv_weight, n: int):
    """Check ``layer`` and ``tv_weight`` (one value, or one per image) -> (n, len(INVERSION_LAYERS)) weights, (n,) tv."""
    if not isinstance(layer, str) and (not hasattr(layer, "__iter__") or isinstance(layer, bytes)):
        raise TypeError(f"layer must be a layer name, one of {INVERSION_LAYERS}, or one per image, got {layer!r}")
    layers = [layer] * n if isinstance(layer, str) else list(layer)
    if len(layers) != n:
        raise ValueError(f"layer must be one name or one per image ({n}), got {len(layers)}")
    for name in layers:
        checks.one_of("layer", name, set(INVERSION_LAYERS))
    try:
        tv = np.broadcast_to(np.asarray(tv_weight, np.float32), (n,)).copy() if np.ndim(tv_weight) == 0 else \
            np.asarray(tv_weight, np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"tv_weight must be a number >= 0 or one per image, got {tv_weight!r}") from err
    if tv.shape != (n,) or not np.all(np.isfinite(tv)) or tv.min() < 0:
        raise ValueError(f"tv_weight must be a number >= 0 or one per image ({n}), got {tv_weight!r}")
    weights = np.zeros((n, len(INVERSION_LAYERS)), np.float32)
    weights[np.arange(n), [INVERSION_LAYERS.index(name) for name in layers]] = 1.0
    return weights, tv


def inversion_loss(model, x, originals, *, layer, tv_weight=0.0) -> np.ndarray:
    """Per image (n,): the loss :func:`invert` minimises, for candidate images ``x`` of ``originals``.

    ``||phi(x) - phi(x0)||^2 / ||phi(x0)||^2 + tv_weight * TV(x)``, where ``phi`` is
    the model's output at ``layer`` (one of ``INVERSION_LAYERS``; one name or one per
    image), norms are over all of an image's features, and TV is
    :func:`total_variation`. ``x`` and ``originals`` are (n, 32, 32, 1).
    """
    cnn.check_shape_cnn(model)
    x = _grey_images("x", x)
    originals = _grey_images("originals", originals)
    if x.shape != originals.shape:
        raise ValueError(f"x and originals must have the same shape (n, 32, 32, 1), got {x.shape} and "
                         f"{originals.shape}")
    weights, tv = _layers_and_weights(layer, tv_weight, x.shape[0])
    graphdef, state = nnx.split(model)
    return np.asarray(_losses(graphdef, state, jnp.asarray(x, jnp.float32), jnp.asarray(originals, jnp.float32),
                              weights, tv))


def invert(model, images, *, layer, tv_weight=0.0, steps: int = 300, learning_rate: float = 0.02,
           seed: int = 0) -> np.ndarray:
    """Reconstructions (n, 32, 32, 1) of ``images`` from their features at ``layer`` (Mahendran & Vedaldi 2015).

    Minimises :func:`inversion_loss`, ``||phi(x) - phi(x0)||^2 / ||phi(x0)||^2 +
    tv_weight * TV(x)``, with Adam over ``steps`` steps, from the images' mean grey
    plus faint noise, keeping pixels in [0, 1]. ``layer`` (one of
    ``INVERSION_LAYERS``) and ``tv_weight`` are one value for all images or one per
    image, so one call can sweep layers and weights.
    """
    cnn.check_shape_cnn(model)
    images = checks.array("images", images, ndim=4, shape_hint="(n, 32, 32, 1)")
    n = images.shape[0]
    layer_weights, tv = _layers_and_weights(layer, tv_weight, n)
    steps = checks.positive_int("steps", steps)
    learning_rate = checks.non_negative_float("learning_rate", learning_rate)
    size = cnn.padded_batch_size(n)
    pad = size - n
    originals = np.concatenate([np.asarray(images, np.float32), np.repeat(np.asarray(images[:1], np.float32), pad, 0)])
    weights = np.pad(layer_weights, ((0, pad), (0, 0)))  # padding rows match nothing
    rng = np.random.default_rng(seed)
    start = originals.mean() + INVERSION_START_NOISE * rng.standard_normal(originals.shape)
    graphdef, state = nnx.split(model)
    batch, (state, learning_rate) = devices.spread(
        (originals, weights, np.pad(tv, (0, pad)), np.clip(start, 0, 1).astype(np.float32)),
        (state, np.float32(learning_rate)))
    x = _invert(graphdef, state, *batch, learning_rate, steps=steps)
    return np.asarray(x)[:n]


def relative_error(reconstructions, originals) -> np.ndarray:
    """Per image ||x - x0|| / ||x0 - mean(x0)||: 0 is perfect, 1 is as far off as a flat grey of the right mean."""
    ndim = max(np.ndim(originals), 2) if not isinstance(originals, str) else 2
    x0 = np.asarray(checks.array("originals", originals, ndim=ndim, shape_hint="(n, ...)", dtype=np.float64), np.float64)
    x = np.asarray(checks.array("reconstructions", reconstructions, ndim=ndim, shape_hint=f"{x0.shape}, like originals", dtype=np.float64),
                   np.float64)
    if x.shape != x0.shape:
        raise ValueError(f"reconstructions and originals must have the same shape (n, ...), got {x.shape} and {x0.shape}")
    axes = tuple(range(1, x.ndim))
    spread = np.sqrt(((x0 - x0.mean(axis=axes, keepdims=True)) ** 2).sum(axis=axes))
    return np.sqrt(((x - x0) ** 2).sum(axis=axes)) / np.maximum(spread, 1e-12)


# --- the dataset-centric view -------------------------------------------------------


# --- an independent classifier ------------------------------------------------------


# --- the explorer ---------------------------------------------------------------------


