"""The compiled multi-seed training engine."""

import os

import jax
import numpy as np
import pytest

from course_utils import data, models, training

PATCHES = data.patches(data.bezier_curves(512, seed=0))


def make(rngs):
    return models.PatchAutoencoder(rngs=rngs)


def short(**kw):
    return training.TrainConfig(**{"steps": 200, "steps_per_chunk": 100, **kw})


def test_losses_fall_and_have_one_row_per_seed():
    result = training.train(make, PATCHES, seeds=[0, 1, 2], config=short(), progress=False)
    assert result.losses.shape == (3, 200)
    assert np.all(result.losses[:, -20:].mean(axis=1) < 0.1 * result.losses[:, :5].mean(axis=1))
    mse = training.reconstruction_mse(result, PATCHES)
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
    assert np.isclose(mse, training.reconstruction_mse(result, PATCHES)[1], rtol=1e-4)
    assert len(result.models()) == 2


def test_code_noise_changes_training_and_huge_noise_hurts():
    plain = training.train(make, PATCHES, seeds=[0], config=short(), progress=False)
    noisy = training.train(make, PATCHES, seeds=[0], config=short(code_noise=(1.0, 1.0, 1.0)), progress=False)
    assert noisy.losses[0, -20:].mean() > 3 * plain.losses[0, -20:].mean()


def test_input_noise_and_loss_weights_run():
    curves = data.bezier_curves(256, seed=0)
    weights = tuple([0.0] * 2 + [1.0] * 11 + [0.0] * 2)
    result = training.train(make, curves, seeds=[0], config=short(input_noise=0.01, loss_weights=weights),
                            progress=False)
    assert np.all(np.isfinite(result.losses))


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"steps": 0}, ValueError, "steps must be"),
        ({"learning_rate": -1.0}, ValueError, "learning_rate"),
        ({"code_noise": (0.1, 0.01)}, ValueError, "3 standard deviations"),
        ({"code_noise": (0.1, -0.01, 0.0)}, ValueError, "code_noise[1]"),
        ({"input_noise": -0.01}, ValueError, "input_noise"),
        ({"steps": 100, "steps_per_chunk": 30}, ValueError, "multiple of steps_per_chunk"),
        ({"batch_size": 1.5}, TypeError, "batch_size"),
    ],
)
def test_bad_config_gets_a_clear_error(kwargs, error, words):
    with pytest.raises(error) as info:
        training.TrainConfig(**kwargs)
    assert words in str(info.value)


def test_bad_train_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="at least one seed"):
        training.train(make, PATCHES, seeds=[], config=short())
    with pytest.raises(ValueError, match="one weight per position"):
        training.train(make, PATCHES, seeds=[0], config=short(loss_weights=(1.0,) * 15))
    with pytest.raises(TypeError, match="make_model"):
        training.train("model", PATCHES, seeds=[0])
    with pytest.raises(ValueError, match="index must be"):
        training.train(make, PATCHES, seeds=[0], config=short(), progress=False).model(1)


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


def test_runs_of_any_seed_count_and_data_size_share_one_compiled_program():
    training.train(make, PATCHES, seeds=[0, 1, 2], config=short(), progress=False)
    compiled = training._run_chunk._cache_size()
    training.train(make, PATCHES[:300], seeds=[4], config=short(), progress=False)
    training.train(make, PATCHES[:1000], seeds=range(5), config=short(), progress=False)
    assert training._run_chunk._cache_size() == compiled


def test_mini_batches_never_come_from_the_padding_rows():
    layout_rows = training._padded_rows(PATCHES[:5])
    assert layout_rows.shape[0] == training.MIN_ROWS and not layout_rows[5:].any()
    trainer = training._Trainer(None, batch_size=64, learning_rate=1e-2, input_noise=False, code_noise=False)
    draws = trainer.draw(layout_rows, 5, jax.random.key(0, impl="rbg"), 300, (1, 3))
    rows = np.asarray(draws["rows"])
    assert rows.min() == 0 and rows.max() == 4


def test_seeds_are_dealt_round_the_devices_into_fixed_slots():
    layout = training._SeedLayout(n_seeds=3, devices=2)
    assert layout.slots_per_device == training.MIN_SLOTS_PER_DEVICE
    assert layout.positions().tolist() == [0, layout.slots_per_device, 1]
    assert layout.counts().tolist() == [2, 1]
    assert training._SeedLayout(n_seeds=30, devices=2).slots_per_device == 16
