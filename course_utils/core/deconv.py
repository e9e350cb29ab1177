"""The maths of a 1-D transposed convolution, in plain terms.

Used by notebooks 02 (the decoder is this operation), 03 (the decoder as a sum of
scaled filters), 06 (overlap counts and the full model), 07 (four views) and 09
(the same painting in 2-D: :func:`conv_transpose_2d`, 2-D overlap counts).

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

from . import checks


def output_length(n_inputs: int, kernel: int, stride: int, padding: int = 0, output_padding: int = 0) -> int:
    """Output length of a transposed convolution, PyTorch's ``ConvTranspose1d`` convention.

    ``stride*(n_inputs-1) + kernel - 2*padding + output_padding``; with no padding,
    the full output that every window paints. ``output_padding`` must be smaller
    than ``stride``: it only picks which of the ``stride`` input lengths that a
    strided convolution maps to ``n_inputs`` positions to rebuild.
    """
    n_inputs = checks.positive_int("n_inputs", n_inputs)
    kernel = checks.positive_int("kernel", kernel)
    stride = checks.positive_int("stride", stride)
    padding = checks.non_negative_int("padding", padding)
    output_padding = checks.non_negative_int("output_padding", output_padding)
    if output_padding >= stride:
        raise ValueError(f"output_padding must be smaller than stride ({stride}), got {output_padding}")
    full = stride * (n_inputs - 1) + kernel
    length = full - 2 * padding + output_padding
    if length < 1:
        raise ValueError(f"padding {padding} crops the whole output of length {full}: use padding <= {(full - 1) // 2}")
    return length


def conv_output_length(n_signal: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Output length of the ordinary strided convolution: ``(n + 2*padding - kernel) // stride + 1``."""
    n_signal = checks.positive_int("n_signal", n_signal)
    kernel = checks.positive_int("kernel", kernel)
    stride = checks.positive_int("stride", stride)
    padding = checks.non_negative_int("padding", padding)
    if n_signal + 2 * padding < kernel:
        raise ValueError(f"the kernel ({kernel}) is longer than the padded signal ({n_signal + 2 * padding})")
    return (n_signal + 2 * padding - kernel) // stride + 1


def check_signal_and_filters(x, w, *, spatial: int = 1):
    """``x`` (positions..., in_channels) and ``w`` (taps..., in_channels, out_channels) as arrays, or a clear error.

    ``spatial`` is the number of position axes: 1 for signals (length), 2 for images (height, width).
    """
    axes = ("length",) if spatial == 1 else ("height", "width")
    taps = ("kernel",) if spatial == 1 else ("kernel_h", "kernel_w")
    x_shape, w_shape = f"({', '.join(axes)}, in_channels)", f"({', '.join(taps)}, in_channels, out_channels)"
    x = checks.array("x", x, ndim=spatial + 1, shape_hint=x_shape)
    w = checks.array("w", w, ndim=spatial + 2, shape_hint=w_shape)
    if x.shape[spatial] != w.shape[spatial]:
        raise ValueError(f"x has {x.shape[spatial]} channels but w expects {w.shape[spatial]} input channels: "
                         f"x must be {x_shape} and w {w_shape}")
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
    x, w = check_signal_and_filters(x, w)
    stride = checks.positive_int("stride", stride)
    return _contributions(x, w, stride)


def conv_transpose_1d(x, w, stride: int) -> jnp.ndarray:
    """Transposed convolution of ``x`` (length, in_channels) with ``w``.

    ``w`` has shape ``(kernel, in_channels, out_channels)``. The result has shape
    ``(stride*(length-1) + kernel, out_channels)``: input position ``i`` adds
    ``x[i] @ w[k]`` at output position ``stride*i + k`` for each tap ``k``.
    """
    x, w = check_signal_and_filters(x, w)
    stride = checks.positive_int("stride", stride)
    return _conv_transpose_1d(x, w, stride)


def overlap_counts(n_inputs: int, kernel: int, stride: int) -> np.ndarray:
    """How many windows cover each output position of a transposed convolution.

    It equals the transposed convolution of a code of ones with a filter of ones
    (a test checks this); counted directly here because it is integer bookkeeping:
    ``overlap_counts(3, 7, 4)`` is ``[1,1,1,1,2,2,2,1,2,2,2,1,1,1,1]``.
    A 0 marks a gap that no window reaches (stride larger than kernel).

    In 2-D pass pairs (rows, columns) for any argument (an int counts for both
    axes): the result is the ``(height, width)`` image of how many windows cover each
    pixel, ``overlap_counts((4, 4), 3, 2)`` say. It equals the outer product of the
    two axes' 1-D counts (a test and notebook 09 check this): window ``(i, j)``
    covers pixel ``(p, q)`` exactly when window ``i`` covers row ``p`` and window
    ``j`` covers column ``q``.
    """
    if any(isinstance(a, (tuple, list)) for a in (n_inputs, kernel, stride)):
        return _overlap_counts_2d(n_inputs, kernel, stride)
    length = output_length(n_inputs, kernel, stride)
    counts = np.zeros(length, np.int64)
    for i in range(n_inputs):
        counts[stride * i : stride * i + kernel] += 1  # window i covers these positions
    return counts


