"""Check functions and worked solutions for the exercises at the end of each notebook.

Used by notebooks 01-10 and 12. Each ``check_*`` prints a short verdict for the student (right,
or what is wrong: the shape, or how far off) and returns True (right), False (wrong) or
None (not attempted yet: the answer is still ``None``), so that an unattempted
notebook still runs top to bottom. A hint says what kind of answer is wanted, never
the answer.

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

from . import analysis, data, deconv, full_curve, views


SOLUTIONS: dict[str, Callable] = {}
"""Worked solutions by exercise name (the check's name without ``check_``)."""


def _solves(function: Callable) -> Callable:
    """Register ``solve_<name>`` as the worked solution of exercise ``<name>``."""
    SOLUTIONS[function.__name__.removeprefix("solve_")] = function
    return function


def solution(name: str, *args, show: bool = True, **kwargs):
    """Print the worked solution of exercise ``name`` (unless ``show=False``) and return its answer.

    Pass what the exercise's check takes besides the answer, e.g.
    ``solution("code_by_hand", best, patch)``. Try the exercise first!
    """
    if name not in SOLUTIONS:
        raise ValueError(f"unknown exercise {name!r}: choose one of {sorted(SOLUTIONS)}")
    function = SOLUTIONS[name]
    if show:
        print(inspect.getsource(function).split("\n", 1)[1])  # without the @_solves line
    return function(*args, **kwargs)


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
                    what="a 15-vector built from a and b")


@_solves
def solve_curve_from_basis():
    a, b = data.basis()  # every curve is p1*a + p2*b
    return 0.3 * a - 0.5 * b


def check_windows_covering(answer):
    """Exercise: how many decoder windows cover each of the 15 positions."""
    return _verdict(answer, deconv.overlap_counts(3, data.PATCH, data.STRIDE),
                    what="15 integers, one per position")


@_solves
def solve_windows_covering():
    counts = np.zeros(15, int)
    for start in (0, 4, 8):
        counts[start:start + 7] += 1  # each window covers 7 positions
    return counts


def check_max_abs_y(answer):
    """Exercise: the largest |y| any curve of the family can reach."""
    return _verdict(answer, 0.75, what="one number (hint: p1 = p2 = 1 and the curve's middle)", atol=1e-2)


@_solves
def solve_max_abs_y():
    # |y| is largest when both control heights are +-1 and equal: y(t) = 3t(1-t) there,
    # whose maximum, at t = 1/2, is 3/4.
    t = np.linspace(0, 1, 10001)
    return float((3 * (1 - t) ** 2 * t + 3 * (1 - t) * t**2).max())


# --- notebook 02 ----------------------------------------------------------------

def check_code_by_hand(answer, model, patch):
    """Exercise: the 3-number code of ``patch`` computed from the encoder's weights."""
    expected = np.asarray(model.encode(np.asarray(patch, np.float32)[None]))[0, 0]
    return _verdict(answer, expected, what="3 numbers, one per filter")


@_solves
def solve_code_by_hand(model, patch):
    filters = np.asarray(model.encoder.filters())  # (7 taps, 3 filters)
    bias = np.asarray(model.encoder.conv.bias[...])
    return np.tanh(np.asarray(patch) @ filters + bias)  # one dot product per filter


def check_sum_of_filters(answer, model, code):
    """Exercise: the decoder's output for ``code`` as a sum of scaled filters plus bias."""
    expected = np.asarray(model.decode(np.asarray(code, np.float32).reshape(1, 1, 3)))[0]
    return _verdict(answer, expected, what="7 numbers, one per position of the patch")


@_solves
def solve_sum_of_filters(model, code):
    filters = np.asarray(model.decoder.filters())  # (7 taps, 3 filters)
    return sum(code[c] * filters[:, c] for c in range(3)) + float(model.decoder.bias())


# --- notebook 03 ----------------------------------------------------------------

