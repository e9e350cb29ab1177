"""Tests for course_utils.gan: digits, the two generators and the discriminator, the GAN
loss, and the measures that judge samples (notebook 10)."""

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest
from flax import nnx

from course_utils.core import training
from course_utils.part2 import gan, gan_lesson

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def models():
    return {kind: gan.GAN(kind, rngs=nnx.Rngs(0)) for kind in gan.KINDS}


# --- data --------------------------------------------------------------------------

def test_digits_are_scaled_to_minus_one_one_with_labels():
    images, labels = gan.digits()
    assert images.shape == (1797, 8, 8, 1) and images.dtype == np.float32
    assert labels.shape == (1797,) and set(labels.tolist()) == set(range(10))
    assert images.min() == -1.0 and images.max() == 1.0
    # 16 grey levels plus 0: every value is level / 8 - 1 for an integer level
    levels = (images + 1) * 8
    assert np.allclose(levels, np.round(levels))


def test_scale_digits_maps_grey_levels_and_rejects_others():
    assert np.allclose(gan.scale_digits([0, 4, 8, 16]), [-1, -0.5, 0, 1])
    with pytest.raises(ValueError, match="grey levels in 0..16"):
        gan.scale_digits([17])
    with pytest.raises(ValueError, match="grey levels in 0..16"):
        gan.scale_digits([-1, 3])
    with pytest.raises(ValueError, match="empty"):
        gan.scale_digits([])


def test_split_is_a_partition_and_deterministic():
    train, held = gan.split(100, 0.25, seed=3)
    assert len(held) == 25 and len(train) == 75
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(100))
    again = gan.split(100, 0.25, seed=3)
    assert np.array_equal(train, again[0]) and np.array_equal(held, again[1])
    with pytest.raises(ValueError, match="fraction in"):
        gan.split(100, 1.0)


# --- models --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", gan.KINDS)
def test_generator_maps_latents_to_digits_in_range(models, kind):
    z = gan.latents(5, seed=0)
    out = gan.generate(models[kind].generator, z)
    assert out.shape == (5, gan.DIGIT_SIZE, gan.DIGIT_SIZE, 1)
    assert np.all(np.abs(out) <= 1)
    # evaluation mode: a digit does not depend on the other latents in its batch
    assert np.allclose(gan.generate(models[kind].generator, z[:1]), out[:1], atol=1e-6)


def test_both_generators_have_the_same_parameter_sizes(models):
    # (a transposed kernel with transpose_kernel=True is stored as (kh, kw, out, in))
    sizes = {kind: sorted(p.size for p in jax.tree.leaves(nnx.state(m.generator, nnx.Param)))
             for kind, m in models.items()}
    assert sizes[gan.KINDS[0]] == sizes[gan.KINDS[1]]


def test_discriminator_gives_one_logit_per_digit(models):
    images, _ = gan.digits()
    logits = models[gan.KINDS[0]].discriminator(jnp.asarray(images[:7]))
    assert logits.shape == (7,)
    with pytest.raises(ValueError, match=r"shape \(n, 8, 8, 1\)"):
        models[gan.KINDS[0]].discriminator(jnp.zeros((2, 8, 8)))


def test_unknown_kind_and_bad_latents_are_rejected(models):
    with pytest.raises(ValueError, match="kind must be one of"):
        gan.GAN("bilinear", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="16 numbers per row"):
        gan.generate(models[gan.KINDS[0]].generator, np.zeros((2, 3)))
    with pytest.raises(TypeError, match="gan.Generator"):
        gan.generate(models[gan.KINDS[0]], np.zeros((2, 16)))


def test_gan_loss_gives_both_players_their_cross_entropy(models):
    images, _ = gan.digits()
    values = gan.gan_loss(models[gan.KINDS[0]], jnp.asarray(images[:16]), jax.random.key(0))
    assert set(values) == set(gan.PLAYERS)
    # at initialisation D outputs logits near 0: losses near 2 ln 2 and ln 2
    assert abs(float(values["discriminator"]) - 2 * np.log(2)) < 0.1
    assert abs(float(values["generator"]) - np.log(2)) < 0.1


