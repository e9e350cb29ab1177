"""Tests for course_utils.sanity (Adebayo et al.'s sanity checks) and course_utils.attribution_explorer."""

import numpy as np
import pytest
from flax import nnx
from scipy import stats

from course_utils.part2 import attribution, attribution_lesson, cnn, sanity, shapes


@pytest.fixture(scope="module")
def model():
    return cnn.ShapeCNN(rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def data():
    images, labels, masks = shapes.make_dataset(6, seed=3)
    return images, labels, masks


@pytest.fixture(scope="module")
def maps(model, data):
    images, labels, _ = data
    return sanity.attribution_maps(model, images, labels)


# --- attribution_maps ------------------------------------------------------------

def test_attribution_maps_match_the_attribution_functions(model, data, maps):
    images, labels, _ = data
    assert list(maps) == list(sanity.METHODS)
    assert all(m.shape == (6, 32, 32) and m.dtype == np.float32 for m in maps.values())
    np.testing.assert_allclose(maps["saliency"], attribution.saliency(model, images, labels), atol=1e-5)
    guided = attribution.gradient(lambda x: model(x, activation=attribution.guided_relu), images, labels)[..., 0]
    np.testing.assert_allclose(maps["guided backprop"], guided, atol=1e-5)
    deconvnet = attribution.gradient(lambda x: model(x, activation=attribution.deconvnet_relu), images, labels)[..., 0]
    np.testing.assert_allclose(maps["deconvnet"], deconvnet, atol=1e-5)
    ig = attribution.integrated_gradients(model, images, labels, steps=sanity.IG_STEPS)
    np.testing.assert_allclose(maps["integrated gradients"], ig, atol=1e-5)
    occ = attribution.occlusion(model, images, labels, patch=sanity.OCCLUSION_PATCH, stride=sanity.OCCLUSION_STRIDE)
    np.testing.assert_allclose(maps["occlusion"], occ, atol=1e-5)


def test_attribution_maps_of_one_image_do_not_depend_on_the_batch(model, data, maps):
    images, labels, _ = data
    alone = sanity.attribution_maps(model, images[2:3], labels[2:3], methods=("occlusion", "gradient x input"))
    assert list(alone) == ["occlusion", "gradient x input"]
    np.testing.assert_allclose(alone["occlusion"][0], maps["occlusion"][2], atol=1e-5)


def test_attribution_maps_validates(model, data):
    images, labels, _ = data
    with pytest.raises(TypeError, match="ShapeCNN"):
        sanity.attribution_maps(lambda x: x, images, labels)
    with pytest.raises(ValueError, match="method"):
        sanity.attribution_maps(model, images, labels, methods=("grad-cam",))
    with pytest.raises(ValueError, match="at least one"):
        sanity.attribution_maps(model, images, labels, methods=())
    with pytest.raises(ValueError, match="classes"):
        sanity.attribution_maps(model, images, labels[:3])
    with pytest.raises(TypeError, match="classes must hold integers"):
        sanity.attribution_maps(model, images, labels.astype(float))


# --- the changed models ------------------------------------------------------------

def test_cascade_reinitialises_from_the_top_and_keeps_the_draws(model):
    stages = sanity.cascading_randomisation(model, seed=7)
    assert [label for label, _ in stages] == ["head", "head+conv2", "head+conv2+conv1"]
    for k, (_, changed) in enumerate(stages):
        layers = sanity.CASCADE[k]
        for name in cnn.PARAM_LAYERS:
            same = np.array_equal(getattr(changed, name).kernel[...], getattr(model, name).kernel[...])
            assert same == (name not in layers), (k, name)
    # a layer re-initialised at one stage keeps its random weights at the next
    np.testing.assert_array_equal(stages[0][1].head.kernel[...], stages[2][1].head.kernel[...])
    np.testing.assert_array_equal(stages[1][1].conv2.kernel[...], stages[2][1].conv2.kernel[...])


def test_shuffled_labels_keep_the_counts_and_break_the_order():
    labels = np.arange(100) % 5
    shuffled = sanity.shuffled_labels(labels, seed=0)
    assert np.array_equal(np.bincount(shuffled), np.bincount(labels))
    assert (shuffled != labels).mean() > 0.5
    assert np.array_equal(shuffled, sanity.shuffled_labels(labels, seed=0))
    with pytest.raises(ValueError, match="shape"):
        sanity.shuffled_labels(labels.reshape(10, 10), seed=0)


# --- correlations ---------------------------------------------------------------------

def test_stage_correlations_are_spearman_of_absolute_values():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(4, 5, 5))
    other = ref + 0.5 * rng.normal(size=ref.shape)
    out = sanity.stage_correlations({"m": ref}, {"same": {"m": -ref}, "noisy": {"m": other}})
    assert out["m"].shape == (2, 4)
    np.testing.assert_allclose(out["m"][0], 1.0)  # the sign is ignored
    for i in range(4):
        rho = stats.spearmanr(np.abs(ref[i]).ravel(), np.abs(other[i]).ravel()).statistic
        assert np.isclose(out["m"][1, i], rho)
    with pytest.raises(ValueError, match="no maps"):
        sanity.stage_correlations({"m": ref, "n": ref}, {"s": {"m": ref}})


