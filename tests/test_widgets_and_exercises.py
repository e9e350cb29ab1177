"""Explorer update functions, frames and registry (headless) and exercise checks."""

import base64
import importlib
import inspect
import io

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from flax import nnx  # noqa: E402
from PIL import Image  # noqa: E402

from course_utils import registry  # noqa: E402
from course_utils.core import deconv  # noqa: E402
from course_utils.display import explorer as explorer_kit, frames  # noqa: E402
from course_utils.part1 import data, exercises, explorers, models, plotting  # noqa: E402
from course_utils.part2 import checkerboard_lesson, vae_lesson  # noqa: E402


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def shown_png(explorer: ipywidgets.Widget) -> bytes:
    """The picture an explorer widget shows now."""
    (output,) = explorer.children[1].outputs
    return base64.b64decode(output["data"]["image/png"])


@pytest.mark.parametrize("name", list(registry.EXPLORERS))
def test_blitted_frames_match_a_full_draw(name):
    """Redrawing only the moving artists gives the picture a full draw gives, move after move."""
    explorer = registry.EXPLORERS[name]
    figure, moving, update, options = explorer.scene(*explorer.examples())
    engine = frames.FigureFrames(figure, moving)
    rng = np.random.default_rng(1)
    previous, values = None, None
    for _ in range(3):
        moved = explorer.random_values(rng, options)
        while moved == values:  # a move goes somewhere new (a slider with few positions may repeat one)
            moved = explorer.random_values(rng, options)
        values = moved
        update(**values)
        frame = pixels(engine.png())
        buffer = io.BytesIO()
        for artist in engine.moving:  # a full draw, moving artists included
            artist.set_animated(False)
        figure.savefig(buffer, format="png")
        for artist in engine.moving:
            artist.set_animated(True)
        full = pixels(buffer.getvalue())
        assert frame.shape == full.shape
        # Only antialiased edges under the semi-transparent legends may differ.
        allowed = 0.005 if any(ax.get_legend() is not None for ax in figure.axes) else 0.0
        assert (np.abs(frame - full).max(axis=2) > 8).mean() <= allowed, f"{name}: the frame differs from a full draw"
        assert previous is None or not np.array_equal(previous, frame), f"{name}: the picture did not change"
        previous = frame


def test_registry_defaults_are_the_explorer_functions_defaults():
    for explorer in registry.EXPLORERS.values():
        function = getattr(importlib.import_module(explorer.module), explorer.function)
        signature = inspect.signature(function)
        assert list(signature.parameters)[:len(explorer.inputs)] == list(explorer.inputs), explorer.name
        assert len(explorer.examples()) == len(explorer.inputs), f"{explorer.name}: one example per input"
        for name, value in explorer.defaults.items():
            if name in signature.parameters:
                assert signature.parameters[name].default == value, f"{explorer.function}({name}=...)"
    code = inspect.signature(explorers.latent_explorer).parameters["code"].default
    assert code == tuple(explorers.LATENT_EXPLORER.defaults[c] for c in models.CODE_NAMES)
    assert len({explorer.call for explorer in registry.EXPLORERS.values()}) == len(registry.EXPLORERS)


@pytest.mark.parametrize("name", ["vae_curve", "overlap", "digit_latent"])
def test_explorers_of_part_two_build_widgets_from_the_registry(name):
    """The explorers of notebooks 08-10 start at the registry's defaults, labelled as their inputs say."""
    explorer = registry.EXPLORERS[name]
    function = getattr(importlib.import_module(explorer.module), explorer.function)
    shown = function(*explorer.examples())
    controls = shown.children[0].children
    assert [c.value for c in controls] == [explorer.defaults[c.name] for c in explorer.controls]
    first = shown_png(shown)
    controls[0].value = controls[0].max
    assert not np.array_equal(pixels(first), pixels(shown_png(shown))), f"{name}: the picture did not change"
    if name == "vae_curve":
        from course_utils.part2 import vae

        relabelled = vae_lesson.latent_curve_explorer(vae.CurveVAE(rngs=nnx.Rngs(0)), (3, 1))
        assert [c.description for c in relabelled.children[0].children] == ["latent 3", "latent 1"]


