"""Explorer update functions (headless) and exercise checks."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

from course_utils import data, exercises, models, widgets  # noqa: E402


def test_curve_explorer_update_moves_the_artists():
    fig, artists = widgets.curve_explorer_figure()
    curve = widgets.update_curve_explorer(artists, 0.8, -0.3)
    assert np.allclose(artists["curve"].get_ydata(), data.curves_from_parameters(0.8, -0.3)[0])
    assert np.allclose(artists["windows"][2].get_ydata(), curve[8:15])
    before = np.array(artists["curve"].get_ydata(), copy=True)
    widgets.update_curve_explorer(artists, -0.5, 0.9)
    assert not np.allclose(before, artists["curve"].get_ydata())


def test_reconstruction_explorer_update_shows_code_and_reconstruction():
    model = models.PatchAutoencoder(rngs=nnx.Rngs(0))
    fig, artists = widgets.reconstruction_explorer_figure()
    mse = widgets.update_reconstruction_explorer(artists, model, 0.5, 0.2, 8)
    patch = data.curves_from_parameters(0.5, 0.2)[:, 8:15]
    assert np.allclose(artists["original"].get_ydata(), patch[0])
    assert np.allclose(artists["rebuilt"].get_ydata(), np.asarray(model(patch))[0], atol=1e-6)
    code = np.asarray(model.encode(patch))[0, 0]
    assert np.allclose([bar.get_height() for bar in artists["bars"]], code)
    assert np.isclose(mse, ((np.asarray(model(patch)) - patch) ** 2).mean(), rtol=1e-5)


def test_explorers_build_widgets():
    assert widgets.curve_explorer().children
    assert widgets.reconstruction_explorer(models.PatchAutoencoder(rngs=nnx.Rngs(0))).children


def test_exercise_checks_accept_right_reject_wrong_and_wait_for_none(capsys):
    a, b = data.basis()
    assert exercises.check_curve_from_basis(0.3 * a - 0.5 * b) is True
    assert exercises.check_curve_from_basis(0.3 * a + 0.5 * b) is False
    assert exercises.check_curve_from_basis(None) is None
    assert exercises.check_windows_covering([1, 1, 1, 1, 2, 2, 2, 1, 2, 2, 2, 1, 1, 1, 1]) is True
    assert exercises.check_windows_covering([1] * 15) is False
    assert exercises.check_max_abs_y(0.75) is True and exercises.check_max_abs_y(1.0) is False
    assert exercises.check_max_abs_y("a lot") is False
    model = models.PatchAutoencoder(rngs=nnx.Rngs(0))
    patch = data.curves_from_parameters(0.2, 0.4)[0, :7]
    w, bias = np.asarray(model.encoder.filters()), np.asarray(model.encoder.conv.bias[...])
    assert exercises.check_code_by_hand(np.tanh(patch @ w + bias), model, patch) is True
    assert exercises.check_code_by_hand(patch @ w, model, patch) is False
    code = np.array([0.0, 0.1, 0.2], np.float32)
    by_hand = np.asarray(model.decoder.filters()) @ code + float(model.decoder.bias())
    assert exercises.check_sum_of_filters(by_hand, model, code) is True
    assert exercises.check_sum_of_filters(by_hand[::-1], model, code) is False
    assert "Correct!" in capsys.readouterr().out
