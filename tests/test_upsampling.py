"""course_utils.upsampling: layer shapes and padding, ICNR, the artifact measures, the explorer."""

import matplotlib

matplotlib.use("Agg")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from flax import nnx  # noqa: E402

from course_utils.core import deconv  # noqa: E402
from course_utils.part2 import checkerboard, checkerboard_lesson, upsampling as up  # noqa: E402


def rngs(seed=0):
    return nnx.Rngs(params=jax.random.key(seed, impl="rbg"))


@pytest.mark.parametrize("kind", up.UPSAMPLERS)
@pytest.mark.parametrize("size", [(4, 4), (3, 5)])
def test_every_layer_doubles_height_and_width_exactly(kind, size):
    layer = up.Upsample2x(kind, 3, 5, rngs=rngs())
    assert layer(jnp.ones((2, *size, 3))).shape == (2, 2 * size[0], 2 * size[1], 5)


@pytest.mark.parametrize("kind", up.UPSAMPLERS)
def test_generator_maps_a_4x4_code_to_32x32(kind):
    generator = up.UpsamplerStack(kind, rngs=rngs())
    assert generator(jnp.ones((1, 4, 4, up.STACK_CHANNELS[0]))).shape == (1, 32, 32, up.STACK_CHANNELS[-1])


@pytest.mark.parametrize("kernel", [3, 4])
def test_transposed_layer_is_the_full_painting_cropped_by_one(kernel):
    """The padding choice pinned: PyTorch padding=1 (output_padding=1 for k3) = full output minus its first row/column."""
    layer = up.Upsample2x(f"transposed k{kernel} s2", 2, 3, rngs=rngs(1))
    x = np.random.default_rng(0).normal(size=(5, 4, 2)).astype(np.float32)
    w = np.asarray(layer.conv.kernel[...]).transpose(0, 1, 3, 2)  # (kh, kw, out, in) -> (kh, kw, in, out)
    full = np.asarray(deconv.conv_transpose_2d(x, w, 2))
    got = np.asarray(layer(x[None]))[0] - np.asarray(layer.conv.bias[...])
    assert np.allclose(got, full[1:1 + 10, 1:1 + 8], atol=1e-5)


def test_resize_conv_is_nearest_resize_then_a_same_padded_conv():
    layer = up.Upsample2x("resize-conv", 2, 3, rngs=rngs(2))
    x = np.random.default_rng(1).normal(size=(1, 3, 4, 2)).astype(np.float32)
    resized = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    expected = jax.lax.conv_general_dilated(resized, layer.conv.kernel[...], (1, 1), ((1, 1), (1, 1)),
                                            dimension_numbers=("NHWC", "HWIO", "NHWC")) + layer.conv.bias[...]
    assert np.allclose(layer(x), expected, atol=1e-5)


def test_depth_to_space_puts_channel_group_dy_dx_at_sub_pixel_dy_dx():
    x = np.arange(2 * 3 * 4 * 8, dtype=np.float32).reshape(2, 3, 4, 8)  # 4 groups of 2 channels
    out = np.asarray(up.depth_to_space(x))
    assert out.shape == (2, 6, 8, 2)
    for dy in range(2):
        for dx in range(2):
            group = dy * 2 + dx
            assert np.array_equal(out[:, dy::2, dx::2, :], x[..., group * 2:(group + 1) * 2])


def test_icnr_first_layer_output_is_exactly_constant_on_2x2_blocks_and_default_is_not():
    code = np.random.default_rng(0).normal(size=(3, 4, 4, up.STACK_CHANNELS[0])).astype(np.float32)
    for kind, constant in [("sub-pixel ICNR", True), ("sub-pixel", False)]:
        generator = up.UpsamplerStack(kind, rngs=rngs(4))
        h = np.asarray(generator.stages[0](code))
        same = all(np.array_equal(h[:, dy::2, dx::2], h[:, ::2, ::2]) for dy in (0, 1) for dx in (0, 1))
        assert same == constant, kind
    kernel = np.asarray(up.UpsamplerStack("sub-pixel ICNR", rngs=rngs(4)).stages[1].conv.kernel[...])
    groups = np.split(kernel, 4, axis=-1)
    assert all(np.array_equal(g, groups[0]) for g in groups) and np.std(groups[0]) > 0


