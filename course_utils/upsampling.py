"""Ways to double an image's size, and how much checkerboard each one paints.

Used by notebook 09.

Five 2x upsampling layers, as Flax NNX modules (:class:`Upsample2x`), stacked three
times into an untrained generator (:class:`Generator`, 4x4 -> 32x32):

- ``"transposed k3 s2"`` and ``"transposed k4 s2"``: ``nnx.ConvTranspose`` with
  ``transpose_kernel=True`` (the kernel is painted as stored, like
  :func:`course_utils.deconv.conv_transpose_2d`). The full output has
  ``2*(n-1) + k`` rows; explicit padding crops it to exactly ``2n``: PyTorch's
  ``padding=1, output_padding=1`` for k3 (one row off the top, none off the
  bottom), ``padding=1`` for k4 (one off each end). In ``lax`` terms
  (:func:`course_utils.views.lax_padding`) that is ``(1, 2)`` and ``(2, 2)`` per axis.
- ``"resize-conv"``: nearest-neighbour resize (each pixel becomes a 2x2 block), then
  a 3x3 ``nnx.Conv`` with one pixel of zero padding on each side, so the size stays 2n.
- ``"sub-pixel"`` (Shi et al. 2016): a 3x3 ``nnx.Conv`` (same padding) at the low
  resolution to ``4 * out`` channels, then :func:`depth_to_space`. Each group of
  ``out`` channels fills one of the four pixels of every 2x2 block.
- ``"sub-pixel ICNR"``: the same layer initialised with :func:`icnr` (Aitken et al.
  2017): the four groups start as copies of one default-initialised kernel, so the
  layer starts as "convolve, then nearest-neighbour resize".

The artifact measures work on images ``(..., height, width)`` with the mean removed:
:func:`nyquist_fraction` (energy on the Nyquist row and column of the 2-D FFT),
:func:`parity_spread` (how far apart the four pixel-parity classes' means are) and
:func:`parity_variance_spread` (how far apart their variances are). The explorer
(:func:`overlap_explorer`) follows the pattern of :mod:`course_utils.widgets`
and is registered there (``widgets.OVERLAP``).

Notebook 09's experiments and figures live here too, so that its cells read as a
call, a figure and a check: :func:`generator_stage_outputs` (every stage of the same
generators), :func:`separation` (checkered kinds against the fixes),
:func:`subkernel_balance` and :func:`constant_input_response` (why even counts are
not enough), :func:`strided_conv` and :func:`input_gradients` (gradients of a
strided convolution), and the ``plot_*`` figures.
"""

from __future__ import annotations

import functools
import itertools

import ipywidgets
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator

from . import checks, deconv, views, widgets

UPSAMPLERS = ("transposed k3 s2", "transposed k4 s2", "resize-conv", "sub-pixel", "sub-pixel ICNR")
"""The upsampling layers compared in notebook 09, in the order it presents them."""

CHANNELS = (32, 16, 8, 1)
"""Channels of :class:`Generator`: a 4x4x32 code, three 2x stages, one output channel."""

CODE_SIZE = 4
"""Height and width of the generator's code; three 2x stages give 32x32."""


# --- the layers -------------------------------------------------------------------

def depth_to_space(x, block: int = 2) -> jax.Array:
    """Rearrange channels into ``block x block`` pixel blocks (the "pixel shuffle").

    ``x`` has shape ``(..., height, width, block*block*channels)``; the result has
    shape ``(..., block*height, block*width, channels)`` with
    ``out[..., block*i + dy, block*j + dx, c] = x[..., i, j, (dy*block + dx)*channels + c]``:
    channel group ``dy*block + dx`` fills sub-pixel ``(dy, dx)`` of every block.
    """
    block = checks.positive_int("block", block)
    if not hasattr(x, "ndim") or x.ndim < 3:
        raise ValueError(f"x must have shape (..., height, width, channels), got {getattr(x, 'shape', type(x).__name__)}")
    *lead, height, width, depth = x.shape
    if depth % (block * block):
        raise ValueError(f"x's channels ({depth}) must be a multiple of block*block = {block * block}")
    channels = depth // (block * block)
    x = jnp.reshape(x, (*lead, height, width, block, block, channels))
    n = len(lead)
    # (..., h, w, dy, dx, c) -> (..., h, dy, w, dx, c): rows h*block + dy, columns w*block + dx
    x = jnp.transpose(x, (*range(n), n, n + 2, n + 1, n + 3, n + 4))
    return jnp.reshape(x, (*lead, height * block, width * block, channels))


