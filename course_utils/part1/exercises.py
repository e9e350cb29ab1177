"""Check functions and worked solutions for the exercises of Part I (notebooks 01-07).

See :mod:`course_utils.core.exercise` for what a check prints and returns. The
exercises of Part II sit in each notebook's own module (``vae_lesson`` and so on).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..core import deconv
from ..core.exercise import solution, solves, verdict, verdict_on_function  # noqa: F401  (notebooks call solution)
from . import analysis, data, full_curve, models




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


def _curves_hint(got, expected) -> str:
    a, b = data.basis()
    p, *_ = np.linalg.lstsq(np.column_stack([a, b]), expected.T, rcond=None)  # each expected curve's (p1, p2)
    t = np.linspace(0, 1, data.N_POINTS)
    if np.allclose(got, (np.column_stack([b, a]) @ p).T, atol=1e-5):
        return "p1 and p2 swapped: P1's weight is 3t(1-t)^2, P2's is 3t^2(1-t)."
    if np.allclose(got, np.outer(p[0], 3 * (1 - t) ** 2 * t) + np.outer(p[1], 3 * (1 - t) * t**2), atol=1e-5):
        return ("Resample in x, not in t: x(t) = 1.5t(1-t) + t^3 is not t, so for each of the 15 x-positions "
                "data.X keep the dense point (150 values of t from 0 to 1) whose x is nearest.")
    return ("Draw the curve densely (150 values of t) with the weights 3t(1-t)^2 of p1 and 3t^2(1-t) of p2, then "
            "keep, for each of the 15 x-positions data.X, the dense point whose x is nearest.")


def check_curves_from_parameters(answer_function):
    """Exercise: write the curves (n, 15) for control heights p1, p2 (n,), checked on random heights."""
    rng = np.random.default_rng(1)
    inputs = [(rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)) for n in (1, 7, 50)]
    inputs.append((np.array([1.0, -1.0, 1.0, -1.0]), np.array([1.0, 1.0, -1.0, -1.0])))  # the corners
    # At x = 0.5 two dense points tie and float rounding picks one; they differ by up to 0.0101 (slope 1.5, dt 1/149).
    return verdict_on_function(answer_function, data.curves_from_parameters, inputs,
                               what="curves_from_parameters(p1, p2)", hint=_curves_hint, rtol=0, atol=0.015)


@solves
def solve_curves_from_parameters():
    def curves_from_parameters(p1, p2):
        t = np.linspace(0, 1, 150)  # the dense drawing
        x = 3 * (1 - t) ** 2 * t * 0.5 + 3 * (1 - t) * t**2 * 0.5 + t**3  # P1, P2 at x = 0.5, P3 at x = 1
        y = np.outer(p1, 3 * (1 - t) ** 2 * t) + np.outer(p2, 3 * (1 - t) * t**2)  # P0, P3 have height 0
        nearest = np.abs(x[None, :] - np.linspace(0, 1, 15)[:, None]).argmin(axis=1)  # one t per x-position
        return y[:, nearest]

    return curves_from_parameters


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


def _encoder_reference(signals, filters, bias):
    """The course's encoder (``models.PatchEncoder``) with the given weights."""
    encoder = models.PatchEncoder(rngs=nnx.Rngs(0))
    encoder.conv.kernel[...] = jnp.asarray(filters, jnp.float32)[:, None, :]  # (7 taps, 1 input channel, 3)
    encoder.conv.bias[...] = jnp.asarray(bias, jnp.float32)
    return encoder(jnp.asarray(signals, jnp.float32))


def _encode_hint(got, expected) -> str:
    if np.allclose(np.tanh(got), expected, atol=1e-5):
        return "Apply tanh: each code value is tanh(window . filter + bias)."
    shift = np.arctanh(np.clip(got, -1 + 1e-9, 1 - 1e-9)) - np.arctanh(expected)  # the error before tanh
    rows = shift.reshape(-1, 3)  # one row per window of every signal
    if len(rows) > 1 and np.allclose(rows, rows[0], atol=1e-4):
        return "Every code value of a filter is off by one constant: add its bias (one per filter) before tanh."
    return "Window i reads positions 4i .. 4i+6, and tap m multiplies position 4i + m (the filter is not flipped)."