def test_icnr_copies_the_first_group():
    kernel = jnp.arange(3 * 3 * 2 * 8, dtype=jnp.float32).reshape(3, 3, 2, 8)
    tied = np.asarray(up.icnr(kernel))
    assert np.array_equal(tied[..., 2:4], kernel[..., :2]) and np.array_equal(tied[..., 6:8], kernel[..., :2])


def test_generator_images_are_deterministic_and_one_per_code():
    codes = up.sample_codes(3, seed=0)
    a = up.generator_images("transposed k3 s2", codes, seed=7)
    b = up.generator_images("transposed k3 s2", codes, seed=7)
    c = up.generator_images("transposed k3 s2", codes, seed=8)
    assert a.shape == (3, 32, 32) and np.array_equal(a, b) and not np.allclose(a, c)
    assert not np.allclose(a[0], a[1])
    constant = up.sample_codes(2, seed=0, constant=True)
    assert np.all(constant == constant[:, :1, :1])


def checker_image(h=8, w=8):
    return (-1.0) ** np.add.outer(np.arange(h), np.arange(w))


def test_measures_on_hand_made_images():
    assert np.isclose(checkerboard.nyquist_fraction(checker_image()), 1.0)
    assert np.isclose(checkerboard.parity_spread(checker_image()), 1.0)
    stripes = np.tile((-1.0) ** np.arange(8), (8, 1))  # alternating columns: on the Nyquist column
    assert np.isclose(checkerboard.nyquist_fraction(stripes), 1.0) and np.isclose(checkerboard.parity_spread(stripes), 1.0)
    for constant in (np.zeros((8, 8)), np.full((6, 4), 3.0)):
        assert checkerboard.nyquist_fraction(constant) == 0 and checkerboard.parity_spread(constant) == 0
        assert checkerboard.parity_variance_spread(constant) == 0
    smooth = np.cos(2 * np.pi * np.arange(32) / 32)[:, None] * np.ones((1, 32))  # one slow wave
    assert checkerboard.nyquist_fraction(smooth) < 1e-12 and checkerboard.parity_spread(smooth) < 1e-12
    # a blocky image (each value on a 2x2 block) has no energy on the Nyquist lines
    blocky = np.kron(np.random.default_rng(0).normal(size=(8, 8)), np.ones((2, 2)))
    assert checkerboard.nyquist_fraction(blocky) < 1e-12 and checkerboard.parity_spread(blocky) < 1e-12


def test_white_noise_gives_the_expected_fractions():
    noise = checkerboard.white_noise(400, 32, 32, seed=0)
    assert abs(checkerboard.nyquist_fraction(noise).mean() - checkerboard.white_noise_nyquist_fraction(32, 32)) < 0.004
    assert np.isclose(checkerboard.white_noise_nyquist_fraction(32, 32), 63 / 1023)
    assert abs(checkerboard.parity_spread(noise).mean() - 3 / 1023) < 0.0006
    assert 0.03 < checkerboard.parity_variance_spread(noise).mean() < 0.12