def icnr(kernel, block: int = 2) -> jax.Array:
    """ICNR initialisation (Aitken et al. 2017) of a sub-pixel convolution's kernel.

    ``kernel`` has shape ``(kh, kw, in_channels, block*block*channels)``. Its first
    ``channels`` output channels (default-initialised, so with the right scale) are
    copied into all ``block*block`` groups that :func:`depth_to_space` spreads over a
    block, so every pixel of a block gets the same value: at initialisation the layer
    is a convolution followed by nearest-neighbour resizing.
    """
    block = checks.positive_int("block", block)
    if not hasattr(kernel, "ndim") or kernel.ndim != 4:
        raise ValueError(f"kernel must have shape (kh, kw, in_channels, block*block*channels), "
                         f"got {getattr(kernel, 'shape', type(kernel).__name__)}")
    if kernel.shape[3] % (block * block):
        raise ValueError(f"kernel's output channels ({kernel.shape[3]}) must be a multiple of {block * block}")
    channels = kernel.shape[3] // (block * block)
    return jnp.tile(kernel[..., :channels], (1, 1, 1, block * block))


def _same_3x3(in_features: int, out_features: int, rngs: nnx.Rngs) -> nnx.Conv:
    # A 3x3 convolution with one pixel of zero padding each side keeps the size.
    return nnx.Conv(in_features, out_features, kernel_size=(3, 3), padding=((1, 1), (1, 1)), rngs=rngs)


class Upsample2x(nnx.Module):
    """One 2x upsampling layer of kind ``kind`` (one of :data:`UPSAMPLERS`).

    ``layer(x)`` maps ``(batch, h, w, in_features)`` to ``(batch, 2h, 2w, out_features)``
    exactly; the module docstring says which padding each kind uses and why.
    Parameters use Flax's default initialisers (biases start at zero), except that
    ``"sub-pixel ICNR"`` overwrites its kernel and bias with :func:`icnr` copies.
    """

    def __init__(self, kind: str, in_features: int, out_features: int, *, rngs: nnx.Rngs):
        self.kind = checks.one_of("kind", kind, set(UPSAMPLERS))
        in_features = checks.positive_int("in_features", in_features)
        out_features = checks.positive_int("out_features", out_features)
        if kind.startswith("transposed"):
            kernel = int(kind.split()[1][1:])  # "transposed k3 s2" -> 3
            # Crop the full 2(n-1)+k rows to 2n: PyTorch padding=1 (and output_padding=1 for k3).
            pad = views.lax_padding(kernel, padding=1, output_padding=4 - kernel)[0]
            self.conv = nnx.ConvTranspose(in_features, out_features, kernel_size=(kernel, kernel), strides=(2, 2),
                                          padding=(pad, pad), transpose_kernel=True, rngs=rngs)
        elif kind == "resize-conv":
            self.conv = _same_3x3(in_features, out_features, rngs)
        else:
            self.conv = _same_3x3(in_features, 4 * out_features, rngs)
            if kind == "sub-pixel ICNR":
                self.conv.kernel[...] = icnr(self.conv.kernel[...])
                self.conv.bias[...] = jnp.tile(self.conv.bias[...][:out_features], 4)

    def __call__(self, x: jax.Array) -> jax.Array:
        if not hasattr(x, "ndim") or x.ndim != 4:
            raise ValueError(f"x must have shape (batch, height, width, channels), "
                             f"got {getattr(x, 'shape', type(x).__name__)}")
        if self.kind == "resize-conv":
            x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)  # nearest neighbour: each pixel -> a 2x2 block
        out = self.conv(x)
        return depth_to_space(out) if self.kind.startswith("sub-pixel") else out


