"""The compiled multi-seed training engine."""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from course_utils.core import loops, training
from course_utils.part1 import data, losses, models

PATCHES = data.patches(data.bezier_curves(512, seed=0))


def make(rngs):
    return models.PatchAutoencoder(rngs=rngs)


def short(**kw):
    return training.TrainConfig(**{"steps": 200, "steps_per_chunk": 100, **kw})


def test_losses_fall_and_have_one_row_per_seed():
    result = training.train(make, PATCHES, seeds=[0, 1, 2], config=short(), progress=False)
    assert result.losses.shape == (3, 200)
    assert np.all(result.losses[:, -20:].mean(axis=1) < 0.1 * result.losses[:, :5].mean(axis=1))
    mse = losses.reconstruction_mse(result, PATCHES)
    assert mse.shape == (3,) and np.all(mse < 0.1 * (PATCHES**2).mean())


def test_same_seed_same_result_and_seeds_differ():
    first = training.train(make, PATCHES, seeds=[5, 6], config=short(), progress=False)
    again = training.train(make, PATCHES, seeds=[5, 6], config=short(), progress=False)
    assert np.array_equal(first.losses, again.losses)
    assert not np.allclose(first.losses[0], first.losses[1])


def test_a_seed_trains_the_same_alone_or_with_others():
    together = training.train(make, PATCHES, seeds=[7, 8], config=short(), progress=False)
    alone = training.train(make, PATCHES, seeds=[8], config=short(), progress=False)
    assert np.allclose(together.losses[1], alone.losses[0], rtol=1e-4, atol=1e-7)


def test_model_of_a_seed_matches_its_reported_error():
    result = training.train(make, PATCHES, seeds=[0, 1], config=short(), progress=False)
    model = result.model(1)
    mse = float(((np.asarray(model(PATCHES)) - PATCHES) ** 2).mean())
    assert np.isclose(mse, losses.reconstruction_mse(result, PATCHES)[1], rtol=1e-4)
    assert len(result.models()) == 2


def test_code_noise_changes_training_and_huge_noise_hurts():
    plain = training.train(make, PATCHES, seeds=[0], config=short(), progress=False)
    noisy = training.train(make, PATCHES, seeds=[0], config=short(), progress=False,
                           loss=losses.reconstruction_loss(code_noise=(1.0, 1.0, 1.0)))
    assert noisy.losses[0, -20:].mean() > 3 * plain.losses[0, -20:].mean()


def test_input_noise_and_loss_weights_run():
    curves = data.bezier_curves(256, seed=0)
    weights = tuple([0.0] * 2 + [1.0] * 11 + [0.0] * 2)
    loss = losses.reconstruction_loss(input_noise=0.01, weights=weights)
    result = training.train(make, curves, seeds=[0], config=short(), loss=loss, progress=False)
    assert np.all(np.isfinite(result.losses))


def test_the_default_loss_is_the_plain_reconstruction_loss():
    default = training.train(make, PATCHES, seeds=[2], config=short(), progress=False)
    explicit = training.train(make, PATCHES, seeds=[2], config=short(), progress=False,
                              loss=losses.reconstruction_loss())
    assert np.array_equal(default.losses, explicit.losses)


@pytest.mark.parametrize("steps", [1, 130, 250])
def test_any_positive_number_of_steps(steps):
    result = training.train(make, PATCHES, seeds=[0, 1], config=short(steps=steps), progress=False)
    assert result.losses.shape == (2, steps) and np.all(result.losses > 0)


def test_a_longer_run_continues_the_shorter_one_exactly():
    short_run = training.train(make, PATCHES, seeds=[3], config=short(steps=130), progress=False)
    long_run = training.train(make, PATCHES, seeds=[3], config=short(steps=250), progress=False)
    assert np.array_equal(short_run.losses[0], long_run.losses[0, :130])


