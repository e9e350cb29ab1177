"""course_utils.attribution: the ReLU rules, the maps, their scores and the deconvnet written out."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from course_utils.part2 import attribution as at, cnn, shapes


def normal(seed, shape):
    """Standard normal numbers as a float32 JAX array (NumPy's generator compiles nothing)."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype=jnp.float32)


@pytest.fixture(scope="module")
def model():
    return cnn.ShapeCNN(rngs=nnx.Rngs(3))


@pytest.fixture(scope="module")
def data():
    images, labels, masks = shapes.make_dataset(5, seed=11)
    return jnp.asarray(images), jnp.asarray(labels), masks


# --- the ReLU rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    "relu, expected",
    [
        (jax.nn.relu, [0.0, -1.0, 2.0, 0.0, 0.0, 0.0]),  # g where x > 0
        (at.guided_relu, [0.0, 0.0, 2.0, 0.0, 0.0, 0.0]),  # g where x > 0 and g > 0
        (at.deconvnet_relu, [1.0, 0.0, 2.0, 3.0, 5.0, 0.0]),  # g where g > 0
    ],
)
def test_backward_rules_on_a_vector(relu, expected):
    x = jnp.array([-1.0, 2.0, 3.0, -4.0, 0.0, 1.0])
    g = jnp.array([1.0, -1.0, 2.0, 3.0, 5.0, 0.0])
    y, pullback = jax.vjp(relu, x)
    assert np.array_equal(y, jnp.maximum(x, 0)), "the forward pass is a ReLU"
    assert np.array_equal(pullback(g)[0], jnp.array(expected))


# A one-hidden-layer net on 2 inputs, with weights chosen by hand:
# pre = W1 x = [0.5, 2.5, -2] for x = [1, 0.5]; score = w2 . act(pre), w2 = [1, -2, 3].
W1 = jnp.array([[1.0, -1.0], [2.0, 1.0], [-1.0, -2.0]])
W2 = jnp.array([1.0, -2.0, 3.0])
X = jnp.array([1.0, 0.5]).reshape(1, 1, 2, 1)  # one "image" of 1 x 2 pixels


def tiny_net(activation):
    return lambda images: (activation(images.reshape(-1, 2) @ W1.T) @ W2)[:, None]


@pytest.mark.parametrize(
    "activation, expected",
    [
        # units 0 and 1 are on: 1*[1, -1] - 2*[2, 1]
        (jax.nn.relu, [-3.0, -3.0]),
        # unit 0 only: on, and its gradient w2 = 1 is positive
        (at.guided_relu, [1.0, -1.0]),
        # units with a positive gradient, on or off: 1*[1, -1] + 3*[-1, -2]
        (at.deconvnet_relu, [-2.0, -7.0]),
    ],
)
def test_rules_on_a_one_hidden_layer_net(activation, expected):
    grad = at.gradient(tiny_net(activation), X, 0)
    assert np.allclose(grad.reshape(2), expected)


def test_guided_backprop_through_the_cnn_is_plain_grad_with_the_swapped_relu(model, data):
    images, labels, _ = data
    guided = at.gradient(lambda x: model(x, activation=at.guided_relu), images, labels)
    plain = at.gradient(model, images, labels)
    by_hand = jax.grad(lambda x: cnn.class_scores(model, x, labels, activation=at.guided_relu).sum())(images)
    assert np.allclose(guided, by_hand)
    assert not np.allclose(guided, plain), "guided backprop differs from the gradient"


# --- gradient maps ------------------------------------------------------------------


def linear_scores(weights):
    """forward(x)[:, k] = sum(weights[k] * x): scores linear in the image."""
    return lambda images: jnp.einsum("nhwc,khwc->nk", images, weights)


def test_saliency_and_gradient_x_input_on_a_linear_model():
    weights = normal(0, (3, 4, 4, 2))
    images = normal(1, (2, 4, 4, 2))
    classes = jnp.array([2, 0])
    forward = linear_scores(weights)
    assert np.allclose(at.gradient(forward, images, classes), weights[classes])
    assert np.allclose(at.saliency(forward, images, classes), jnp.abs(weights[classes]).max(axis=-1))
    assert np.allclose(at.gradient_x_input(forward, images, classes), (weights[classes] * images).sum(-1), atol=1e-6)