class Generator(nnx.Module):
    """An untrained image generator: three 2x stages of one kind, ReLU between them.

    ``generator(code)`` maps codes ``(batch, 4, 4, channels[0])`` to images
    ``(batch, 32, 32, channels[-1])``. The last stage has no activation, so what it
    paints is seen as is. ``generator.stages[i]`` is stage ``i``.
    """

    def __init__(self, kind: str, *, rngs: nnx.Rngs, channels=CHANNELS):
        channels = tuple(checks.positive_int("channels", c) for c in channels)
        if len(channels) < 2:
            raise ValueError(f"channels must list at least 2 numbers (code channels, output channels), got {channels}")
        self.stages = nnx.List([Upsample2x(kind, c_in, c_out, rngs=rngs)
                                for c_in, c_out in itertools.pairwise(channels)])

    def stage_outputs(self, code: jax.Array) -> list:
        """What each stage hands on: its output after the ReLU (none after the last stage)."""
        outputs, x = [], code
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.stages) - 1:
                x = jax.nn.relu(x)
            outputs.append(x)
        return outputs

    def __call__(self, code: jax.Array) -> jax.Array:
        return self.stage_outputs(code)[-1]


@functools.cache
def _sampler(kind: str, channels: tuple):
    """One compiled program per kind: build a generator from a key, run it on a code, keep every stage."""
    def one(key, code):
        outputs = Generator(kind, rngs=nnx.Rngs(params=key), channels=channels).stage_outputs(code[None])
        return [out[0] for out in outputs]
    return jax.jit(jax.vmap(one))


def sample_codes(n: int, *, seed: int, channels=CHANNELS, constant: bool = False) -> np.ndarray:
    """``n`` codes ``(n, 4, 4, channels[0])``: standard normal, or with ``constant=True``
    one normal value per channel repeated over the 4x4 positions."""
    n = checks.positive_int("n", n)
    seed = checks.non_negative_int("seed", seed)
    rng = np.random.default_rng(seed)
    shape = (n, 1, 1, channels[0]) if constant else (n, CODE_SIZE, CODE_SIZE, channels[0])
    return np.broadcast_to(rng.normal(size=shape), (n, CODE_SIZE, CODE_SIZE, channels[0])).astype(np.float32)


def generator_images(kind: str, codes, *, seed: int, channels=CHANNELS) -> np.ndarray:
    """The output images ``(n, 32, 32)`` of ``n`` generators of one kind, one per code.

    Generator ``i`` is initialised from key ``i`` of
    ``jax.random.split(jax.random.key(seed, impl="rbg"), n)``
    and fed ``codes[i]``; all ``n`` run in one compiled, vmapped program. Only
    single-channel outputs (``channels[-1] == 1``) are returned as images.
    """
    checks.one_of("kind", kind, set(UPSAMPLERS))
    channels = tuple(checks.positive_int("channels", c) for c in channels)
    if channels[-1] != 1:
        raise ValueError(f"generator_images returns grey images: channels must end with 1, got {channels}")
    return generator_stage_outputs(kind, codes, seed=seed, channels=channels)[-1][..., 0]


def generator_stage_outputs(kind: str, codes, *, seed: int, channels=CHANNELS) -> list:
    """Every stage's output of the generators of :func:`generator_images` (same keys, same program).

    A list with one array ``(n, height, width, channels)`` per stage, after the ReLU
    for all but the last: ``(n, 8, 8, 16)``, ``(n, 16, 16, 8)``, ``(n, 32, 32, 1)``
    for the default channels.
    """
    checks.one_of("kind", kind, set(UPSAMPLERS))
    seed = checks.non_negative_int("seed", seed)
    channels = tuple(checks.positive_int("channels", c) for c in channels)
    codes = checks.array("codes", codes, ndim=4, shape_hint=f"(n, 4, 4, {channels[0]})")
    if codes.shape[1:] != (CODE_SIZE, CODE_SIZE, channels[0]):
        raise ValueError(f"codes must have shape (n, 4, 4, {channels[0]}), got {codes.shape}")
    # JAX's "rbg" random bits: the same Flax initialisers, but XLA compiles them in a
    # tenth of a second where the default threefry bits take seconds on a CPU.
    keys = jax.random.split(jax.random.key(seed, impl="rbg"), codes.shape[0])
    return [np.asarray(out) for out in _sampler(kind, channels)(keys, jnp.asarray(codes))]


