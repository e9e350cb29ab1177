"""course_utils.deconv in 2-D agrees with JAX, Flax and a loop on random shapes and strides."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.core import deconv

DN = ("NHWC", "HWIO", "NHWC")


@st.composite
def images_and_kernels(draw):
    """A random image x (h, w, in), kernel w (kh, kw, in, out) and a stride pair."""
    height, width = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = rng.normal(size=(height, width, cin)).astype(np.float32)
    w = rng.normal(size=(kh, kw, cin, cout)).astype(np.float32)
    return x, w, stride


def painted_by_loops(x, w, stride):
    """The definition: input pixel (i, j) adds x[i, j] @ w[a, b] at (s_h*i + a, s_w*j + b)."""
    (height, width, _), (kh, kw, _, cout) = x.shape, w.shape
    out = np.zeros((stride[0] * (height - 1) + kh, stride[1] * (width - 1) + kw, cout))
    for i in range(height):
        for j in range(width):
            for a in range(kh):
                for b in range(kw):
                    out[stride[0] * i + a, stride[1] * j + b] += x[i, j] @ w[a, b]
    return out


def by_lax_conv_transpose(x, w, stride):
    """lax.conv_transpose with 'VALID' padding; its default runs the kernel flipped, so flip it by hand."""
    return np.asarray(jax.lax.conv_transpose(x[None], w[::-1, ::-1], stride, "VALID", dimension_numbers=DN))[0]


def by_lax_transpose_kernel(x, w, stride):
    """transpose_kernel=True expects the forward convolution's kernel (kh, kw, out, in) and paints it as stored."""
    return np.asarray(jax.lax.conv_transpose(x[None], w.transpose(0, 1, 3, 2), stride, "VALID",
                                             dimension_numbers=DN, transpose_kernel=True))[0]


def by_dilated_convolution(x, w, stride):
    """Zero-insert the input (lhs dilation), pad kernel-1 on every side, correlate with the flipped kernel."""
    kh, kw = w.shape[:2]
    return np.asarray(jax.lax.conv_general_dilated(
        x[None], w[::-1, ::-1], window_strides=(1, 1), padding=[(kh - 1, kh - 1), (kw - 1, kw - 1)],
        lhs_dilation=stride, dimension_numbers=DN))[0]


def by_flax(x, w, stride):
    """nnx.ConvTranspose, padding 'VALID', transpose_kernel=True, its kernel set to w as (kh, kw, out, in)."""
    layer = nnx.ConvTranspose(w.shape[2], w.shape[3], kernel_size=w.shape[:2], strides=stride, padding="VALID",
                              transpose_kernel=True, use_bias=False, rngs=nnx.Rngs(0))
    layer.kernel[...] = jnp.asarray(w.transpose(0, 1, 3, 2))
    return np.asarray(layer(x[None]))[0]


def by_gradient(x, w, stride):
    """View 4 of notebook 07 in 2-D: the vector-Jacobian product of the strided 'VALID' convolution."""
    out_shape = deconv.output_shape_2d(x.shape[:2], w.shape[:2], stride)
    forward_kernel = w.transpose(0, 1, 3, 2)  # (kh, kw, out -> its input, in -> its output)

    def conv(y):
        return jax.lax.conv_general_dilated(y[None], forward_kernel, stride, "VALID", dimension_numbers=DN)[0]

    _, pullback = jax.vjp(conv, jnp.zeros((*out_shape, w.shape[3])))
    return np.asarray(pullback(jnp.asarray(x))[0])


@settings(max_examples=25, deadline=None)
@given(images_and_kernels())
def test_conv_transpose_2d_matches_loops_lax_and_flax(problem):
    x, w, stride = problem
    got = np.asarray(deconv.conv_transpose_2d(x, w, stride))
    expected_shape = (*deconv.output_shape_2d(x.shape[:2], w.shape[:2], stride), w.shape[3])
    assert got.shape == expected_shape
    assert np.allclose(got, painted_by_loops(x, w, stride), atol=1e-4)
    for reference in (by_lax_conv_transpose, by_lax_transpose_kernel, by_dilated_convolution, by_flax):
        ref = reference(x, w, stride)
        if ref.shape != got.shape:
            # JAX's 'VALID' keeps the gap after the last window when stride > kernel (pinned below)
            assert all(r >= g for r, g in zip(ref.shape, got.shape)) and reference is not by_dilated_convolution
            assert np.allclose(ref[:got.shape[0], :got.shape[1]], got, atol=1e-4), reference.__name__
            assert np.count_nonzero(ref[got.shape[0]:]) == 0 and np.count_nonzero(ref[:, got.shape[1]:]) == 0
        else:
            assert np.allclose(ref, got, atol=1e-4), reference.__name__


@settings(max_examples=25, deadline=None)
@given(images_and_kernels())
def test_conv_transpose_2d_is_the_gradient_of_a_strided_convolution(problem):
    x, w, stride = problem
    assert np.allclose(by_gradient(x, w, stride), deconv.conv_transpose_2d(x, w, stride), atol=1e-4)


