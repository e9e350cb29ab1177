"""Check functions for the exercises at the end of each notebook.

Used by notebooks 01-07. Each check prints a short verdict for the student
and returns True (right), False (wrong) or None (not attempted yet: the answer is
still ``None``), so that an unattempted notebook still runs top to bottom.
"""

from __future__ import annotations

import numpy as np

from . import analysis, data, deconv, full_curve, views


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


# --- notebook 03 ----------------------------------------------------------------

def check_output_change(answer, model):
    """Exercise: how much the output at tap 3 moves when c2 grows by 0.1."""
    return _verdict(answer, 0.1 * float(model.decoder.filters()[3, 1]),
                    what="one number: 0.1 times tap 3 of filter 2")


def check_code_for_target(answer, model, target):
    """Exercise: a code whose decoded output matches ``target`` (7 points) as well as possible."""
    filters = np.asarray(model.decoder.filters(), np.float64)
    best, *_ = np.linalg.lstsq(filters, np.asarray(target, np.float64) - float(model.decoder.bias()), rcond=None)
    return _verdict(answer, best, what="3 numbers (hint: least squares, np.linalg.lstsq)", atol=1e-3)


# --- notebook 04 ----------------------------------------------------------------

def check_effective_noise(answer):
    """Exercise: the standard deviations that cumulative slicing really applies."""
    return _verdict(answer, [0.1, 0.1 * 0.01, 0.1 * 0.01 * 0.001], what="3 numbers, one per code component",
                    atol=1e-9)


def check_most_important_component(answer, ablation_row):
    """Exercise: which component (1, 2 or 3) costs most when zeroed, from an ablation row."""
    return _verdict(answer, int(np.argmax(np.asarray(ablation_row)[1:])) + 1, what="1, 2 or 3", atol=0)


# --- notebook 05 ----------------------------------------------------------------

def check_roughness(answer, filt):
    """Exercise: the mean squared second difference of a filter scaled to unit length."""
    expected = analysis.roughness(np.asarray(filt, np.float64)[:, None])[0]
    return _verdict(answer, expected, what="one number")


# --- notebook 06 ----------------------------------------------------------------

def check_taper_coverage(answer):
    """Exercise: the total taper weight each of the 15 positions receives."""
    return _verdict(answer, full_curve.coverage("taper"), what="15 numbers")


# --- notebook 07 ----------------------------------------------------------------

def check_output_length(answer, n_inputs, kernel, stride, padding=0, output_padding=0):
    """Exercise: the output length of a transposed convolution."""
    return _verdict(answer, views.output_length(n_inputs, kernel, stride, padding, output_padding),
                    what="one integer", atol=0)