def test_integrated_gradients_of_a_square_are_exact():
    # score = sum(x^2): the gradient is linear along the path, so the midpoint rule is
    # exact for any number of steps and each pixel gets x^2 - b^2.
    images = normal(2, (3, 4, 5, 1))
    baseline = 0.25
    ig = at.integrated_gradients(lambda x: (x**2).sum(axis=(1, 2, 3))[:, None], images, 0, baseline=baseline, steps=3)
    assert np.allclose(ig, images[..., 0] ** 2 - baseline**2, atol=1e-5)


def test_integrated_gradients_are_complete_on_the_cnn(model, data):
    images, labels, _ = data
    baseline = jnp.full_like(images, 0.15)
    ig = at.integrated_gradients(model, images, labels, baseline=baseline, steps=64)
    gap = cnn.class_scores(model, images, labels) - cnn.class_scores(model, baseline, labels)
    assert np.allclose(ig.sum(axis=(1, 2)), gap, rtol=0.02, atol=0.02 * float(jnp.abs(gap).max()))


def test_integrated_gradients_with_one_step_is_the_gradient_at_the_midpoint():
    weights = normal(3, (2, 4, 4, 1))
    forward = lambda x: jnp.tanh(linear_scores(weights)(x))
    images = normal(4, (2, 4, 4, 1))
    ig = at.integrated_gradients(forward, images, 1, steps=1)
    assert np.allclose(ig, (images * at.gradient(forward, images / 2, 1))[..., 0], atol=1e-6)


# --- occlusion ----------------------------------------------------------------------


def occlusion_by_hand(weights, image, patch, starts, value):
    """Mean drop of w . x over the patches covering each pixel, with explicit loops."""
    h, w = image.shape
    total, count = np.zeros((h, w)), np.zeros((h, w))
    for r in starts:
        for c in starts:
            drop = (weights[r : r + patch, c : c + patch] * (image[r : r + patch, c : c + patch] - value)).sum()
            total[r : r + patch, c : c + patch] += drop
            count[r : r + patch, c : c + patch] += 1
    return total / count


@pytest.mark.parametrize("patch, stride, starts", [(4, 2, (0, 2, 4)), (3, 2, (0, 2, 4, 5)), (7, 1, (0, 1))])
def test_occlusion_on_a_linear_model_equals_the_hand_computed_drop(patch, stride, starts):
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(1, 8, 8, 1)).astype(np.float32)
    images = rng.uniform(size=(2, 8, 8, 1)).astype(np.float32)
    assert at.patch_starts(8, patch, stride) == starts
    maps = at.occlusion(linear_scores(weights), images, 0, patch=patch, stride=stride, value=0.5)
    for i in range(2):
        expected = occlusion_by_hand(weights[0, ..., 0], images[i, ..., 0], patch, starts, 0.5)
        assert np.allclose(maps[i], expected, atol=1e-5)
    # value=None paints each image's own mean.
    maps = at.occlusion(linear_scores(weights), images, 0, patch=patch, stride=stride)
    expected = occlusion_by_hand(weights[0, ..., 0], images[1, ..., 0], patch, starts, images[1].mean())
    assert np.allclose(maps[1], expected, atol=1e-5)