def test_overlap_explorer_paints_as_the_transposed_convolution_does():
    """The explorer's NumPy painting equals deconv.conv_transpose_2d, stage by stage (same draws)."""
    for kernel, stride in [(3, 2), (4, 2), (1, 3), (8, 4), (5, 1)]:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(checkerboard_lesson.EXPLORER_INPUTS,) * 2 + (8,)).astype(np.float32)
        for c_in, c_out, relu in [(8, 8, True), (8, 1, False)]:
            w = rng.normal(scale=stride / (kernel * np.sqrt(c_in)), size=(kernel, kernel, c_in, c_out))
            x = np.asarray(deconv.conv_transpose_2d(x, w.astype(np.float32), stride))
            x = np.maximum(x, 0.0) if relu else x
        painted = checkerboard_lesson.random_transposed_generator(kernel, stride)
        assert painted.shape == x[..., 0].shape and np.allclose(painted, x[..., 0], atol=1e-4), (kernel, stride)


def test_a_slider_label_may_come_with_the_inputs():
    assert explorers.P1.widget(0.2, label="first latent").description == "first latent"
    assert explorers.P1.widget(0.2).description == "p1"
    with pytest.raises(TypeError, match="takes no options"):
        explorers.P1.widget(0.2, options=["a", "b"])


def test_controls_sample_on_their_grid_and_reject_values_out_of_range():
    rng = np.random.default_rng(0)
    offsets = {explorers.OFFSET.sample(rng) for _ in range(200)}
    assert offsets == set(data.ALL_OFFSETS)
    heights = np.array([explorers.P1.sample(rng) for _ in range(200)])
    assert heights.min() >= -1 and heights.max() <= 1 and np.allclose(np.round(heights / 0.05) * 0.05, heights)
    assert isinstance(explorers.OFFSET.widget(4), ipywidgets.IntSlider)
    assert isinstance(explorers.P1.widget(0.3), ipywidgets.FloatSlider)
    with pytest.raises(ValueError, match="p1 must be a number in"):
        explorers.P1.widget(1.5)
    with pytest.raises(ValueError, match="needs at least one option"):
        explorer_kit.Control("variant").widget(None, options=[])
    with pytest.raises(TypeError, match="has no control"):
        explorers.CURVE_EXPLORER.widget(p3=0.1)


def test_moving_a_slider_changes_the_picture_shown():
    explorer = explorers.curve_explorer()
    first = shown_png(explorer)
    p1 = explorer.children[0].children[0]
    p1.value = -0.3
    second = shown_png(explorer)
    assert pixels(first).shape == pixels(second).shape and not np.array_equal(pixels(first), pixels(second))
    menu_explorer = explorers.full_curve_explorer({"zero": np.zeros_like, "exact": lambda c: c})
    before = shown_png(menu_explorer)
    menu_explorer.children[0].children[0].value = "exact"
    assert shown_png(menu_explorer) != before


def test_interactive_figure_checks_its_arguments():
    fig, artists = explorers.curve_explorer_figure()
    with pytest.raises(TypeError, match="update must be a function"):
        explorer_kit.interactive_figure(fig, artists["curve"], None, {"p1": explorers.P1.widget(0.0)})
    with pytest.raises(TypeError, match="controls must map names"):
        explorer_kit.interactive_figure(fig, artists["curve"], lambda p1: None, {"p1": 0.0})
    with pytest.raises(TypeError, match="moving must hold matplotlib artists"):
        frames.FigureFrames(fig, ["curve"])
    with pytest.raises(TypeError, match="matplotlib Figure"):
        frames.FigureFrames(artists["curve"], artists["curve"])


