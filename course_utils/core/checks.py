"""Argument checks shared by the public functions of ``course_utils``.

Each check raises a ``TypeError`` or ``ValueError`` that names the argument,
says what was expected and shows what was given, so that a student sees a
sentence instead of a deep JAX traceback.
"""

from __future__ import annotations

import numbers

import jax
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


def non_negative_float(name: str, value) -> float:
    """Return ``value`` as a ``float`` if it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return float(value)


def array(name: str, value, *, ndim: int, shape_hint: str):
    """Return ``value`` as a float array with ``ndim`` dimensions.

    ``shape_hint`` is the expected shape in words, e.g. ``"(length, channels)"``.
    JAX arrays (also inside ``jit``) keep their type, so that functions stay
    traceable; anything else becomes a float32 NumPy array.
    """
    if isinstance(value, jax.Array):
        arr = value
    else:
        try:
            arr = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} must be an array of numbers with shape {shape_hint}, got {type(value).__name__}"
            ) from err
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape_hint} ({ndim} dimensions), got shape {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if isinstance(arr, np.ndarray) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers (no NaN or inf)")
    return arr


def one_of(name: str, value, options) -> str:
    """Return ``value`` if it is one of ``options`` (strings)."""
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value
