"""The exercise kit: a verdict for the student, and worked solutions on request.

Used by every notebook's exercise checks (:mod:`course_utils.part1.exercises` and the
Part II notebook modules). A check prints a short verdict (right, or what is wrong:
the shape, or how far off) and returns True (right), False (wrong) or None (not
attempted yet: the answer is still ``None``), so that an unattempted notebook still
runs top to bottom. A hint says what kind of answer is wanted, never the answer.

``solution(name, ...)`` prints the code of a worked solution and returns its answer.
The solutions compute the answer the way the exercise asks (by hand, from the
pieces it names), not by calling what the check compares against; every notebook
runs its solutions through its checks in its last cells, so CI proves each exercise
can be solved as stated.
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from . import checks

SOLUTIONS: dict[str, Callable] = {}
"""Worked solutions by exercise name (the check's name without ``check_``), from every imported notebook module."""


def solves(function: Callable) -> Callable:
    """Register ``solve_<name>`` as the worked solution of exercise ``<name>``."""
    SOLUTIONS[function.__name__.removeprefix("solve_")] = function
    return function


def solution(name: str, *args, show: bool = True, **kwargs):
    """Print the worked solution of exercise ``name`` (unless ``show=False``) and return its answer.

    Pass what the exercise's check takes besides the answer, e.g.
    ``solution("code_by_hand", best, patch)``. Try the exercise first!
    """
    if name not in SOLUTIONS:
        raise ValueError(f"name must be the name of an exercise, one of {sorted(SOLUTIONS)}; got {name!r}")
    function = SOLUTIONS[name]
    if show:
        print(inspect.getsource(function).split("\n", 1)[1])  # without the @solves line
    return function(*args, **kwargs)


def verdict(answer, expected, *, what: str, atol: float = 1e-5, rtol: float = 1e-4):
    """Compare the student's ``answer`` with ``expected``: print a verdict, return True, False or None.

    ``atol`` and ``rtol`` are the absolute and relative tolerances of ``np.allclose``.
    """
    atol, rtol = checks.non_negative_float("atol", atol), checks.non_negative_float("rtol", rtol)
    if answer is None:
        print(f"Not attempted yet: replace None with {what}.")
        return None
    try:
        got = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        print(f"Expected {what}, got {type(answer).__name__}.")
        return False
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        print(f"Not quite: expected shape {expected.shape}, got {got.shape}.")
        return False
    if not np.allclose(got, expected, atol=atol, rtol=rtol):
        worst = np.abs(got - expected).max()
        print(f"Not quite: off by up to {worst:.3g}. Try again.")
        return False
    print("Correct!")
    return True


def verdict_on_function(answer_function, reference: Callable, inputs, *, what: str, hint: Callable | None = None,
                        rtol: float = 1e-4, atol: float = 1e-6):
    """Check a student's function against ``reference`` on each of ``inputs``: True, False or None.

    Each input is an array, or a tuple of arrays passed as separate arguments
    (``f(*input)``). Prints what differs: an error it raised, a wrong shape, or the
    largest difference, followed by ``hint(got, expected)`` when given (a sentence,
    or "" for none). Any implementation that returns the right numbers passes.
    """
    if answer_function is None:
        print(f"Not attempted yet: replace None with your function {what}.")
        return None
    if not callable(answer_function):
        print(f"Expected a function, got {type(answer_function).__name__}.")
        return False
    for x in inputs:
        args = x if isinstance(x, tuple) else (x,)
        shapes = " and ".join(str(np.shape(a)) for a in args)
        expected = np.asarray(reference(*args), np.float64)
        try:
            got = np.asarray(answer_function(*args), np.float64)
        except Exception as err:  # a student's function may fail in any way: say how
            print(f"Your function raised {type(err).__name__} on inputs of shape {shapes}: {err}")
            return False
        if got.shape != expected.shape:
            print(f"Not quite: for inputs of shape {shapes} expected shape {expected.shape}, got {got.shape}.")
            return False
        if not np.allclose(got, expected, rtol=rtol, atol=atol):
            extra = hint(got, expected) if hint else ""
            print(f"Not quite: off by up to {np.abs(got - expected).max():.3g} for inputs of shape {shapes}."
                  + (f" {extra}" if extra else ""))
            return False
    print("Correct!")
    return True