def test_explorer_geometry_comes_from_the_data_module():
    fig, artists = explorers.curve_explorer_figure()
    assert len(artists["curve"].get_xdata()) == data.N_POINTS
    assert len(artists["windows"]) == len(data.WINDOW_STARTS)
    assert all(len(line.get_xdata()) == data.PATCH for line in artists["windows"])
    assert len(plotting.WINDOW_COLORS) == len(data.WINDOW_STARTS) == models.CODE_SIZE
    ax = fig.axes[0]
    assert ax.get_xlim() == (-0.5, data.N_POINTS - 0.5)


def test_curve_explorer_update_moves_the_artists():
    fig, artists = explorers.curve_explorer_figure()
    curve = explorers.update_curve_explorer(artists, 0.8, -0.3)
    assert np.allclose(artists["curve"].get_ydata(), data.curves_from_parameters(0.8, -0.3)[0])
    assert np.allclose(artists["windows"][2].get_ydata(), curve[8:15])
    before = np.array(artists["curve"].get_ydata(), copy=True)
    explorers.update_curve_explorer(artists, -0.5, 0.9)
    assert not np.allclose(before, artists["curve"].get_ydata())


def test_reconstruction_explorer_update_shows_code_and_reconstruction():
    model = models.PatchAutoencoder(rngs=nnx.Rngs(0))
    fig, artists = explorers.reconstruction_explorer_figure()
    mse = explorers.update_reconstruction_explorer(artists, model, 0.5, 0.2, 8)
    patch = data.curves_from_parameters(0.5, 0.2)[:, 8:15]
    assert np.allclose(artists["original"].get_ydata(), patch[0])
    assert np.allclose(artists["rebuilt"].get_ydata(), np.asarray(model(patch))[0], atol=1e-6)
    code = np.asarray(model.encode(patch))[0, 0]
    assert np.allclose([bar.get_height() for bar in artists["bars"]], code)
    assert np.isclose(mse, ((np.asarray(model(patch)) - patch) ** 2).mean(), rtol=1e-5)


def test_explorers_build_widgets():
    assert explorers.curve_explorer().children
    assert explorers.reconstruction_explorer(models.PatchAutoencoder(rngs=nnx.Rngs(0))).children


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


def test_latent_explorer_update_paints_scaled_filters():
    model = models.PatchAutoencoder(rngs=nnx.Rngs(1))
    fig, artists = explorers.latent_explorer_figure(model)
    out = explorers.update_latent_explorer(artists, 0.0, 0.1, 0.2)
    code = np.array([0.0, 0.1, 0.2], np.float32)
    assert np.allclose(out, np.asarray(model.decode(code.reshape(1, 1, 3)))[0], atol=1e-6)
    assert np.allclose(artists["sum"].get_ydata(), out)
    assert np.allclose(artists["scaled"][2].get_ydata(), 0.2 * np.asarray(model.decoder.filters())[:, 2])
    assert np.allclose(artists["scaled"][0].get_ydata(), 0)


def test_encoder_explorer_update_computes_the_models_code():
    model = models.PatchAutoencoder(rngs=nnx.Rngs(2))
    fig, artists = explorers.encoder_explorer_figure(model)
    code = explorers.update_encoder_explorer(artists, 0.7, -0.2, 3)
    patch = data.curves_from_parameters(0.7, -0.2)[:, 3:10]
    assert np.allclose(code, np.asarray(model.encode(patch))[0, 0], atol=1e-5)
    assert np.allclose(artists["rebuilt"].get_ydata(), np.asarray(model(patch))[0], atol=1e-5)
    filters = np.asarray(model.encoder.filters())
    assert np.allclose(artists["products"][1].get_ydata(), filters[:, 1] * patch[0], atol=1e-6)


def test_full_curve_explorer_switches_variants():
    fig, artists = explorers.full_curve_explorer_figure()
    reconstructors = {"zero": lambda c: np.zeros_like(c), "exact": lambda c: c}
    assert explorers.update_full_curve_explorer(artists, reconstructors, "exact", 0.5, 0.5) == 0
    mse = explorers.update_full_curve_explorer(artists, reconstructors, "zero", 0.5, 0.5)
    assert np.isclose(mse, (data.curves_from_parameters(0.5, 0.5) ** 2).mean())
    assert np.allclose(artists["rebuilt"].get_ydata(), 0)
    with pytest.raises(ValueError, match="variant must be one of"):
        explorers.update_full_curve_explorer(artists, reconstructors, "other", 0.5, 0.5)


