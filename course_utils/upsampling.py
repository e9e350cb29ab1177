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
(:func:`overlap_explorer`) follows the pattern of :mod:`course_utils.widgets`.
"""

from __future__ import annotations

import functools
import io
import itertools

import ipywidgets as widgets
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx
from IPython.display import Image, display

from . import _checks, deconv, views

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
    block = _checks.positive_int("block", block)
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
    block = _checks.positive_int("block", block)
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
        self.kind = _checks.one_of("kind", kind, set(UPSAMPLERS))
        in_features = _checks.positive_int("in_features", in_features)
        out_features = _checks.positive_int("out_features", out_features)
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
        channels = tuple(_checks.positive_int("channels", c) for c in channels)
        if len(channels) < 2:
            raise ValueError(f"channels must list at least 2 numbers (code channels, output channels), got {channels}")
        self.stages = nnx.List([Upsample2x(kind, c_in, c_out, rngs=rngs)
                                for c_in, c_out in itertools.pairwise(channels)])

    def __call__(self, code: jax.Array) -> jax.Array:
        x = code
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.stages) - 1:
                x = jax.nn.relu(x)
        return x


@functools.cache
def _sampler(kind: str, channels: tuple):
    """One compiled program per kind: build a generator from a key and run it on a code."""
    def one(key, code):
        return Generator(kind, rngs=nnx.Rngs(params=key), channels=channels)(code[None])[0, ..., 0]
    return jax.jit(jax.vmap(one))


def sample_codes(n: int, *, seed: int, channels=CHANNELS, constant: bool = False) -> np.ndarray:
    """``n`` codes ``(n, 4, 4, channels[0])``: standard normal, or with ``constant=True``
    one normal value per channel repeated over the 4x4 positions."""
    n = _checks.positive_int("n", n)
    seed = _checks.positive_int("seed", seed, minimum=0)
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
    _checks.one_of("kind", kind, set(UPSAMPLERS))
    seed = _checks.positive_int("seed", seed, minimum=0)
    channels = tuple(_checks.positive_int("channels", c) for c in channels)
    if channels[-1] != 1:
        raise ValueError(f"generator_images returns grey images: channels must end with 1, got {channels}")
    codes = _checks.array("codes", codes, ndim=4, shape_hint=f"(n, 4, 4, {channels[0]})")
    if codes.shape[1:] != (CODE_SIZE, CODE_SIZE, channels[0]):
        raise ValueError(f"codes must have shape (n, 4, 4, {channels[0]}), got {codes.shape}")
    # JAX's "rbg" random bits: the same Flax initialisers, but XLA compiles them in a
    # tenth of a second where the default threefry bits take seconds on a CPU.
    keys = jax.random.split(jax.random.key(seed, impl="rbg"), codes.shape[0])
    return np.asarray(_sampler(kind, channels)(keys, jnp.asarray(codes)))


# --- the measures -------------------------------------------------------------------

def _images(images, *, period: int = 2):
    images = np.asarray(_checks.array("images", images, ndim=max(np.ndim(images), 2),
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
    height, width = _checks.positive_int("height", height), _checks.positive_int("width", width)
    return (height + width - 1) / (height * width - 1)


def parity_class_means(images, period: int = 2) -> np.ndarray:
    """Mean of each pixel class ``(row mod period, column mod period)``: shape ``(..., period, period)``.

    The image's mean is removed first; height and width must be multiples of ``period``.
    """
    period = _checks.positive_int("period", period, minimum=2)
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
    period = _checks.positive_int("period", period, minimum=2)
    images = _images(images, period=period)
    height, width = images.shape[-2:]
    blocks = images.reshape(*images.shape[:-2], height // period, period, width // period, period)
    variances = (blocks**2).mean(axis=(-4, -2))
    return _ratio(variances.std(axis=(-2, -1)), variances.mean(axis=(-2, -1)))


MEASURES = {"Nyquist fraction": nyquist_fraction, "parity spread": parity_spread}
"""The two artifact measures of notebook 09's table, by name."""


def white_noise(n: int, height: int, width: int, *, seed: int) -> np.ndarray:
    """``n`` images of standard normal white noise, shape ``(n, height, width)``."""
    n = _checks.positive_int("n", n)
    height, width = _checks.positive_int("height", height), _checks.positive_int("width", width)
    seed = _checks.positive_int("seed", seed, minimum=0)
    return np.random.default_rng(seed).normal(size=(n, height, width))


