"""course_utils.deconv agrees with independent references on random shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.core import deconv
from strategies import problems


def painted_by_loops(x, w, stride):
    """The textbook definition, with explicit loops: input i paints w at stride*i."""
    length, kernel = x.shape[0], w.shape[0]
    out = np.zeros((stride * (length - 1) + kernel, w.shape[2]))
    for i in range(length):
        for k in range(kernel):
            out[stride * i + k] += x[i] @ w[k]
    return out


def by_lax_dilated_convolution(x, w, stride):
    """Zero-insert the input (lhs dilation), pad kernel-1 each side, correlate with the flipped kernel."""
    kernel = w.shape[0]
    out = jax.lax.conv_general_dilated(
        x[None], w[::-1], window_strides=(1,), padding=[(kernel - 1, kernel - 1)], lhs_dilation=(stride,),
        dimension_numbers=("NWC", "WIO", "NWC"),
    )
    return np.asarray(out[0])




@settings(max_examples=30, deadline=None)
@given(problems())
def test_conv_transpose_matches_loops_and_lax(problem):
    x, w, stride = problem
    (length, cin), (kernel, _, cout) = x.shape, w.shape
    got = np.asarray(deconv.conv_transpose_1d(x, w, stride))
    assert got.shape == (stride * (length - 1) + kernel, cout)
    assert np.allclose(got, painted_by_loops(x, w, stride), atol=1e-4)
    assert np.allclose(got, by_lax_dilated_convolution(x, w, stride), atol=1e-4)


@settings(max_examples=30, deadline=None)
@given(problems())
def test_contributions_add_up_to_the_transposed_convolution(problem):
    x, w, stride = problem
    (length, cin), (kernel, _, cout) = x.shape, w.shape
    parts = np.asarray(deconv.contributions(x, w, stride))
    assert parts.shape == (length, cin, stride * (length - 1) + kernel, cout)
    assert np.allclose(parts.sum(axis=(0, 1)), deconv.conv_transpose_1d(x, w, stride), atol=1e-4)
    # each part is one scaled filter in its own window, zero elsewhere
    i, c = length - 1, cin - 1
    window = slice(stride * i, stride * i + kernel)
    assert np.allclose(parts[i, c, window], x[i, c] * w[:, c, :], atol=1e-5)
    assert np.count_nonzero(np.delete(parts[i, c], np.r_[window], axis=0)) == 0


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 9), st.integers(1, 6))
def test_overlap_counts_match_a_direct_count(n, kernel, stride):
    counts = deconv.overlap_counts(n, kernel, stride)
    direct = [sum(stride * i <= p < stride * i + kernel for i in range(n)) for p in range(stride * (n - 1) + kernel)]
    assert counts.tolist() == direct
    assert len(counts) == deconv.output_length(n, kernel, stride)


@pytest.mark.parametrize("n, kernel, stride", [(3, 7, 4), (4, 3, 2), (2, 2, 5), (5, 4, 1)])
def test_overlap_counts_are_the_transposed_convolution_of_ones(n, kernel, stride):
    ones = deconv.conv_transpose_1d(np.ones((n, 1)), np.ones((kernel, 1, 1)), stride)[:, 0]
    assert np.array_equal(deconv.overlap_counts(n, kernel, stride), np.asarray(ones))


def test_overlap_counts_of_the_course_model():
    assert deconv.overlap_counts(3, 7, 4).tolist() == [1, 1, 1, 1, 2, 2, 2, 1, 2, 2, 2, 1, 1, 1, 1]


def test_conv_transpose_is_differentiable_and_jittable():
    w = jnp.ones((7, 3, 1))
    f = jax.jit(lambda x: deconv.conv_transpose_1d(x, w, 4).sum())
    grad = jax.grad(f)(jnp.ones((3, 3)))
    assert grad.shape == (3, 3) and np.allclose(grad, 7.0)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: deconv.conv_transpose_1d(np.ones(3), np.ones((7, 1, 1)), 4), ValueError, "(length, in_channels)"),
        (lambda: deconv.conv_transpose_1d(np.ones((3, 2)), np.ones((7, 3, 1)), 4), ValueError, "2 channels"),
        (lambda: deconv.conv_transpose_1d(np.ones((3, 1)), np.ones((7, 1)), 4), ValueError, "(kernel, in_channels"),
        (lambda: deconv.conv_transpose_1d(np.ones((3, 1)), np.ones((7, 1, 1)), 0), ValueError, "stride must be"),
        (lambda: deconv.conv_transpose_1d(np.ones((3, 1)), np.ones((7, 1, 1)), 1.5), TypeError, "stride must be"),
        (lambda: deconv.conv_transpose_1d([[np.nan]], np.ones((7, 1, 1)), 1), ValueError, "finite"),
        (lambda: deconv.conv_transpose_1d("abc", np.ones((7, 1, 1)), 1), TypeError, "array of numbers"),
        (lambda: deconv.overlap_counts(3, 0, 4), ValueError, "kernel must be"),
        (lambda: deconv.overlap_counts(0, 7, 4), ValueError, "n_inputs must be"),
        (lambda: deconv.overlap_counts(3, 7, True), TypeError, "stride must be an integer"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