def test_snapshots_every_k_steps_end_with_the_trained_model():
    result = training.train(make, PATCHES, seeds=[0, 1], config=short(steps=250, snapshot_every=60), progress=False)
    assert result.snapshot_steps == (0, 60, 120, 180, 240)
    first, last = result.model(1, snapshot=0), result.model(1, snapshot=-1)
    fresh = make(nnx.Rngs(1))
    assert np.array_equal(first.decoder.filters(), fresh.decoder.filters())
    assert not np.allclose(last.decoder.filters(), first.decoder.filters())
    # snapshots do not change the run
    plain = training.train(make, PATCHES, seeds=[0, 1], config=short(steps=250), progress=False)
    assert np.array_equal(plain.losses, result.losses)
    with pytest.raises(ValueError, match="no snapshots"):
        plain.model(0, snapshot=0)


class TinyCNN(nnx.Module):
    """A 2-D convolutional classifier, as notebooks 10-12 train."""

    def __init__(self, rngs):
        self.conv = nnx.Conv(1, 4, (3, 3), strides=(2, 2), rngs=rngs)
        self.head = nnx.Linear(4, 2, rngs=rngs)

    def __call__(self, x):
        return self.head(jax.nn.relu(self.conv(x)).max(axis=(1, 2)))


def cross_entropy(model, batch, key):
    images, labels = batch
    return optax.softmax_cross_entropy_with_integer_labels(model(images), labels).mean()


def bright_or_dark(n, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    images = rng.normal(size=(n, 8, 8, 1)) * 0.3 + (2 * labels - 1)[:, None, None, None]
    return images.astype(np.float32), labels


@pytest.mark.parametrize("loop", ["step", "scan"])
def test_a_2d_classifier_trains_on_images_and_labels(loop):
    images, labels = bright_or_dark(512)
    config = training.TrainConfig(steps=150, batch_size=32, learning_rate=1e-2, steps_per_chunk=50, loop=loop,
                                  snapshot_every=50)
    result = training.train(TinyCNN, (images, labels), seeds=[0, 1, 2], config=config, loss=cross_entropy,
                            progress=False)
    assert result.loop == loop and result.losses.shape == (3, 150)
    assert result.snapshot_steps == (0, 50, 100, 150)
    for model in result.models():
        assert (np.asarray(model(images)).argmax(axis=1) == labels).mean() > 0.95


def test_the_engine_picks_the_step_loop_for_2d_convolutions_and_scan_for_1d():
    images, labels = bright_or_dark(64)
    tiny = training.TrainConfig(steps=2, batch_size=8)
    assert training.train(TinyCNN, (images, labels), seeds=[0], config=tiny, loss=cross_entropy,
                          progress=False).loop == "step"
    assert training.train(make, PATCHES, seeds=[0], config=tiny, progress=False).loop == "scan"


def test_a_sampling_loss_gets_a_fresh_key_every_step():
    """A loss that only sees noise: the parameter moves towards the noise's mean (0.5 here)."""

    class Mean(nnx.Module):
        def __init__(self, rngs):
            self.mu = nnx.Param(jnp.zeros(()))

    def loss(model, batch, key):
        sample = 0.5 + jax.random.normal(key, batch.shape)  # a new draw each step, or mu would freeze
        return ((model.mu[...] - sample) ** 2).mean()

    result = training.train(Mean, np.zeros((100, 4), np.float32), seeds=[0], config=short(steps=300),
                            loss=loss, progress=False)
    assert abs(float(result.model(0).mu[...]) - 0.5) < 0.05
    assert np.std(result.losses[0, -100:]) > 0.01  # the loss varies with the draws


def test_batch_norm_statistics_are_carried_and_returned():
    class Normed(nnx.Module):
        def __init__(self, rngs):
            self.norm = nnx.BatchNorm(7, momentum=0.5, rngs=rngs)
            self.linear = nnx.Linear(7, 7, rngs=rngs)

        def __call__(self, x):
            return self.linear(self.norm(x))

    def loss(model, batch, key):
        return ((model(batch) - batch) ** 2).mean()

    shifted = PATCHES + 3.0
    result = training.train(Normed, shifted, seeds=[0], config=short(steps=20), loss=loss, progress=False)
    assert np.allclose(np.asarray(result.model(0).norm.mean[...]), shifted.mean(axis=0), atol=0.1)


def test_models_holding_random_state_get_a_clear_error():
    class Dropping(nnx.Module):
        def __init__(self, rngs):
            self.linear = nnx.Linear(7, 7, rngs=rngs)
            self.drop = nnx.Dropout(0.5, rngs=rngs)

        def __call__(self, x):
            return self.drop(self.linear(x))

    with pytest.raises(ValueError, match="random-number state"):
        training.train(Dropping, PATCHES, seeds=[0], config=short(), loss=lambda m, b, k: (m(b) ** 2).mean())


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"steps": 0}, ValueError, "steps must be"),
        ({"learning_rate": -1.0}, ValueError, "learning_rate"),
        ({"batch_size": 1.5}, TypeError, "batch_size"),
        ({"snapshot_every": 0}, ValueError, "snapshot_every"),
        ({"loop": "fast"}, ValueError, "loop must be one of"),
        ({"b1": 1.0}, ValueError, "b1"),
    ],
)
def test_bad_config_gets_a_clear_error(kwargs, error, words):
    with pytest.raises(error) as info:
        training.TrainConfig(**kwargs)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"code_noise": (0.1, -0.01, 0.0)}, ValueError, "code_noise[1]"),
        ({"input_noise": -0.01}, ValueError, "input_noise"),
        ({"weights": (0.0, 0.0)}, ValueError, "must not all be 0"),
    ],
)
def test_bad_reconstruction_loss_gets_a_clear_error(kwargs, error, words):
    with pytest.raises(error) as info:
        losses.reconstruction_loss(**kwargs)
    assert words in str(info.value)