def test_joint_zero_part_adds_up_with_the_rest_to_rho():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 6, 6)) * (rng.random((3, 6, 6)) < 0.4)
    b = rng.normal(size=(3, 6, 6)) * (rng.random((3, 6, 6)) < 0.4)
    a[:, :3] = b[:, :3] = 0  # half the pixels zero in both
    part = sanity.joint_zero_part(a, b)
    rho = attribution.rank_correlation(np.abs(a), np.abs(b))
    assert np.all(part > 0)
    # by hand: the centred-rank products over the joint-zero pixels only
    for i in range(3):
        ra = stats.rankdata(np.abs(a[i]).ravel()) - 18.5
        rb = stats.rankdata(np.abs(b[i]).ravel()) - 18.5
        zero = ((a[i] == 0) & (b[i] == 0)).ravel()
        expected = (ra * rb)[zero].sum() / np.sqrt((ra**2).sum() * (rb**2).sum())
        assert np.isclose(part[i], expected)
    np.testing.assert_allclose(sanity.joint_zero_share(a, b), part / rho)
    # maps with no zeros: nothing comes from joint zeros
    assert np.allclose(sanity.joint_zero_part(a + 10, b + 10), 0)


def test_correlation_where_nonzero_drops_joint_zeros():
    a = np.zeros((1, 4, 4))
    b = np.zeros((1, 4, 4))
    a[0, 0, :3] = [1, 2, 3]
    b[0, 0, :3] = [3, 2, 1]
    assert attribution.rank_correlation(a, b)[0] > 0.5  # the 13 shared zeros make it look similar
    assert np.isclose(sanity.correlation_where_nonzero(a, b)[0], -1.0)  # on the rest, reversed
    assert np.isnan(sanity.correlation_where_nonzero(np.zeros((1, 4, 4)), b)[0])
    with pytest.raises(ValueError, match="same shape"):
        sanity.correlation_where_nonzero(a, b[:, :2])


def test_zero_share():
    maps = np.zeros((2, 2, 2))
    maps[0, 0, 0] = 1
    np.testing.assert_allclose(sanity.zero_share(maps), [0.75, 1.0])
    with pytest.raises(ValueError, match="shape"):
        sanity.zero_share(np.zeros((2, 2)))


def test_randomising_the_head_leaves_the_plain_gradient_s_zeros_in_place(model, data, maps):
    """With a global max-pool head, a new head changes the 16 weights, not the units the gradient enters at."""
    images, labels, _ = data
    (_, new_head), *_ = sanity.cascading_randomisation(model, seed=5)
    after = sanity.attribution_maps(new_head, images, labels, methods=("saliency",))["saliency"]
    # the support can only shrink (a weight near 0), never spread to new pixels
    assert not np.any((maps["saliency"] == 0) & (after != 0))


# --- the explorer ---------------------------------------------------------------------

def test_mask_outline_traces_the_boundary():
    mask = np.zeros((5, 5), dtype=bool)
    mask[1:3, 1:4] = True  # a 2 x 3 rectangle: perimeter 10 unit edges
    segments = attribution_lesson.mask_outline(mask)
    assert segments.shape == (10, 2, 2)
    lengths = np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1)
    np.testing.assert_allclose(lengths, 1.0)
    xs, ys = segments[..., 0], segments[..., 1]
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (0.5, 3.5, 0.5, 2.5)
    full = np.ones((3, 3), dtype=bool)  # the image border counts as a boundary
    assert attribution_lesson.mask_outline(full).shape == (12, 2, 2)
    with pytest.raises(ValueError, match="boolean"):
        attribution_lesson.mask_outline(mask.astype(int))


