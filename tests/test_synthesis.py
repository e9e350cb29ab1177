"""course_utils.synthesis: the measures, the regularisers, ascent, inversion, patches and the explorer."""

import matplotlib

matplotlib.use("Agg")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from flax import nnx  # noqa: E402

from course_utils.part2 import cnn, judge_cnn, shapes, synthesis, synthesis_lesson  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return cnn.ShapeCNN(rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def images():
    return shapes.make_dataset(6, seed=3)[0]


def test_high_frequency_share_of_known_patterns():
    y, x = np.mgrid[:32, :32]
    checker = ((x + y) % 2).astype(float)
    slow = np.cos(2 * np.pi * x / 16)          # 1/16 cycle per pixel: all below the cutoff
    fast = np.cos(2 * np.pi * 3 * x / 8)       # 3/8 cycle per pixel: all above it
    share = synthesis.high_frequency_share(np.stack([checker, slow, fast, np.ones((32, 32))]))
    assert np.allclose(share, [1, 0, 1, 0], atol=1e-9)
    noise = np.random.default_rng(0).normal(size=(200, 32, 32, 1))
    # White noise spreads evenly: the share is the area outside the circle of radius 0.25, 1 - pi/16.
    assert abs(synthesis.high_frequency_share(noise).mean() - (1 - np.pi / 16)) < 0.02
    with pytest.raises(ValueError, match="shape"):
        synthesis.high_frequency_share(np.zeros((2, 32, 16)))


def test_total_variation_and_blur():
    checker = (np.add.outer(np.arange(8), np.arange(8)) % 2).astype(np.float32)[None, ..., None]
    assert np.allclose(synthesis.total_variation(jnp.asarray(checker)), 2.0)
    flat = jnp.full((2, 16, 16, 1), 0.3)
    assert np.allclose(synthesis.gaussian_blur(flat, 1.0), 0.3, atol=1e-6), "a flat image stays flat"
    impulse = jnp.zeros((1, 16, 16, 1)).at[0, 8, 8, 0].set(1.0)
    assert np.allclose(synthesis.gaussian_blur(impulse, 0.0), impulse), "sigma 0 changes nothing"
    blurred = np.asarray(synthesis.gaussian_blur(impulse, 1.0))[0, ..., 0]
    assert np.isclose(blurred.sum(), 1.0, atol=1e-5) and blurred[8, 8] < 0.2 and np.allclose(blurred, blurred.T)
    assert synthesis.total_variation(jnp.asarray(blurred)[None, ..., None]) < synthesis.total_variation(impulse)


def test_percentile_mask_clips_the_requested_share():
    values = jnp.asarray(np.random.default_rng(1).random((3, 32, 32, 1)), jnp.float32)
    for q in (0.0, 20.0, 50.0):
        mask = np.asarray(synthesis._percentile_mask(values, jnp.full((3,), q)))
        assert np.allclose(mask.mean(axis=(1, 2, 3)), q / 100, atol=2 / 1024)


def test_regularisers_are_checked():
    with pytest.raises(ValueError, match="decay"):
        synthesis.Regularisers(decay=1.0)
    with pytest.raises(ValueError, match="blur_sigma"):
        synthesis.Regularisers(blur_sigma=5.0)
    with pytest.raises(ValueError, match="norm_percentile"):
        synthesis.Regularisers(norm_percentile=100.0)
    with pytest.raises(TypeError, match="jitter"):
        synthesis.Regularisers(jitter=1.5)


def test_maximise_raises_its_target_and_regularisers_smooth(model):
    start = synthesis.maximise(model, np.arange(5), steps=1, step_size=0.0)
    climbed = synthesis.maximise(model, np.arange(5), steps=60, step_size=0.04)
    regularised = synthesis.maximise(model, np.arange(5), steps=60, step_size=0.04,
                                     regularisers=synthesis.VARIANTS["all four"])
    classes = np.arange(5)
    before = np.asarray(model(jnp.asarray(start)))[classes, classes]
    after = np.asarray(model(jnp.asarray(climbed)))[classes, classes]
    assert (after > before + 0.5).all(), "ascent should raise every class's own score"
    assert climbed.shape == (5, 32, 32, 1) and climbed.min() >= 0 and climbed.max() <= 1
    assert synthesis.high_frequency_share(regularised).mean() < synthesis.high_frequency_share(climbed).mean()
    again = synthesis.maximise(model, np.arange(5), steps=60, step_size=0.04)
    assert np.array_equal(again, climbed), "the same seed should give the same images"
    # A channel of layer 2 climbs too; one image gives the same result as inside a batch (padding is inert).
    unit = synthesis.maximise(model, [3], layer="act2", steps=30)
    both = synthesis.maximise(model, [3, 5], layer="act2", steps=30)
    mean3 = lambda x: float(np.asarray(model.features(jnp.asarray(x), upto="act2")["act2"])[..., 3].mean())
    assert mean3(unit) > mean3(synthesis.maximise(model, [3], layer="act2", steps=1, step_size=0.0))
    assert np.allclose(unit[0], both[0], atol=1e-5)


def test_maximise_refuses_bad_arguments(model):
    with pytest.raises(ValueError, match="layer"):
        synthesis.maximise(model, [0], layer="conv9")
    with pytest.raises(ValueError, match="targets"):
        synthesis.maximise(model, [-1])
    with pytest.raises(TypeError, match="regularisers"):
        synthesis.maximise(model, [0, 1], regularisers=[synthesis.Regularisers()])
    with pytest.raises(TypeError, match="model"):
        synthesis.maximise("model", [0])


def test_inversion_error_and_tv(model, images):
    x = images[:2]
    exact = synthesis.invert(model, x, layer="act1", steps=150, learning_rate=0.05)
    deep = synthesis.invert(model, x, layer="pool2", steps=150, learning_rate=0.05)
    smooth = synthesis.invert(model, x, layer=["pool2", "pool2"], tv_weight=[1.0, 1.0], steps=150,
                              learning_rate=0.05)
    assert synthesis.relative_error(exact, x).max() < 0.2, "layer 1 keeps nearly the whole image"
    assert synthesis.relative_error(deep, x).mean() > synthesis.relative_error(exact, x).mean()
    assert synthesis.high_frequency_share(smooth).mean() < synthesis.high_frequency_share(deep).mean()
    assert np.allclose(synthesis.relative_error(x, x), 0)
    with pytest.raises(ValueError, match="layer"):
        synthesis.invert(model, x, layer=["act1"])
    with pytest.raises(ValueError, match="tv_weight"):
        synthesis.invert(model, x, layer="act1", tv_weight=-1.0)


def test_receptive_fields_match_an_impulse(model):
    # Perturb one input pixel: exactly the units whose receptive field holds it may change.
    x = jnp.asarray(shapes.make_dataset(1, seed=5)[0])
    for layer in ("act1", "act2"):
        size, stride = cnn.receptive_field(layer)
        conv = "conv1" if layer == "act1" else "conv2"
        base = np.asarray(model.features(x, upto=conv)[conv])[0]
        row, col = 13, 18
        moved = np.asarray(model.features(x.at[0, row, col, 0].add(0.5), upto=conv)[conv])[0]
        changed = np.abs(moved - base).max(axis=-1) > 1e-6
        for i, j in zip(*np.nonzero(changed)):
            r0, c0 = cnn.patch_origin(layer, int(i), int(j))
            assert r0 <= row < r0 + size and c0 <= col < c0 + size, (layer, i, j)
    assert cnn.receptive_field("act2") == (10, 2)


def test_top_patches(model, images):
    gallery = cnn.top_patches(model, images, "act1", 2, k=4)
    maps = cnn.layer_maps(model, images, "act1")[..., 2]
    assert np.allclose(gallery.activations, np.sort(maps.max(axis=(1, 2)))[::-1][:4])
    assert gallery.patches.shape == (4, 5, 5) and len(set(gallery.images.tolist())) == 4
    i, (r, c) = gallery.images[0], gallery.positions[0]
    r0, c0 = cnn.patch_origin("act1", int(r), int(c))
    padded = np.pad(images[i, ..., 0], 5)
    assert np.array_equal(gallery.patches[0], padded[r0 + 5:r0 + 10, c0 + 5:c0 + 10])
    with pytest.raises(ValueError, match="channel"):
        cnn.top_patches(model, images, "act2", 16)


def test_judge_and_probabilities(images):
    judge = judge_cnn.JudgeCNN(rngs=nnx.Rngs(3))
    p = judge_cnn.probabilities(judge, images)
    assert p.shape == (len(images), shapes.N_CLASSES) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    assert np.allclose(judge_cnn.probabilities(judge, images[:1]), p[:1], atol=1e-6)


def test_explorer_update_draws_and_returns_the_image():
    model, judge = synthesis_lesson.example_models()
    fig, artists = synthesis_lesson.synthesis_explorer_figure()
    image = synthesis_lesson.update_synthesis_explorer(artists, model, judge, "act2 channel 4", 0.01, 0.5, 20.0, 1)
    assert image.shape == (32, 32, 1)
    assert np.array_equal(artists["image"].get_array(), image[..., 0])
    assert np.isclose(sum(b.get_height() for b in artists["judge"]), 1, atol=1e-5)
    assert "act2 channel 4" in artists["title"].get_text()
    assert synthesis_lesson.explorer_target("class: ring") == ("logits", 4)
    with pytest.raises(ValueError, match="target"):
        synthesis_lesson.explorer_target("class: star")
    widget = synthesis_lesson.synthesis_explorer(model, judge)
    assert widget.children[1].outputs, "the explorer should show its first picture"


def test_inversion_loss_is_what_invert_lowers(model, images):
    x0 = images[:3]
    assert np.allclose(synthesis.inversion_loss(model, x0, x0, layer="pool2"), 0, atol=1e-6), "x0 matches itself"
    grey = np.full_like(x0, x0.mean())
    # Written out: ||phi(x) - phi0||^2 / ||phi0||^2 + tv * TV(x), layers and weights one per image.
    layers, tv = ["act1", "pool1", "act2"], np.array([0.0, 0.5, 2.0], np.float32)
    feats = lambda x, name: np.asarray(model.features(jnp.asarray(x), upto="pool2")[name], np.float64)
    by_hand = [((feats(grey[i:i + 1], l) - feats(x0[i:i + 1], l)) ** 2).sum() / (feats(x0[i:i + 1], l) ** 2).sum()
               + tv[i] * float(synthesis.total_variation(grey[i:i + 1])[0]) for i, l in enumerate(layers)]
    assert np.allclose(synthesis.inversion_loss(model, grey, x0, layer=layers, tv_weight=tv), by_hand, rtol=1e-4)
    rebuilt = synthesis.invert(model, x0, layer="act2", tv_weight=0.1, steps=40, learning_rate=0.05)
    start = synthesis.inversion_loss(model, grey, x0, layer="act2", tv_weight=0.1)
    assert (synthesis.inversion_loss(model, rebuilt, x0, layer="act2", tv_weight=0.1) < start).all()
    with pytest.raises(ValueError, match="x and originals"):
        synthesis.inversion_loss(model, grey[:2], x0, layer="act1")
    with pytest.raises(ValueError, match="layer"):
        synthesis.inversion_loss(model, grey, x0, layer="logits")


def test_shifted_step_uses_the_gradient_at_the_unshifted_image(model):
    # With jitter, one step must equal a plain step whose gradient is d/dx score(roll(x, s)) for some
    # shift s in [-2, 2]^2: autodiff already puts that gradient back in x's frame.
    regs = synthesis.Regularisers(jitter=2)
    for seed in (1, 2):
        start = synthesis.maximise(model, [2], steps=1, step_size=0.0, seed=seed)[0, ..., 0]
        got = synthesis.maximise(model, [2], regularisers=regs, steps=1, step_size=0.04, seed=seed)[0, ..., 0]

        def step(shift):
            g = jax.grad(lambda im: model(jnp.roll(im, shift, axis=(0, 1))[None, ..., None])[0, 2])(jnp.asarray(start))
            return np.clip(start + 0.04 * g / (jnp.sqrt((g ** 2).mean()) + 1e-8), 0, 1)

        gaps = [np.abs(step((a, b)) - got).max() for a in range(-2, 3) for b in range(-2, 3)]
        assert min(gaps) < 1e-5, f"seed {seed}: no shift explains the step (closest {min(gaps):.2g})"


def test_high_frequency_share_exercise():
    solution = synthesis_lesson.solution("high_frequency_share", show=False)
    assert synthesis_lesson.check_high_frequency_share(solution) is True
    assert synthesis_lesson.check_high_frequency_share(None) is None

    def mean_kept(images):
        f = np.fft.fftfreq(images.shape[1])
        power = np.abs(np.fft.fft2(images)) ** 2
        return power[:, np.hypot(f[:, None], f[None, :]) > 0.25].sum(axis=1) / power.sum(axis=(1, 2))

    assert synthesis_lesson.check_high_frequency_share(mean_kept) is False