def check_output_change(answer, model):
    """Exercise: how much the output at tap 3 moves when c2 grows by 0.1."""
    return _verdict(answer, 0.1 * float(model.decoder.filters()[3, 1]),
                    what="one number (the change of the output, not its new value)")


@_solves
def solve_output_change(model):
    filters = np.asarray(model.decoder.filters())
    return 0.1 * filters[3, 1]  # the output is linear in the code: only filter 2's tap 3 moves it


def check_code_for_target(answer, model, target):
    """Exercise: a code whose decoded output matches ``target`` (7 points) as well as possible."""
    filters = np.asarray(model.decoder.filters(), np.float64)
    best, *_ = np.linalg.lstsq(filters, np.asarray(target, np.float64) - float(model.decoder.bias()), rcond=None)
    return _verdict(answer, best, what="3 numbers (hint: least squares, np.linalg.lstsq)", atol=1e-3)


@_solves
def solve_code_for_target(model, target):
    filters = np.asarray(model.decoder.filters(), np.float64)
    code, *_ = np.linalg.lstsq(filters, np.asarray(target) - float(model.decoder.bias()), rcond=None)
    return code


# --- notebook 04 ----------------------------------------------------------------

def check_effective_noise(answer):
    """Exercise: the standard deviations that cumulative slicing really applies."""
    return _verdict(answer, [0.1, 0.1 * 0.01, 0.1 * 0.01 * 0.001], what="3 numbers, one per code component",
                    atol=1e-9)


@_solves
def solve_effective_noise():
    std = np.ones(3)
    std[0:] *= 0.1  # every slice starts at its index and runs to the end,
    std[1:] *= 0.01  # so later components are scaled again and again
    std[2:] *= 0.001
    return std


def check_most_important_component(answer, ablation_row):
    """Exercise: which component (1, 2 or 3) costs most when zeroed, from an ablation row."""
    return _verdict(answer, int(np.argmax(np.asarray(ablation_row)[1:])) + 1, what="1, 2 or 3", atol=0)


@_solves
def solve_most_important_component(ablation_row):
    costs = {component: ablation_row[component] for component in (1, 2, 3)}  # entry 0 keeps all
    return max(costs, key=costs.get)


# --- notebook 05 ----------------------------------------------------------------

def check_roughness(answer, filt):
    """Exercise: the mean squared second difference of a filter scaled to unit length."""
    expected = analysis.roughness(np.asarray(filt, np.float64)[:, None])[0]
    return _verdict(answer, expected, what="one number")


@_solves
def solve_roughness(filt):
    unit = np.asarray(filt) / np.linalg.norm(filt)
    return float((np.diff(unit, n=2) ** 2).mean())


# --- notebook 06 ----------------------------------------------------------------

def check_taper_coverage(answer):
    """Exercise: the total taper weight each of the 15 positions receives."""
    return _verdict(answer, full_curve.coverage("taper"), what="15 numbers")


@_solves
def solve_taper_coverage():
    taper = 1 - np.abs(np.arange(7) - 3) / 4
    total = np.zeros(15)
    for start in (0, 4, 8):
        total[start:start + 7] += taper
    return total


# --- notebook 07 ----------------------------------------------------------------

def check_output_length(answer, n_inputs, kernel, stride, padding=0, output_padding=0):
    """Exercise: the output length of a transposed convolution."""
    return _verdict(answer, views.output_length(n_inputs, kernel, stride, padding, output_padding),
                    what="one integer", atol=0)


@_solves
def solve_output_length(n_inputs, kernel, stride, padding=0, output_padding=0):
    full = stride * (n_inputs - 1) + kernel  # every window painted
    return full - 2 * padding + output_padding  # padding crops both ends


# --- notebook 08 ----------------------------------------------------------------

def check_gaussian_kl(answer, mean, std):
    """Exercise: KL( N(mean, std^2) || N(0, 1) ) in nats, from the closed form."""
    from .vae import gaussian_kl
    return _verdict(answer, float(gaussian_kl(float(mean), 2 * np.log(float(std)))),
                    what="one number, in nats, from the closed form", atol=1e-4)


