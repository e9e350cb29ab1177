"""The maths of a 1-D transposed convolution, in plain terms.

Used by notebooks 02 (the decoder is this operation), 03 (the decoder as a sum of
scaled filters), 06 (overlap counts and the full model) and 07 (four views).

A transposed convolution with stride ``s`` and a kernel of ``k`` taps lets every
input position ``i`` *paint* its filter, scaled by its value, onto the output
positions ``s*i .. s*i + k - 1``. Where two windows overlap, their paint adds up.
No kernel is flipped here: the filter is painted left to right as stored.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks


def output_length(n_inputs: int, kernel: int, stride: int) -> int:
    """Length of the output of a transposed convolution without padding."""
    n_inputs = _checks.positive_int("n_inputs", n_inputs)
    kernel = _checks.positive_int("kernel", kernel)
    stride = _checks.positive_int("stride", stride)
    return stride * (n_inputs - 1) + kernel


def _check_pair(x, w):
    x = _checks.array("x", x, ndim=2, shape_hint="(length, in_channels)")
    w = _checks.array("w", w, ndim=3, shape_hint="(kernel, in_channels, out_channels)")
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} channels but w expects {w.shape[1]} input channels: "
            f"x must be (length, in_channels) and w (kernel, in_channels, out_channels)"
        )
    return x, w


@functools.partial(jax.jit, static_argnums=2)
def _contributions(x, w, stride):
    """Compiled body of :func:`contributions` (one program per shape and stride)."""
    length, kernel = x.shape[0], w.shape[0]
    out_length = stride * (length - 1) + kernel
    scaled = jnp.einsum("ic,kco->icko", x, w)  # (length, in_channels, kernel, out)
    # Place each scaled filter at its window with a one-hot "where does tap k of
    # input i land" matrix: cheap, exact and free of Python loops.
    lands = np.zeros((length, kernel, out_length), np.float32)
    for i in range(length):
        lands[i, np.arange(kernel), stride * i + np.arange(kernel)] = 1.0
    return jnp.einsum("icko,ikj->icjo", scaled, lands)


@functools.partial(jax.jit, static_argnums=2)
def _conv_transpose_1d(x, w, stride):
    """Compiled body of :func:`conv_transpose_1d`: scale every tap, then scatter-add it."""
    length, kernel = x.shape[0], w.shape[0]
    out_length = stride * (length - 1) + kernel
    scaled = jnp.einsum("ic,kco->iko", x, w)  # (length, kernel, out_channels)
    where = (stride * np.arange(length)[:, None] + np.arange(kernel)[None, :]).ravel()
    out = jnp.zeros((out_length, w.shape[2]), scaled.dtype)
    return out.at[where].add(scaled.reshape(length * kernel, -1))


def contributions(x, w, stride: int) -> jnp.ndarray:
    """Every input value's painted, scaled filter, before they are added up.

    Returns an array of shape ``(length, in_channels, out_length, out_channels)``:
    entry ``[i, c]`` is filter ``w[:, c, :]`` scaled by ``x[i, c]`` and placed at
    output positions ``stride*i .. stride*i + kernel - 1`` (zeros elsewhere).
    Summing over the first two axes gives :func:`conv_transpose_1d`.
    """
    x, w = _check_pair(x, w)
    stride = _checks.positive_int("stride", stride)
    return _contributions(x, w, stride)


def conv_transpose_1d(x, w, stride: int) -> jnp.ndarray:
    """Transposed convolution of ``x`` (length, in_channels) with ``w``.

    ``w`` has shape ``(kernel, in_channels, out_channels)``. The result has shape
    ``(stride*(length-1) + kernel, out_channels)``: input position ``i`` adds
    ``x[i] @ w[k]`` at output position ``stride*i + k`` for each tap ``k``.
    """
    x, w = _check_pair(x, w)
    stride = _checks.positive_int("stride", stride)
    return _conv_transpose_1d(x, w, stride)


def overlap_counts(n_inputs: int, kernel: int, stride: int) -> np.ndarray:
    """How many windows cover each output position of a transposed convolution.

    It equals the transposed convolution of a code of ones with a filter of ones
    (a test checks this); counted directly here because it is integer bookkeeping:
    ``overlap_counts(3, 7, 4)`` is ``[1,1,1,1,2,2,2,1,2,2,2,1,1,1,1]``.
    A 0 marks a gap that no window reaches (stride larger than kernel).
    """
    length = output_length(n_inputs, kernel, stride)
    counts = np.zeros(length, np.int64)
    for i in range(n_inputs):
        counts[stride * i : stride * i + kernel] += 1  # window i covers these positions
    return counts
