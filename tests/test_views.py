"""The four views of a transposed convolution agree; the length formula matches JAX and Flax."""

import jax
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import problems

from course_utils.core import deconv
from course_utils.part1 import views

DN = ("NWC", "WIO", "NWC")


@settings(max_examples=30, deadline=None)
@given(problems())
def test_the_four_views_agree_on_random_shapes(problem):
    x, w, stride = problem
    results = {name: np.asarray(view(x, w, stride)) for name, view in views.VIEWS.items()}
    reference = results["painting"]
    assert reference.shape == (stride * (x.shape[0] - 1) + w.shape[0], w.shape[2])
    for name, out in results.items():
        assert out.shape == reference.shape, name
        assert np.allclose(out, reference, atol=1e-4, rtol=1e-4), name


@settings(max_examples=20, deadline=None)
@given(problems())
def test_lhs_dilation_is_the_dilated_convolution_view(problem):
    x, w, stride = problem
    assert np.allclose(views.by_lhs_dilation(x, w, stride), views.by_painting(x, w, stride), atol=1e-4, rtol=1e-4)


def test_lax_conv_transpose_is_one_lhs_dilated_convolution():
    jaxpr = str(jax.make_jaxpr(lambda x, k: jax.lax.conv_transpose(x, k, (4,), "VALID", dimension_numbers=DN))(
        np.ones((1, 3, 1), np.float32), np.ones((7, 1, 1), np.float32)))
    assert jaxpr.count("conv_general_dilated") == 1 and "lhs_dilation=(4,)" in jaxpr


def test_lax_length_grid_finds_no_mismatch_and_counts_its_cases():
    checked, mismatches = views.lax_length_mismatches([1, 3], [1, 7], [1, 4])
    # padding < kernel and output_padding < stride, minus paddings that crop everything
    expected = sum(1 for n in (1, 3) for k in (1, 7) for s in (1, 4) for p in range(k) for op in range(s)
                   if s * (n - 1) + k - 2 * p + op >= 1)
    assert checked == expected and mismatches == []


def test_the_matrix_view_is_the_transpose_of_the_convolution():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(7, 3, 1)).astype(np.float32)
    signal = rng.normal(size=(15, 1)).astype(np.float32)
    matrix = views.conv_matrix(3, w, 4)
    assert matrix.shape == (9, 15)
    assert np.allclose(matrix @ signal.ravel(), np.asarray(views._conv(signal, w, 4)).ravel(), atol=1e-5)


def test_dilate_puts_stride_minus_one_zeros_between_inputs():
    out = np.asarray(views.dilate(np.array([[1.0], [2.0], [3.0]]), 3))[:, 0]
    assert out.tolist() == [1, 0, 0, 2, 0, 0, 3]


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("kernel", [1, 3, 7])
@pytest.mark.parametrize("stride", [1, 2, 4])
def test_length_formula_matches_lax_and_flax(n, kernel, stride):
    x = np.ones((1, n, 1), np.float32)
    for padding in range(kernel):
        for output_padding in sorted({0, stride - 1}):
            try:
                expected = deconv.output_length(n, kernel, stride, padding, output_padding)
            except ValueError:
                assert stride * (n - 1) + kernel - 2 * padding + output_padding < 1
                continue
            assert expected == stride * (n - 1) + kernel - 2 * padding + output_padding
            pad = views.lax_padding(kernel, padding, output_padding)
            by_lax = jax.lax.conv_transpose(x, np.ones((kernel, 1, 1), np.float32), (stride,), pad, dimension_numbers=DN)
            layer = nnx.ConvTranspose(1, 1, kernel_size=(kernel,), strides=(stride,), padding=pad, rngs=nnx.Rngs(0))
            assert by_lax.shape[1] == expected == layer(x).shape[1]
    # JAX's 'VALID' keeps the gap after the last window when the stride exceeds the kernel.
    valid = nnx.ConvTranspose(1, 1, kernel_size=(kernel,), strides=(stride,), padding="VALID", rngs=nnx.Rngs(0))
    assert valid(x).shape[1] == deconv.output_length(n, kernel, stride) + max(stride - kernel, 0)


@settings(max_examples=30, deadline=None)
@given(problems(), st.data())
def test_pytorch_padding_crops_the_full_output(problem, draw):
    x, w, stride = problem
    kernel = w.shape[0]
    full = np.asarray(views.by_painting(x, w, stride))
    padding = draw.draw(st.integers(0, (len(full) - 1) // 2))
    output_padding = draw.draw(st.integers(0, stride - 1))
    length = deconv.output_length(x.shape[0], kernel, stride, padding, output_padding)
    got = jax.lax.conv_transpose(x[None], np.transpose(w, (0, 2, 1)), (stride,),
                                 views.lax_padding(kernel, padding, output_padding), dimension_numbers=DN,
                                 transpose_kernel=True)[0]
    extended = np.concatenate([full, np.zeros((output_padding, w.shape[2]))])
    assert np.allclose(got, extended[padding:padding + length], atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 7), st.integers(1, 5), st.integers(0, 3))
def test_output_padding_rebuilds_the_signal_length(n_signal, kernel, stride, padding):
    if n_signal + 2 * padding < kernel:
        with pytest.raises(ValueError, match="longer than the padded signal"):
            deconv.conv_output_length(n_signal, kernel, stride, padding)
        return
    n_code = deconv.conv_output_length(n_signal, kernel, stride, padding)
    extra = views.output_padding_needed(n_signal, kernel, stride, padding)
    assert 0 <= extra < stride
    if n_signal + 2 * padding - kernel >= 0 and stride * (n_code - 1) + kernel - 2 * padding >= 1:
        assert deconv.output_length(n_code, kernel, stride, padding, extra) == n_signal


def test_default_lax_conv_transpose_paints_the_kernel_flipped():
    x = np.array([[[1.0]]], np.float32)
    w = np.arange(1.0, 5.0, dtype=np.float32).reshape(4, 1, 1)
    out = jax.lax.conv_transpose(x, w, (1,), "VALID", dimension_numbers=DN)[0, :, 0]
    assert np.asarray(out).tolist() == [4, 3, 2, 1]
    assert np.asarray(views.by_painting(x[0], w, 1))[:, 0].tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: deconv.output_length(3, 7, 4, output_padding=4), ValueError, "smaller than stride"),
        (lambda: deconv.output_length(1, 3, 1, padding=2), ValueError, "crops the whole output"),
        (lambda: deconv.output_length(3, 7, 4, padding=-1), ValueError, "padding must be"),
        (lambda: deconv.conv_output_length(3, 7, 4), ValueError, "longer than the padded signal"),
        (lambda: views.by_gradient(np.ones((3, 2)), np.ones((7, 1, 1)), 4), ValueError, "channels"),
        (lambda: views.conv_matrix(0, np.ones((7, 1, 1)), 4), ValueError, "length must be"),
        (lambda: views.lax_padding(7, 1.5), TypeError, "padding must be an integer"),
        (lambda: views.lax_length_mismatches([], [7], [4]), ValueError, "ns must hold at least one"),
        (lambda: views.lax_length_mismatches([3], [0], [4]), ValueError, "kernels[0] must be"),
        (lambda: views.by_lhs_dilation(np.ones((3, 2)), np.ones((7, 1, 1)), 4), ValueError, "channels"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error, match=None) as info:
        call()
    assert words in str(info.value)
