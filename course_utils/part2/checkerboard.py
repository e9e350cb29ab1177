"""How much checkerboard an image has, and where it comes from.

Used by notebooks 09 and 10. The measures read images (n, height, width) or a
layer's kernel: the share of spectral energy at the Nyquist corner, the spread of
the four parity classes (pixels by row and column parity), the sums of a kernel's
stride-2 sub-kernels, and the response of a layer to a constant input. Plus the
gradient of a strided convolution, which is a transposed convolution and so
checkered too.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..core import checks
from . import upsampling


def _images(images, *, period: int = 2):
    images = np.asarray(checks.array("images", images, ndim=max(np.ndim(images), 2),
                                      shape_hint="(..., height, width)"), np.float64)
    height, width = images.shape[-2:]
    if height % period or width % period:
        raise ValueError(f"images' height and width must be multiples of {period} so that every class has "
                         f"as many pixels, got {height}x{width}")
    return images - images.mean(axis=(-2, -1), keepdims=True)


def _ratio(num, den):
    """num / den, with 0 where the image is constant (no energy at all)."""
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def nyquist_fraction(images) -> np.ndarray:
    """Fraction of each image's spectral energy on the Nyquist row and column.

    ``images`` is ``(..., height, width)`` with even height and width. The mean is
    removed; of ``|FFT2|^2``, the share at vertical frequency ``height/2`` (any
    horizontal one) or horizontal frequency ``width/2`` is returned, shape ``(...)``.
    A perfect checkerboard gives 1, a constant image 0, white noise on average
    ``(height + width - 1) / (height*width - 1)`` (:func:`white_noise_nyquist_fraction`):
    those lines hold that many of the non-constant frequencies.
    """
    images = _images(images)
    height, width = images.shape[-2:]
    energy = np.abs(np.fft.fft2(images)) ** 2
    on_lines = energy[..., height // 2, :].sum(-1) + energy[..., :, width // 2].sum(-1) \
        - energy[..., height // 2, width // 2]
    return _ratio(on_lines, energy.sum(axis=(-2, -1)))


def white_noise_nyquist_fraction(height: int, width: int) -> float:
    """The expected :func:`nyquist_fraction` of white noise: (h + w - 1) / (h*w - 1)."""
    height, width = checks.positive_int("height", height), checks.positive_int("width", width)
    return (height + width - 1) / (height * width - 1)


def parity_class_means(images, period: int = 2) -> np.ndarray:
    """Mean of each pixel class ``(row mod period, column mod period)``: shape ``(..., period, period)``.

    The image's mean is removed first; height and width must be multiples of ``period``.
    """
    period = checks.positive_int("period", period, minimum=2)
    images = _images(images, period=period)
    height, width = images.shape[-2:]
    blocks = images.reshape(*images.shape[:-2], height // period, period, width // period, period)
    return blocks.mean(axis=(-4, -2))


def parity_spread(images, period: int = 2) -> np.ndarray:
    """How unequal the pixel classes' means are, relative to the image's variance.

    ``variance over the period**2 classes of their means / variance of the image``,
    both with the image's mean removed. A checkerboard ``(-1)**(row+column)`` gives 1,
    a constant image 0, white noise about ``(period**2 - 1) / (height*width - 1)``.
    For period 2 it equals the fraction of spectral energy at the three frequencies
    with period 2 along rows, columns or both (notebook 09 checks this): the
    corners of :func:`nyquist_fraction`'s lines.
    """
    means = parity_class_means(images, period)
    spread = means.var(axis=(-2, -1))
    return _ratio(spread, _images(images, period=period).var(axis=(-2, -1)))


def parity_variance_spread(images, period: int = 2) -> np.ndarray:
    """How unequal the pixel classes' variances are: their standard deviation / their mean.

    The classes are ``(row mod period, column mod period)``; each class's variance is
    taken about the image's mean. 0 when all classes vary alike (and for a constant
    image); white noise gives a small value from sampling alone (about 0.08 for
    32x32, period 2). Notebook 09 uses it on gradients, whose class means are equal.
    """
    period = checks.positive_int("period", period, minimum=2)
    images = _images(images, period=period)
    height, width = images.shape[-2:]
    blocks = images.reshape(*images.shape[:-2], height // period, period, width // period, period)
    variances = (blocks**2).mean(axis=(-4, -2))
    return _ratio(variances.std(axis=(-2, -1)), variances.mean(axis=(-2, -1)))


MEASURES = {"Nyquist fraction": nyquist_fraction, "parity spread": parity_spread}
"""The two artifact measures of notebook 09's table, by name."""


