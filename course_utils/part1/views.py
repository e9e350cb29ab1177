"""Four views of one transposed convolution, and the size and padding conventions.

Used by notebook 07.

All four functions compute the same thing for ``x`` of shape (length, in_channels)
and ``w`` of shape (kernel, in_channels, out_channels), with no padding:

1. :func:`by_painting`: every input value paints its scaled filter; overlaps add.
2. :func:`by_dilated_convolution`: put ``stride - 1`` zeros between the inputs, pad
   ``kernel - 1`` zeros on each side, and run an ordinary (sliding dot product)
   convolution with the *flipped* kernel.
3. :func:`by_matrix_transpose`: write the strided convolution that maps an output
   signal back to ``x`` as a matrix C (:func:`conv_matrix`); the transposed
   convolution is multiplication by ``C.T``, hence the name.
4. :func:`by_gradient`: the gradient of that convolution with respect to its input
   (``jax.vjp``), fed ``x`` as the incoming gradient.

View 2 is also how JAX itself computes it: ``jax.lax.conv_transpose`` is one call
of ``jax.lax.conv_general_dilated`` with ``lhs_dilation=stride`` (the zeros between
inputs), which :func:`by_lhs_dilation` makes directly.

Padding follows PyTorch's ``ConvTranspose1d``: ``padding`` crops that many
positions from each end of the full output, ``output_padding`` adds positions at
the end. :func:`lax_padding` turns them into the explicit padding that
``jax.lax.conv_transpose`` and Flax's ``nnx.ConvTranspose`` expect, which pads the
zero-dilated input instead.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks, deconv


def _conv(y, w, stride: int):
    """The strided convolution whose transpose we study: (N, out) -> (length, in).

    Output ``[i, c]`` is the dot product of filter ``w[:, c, :]`` with the window of
    ``y`` that starts at ``stride * i``: the encoder of the course, in general form.
    """
    kernel_wio = jnp.transpose(w, (0, 2, 1))  # (kernel, out_channels -> its input, in_channels -> its output)
    return jax.lax.conv_general_dilated(y[None], kernel_wio, (stride,), "VALID",
                                        dimension_numbers=("NWC", "WIO", "NWC"))[0]


def by_painting(x, w, stride: int) -> jnp.ndarray:
    """View 1: each input paints its scaled filter; overlaps add (``deconv.conv_transpose_1d``)."""
    return deconv.conv_transpose_1d(x, w, stride)


def dilate(x, stride: int) -> np.ndarray:
    """Insert ``stride - 1`` zero rows between the rows of ``x``: (L, c) -> (stride*(L-1)+1, c)."""
    x = np.asarray(checks.array("x", x, ndim=2, shape_hint="(length, channels)"))
    stride = checks.positive_int("stride", stride)
    dilated = np.zeros((stride * (x.shape[0] - 1) + 1, x.shape[1]), x.dtype)
    dilated[::stride] = x
    return dilated


def by_dilated_convolution(x, w, stride: int) -> np.ndarray:
    """View 2: dilate the input with zeros, pad ``kernel - 1`` each side, slide the flipped kernel.

    Plain NumPy, like view 3: each new shape would otherwise compile a program.
    """
    x, w = deconv.check_signal_and_filters(x, w)
    stride = checks.positive_int("stride", stride)
    x, w = np.asarray(x, np.float32), np.asarray(w, np.float32)
    kernel = w.shape[0]
    padded = np.pad(dilate(x, stride), ((kernel - 1, kernel - 1), (0, 0)))
    flipped = w[::-1]
    out_length = padded.shape[0] - kernel + 1
    # An ordinary stride-1 convolution, written as a sum over taps: out[j] = sum_m padded[j + m] @ flipped[m].
    return sum(padded[m:m + out_length] @ flipped[m] for m in range(kernel))


@functools.partial(jax.jit, static_argnums=2)
def _lhs_dilated(x, w, stride):
    kernel = w.shape[0]
    return jax.lax.conv_general_dilated(x[None], w[::-1], window_strides=(1,), padding=((kernel - 1, kernel - 1),),
                                        lhs_dilation=(stride,), dimension_numbers=("NWC", "WIO", "NWC"))[0]


def by_lhs_dilation(x, w, stride: int) -> jnp.ndarray:
    """View 2 as XLA runs it: ``lax.conv_general_dilated`` with ``lhs_dilation=stride``.

    The input ("left-hand side") is dilated by the stride inside the convolution,
    padded ``kernel - 1`` on each side, and the flipped kernel slides with stride 1.
    """
    x, w = deconv.check_signal_and_filters(x, w)
    stride = checks.positive_int("stride", stride)
    return _lhs_dilated(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32), stride)


def conv_matrix(length: int, w, stride: int) -> np.ndarray:
    """The matrix C of the strided convolution that maps a signal back to ``length`` positions.

    The signal has ``stride*(length-1) + kernel`` positions and ``out_channels``
    channels; C has shape ``(length*in_channels, signal_positions*out_channels)``,
    rows and columns flattened position-major. Row ``(i, c)`` holds filter
    ``w[:, c, :]`` placed at positions ``stride*i ..``: C applied to a signal is the
    convolution, and ``C.T`` applied to ``x`` is the transposed convolution.
    """
    length = checks.positive_int("length", length)
    w = np.asarray(checks.array("w", w, ndim=3, shape_hint="(kernel, in_channels, out_channels)"), np.float64)
    stride = checks.positive_int("stride", stride)
    kernel, c_in, c_out = w.shape
    n_signal = deconv.output_length(length, kernel, stride)
    matrix = np.zeros((length, c_in, n_signal, c_out))
    for i in range(length):
        matrix[i, :, stride * i:stride * i + kernel, :] = np.transpose(w, (1, 0, 2))
    return matrix.reshape(length * c_in, n_signal * c_out)


def by_matrix_transpose(x, w, stride: int) -> jnp.ndarray:
    """View 3: multiply the flattened input by ``C.T``."""
    x, w = deconv.check_signal_and_filters(x, w)
    stride = checks.positive_int("stride", stride)
    matrix = conv_matrix(x.shape[0], w, stride)
    out = matrix.T @ np.asarray(x, np.float64).ravel()
    return jnp.asarray(out.reshape(-1, w.shape[2]), jnp.float32)


@functools.partial(jax.jit, static_argnums=2)
def _gradient(x, w, stride):
    signal = jnp.zeros((stride * (x.shape[0] - 1) + w.shape[0], w.shape[2]), w.dtype)
    _, pullback = jax.vjp(lambda y: _conv(y, w, stride), signal)  # the convolution is linear: any point will do
    return pullback(x.astype(w.dtype))[0]


def by_gradient(x, w, stride: int) -> jnp.ndarray:
    """View 4: the vector-Jacobian product of the strided convolution, with ``x`` as cotangent."""
    x, w = deconv.check_signal_and_filters(x, w)
    stride = checks.positive_int("stride", stride)
    return _gradient(jnp.asarray(x), jnp.asarray(w), stride)


VIEWS = {"painting": by_painting, "dilated convolution": by_dilated_convolution,
         "matrix transpose": by_matrix_transpose, "gradient of a convolution": by_gradient}
"""The four views by name, in the order notebook 07 presents them."""


def output_padding_needed(n_signal: int, kernel: int, stride: int, padding: int = 0) -> int:
    """The ``output_padding`` that makes the transposed convolution rebuild ``n_signal`` positions."""
    deconv.conv_output_length(n_signal, kernel, stride, padding)  # validates
    return (n_signal + 2 * padding - kernel) % stride


def lax_padding(kernel: int, padding: int = 0, output_padding: int = 0) -> tuple[tuple[int, int]]:
    """PyTorch-style ``padding``/``output_padding`` as explicit ``lax.conv_transpose`` padding.

    ``lax.conv_transpose`` and Flax's ``nnx.ConvTranspose`` pad the zero-dilated
    input: ``kernel - 1`` on each side is the full ("VALID") output, and every
    position less crops one. So PyTorch's ``padding=p`` is
    ``((kernel-1-p, kernel-1-p+output_padding),)``.
    """
    kernel = checks.positive_int("kernel", kernel)
    padding = checks.non_negative_int("padding", padding)
    output_padding = checks.non_negative_int("output_padding", output_padding)
    return ((kernel - 1 - padding, kernel - 1 - padding + output_padding),)


def lax_length_mismatches(ns, kernels, strides) -> tuple[int, list[tuple]]:
    """Compare :func:`output_length` with ``jax.lax.conv_transpose`` on a grid of sizes.

    Every combination of ``n`` in ``ns``, ``kernel`` in ``kernels``, ``stride`` in
    ``strides``, every ``padding`` below the kernel and every ``output_padding``
    below the stride (skipping paddings that crop everything) is translated with
    :func:`lax_padding` and given to ``jax.eval_shape``, which returns the output
    shape without computing anything. Returns ``(checked, mismatches)``, each
    mismatch ``(n, kernel, stride, padding, output_padding, jax_length, formula)``.
    """
    ns, kernels = checks.int_sequence("ns", ns, minimum=1), checks.int_sequence("kernels", kernels, minimum=1)
    strides = checks.int_sequence("strides", strides, minimum=1)
    grid = {}
    for name, values in (("ns", ns), ("kernels", kernels), ("strides", strides)):
        values = list(values)
        if not values:
            raise ValueError(f"{name} must hold at least one size, got none")
        grid[name] = [checks.positive_int(name, v) for v in values]
    checked, mismatches = 0, []
    for n in grid["ns"]:
        for kernel in grid["kernels"]:
            for stride in grid["strides"]:
                for padding in range(kernel):
                    for output_padding in range(stride):
                        try:
                            expected = deconv.output_length(n, kernel, stride, padding, output_padding)
                        except ValueError:
                            continue  # padding crops the whole output
                        got = _lax_length(n, kernel, stride, lax_padding(kernel, padding, output_padding))
                        checked += 1
                        if got != expected:
                            mismatches.append((n, kernel, stride, padding, output_padding, got, expected))
    return checked, mismatches


def _lax_length(n: int, kernel: int, stride: int, padding) -> int:
    x = jax.ShapeDtypeStruct((1, n, 1), np.float32)  # shapes only: nothing is computed
    k = jax.ShapeDtypeStruct((kernel, 1, 1), np.float32)
    out = jax.eval_shape(lambda x, k: jax.lax.conv_transpose(x, k, (stride,), padding,
                                                             dimension_numbers=("NWC", "WIO", "NWC")), x, k)
    return out.shape[1]