def test_update_attribution_explorer_shows_the_chosen_map():
    images, labels, masks, maps = attribution_lesson.ATTRIBUTION_EXPLORER.examples()
    _, artists = attribution_lesson.attribution_explorer_figure()
    share = attribution_lesson.update_attribution_explorer(artists, images, labels, masks, maps, 3, "occlusion")
    assert np.isclose(share, attribution.on_object_share(maps["occlusion"][3:4], masks[3:4])[0])
    shown = artists["map"].get_array()
    np.testing.assert_allclose(shown, maps["occlusion"][3] / np.abs(maps["occlusion"][3]).max())
    np.testing.assert_array_equal(artists["image"].get_array(), images[3, :, :, 0])
    assert len(artists["outlines"][0].get_segments()) == len(attribution_lesson.mask_outline(masks[3]))
    assert shapes.CLASS_NAMES[labels[3]] in artists["image_title"].get_text()
    with pytest.raises(ValueError, match="method"):
        attribution_lesson.update_attribution_explorer(artists, images, labels, masks, maps, 0, "lime")
    with pytest.raises(ValueError, match="image"):
        attribution_lesson.update_attribution_explorer(artists, images, labels, masks, maps, 99, "saliency")
    with pytest.raises(ValueError, match="maps"):
        attribution_lesson.update_attribution_explorer(artists, images, labels, masks, {"s": maps["saliency"][:3]},
                                                         0, "s")


def test_attribution_explorer_builds_and_redraws():
    inputs = attribution_lesson.ATTRIBUTION_EXPLORER.examples()
    box = attribution_lesson.attribution_explorer(*inputs, image=5, method="saliency")
    slider, menu = box.children[0].children
    assert (slider.value, menu.value, list(menu.options)) == (5, "saliency", list(sanity.METHODS))
    output = box.children[1]
    first = output.outputs[0]["data"]["image/png"]
    slider.value = 6
    assert output.outputs[0]["data"]["image/png"] != first
    entry = attribution_lesson.ATTRIBUTION_EXPLORER
    assert entry.call == "attribution_lesson.attribution_explorer"
    assert entry.notebook == "11_seeing_inside_a_cnn.ipynb"


# --- the exercises ---------------------------------------------------------------------

def test_deconvnet_backward_check_accepts_any_right_function_and_names_the_wrong_rule(capsys):
    check = attribution_lesson.check_deconvnet_backward
    assert check(None) is None
    assert check(lambda g, x: np.maximum(g, 0)) is True
    assert check(lambda g, x: np.where(g > 0, g, 0 * x)) is True  # another way to write it
    assert check(attribution_lesson.solution("deconvnet_backward", show=False)) is True
    capsys.readouterr()
    wrong = {
        "guided backpropagation": lambda g, x: g * (x > 0) * (g > 0),
        "ordinary gradient": lambda g, x: np.where(x > 0, g, 0.0),
        "unchanged": lambda g, x: g,
        "forward output": lambda g, x: np.maximum(x, 0),
        "sign of g decides": lambda g, x: np.abs(g),
    }
    for phrase, function in wrong.items():
        assert check(function) is False
        assert phrase in capsys.readouterr().out
    assert check(lambda g, x: g.sum()) is False
    assert "shape" in capsys.readouterr().out
    assert check(lambda g: g) is False  # one argument: the error is reported, not raised
    assert "TypeError" in capsys.readouterr().out
    assert check("max(g, 0)") is False


def test_chance_share_check_states_its_precision_and_names_cross_growth(capsys):
    check = attribution_lesson.check_chance_share
    assert check(None) is None
    for right in (64 / 1024, 0.0625, 0.063, 0.062):  # exact, or to three decimal places
        assert check(right) is True
    capsys.readouterr()
    assert check(60 / 1024) is False  # SciPy's default binary_dilation grows with a cross
    assert "cross" in capsys.readouterr().out
    assert check(0.06) is False and "cross" not in capsys.readouterr().out
    assert check("a lot") is False
    assert attribution_lesson.check_chance_share(attribution_lesson.solution("chance_share", show=False)) is True


def test_spearman_by_hand_check_accepts_two_decimal_places():
    check = attribution_lesson.check_joint_zero_share
    assert check(None) is None
    assert check((0.92, 0.35)) is True  # rho = 11.5 / 12.5; share 4 / 11.5 = 0.348
    assert check((0.92, 4 / 11.5)) is True
    assert check((0.92, 0.34)) is False
    assert check((0.9, 0.35)) is False
    assert check(attribution_lesson.solution("joint_zero_share", show=False)) is True


def test_spearman_by_hand_check_names_a_share_given_in_percent(capsys):
    check = attribution_lesson.check_joint_zero_share
    assert check((0.92, 35)) is False
    assert "fraction in [0, 1]" in capsys.readouterr().out
    assert check((0.92, 12)) is False
    assert "percentage" not in capsys.readouterr().out
    assert check((0.92, "a lot")) is False