@_solves
def solve_gaussian_kl(mean, std):
    variance = std**2
    return 0.5 * (mean**2 + variance - 1 - np.log(variance))  # KL(N(mean, std^2) || N(0, 1)), nats


def check_kept_latents(answer, variances, beta, sigma):
    """Exercise: how many directions a linear VAE keeps: those with variance > beta * sigma^2."""
    return _verdict(answer, int(np.sum(np.asarray(variances) > beta * sigma**2)), what="one integer", atol=0)


@_solves
def solve_kept_latents(variances, beta, sigma):
    # a direction is worth a latent when its variance beats the price beta * sigma^2
    return sum(1 for variance in variances if variance > beta * sigma**2)


# --- notebook 09 ----------------------------------------------------------------

def check_overlap_image(answer, n_inputs=(3, 3), kernel=5, stride=2):
    """Exercise: the 2-D overlap count image (how many windows cover each output pixel)."""
    return _verdict(answer, deconv.overlap_counts(n_inputs, kernel, stride),
                    what="an image of integers (hint: the outer product of the two axes' 1-D counts)", atol=0)


@_solves
def solve_overlap_image(n_inputs=(3, 3), kernel=5, stride=2):
    rows = np.zeros(stride * (n_inputs[0] - 1) + kernel, int)
    cols = np.zeros(stride * (n_inputs[1] - 1) + kernel, int)
    for i in range(n_inputs[0]):
        rows[stride * i:stride * i + kernel] += 1
    for j in range(n_inputs[1]):
        cols[stride * j:stride * j + kernel] += 1
    return np.outer(rows, cols)  # a pixel is covered by (windows over its row) x (windows over its column)


def check_interior_ratio(answer, kernel=5, stride=3):
    """Exercise: largest / smallest interior overlap count of a 2-D transposed convolution."""
    inner = deconv.interior_overlap_counts((6, 6), kernel, stride)
    return _verdict(answer, inner.max() / inner.min(), what="one number (the 1-D ratio, squared)")


@_solves
def solve_interior_ratio(kernel=5, stride=3):
    counts = np.zeros(stride * 9 + kernel, int)  # 10 windows in 1-D, plenty for an interior
    for i in range(10):
        counts[stride * i:stride * i + kernel] += 1
    interior = counts[kernel - 1:-(kernel - 1)]
    return (interior.max() / interior.min()) ** 2  # the 2-D counts are products of the 1-D ones


def check_subkernel_sums(answer, kernel):
    """Exercise: the sums of the four parity sub-kernels kernel[a::2, b::2] of a 2-D kernel."""
    # imported here, not at the top: only notebook 09 needs its layers and widgets
    from . import upsampling

    return _verdict(answer, upsampling.subkernel_sums(np.asarray(kernel, np.float64), 2),
                    what="a 2x2 array: entry [a, b] is kernel[a::2, b::2].sum()")


@_solves
def solve_subkernel_sums(kernel):
    kernel = np.asarray(kernel)
    return np.array([[kernel[a::2, b::2].sum() for b in range(2)] for a in range(2)])


# --- notebook 10 ---------------------------------------------------------------

def check_scaled_grey_level(answer):
    """Exercise: grey level 4 of ``load_digits`` after scaling to [-1, 1]."""
    from . import gan

    return _verdict(answer, float(gan.scale_digits([4.0])[0]), what="one number in [-1, 1]")


@_solves
def solve_scaled_grey_level():
    # 0..16 onto [-1, 1]: divide by 8 (range 16 -> 2), then shift 0 to -1
    return 4 / 8 - 1


def check_shifted_frechet(answer):
    """Exercise: the Frechet distance between 8x8 images and the same images plus 0.5."""
    from . import gan

    rng = np.random.default_rng(0)
    images = rng.normal(size=(200, gan.SIZE, gan.SIZE))
    return _verdict(answer, gan.frechet_distance(images, images + 0.5), what="one number", atol=1e-3)