@pytest.mark.parametrize("period", [2, 3])
def test_parity_spread_is_the_energy_at_the_period_frequencies(period):
    images = np.random.default_rng(3).normal(size=(5, 12, 18))
    energy = np.abs(np.fft.fft2(images - images.mean(axis=(1, 2), keepdims=True))) ** 2
    rows = np.arange(12) % (12 // period) == 0
    cols = np.arange(18) % (18 // period) == 0
    fraction = energy[:, rows][:, :, cols].sum(axis=(1, 2)) / energy.sum(axis=(1, 2))
    assert np.allclose(checkerboard.parity_spread(images, period), fraction)


def test_parity_variance_spread_sees_unequal_class_variances():
    image = np.random.default_rng(0).normal(size=(32, 32))
    image[::2, ::2] *= 3.0  # one class varies 9x as much
    assert checkerboard.parity_variance_spread(image) > 1.0
    assert abs(checkerboard.parity_spread(image)) < 0.05


def test_subkernel_sums_of_ones_are_the_interior_overlap_counts():
    assert checkerboard.subkernel_sums(np.ones((3, 3))).tolist() == [[4, 2], [2, 1]]
    assert checkerboard.subkernel_sums(np.ones((4, 4))).tolist() == [[4, 4], [4, 4]]
    inner = deconv.interior_overlap_counts((6, 6), 3, 2)
    assert set(np.unique(inner)) == set(np.unique(checkerboard.subkernel_sums(np.ones((3, 3)))))
    assert checkerboard.subkernel_sums(np.ones((4, 4, 2, 3))).shape == (2, 2, 2, 3)


def test_artifact_table_rows_and_measures():
    table = checkerboard.artifact_table({"noise": checkerboard.white_noise(4, 8, 8, seed=0), "flat": np.zeros((3, 8, 8))})
    assert set(table) == {"noise", "flat"} and set(table["noise"]) == set(checkerboard.MEASURES)
    assert table["flat"]["Nyquist fraction"] == (0.0, 0.0)


def test_overlap_explorer_update_and_widget():
    _, artists = checkerboard_lesson.overlap_explorer_figure()
    shown = checkerboard_lesson.update_overlap_explorer(artists, 3, 2)
    assert np.array_equal(artists["counts"].get_array(), deconv.overlap_counts((4, 4), 3, 2))
    assert shown["ratio"] == 4 and shown["spread"] > 0
    assert artists["image"].get_array().shape == shown["image"].shape
    even = checkerboard_lesson.update_overlap_explorer(artists, 4, 2)
    assert even["ratio"] == 1 and artists["counts"].get_array().shape == (10, 10)
    gaps = checkerboard_lesson.update_overlap_explorer(artists, 1, 3)
    assert gaps["ratio"] == float("inf")
    assert checkerboard_lesson.overlap_explorer().children


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: up.Upsample2x("bilinear", 2, 2, rngs=rngs()), ValueError, "kind must be one of"),
        (lambda: up.Upsample2x("resize-conv", 0, 2, rngs=rngs()), ValueError, "in_features must be"),
        (lambda: up.Upsample2x("resize-conv", 2, 2, rngs=rngs())(jnp.ones((4, 4, 2))), ValueError,
         "(batch, height, width, channels)"),
        (lambda: up.UpsamplerStack("resize-conv", rngs=rngs(), channels=(4,)), ValueError, "at least 2"),
        (lambda: up.depth_to_space(jnp.ones((2, 2, 3))), ValueError, "multiple of block*block"),
        (lambda: up.icnr(jnp.ones((3, 3, 2))), ValueError, "kernel must have shape"),
        (lambda: up.icnr(jnp.ones((3, 3, 2, 6))), ValueError, "multiple of 4"),
        (lambda: checkerboard.nyquist_fraction(np.ones((7, 8))), ValueError, "multiples of 2"),
        (lambda: checkerboard.nyquist_fraction(np.ones(8)), ValueError, "(..., height, width)"),
        (lambda: checkerboard.parity_spread(np.ones((8, 8)), period=1), ValueError, "period must be"),
        (lambda: checkerboard.parity_spread([[np.nan, 1.0], [1.0, 1.0]]), ValueError, "finite"),
        (lambda: up.generator_images("sub-pixel", np.ones((2, 4, 4, 3)), seed=0), ValueError, "(n, 4, 4, 32)"),
        (lambda: up.generator_images("sub-pixel", np.ones((2, 4, 4, 32)), seed=-1), ValueError, "seed must be"),
        (lambda: checkerboard.artifact_table({}), TypeError, "non-empty dict"),
        (lambda: checkerboard.white_noise(0, 8, 8, seed=0), ValueError, "n must be"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_notebook_09_exercise_checks():
    assert checkerboard_lesson.check_overlap_image(None) is None
    assert checkerboard_lesson.check_overlap_image(deconv.overlap_counts((3, 3), 5, 2)) is True
    assert checkerboard_lesson.check_overlap_image(np.ones((9, 9))) is False
    assert checkerboard_lesson.check_interior_ratio(4) is True and checkerboard_lesson.check_interior_ratio(2) is False
    kernel = np.arange(16.0).reshape(4, 4)
    assert checkerboard_lesson.check_subkernel_sums(checkerboard.subkernel_sums(kernel), kernel) is True
    assert checkerboard_lesson.check_subkernel_sums(np.zeros((2, 2)), kernel) is False
    assert checkerboard_lesson.check_subkernel_sums(None, kernel) is None


def test_stage_outputs_end_in_the_generator_images():
    codes = up.sample_codes(2, seed=1)
    stages = up.generator_stage_outputs("resize-conv", codes, seed=3)
    assert [s.shape for s in stages] == [(2, 8, 8, 16), (2, 16, 16, 8), (2, 32, 32, 1)]
    assert np.array_equal(stages[-1][..., 0], up.generator_images("resize-conv", codes, seed=3))
    assert stages[0].min() >= 0 and stages[-1].min() < 0  # ReLU after every stage but the last


def test_separation_counts_the_overlap():
    measures = {k: {"Nyquist fraction": np.array([0.3, 0.4]), "parity spread": np.array([0.001, 0.2])}
                for k in checkerboard_lesson.CHECKERED}
    measures.update({k: {"Nyquist fraction": np.array([0.01, 0.02]), "parity spread": np.array([0.0, 0.002])}
                     for k in checkerboard_lesson.FIXED})
    s = checkerboard_lesson.separation(measures)
    assert (s["nyquist_lowest"], s["nyquist_highest"], s["parity_top_fixed"]) == (0.3, 0.02, 0.002)
    assert s["missed"] == 3 and s["checkered"] == 6 and np.isclose(s["parity_median_low"], 0.1005)
    with pytest.raises(TypeError, match="an entry for each"):
        checkerboard_lesson.separation({"resize-conv": {}})


def test_energy_share_spectrum_sums_to_one_and_puts_a_checkerboard_at_the_corners():
    share = checkerboard.energy_share_spectrum(checkerboard.white_noise(3, 8, 8, seed=0))
    assert share.shape == (9, 9) and np.isclose(share[:8, :8].sum(), 1.0) and share[4, 4] < 1e-20
    board = checkerboard.energy_share_spectrum(checker_image()[None])
    assert all(np.isclose(board[r, c], 1.0) for r in (0, 8) for c in (0, 8))  # frequency ±4 = Nyquist


def test_constant_input_response_interior_is_the_tiled_subkernel_sums():
    layer = up.Upsample2x("transposed k4 s2", 3, 2, rngs=rngs(5))
    r = checkerboard.constant_input_response(layer)
    assert r["kernel"].shape == (4, 4, 3, 2) and r["sums"].shape == (2, 2, 2) and r["painted"].shape == (8, 8, 2)
    assert np.allclose(r["painted"][2:6, 2:6], np.tile(r["sums"][::-1, ::-1], (2, 2, 1)), atol=1e-5)
    with pytest.raises(TypeError, match="transposed"):
        checkerboard.constant_input_response(up.Upsample2x("resize-conv", 3, 2, rngs=rngs()))


def test_subkernel_balance_sizes_follow_the_counts():
    keys = jax.random.split(jax.random.key(0, impl="rbg"), 8)
    k3 = checkerboard.subkernel_balance("transposed k3 s2", keys)
    assert k3["unevenness"].shape == (8,) and np.all(k3["unevenness"] > 0)
    square = k3["mean_square"]
    assert square[0, 0] > square[1, 1] * 2  # 4 taps against 1: about 4x the squared sum
    with pytest.raises(ValueError, match="kind must be one of"):
        checkerboard.subkernel_balance("resize-conv", keys)


def test_input_gradients_match_jax_grad_and_the_overlap_counts():
    kernels = np.random.default_rng(0).normal(size=(3, 3, 3)).astype(np.float32)
    output_grads = np.random.default_rng(1).normal(size=(3, 8, 8)).astype(np.float32)
    grads = checkerboard.input_gradients(kernels, output_grads)
    blank = jnp.zeros((16, 16))
    one = jax.grad(lambda x: (checkerboard.strided_conv(x, jnp.asarray(kernels[1])) * output_grads[1]).sum())(blank)
    assert np.allclose(grads["random output gradient"][1], one, atol=1e-5)
    ones = checkerboard.input_gradients(np.ones((1, 3, 3)), np.zeros((1, 8, 8)))["grad of sum, random kernel"][0]
    assert np.array_equal(ones, deconv.overlap_counts((8, 8), 3, 2)[:16, :16])
    with pytest.raises(ValueError, match="n = 3"):
        checkerboard.input_gradients(kernels, output_grads[:2])


def test_parity_class_variances_of_a_weighted_class():
    image = np.ones((4, 4))
    image[::2, ::2] = -3.0  # mean 0; class (even, even) has variance 9, the others 1
    assert np.allclose(checkerboard.parity_class_variances(image), [[9 / 3, 1 / 3, 1 / 3, 1 / 3]])


def test_format_table_and_figures_draw():
    table = checkerboard.artifact_table({"noise": checkerboard.white_noise(4, 8, 8, seed=0)})
    text = checkerboard_lesson.format_table(table)
    assert "noise" in text and "Nyquist fraction" in text and "±" in text
    images = {"noise": checkerboard.white_noise(4, 32, 32, seed=0), "flat": np.zeros((4, 32, 32))}
    for fig in (checkerboard_lesson.plot_overlap_counts([(3, 2), (7, 4)]), checkerboard_lesson.plot_generator_outputs(images),
                checkerboard_lesson.plot_subkernels(checkerboard.constant_input_response(up.Upsample2x("transposed k4 s2", 2, 1, rngs=rngs()))),
                checkerboard_lesson.plot_gradients({"a": np.ones((8, 8))}, {"noise": checkerboard.white_noise(3, 8, 8, seed=0)})):
        fig.canvas.draw()
        assert all(ax.get_title() or ax.get_label() == "<colorbar>" for ax in fig.axes)
        matplotlib.pyplot.close(fig)


def test_the_depth_to_space_exercise_accepts_every_right_answer():
    def with_jax(x):
        n, h, w, d = x.shape
        return jnp.reshape(jnp.transpose(jnp.reshape(x, (n, h, w, 2, 2, d // 4)), (0, 1, 3, 2, 4, 5)), (n, 2 * h, 2 * w, -1))

    def interleaved(x):  # channel k of a pixel to group k % 4: wrong
        n, h, w, d = x.shape
        return x.reshape(n, h, w, d // 4, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(n, 2 * h, 2 * w, d // 4)

    assert checkerboard_lesson.check_depth_to_space(checkerboard_lesson.solution("depth_to_space", show=False)) is True
    assert checkerboard_lesson.check_depth_to_space(with_jax) is True
    assert checkerboard_lesson.check_depth_to_space(None) is None
    assert checkerboard_lesson.check_depth_to_space(interleaved) is False
    assert checkerboard_lesson.check_depth_to_space(lambda x: x) is False