def test_generator_loss_is_the_non_saturating_cross_entropy(models):
    logits = jnp.array([-30.0, -2.0, 0.0, 2.0, 30.0])
    # -log sigmoid(l), written out; stable here in float64
    expected = np.mean(np.log1p(np.exp(-np.asarray(logits, np.float64))))
    assert float(gan.generator_loss(logits)) == pytest.approx(expected, rel=1e-6)
    assert float(gan.generator_loss(jnp.zeros(3))) == pytest.approx(np.log(2))
    # large for confident rejections (the gradient does not vanish), near 0 for acceptances
    grad = jax.grad(gan.generator_loss)(jnp.array([-20.0]))
    assert float(gan.generator_loss(jnp.array([-20.0]))) == pytest.approx(20.0, rel=1e-6) and float(grad[0]) == pytest.approx(-1.0)
    # gan_loss uses it on the discriminator's logits for the samples
    images, _ = gan.digits()
    model, key = models[gan.KINDS[1]], jax.random.key(3)
    fake = model.generator(jax.random.normal(key, (16, gan.LATENT)))
    assert float(gan.gan_loss(model, jnp.asarray(images[:16]), key)["generator"]) == pytest.approx(
        float(gan.generator_loss(model.discriminator(fake))), rel=1e-6)
    with pytest.raises(ValueError, match="fake_logits"):
        gan.generator_loss(jnp.zeros((2, 1)))
    assert float(jax.jit(gan.generator_loss)(jnp.zeros(2))) == pytest.approx(np.log(2))


def test_a_few_adversarial_steps_train_both_players():
    images, _ = gan.digits()
    config = training.TrainConfig(steps=3, batch_size=8, learning_rate=2e-4, b1=0.5, players=gan.PLAYERS,
                                  snapshot_every=3)
    result = training.train(lambda rngs: gan.GAN(gan.KINDS[1], rngs=rngs), images[:64], seeds=[0], config=config,
                            loss=gan.gan_loss, progress=False)
    assert result.losses.shape == (1, 3, 2) and np.all(np.isfinite(result.losses))
    samples = gan.snapshot_samples(result, gan.latents(4))
    assert samples.shape == (2, 1, 4, 8, 8, 1)
    assert not np.allclose(samples[0], samples[1]), "three Adam steps should change the generator"


# --- judging samples ---------------------------------------------------------------------

def test_frechet_distance_of_identical_sets_is_zero_and_of_shifted_sets_the_squared_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 8, 8, 1))
    assert gan.frechet_distance(a, a) == pytest.approx(0, abs=1e-8)
    shift = rng.normal(size=(8, 8, 1))
    assert gan.frechet_distance(a, a + shift) == pytest.approx((shift**2).sum(), rel=1e-6)