@_solves
def solve_shifted_frechet():
    # equal covariances: the trace term is 0; only |mean_a - mean_b|^2 is left, 0.5 on each of 64 pixels
    shift = np.full(8 * 8, 0.5)
    return float(shift @ shift)


def check_windows_over_pixel(answer):
    """Exercise: windows of a 3x3, stride-2 transposed convolution on 4x4 over pixels (4, 5) and (4, 4)."""
    counts = deconv.overlap_counts((4, 4), 3, 2)
    return _verdict(answer, [counts[4, 5], counts[4, 4]], what="a pair of integers", atol=0)


@_solves
def solve_windows_over_pixel():
    # input i paints rows 2i..2i+2 (and columns alike); a pixel counts the windows of its row times those of its column
    def windows(position):
        return sum(1 for i in range(4) if 2 * i <= position <= 2 * i + 2)

    return (windows(4) * windows(5), windows(4) * windows(4))


def check_collapsed_coverage(answer):
    """Exercise: ``classes`` and ``largest_share`` for a generator drawing only 1s and 7s, half each."""
    from . import gan

    coverage = gan.class_coverage(np.array([1, 7] * 50))
    return _verdict(answer, [coverage.classes, coverage.largest_share], what="a pair: (classes, largest_share)")


@_solves
def solve_collapsed_coverage():
    # 100 samples: 50 ones, 50 sevens; a class counts when it holds at least 2 % of them
    shares = np.bincount([1, 7] * 50, minlength=10) / 100
    return (int((shares >= 0.02).sum()), float(shares.max()))


# --- notebook 11 ---------------------------------------------------------------

RELU_X = np.array([-1.0, 2.0, 0.5, -0.3, 1.5])
"""Notebook 11's exercise 1: the forward input of a ReLU, one value per unit ..."""
RELU_G = np.array([0.4, -0.7, 0.9, 0.6, 0.2])
"""... and the signal arriving at it from above in the backward pass."""


def check_relu_rules(answer):
    """Exercise: what the gradient, the deconvnet and guided backprop pass back through a ReLU at RELU_X, RELU_G."""
    import jax

    from . import attribution

    def passed(relu):
        _, backward = jax.vjp(relu, RELU_X)
        return np.asarray(backward(RELU_G)[0])

    expected = [passed(jax.nn.relu), passed(attribution.deconvnet_relu), passed(attribution.guided_relu)]
    return _verdict(answer, expected, what="three 5-vectors: (gradient, deconvnet, guided backprop)")


@_solves
def solve_relu_rules():
    x, g = RELU_X, RELU_G
    gradient = np.where(x > 0, g, 0.0)  # the chain rule: the ReLU's slope is 1 where its input was positive
    deconvnet = np.maximum(g, 0.0)  # Zeiler & Fergus: rectify the signal, forget the forward pass
    guided = np.where((x > 0) & (g > 0), g, 0.0)  # Springenberg et al.: both tests
    return gradient, deconvnet, guided


def check_chance_share(answer):
    """Exercise: the on-object share of a flat map for a 6x6 square in a 32x32 image (mask dilated by 1)."""
    from . import attribution

    mask = np.zeros((1, 32, 32), dtype=bool)
    mask[0, 10:16, 20:26] = True
    return _verdict(answer, attribution.on_object_share(np.ones((1, 32, 32)), mask)[0], what="one number in [0, 1]")


@_solves
def solve_chance_share():
    # dilating by one pixel grows the 6x6 square to 8x8; a flat map puts the same mass on every pixel
    return (6 + 2) ** 2 / 32**2


