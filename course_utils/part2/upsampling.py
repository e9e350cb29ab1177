"""Ways to double an image's size, and how much checkerboard each one paints.

Used by notebooks 09 and 10.

Five 2x upsampling layers, as Flax NNX modules (:class:`Upsample2x`), stacked three
times into an untrained generator (:class:`UpsamplerStack`, 4x4 -> 32x32):

- ``"transposed k3 s2"`` and ``"transposed k4 s2"``: ``nnx.ConvTranspose`` with
  ``transpose_kernel=True`` (the kernel is painted as stored, like
  :func:`course_utils.core.deconv.conv_transpose_2d`). The full output has
  ``2*(n-1) + k`` rows; explicit padding crops it to exactly ``2n``: PyTorch's
  ``padding=1, output_padding=1`` for k3 (one row off the top, none off the
  bottom), ``padding=1`` for k4 (one off each end). In ``lax`` terms
  (:func:`course_utils.part1.views.lax_padding`) that is ``(1, 2)`` and ``(2, 2)`` per axis.
- ``"resize-conv"``: nearest-neighbour resize (each pixel becomes a 2x2 block), then
  a 3x3 ``nnx.Conv`` with one pixel of zero padding on each side, so the size stays 2n.
- ``"sub-pixel"`` (Shi et al. 2016): a 3x3 ``nnx.Conv`` (same padding) at the low
  resolution to ``4 * out`` channels, then :func:`depth_to_space`. Each group of
  ``out`` channels fills one of the four pixels of every 2x2 block.
- ``"sub-pixel ICNR"``: the same layer initialised with :func:`icnr` (Aitken et al.
  2017): the four groups start as copies of one default-initialised kernel, so the
  layer starts as "convolve, then nearest-neighbour resize".

Also :func:`sample_codes`, :func:`generator_images` and :func:`generator_stage_outputs`:
the images (and every stage's output) of many random initialisations of a stack, for
the measures of :mod:`course_utils.part2.checkerboard`. Notebook 09's figures and its
explorer are in :mod:`course_utils.part2.checkerboard_lesson`.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..core import checks
from ..part1 import views

UPSAMPLERS = ("transposed k3 s2", "transposed k4 s2", "resize-conv", "sub-pixel", "sub-pixel ICNR")
"""The upsampling layers compared in notebook 09, in the order it presents them."""

STACK_CHANNELS = (32, 16, 8, 1)
"""Channels of :class:`UpsamplerStack`: a 4x4x32 code, three 2x stages, one output channel."""

CODE_GRID = 4
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
    ndim = np.ndim(x) if not isinstance(x, str) else 0
    x = checks.array("x", x, ndim=ndim if ndim >= 3 else 3, shape_hint="(..., height, width, channels)", dtype=None)
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
    kernel = checks.array("kernel", kernel, ndim=4, shape_hint="(kh, kw, in_channels, block*block*channels)", dtype=None)
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
        checks.rngs("rngs", rngs)
        self.kind = checks.one_of("kind", kind, set(UPSAMPLERS))
        in_features = checks.positive_int("in_features", in_features)
        self.in_features = in_features
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
        if x.shape[-1] != self.in_features:
            raise ValueError(f"this layer takes {self.in_features} input channels, got x of shape {x.shape} "
                             f"({x.shape[-1]} channels)")
        if self.kind == "resize-conv":
            x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)  # nearest neighbour: each pixel -> a 2x2 block
        out = self.conv(x)
        return depth_to_space(out) if self.kind.startswith("sub-pixel") else out


class UpsamplerStack(nnx.Module):
    """An untrained image generator: three 2x stages of one kind, ReLU between them.

    ``generator(code)`` maps codes ``(batch, 4, 4, channels[0])`` to images
    ``(batch, 32, 32, channels[-1])``. The last stage has no activation, so what it
    paints is seen as is. ``generator.stages[i]`` is stage ``i``.
    """

    def __init__(self, kind: str, *, rngs: nnx.Rngs, channels=STACK_CHANNELS):
        checks.rngs("rngs", rngs)
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
        outputs = UpsamplerStack(kind, rngs=nnx.Rngs(params=key), channels=channels).stage_outputs(code[None])
        return [out[0] for out in outputs]
    return jax.jit(jax.vmap(one))


def sample_codes(n: int, *, seed: int, channels=STACK_CHANNELS, constant: bool = False) -> np.ndarray:
    """``n`` codes ``(n, 4, 4, channels[0])``: standard normal, or with ``constant=True``
    one normal value per channel repeated over the 4x4 positions."""
    n = checks.positive_int("n", n)
    seed = checks.non_negative_int("seed", seed)
    rng = np.random.default_rng(seed)
    shape = (n, 1, 1, channels[0]) if constant else (n, CODE_GRID, CODE_GRID, channels[0])
    return np.broadcast_to(rng.normal(size=shape), (n, CODE_GRID, CODE_GRID, channels[0])).astype(np.float32)


def generator_images(kind: str, codes, *, seed: int, channels=STACK_CHANNELS) -> np.ndarray:
    """The output images ``(n, 32, 32)`` of ``n`` generators of one kind, one per code.

    UpsamplerStack ``i`` is initialised from key ``i`` of
    ``jax.random.split(jax.random.key(seed, impl="rbg"), n)``
    and fed ``codes[i]``; all ``n`` run in one compiled, vmapped program. Only
    single-channel outputs (``channels[-1] == 1``) are returned as images.
    """
    checks.one_of("kind", kind, set(UPSAMPLERS))
    channels = tuple(checks.positive_int("channels", c) for c in channels)
    if channels[-1] != 1:
        raise ValueError(f"generator_images returns grey images: channels must end with 1, got {channels}")
    return generator_stage_outputs(kind, codes, seed=seed, channels=channels)[-1][..., 0]


def generator_stage_outputs(kind: str, codes, *, seed: int, channels=STACK_CHANNELS) -> list:
    """Every stage's output of the generators of :func:`generator_images` (same keys, same program).

    A list with one array ``(n, height, width, channels)`` per stage, after the ReLU
    for all but the last: ``(n, 8, 8, 16)``, ``(n, 16, 16, 8)``, ``(n, 32, 32, 1)``
    for the default channels.
    """
    checks.one_of("kind", kind, set(UPSAMPLERS))
    seed = checks.non_negative_int("seed", seed)
    channels = tuple(checks.positive_int("channels", c) for c in channels)
    codes = checks.array("codes", codes, ndim=4, shape_hint=f"(n, 4, 4, {channels[0]})")
    if codes.shape[1:] != (CODE_GRID, CODE_GRID, channels[0]):
        raise ValueError(f"codes must have shape (n, 4, 4, {channels[0]}), got {codes.shape}")
    # JAX's "rbg" random bits: the same Flax initialisers, but XLA compiles them in a
    # tenth of a second where the default threefry bits take seconds on a CPU.
    keys = jax.random.split(jax.random.key(seed, impl="rbg"), codes.shape[0])
    return [np.asarray(out) for out in _sampler(kind, channels)(keys, jnp.asarray(codes))]


# --- the measures -------------------------------------------------------------------


# --- notebook 09's experiments and figures ------------------------------------------


# --- "Try it": kernel and stride -> overlap counts and a random generator -------------


