"""Check functions and worked solutions for the exercises of Part I (notebooks 01-07).

See :mod:`course_utils.core.exercise` for what a check prints and returns. The
exercises of Part II sit in each notebook's own module (``vae_lesson`` and so on).
"""

from __future__ import annotations

import numpy as np

from ..core import deconv
from ..core.exercise import solution, solves, verdict  # noqa: F401  (notebooks call exercises.solution)
from . import analysis, data, full_curve




# --- notebook 01 ----------------------------------------------------------------

def check_curve_from_basis(answer):
    """Exercise: the curve for p1=0.3, p2=-0.5, built from ``data.basis()``."""
    return verdict(answer, data.curves_from_parameters(0.3, -0.5)[0],
                   what="a 15-vector built from a and b")


@solves
def solve_curve_from_basis():
    a, b = data.basis()  # every curve is p1*a + p2*b
    return 0.3 * a - 0.5 * b


def check_windows_covering(answer):
    """Exercise: how many decoder windows cover each of the 15 positions."""
    return verdict(answer, deconv.overlap_counts(3, data.PATCH, data.STRIDE),
                   what="15 integers, one per position")


@solves
def solve_windows_covering():
    counts = np.zeros(15, int)
    for start in (0, 4, 8):
        counts[start:start + 7] += 1  # each window covers 7 positions
    return counts


def check_max_abs_y(answer):
    """Exercise: the largest |y| any curve of the family can reach."""
    return verdict(answer, 0.75, what="one number (hint: p1 = p2 = 1 and the curve's middle)", atol=1e-2)


@solves
def solve_max_abs_y():
    # |y| is largest when both control heights are +-1 and equal: y(t) = 3t(1-t) there,
    # whose maximum, at t = 1/2, is 3/4.
    t = np.linspace(0, 1, 10001)
    return float((3 * (1 - t) ** 2 * t + 3 * (1 - t) * t**2).max())


# --- notebook 02 ----------------------------------------------------------------

def check_code_by_hand(answer, model, patch):
    """Exercise: the 3-number code of ``patch`` computed from the encoder's weights."""
    expected = np.asarray(model.encode(np.asarray(patch, np.float32)[None]))[0, 0]
    return verdict(answer, expected, what="3 numbers, one per filter")


@solves
def solve_code_by_hand(model, patch):
    filters = np.asarray(model.encoder.filters())  # (7 taps, 3 filters)
    bias = np.asarray(model.encoder.conv.bias[...])
    return np.tanh(np.asarray(patch) @ filters + bias)  # one dot product per filter


def check_sum_of_filters(answer, model, code):
    """Exercise: the decoder's output for ``code`` as a sum of scaled filters plus bias."""
    expected = np.asarray(model.decode(np.asarray(code, np.float32).reshape(1, 1, 3)))[0]
    return verdict(answer, expected, what="7 numbers, one per position of the patch")


@solves
def solve_sum_of_filters(model, code):
    filters = np.asarray(model.decoder.filters())  # (7 taps, 3 filters)
    return sum(code[c] * filters[:, c] for c in range(3)) + float(model.decoder.bias())


# --- notebook 03 ----------------------------------------------------------------

def check_output_change(answer, model):
    """Exercise: how much the output at position 3 moves when c2 grows by 0.1."""
    return verdict(answer, 0.1 * float(model.decoder.filters()[3, 1]),
                   what="one number (the change of the output, not its new value)")


@solves
def solve_output_change(model):
    filters = np.asarray(model.decoder.filters())
    return 0.1 * filters[3, 1]  # the output is linear in the code: only filter 2's tap 3 moves it


def check_code_for_target(answer, model, target):
    """Exercise: a code whose decoded output matches ``target`` (7 points) as well as possible."""
    filters = np.asarray(model.decoder.filters(), np.float64)
    best, *_ = np.linalg.lstsq(filters, np.asarray(target, np.float64) - float(model.decoder.bias()), rcond=None)
    return verdict(answer, best, what="3 numbers (hint: least squares, np.linalg.lstsq)", atol=1e-3)


@solves
def solve_code_for_target(model, target):
    filters = np.asarray(model.decoder.filters(), np.float64)
    code, *_ = np.linalg.lstsq(filters, np.asarray(target) - float(model.decoder.bias()), rcond=None)
    return code


# --- notebook 04 ----------------------------------------------------------------

def check_effective_noise(answer):
    """Exercise: the standard deviations that cumulative slicing really applies."""
    return verdict(answer, [0.1, 0.1 * 0.01, 0.1 * 0.01 * 0.001], what="3 numbers, one per code component",
                    atol=1e-9)


@solves
def solve_effective_noise():
    std = np.ones(3)
    std[0:] *= 0.1  # every slice starts at its index and runs to the end,
    std[1:] *= 0.01  # so later components are scaled again and again
    std[2:] *= 0.001
    return std


def check_most_important_component(answer, ablation_row):
    """Exercise: which component (1, 2 or 3) costs most when zeroed, from an ablation row."""
    return verdict(answer, int(np.argmax(np.asarray(ablation_row)[1:])) + 1, what="1, 2 or 3", atol=0)


@solves
def solve_most_important_component(ablation_row):
    costs = {component: ablation_row[component] for component in (1, 2, 3)}  # entry 0 keeps all
    return max(costs, key=costs.get)


# --- notebook 05 ----------------------------------------------------------------

def check_roughness(answer, filt):
    """Exercise: the mean squared second difference of a filter scaled to unit length.

    The question asks for 3 significant figures: rounding to 3 figures moves a number
    by at most half a unit in its third figure, under 0.5 % of it, so ``rtol`` is 0.5 %.
    """
    expected = analysis.roughness(np.asarray(filt, np.float64)[:, None])[0]
    return verdict(answer, expected, what="one number (3 significant figures are enough)", rtol=5e-3)


@solves
def solve_roughness(filt):
    unit = np.asarray(filt) / np.linalg.norm(filt)
    return float((np.diff(unit, n=2) ** 2).mean())


# --- notebook 06 ----------------------------------------------------------------

def check_taper_coverage(answer):
    """Exercise: the total taper weight each of the 15 positions receives."""
    return verdict(answer, full_curve.coverage("taper"), what="15 numbers")


@solves
def solve_taper_coverage():
    taper = 1 - np.abs(np.arange(7) - 3) / 4
    total = np.zeros(15)
    for start in (0, 4, 8):
        total[start:start + 7] += taper
    return total


# --- notebook 07 ----------------------------------------------------------------

def check_output_length(answer, n_inputs, kernel, stride, padding=0, output_padding=0):
    """Exercise: the output length of a transposed convolution."""
    return verdict(answer, deconv.output_length(n_inputs, kernel, stride, padding, output_padding),
                   what="one integer", atol=0)


@solves
def solve_output_length(n_inputs, kernel, stride, padding=0, output_padding=0):
    full = stride * (n_inputs - 1) + kernel  # every window painted
    return full - 2 * padding + output_padding  # padding crops both ends
