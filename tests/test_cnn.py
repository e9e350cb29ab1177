"""course_utils.cnn: the shape classifier's layers, its swappable activation, and that it learns."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from course_utils.part2 import cnn, shapes


@pytest.fixture(scope="module")
def model():
    return cnn.ShapeCNN(rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def images():
    return jnp.asarray(shapes.make_dataset(4, seed=0)[0])


def test_features_shapes_order_and_stop(model, images):
    feats = model.features(images)
    assert tuple(feats) == cnn.LAYERS
    expected = {
        "conv1": (4, 32, 32, 8),
        "act1": (4, 32, 32, 8),
        "pool1": (4, 16, 16, 8),
        "conv2": (4, 16, 16, 16),
        "act2": (4, 16, 16, 16),
        "pool2": (4, 8, 8, 16),
        "gmax": (4, 16),
        "logits": (4, 5),
    }
    assert {k: v.shape for k, v in feats.items()} == expected
    assert tuple(model.features(images, upto="pool1")) == ("conv1", "act1", "pool1")
    assert np.allclose(model(images), feats["logits"])


def test_layers_compute_what_their_names_say(model, images):
    f = model.features(images)
    assert np.allclose(f["act1"], jax.nn.relu(f["conv1"]))
    pooled = np.asarray(f["act1"]).reshape(4, 16, 2, 16, 2, 8).max(axis=(2, 4))
    assert np.allclose(f["pool1"], pooled)
    assert np.allclose(f["gmax"], np.asarray(f["pool2"]).max(axis=(1, 2)))
    assert np.allclose(f["logits"], f["gmax"] @ model.head.kernel[...] + model.head.bias[...], atol=1e-5)


def test_conv_is_a_correlation_with_same_padding(model):
    # Pin Flax's orientation: a unit impulse at (r, c) gives conv1 output
    # kernel[r - i + 2, c - j + 2] at (i, j) (5x5 kernel, 'SAME' pads 2 each side, no flip).
    x = jnp.zeros((1, 32, 32, 1)).at[0, 10, 20, 0].set(1.0)
    out = model.features(x, upto="conv1")["conv1"][0] - model.conv1.bias[...]
    kernel = model.conv1.kernel[...][:, :, 0, :]
    assert np.allclose(out[8:13, 18:23], kernel[::-1, ::-1], atol=1e-6)
    assert np.allclose(np.delete(np.delete(np.asarray(out), np.s_[8:13], 0), np.s_[18:23], 1), 0, atol=1e-6)
    # At the border the image is padded with zeros: the output keeps its size.
    corner = jnp.zeros((1, 32, 32, 1)).at[0, 0, 0, 0].set(1.0)
    out = model.features(corner, upto="conv1")["conv1"][0] - model.conv1.bias[...]
    assert np.allclose(out[:3, :3], kernel[2::-1, 2::-1], atol=1e-6)


def test_activation_is_swappable_per_model_and_per_call(images):
    relu_model = cnn.ShapeCNN(rngs=nnx.Rngs(1))
    tanh_model = cnn.ShapeCNN(rngs=nnx.Rngs(1), activation=jnp.tanh)
    f_tanh = tanh_model.features(images, upto="act1")
    assert np.allclose(f_tanh["act1"], jnp.tanh(f_tanh["conv1"]))
    assert np.allclose(relu_model(images, activation=jnp.tanh), tanh_model(images))
    assert not np.allclose(relu_model(images), tanh_model(images))
    # A jitted model sees the call's activation too.
    call = nnx.jit(lambda m, x: m(x, activation=jnp.tanh))
    assert np.allclose(call(relu_model, images), tanh_model(images), atol=1e-6)


def test_class_scores_loss_and_accuracy_match_hand_computations(model, images):
    labels = jnp.array([0, 1, 2, 3])
    logits = model(images)
    assert np.allclose(cnn.class_scores(model, images, labels), logits[jnp.arange(4), labels])
    by_hand = -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(4), labels])
    assert np.isclose(cnn.cross_entropy_loss(model, (images, labels), jax.random.key(0)), by_hand, atol=1e-6)
    predicted = np.asarray(logits.argmax(axis=1))
    assert cnn.accuracy(model, images, predicted) == 1.0
    assert cnn.accuracy(model, images, (predicted + 1) % 5, batch_size=3) == 0.0


def test_reinitialise_replaces_only_the_named_layers(model, images):
    fresh = cnn.reinitialise(model, cnn.PARAM_LAYERS[-2:], seed=5)
    assert np.array_equal(fresh.conv1.kernel[...], model.conv1.kernel[...])
    assert not np.allclose(fresh.conv2.kernel[...], model.conv2.kernel[...])
    assert not np.allclose(fresh.head.kernel[...], model.head.kernel[...])
    again = cnn.reinitialise(model, ("conv2", "head"), seed=5)
    assert np.array_equal(again.conv2.kernel[...], fresh.conv2.kernel[...]), "same seed, same weights"
    # The original is untouched and the copy is independent of it.
    before = np.asarray(model.conv1.kernel[...]).copy()
    fresh.conv1.kernel[...] = fresh.conv1.kernel[...] * 0
    assert np.array_equal(model.conv1.kernel[...], before)
    assert fresh(images).shape == (4, 5)


def test_bad_arguments_are_refused(model, images):
    with pytest.raises(ValueError, match="upto"):
        model.features(images, upto="conv3")
    with pytest.raises(ValueError, match="shape"):
        model(images[..., 0])
    with pytest.raises(TypeError, match="activation"):
        cnn.ShapeCNN(rngs=nnx.Rngs(0), activation="relu")
    with pytest.raises(TypeError, match="activation"):
        model(images, activation="relu")
    with pytest.raises(ValueError, match="classes"):
        cnn.class_scores(model, images, jnp.array([0, 1]))
    with pytest.raises(ValueError, match="labels"):
        cnn.accuracy(model, images, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="layer"):
        cnn.reinitialise(model, ["conv3"], seed=0)
    with pytest.raises(TypeError, match="batch"):
        cnn.cross_entropy_loss(model, images, None)


# The notebook's training settings: this test is where they were measured.
STEPS, BATCH_SIZE, LEARNING_RATE = 100, 32, 1e-2


def test_a_textbook_adam_loop_reaches_95_percent_in_seconds():
    train_x, train_y, _ = shapes.make_dataset(5000, seed=1)
    test_x, test_y, _ = shapes.make_dataset(1000, seed=2)
    model = cnn.ShapeCNN(rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(cnn.cross_entropy_loss)(model, (x, y))
        optimizer.update(model, grads)
        return loss

    rows = np.random.default_rng(0).integers(0, len(train_x), size=(STEPS, BATCH_SIZE))
    step(model, optimizer, train_x[rows[0]], train_y[rows[0]])  # compile
    start = time.perf_counter()
    for r in rows[1:]:
        loss = step(model, optimizer, train_x[r], train_y[r])
    loss.block_until_ready()
    seconds = time.perf_counter() - start
    acc = cnn.accuracy(model, test_x, test_y)
    assert acc >= 0.95, f"test accuracy {acc:.3f} after {STEPS} steps"
    assert seconds < 10, f"{STEPS} steps took {seconds:.1f} s"