def test_lax_valid_padding_keeps_the_gap_when_stride_exceeds_kernel():
    x, w = np.ones((2, 2, 1), np.float32), np.ones((1, 1, 1, 1), np.float32)
    assert deconv.conv_transpose_2d(x, w, 3).shape == (4, 4, 1)
    assert by_lax_conv_transpose(x, w, (3, 3)).shape == (6, 6, 1)  # stride * n, not stride*(n-1) + kernel


def test_lax_conv_transpose_default_paints_the_kernel_flipped():
    x = np.ones((1, 1, 1), np.float32)
    w = np.arange(6, dtype=np.float32).reshape(2, 3, 1, 1)
    unflipped = np.asarray(jax.lax.conv_transpose(x[None], w, (1, 1), "VALID", dimension_numbers=DN))[0]
    assert np.array_equal(np.asarray(deconv.conv_transpose_2d(x, w, 1)), w[:, :, 0])
    assert np.array_equal(unflipped, w[::-1, ::-1, 0])


def test_a_scalar_stride_means_the_same_on_both_axes():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 2, 2, 1))
    assert np.allclose(deconv.conv_transpose_2d(x, w, 2), deconv.conv_transpose_2d(x, w, (2, 2)))


def test_one_row_is_the_1d_transposed_convolution():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(1, 5, 2)).astype(np.float32), rng.normal(size=(1, 4, 2, 3)).astype(np.float32)
    assert np.allclose(deconv.conv_transpose_2d(x, w, (1, 3))[0], deconv.conv_transpose_1d(x[0], w[0], 3), atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(st.tuples(st.integers(1, 5), st.integers(1, 5)), st.tuples(st.integers(1, 6), st.integers(1, 6)),
       st.tuples(st.integers(1, 4), st.integers(1, 4)))
def test_overlap_count_image_is_the_outer_product_of_the_axes(n, kernel, stride):
    counts = deconv.overlap_counts(n, kernel, stride)
    rows = deconv.overlap_counts(n[0], kernel[0], stride[0])
    cols = deconv.overlap_counts(n[1], kernel[1], stride[1])
    assert counts.shape == deconv.output_shape_2d(n, kernel, stride)
    assert np.array_equal(counts, np.outer(rows, cols))
    ones = deconv.conv_transpose_2d(np.ones((*n, 1)), np.ones((*kernel, 1, 1)), stride)[..., 0]
    assert np.array_equal(counts, np.asarray(ones))


def test_overlap_counts_ints_stay_1d_and_mixed_arguments_give_2d():
    assert deconv.overlap_counts(3, 7, 4).tolist() == [1, 1, 1, 1, 2, 2, 2, 1, 2, 2, 2, 1, 1, 1, 1]
    assert deconv.overlap_counts((4, 4), 3, 2).shape == (9, 9)
    assert np.array_equal(deconv.overlap_counts((4, 4), 3, 2), deconv.overlap_counts((4, 4), (3, 3), (2, 2)))


@pytest.mark.parametrize("kernel, stride, ratio", [(3, 2, 4), (4, 2, 1), (2, 2, 1), (7, 4, 4), (5, 3, 4)])
def test_interior_count_ratio(kernel, stride, ratio):
    inner = deconv.interior_overlap_counts((5, 5), kernel, stride)
    assert inner.max() / inner.min() == ratio
    assert np.array_equal(deconv.interior_overlap_counts(5, kernel, stride),
                          deconv.overlap_counts(5, kernel, stride)[kernel - 1:len(deconv.overlap_counts(5, kernel, stride))
                                                                   - (kernel - 1)])


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: deconv.conv_transpose_2d(np.ones((3, 3)), np.ones((3, 3, 1, 1)), 2), ValueError,
         "(height, width, in_channels)"),
        (lambda: deconv.conv_transpose_2d(np.ones((3, 3, 2)), np.ones((3, 3, 1, 1)), 2), ValueError, "2 channels"),
        (lambda: deconv.conv_transpose_2d(np.ones((3, 3, 1)), np.ones((3, 3, 1)), 2), ValueError, "(kernel_h, kernel_w"),
        (lambda: deconv.conv_transpose_2d(np.ones((3, 3, 1)), np.ones((3, 3, 1, 1)), 0), ValueError, "stride must be"),
        (lambda: deconv.conv_transpose_2d(np.ones((3, 3, 1)), np.ones((3, 3, 1, 1)), (2, 0)), ValueError,
         "stride[1] must be"),
        (lambda: deconv.conv_transpose_2d(np.ones((3, 3, 1)), np.ones((3, 3, 1, 1)), (2, 2, 2)), ValueError,
         "a pair (rows, columns)"),
        (lambda: deconv.conv_transpose_2d(np.ones((3, 3, 1)), np.ones((3, 3, 1, 1)), 1.5), TypeError,
         "stride must be an integer"),
        (lambda: deconv.conv_transpose_2d(np.full((3, 3, 1), np.nan), np.ones((3, 3, 1, 1)), 1), ValueError, "finite"),
        (lambda: deconv.overlap_counts((3, 3), (0, 3), 2), ValueError, "kernel[0] must be"),
        (lambda: deconv.overlap_counts((3,), 3, 2), ValueError, "a pair"),
        (lambda: deconv.interior_overlap_counts((1, 1), 7, 4), ValueError, "too few"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
