"""Alignment, consistency, ablation, PCA and roughness on cases with known answers."""

import itertools

import numpy as np
import pytest
from flax import nnx

from course_utils.part1 import analysis, data, models

RNG = np.random.default_rng(0)
BASE = RNG.normal(size=(7, 3))


def relabelled(order, signs):
    return BASE[:, order] * np.asarray(signs)


def test_alignment_undoes_a_reordering_and_sign_flips():
    stack = np.stack([BASE, relabelled([2, 0, 1], [1, -1, -1]), relabelled([1, 2, 0], [-1, 1, 1])])
    aligned, orders, signs = analysis.align_filters(stack)
    assert np.allclose(aligned, BASE[None])
    assert orders[1].tolist() == [1, 2, 0] and orders[0].tolist() == [0, 1, 2]
    assert analysis.consistency(stack) == pytest.approx(1.0)
    assert analysis.consistency(stack, align=False) < 0.9


def test_alignment_picks_the_best_of_all_permutations():
    stack = RNG.normal(size=(12, 7, 3))
    _, orders, _ = analysis.align_filters(stack)
    unit = stack / np.linalg.norm(stack, axis=1, keepdims=True)
    for s in range(12):
        cos = np.abs(unit[0].T @ unit[s])
        best = max(itertools.permutations(range(3)), key=lambda p: cos[range(3), p].sum())
        assert orders[s].tolist() == list(best)


def test_consistency_is_low_for_unrelated_filters_and_ignores_scale():
    unrelated = RNG.normal(size=(20, 7, 3))
    assert analysis.consistency(unrelated) < 0.8
    assert analysis.consistency(np.stack([BASE, 5 * BASE])) == pytest.approx(1.0)


def test_ablation_zeroes_one_component_at_a_time():
    model = models.PatchAutoencoder(rngs=nnx.Rngs(0))
    patches = data.patches(data.bezier_curves(64, seed=1))
    losses = analysis.ablation_mse(model, patches)
    code = np.array(model.encode(patches))  # a writable copy
    code[..., 1] = 0.0
    expected = ((np.asarray(model.decode(code)) - patches) ** 2).mean()
    assert losses.shape == (4,) and losses[2] == pytest.approx(expected, rel=1e-5)


def test_principal_directions_of_curves_find_two_dimensions():
    directions, shares = analysis.principal_directions(data.bezier_curves(500, seed=0))
    assert shares[:2].sum() > 1 - 1e-9 and np.allclose(directions.T @ directions, np.eye(15), atol=1e-9)
    a, b = data.basis()
    assert analysis.principal_angles_deg(np.stack([a, b], 1), directions[:, :2]).max() < 1e-3


def test_principal_angles_of_known_spans():
    e = np.eye(4)
    assert np.allclose(analysis.principal_angles_deg(e[:, :2], e[:, [1, 0]]), 0, atol=1e-6)
    assert np.allclose(analysis.principal_angles_deg(e[:, :1], e[:, 1:2]), 90)
    assert np.allclose(analysis.principal_angles_deg(e[:, :1], (e[:, 0] + e[:, 1])[:, None]), 45)


def test_principal_angles_are_accurate_near_zero():
    e = np.eye(5)
    tilted = e[:, :1] + 1e-7 * e[:, 1:2]  # 1e-7 rad: arccos of the cosine would round to 0
    assert analysis.principal_angles_deg(e[:, :1], tilted)[0] == pytest.approx(np.degrees(1e-7), rel=1e-6)
    assert analysis.principal_angles_deg(e[:, :3], e[:, [0, 3]]).tolist() == pytest.approx([0, 90], abs=1e-9)


def test_filter_angles_compare_each_filter_with_its_own_direction():
    e = np.eye(7)
    directions = e[:, :3]
    filters = np.stack([-2 * e[:, 0], e[:, 1] + e[:, 2], e[:, 0]], axis=1)  # same span, not the same columns
    angles = analysis.filter_angles_deg(filters, directions)
    assert angles == pytest.approx([0, 45, 90])
    assert analysis.principal_angles_deg(filters, directions).max() < 1e-6  # yet every filter lies in the span
    assert analysis.filter_angles_deg(np.stack([filters, filters]), directions).shape == (2, 3)


def test_roughness_is_zero_for_lines_and_large_for_zigzags():
    taps = np.arange(7.0)
    line, zigzag = 0.3 * taps - 1, (-1.0) ** taps
    rough = analysis.roughness(np.stack([line, zigzag], axis=1))
    assert rough[0] == pytest.approx(0, abs=1e-12) and rough[1] > 1
    assert analysis.roughness(np.stack([line, zigzag], axis=1)[None]).shape == (1, 2)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: analysis.align_filters(np.ones((7, 3))), ValueError, "(seeds, taps, components)"),
        (lambda: analysis.align_filters(np.ones((2, 7, 3)), reference=2), ValueError, "reference must be"),
        (lambda: analysis.consistency(np.ones((1, 7, 3))), ValueError, "at least two seeds"),
        (lambda: analysis.principal_angles_deg(np.ones((7, 1)), np.ones((6, 1))), ValueError, "one space"),
        (lambda: analysis.roughness(np.ones(7)), ValueError, "(taps, components)"),
        (lambda: analysis.filter_angles_deg(np.ones((7, 3)), np.ones((7, 2))), ValueError, "must pair up"),
        (lambda: analysis.filter_angles_deg(np.zeros((7, 1)), np.ones((7, 1))), ValueError, "length 0"),
        (lambda: analysis.filter_angles_deg(np.ones(7), np.ones((7, 1))), ValueError, "(seeds, taps, k)"),
        (lambda: analysis.roughness(np.ones((2, 3))), ValueError, "at least 3 taps"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