def test_a_model_class_or_a_partial_of_one_is_a_make_model():
    """make_model is called with rngs=..., so a class (keyword-only rngs) needs no lambda."""
    config = short(steps=100)
    by_function = training.train(make, PATCHES, seeds=[0, 1], config=config, progress=False)
    by_class = training.train(models.PatchAutoencoder, PATCHES, seeds=[0, 1], config=config, progress=False)
    by_partial = training.train(functools.partial(models.PatchAutoencoder, activation="linear"), PATCHES,
                                seeds=[0, 1], config=config, progress=False)
    assert np.array_equal(by_function.losses, by_class.losses)
    assert by_partial.model(0).encoder.activation == "linear" and not np.allclose(by_partial.losses, by_class.losses)


def test_bad_train_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="at least one seed"):
        training.train(make, PATCHES, seeds=[], config=short())
    with pytest.raises(ValueError, match="one weight per output position"):
        training.train(make, PATCHES, seeds=[0], config=short(), loss=losses.reconstruction_loss(weights=(1.0,) * 15))
    with pytest.raises(ValueError, match="3 components"):
        training.train(make, PATCHES, seeds=[0], config=short(), loss=losses.reconstruction_loss(code_noise=(0.1, 0.01)))
    with pytest.raises(TypeError, match="make_model"):
        training.train("model", PATCHES, seeds=[0])
    with pytest.raises(ValueError, match="index must be"):
        training.train(make, PATCHES, seeds=[0], config=short(), progress=False).model(1)
    images, labels = bright_or_dark(64)
    with pytest.raises(ValueError, match="share their first axis"):
        training.train(TinyCNN, (images, labels[:10]), seeds=[0], config=short(), loss=cross_entropy)
    with pytest.raises(ValueError, match="one number"):
        training.train(TinyCNN, (images, labels), seeds=[0], config=short(), loss=lambda m, b, k: m(b[0]))
    with pytest.raises(TypeError, match="TinyCNN has no default_loss: pass loss="):
        training.train(TinyCNN, images, seeds=[0], config=short())
    with pytest.raises(TypeError, match="seeds must be a sequence of integers"):
        training.train(make, PATCHES, seeds=3, config=short())
    with pytest.raises(TypeError, match=r"seeds\[1\] must be an integer"):
        training.train(make, PATCHES, seeds=[0, 1.5], config=short())
    with pytest.raises(TypeError, match="not a model already built"):
        training.train(models.PatchAutoencoder(rngs=nnx.Rngs(0)), PATCHES, seeds=[0], config=short())
    with pytest.raises(TypeError, match="loss must be a function"):
        training.train(make, PATCHES, seeds=[0], config=short(), loss="mse")