def artifact_table(images_by_name: dict) -> dict:
    """For each name -> images ``(n, h, w)``: ``{measure name: (mean, std over the n images)}``."""
    if not isinstance(images_by_name, dict) or not images_by_name:
        raise TypeError("images_by_name must be a non-empty dict: name -> images (n, height, width)")
    table = {}
    for name, images in images_by_name.items():
        values = {m: f(images) for m, f in MEASURES.items()}
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
    stride = _checks.positive_int("stride", stride)
    kernel = np.asarray(kernel, np.float64)
    if kernel.ndim < 2:
        raise ValueError(f"kernel must have shape (kh, kw, ...), got {kernel.shape}")
    out = np.zeros((stride, stride, *kernel.shape[2:]))
    for a in range(stride):
        for b in range(stride):
            out[a, b] = kernel[a::stride, b::stride].sum(axis=(0, 1))
    return out


# --- "Try it": kernel and stride -> overlap counts and a random generator -------------

EXPLORER_INPUTS = 4
"""Input size (rows = columns) of the explorer's transposed convolutions."""


def overlap_explorer_figure():
    """Figure for the overlap explorer: the 2-D overlap counts and a random generator's output."""
    fig, (ax_counts, ax_image) = plt.subplots(1, 2, figsize=(9, 4.2), constrained_layout=True)
    counts = ax_counts.imshow(np.zeros((2, 2)), cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(counts, ax=ax_counts, label="windows covering the pixel", shrink=0.8)
    ax_counts.set_xlabel("output column")
    ax_counts.set_ylabel("output row")
    image = ax_image.imshow(np.zeros((2, 2)), cmap="gray")
    ax_image.set_xlabel("output column")
    ax_image.set_ylabel("output row")
    plt.close(fig)  # shown by the explorer, not by the inline backend
    return fig, {"counts": counts, "image": image, "ax_counts": ax_counts, "ax_image": ax_image}


def random_transposed_generator(kernel: int, stride: int, *, seed: int = 0, channels=(8, 8, 1)) -> np.ndarray:
    """Output of an untrained stack of transposed convolutions (kernel, stride), ReLU between.

    No padding: every stage paints its full output (:func:`course_utils.deconv.conv_transpose_2d`).
    The weights are normal with variance ``stride**2 / (kernel**2 * in_channels)``,
    the code is ``(4, 4, channels[0])`` standard normal; both drawn from ``seed``.
    Returns the grey image ``(height, width)``.
    """
    kernel, stride = _checks.positive_int("kernel", kernel), _checks.positive_int("stride", stride)
    rng = np.random.default_rng(_checks.positive_int("seed", seed, minimum=0))
    x = rng.normal(size=(EXPLORER_INPUTS, EXPLORER_INPUTS, channels[0])).astype(np.float32)
    for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
        # each output pixel gets about (kernel/stride)**2 * c_in terms: keep its variance near 1
        w = rng.normal(scale=stride / (kernel * np.sqrt(c_in)), size=(kernel, kernel, c_in, c_out))
        x = np.asarray(deconv.conv_transpose_2d(x, w.astype(np.float32), stride))
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
    artists["counts"].set_clim(0, max(counts.max(), 1))
    artists["ax_counts"].set_title(f"overlap counts, {EXPLORER_INPUTS}x{EXPLORER_INPUTS} inputs, kernel {kernel}, "
                                   f"stride {stride}\nlargest / smallest {'interior ' if has_interior else ''}count: "
                                   f"{ratio:.2f}{'' if has_interior else ' (no interior at this size)'}", fontsize=10)
    limit = float(np.abs(image).max()) or 1.0
    artists["image"].set_data(image)
    artists["image"].set_extent((-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
    artists["image"].set_clim(-limit, limit)
    artists["ax_image"].set_title(f"random 2-stage generator, {image.shape[0]}x{image.shape[1]}\n"
                                  f"parity spread (period {stride}) of its interior: {spread:.3f}", fontsize=10)
    return {"counts": counts, "image": image, "ratio": ratio, "spread": spread}


def overlap_explorer(kernel: int = 3, stride: int = 2) -> widgets.Widget:
    """Sliders for kernel size and stride -> overlap counts and a random generator's output."""
    fig, artists = overlap_explorer_figure()
    sliders = {"kernel": widgets.IntSlider(value=kernel, min=1, max=8, description="kernel"),
               "stride": widgets.IntSlider(value=stride, min=1, max=4, description="stride")}
    out = widgets.Output()

    def redraw(_change=None):
        with out:  # an error shows its traceback under the sliders
            out.clear_output(wait=True)
            update_overlap_explorer(artists, sliders["kernel"].value, sliders["stride"].value)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png")
            display(Image(buffer.getvalue()))

    for slider in sliders.values():
        slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(sliders.values())), out])
