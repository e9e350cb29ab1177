"""The patch autoencoder as Flax NNX modules.

Used by notebooks 02-06 and 08 (the tied-weights autoencoder).

Encoder: ``Conv(1 -> 3 channels, kernel 7, stride 4)`` then tanh.
Decoder: ``ConvTranspose(3 -> 1 channel, kernel 7, stride 4)``, no activation.
On a 7-point patch the code is 3 numbers; on a 15-point curve it is a 3x3 matrix
(3 positions x 3 channels) and the decoder's windows start at 0, 4 and 8.

Kernel orientation (checked in ``tests/test_models.py``): Flax's ``nnx.ConvTranspose``
with its default ``transpose_kernel=False`` paints its kernel *flipped* (it runs an
ordinary correlation over the zero-dilated input, so output position ``s*i + m``
receives tap ``k-1-m``). With ``transpose_kernel=True`` the kernel, of shape
``(kernel, out_channels, in_channels)``, is painted as stored, and the layer is
exactly the adjoint of an ``nnx.Conv`` with the same kernel. The decoder uses
``transpose_kernel=True``, so ``decoder.filters()[:, c]`` is literally the shape
that code component ``c`` adds to the output, and the decoder equals
:func:`course_utils.core.deconv.conv_transpose_1d` plus the bias. Padding is
``'VALID'``: output length ``stride*(n-1) + kernel`` (7 for one code, 15 for three).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx

from ..core import checks
from . import data
from .losses import ReconstructionLoss

KERNEL = data.PATCH  # the model's window is one patch: the geometry lives in part1.data
STRIDE = data.STRIDE
CODE_SIZE = 3
CODE_NAMES = tuple(f"c{i + 1}" for i in range(CODE_SIZE))
"""The code components' names in figures and explorers: c1, c2, c3."""

ACTIVATIONS: dict[str, Callable] = {"tanh": jnp.tanh, "relu": jax.nn.relu, "linear": lambda z: z}


def _check_patch_signals(name: str, x):
    if not hasattr(x, "ndim") or x.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, length), got {getattr(x, 'shape', type(x).__name__)}")
    if x.shape[1] < KERNEL or (x.shape[1] - KERNEL) % STRIDE:
        raise ValueError(
            f"{name} length must be {KERNEL} + {STRIDE}*k (7, 11, 15, ...) so the windows tile it, got {x.shape[1]}"
        )


class PatchEncoder(nnx.Module):
    """Conv(1 -> 3, kernel 7, stride 4) and an activation (tanh by default).

    ``encoder(x)`` maps signals (batch, length) to codes (batch, positions, 3).
    """

    def __init__(self, *, rngs: nnx.Rngs, activation: str = "tanh"):
        checks.rngs("rngs", rngs)
        self.activation = checks.one_of("activation", activation, set(ACTIVATIONS))
        self.conv = nnx.Conv(1, CODE_SIZE, kernel_size=(KERNEL,), strides=(STRIDE,), padding="VALID", rngs=rngs)

    def filters(self) -> jax.Array:
        """The encoder filters as (7, 3): column c is dotted with the input window."""
        return self.conv.kernel[...][:, 0, :]

    def __call__(self, x: jax.Array) -> jax.Array:
        _check_patch_signals("x", x)
        return ACTIVATIONS[self.activation](self.conv(x[..., None]))


class PatchDecoder(nnx.Module):
    """ConvTranspose(3 -> 1, kernel 7, stride 4), no activation.

    ``decoder(code)`` maps codes (batch, positions, 3) to signals
    (batch, 4*(positions-1) + 7).
    """

    def __init__(self, *, rngs: nnx.Rngs):
        checks.rngs("rngs", rngs)
        self.deconv = nnx.ConvTranspose(
            CODE_SIZE, 1, kernel_size=(KERNEL,), strides=(STRIDE,), padding="VALID", transpose_kernel=True, rngs=rngs
        )

    def filters(self) -> jax.Array:
        """The decoder filters as (7, 3): column c is painted, scaled by code[c]."""
        return self.deconv.kernel[...][:, 0, :]

    def bias(self) -> jax.Array:
        """The single output bias, added at every output position."""
        return self.deconv.bias[...][0]

    def __call__(self, code: jax.Array) -> jax.Array:
        if not hasattr(code, "ndim") or code.ndim != 3 or code.shape[2] != CODE_SIZE:
            raise ValueError(
                f"code must have shape (batch, positions, {CODE_SIZE}), got {getattr(code, 'shape', type(code).__name__)}"
            )
        return self.deconv(code)[..., 0]


class PatchAutoencoder(nnx.Module):
    """Encoder and decoder; ``model(x)`` reconstructs signals of shape (batch, length)."""

    default_loss = ReconstructionLoss()
    """What ``training.train`` minimises when no loss is given: the mean squared reconstruction error."""

    def __init__(self, *, rngs: nnx.Rngs, activation: str = "tanh"):
        checks.rngs("rngs", rngs)
        self.encoder = PatchEncoder(rngs=rngs, activation=activation)
        self.decoder = PatchDecoder(rngs=rngs)

    def encode(self, x: jax.Array) -> jax.Array:
        return self.encoder(x)

    def decode(self, code: jax.Array) -> jax.Array:
        return self.decoder(code)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.decode(self.encode(x))


class TiedPatchAutoencoder(nnx.Module):
    """The patch autoencoder with tied weights: the decoder paints with the encoder's own kernel.

    Used by notebook 08. The encoder is a :class:`PatchEncoder` (Conv(1 -> 3, kernel 7,
    stride 4) and an activation, tanh by default); the decoder is the transposed
    convolution with that same kernel (``transpose_kernel=True``, so it is exactly the
    adjoint of the encoder's convolution: the transpose of its matrix) plus one bias of
    its own. Only the encoder's kernel is a weight of the decoder.
    """

    default_loss = ReconstructionLoss()

    def __init__(self, *, rngs: nnx.Rngs, activation: str = "tanh"):
        checks.rngs("rngs", rngs)
        self.encoder = PatchEncoder(rngs=rngs, activation=activation)
        self.decoder_bias = nnx.Param(jnp.zeros((1,)))

    def decoder_filters(self) -> jax.Array:
        """The decoder filters as (7, 3): the encoder's filters, by construction."""
        return self.encoder.filters()

    def encode(self, x: jax.Array) -> jax.Array:
        return self.encoder(x)

    def decode(self, code: jax.Array) -> jax.Array:
        if not hasattr(code, "ndim") or code.ndim != 3 or code.shape[2] != CODE_SIZE:
            raise ValueError(
                f"code must have shape (batch, positions, {CODE_SIZE}), got {getattr(code, 'shape', type(code).__name__)}"
            )
        # The Conv kernel is (kernel, 1 signal channel, 3 code channels): read with transpose_kernel=True as
        # (kernel, out=1, in=3), the layout nnx.ConvTranspose(transpose_kernel=True) stores.
        painted = jax.lax.conv_transpose(code, self.encoder.conv.kernel[...], (STRIDE,), "VALID",
                                         dimension_numbers=("NWC", "WIO", "NWC"), transpose_kernel=True)
        return painted[..., 0] + self.decoder_bias[...][0]

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.decode(self.encode(x))
