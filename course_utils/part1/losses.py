"""The autoencoder loss of Part I: reconstruction error, optionally with input and code noise.

Used by notebooks 02-07 (and 08's linear autoencoders). :class:`ReconstructionLoss`
is the loss :func:`course_utils.core.training.train` uses for the patch
autoencoder when no other is given (``PatchAutoencoder.default_loss``);
:func:`reconstruction_mse` measures every trained seed on held-out data.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..core import checks
from ..core.training import TrainResult


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ReconstructionLoss:
    """Weighted mean squared error of ``model.decode(model.encode(x))`` against ``x``.

    Made by :func:`reconstruction_loss`. Its noise levels and weights are arrays that
    a compiled run takes as inputs, so runs that differ only in their values
    (notebook 04's noise variants, notebook 06's border weights) share one program;
    a field that is ``None`` (that kind of noise not drawn at all) changes the program.
    """

    code_noise: Any = None
    """Standard deviation of the Gaussian noise added to each code component (last axis)."""
    input_noise: Any = None
    """Standard deviation of the Gaussian noise added to every input value."""
    weights: Any = None
    """Weight of each output position (None: all equal)."""

    def __call__(self, model, batch, key):
        x = batch
        input_key, code_key = jax.random.split(key)
        if self.input_noise is not None:
            x = x + self.input_noise * jax.random.normal(input_key, x.shape)
        code = model.encode(x)
        if self.code_noise is not None:
            if code.shape[-1] != self.code_noise.shape[0]:
                raise ValueError(f"code_noise gives {self.code_noise.shape[0]} standard deviations but the code has "
                                 f"{code.shape[-1]} components (code shape {code.shape[1:]})")
            code = code + self.code_noise * jax.random.normal(code_key, code.shape)
        error = (model.decode(code) - batch) ** 2
        if self.weights is None:
            return error.mean()
        if self.weights.shape[0] != error.shape[-1]:
            raise ValueError(f"weights must give one weight per output position ({error.shape[-1]}), "
                             f"got {self.weights.shape[0]}")
        return (error * self.weights).sum(axis=-1).mean() / self.weights.sum()


def reconstruction_loss(*, code_noise: Sequence[float] | None = None, input_noise: float = 0.0,
                        weights: Sequence[float] | None = None) -> ReconstructionLoss:
    """The autoencoder loss of notebooks 02-07: MSE, optionally with input and code noise.

    ``code_noise`` gives one standard deviation per code component (notebook 04),
    ``input_noise`` one for every input value (notebook 05), ``weights`` one weight
    per output position (notebook 06).
    """
    if code_noise is not None:
        if isinstance(code_noise, (numbers.Real, str)):
            raise TypeError(f"code_noise must give one standard deviation per code component, e.g. (0.1, 0.01, 0.001), "
                            f"got {code_noise!r}")
        code_noise = np.asarray([checks.non_negative_float(f"code_noise[{i}]", s) for i, s in enumerate(code_noise)],
                                np.float32)
        if code_noise.size == 0:
            raise ValueError("code_noise must give one standard deviation per code component, got none")
    input_noise = checks.non_negative_float("input_noise", input_noise)
    if weights is not None:
        weights = np.asarray([checks.non_negative_float(f"weights[{i}]", w) for i, w in enumerate(weights)],
                             np.float32)
        if weights.sum() == 0:
            raise ValueError("weights must not all be 0")
    return ReconstructionLoss(code_noise, np.float32(input_noise) if input_noise else None, weights)



def reconstruction_mse(result: TrainResult, data) -> np.ndarray:
    """Mean squared reconstruction error of every seed on ``data``: shape (seeds,)."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult from train(), got {type(result).__name__}")
    checks.model_with("result's model", nnx.merge(result.graphdef, *result.params, result.other_state),
                      ("encode", "decode"), "models.PatchAutoencoder")
    data = jnp.asarray(checks.array("data", data, ndim=2, shape_hint="(n_examples, length)"))
    return np.asarray(_errors_per_seed(result.graphdef, result.params, result.other_state, data))


@functools.partial(jax.jit, static_argnums=0)
def _errors_per_seed(graphdef, params, other, data):
    """Reconstruction MSE of every seed, one seed after another in one compiled program."""
    return jax.lax.map(lambda ps: ((nnx.merge(graphdef, *ps[0], ps[1])(data) - data) ** 2).mean(), (params, other))