def white_noise(n: int, height: int, width: int, *, seed: int) -> np.ndarray:
    """``n`` images of standard normal white noise, shape ``(n, height, width)``."""
    n = checks.positive_int("n", n)
    height, width = checks.positive_int("height", height), checks.positive_int("width", width)
    seed = checks.non_negative_int("seed", seed)
    return np.random.default_rng(seed).normal(size=(n, height, width))


def artifact_table(images_by_name: dict, measures=None) -> dict:
    """For each name -> images ``(n, h, w)``: ``{measure name: (mean, std over the n images)}``.

    ``measures`` maps a name to a function of images (default :data:`MEASURES`).
    """
    if not isinstance(images_by_name, dict) or not images_by_name:
        raise TypeError("images_by_name must be a non-empty dict: name -> images (n, height, width)")
    measures = MEASURES if measures is None else measures
    table = {}
    for name, images in images_by_name.items():
        values = {m: f(images) for m, f in measures.items()}
        table[name] = {m: (float(v.mean()), float(v.std())) for m, v in values.items()}
    return table


def subkernel_sums(kernel, stride: int = 2) -> np.ndarray:
    """Sum of each of the ``stride**2`` sub-kernels ``kernel[a::stride, b::stride]``.

    ``kernel`` is ``(kh, kw, ...)``; extra axes (channels) are kept, so the result
    is ``(stride, stride, ...)``. Tap ``(a, b)`` of a stride-``s`` transposed
    convolution only ever lands on output pixels whose row is ``a`` mod ``s`` and
    column ``b`` mod ``s`` (before any crop), so a constant input paints, in the
    interior, each sub-kernel's sum on its own pixel class: equal sums, no pattern.
    """
    stride = checks.positive_int("stride", stride)
    kernel = np.asarray(checks.array("kernel", kernel, ndim=max(np.ndim(kernel), 2), shape_hint="(kh, kw, ...)", dtype=np.float64),
                        np.float64)
    if kernel.ndim < 2:
        raise ValueError(f"kernel must have shape (kh, kw, ...), got {kernel.shape}")
    out = np.zeros((stride, stride, *kernel.shape[2:]))
    for a in range(stride):
        for b in range(stride):
            out[a, b] = kernel[a::stride, b::stride].sum(axis=(0, 1))
    return out


def energy_share_spectrum(images) -> np.ndarray:
    """Each frequency's share of the spectral energy, averaged over images ``(n, h, w)``.

    The mean is removed; the result is ``fftshift``-ed and the first row and column
    (the Nyquist frequency ``-h/2``, ``-w/2``) are repeated at the far end, so that the
    array runs from ``-h/2`` to ``+h/2`` symmetrically: shape ``(h + 1, w + 1)``.
    """
    images = _images(images)
    energy = np.abs(np.fft.fft2(images)) ** 2
    total = energy.sum(axis=(-2, -1), keepdims=True)
    share = _ratio(energy, total).reshape(-1, *images.shape[-2:]).mean(axis=0)
    share = np.fft.fftshift(share)
    share = np.concatenate([share, share[:1]], axis=0)
    return np.concatenate([share, share[:, :1]], axis=1)


def constant_input_response(layer: upsampling.Upsample2x, size: int = 4) -> dict:
    """What a transposed-convolution layer paints for a constant input of ones.

    Returns ``kernel`` ``(kh, kw, in, out)``, ``sums`` (the ``(2, 2, out)`` sub-kernel
    sums, summed over input channels) and ``painted`` (the layer's ``(2*size, 2*size, out)``
    output without its bias).
    """
    if not isinstance(layer, upsampling.Upsample2x) or not layer.kind.startswith("transposed"):
        raise TypeError(f"layer must be a transposed Upsample2x, got {getattr(layer, 'kind', type(layer).__name__)}")
    size = checks.positive_int("size", size)
    kernel = np.asarray(layer.conv.kernel[...]).transpose(0, 1, 3, 2)  # stored (kh, kw, out, in)
    ones = jnp.ones((1, size, size, kernel.shape[2]))
    painted = np.asarray(layer(ones))[0] - np.asarray(layer.conv.bias[...])
    return {"kernel": kernel, "sums": subkernel_sums(kernel).sum(axis=2), "painted": painted}


def _checked_keys(keys) -> list:
    """Random keys (``jax.random.split``) or integer seeds, one per layer to draw."""
    if isinstance(keys, (str, bytes)) or not hasattr(keys, "__iter__"):
        raise TypeError(f"keys must be a sequence of random keys (jax.random.split) or integer seeds, got {keys!r}")
    keys = list(keys)
    for i, key in enumerate(keys):
        is_key = isinstance(key, jax.Array) and (jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
                                                 or key.dtype == jnp.uint32)
        if not is_key and (isinstance(key, bool) or not isinstance(key, (int, np.integer))):
            raise TypeError(f"keys[{i}] must be a random key or an integer seed, got {key!r}")
    if not keys:
        raise ValueError("keys must hold at least one key")
    return keys


