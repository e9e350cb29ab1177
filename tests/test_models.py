"""The Flax NNX models: kernel orientation, shapes, and agreement with course_utils.deconv."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from course_utils.core import deconv
from course_utils.part1 import models


def impulse_response(layer, channel=0):
    """Output of a ConvTranspose for a one-position code that is 1 in ``channel`` (bias removed)."""
    code = jnp.zeros((1, 1, 3)).at[0, 0, channel].set(1.0)
    return np.asarray(layer(code) - layer.bias[...])[0, :, 0]


def test_flax_conv_transpose_default_paints_the_kernel_flipped():
    layer = nnx.ConvTranspose(3, 1, kernel_size=(7,), strides=(4,), padding="VALID", rngs=nnx.Rngs(0))
    assert layer.kernel.shape == (7, 3, 1)
    assert np.allclose(impulse_response(layer), np.asarray(layer.kernel[...])[::-1, 0, 0], atol=1e-6)


def test_flax_conv_transpose_with_transpose_kernel_paints_it_as_stored():
    layer = nnx.ConvTranspose(3, 1, kernel_size=(7,), strides=(4,), padding="VALID", transpose_kernel=True,
                              rngs=nnx.Rngs(0))
    assert layer.kernel.shape == (7, 1, 3)  # (kernel, out, in): the layout of the matching Conv
    assert np.allclose(impulse_response(layer, 2), np.asarray(layer.kernel[...])[:, 0, 2], atol=1e-6)


def test_decoder_is_sum_of_scaled_filters_plus_bias():
    decoder = models.PatchDecoder(rngs=nnx.Rngs(1))
    code = np.random.default_rng(0).normal(size=(2, 3, 3)).astype(np.float32)
    filters = np.asarray(decoder.filters())[:, :, None]
    for b in range(2):
        expected = np.asarray(deconv.conv_transpose_1d(code[b], filters, 4))[:, 0] + float(decoder.bias())
        assert np.allclose(decoder(code)[b], expected, atol=1e-6)


def test_decoder_is_the_adjoint_of_an_encoder_conv_with_the_same_kernel():
    # <conv(x), c> == <x, conv_transpose(c)> when both use the same kernel and no bias
    enc = models.PatchEncoder(rngs=nnx.Rngs(2))
    dec = models.PatchDecoder(rngs=nnx.Rngs(3))
    dec.deconv.kernel[...] = enc.conv.kernel[...]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 15)).astype(np.float32)
    c = rng.normal(size=(1, 3, 3)).astype(np.float32)
    conv_x = enc.conv(x[..., None]) - enc.conv.bias[...]
    convt_c = dec(c) - dec.bias()
    assert np.isclose(float((conv_x * c).sum()), float((x * convt_c).sum()), rtol=1e-5)


def test_encoder_is_tanh_of_dot_products_plus_bias():
    enc = models.PatchEncoder(rngs=nnx.Rngs(4))
    x = np.random.default_rng(2).normal(size=(5, 15)).astype(np.float32)
    w = np.asarray(enc.filters())
    bias = np.asarray(enc.conv.bias[...])
    expected = np.stack([np.tanh(x[:, s:s + 7] @ w + bias) for s in (0, 4, 8)], axis=1)
    assert np.allclose(enc(x), expected, atol=1e-5)


def test_shapes_for_a_patch_and_a_curve():
    model = models.PatchAutoencoder(rngs=nnx.Rngs(0))
    assert model.encode(np.zeros((4, 7))).shape == (4, 1, 3)
    assert model(np.zeros((4, 7))).shape == (4, 7)
    assert model.encode(np.zeros((2, 15))).shape == (2, 3, 3)
    assert model(np.zeros((2, 15))).shape == (2, 15)


def test_relu_and_linear_encoders():
    x = np.random.default_rng(3).normal(size=(3, 7)).astype(np.float32)
    relu = models.PatchEncoder(rngs=nnx.Rngs(0), activation="relu")
    linear = models.PatchEncoder(rngs=nnx.Rngs(0), activation="linear")
    assert np.allclose(relu(x), np.maximum(linear(x), 0))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda m: m(np.zeros((4, 8))), ValueError, "7 + 4*k"),
        (lambda m: m(np.zeros(7)), ValueError, "(batch, length)"),
        (lambda m: m.decode(np.zeros((4, 1, 2))), ValueError, "(batch, positions, 3)"),
        (lambda m: models.PatchAutoencoder(rngs=nnx.Rngs(0), activation="sigmoid"), ValueError, "activation"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    model = models.PatchAutoencoder(rngs=nnx.Rngs(0))
    with pytest.raises(error) as info:
        call(model)
    assert words in str(info.value)


def test_tied_decoder_is_the_transpose_of_the_encoders_convolution_matrix():
    from course_utils.part1 import views
    model = models.TiedPatchAutoencoder(rngs=nnx.Rngs(6), activation="linear")
    kernel = np.asarray(model.encoder.conv.kernel[...])  # (7, 1, 3)
    matrix = views.conv_matrix(3, np.transpose(kernel, (0, 2, 1)), 4)  # (3 positions * 3 channels, 15)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1, 15)).astype(np.float32)
    code = rng.normal(size=(1, 3, 3)).astype(np.float32)
    assert np.allclose(np.asarray(model.encode(x) - model.encoder.conv.bias[...])[0].ravel(), matrix @ x[0], atol=1e-5)
    painted = np.asarray(model.decode(code))[0] - float(model.decoder_bias[...][0])
    assert np.allclose(painted, matrix.T @ code[0].ravel(), atol=1e-5)
    assert np.array_equal(model.decoder_filters(), model.encoder.filters())


def test_tied_decoder_equals_an_untied_decoder_holding_the_encoders_kernel():
    tied = models.TiedPatchAutoencoder(rngs=nnx.Rngs(8))
    untied = models.PatchDecoder(rngs=nnx.Rngs(9))
    untied.deconv.kernel[...] = tied.encoder.conv.kernel[...]
    untied.deconv.bias[...] = tied.decoder_bias[...]
    code = np.random.default_rng(10).normal(size=(2, 3, 3)).astype(np.float32)
    assert np.allclose(tied.decode(code), untied(code), atol=1e-6)
    assert tied(np.zeros((4, 7))).shape == (4, 7)
    with pytest.raises(ValueError, match=r"\(batch, positions, 3\)"):
        tied.decode(np.zeros((2, 1, 2)))