def test_a_patch_as_large_as_the_image_is_refused_with_a_reason():
    images = np.zeros((1, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="patch must be smaller than the images"):
        at.occlusion(linear_scores(np.ones((1, 8, 8, 1), np.float32)), images, 0)  # the default patch is 8


def test_occlusion_of_the_shape_lowers_the_cnn_score_where_it_matters(model, data):
    images, labels, _ = data
    maps = at.occlusion(model, images, labels, patch=8, stride=4)
    assert maps.shape == (5, 32, 32) and np.all(np.isfinite(maps))
    # The drop of the first position (rows and columns 0-7) is the map's value at pixel (0, 0).
    covered = images.at[:, :8, :8].set(images.mean(axis=(1, 2, 3))[:, None, None, None])
    drop = cnn.class_scores(model, images, labels) - cnn.class_scores(model, covered, labels)
    assert np.allclose(maps[:, 0, 0], drop, atol=1e-5)


# --- scores for maps ----------------------------------------------------------------


def test_dilate_masks_grows_a_square_and_stops_at_the_border():
    mask = np.zeros((1, 5, 5), dtype=bool)
    mask[0, 0, 2] = True
    grown = at.dilate_masks(mask, 1)
    assert grown.sum() == 6 and grown[0, :2, 1:4].all()
    assert np.array_equal(at.dilate_masks(mask, 0), mask)
    assert at.dilate_masks(mask, 2).sum() == 15


def test_on_object_share_by_hand():
    maps = np.zeros((2, 4, 4))
    maps[0, 1, 1], maps[0, 3, 3] = -3.0, 1.0  # |map|: 3 on the object, 1 far from it
    maps[1, 1, 2] = 2.0  # next to the object: counts only once the mask is grown
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[:, 1, 1] = True
    assert np.allclose(at.on_object_share(maps, masks, dilate=0), [0.75, 0.0])
    assert np.allclose(at.on_object_share(maps, masks, dilate=1), [0.75, 1.0])
    flat = at.on_object_share(np.ones((2, 4, 4)), masks, dilate=0)
    assert np.allclose(flat, 1 / 16), "a flat map scores the mask's area share (chance)"
    assert np.isnan(at.on_object_share(np.zeros((1, 4, 4)), masks[:1])[0])


def test_on_object_share_accepts_jax_maps_from_the_cnn(model, data):
    images, labels, masks = data
    share = at.on_object_share(at.saliency(model, images, labels), masks)
    assert share.shape == (5,) and np.all((share >= 0) & (share <= 1))


def test_rank_correlation():
    a = np.arange(12.0).reshape(2, 2, 3)
    assert np.allclose(at.rank_correlation(a, a**3), 1.0), "ranks ignore monotone changes"
    assert np.allclose(at.rank_correlation(a, -a), -1.0)
    ties = np.array([[0.0, 0.0, 1.0, 2.0]])
    # Average ranks of [0, 0, 1, 2] are [1.5, 1.5, 3, 4]; against [1, 2, 3, 4] Pearson gives 0.9487.
    assert np.isclose(at.rank_correlation(ties, np.array([[1.0, 2.0, 3.0, 4.0]]))[0], 3 / np.sqrt(10))
    assert np.isnan(at.rank_correlation(np.ones((1, 4)), np.arange(4.0)[None])[0])


# --- the deconvnet written out --------------------------------------------------------


def test_pool_switches_pick_the_first_maximum_in_reading_order():
    x = jnp.array([[1.0, 3.0, 0.0, 0.0], [3.0, 2.0, 0.0, 0.0], [5.0, 1.0, 2.0, 7.0], [0.0, 5.0, 7.0, 1.0]])
    switches = at.pool_switches(x[None, :, :, None])[0, :, :, 0]
    expected = np.array([[0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 1], [0, 0, 0, 0]], dtype=bool)
    assert np.array_equal(switches, expected)
    assert np.array_equal(
        at.unpool(jnp.array([[[[1.0], [2.0]], [[3.0], [4.0]]]]), switches[None, :, :, None])[0, ..., 0],
        expected * np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]),
    )


def test_unpool_with_switches_is_the_gradient_of_max_pool_even_with_ties():
    # Small integers: many windows hold a tied maximum.
    x = jnp.asarray(np.random.default_rng(0).integers(0, 3, size=(2, 8, 8, 3)), dtype=jnp.float32)
    signal = normal(0, (2, 4, 4, 3))
    _, pullback = jax.vjp(cnn.max_pool, x)
    assert np.array_equal(pullback(signal)[0], at.unpool(signal, at.pool_switches(x)))


def test_transposed_filter_is_the_adjoint_of_the_convolution(model):
    x = normal(1, (2, 16, 16, 8))
    signal = normal(2, (2, 16, 16, 16))
    conv = lambda z: model.conv2(z) - model.conv2.bias[...]
    _, pullback = jax.vjp(conv, x)
    assert np.allclose(pullback(signal)[0], at.transposed_filter(signal, model.conv2.kernel[...]), atol=1e-5)