# --- the measures -------------------------------------------------------------------

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
    kernel = np.asarray(kernel, np.float64)
    if kernel.ndim < 2:
        raise ValueError(f"kernel must have shape (kh, kw, ...), got {kernel.shape}")
    out = np.zeros((stride, stride, *kernel.shape[2:]))
    for a in range(stride):
        for b in range(stride):
            out[a, b] = kernel[a::stride, b::stride].sum(axis=(0, 1))
    return out


# --- notebook 09's experiments and figures ------------------------------------------

CHECKERED = ("transposed k3 s2", "transposed k4 s2", "sub-pixel")
"""The kinds whose untrained outputs notebook 09 finds checkered."""

FIXED = ("resize-conv", "sub-pixel ICNR")
"""The two fixes of notebook 09."""


def format_table(table: dict) -> str:
    """:func:`artifact_table`'s result as text: one row per name, ``mean ± std`` per measure."""
    if not isinstance(table, dict) or not table:
        raise TypeError("table must be a non-empty dict, as artifact_table returns")
    names = list(next(iter(table.values())))
    width = max(len(name) for name in table) + 2
    lines = [" " * width + "".join(f"{m:>26s}" for m in names)]
    for name, row in table.items():
        lines.append(f"{name:{width}s}" + "".join(f"{mean:>17.4f} ± {std:<6.4f}" for mean, std in row.values()))
    return "\n".join(lines)


def separation(measures: dict, checkered=CHECKERED, fixed=FIXED) -> dict:
    """How far apart the checkered and the fixed kinds are, by the two measures of :data:`MEASURES`.

    ``measures`` maps each kind to ``{measure name: values, one per generator}``.
    Returns ``nyquist_lowest`` (lowest Nyquist fraction of any checkered generator),
    ``nyquist_highest`` (highest of any fixed one), ``parity_median_low`` (lowest
    median parity spread of a checkered kind), ``parity_median_high`` (highest median
    of a fixed kind), ``parity_top_fixed`` (highest parity spread of any fixed
    generator), ``missed`` (checkered generators at or below it) and ``checkered``
    (how many checkered generators there are).
    """
    if not isinstance(measures, dict) or not set(checkered) | set(fixed) <= set(measures):
        raise TypeError(f"measures must be a dict with an entry for each of {tuple(checkered) + tuple(fixed)}")
    nyq = {k: np.asarray(measures[k]["Nyquist fraction"]) for k in (*checkered, *fixed)}
    par = {k: np.asarray(measures[k]["parity spread"]) for k in (*checkered, *fixed)}
    top_fixed = max(float(par[k].max()) for k in fixed)
    return {"nyquist_lowest": min(float(nyq[k].min()) for k in checkered),
            "nyquist_highest": max(float(nyq[k].max()) for k in fixed),
            "parity_median_low": min(float(np.median(par[k])) for k in checkered),
            "parity_median_high": max(float(np.median(par[k])) for k in fixed),
            "parity_top_fixed": top_fixed,
            "missed": sum(int((par[k] <= top_fixed).sum()) for k in checkered),
            "checkered": sum(par[k].size for k in checkered)}


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


def plot_overlap_counts(cases, n_in: int = 4):
    """One panel per ``(kernel, stride)``: the 2-D overlap counts of ``n_in x n_in`` inputs.

    The interior (``kernel - 1`` off each side) is outlined; each title gives the
    interior's largest / smallest count. Returns the figure.
    """
    cases = [(checks.positive_int("kernel", k), checks.positive_int("stride", s)) for k, s in cases]
    n_in = checks.positive_int("n_in", n_in)
    counts = {case: deconv.overlap_counts((n_in, n_in), *case) for case in cases}
    top = max(int(c.max()) for c in counts.values())
    fig, axes = plt.subplots(1, len(cases), figsize=(3.3 * len(cases), 3.6), constrained_layout=True, squeeze=False)
    for ax, ((kernel, stride), count) in zip(axes[0], counts.items()):
        image = ax.imshow(count, cmap="viridis", vmin=0, vmax=top)
        inner = deconv.interior_overlap_counts((n_in, n_in), kernel, stride)
        k0 = kernel - 1
        ax.add_patch(plt.Rectangle((k0 - 0.5, k0 - 0.5), count.shape[1] - 2 * k0, count.shape[0] - 2 * k0,
                                   fill=False, edgecolor="white", linestyle="--", linewidth=1.2))
        ax.set_title(f"kernel {kernel}, stride {stride}: {count.shape[0]}x{count.shape[1]}\n"
                     f"interior max/min = {inner.max() / inner.min():g}")
        ax.set_xlabel("output column")
        ax.set_ylabel("output row")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(integer=True))
    bar = fig.colorbar(image, ax=axes[0], label="windows covering the pixel", shrink=0.8)
    bar.locator = MaxNLocator(integer=True)
    fig.suptitle(f"How many windows paint each pixel ({n_in}x{n_in} inputs; dashed: the interior)")
    return fig


