"""Textures and style from a network's statistics: Gram matrices of random multi-scale filters.

Used by notebook 13. Gatys, Ecker & Bethge (2015) describe a texture by the Gram
matrices of a CNN's feature maps (which channels fire together, wherever they
fire) and paint a new image whose Gram matrices match; style transfer (Gatys et al.
2016) adds a content loss on the feature maps themselves. Ustyuzhaninov, Brendel,
Gatys & Bethge (2017) showed that one layer of *random* filters at several scales,
with a ReLU, is enough for many textures; that is the network here, so nothing has
to be downloaded or trained.

- The network (:func:`random_filters`): square filters of several sizes, random
  normal, each scaled to unit length, on the image minus its target's mean colour.
- Convolution by FFT (:func:`filter_spectra`, :func:`fft_features`): by the
  convolution theorem a convolution is a product of spectra (notebook 09's Fourier
  transform). It is circular: the filters wrap around the edges, so syntheses tile.
  :func:`direct_features` is the same sum written as a plain convolution over a
  wrapped copy of the image, for the tests. A target's statistics are taken only
  where no filter wraps (:func:`texture_statistics`).
- :func:`gram`, :func:`style_loss`, :func:`content_loss`, and the two optimisations:
  :func:`synthesise` (texture) and :func:`transfer` (style), Adam on the pixels,
  kept in [0, 1], each one compiled ``lax.scan`` for a whole batch of images, on
  one device: XLA's FFTs and matrix products already use every core, and sharing
  the batch out over one device per core made them fight for the cores (three
  syntheses: 5.5 s spread, 3.9 s on one device; six transfers 6.2 s vs 5.3 s, on
  two cores).
- Baselines and measures that do not use the network: :func:`matched_noise`,
  :func:`phase_randomised` (the target's power spectrum with random phases),
  :func:`spectrum_distance`, :func:`colour_distance`, :func:`edge_strength_distance`
  (ours), and for style transfer :func:`edge_correlation` and :func:`ssim`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..core import checks

SIZES = (3, 5, 7, 11, 15, 23)
"""Filter sizes of the multi-scale network (pixels): from fine grain to the size of a leaf or a stripe."""
CHANNELS = 32
"""Random filters per size."""
IMAGE_SIZE = 64
"""Side of the textures (pixels)."""
SPECTRUM_FLOOR = 1e-4
"""The smallest share of power per radius :func:`spectrum_distance` tells apart."""


# --- the network ----------------------------------------------------------------------

def random_filters(sizes=SIZES, channels: int = CHANNELS, *, seed: int = 0) -> tuple[np.ndarray, ...]:
    """One bank of random filters per size: ``(size, size, 3, channels)`` each, every filter of unit length."""
    sizes = checks.int_sequence("sizes", sizes, minimum=1)
    if not sizes:
        raise ValueError("sizes must name at least one filter size")
    channels = checks.positive_int("channels", channels)
    rng = np.random.default_rng(checks.non_negative_int("seed", seed))
    banks = []
    for k in sizes:
        w = rng.standard_normal((k, k, 3, channels))
        banks.append((w / np.sqrt((w**2).sum(axis=(0, 1, 2), keepdims=True))).astype(np.float32))
    return tuple(banks)


def filter_spectra(filters, size: int = IMAGE_SIZE) -> tuple[jax.Array, ...]:
    """Each bank's 2-D FFT on a ``size x size`` grid, its centre tap at (0, 0): ``(size, size//2+1, 3, channels)``.

    Placing the centre at the origin makes the product of spectra a 'SAME'
    convolution (output pixel p sees the input around p), wrapped around the edges.
    """
    size = checks.positive_int("size", size)
    spectra = []
    for i, w in enumerate(_checked_banks(filters)):
        k = w.shape[0]
        if k > size:
            raise ValueError(f"filters[{i}] ({k}x{k}) is larger than the image ({size}x{size})")
        grid = np.zeros((size, size) + w.shape[2:], np.float32)
        grid[:k, :k] = w[::-1, ::-1]  # a convolution flips the kernel; the features are correlations
        grid = np.roll(grid, (-(k // 2), -(k // 2)), axis=(0, 1))
        spectra.append(jnp.fft.rfft2(jnp.asarray(grid), axes=(0, 1)))
    return tuple(spectra)


def _checked_banks(filters) -> list[np.ndarray]:
    if isinstance(filters, np.ndarray) or not isinstance(filters, (tuple, list)) or not filters:
        raise TypeError("filters must be a non-empty tuple of filter banks (size, size, 3, channels), e.g. from "
                        "random_filters()")
    banks = [np.asarray(checks.array(f"filters[{i}]", w, ndim=4, shape_hint="(size, size, 3, channels)"))
             for i, w in enumerate(filters)]
    for i, w in enumerate(banks):
        if w.shape[0] != w.shape[1] or w.shape[2] != 3:
            raise ValueError(f"filters[{i}] must have shape (size, size, 3, channels), got {w.shape}")
    return banks


def fft_features(image: jax.Array, spectra) -> list[jax.Array]:
    """ReLU of the circular correlation of ``image`` (h, w, 3) with every bank: a list of (h, w, channels).

    ``spectra`` from :func:`filter_spectra` for the same ``h x w`` grid. Traceable:
    the synthesis loop calls it inside ``jit``.
    """
    image = checks.array("image", image, ndim=3, shape_hint="(height, width, 3)", dtype=None)
    image_spectrum = jnp.fft.rfft2(image, axes=(0, 1))  # (h, w//2+1, 3)
    features = []
    for spectrum in spectra:
        product = jnp.einsum("xyc,xyco->xyo", image_spectrum, spectrum)  # sum over the 3 colours
        features.append(jax.nn.relu(jnp.fft.irfft2(product, s=image.shape[:2], axes=(0, 1))))
    return features


def direct_features(image, filters) -> list[np.ndarray]:
    """The same features as :func:`fft_features`, by a plain 'SAME' correlation over a wrapped copy of ``image``."""
    image = np.asarray(checks.array("image", image, ndim=3, shape_hint="(height, width, 3)"))
    out = []
    for w in _checked_banks(filters):
        r = w.shape[0] // 2
        wrapped = jnp.pad(jnp.asarray(image), ((r, r), (r, r), (0, 0)), mode="wrap")
        conv = jax.lax.conv_general_dilated(wrapped[None], jnp.asarray(w), (1, 1), "VALID",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))[0]
        out.append(np.asarray(jax.nn.relu(conv)))
    return out


def gram(features) -> jax.Array:
    """Gram matrix of feature maps (h, w, channels): ``G[i, j]`` = mean over positions of ``F_i * F_j``."""
    features = checks.array("features", features, ndim=3, shape_hint="(height, width, channels)", dtype=None)
    flat = features.reshape(-1, features.shape[-1])
    return flat.T @ flat / flat.shape[0]


def texture_statistics(image, filters, mean_colour=None) -> list[np.ndarray]:
    """The Gram matrices of a target image (h, w, 3) in [0, 1], taken only where no filter wraps.

    ``mean_colour`` (3,) is subtracted first (default: the image's own). Features
    are computed by a direct correlation without padding, so every position uses
    real pixels: the statistics of the texture, not of its edges.
    """
    image = np.asarray(checks.array("image", image, ndim=3, shape_hint="(height, width, 3)"))
    banks = _checked_banks(filters)
    mean_colour = _mean_colour(image, mean_colour)
    grams = []
    for w in banks:
        if w.shape[0] > min(image.shape[:2]):
            raise ValueError(f"image ({image.shape[0]}x{image.shape[1]}) is smaller than a {w.shape[0]}x{w.shape[0]} "
                             "filter")
        valid = jax.lax.conv_general_dilated(jnp.asarray(image - mean_colour)[None], jnp.asarray(w), (1, 1), "VALID",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))[0]
        grams.append(np.asarray(gram(jax.nn.relu(valid))))
    return grams


def _mean_colour(image: np.ndarray, mean_colour) -> np.ndarray:
    if mean_colour is None:
        return image.mean(axis=(0, 1))
    mean_colour = np.asarray(checks.array("mean_colour", mean_colour, ndim=1, shape_hint="(3,)"))
    if mean_colour.shape != (3,):
        raise ValueError(f"mean_colour must give 3 numbers (red, green, blue), got shape {mean_colour.shape}")
    return mean_colour


# --- losses and the two optimisations ---------------------------------------------------

def _same_scales(name: str, values, target_name: str, targets) -> None:
    for n, v in ((name, values), (target_name, targets)):
        if not isinstance(v, (list, tuple)) or not v:
            raise TypeError(f"{n} must be a list with one array per scale, got {type(v).__name__}")
    if len(values) != len(targets):
        raise ValueError(f"{name} has {len(values)} scales but {target_name} has {len(targets)}: one each per scale")


def style_loss(grams, target_grams) -> jax.Array:
    """Mean over scales of the relative squared Gram error ``||G - T||^2 / ||T||^2``."""
    _same_scales("grams", grams, "target_grams", target_grams)
    errors = [((g - t) ** 2).sum() / (t**2).sum() for g, t in zip(grams, target_grams, strict=True)]
    return sum(errors) / len(errors)


def content_loss(features, target_features) -> jax.Array:
    """Mean over scales of the relative squared error of the feature maps themselves (where things are)."""
    _same_scales("features", features, "target_features", target_features)
    errors = [((f - t) ** 2).sum() / (t**2).sum() for f, t in zip(features, target_features, strict=True)]
    return sum(errors) / len(errors)


def start_images(targets, n: int, *, seed: int, size: int = IMAGE_SIZE) -> np.ndarray:
    """Noise with each target's mean and spread per colour, clipped to [0, 1]: (n, size, size, 3)."""
    targets = np.asarray(checks.array("targets", targets, ndim=4, shape_hint="(n, height, width, 3)"))
    rng = np.random.default_rng(checks.non_negative_int("seed", seed))
    n, size = checks.positive_int("n", n), checks.positive_int("size", size)
    mean, std = targets.mean(axis=(1, 2), keepdims=True), targets.std(axis=(1, 2), keepdims=True)
    return np.clip(mean + std * rng.standard_normal((n, size, size, 3)), 0, 1).astype(np.float32)


@functools.partial(jax.jit, static_argnames=("steps",))
def _synthesise(starts, target_grams, means, spectra, learning_rate, *, steps):
    optimiser = optax.adam(learning_rate)

    def loss(image, target, mean):
        return style_loss([gram(f) for f in fft_features(image - mean, spectra)], target)

    def one(start, target, mean):
        def step(carry, _):
            image, state = carry
            value, grad = jax.value_and_grad(loss)(image, target, mean)
            updates, state = optimiser.update(grad, state)
            return (jnp.clip(optax.apply_updates(image, updates), 0.0, 1.0), state), value

        (image, _), losses = jax.lax.scan(step, (start, optimiser.init(start)), None, length=steps)
        return image, losses

    return jax.vmap(one)(starts, target_grams, means)


def synthesise(targets, filters, *, steps: int = 150, learning_rate: float = 0.03, seed: int = 0,
               size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Paint one texture per target (n, h, w, 3) whose Gram matrices match the target's.

    Each image starts from :func:`start_images` and takes ``steps`` Adam steps on the
    pixels (kept in [0, 1]) down :func:`style_loss`, in one compiled program for
    all targets. Returns ``(images (n, size, size, 3), losses (n, steps))``.
    """
    targets = np.asarray(checks.array("targets", targets, ndim=4, shape_hint="(n, height, width, 3)"))
    steps = checks.positive_int("steps", steps)
    learning_rate = checks.positive_float("learning_rate", learning_rate)
    spectra = filter_spectra(filters, size)
    n = len(targets)
    means = targets.mean(axis=(1, 2))
    grams = [texture_statistics(t, filters, m) for t, m in zip(targets, means)]
    starts = start_images(targets, n, seed=seed, size=size)
    stacked = [np.stack([g[s] for g in grams]) for s in range(len(spectra))]
    images, losses = _synthesise(starts, stacked, means[:, None, None, :].astype(np.float32), spectra,
                                 np.float32(learning_rate), steps=steps)
    return np.asarray(images), np.asarray(losses)


@functools.partial(jax.jit, static_argnames=("steps",))
def _transfer(content, style_grams, mean, spectra, style_weights, learning_rate, *, steps):
    optimiser = optax.adam(learning_rate)

    def one(weight, content):
        # The content's features are computed here, batched like the image's: then at
        # weight 0 the content loss's gradient is exactly 0, not rounding noise that
        # Adam would scale up to full steps.
        content_features = fft_features(content - mean, spectra)

        def loss(image):
            features = fft_features(image - mean, spectra)
            return content_loss(features, content_features) + weight * style_loss([gram(f) for f in features],
                                                                                   style_grams)

        def step(carry, _):
            image, state = carry
            updates, state = optimiser.update(jax.grad(loss)(image), state)
            return (jnp.clip(optax.apply_updates(image, updates), 0.0, 1.0), state), None

        (image, _), _ = jax.lax.scan(step, (content, optimiser.init(content)), None, length=steps)
        return image

    return jax.vmap(one)(style_weights, jnp.broadcast_to(content, style_weights.shape + content.shape))


def transfer(content, style, filters, style_weights, *, steps: int = 150, learning_rate: float = 0.03) -> np.ndarray:
    """Style transfer: for each weight, start from ``content`` and descend content + weight x style loss.

    ``content`` (size, size, 3) and ``style`` (h, w, 3) in [0, 1]; the style's mean
    colour is subtracted before the filters (so colour is part of what the Grams
    match). One compiled program for every weight. Returns (weights, size, size, 3).
    """
    content = np.asarray(checks.array("content", content, ndim=3, shape_hint="(size, size, 3)"))
    style = np.asarray(checks.array("style", style, ndim=3, shape_hint="(height, width, 3)"))
    if content.shape[0] != content.shape[1]:
        raise ValueError(f"content must be square, got {content.shape}")
    weights = np.asarray(checks.array("style_weights", style_weights, ndim=1, shape_hint="(n,)"))
    if weights.min() < 0:
        raise ValueError(f"style_weights must be >= 0, got {weights.min()}")
    steps = checks.positive_int("steps", steps)
    learning_rate = checks.positive_float("learning_rate", learning_rate)
    spectra = filter_spectra(filters, content.shape[0])
    mean = style.mean(axis=(0, 1))
    grams = texture_statistics(style, filters, mean)
    images = _transfer(content, grams, mean.astype(np.float32), spectra, weights.astype(np.float32),
                       np.float32(learning_rate), steps=steps)
    return np.asarray(images)


# --- baselines and measures that do not use the network ------------------------------------

def crop(image, top: int, left: int, size: int = 2 * IMAGE_SIZE, *, shrink: int = 2) -> np.ndarray:
    """A ``size x size`` crop of an RGB image (uint8 or [0, 1]), averaged over ``shrink x shrink`` blocks, in [0, 1]."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be an RGB image (height, width, 3), got shape {image.shape}")
    top, left = checks.non_negative_int("top", top), checks.non_negative_int("left", left)
    size, shrink = checks.positive_int("size", size), checks.positive_int("shrink", shrink)
    if top + size > image.shape[0] or left + size > image.shape[1] or size % shrink:
        raise ValueError(f"a {size}x{size} crop at ({top}, {left}) does not fit the {image.shape[:2]} image "
                         f"(or {size} is not a multiple of shrink={shrink})")
    patch = image[top:top + size, left:left + size].astype(np.float64)
    patch = patch / 255.0 if image.dtype == np.uint8 else patch
    return patch.reshape(size // shrink, shrink, size // shrink, shrink, 3).mean(axis=(1, 3)).astype(np.float32)


def matched_noise(image, *, seed: int = 0) -> np.ndarray:
    """White noise with the image's mean and spread in each colour, clipped to [0, 1]."""
    image = np.asarray(checks.array("image", image, ndim=3, shape_hint="(height, width, 3)"))
    return start_images(image[None], 1, seed=seed, size=image.shape[0])[0]


def phase_randomised(image, *, seed: int = 0) -> np.ndarray:
    """The image's power spectrum with random phases: the classic texture baseline (no network).

    The same random phase is added in every colour, so the colours stay correlated
    as in the image; the phases come from white noise's spectrum, so the result is
    real. Clipped to [0, 1].
    """
    image = np.asarray(checks.array("image", image, ndim=3, shape_hint="(height, width, 3)"), np.float64)
    rng = np.random.default_rng(checks.non_negative_int("seed", seed))
    phase = np.angle(np.fft.rfft2(rng.standard_normal(image.shape[:2])))
    mean = image.mean(axis=(0, 1))
    spectrum = np.fft.rfft2(image - mean, axes=(0, 1)) * np.exp(1j * phase)[..., None]
    return np.clip(np.fft.irfft2(spectrum, s=image.shape[:2], axes=(0, 1)) + mean, 0, 1).astype(np.float32)


def _grey(image) -> np.ndarray:
    image = np.asarray(checks.array("image", image, ndim=3, shape_hint="(height, width, 3)"), np.float64)
    return image @ np.array([0.299, 0.587, 0.114])


def radial_spectrum(image) -> np.ndarray:
    """Radially averaged power spectrum of the image's brightness (mean removed): one value per integer radius."""
    grey = _grey(image)
    power = np.abs(np.fft.fftshift(np.fft.fft2(grey - grey.mean()))) ** 2 / grey.size
    h, w = grey.shape
    radius = np.hypot(*np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")).round().astype(int)
    keep = radius <= min(h, w) // 2
    return np.bincount(radius[keep], power[keep]) / np.bincount(radius[keep])


def spectrum_distance(a, b) -> float:
    """RMS difference of the log10 radial power spectra (radii 1 and up), each as shares of its total power.

    A share below 1e-4 counts as 1e-4 (the floor keeps the empty radii of a perfectly
    periodic image from dominating). 1 means a factor of 10 per radius on average.
    """
    sa, sb = radial_spectrum(a)[1:], radial_spectrum(b)[1:]
    if sa.shape != sb.shape:
        raise ValueError(f"a and b must have the same size, got spectra of {sa.size} and {sb.size} radii")

    def log_shares(s):
        return np.log10(np.maximum(s / max(s.sum(), 1e-12), SPECTRUM_FLOOR))

    return float(np.sqrt(np.mean((log_shares(sa) - log_shares(sb)) ** 2)))


def colour_distance(a, b, *, bins: int = 8) -> float:
    """Total-variation distance between the two images' joint colour histograms (bins per channel): 0 same, 1 disjoint."""
    bins = checks.positive_int("bins", bins)

    def histogram(image, name):
        image = np.asarray(checks.array(name, image, ndim=3, shape_hint="(height, width, 3)"))
        counts, _ = np.histogramdd(image.reshape(-1, 3), bins=bins, range=[(0, 1)] * 3)
        return counts / counts.sum()

    return float(0.5 * np.abs(histogram(a, "a") - histogram(b, "b")).sum())


def _gradients(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel gradients (wrapped at the edges): d/dy, d/dx."""
    def shift(dy, dx):
        return np.roll(grey, (dy, dx), axis=(0, 1))

    gx = (shift(-1, -1) + 2 * shift(0, -1) + shift(1, -1)) - (shift(-1, 1) + 2 * shift(0, 1) + shift(1, 1))
    gy = (shift(-1, -1) + 2 * shift(-1, 0) + shift(-1, 1)) - (shift(1, -1) + 2 * shift(1, 0) + shift(1, 1))
    return gy, gx


def edge_strength_distance(a, b, *, bins: int = 16) -> float:
    """Total-variation distance between the distributions of edge strength (Sobel magnitude) of two images.

    Natural textures have many weak edges and a few strong ones, and noise has
    neither; randomising phases keeps the power spectrum but smears sharp edges, and
    this sees it where :func:`spectrum_distance` cannot. Strengths are binned over
    [0, 4] (a step from 0 to 1 in brightness scores 4); 0 same, 1 disjoint.
    """
    bins = checks.positive_int("bins", bins)

    def histogram(image):
        strength = np.hypot(*_gradients(_grey(image))).ravel()
        counts, _ = np.histogram(np.minimum(strength, 4.0), bins=bins, range=(0, 4))
        return counts / counts.sum()

    return float(0.5 * np.abs(histogram(a) - histogram(b)).sum())


def edge_correlation(a, b) -> float:
    """Pearson correlation of the two images' edge strengths (Sobel magnitude), pixel by pixel: are the edges in place?"""
    ea, eb = (np.hypot(*_gradients(_grey(x))).ravel() for x in (a, b))
    if ea.shape != eb.shape:
        raise ValueError(f"a and b must have the same size, got {ea.size} and {eb.size} pixels")
    return float(np.corrcoef(ea, eb)[0, 1])


def ssim(a, b, *, window: int = 7) -> float:
    """Structural similarity (Wang et al. 2004) of the two images' brightness, in ``window x window`` windows.

    Per window: (2 mu_a mu_b + c1)(2 cov + c2) / ((mu_a^2 + mu_b^2 + c1)(var_a + var_b + c2)),
    with c1 = 0.01^2 and c2 = 0.03^2 for values in [0, 1]; the mean over windows. 1: identical.
    """
    window = checks.positive_int("window", window)
    ga, gb = _grey(a), _grey(b)
    if ga.shape != gb.shape or min(ga.shape) < window:
        raise ValueError(f"a and b must have one size of at least {window}x{window}, got {ga.shape} and {gb.shape}")

    def local_mean(x):
        views = np.lib.stride_tricks.sliding_window_view(x, (window, window))
        return views.mean(axis=(-2, -1))

    mu_a, mu_b = local_mean(ga), local_mean(gb)
    var_a, var_b = local_mean(ga * ga) - mu_a**2, local_mean(gb * gb) - mu_b**2
    cov = local_mean(ga * gb) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    return float((((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))).mean())