def test_course_utils_gives_jax_one_cpu_device_per_core():
    if jax.default_backend() != "cpu":
        pytest.skip("only the CPU backend is split into one device per core")
    assert len(jax.devices()) == len(os.sched_getaffinity(0))


def test_seeds_that_do_not_fill_every_device_come_back_alone():
    result = training.train(make, PATCHES, seeds=[3, 4, 5], config=short(), progress=False)
    assert result.losses.shape == (3, 200)
    assert all(leaf.shape[0] == 3 for leaf in jax.tree.leaves(result.params))


def test_course_utils_asks_xla_for_its_faster_compiling_cpu_code_generator():
    import course_utils

    assert course_utils.FAST_COMPILE_FLAG.split("=")[0] in os.environ["XLA_FLAGS"]


def count_compilations(run):
    """How many programs XLA compiles while ``run()`` runs (JAX's public monitoring events)."""
    events = []

    def listen(event, seconds, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        run()
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return len(events)


def test_runs_of_any_seed_count_data_size_length_and_noise_level_share_one_compiled_program():
    noisy = losses.reconstruction_loss(code_noise=(0.1, 0.01, 0.001))
    training.train(make, PATCHES, seeds=[0, 1, 2], config=short(), loss=noisy, progress=False)

    def more_runs():
        training.train(make, PATCHES[:300], seeds=[4], config=short(steps=130), loss=noisy, progress=False)
        training.train(make, PATCHES[:1000], seeds=range(5), config=short(), progress=False,
                       loss=losses.reconstruction_loss(code_noise=(0.5, 0.2, 0.0)))

    assert count_compilations(more_runs) == 0


def test_mini_batches_never_come_from_the_padding_rows():
    rows = loops.padded_rows(PATCHES[:5])
    assert rows.shape[0] == loops.MIN_ROWS and not rows[5:].any()
    # padding rows would give a loss of exactly 0 at the start: with 5 real rows it never is
    loss = lambda model, batch, key: jnp.abs(batch).min(axis=1).mean() + 0 * model.decoder.bias()
    result = training.train(make, PATCHES[:5] + 1.0, seeds=[0], config=short(), loss=loss, progress=False)
    assert result.losses.min() > 0.5


def test_large_rows_are_padded_only_to_a_power_of_two():
    images = np.ones((1797, 32, 32, 1), np.float32)
    assert loops.padded_rows(images).shape[0] == 2048


def test_seeds_are_dealt_round_the_devices_into_fixed_slots():
    layout = loops.SeedLayout(n_seeds=3, devices=2)
    assert layout.slots_per_device == loops.MIN_SLOTS_PER_DEVICE
    assert layout.positions().tolist() == [0, layout.slots_per_device, 1]
    assert layout.counts().tolist() == [2, 1]
    assert loops.SeedLayout(n_seeds=30, devices=2).slots_per_device == 16


def test_a_textbook_nnx_loop_on_the_engines_batches_gives_the_engines_losses():
    config = short(steps=150)
    result = training.train(make, PATCHES, seeds=[4], config=config, progress=False)
    rows = training.batch_rows(4, len(PATCHES), config)
    assert rows.shape == (150, config.batch_size) and rows.max() < len(PATCHES)
    model = make(nnx.Rngs(4))
    optimizer = nnx.Optimizer(model, optax.adam(config.learning_rate), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, batch):
        loss, grads = nnx.value_and_grad(lambda m: ((m(batch) - batch) ** 2).mean())(model)
        optimizer.update(model, grads)
        return loss

    losses = np.array([float(step(model, optimizer, PATCHES[r])) for r in rows])
    assert np.allclose(losses, result.losses[0], rtol=1e-4)


class TwoScalars(nnx.Module):
    def __init__(self, rngs):
        self.follower = nnx.Linear(1, 1, use_bias=False, rngs=rngs)
        self.leader = nnx.Linear(1, 1, use_bias=False, rngs=rngs)

    def values(self):
        return self.follower.kernel[0, 0], self.leader.kernel[0, 0]


def chase(model, batch, key):
    follower, leader = model.values()
    # the follower's loss also depends on the leader: its gradient must not move the leader
    return {"follower": (follower - leader) ** 2, "leader": (leader - 2.0) ** 2 + 0 * follower}


@pytest.mark.parametrize("loop", ["scan", "step"])
def test_players_take_turns_each_on_its_own_loss(loop):
    config = training.TrainConfig(steps=400, learning_rate=0.05, players=("follower", "leader"), loop=loop,
                                  steps_per_chunk=100)
    result = training.train(TwoScalars, np.zeros((10, 1), np.float32), seeds=[0, 1], config=config, loss=chase,
                            progress=False)
    assert result.losses.shape == (2, 400, 2)
    for model in result.models():
        follower, leader = (float(v) for v in model.values())
        assert abs(leader - 2.0) < 0.05 and abs(follower - 2.0) < 0.1


def test_players_get_clear_errors():
    data_ = np.zeros((10, 1), np.float32)
    with pytest.raises(ValueError, match="holds no parameters"):
        training.train(TwoScalars, data_, seeds=[0], loss=chase,
                       config=training.TrainConfig(steps=2, players=("follower", "referee")))
    with pytest.raises(ValueError, match="exactly one of the players"):
        training.train(TwoScalars, data_, seeds=[0], loss=chase, config=training.TrainConfig(steps=2, players=("leader",)))
    with pytest.raises(ValueError, match="one number per player"):
        training.train(TwoScalars, data_, seeds=[0], loss=lambda m, b, k: m.values()[0],
                       config=training.TrainConfig(steps=2, players=("follower", "leader")))
    with pytest.raises(TypeError, match="tuple of submodule names"):
        training.TrainConfig(players=["follower"])


def exploding_loss(model, batch, key):
    """A log of the error minus 1e-3: finite at first, NaN once training pushes the error below 1e-3."""
    return jnp.log(((model(batch) - batch) ** 2).mean() - 1e-3)


@pytest.mark.parametrize("loop", ["scan", "step"])
def test_a_loss_that_stops_being_finite_stops_training_with_a_clear_error(loop):
    config = short(steps=400, steps_per_chunk=50, loop=loop)
    with pytest.raises(FloatingPointError) as caught:
        training.train(make, PATCHES, seeds=[0, 1], config=config, progress=False, loss=exploding_loss)
    message = str(caught.value)
    assert "the loss of seed" in message and "became nan at step" in message and "last finite loss" in message
    assert "learning rate" in message and "check_finite=False" in message
    step = int(message.split("at step ")[1].split(";")[0])
    result = training.train(make, PATCHES, seeds=[0, 1], config=config, progress=False, loss=exploding_loss,
                            check_finite=False)
    seed = int(message.split("of seed ")[1].split()[0])
    assert step > 0 and np.isfinite(result.losses[seed, :step]).all() and not np.isfinite(result.losses[seed, step])
    assert not (~np.isfinite(result.losses[:, :step])).any(), "the error names the first step any seed went bad"


def test_labels_out_of_range_for_the_logits_are_caught_as_they_arrive():
    images, labels = bright_or_dark(64)

    def nll(model, batch, key):  # log-softmax picked by label: a label >= classes picks NaN
        x, y = batch
        logp = jax.nn.log_softmax(model(x))
        return -jnp.take_along_axis(logp, y[:, None], axis=1, mode="fill", fill_value=jnp.nan).mean()

    with pytest.raises(FloatingPointError, match="labels out of range"):
        training.train(TinyCNN, (images, labels + 1), seeds=[0], config=short(steps=20), loss=nll, progress=False)