def subkernel_balance(kind: str, keys, in_features: int = 32, out_features: int = 16) -> dict:
    """How unequal the four sub-kernel sums of freshly initialised layers are.

    For each key, ``Upsample2x(kind, in_features, out_features)`` (a transposed kind)
    is built and its sub-kernel sums taken (summed over input channels). Returns
    ``unevenness``: per key, ``(max - min) / mean |sum|`` of the four sums, averaged
    over output channels (0 when they balance); and ``mean_square``: the ``(2, 2)``
    mean over keys and output channels of each squared sum.
    """
    checks.one_of("kind", kind, {k for k in upsampling.UPSAMPLERS if k.startswith("transposed")})
    keys = _checked_keys(keys)
    uneven, squares = [], []
    for key in keys:
        layer = upsampling.Upsample2x(kind, in_features, out_features, rngs=nnx.Rngs(params=key))
        sums = subkernel_sums(np.asarray(layer.conv.kernel[...])).sum(axis=3)  # (2, 2, out): over inputs
        uneven.append(np.mean((sums.max(axis=(0, 1)) - sums.min(axis=(0, 1))) / np.abs(sums).mean(axis=(0, 1))))
        squares.append((sums**2).mean(axis=2))
    if not uneven:
        raise ValueError("keys must hold at least one key")
    return {"unevenness": np.array(uneven), "mean_square": np.mean(squares, axis=0)}


def strided_conv(image, w) -> jax.Array:
    """A stride-2 convolution of one grey image with one kernel, ``'SAME'`` padding: ``(h, w) -> (h/2, w/2)``.

    Raises ``ValueError`` for a batch or a colour image: ``image`` is one (height, width)
    array and ``w`` one (kh, kw) kernel.
    """
    image = checks.array("image", image, ndim=2, shape_hint="(height, width): one grey image, not a batch")
    w = checks.array("w", w, ndim=2, shape_hint="(kernel_h, kernel_w): one kernel")
    return jax.lax.conv_general_dilated(image[None, :, :, None], w[:, :, None, None], (2, 2), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))[0, :, :, 0]


@functools.cache
def _gradient_programs(size: int):
    blank = jnp.zeros((size, size))

    def of_sum(w):
        return jax.grad(lambda image: strided_conv(image, w).sum())(blank)

    def pulled_back(w, g):
        _, pullback = jax.vjp(lambda image: strided_conv(image, w), blank)
        return pullback(g)[0]

    return jax.jit(jax.vmap(of_sum)), jax.jit(jax.vmap(pulled_back))


def input_gradients(kernels, output_grads) -> dict:
    """Input-gradients of :func:`strided_conv`, one per kernel ``(n, kh, kw)``.

    ``output_grads`` ``(n, h/2, w/2)`` are the gradients arriving at the outputs.
    Returns ``{"grad of sum, random kernel": d(sum of outputs)/d image,
    "random output gradient": the pull-back of output_grads}``, each ``(n, h, w)``.
    """
    kernels = checks.array("kernels", kernels, ndim=3, shape_hint="(n, kh, kw)")
    output_grads = checks.array("output_grads", output_grads, ndim=3, shape_hint="(n, h/2, w/2)")
    if output_grads.shape[0] != kernels.shape[0] or output_grads.shape[1] != output_grads.shape[2]:
        raise ValueError(f"output_grads must be (n, m, m) with n = {kernels.shape[0]}, got {output_grads.shape}")
    of_sum, pulled_back = _gradient_programs(2 * output_grads.shape[1])
    kernels, output_grads = jnp.asarray(kernels, jnp.float32), jnp.asarray(output_grads, jnp.float32)
    return {"grad of sum, random kernel": np.asarray(of_sum(kernels)),
            "random output gradient": np.asarray(pulled_back(kernels, output_grads))}


def parity_class_variances(images) -> np.ndarray:
    """Each image's four parity classes' variances (about the image's mean), over their mean: ``(n, 4)``.

    The classes in the order (even, even), (even, odd), (odd, even), (odd, odd).
    """
    images = _images(images)
    height, width = images.shape[-2:]
    variances = (images.reshape(-1, height // 2, 2, width // 2, 2) ** 2).mean(axis=(1, 3)).reshape(-1, 4)
    return _ratio(variances, variances.mean(axis=1, keepdims=True))