def test_size_explorer_update_reports_the_output_length():
    fig, artists = explorers.size_explorer_figure()
    assert explorers.update_size_explorer(artists, 3, 7, 4, 0) == 15
    shown = [bar for bar in artists["bars"] if bar.get_visible()]
    assert [bar.get_height() for bar in shown] == [1, 1, 1, 1, 2, 2, 2, 1, 2, 2, 2, 1, 1, 1, 1]
    explorers.update_size_explorer(artists, *(c.hi for c in explorers.SIZE_CONTROLS[:3]), 0)  # the longest output
    assert all(bar.get_visible() for bar in artists["bars"])
    assert explorers.update_size_explorer(artists, 3, 7, 4, 2) == 11
    assert explorers.update_size_explorer(artists, 2, 2, 5, 0) == 7  # a gap no window reaches
    assert "no window reaches" in artists["ax"].get_title()


def test_new_explorers_build_widgets():
    model = models.PatchAutoencoder(rngs=nnx.Rngs(0))
    assert explorers.latent_explorer(model).children
    assert explorers.encoder_explorer(model).children
    assert explorers.full_curve_explorer({"model": lambda c: np.asarray(model(c))}).children
    assert explorers.size_explorer().children
    with pytest.raises(TypeError, match="reconstructors"):
        explorers.full_curve_explorer({})


def test_exercise_checks_of_notebooks_03_to_07():
    model = models.PatchAutoencoder(rngs=nnx.Rngs(0))
    filters = np.asarray(model.decoder.filters())
    assert exercises.check_output_change(0.1 * filters[3, 1], model) is True
    assert exercises.check_output_change(0.1 * filters[3, 0], model) is False
    target = filters @ np.array([0.2, -0.1, 0.3]) + float(model.decoder.bias())
    assert exercises.check_code_for_target([0.2, -0.1, 0.3], model, target) is True
    assert exercises.check_code_for_target([0.0, 0.0, 0.0], model, target) is False
    assert exercises.check_effective_noise([0.1, 1e-3, 1e-6]) is True
    assert exercises.check_effective_noise([0.1, 0.01, 0.001]) is False
    assert exercises.check_most_important_component(3, [0, 1, 2, 5]) is True
    assert exercises.check_most_important_component(1, [0, 1, 2, 5]) is False
    f = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    unit = f / np.linalg.norm(f)
    assert exercises.check_roughness((np.diff(unit, n=2) ** 2).mean(), f) is True
    exact = (np.diff(unit, n=2) ** 2).mean()
    assert exercises.check_roughness(float(f"{exact:.3g}"), f) is True  # 3 significant figures, as asked
    assert exercises.check_roughness(1.02 * exact, f) is False
    assert exercises.check_taper_coverage([0.25, 0.5, 0.75] + [1.0] * 9 + [0.75, 0.5, 0.25]) is True
    assert exercises.check_taper_coverage([1.0] * 15) is False
    assert exercises.check_output_length(32, 16, 4, 2, padding=1) is True
    assert exercises.check_output_length(33, 16, 4, 2, padding=1) is False
    assert exercises.check_output_length(None, 16, 4, 2) is None