def check_joint_zero_share(answer):
    """Exercise: Spearman's rho of |a| = (0, 0, 0, 0, 1, 2) and |b| = (0, 0, 0, 0, 2, 1), and its share from joint zeros."""
    from . import sanity

    a = np.array([[[0, 0, 0, 0, 1, 2]]], dtype=float)
    b = np.array([[[0, 0, 0, 0, 2, 1]]], dtype=float)
    rho = sanity.stage_correlations({"m": a}, {"s": {"m": b}})["m"][0, 0]
    return _verdict(answer, [rho, sanity.joint_zero_share(a, b)[0]], what="a pair: (rho, share from joint zeros)")


@_solves
def solve_joint_zero_share():
    # the four tied zeros share ranks 1-4: each gets 2.5; the mean rank of 6 values is 3.5
    ranks_a = np.array([2.5, 2.5, 2.5, 2.5, 5, 6]) - 3.5
    ranks_b = np.array([2.5, 2.5, 2.5, 2.5, 6, 5]) - 3.5
    terms = ranks_a * ranks_b
    rho = terms.sum() / np.sqrt((ranks_a**2).sum() * (ranks_b**2).sum())
    return rho, terms[:4].sum() / terms.sum()


# --- notebook 12 ---------------------------------------------------------------

def _stripes(period: int) -> np.ndarray:
    """A 32x32 image of vertical stripes, 0 and 1, each stripe ``period // 2`` columns wide."""
    columns = (np.arange(32) // (period // 2)) % 2
    return np.tile(columns.astype(np.float32), (32, 1))


def check_stripe_high_frequency(answer):
    """Exercise: high_frequency_share (cutoff 0.25) of stripes of period 2 and of period 8 pixels."""
    from . import synthesis

    expected = synthesis.high_frequency_share(np.stack([_stripes(2), _stripes(8)]))
    return _verdict(answer, expected, what="a pair of shares: (period 2, period 8)", atol=1e-3)


@_solves
def solve_stripe_high_frequency():
    # Vertical stripes vary along a row only, so one row's 1-D spectrum is the whole story.
    # Period 2 alternates 0, 1, 0, 1: all its variance sits at 1/2 cycle per pixel (> 0.25).
    # Period 8 is a square wave: 1/8 cycle per pixel plus odd harmonics (3/8 lies above 0.25).
    row = (np.arange(32) // 4) % 2
    power = np.abs(np.fft.fft(row - row.mean())) ** 2
    high = np.abs(np.fft.fftfreq(32)) > 0.25
    return (1.0, float(power[high].sum() / power.sum()))


def check_layer2_receptive_field(answer):
    """Exercise: receptive field of a layer-2 unit with conv1 kernel 7 (conv2 3x3) and with conv2 kernel 5 (conv1 5x5)."""
    def field(k1, k2, pool=2):
        return k1 + (pool - 1) + pool * (k2 - 1)

    return _verdict(answer, [field(7, 3), field(5, 5)], what="a pair of integers (pixels)", atol=0)


@_solves
def solve_layer2_receptive_field():
    # conv1 sees k1 pixels; a 2x2 pool cell covers two conv1 units side by side: k1 + 1;
    # conv2 reads k2 pool cells, each 2 pixels further: k1 + 1 + 2 (k2 - 1).
    def field(k1, k2):
        after_pool = k1 + 1
        return after_pool + 2 * (k2 - 1)

    return (field(7, 3), field(5, 5))


def check_checkerboard_tv(answer):
    """Exercise: synthesis.total_variation of a 0/1 checkerboard and of 0/1 vertical stripes of period 2."""
    from . import synthesis

    checker = (np.add.outer(np.arange(32), np.arange(32)) % 2).astype(np.float32)
    images = np.stack([checker, _stripes(2)])[..., None]
    return _verdict(answer, np.asarray(synthesis.total_variation(images)), what="a pair of numbers", atol=1e-4)


@_solves
def solve_checkerboard_tv():
    # Every neighbour differs by 1 in a checkerboard, in both directions: 1 + 1.
    # Vertical stripes change only along a row (dx = 1), never down a column (dy = 0).
    return (1.0 + 1.0, 0.0 + 1.0)
