"""course_utils.data reproduces the published family of curves and its patches."""

import numpy as np
import pytest

from course_utils.part1 import data


def test_curves_shape_dtype_and_bounds():
    curves = data.bezier_curves(4096, seed=0)
    assert curves.shape == (4096, 15) and curves.dtype == np.float32
    assert np.all(curves[:, 0] == 0) and np.all(curves[:, 14] == 0)
    assert np.abs(curves).max() <= 0.75


def test_extreme_curve_reaches_three_quarters_at_most():
    # p1 = p2 = 1 pulls hardest: 3t(1-t) peaks at 0.75 for t = 1/2, which the
    # 15-point resampling only approaches.
    peak = data.curves_from_parameters(1.0, 1.0).max()
    assert 0.72 < peak <= 0.75


def test_same_seed_same_curves_other_seed_other_curves():
    assert np.array_equal(data.bezier_curves(100, seed=3), data.bezier_curves(100, seed=3))
    assert not np.allclose(data.bezier_curves(100, seed=3), data.bezier_curves(100, seed=4))


def test_course_curves_are_the_training_and_held_out_sets():
    train, test = data.course_curves(3)
    assert train.shape == (data.TRAIN_CURVES, data.N_POINTS) and test.shape == (data.TEST_CURVES, data.N_POINTS)
    assert np.array_equal(train, data.bezier_curves(data.TRAIN_CURVES, seed=3))
    assert np.array_equal(test, data.bezier_curves(data.TEST_CURVES, seed=3 + data.TEST_SEED_OFFSET))
    (_, train_params), (_, test_params) = data.course_curves(3, return_parameters=True)
    assert train_params.shape == (data.TRAIN_CURVES, 2) and test_params.shape == (data.TEST_CURVES, 2)
    with pytest.raises(ValueError, match="seed"):
        data.course_curves(-1)


def test_parameters_are_uniform_on_the_square():
    _, params = data.bezier_curves(20000, seed=1, return_parameters=True)
    assert params.min() >= -1 and params.max() <= 1
    assert np.allclose(params.mean(axis=0), 0, atol=0.02)
    assert np.allclose(params.var(axis=0), 1 / 3, atol=0.02)  # variance of U(-1, 1)


def test_curves_are_a_two_dimensional_linear_family():
    curves, params = data.bezier_curves(500, seed=2, return_parameters=True)
    a, b = data.basis()
    assert np.allclose(curves, params[:, :1] * a + params[:, 1:] * b, atol=1e-6)
    singular = np.linalg.svd(curves, compute_uv=False)
    assert singular[1] > 0.1 * singular[0] and singular[2] < 1e-5 * singular[0]


def test_resampling_matches_an_independent_dense_bezier():
    # Evaluate the Bezier curve from its control points with de Casteljau's algorithm.
    p1, p2 = 0.37, -0.81
    points = np.array([[0, 0], [0.5, p1], [0.5, p2], [1, 0]], float)
    dense = []
    for t in np.linspace(0, 1, 150):
        level = points
        while len(level) > 1:
            level = (1 - t) * level[:-1] + t * level[1:]
        dense.append(level[0])
    dense = np.array(dense)
    nearest = [dense[np.abs(dense[:, 0] - x).argmin(), 1] for x in np.linspace(0, 1, 15)]
    assert np.allclose(data.curves_from_parameters(p1, p2)[0], nearest, atol=1e-6)


def test_all_patches_cover_offsets_0_to_8():
    curves = data.bezier_curves(10, seed=0)
    patches, offsets = data.patches(curves, return_offsets=True)
    assert patches.shape == (90, 7)
    assert sorted(set(offsets.tolist())) == list(range(9))
    for offset in range(9):
        assert np.array_equal(patches[offsets == offset], curves[:, offset:offset + 7])


def test_published_crops_never_use_offset_8():
    curves = data.bezier_curves(5000, seed=0)
    patches, offsets = data.patches(curves, offsets="published", seed=0, return_offsets=True)
    assert patches.shape == (5000, 7)
    assert set(offsets.tolist()) == set(range(8))
    rows = np.arange(5000)
    assert np.array_equal(patches, curves[rows[:, None], offsets[:, None] + np.arange(7)])


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: data.bezier_curves(0, seed=0), ValueError, "n must be an integer >= 1"),
        (lambda: data.bezier_curves(2.5, seed=0), TypeError, "n must be an integer"),
        (lambda: data.bezier_curves(5, seed=-1), ValueError, "seed"),
        (lambda: data.patches(np.zeros((3, 14))), ValueError, "(n_curves, 15)"),
        (lambda: data.patches(np.zeros(15)), ValueError, "2 dimensions"),
        (lambda: data.patches(np.zeros((3, 15)), offsets="random"), ValueError, "offsets must be one of"),
        (lambda: data.patches(np.zeros((3, 15)), offsets="published"), ValueError, "seed"),
        (lambda: data.curves_from_parameters([1, 2], [1]), ValueError, "p1 and p2"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error, match=None) as info:
        call()
    assert words in str(info.value)