def test_frechet_distance_matches_the_textbook_formula():
    import scipy.linalg

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(400, 6)), 1.5 * rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 0.3
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * scipy.linalg.sqrtm(ca @ cb).real)
    assert gan.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same size"):
        gan.frechet_distance(np.zeros((5, 4)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        gan.frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="finite"):
        gan.frechet_distance(np.full((3, 4), np.nan), np.zeros((5, 4)))


def test_class_coverage_on_known_labels():
    collapsed = gan.class_coverage(np.array([1, 7] * 50))
    assert collapsed.classes == 2 and collapsed.largest_share == 0.5
    assert collapsed.shares[1] == collapsed.shares[7] == 0.5
    even = gan.class_coverage(np.repeat(np.arange(10), 10), confidence=np.full(100, 0.8))
    assert even.classes == 10 and even.largest_share == pytest.approx(0.1) and even.confidence == pytest.approx(0.8)
    # one stray sample in 100 is below the 2 % needed to count as a class
    stray = gan.class_coverage(np.array([3] * 99 + [5]))
    assert stray.classes == 1 and stray.largest_share == pytest.approx(0.99)


def test_class_coverage_rejects_bad_labels():
    with pytest.raises(ValueError, match="integers in 0..9"):
        gan.class_coverage(np.array([0, 10]))
    with pytest.raises(ValueError, match="integers in 0..9"):
        gan.class_coverage(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="one probability per label"):
        gan.class_coverage(np.array([1, 2]), confidence=np.ones(3))
    with pytest.raises(ValueError, match="fraction"):
        gan.class_coverage(np.array([1, 2]), min_share=0)


def test_classifier_judges_real_digits_well_and_noise_unsurely():
    images, labels = gan.digits()
    train, held = gan.split(len(images))
    classifier = gan.train_classifier(images[train], labels[train])
    real, noise = gan.judge(classifier, images[held]), gan.judge(classifier, gan.uniform_noise(500))
    assert real.classes == 10 and real.confidence > noise.confidence + 0.2
    with pytest.raises(ValueError, match="one class per image"):
        gan.train_classifier(images[:10], labels[:9])


def test_nearest_distances_find_the_nearest_reference():
    reference = np.array([[0.0, 0.0], [3.0, 4.0]])
    d = gan.nearest_distances(np.array([[0.0, 0.0], [3.0, 5.0], [6.0, 8.0]]), reference)
    assert np.allclose(d, [0.0, 1.0, 5.0])
    with pytest.raises(ValueError, match="same size"):
        gan.nearest_distances(np.zeros((2, 3)), reference)


def test_smoothed_is_a_moving_average():
    assert np.allclose(gan.smoothed(np.arange(6.0), 3), [1, 2, 3, 4])
    with pytest.raises(ValueError, match="must not exceed"):
        gan.smoothed(np.arange(3.0), 5)


# --- explorer, animation, exercises ----------------------------------------------------------

def test_latent_explorer_update_draws_the_generated_digit(models):
    images, labels = gan.digits()
    classifier = gan.train_classifier(images[:300], labels[:300])
    generator = models[gan.KINDS[0]].generator
    _, artists = gan_lesson.digit_latent_figure()
    digit = gan_lesson.update_digit_latent(artists, generator, classifier, 1.0, -2.0)
    u, v = gan_lesson.latent_directions(0)
    assert np.allclose(digit, gan.generate(generator, (1.0 * u - 2.0 * v)[None])[0])
    assert np.allclose(artists["image"].get_array(), digit[..., 0])
    assert sum(bar.get_height() for bar in artists["bars"]) == pytest.approx(1.0)


def test_latent_circle_has_typical_length_and_directions_are_orthonormal():
    u, v = gan_lesson.latent_directions(4)
    assert np.allclose([u @ u, v @ v, u @ v], [1, 1, 0], atol=1e-6)
    circle = gan_lesson.latent_circle(12)
    assert circle.shape == (12, gan.LATENT)
    assert np.allclose(np.linalg.norm(circle, axis=1), np.sqrt(gan.LATENT), atol=1e-5)


def test_digit_grid_title_clears_the_labels():
    import matplotlib.pyplot as plt

    images, labels = gan.digits()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    gan_lesson.digit_grid(ax, images[:30], labels=labels[:30], title="t")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title = ax.title.get_window_extent(renderer)
    label_tops = [t.get_window_extent(renderer) for t in ax.texts]
    assert all(title.y0 >= box.y1 - 1e-6 or title.x1 < box.x0 or title.x0 > box.x1 for box in label_tops), \
        "the title must sit above the top row's labels"
    plt.close(fig)


def test_latent_walk_animation_is_an_offline_player(models):
    images, labels = gan.digits()
    classifier = gan.train_classifier(images[:300], labels[:300])
    html = gan_lesson.latent_walk_animation(models[gan.KINDS[0]].generator, classifier, gan_lesson.latent_circle(3))
    assert html.count("<img ") == 3 and "http" not in html


def test_exercise_checks_accept_right_and_reject_wrong_answers():
    assert gan_lesson.check_scaled_grey_level(-0.5) is True
    assert gan_lesson.check_scaled_grey_level(0.5) is False
    assert gan_lesson.check_shifted_frechet(16.0) is True
    assert gan_lesson.check_shifted_frechet(4.0) is False
    assert gan_lesson.check_windows_over_pixel((2, 4)) is True
    assert gan_lesson.check_windows_over_pixel((1, 2)) is False
    assert gan_lesson.check_collapsed_coverage((2, 0.5)) is True
    assert gan_lesson.check_collapsed_coverage((10, 0.1)) is False
    assert gan_lesson.check_collapsed_coverage(None) is None


def test_generator_loss_check_accepts_any_correct_form_and_explains_wrong_ones(capsys):
    import optax

    right = [lambda l: jax.nn.softplus(-l).mean(), lambda l: -jax.nn.log_sigmoid(l).mean(),
             lambda l: optax.sigmoid_binary_cross_entropy(l, jnp.ones_like(l)).mean(),
             lambda l: np.mean(np.logaddexp(0, -np.asarray(l, np.float64)))]
    for f in right:
        assert gan_lesson.check_generator_loss(f) is True
    assert gan_lesson.check_generator_loss(lambda l: -jax.nn.softplus(l).mean()) is False  # saturating form
    assert "saturating" in capsys.readouterr().out
    assert gan_lesson.check_generator_loss(lambda l: jax.nn.softplus(-l).sum()) is False
    assert "mean" in capsys.readouterr().out
    assert gan_lesson.check_generator_loss(lambda l: jax.nn.softplus(l).mean()) is False  # label "fake"
    assert "sign" in capsys.readouterr().out
    assert gan_lesson.check_generator_loss(None) is None


@pytest.mark.parametrize("name", ["scaled_grey_level", "shifted_frechet", "windows_over_pixel", "collapsed_coverage",
                                  "generator_loss"])
def test_worked_solutions_pass_their_checks(name):
    assert getattr(gan_lesson, f"check_{name}")(gan_lesson.solution(name, show=False)) is True
