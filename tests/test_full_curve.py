"""The fixes for overlaps and borders do what notebook 06 says they do, on any weights."""

import numpy as np
import pytest
from flax import nnx

from course_utils.core import deconv
from course_utils.part1 import data, full_curve, models

MODEL = models.PatchAutoencoder(rngs=nnx.Rngs(3))
CURVES = data.bezier_curves(16, seed=2)


def test_no_fix_is_the_model_itself():
    assert np.allclose(full_curve.reconstruct(MODEL, CURVES, "none"), np.asarray(MODEL(CURVES)), atol=1e-5)


def test_normalise_averages_the_patch_reconstructions_of_the_covering_windows():
    got = full_curve.reconstruct(MODEL, CURVES, "normalise")
    total = np.zeros_like(CURVES)
    for start in (0, 4, 8):
        total[:, start:start + 7] += np.asarray(MODEL(CURVES[:, start:start + 7]))
    assert np.allclose(got, total / deconv.overlap_counts(3, 7, 4), atol=1e-5)


def test_coverage_of_each_fix():
    assert np.array_equal(full_curve.coverage("none"), deconv.overlap_counts(3, 7, 4))
    halve = full_curve.coverage("halve")
    assert np.allclose(halve[3:12], 1) and np.allclose(halve[[0, 1, 2, 12, 13, 14]], 0.5)
    assert np.allclose(full_curve.coverage("halve_published")[[4, 8]], 1.5)
    assert np.allclose(full_curve.coverage("taper")[3:12], 1) and full_curve.coverage("taper")[0] == 0.25
    assert np.allclose(full_curve.coverage("pad", n_windows=5)[4:19], 1)  # the 15 kept positions
    assert np.allclose(full_curve.coverage("normalise"), 1)


def test_pad_reflects_oddly_and_keeps_fifteen_points():
    padded = full_curve._odd_reflect(CURVES)
    assert padded.shape == (16, 23)
    assert np.allclose(padded[:, 4:19], CURVES)
    assert np.allclose(padded[:, 3], -CURVES[:, 1]) and np.allclose(padded[:, 19], -CURVES[:, 13])
    assert full_curve.reconstruct(MODEL, CURVES, "pad").shape == CURVES.shape


def test_error_by_position():
    assert np.allclose(full_curve.error_by_position(CURVES + 0.1, CURVES), 0.01)


def test_regions_split_the_fifteen_positions_by_coverage():
    assert full_curve.OVERLAPS == (4, 5, 6, 8, 9, 10) and full_curve.MIDDLES == (3, 7, 11)
    assert full_curve.BORDERS == (0, 1, 2, 12, 13, 14)
    assert sorted(sum(full_curve.REGIONS.values(), ())) == list(range(15))
    assert np.allclose(full_curve.coverage("halve")[list(full_curve.BORDERS)], 0.5)  # the halving misses exactly these


def test_compare_averages_models_and_scores_each_variant():
    models_ = [MODEL, models.PatchAutoencoder(rngs=nnx.Rngs(4))]
    errors = full_curve.compare({"naive": full_curve.assembled(models_, "none"),
                                 "as a model": full_curve.end_to_end(models_),
                                 "exact": [lambda c: c]}, CURVES)
    by_hand = np.mean([full_curve.error_by_position(full_curve.reconstruct(m, CURVES), CURVES) for m in models_], 0)
    assert np.allclose(errors["naive"], by_hand) and np.allclose(errors["as a model"], by_hand, rtol=1e-4)
    assert np.all(errors["exact"] == 0)
    regions = full_curve.region_errors(np.arange(15.0))
    assert regions == {"all 15": 7.0, "overlaps": 7.0, "borders": 7.0, "middles": 7.0}
    table = full_curve.error_table(errors).splitlines()
    assert len(table) == 4 and table[0].split() == ["variant", "all", "15", "overlaps", "borders", "middles"]
    assert table[3].split()[1:] == ["0.00e+00"] * 4


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: full_curve.reconstruct(MODEL, CURVES, "double"), ValueError, "fix must be one of"),
        (lambda: full_curve.reconstruct(MODEL, CURVES[:, :11], "none"), ValueError, "(n_curves, 15)"),
        (lambda: full_curve.decode_windows(MODEL, np.ones((2, 3)), "none"), ValueError, "(batch, windows, 3)"),
        (lambda: full_curve.error_by_position(CURVES[:2], CURVES), ValueError, "one shape"),
        (lambda: full_curve.assembled([MODEL], "double"), ValueError, "fix must be one of"),
        (lambda: full_curve.compare({"none": []}, CURVES), ValueError, "no models"),
        (lambda: full_curve.compare({}, CURVES[:, :7]), ValueError, "(n_curves, 15)"),
        (lambda: full_curve.region_errors(np.ones(7)), ValueError, "one value per position"),
        (lambda: full_curve.error_table({}), ValueError, "errors must hold at least one entry"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
