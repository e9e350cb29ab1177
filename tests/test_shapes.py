"""course_utils.shapes draws a balanced, reproducible data set whose masks are the truth."""

import time

import numpy as np
import pytest

from course_utils.part2 import shapes


def test_shapes_dtypes_and_value_range():
    images, labels, masks = shapes.make_dataset(500, seed=0)
    assert images.shape == (500, 32, 32, 1) and images.dtype == np.float32
    assert labels.shape == (500,) and labels.dtype == np.int32
    assert masks.shape == (500, 32, 32) and masks.dtype == bool
    assert images.min() >= 0 and images.max() <= 1
    assert set(np.unique(labels)) == set(range(len(shapes.CLASS_NAMES)))


def test_same_seed_same_data_other_seed_other_data():
    a = shapes.make_dataset(200, seed=7)
    b = shapes.make_dataset(200, seed=7)
    c = shapes.make_dataset(200, seed=8)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[2], c[2])


@pytest.mark.parametrize("n", [5, 12, 1001])
def test_classes_are_balanced(n):
    counts = np.bincount(shapes.make_dataset(n, seed=1)[1], minlength=shapes.N_CLASSES)
    assert counts.sum() == n and counts.max() - counts.min() <= 1


def test_classes_come_in_random_order():
    labels = shapes.make_dataset(100, seed=2)[1]
    assert not np.array_equal(labels, np.arange(100) % shapes.N_CLASSES)


def test_without_noise_the_mask_is_exactly_where_the_shape_is_drawn():
    images, _, masks, params = shapes.make_dataset(300, seed=3, noise=0.0, return_parameters=True)
    expected = params["backgrounds"][:, None, None] + params["contrasts"][:, None, None] * masks
    assert np.allclose(images[..., 0], expected, atol=1e-6)
    # Shape pixels are brighter than every background pixel of the same image.
    for img, mask in zip(images[..., 0], masks):
        assert img[mask].min() > img[~mask].max()


def test_noise_has_the_requested_size_off_the_object():
    clean, _, masks = shapes.make_dataset(400, seed=4, noise=0.0)
    noisy = shapes.make_dataset(400, seed=4, noise=0.05)[0]
    # Same seed: same shapes and levels. Away from the clip at 0 (background above 0.2)
    # the difference is the noise itself.
    diff = (noisy - clean)[..., 0][~masks & (clean[..., 0] > 0.2)]
    assert abs(diff.std() - 0.05) < 0.005 and abs(diff.mean()) < 0.005


def test_shapes_lie_inside_the_image_and_have_sensible_areas():
    _, labels, masks, params = shapes.make_dataset(2000, seed=5, return_parameters=True)
    area = masks.sum(axis=(1, 2))
    assert area.min() >= 20, "every shape is visible"
    r = params["half_sizes"]
    assert np.all(params["centres"] - r[:, None] >= 0) and np.all(params["centres"] + r[:, None] <= 31)
    # A disc covers about pi r^2 pixels; a ring (inner radius 0.55 r) about pi r^2 (1 - 0.55^2).
    disc, ring = labels == 0, labels == 4
    assert np.allclose(area[disc] / (np.pi * r[disc] ** 2), 1, atol=0.15)
    assert np.allclose(area[ring] / (np.pi * r[ring] ** 2 * (1 - 0.55**2)), 1, atol=0.25)


def test_the_five_rules_on_a_large_centred_shape():
    labels = np.arange(5)
    masks = shapes.shape_masks(labels, np.full((5, 2), 15.0), np.full(5, 10.0))
    disc, square, triangle, cross, ring = masks
    assert disc[15, 15] and disc[15, 25] and not disc[6, 6]
    assert square[7, 7] and square[23, 23] and not square[6, 15]
    assert triangle[6, 15] and not triangle[7, 10] and triangle[22, 6] and not triangle[23, 15]
    assert cross[15, 6] and cross[6, 15] and not cross[8, 8]
    assert ring[15, 25] and not ring[15, 15] and not ring[15, 19]
    # Each rule is symmetric left-right; all but the triangle also up-down.
    assert all(np.array_equal(m[:, 10:21], m[:, 10:21][:, ::-1]) for m in masks)
    assert all(np.array_equal(m[10:21], m[10:21][::-1]) for k, m in enumerate(masks) if k != 2)


def test_ten_thousand_images_take_well_under_a_second():
    shapes.make_dataset(100, seed=0)
    start = time.process_time()
    shapes.make_dataset(10_000, seed=0)
    assert time.process_time() - start < 1.0


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"n": 0, "seed": 0}, ValueError),
        ({"n": 2.5, "seed": 0}, TypeError),
        ({"n": 10, "seed": -1}, ValueError),
        ({"n": 10, "seed": 0, "noise": -0.1}, ValueError),
        ({"n": 10, "seed": 0, "noise": "a"}, TypeError),
    ],
)
def test_bad_arguments_are_refused(kwargs, error):
    with pytest.raises(error):
        shapes.make_dataset(**kwargs)


def test_seed_is_keyword_only():
    with pytest.raises(TypeError):
        shapes.make_dataset(10, 0)


def test_shape_masks_refuses_bad_inputs():
    with pytest.raises(ValueError, match="labels"):
        shapes.shape_masks([5], [[10, 10]], [5.0])
    with pytest.raises(ValueError, match="shapes"):
        shapes.shape_masks([0, 1], [[10, 10]], [5.0, 5.0])
    with pytest.raises(ValueError, match="half_sizes"):
        shapes.shape_masks([0], [[10, 10]], [0.0])