def check_encode(answer_function):
    """Exercise: write the encoder, signals (n, 7 + 4k) -> codes (n, k + 1, 3), checked on random weights."""
    rng = np.random.default_rng(2)
    inputs = [(rng.uniform(-0.75, 0.75, (n, 7 + 4 * k)), rng.normal(0, 0.5, (7, 3)), rng.normal(0, 0.1, 3))
              for n, k in [(3, 3), (5, 2), (1, 0), (20, 1)]]  # k + 1 != 3 first: a transposed code shows as a shape
    return verdict_on_function(answer_function, _encoder_reference, inputs, what="encode(signals, filters, bias)",
                               hint=_encode_hint)


@solves
def solve_encode():
    def encode(signals, filters, bias):
        starts = range(0, signals.shape[1] - 6, 4)  # windows at 0, 4, 8, ...
        windows = np.stack([signals[:, s:s + 7] for s in starts], axis=1)  # (n, positions, 7)
        return np.tanh(windows @ filters + bias)  # one dot product per filter, plus its bias, squashed

    return encode


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


def _decode_reference(code, filters, bias):
    return np.asarray(deconv.conv_transpose_1d(code, np.asarray(filters)[:, :, None], data.STRIDE))[:, 0] + bias


def _decode_hint(got, expected) -> str:
    error = got - expected
    if np.allclose(error, error.flat[0], atol=1e-5):
        return "Off by the same amount everywhere: add the bias once, at every output position."
    counts = np.asarray(deconv.overlap_counts((len(expected) - 7) // data.STRIDE + 1, 7, data.STRIDE))
    if counts.max() > 1 and np.allclose(error, error[np.argmax(counts)] * (counts - 1) / (counts.max() - 1),
                                        atol=1e-5):
        return "Add the bias once per output position, not once per window: where windows overlap it piles up."
    return ("Window i paints its scaled filters at positions 4i .. 4i+6 (tap m at 4i + m, not flipped), and "
            "where windows overlap the paint adds up.")


def check_decode(answer_function):
    """Exercise: write the decoder, code (positions, 3) -> output (4*(positions-1) + 7,), on random weights."""
    rng = np.random.default_rng(3)
    inputs = [(rng.uniform(-1, 1, (positions, 3)), rng.normal(0, 0.5, (7, 3)), rng.normal(0, 0.1))
              for positions in (3, 1, 2, 4)]
    return verdict_on_function(answer_function, _decode_reference, inputs, what="decode(code, filters, bias)",
                               hint=_decode_hint, atol=1e-5)


@solves
def solve_decode():
    def decode(code, filters, bias):
        y = np.zeros(4 * (len(code) - 1) + 7)
        for i in range(len(code)):  # input position i paints its three scaled filters at 4i .. 4i+6
            y[4 * i:4 * i + 7] += filters @ code[i]
        return y + bias

    return decode


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


def _angles_hint(got, expected) -> str:
    if np.isnan(got).any():
        return "np.arccos gave NaN: a cosine came out just above 1 by rounding; clip the cosines to [-1, 1] first."
    if np.allclose(np.degrees(got), expected, atol=1e-3):
        return "Those are radians: convert them with np.degrees."
    if np.allclose(np.sort(got), expected, atol=1e-3):
        return "The angles are right, but in the wrong order: return them ascending."
    return ("Orthonormalise each span first (np.linalg.qr): the cosines of the angles are the singular values of "
            "qa.T @ qb, not of a.T @ b.")


def check_principal_angles(answer_function):
    """Exercise: write the principal angles (degrees, ascending) between two column spans, on random spans."""
    rng = np.random.default_rng(4)
    inputs = [(rng.normal(size=(length, ka)), rng.normal(size=(length, kb)))
              for length, ka, kb in [(7, 3, 3), (5, 1, 2), (9, 3, 2)]]
    a = rng.normal(size=(7, 3))
    inputs.append((a, np.column_stack([a[:, 0] + 2 * a[:, 1], rng.normal(size=7)])))  # the spans share a direction
    inputs.append((a, a @ rng.normal(size=(3, 3))))  # one span in two bases: every angle 0
    return verdict_on_function(answer_function, analysis.principal_angles_deg, inputs,
                               what="principal_angles(a, b)", hint=_angles_hint, atol=1e-4)


@solves
def solve_principal_angles():
    def principal_angles(a, b):
        qa, qb = np.linalg.qr(a)[0], np.linalg.qr(b)[0]  # orthonormal bases of the two spans
        cosines = np.linalg.svd(qa.T @ qb, compute_uv=False)  # largest first: the smallest angle first
        return np.degrees(np.arccos(np.clip(cosines, -1, 1)))

    return principal_angles


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


def _roughness_hint(got, expected) -> str:
    ratio = got / expected
    if np.allclose(ratio, ratio.flat[0], rtol=1e-4) and ratio.flat[0] > 1.5:
        return "Off by a constant factor (taps - 2): average the squared second differences, do not sum them."
    return ("Scale each filter (each column) to unit length first, then take the second difference along the taps "
            "(down each column), square it and average it.")


def check_filter_roughness(answer_function):
    """Exercise: write the roughness of filters (taps, components) -> (components,), on random filters."""
    rng = np.random.default_rng(5)
    inputs = [rng.normal(size=(taps, components)) for taps, components in [(7, 3), (3, 1), (9, 2), (7, 1)]]
    return verdict_on_function(answer_function, analysis.roughness, inputs, what="roughness(filters)",
                               hint=_roughness_hint)


@solves
def solve_filter_roughness():
    def roughness(filters):
        unit = filters / np.linalg.norm(filters, axis=0)  # every filter (column) at length 1
        return (np.diff(unit, n=2, axis=0) ** 2).mean(axis=0)  # mean squared second difference, per column

    return roughness


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


def _coverage_reference(weights):
    ones = np.ones((len(data.WINDOW_STARTS), 1))  # a code of ones at the three windows
    return np.asarray(deconv.conv_transpose_1d(ones, np.asarray(weights)[:, None, None], data.STRIDE))[:, 0]


def _coverage_hint(got, expected) -> str:
    if np.allclose(got, expected[::-1], atol=1e-5):
        return "The weights are painted backwards: tap m lands on position 4i + m."
    return "Window i covers positions 4i .. 4i+6, tap m on 4i + m; where two windows overlap their weights add."


def check_coverage(answer_function):
    """Exercise: write the coverage of 7 tap weights over three windows at stride 4, on random weights."""
    rng = np.random.default_rng(6)
    inputs = [rng.uniform(0, 1, 7) for _ in range(3)] + [full_curve.tap_weights("taper"), np.ones(7)]
    return verdict_on_function(answer_function, _coverage_reference, inputs, what="coverage(weights)",
                               hint=_coverage_hint, atol=1e-5)


@solves
def solve_coverage():
    def coverage(weights):
        total = np.zeros(15)
        for start in (0, 4, 8):  # each window adds the weights of its 7 taps where it lies
            total[start:start + 7] += weights
        return total

    return coverage


# --- notebook 07 ----------------------------------------------------------------

def check_output_length(answer, n_inputs, kernel, stride, padding=0, output_padding=0):
    """Exercise: the output length of a transposed convolution."""
    return verdict(answer, deconv.output_length(n_inputs, kernel, stride, padding, output_padding),
                   what="one integer", atol=0)


@solves
def solve_output_length(n_inputs, kernel, stride, padding=0, output_padding=0):
    full = stride * (n_inputs - 1) + kernel  # every window painted
    return full - 2 * padding + output_padding  # padding crops both ends


def check_dilated_convolution(answer_function):
    """Exercise: write view 2 (dilate, pad, convolve with the flipped kernel), on random shapes and strides."""
    rng = np.random.default_rng(7)
    inputs = [(rng.normal(size=(length, c_in)), rng.normal(size=(kernel, c_in, c_out)), stride)
              for length, kernel, stride, c_in, c_out in [(3, 7, 4, 3, 1), (4, 3, 2, 2, 2), (2, 2, 5, 1, 3),
                                                          (5, 1, 3, 2, 1), (1, 4, 2, 3, 2)]]
    return verdict_on_function(
        answer_function, deconv.conv_transpose_1d, inputs, what="dilated_convolution(x, w, stride)", atol=1e-5,
        hint=lambda got, expected: "Check each step: stride - 1 zeros between the inputs, kernel - 1 zeros at each "
                                   "end, then slide the flipped kernel w[::-1] with stride 1, keeping its (in, out) "
                                   "axes as they are.")


@solves
def solve_dilated_convolution():
    def dilated_convolution(x, w, stride):
        length, kernel = len(x), len(w)
        dilated = np.zeros((stride * (length - 1) + 1, x.shape[1]))
        dilated[::stride] = x  # stride - 1 zeros between the inputs
        padded = np.pad(dilated, ((kernel - 1, kernel - 1), (0, 0)))  # kernel - 1 zeros at each end
        flipped = w[::-1]  # (kernel, in, out), taps reversed
        # slide it with stride 1: output n reads padded[n .. n + kernel - 1]
        return np.stack([np.einsum("kc,kco->o", padded[n:n + kernel], flipped)
                         for n in range(len(padded) - kernel + 1)])

    return dilated_convolution