def _encode_by_loops(signals, filters, bias):
    code = np.zeros((len(signals), (signals.shape[1] - 7) // 4 + 1, 3))
    for i in range(code.shape[1]):
        for c in range(3):
            code[:, i, c] = np.tanh(signals[:, 4 * i:4 * i + 7] @ filters[:, c] + bias[c])
    return code


def _decode_by_formula(code, filters, bias):
    length = 4 * (len(code) - 1) + 7
    return np.array([sum(code[i] @ filters[n - 4 * i] for i in range(len(code)) if 0 <= n - 4 * i < 7)
                     for n in range(length)]) + bias


def _angles_by_svd_bases(a, b):
    ua, ub = np.linalg.svd(a, full_matrices=False)[0], np.linalg.svd(b, full_matrices=False)[0]
    return np.sort(np.degrees(np.arccos(np.clip(np.linalg.svd(ua.T @ ub, compute_uv=False), -1, 1))))


def _paint(x, w, stride):
    out = np.zeros((stride * (len(x) - 1) + len(w), w.shape[2]))
    for i in range(len(x)):
        out[stride * i:stride * i + len(w)] += np.einsum("c,kco->ko", x[i], w)
    return out


def test_write_a_function_exercises_of_part_one(capsys):
    """Each function exercise of 01-07: the worked solution and another right form pass, slips fail with their hint."""
    a, b = data.basis()
    t = np.linspace(0, 1, 15)
    solution = {name: exercises.solution(name, show=False) for name in (
        "curves_from_parameters", "encode", "decode", "principal_angles", "filter_roughness", "coverage",
        "dilated_convolution")}
    cases = {  # name: (another right form, [(a typical slip, words of its hint)])
        "curves_from_parameters": (lambda p1, p2: np.outer(p1, a) + np.outer(p2, b), [
            (lambda p1, p2: np.outer(p1, 3 * (1 - t) ** 2 * t) + np.outer(p2, 3 * (1 - t) * t**2), "not in t"),
            (lambda p1, p2: np.outer(p2, a) + np.outer(p1, b), "p1 and p2 swapped")]),
        "encode": (_encode_by_loops, [
            (lambda s, f, bias: np.arctanh(solution["encode"](s, f, bias)), "Apply tanh"),
            (lambda s, f, bias: solution["encode"](s, f, 0 * bias), "add its bias"),
            (lambda s, f, bias: solution["encode"](s, f[::-1], bias), "not flipped")]),
        "decode": (_decode_by_formula, [
            (lambda code, f, bias: solution["decode"](code, f, 0.0), "add the bias once"),
            (lambda code, f, bias: solution["decode"](code, f[::-1], bias), "paint adds up"),
            (lambda code, f, bias: solution["decode"](code, f, 0.0)
             + bias * np.asarray(deconv.overlap_counts(len(code), 7, 4)), "once per output position")]),
        "principal_angles": (_angles_by_svd_bases, [
            (lambda x, y: np.radians(solution["principal_angles"](x, y)), "radians"),
            (lambda x, y: solution["principal_angles"](x, y)[::-1], "ascending"),
            (lambda x, y: np.degrees(np.arccos(np.clip(np.linalg.svd(x.T @ y, compute_uv=False), -1, 1))),
             "Orthonormalise")]),
        "filter_roughness": (
            lambda f: np.array([(np.convolve(c / np.linalg.norm(c), [1, -2, 1], "valid") ** 2).mean() for c in f.T]), [
                (lambda f: (np.diff(f / np.linalg.norm(f, axis=0), n=2, axis=0) ** 2).sum(axis=0), "do not sum"),
                (lambda f: (np.diff(f, n=2, axis=0) ** 2).mean(axis=0), "unit length")]),
        "coverage": (lambda w: np.array([sum(w[n - s] for s in (0, 4, 8) if 0 <= n - s < 7) for n in range(15)]), [
            (lambda w: solution["coverage"](w[::-1]), "backwards")]),
        "dilated_convolution": (_paint, [
            (lambda x, w, stride: solution["dilated_convolution"](x, w[::-1], stride), "the flipped kernel")]),
    }
    for name, (right, slips) in cases.items():
        check = getattr(exercises, f"check_{name}")
        assert check(solution[name]) is True, f"{name}: the worked solution"
        assert check(right) is True, f"{name}: another right form"
        for wrong, hint in slips:
            capsys.readouterr()
            assert check(wrong) is False, f"{name}: a slip ({hint})"
            assert hint in capsys.readouterr().out, f"{name}: the hint should say {hint!r}"
        assert check(None) is None
        assert check("not a function") is False
