"""Check functions for the exercises at the end of each notebook.

Used by notebooks 01 and 02. Each check prints a short verdict for the student
and returns True (right), False (wrong) or None (not attempted yet: the answer is
still ``None``), so that an unattempted notebook still runs top to bottom.
"""

from __future__ import annotations

import numpy as np

from . import data, deconv


def _verdict(answer, expected, *, what: str, atol: float = 1e-5):
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
    if not np.allclose(got, expected, atol=atol, rtol=1e-4):
        worst = np.abs(got - expected).max()
        print(f"Not quite: off by up to {worst:.3g}. Try again.")
        return False
    print("Correct!")
    return True


# --- notebook 01 ----------------------------------------------------------------

def check_curve_from_basis(answer):
    """Exercise: the curve for p1=0.3, p2=-0.5, built from ``data.basis()``."""
    return _verdict(answer, data.curves_from_parameters(0.3, -0.5)[0],
                    what="a 15-vector: 0.3*a - 0.5*b")


def check_windows_covering(answer):
    """Exercise: how many decoder windows cover each of the 15 positions."""
    return _verdict(answer, deconv.overlap_counts(3, data.PATCH, data.STRIDE),
                    what="15 integers, one per position")


def check_max_abs_y(answer):
    """Exercise: the largest |y| any curve of the family can reach."""
    return _verdict(answer, 0.75, what="one number (hint: p1 = p2 = 1 and the curve's middle)", atol=1e-2)


# --- notebook 02 ----------------------------------------------------------------

def check_code_by_hand(answer, model, patch):
    """Exercise: the 3-number code of ``patch`` computed from the encoder's weights."""
    expected = np.asarray(model.encode(np.asarray(patch, np.float32)[None]))[0, 0]
    return _verdict(answer, expected, what="3 numbers: tanh(patch @ filters + bias)")


def check_sum_of_filters(answer, model, code):
    """Exercise: the decoder's output for ``code`` as a sum of scaled filters plus bias."""
    expected = np.asarray(model.decode(np.asarray(code, np.float32).reshape(1, 1, 3)))[0]
    return _verdict(answer, expected, what="7 numbers: filters @ code + bias")
