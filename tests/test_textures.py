"""Textures from random multi-scale filters: the FFT features, Gram matrices, baselines and measures."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.part2 import textures as tx
from course_utils.part2 import textures_lesson

RNG = np.random.default_rng(0)


@settings(max_examples=15, deadline=None)
@given(size=st.sampled_from([8, 12, 16]), kernels=st.lists(st.sampled_from([1, 3, 5, 7]), min_size=1, max_size=3),
       seed=st.integers(0, 1000))
def test_fft_features_equal_a_direct_wrapped_correlation(size, kernels, seed):
    rng = np.random.default_rng(seed)
    image = rng.uniform(size=(size, size, 3)).astype(np.float32) - 0.5
    filters = tx.random_filters(kernels, 4, seed=seed)
    by_fft = tx.fft_features(image, tx.filter_spectra(filters, size))
    direct = tx.direct_features(image, filters)
    for a, b in zip(by_fft, direct, strict=True):
        assert a.shape == b.shape == (size, size, 4)
        assert np.allclose(a, b, atol=1e-5)


def test_the_filters_are_unit_length_and_the_features_a_correlation_centred_on_each_pixel():
    (w,) = tx.random_filters((3,), 2, seed=0)
    assert np.allclose((w**2).sum(axis=(0, 1, 2)), 1.0)
    image = np.zeros((9, 9, 3), np.float32)
    image[4, 4, 0] = 1.0  # one red dot in the middle: the features are the filter, mirrored, around it
    (features,) = tx.direct_features(image, (w,))
    assert np.allclose(features[3:6, 3:6, 0], np.maximum(w[::-1, ::-1, 0, 0], 0), atol=1e-6)


def test_gram_is_the_mean_product_of_channels_over_positions():
    features = RNG.standard_normal((4, 5, 3)).astype(np.float32)
    g = np.asarray(tx.gram(features))
    flat = features.reshape(20, 3)
    assert g.shape == (3, 3) and np.allclose(g, g.T)
    assert np.isclose(g[0, 2], (flat[:, 0] * flat[:, 2]).mean(), atol=1e-6)
    shuffled = flat[RNG.permutation(20)].reshape(4, 5, 3)
    assert np.allclose(tx.gram(shuffled), g, atol=1e-6), "a Gram matrix forgets where things are"


def test_target_statistics_use_only_positions_where_no_filter_wraps():
    image = RNG.uniform(size=(20, 20, 3)).astype(np.float32)
    filters = tx.random_filters((5,), 3, seed=2)
    (g,) = tx.texture_statistics(image, filters)
    (full,) = tx.direct_features(image - image.mean(axis=(0, 1)), filters)
    assert np.allclose(g, tx.gram(full[2:-2, 2:-2]), atol=1e-5)
    assert not np.allclose(g, tx.gram(full), atol=1e-5)


def test_phase_randomisation_keeps_the_power_spectrum_and_the_mean_colour():
    image = 0.5 + 0.05 * RNG.standard_normal((32, 32, 3)).astype(np.float32)  # far from 0 and 1: nothing clipped
    shuffled = tx.phase_randomised(image, seed=1)
    assert np.allclose(shuffled.mean(axis=(0, 1)), image.mean(axis=(0, 1)), atol=1e-5)
    for c in range(3):
        power = [np.abs(np.fft.fft2(x[..., c] - x[..., c].mean())) ** 2 for x in (image, shuffled)]
        assert np.allclose(power[0], power[1], rtol=1e-3, atol=1e-4)
    assert tx.spectrum_distance(image, shuffled) < 1e-3
    assert not np.allclose(image, shuffled)


def test_the_measures_are_zero_for_an_image_and_itself_and_large_for_different_ones():
    image = RNG.uniform(size=(32, 32, 3)).astype(np.float32)
    flat_red = np.zeros((32, 32, 3), np.float32)
    flat_red[..., 0] = 1.0
    assert tx.spectrum_distance(image, image) == 0 and tx.colour_distance(image, image) == 0
    assert tx.edge_strength_distance(image, image) == 0
    assert np.isclose(tx.ssim(image, image), 1.0) and np.isclose(tx.edge_correlation(image, image), 1.0)
    assert tx.colour_distance(image, flat_red) > 0.99
    assert tx.edge_strength_distance(image, flat_red + 0.0) > 0.9  # noise has strong edges everywhere, a flat image none
    assert tx.ssim(image, 1 - image) < 0


def test_matched_noise_has_the_mean_and_spread_of_each_colour():
    image = np.clip(RNG.normal([0.3, 0.5, 0.7], 0.05, size=(64, 64, 3)), 0, 1).astype(np.float32)
    noise = tx.matched_noise(image, seed=3)
    assert np.allclose(noise.mean(axis=(0, 1)), image.mean(axis=(0, 1)), atol=0.01)
    assert np.allclose(noise.std(axis=(0, 1)), image.std(axis=(0, 1)), atol=0.01)


def test_synthesis_lowers_the_gram_error_and_stays_an_image():
    yy, xx = np.mgrid[:32, :32]
    stripes = np.repeat(((xx + yy) // 4 % 2)[..., None], 3, axis=2).astype(np.float32) * 0.8 + 0.1
    filters = tx.random_filters((3, 7), 8, seed=0)
    images, losses = tx.synthesise(stripes[None], filters, steps=40, size=32)
    assert images.shape == (1, 32, 32, 3) and losses.shape == (1, 40)
    assert images.min() >= 0 and images.max() <= 1
    assert losses[0, -1] < 0.3 * losses[0, 0]


def test_transfer_with_no_style_weight_keeps_the_content_and_a_large_one_moves_towards_the_style():
    content = RNG.uniform(0.2, 0.8, size=(16, 16, 3)).astype(np.float32)
    style = np.zeros((16, 16, 3), np.float32)
    style[..., 2] = RNG.uniform(0.6, 1.0, size=(16, 16))  # blue
    # Several weights in one batch: the content's features must be computed like the image's,
    # or weight 0's zero gradient becomes rounding noise that Adam scales up to full steps.
    out = tx.transfer(content, style, tx.random_filters((3, 5), 6, seed=1), [0.0, 1.0, 10.0, 100.0], steps=30)
    assert np.array_equal(out[0], content)
    assert tx.colour_distance(style, out[-1]) < tx.colour_distance(style, content)


def test_crop_averages_blocks_and_scales_bytes_to_one():
    image = np.zeros((10, 10, 3), np.uint8)
    image[0, 0] = 255
    patch = tx.crop(image, 0, 0, size=4, shrink=2)
    assert patch.shape == (2, 2, 3) and np.isclose(patch[0, 0, 0], 0.25) and patch[1, 1, 0] == 0
    with pytest.raises(ValueError, match="does not fit"):
        tx.crop(image, 8, 0, size=4)


def test_the_gram_exercise_accepts_every_right_answer_and_says_what_is_wrong(capsys):
    def with_einsum(features):
        h, w, _ = features.shape
        return np.einsum("xyi,xyj->ij", features, features) / (h * w)

    assert textures_lesson.check_gram(textures_lesson.solution("gram", show=False)) is True
    assert textures_lesson.check_gram(with_einsum) is True
    assert textures_lesson.check_gram(None) is None
    assert textures_lesson.check_gram(lambda f: with_einsum(f) * f.shape[0] * f.shape[1]) is False
    assert "divide by the number of positions" in capsys.readouterr().out
    assert textures_lesson.check_gram(lambda f: f.sum()) is False


def test_the_style_explorer_shows_the_nearest_computed_weight():
    content, style, weights, results = textures_lesson.example_inputs()
    fig, artists = textures_lesson.style_explorer_figure(content, style)
    assert textures_lesson.update_style_explorer(artists, content, style, weights, results, 0.9) == 3  # 10**0.9 ~ 8 -> 10
    assert textures_lesson.update_style_explorer(artists, content, style, weights, results, -1.5) == 0  # 0.03 -> 0
    assert np.allclose(artists["result"].get_array(), np.clip(results[0], 0, 1))
    assert "nearest computed weight 0" in artists["title"].get_text()
