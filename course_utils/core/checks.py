"""Argument checks shared by the public functions of ``course_utils``.

Each check raises a ``TypeError`` or ``ValueError`` that names the argument,
says what was expected and shows what was given, so that a student sees a
sentence instead of a deep JAX traceback.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np


def positive_int(name: str, value, *, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= ``minimum`` (at least 1)."""
    if minimum < 1:
        raise ValueError(f"positive_int needs a minimum >= 1 (use non_negative_int for 0), got {minimum}")
    return _integer_at_least(name, value, minimum)


def non_negative_int(name: str, value) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 0 (a seed, an index, a count that may be 0)."""
    return _integer_at_least(name, value, 0)


def _integer_at_least(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def int_sequence(name: str, value, *, minimum: int = 0) -> tuple[int, ...]:
    """Return ``value`` as a tuple of ints >= ``minimum`` if it is a sequence of integers (a list, a range)."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a sequence of integers, e.g. [0, 1] or range(3), got {value!r} "
                        f"({type(value).__name__})")
    return tuple(_integer_at_least(f"{name}[{i}]", v, minimum) for i, v in enumerate(value))


def number(name: str, value) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number (any sign)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return float(value)


def positive_float(name: str, value) -> float:
    """Return ``value`` as a ``float`` if it is a finite number > 0."""
    value = number(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be a number > 0, got {value}")
    return value


def axes(name: str, value):
    """Return ``value`` if it is a matplotlib ``Axes`` (one panel of a figure, e.g. from ``plt.subplots()``)."""
    from matplotlib.axes import Axes  # imported here: the maths modules need no matplotlib

    if not isinstance(value, Axes):
        raise TypeError(f"{name} must be a matplotlib Axes, e.g. from fig, {name} = plt.subplots(), "
                        f"got {type(value).__name__}")
    return value


def mapping(name: str, value, *, what: str) -> dict:
    """Return ``value`` if it is a non-empty dict (``what`` says what it maps, e.g. "names to arrays")."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict of {what}, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must hold at least one entry ({what}), got an empty dict")
    return value


def non_negative_float(name: str, value) -> float:
    """Return ``value`` as a ``float`` if it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def array(name: str, value, *, ndim: int, shape_hint: str, dtype=np.float32):
    """Return ``value`` as a float array with ``ndim`` dimensions, all of it finite.

    ``shape_hint`` is the expected shape in words, e.g. ``"(length, channels)"``.
    NumPy and JAX inputs get the same checks: NaN or infinity is refused, and
    integers and booleans become floats. A NumPy input (or a list) becomes ``dtype``
    (float32 by default; ``dtype=None`` keeps a floating input's own precision and
    makes other numbers float64). A JAX array keeps its type (so that functions stay
    traceable); inside ``jit`` its values are unknown, so only its shape is checked.
    """
    if isinstance(value, jax.Array):
        arr = value if jnp.issubdtype(value.dtype, jnp.floating) else value.astype(jnp.float32)
    else:
        try:
            arr = np.asarray(value)
            if dtype is not None:
                arr = arr.astype(dtype, copy=False)
            elif not np.issubdtype(arr.dtype, np.floating):
                arr = arr.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} must be an array of numbers with shape {shape_hint}, got {type(value).__name__}"
            ) from err
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape_hint} ({ndim} dimensions), got shape {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not isinstance(arr, jax.core.Tracer) and not bool(np.all(np.isfinite(arr))):
        raise ValueError(f"{name} must contain only finite numbers (no NaN or inf)")
    return arr


def indices(name: str, value, *, size: int, what: str = "index"):
    """Return ``value`` (an int or an array of ints) if every entry is an integer in ``0..size-1``.

    Floats are refused, not truncated (1.7 is not class 1). A traced JAX array (inside
    ``jit``) is checked for its dtype only: its values are not known yet.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values = np.asarray([value])
    elif isinstance(value, jax.core.Tracer):
        if not jnp.issubdtype(value.dtype, jnp.integer):
            raise TypeError(f"{name} must hold integers ({what} numbers), got dtype {value.dtype}")
        return value
    else:
        values = np.asarray(value)
        if values.dtype == bool or not np.issubdtype(values.dtype, np.integer):
            raise TypeError(f"{name} must hold integers ({what} numbers 0..{size - 1}), got {value!r}")
    if values.size and (values.min() < 0 or values.max() >= size):
        bad = values[(values < 0) | (values >= size)].ravel()[0]
        raise ValueError(f"{name} must hold {what} numbers in 0..{size - 1}, got {int(bad)}")
    return value


def model_with(name: str, model, methods: tuple[str, ...], examples: str):
    """Return ``model`` if it has every method in ``methods``; else a ``TypeError`` naming the course models that do.

    Checked before anything is compiled, so a wrong model fails at once with a sentence.
    """
    missing = [m for m in methods if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"{name} must be a model with {', '.join(m + '()' for m in methods)} (for example "
                        f"{examples}), got {type(model).__name__}, which has no {', '.join(missing)}")
    return model


def rngs(name: str, value):
    """Return ``value`` if it is an ``nnx.Rngs`` (what every Flax NNX model takes to draw its weights)."""
    from flax import nnx  # imported here: checks is imported by modules that need no Flax

    if not isinstance(value, nnx.Rngs):
        raise TypeError(f"{name} must be an nnx.Rngs, e.g. {name}=nnx.Rngs(0) (from flax import nnx), "
                        f"got {value!r} ({type(value).__name__})")
    return value


def one_of(name: str, value, options) -> str:
    """Return ``value`` if it is one of ``options`` (strings)."""
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value