# --- 2-D: images (used by notebook 09) ---------------------------------------------
#
# The same painting in two directions: input pixel (i, j) paints its filter, scaled by
# its value, onto rows ``s_h*i ..`` and columns ``s_w*j ..``. Kernels use Flax's layout
# (kh, kw, in_channels, out_channels) and are painted as stored (no flip).

def _size_pair(name: str, value) -> tuple[int, int]:
    """An int ``v`` as ``(v, v)``, or a pair of ints, each checked to be >= 1."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an integer or a pair (rows, columns), got {value!r}")
        return (checks.positive_int(f"{name}[0]", value[0]), checks.positive_int(f"{name}[1]", value[1]))
    value = checks.positive_int(name, value)
    return (value, value)


def output_shape_2d(n_inputs, kernel, stride) -> tuple[int, int]:
    """(height, width) of a 2-D transposed convolution without padding.

    Each argument is an int (the same for both axes) or a pair (rows, columns);
    each axis follows :func:`output_length`.
    """
    n, k, s = _size_pair("n_inputs", n_inputs), _size_pair("kernel", kernel), _size_pair("stride", stride)
    return (s[0] * (n[0] - 1) + k[0], s[1] * (n[1] - 1) + k[1])


@functools.partial(jax.jit, static_argnums=2)
def _conv_transpose_2d(x, w, stride):
    """Compiled body of :func:`conv_transpose_2d`: scale every tap, then scatter-add it."""
    (height, width), (kh, kw) = x.shape[:2], w.shape[:2]
    out_shape = (stride[0] * (height - 1) + kh, stride[1] * (width - 1) + kw, w.shape[3])
    scaled = jnp.einsum("hwc,abco->hwabo", x, w)  # (height, width, kh, kw, out_channels)
    rows = stride[0] * np.arange(height)[:, None] + np.arange(kh)[None, :]  # (height, kh): where tap a of row i lands
    cols = stride[1] * np.arange(width)[:, None] + np.arange(kw)[None, :]  # (width, kw)
    out = jnp.zeros(out_shape, scaled.dtype)
    return out.at[rows[:, None, :, None], cols[None, :, None, :]].add(scaled)


def conv_transpose_2d(x, w, stride) -> jnp.ndarray:
    """Transposed convolution of an image ``x`` (height, width, in_channels) with ``w``.

    ``w`` has Flax's layout ``(kernel_h, kernel_w, in_channels, out_channels)``;
    ``stride`` is an int or a pair (rows, columns). No padding: the result has shape
    ``(s_h*(height-1) + kernel_h, s_w*(width-1) + kernel_w, out_channels)``, and
    input pixel ``(i, j)`` adds ``x[i, j] @ w[a, b]`` at output pixel
    ``(s_h*i + a, s_w*j + b)`` for every tap ``(a, b)`` (the kernel is not flipped).
    """
    x, w = check_signal_and_filters(x, w, spatial=2)
    return _conv_transpose_2d(x, w, _size_pair("stride", stride))


def _overlap_counts_2d(n_inputs, kernel, stride) -> np.ndarray:
    n, k, s = _size_pair("n_inputs", n_inputs), _size_pair("kernel", kernel), _size_pair("stride", stride)
    counts = np.zeros(output_shape_2d(n, k, s), np.int64)
    for i in range(n[0]):
        for j in range(n[1]):
            counts[s[0] * i:s[0] * i + k[0], s[1] * j:s[1] * j + k[1]] += 1  # window (i, j) covers this block
    return counts


def interior_overlap_counts(n_inputs, kernel, stride) -> np.ndarray:
    """The overlap counts without the borders: ``kernel - 1`` positions cropped from each end.

    Away from the borders every position is covered by as many windows as it would be
    on an endless input, so the pattern left is the periodic one (period = stride).
    Ints give 1-D counts, pairs give a 2-D image, as in :func:`overlap_counts`.
    """
    counts = overlap_counts(n_inputs, kernel, stride)
    kernels = (kernel,) if counts.ndim == 1 else _size_pair("kernel", kernel)
    inner = counts[tuple(slice(k - 1, size - (k - 1)) for k, size in zip(kernels, counts.shape))]
    if inner.size == 0:
        raise ValueError(
            f"{n_inputs} inputs are too few to have an interior with kernel {kernel}: every position is within "
            f"kernel - 1 of a border; use more inputs"
        )
    return inner