def plot_generator_outputs(images: dict, *, crop: int = 16, period: int = 4):
    """One row per kind: an output zoomed, its repeating part, and where the energy lies in frequency.

    ``images`` maps a name to images ``(n, h, w)``. The example shown is the
    initialisation with the median Nyquist fraction (neither the best nor the worst):
    its top-left ``crop x crop`` pixels in units of the image's standard deviation,
    then the mean of each pixel class ``(row mod period, column mod period)``
    (:func:`parity_class_means`) tiled over the same pixels, on the same scale: the
    part of the image that repeats with that period. The third panel is
    :func:`energy_share_spectrum` of all ``n`` images on a log scale. Returns the figure.
    """
    if not isinstance(images, dict) or not images:
        raise TypeError("images must be a non-empty dict: name -> images (n, height, width)")
    crop, period = checks.positive_int("crop", crop), checks.positive_int("period", period, minimum=2)
    fig, axes = plt.subplots(len(images), 3, figsize=(8.2, 2.2 * len(images) + 1.4), constrained_layout=True,
                             squeeze=False)
    for (name, imgs), (ax_img, ax_rep, ax_spec) in zip(images.items(), axes):
        imgs = np.asarray(imgs, np.float64)
        nyq, par = nyquist_fraction(imgs), parity_spread(imgs)
        i = int(np.argsort(nyq)[len(nyq) // 2])  # the median initialisation
        centred = imgs[i] - imgs[i].mean()
        scale = max(centred.std(), 1e-12)
        shown = ax_img.imshow(centred[:crop, :crop] / scale, cmap="RdBu_r", vmin=-2, vmax=2)
        ax_img.set_title(f"{name}\nNyquist {nyq[i]:.3f}, parity {par[i]:.3f}", fontsize=9.5)
        tile = parity_class_means(imgs[i], period)
        ax_rep.imshow(np.tile(tile, (crop // period + 1, crop // period + 1))[:crop, :crop] / scale,
                      cmap="RdBu_r", vmin=-2, vmax=2)
        ax_rep.set_title(f"its repeating part (period {period}):\n{parity_spread(imgs[i], period):.2f} of the "
                         "variance", fontsize=9.5)
        for ax in (ax_img, ax_rep):
            ax.set_xticks(range(0, crop, 5))
            ax.set_yticks(range(0, crop, 5))
            ax.set_ylabel("row")
        share = energy_share_spectrum(imgs)
        half = imgs.shape[-1] // 2
        spectrum = ax_spec.imshow(np.log10(np.maximum(share, 1e-6)), cmap="magma", vmin=-6, vmax=-1,
                                  extent=(-half - 0.5, half + 0.5, half + 0.5, -half - 0.5))
        ticks = [-half, -half // 2, 0, half // 2, half]
        ax_spec.set_xticks(ticks)
        ax_spec.set_yticks(ticks)
        ax_spec.set_ylabel("vertical freq.")
        ax_spec.set_title(f"energy by frequency\n(mean of {len(imgs)} outputs)", fontsize=9.5)
    for ax in axes[-1, :2]:
        ax.set_xlabel("column")
    axes[-1, 2].set_xlabel(f"horizontal frequency\n(cycles per {imgs.shape[-1]} px; ±{half} = Nyquist)")
    fig.colorbar(shown, ax=axes[:, :2], location="bottom", label="pixel / image std", shrink=0.7, aspect=30)
    fig.colorbar(spectrum, ax=axes[:, 2], location="bottom", label="log10 share of energy", aspect=15)
    fig.suptitle(f"Each kind's median initialisation (top-left {crop}x{crop} pixels) and its spectrum", fontsize=12)
    return fig


def constant_input_response(layer: Upsample2x, size: int = 4) -> dict:
    """What a transposed-convolution layer paints for a constant input of ones.

    Returns ``kernel`` ``(kh, kw, in, out)``, ``sums`` (the ``(2, 2, out)`` sub-kernel
    sums, summed over input channels) and ``painted`` (the layer's ``(2*size, 2*size, out)``
    output without its bias).
    """
    if not isinstance(layer, Upsample2x) or not layer.kind.startswith("transposed"):
        raise TypeError(f"layer must be a transposed Upsample2x, got {getattr(layer, 'kind', type(layer).__name__)}")
    size = checks.positive_int("size", size)
    kernel = np.asarray(layer.conv.kernel[...]).transpose(0, 1, 3, 2)  # stored (kh, kw, out, in)
    ones = jnp.ones((1, size, size, kernel.shape[2]))
    painted = np.asarray(layer(ones))[0] - np.asarray(layer.conv.bias[...])
    return {"kernel": kernel, "sums": subkernel_sums(kernel).sum(axis=2), "painted": painted}


def _annotate(ax, values, limit, fmt, fontsize):
    # white text on the dark ends of the colour map, black on the pale middle
    for (a, b), v in np.ndenumerate(values):
        ax.text(b, a, fmt(a, b, v), ha="center", va="center", fontsize=fontsize,
                color="white" if abs(v) > 0.55 * limit else "black")


def plot_subkernels(response: dict, out_channel: int = 0):
    """Three panels from :func:`constant_input_response`: kernel, sub-kernel sums, output."""
    kernel = response["kernel"][..., 0, out_channel]
    sums, painted = response["sums"][..., out_channel], response["painted"][..., out_channel]
    fig, (ax_k, ax_s, ax_o) = plt.subplots(1, 3, figsize=(11.5, 3.5), constrained_layout=True)
    for ax, values, title in [
            (ax_k, kernel, (f"{kernel.shape[0]}x{kernel.shape[1]} kernel (input 0 -> output {out_channel}),\n"
                            "each tap labelled by its sub-kernel (a mod 2, b mod 2)")),
            (ax_s, sums, f"the four sub-kernel sums\n(output channel {out_channel}, all inputs)")]:
        limit = float(np.abs(values).max()) or 1.0
        ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(title)
        ax.set_xticks(range(values.shape[1]))
        ax.set_yticks(range(values.shape[0]))
    _annotate(ax_k, kernel, float(np.abs(kernel).max()), lambda a, b, v: f"({a % 2},{b % 2})", 9)
    _annotate(ax_s, sums, float(np.abs(sums).max()), lambda a, b, v: f"{v:.2f}", 11)
    limit = float(np.abs(painted).max()) or 1.0
    shown = ax_o.imshow(painted, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(shown, ax=ax_o, label="output value", shrink=0.85)
    ax_o.set_title(f"layer output for a constant input\n({painted.shape[0]}x{painted.shape[1]}, "
                   f"output channel {out_channel})")
    for ax in (ax_k, ax_s, ax_o):
        ax.set_xlabel("column")
        ax.set_ylabel("row")
    return fig


def subkernel_balance(kind: str, keys, in_features: int = 32, out_features: int = 16) -> dict:
    """How unequal the four sub-kernel sums of freshly initialised layers are.

    For each key, ``Upsample2x(kind, in_features, out_features)`` (a transposed kind)
    is built and its sub-kernel sums taken (summed over input channels). Returns
    ``unevenness``: per key, ``(max - min) / mean |sum|`` of the four sums, averaged
    over output channels (0 when they balance); and ``mean_square``: the ``(2, 2)``
    mean over keys and output channels of each squared sum.
    """
    checks.one_of("kind", kind, {k for k in UPSAMPLERS if k.startswith("transposed")})
    uneven, squares = [], []
    for key in keys:
        layer = Upsample2x(kind, in_features, out_features, rngs=nnx.Rngs(params=key))
        sums = subkernel_sums(np.asarray(layer.conv.kernel[...])).sum(axis=3)  # (2, 2, out): over inputs
        uneven.append(np.mean((sums.max(axis=(0, 1)) - sums.min(axis=(0, 1))) / np.abs(sums).mean(axis=(0, 1))))
        squares.append((sums**2).mean(axis=2))
    if not uneven:
        raise ValueError("keys must hold at least one key")
    return {"unevenness": np.array(uneven), "mean_square": np.mean(squares, axis=0)}


def strided_conv(image, w) -> jax.Array:
    """A stride-2 convolution of one grey image with one kernel, ``'SAME'`` padding: ``(h, w) -> (h/2, w/2)``."""
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


def plot_gradients(panels: dict, draws: dict):
    """Gradient images (one panel per ``title -> (h, w)`` in ``panels``) and, last, the
    parity classes' variances of each ``name -> images (n, h, w)`` in ``draws``
    (:func:`parity_class_variances`, one line per image). Returns the figure."""
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(3.6 * (len(panels) + 1), 3.7), constrained_layout=True)
    for ax, (title, g) in zip(axes, panels.items()):
        limit = float(np.abs(g).max()) or 1.0
        ax.imshow(g, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(title)
        ax.set_xlabel("input column")
        ax.set_ylabel("input row")
    ax = axes[-1]
    for (name, g), color in zip(draws.items(), ["tab:red", "0.5", "tab:blue"]):
        ratios = parity_class_variances(g)
        ax.plot(range(4), ratios.T, "o-", color=color, alpha=0.35, linewidth=0.8)
        ax.plot([], [], "o-", color=color, label=name)
    ax.set_xticks(range(4), ["(even,\neven)", "(even,\nodd)", "(odd,\neven)", "(odd,\nodd)"], fontsize=9)
    ax.set_xlabel("parity class (row, column)")
    ax.set_ylabel("class variance / mean over classes")
    ax.set_title(f"parity classes' variances ({len(ratios)} draws)")
    ax.legend(loc="upper right", fontsize=9)
    return fig


# --- "Try it": kernel and stride -> overlap counts and a random generator -------------

EXPLORER_INPUTS = 4
"""Input size (rows = columns) of the explorer's transposed convolutions."""


def overlap_explorer_figure():
    """Figure for the overlap explorer: the 2-D overlap counts and a random generator's output.

    Made to be redrawn fast, panel by panel: the images carry no ticks (their titles
    give their sizes), the colour bar keeps one scale (0 to 1 = 0 to the largest
    count) and only its tick labels change, and the layout is solved once, for the
    largest counts (the widest labels), then kept.
    """
    fig, (ax_counts, ax_image) = plt.subplots(1, 2, figsize=(8, 3.7), constrained_layout=True)
    counts = ax_counts.imshow(np.zeros((2, 2)), cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    colorbar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap=counts.get_cmap()), ax=ax_counts,
                            label="windows covering the pixel", shrink=0.8)
    image = ax_image.imshow(np.zeros((2, 2)), cmap="gray", interpolation="nearest")
    for ax in (ax_counts, ax_image):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("output column")
        ax.set_ylabel("output row")
    plt.close(fig)  # shown by the explorer, not by the inline backend
    artists = {"counts": counts, "image": image, "ax_counts": ax_counts, "ax_image": ax_image,
               "colorbar": colorbar, "ax_colorbar": colorbar.ax}
    largest = {control.name: control.hi for control in widgets.OVERLAP.controls}
    update_overlap_explorer(artists, largest["kernel"], 1)  # the largest counts
    fig.draw_without_rendering()  # solve the layout ...
    fig.set_layout_engine("none")  # ... and keep it for every other size
    return fig, artists


def _paint_2d(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """:func:`course_utils.deconv.conv_transpose_2d` in NumPy, tap by tap.

    The same sum, without compiling: JAX compiles once per image shape, about a
    quarter of a second for every new kernel and stride the sliders reach.
    """
    (height, width), (kh, kw) = x.shape[:2], w.shape[:2]
    out = np.zeros((stride * (height - 1) + kh, stride * (width - 1) + kw, w.shape[3]), np.float64)
    for a in range(kh):
        for b in range(kw):  # tap (a, b) of input pixel (i, j) lands on (stride*i + a, stride*j + b)
            out[a:a + stride * (height - 1) + 1:stride, b:b + stride * (width - 1) + 1:stride] += x @ w[a, b]
    return out


def random_transposed_generator(kernel: int, stride: int, *, seed: int = 0, channels=(8, 8, 1)) -> np.ndarray:
    """Output of an untrained stack of transposed convolutions (kernel, stride), ReLU between.

    No padding: every stage paints its full output (as :func:`course_utils.deconv.conv_transpose_2d`,
    computed in NumPy). The weights are normal with variance ``stride**2 / (kernel**2 * in_channels)``,
    the code is ``(4, 4, channels[0])`` standard normal; both drawn from ``seed``.
    Returns the grey image ``(height, width)``.
    """
    kernel, stride = checks.positive_int("kernel", kernel), checks.positive_int("stride", stride)
    rng = np.random.default_rng(checks.non_negative_int("seed", seed))
    x = rng.normal(size=(EXPLORER_INPUTS, EXPLORER_INPUTS, channels[0])).astype(np.float32)
    for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
        # each output pixel gets about (kernel/stride)**2 * c_in terms: keep its variance near 1
        w = rng.normal(scale=stride / (kernel * np.sqrt(c_in)), size=(kernel, kernel, c_in, c_out))
        x = _paint_2d(x, w.astype(np.float32), stride)
        if i < len(channels) - 2:
            x = np.maximum(x, 0.0)
    return x[..., 0]


def update_overlap_explorer(artists: dict, kernel: int, stride: int) -> dict:
    """Draw the overlap counts and a random generator's output; return the numbers shown.

    Returns ``{"counts": the count image, "image": the generator's output,
    "ratio": largest / smallest interior count (inf if some pixel is never painted),
    "spread": parity_spread with period = stride of the output's interior}``.
    """
    counts = deconv.overlap_counts((EXPLORER_INPUTS, EXPLORER_INPUTS), kernel, stride)
    has_interior = 2 * (kernel - 1) < counts.shape[0]
    inner = deconv.interior_overlap_counts((EXPLORER_INPUTS, EXPLORER_INPUTS), kernel, stride) \
        if has_interior else counts  # a kernel this large leaves no interior: use every pixel
    ratio = float(inner.max() / inner.min()) if inner.min() > 0 else float("inf")
    image = random_transposed_generator(kernel, stride)
    # the interior of the output, trimmed to whole periods, for the pixel-class measure
    size = image.shape[0] - 2 * (kernel - 1)
    size -= size % stride
    spread = float(parity_spread(image[kernel - 1:kernel - 1 + size, kernel - 1:kernel - 1 + size], stride)) \
        if stride > 1 and size >= 2 * stride else float("nan")
    artists["counts"].set_data(counts)
    artists["counts"].set_extent((-0.5, counts.shape[1] - 0.5, counts.shape[0] - 0.5, -0.5))
    top = max(int(counts.max()), 1)
    artists["counts"].set_clim(0, top)
    ticks = [int(t) for t in MaxNLocator(integer=True).tick_values(0, top) if 0 <= t <= top]
    artists["colorbar"].set_ticks([t / top for t in ticks], labels=[str(t) for t in ticks])
    # Short titles: their letters are a good part of what each slider move redraws.
    artists["ax_counts"].set_title(f"overlap counts, {counts.shape[0]}x{counts.shape[1]} from {EXPLORER_INPUTS}x"
                                   f"{EXPLORER_INPUTS}\n" + (f"interior max / min: {ratio:.2f}" if has_interior
                                                             else f"max / min: {ratio:.2f} (no interior)"),
                                   fontsize=10)
    limit = float(np.abs(image).max()) or 1.0
    artists["image"].set_data(image)
    artists["image"].set_extent((-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
    artists["image"].set_clim(-limit, limit)
    artists["ax_image"].set_title(f"random generator, {image.shape[0]}x{image.shape[1]}\n"
                                  f"interior parity spread: {spread:.3f}", fontsize=10)
    return {"counts": counts, "image": image, "ratio": ratio, "spread": spread}


def overlap_explorer(kernel: int = widgets.OVERLAP.defaults["kernel"],
                     stride: int = widgets.OVERLAP.defaults["stride"]) -> ipywidgets.Widget:
    """Sliders for kernel size and stride -> overlap counts and a random generator's output.

    Built from ``widgets.OVERLAP``: each move redraws only the two panels and the colour bar.
    """
    return widgets.OVERLAP.widget(kernel=kernel, stride=stride)