@pytest.mark.parametrize("layer", at.PROJECTABLE)
def test_zeiler_fergus_projection_is_the_gradient_with_the_deconvnet_relu(model, data, layer):
    images, _, _ = data
    # Add a blank and a flat image: their ReLU outputs are all zero (untrained biases
    # are 0), so every pooling window ties and the switches must break ties as JAX does.
    images = jnp.concatenate([images, jnp.zeros_like(images[:1]), jnp.full_like(images[:1], 0.5)])
    shape = model.features(images, upto=layer)[layer].shape
    signal = normal(5, shape)
    explicit = at.deconvnet_projection(model, images, layer, signal)

    def through_model(activation):
        return jax.grad(lambda x: (model.features(x, upto=layer, activation=activation)[layer] * signal).sum())(images)

    assert np.allclose(explicit, through_model(at.deconvnet_relu), atol=1e-5)
    if layer not in ("conv1",):  # with a ReLU on the way down, the deconvnet differs from the gradient
        assert not np.allclose(explicit, through_model(jax.nn.relu), atol=1e-3)


def test_strongest_unit_keeps_one_activation_per_image(model, data):
    images, _, _ = data
    signal, positions = at.strongest_unit(model, images, "act2", 3)
    act = model.features(images, upto="act2")["act2"][..., 3]
    assert np.array_equal((signal != 0).sum(axis=(1, 2, 3)), (act.max(axis=(1, 2)) > 0).astype(int))
    for i, (r, c) in enumerate(np.asarray(positions)):
        assert signal[i, r, c, 3] == act[i].max()
    projection = at.deconvnet_projection(model, images, "act2", signal)
    assert projection.shape == images.shape


# --- jit and bad inputs ---------------------------------------------------------------


def test_maps_can_be_jitted(model, data):
    images, labels, _ = data
    eager = at.saliency(model, images, labels)
    jitted = jax.jit(lambda x, y: at.saliency(model, x, y))(images, labels)
    assert np.allclose(eager, jitted, atol=1e-6)


def test_bad_inputs_are_refused(model, data):
    images, labels, masks = data
    with pytest.raises(TypeError, match="forward"):
        at.saliency("model", images, labels)
    with pytest.raises(ValueError, match="images"):
        at.saliency(model, images[..., 0], labels)
    with pytest.raises(ValueError, match="classes"):
        at.saliency(model, images, labels[:2])
    with pytest.raises(TypeError, match="classes"):
        at.saliency(model, images, jnp.zeros(5))
    with pytest.raises(ValueError, match="0..4"):
        at.saliency(model, images, 5)
    with pytest.raises(ValueError, match="forward"):
        at.saliency(lambda x: x.sum(axis=(1, 2, 3)), images, 0)
    with pytest.raises(ValueError, match="steps"):
        at.integrated_gradients(model, images, labels, steps=0)
    with pytest.raises(ValueError, match="baseline"):
        at.integrated_gradients(model, images, labels, baseline=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="patch"):
        at.occlusion(model, images, labels, patch=40)
    with pytest.raises(ValueError, match="stride"):
        at.occlusion(model, images, labels, patch=4, stride=5)
    with pytest.raises(TypeError, match="value"):
        at.occlusion(model, images, labels, value="grey")
    with pytest.raises(ValueError, match="masks"):
        at.on_object_share(np.ones((5, 32, 32)), masks[:2])
    with pytest.raises(ValueError, match="masks"):
        at.on_object_share(np.ones((5, 32, 32)), masks.astype(float))
    with pytest.raises(ValueError, match="dilate"):
        at.on_object_share(np.ones((5, 32, 32)), masks, dilate=-1)
    with pytest.raises(ValueError, match="shape"):
        at.rank_correlation(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="layer"):
        at.deconvnet_projection(model, images, "logits", None)
    with pytest.raises(ValueError, match="signal"):
        at.deconvnet_projection(model, images, "act2", jnp.zeros((5, 8, 8, 16)))
    with pytest.raises(TypeError, match="ShapeCNN"):
        at.deconvnet_projection(lambda x: x, images, "act2", None)
    with pytest.raises(ValueError, match="channel"):
        at.strongest_unit(model, images, "act2", 16)
