"""The decoder animation shows the model's real output, reads at page width and stays small."""

import base64
import io
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from flax import nnx  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from PIL import Image  # noqa: E402

from course_utils.core import training  # noqa: E402
from course_utils.display import frames, player  # noqa: E402
from course_utils.part1 import animations, data, models  # noqa: E402

MODEL = models.PatchAutoencoder(rngs=nnx.Rngs(0))
FILTERS, BIAS = np.asarray(MODEL.decoder.filters()), float(MODEL.decoder.bias())
CSS_PIXELS_PER_INCH = 96  # a frame is shown at one image pixel per CSS pixel


def _frames(html: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(png))).convert("RGB")).astype(float)
            for png in re.findall(r"data:image/png;base64,([^\"']+)", html)]


def test_sweep_moves_one_component_and_tour_moves_all():
    codes = animations.sweep(1, base=(0.1, 0.2, 0.3), frames=8)
    assert codes.shape == (8, 3) and np.all(codes[:, 0] == 0.1) and np.all(codes[:, 2] == 0.3)
    assert codes[:, 1].min() == pytest.approx(-0.6) and codes[:, 1].max() > 0.5
    tour = animations.tour(frames=12)
    assert tour.shape == (12, 3) and np.all(tour.std(axis=0) > 0.1)


def test_every_frame_draws_the_decoded_output():
    codes = animations.tour(frames=5).astype(np.float32)
    fig, artists = animations.decoder_figure(FILTERS, BIAS)
    for code in codes:
        out = animations.draw_frame(artists, code)
        assert np.allclose(out, np.asarray(MODEL.decode(code.reshape(1, 1, 3)))[0], atol=1e-5)
        assert np.allclose(artists["current"].get_ydata(), out)
        assert np.allclose(artists["point"].get_offsets(), [code[:2]])
        named = "0.00" if round(float(code[2]), 2) == 0 else f"{code[2]:+.2f}"
        assert named in artists["label"].get_text(), "the code panel names the frame's code"
    plt.close(fig)


def test_code_label_never_shows_a_negative_zero():
    fig, artists = animations.decoder_figure(FILTERS, BIAS)
    animations.draw_frame(artists, np.array([-0.6, 0.0, -0.0], np.float32))
    text = artists["label"].get_text()
    assert "-0.00" not in text and "(-0.60, 0.00, 0.00)" in text, text
    animations.draw_frame(artists, np.array([-0.001, 0.004, 0.25], np.float32))
    assert "(0.00, 0.00, +0.25)" in artists["label"].get_text(), artists["label"].get_text()
    plt.close(fig)


def test_frames_read_at_page_width():
    html = animations.decoder_animation(MODEL, animations.sweep(0, frames=2))
    height, width, _ = _frames(html)[0].shape
    assert width >= 800, f"a frame is {width} px wide: too small to read at page width"
    fig, artists = animations.decoder_figure(FILTERS, BIAS)
    fig.canvas.draw()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert len(texts) > 40, "ticks, labels, titles and legends should all be found"
    for text in texts:
        shown = text.get_fontsize() * fig.dpi / CSS_PIXELS_PER_INCH
        assert shown >= 9, f"{text.get_text()!r} shows at {shown:.1f} pt, under 9 pt"
    plt.close(fig)


def test_legends_and_code_label_never_cover_data():
    fig, artists = animations.decoder_figure(FILTERS, BIAS, ylim=animations.output_limit(FILTERS, BIAS, animations.tour()))
    for code in animations.tour():
        animations.draw_frame(artists, code)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        assert len(legends) == 3
        for legend in legends:
            for ax in fig.axes:
                assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer)), \
                    f"a legend covers the panel {ax.get_title()!r}"
        code_axes = artists["point"].axes
        assert not artists["label"].get_window_extent(renderer).overlaps(code_axes.get_window_extent(renderer))
    plt.close(fig)


def test_html_player_embeds_every_frame_as_a_small_palette_png():
    html = animations.decoder_animation(MODEL, animations.sweep(0, frames=4))
    assert html.count("data:image/png;base64") == 4, "one embedded frame per code"
    frame = Image.open(io.BytesIO(base64.b64decode(re.search(r"base64,([^\"']+)", html).group(1))))
    assert frame.mode == "P" and len(frame.getcolors()) <= frames.PALETTE_COLORS
    assert len(html) < 180_000, f"4 frames took {len(html)} characters"


def test_html_player_is_self_contained_and_deterministic():
    codes = animations.sweep(0, frames=3)
    html = animations.decoder_animation(MODEL, codes)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//|@import|url\(|<link", html), "nothing from the network"
    assert html == animations.decoder_animation(MODEL, codes), "no random ids: the same codes give the same HTML"
    buttons = re.findall(r'<button [^>]*title="([^"]+)"[^>]*>(.*?)</button>', html)
    assert [title for title, _ in buttons] == ["First frame", "Previous frame", "Play", "Next frame", "Last frame"]
    for title, inner in buttons:
        assert re.search(r"<svg [^>]*>\s*<(path|rect) ", inner), f"the {title} button has no symbol"
    assert len(re.findall(r"<img ", html)) == 3 and len(re.findall(r"<img [^>]* hidden>", html)) == 2, \
        "the first frame shows without JavaScript, the others wait hidden"


def test_blitted_frames_look_like_full_redraws():
    codes = animations.tour(frames=3)
    blitted = _frames(animations.decoder_animation(MODEL, codes))
    fig, artists = animations.decoder_figure(FILTERS, BIAS, ylim=animations.output_limit(FILTERS, BIAS, codes))
    animations.draw_frame(artists, codes[0])
    fig.canvas.draw()
    fig.set_layout_engine("none")
    for code, frame in zip(codes, blitted):
        animations.draw_frame(artists, code)
        fig.canvas.draw()
        full = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float)
        assert frame.shape == full.shape
        assert np.abs(frame - full).mean() < 3, "a blitted frame must show what a full redraw shows"
    plt.close(fig)


@pytest.fixture(scope="module")
def trained():
    """Two seeds, 200 steps, a snapshot every 100: three snapshots (steps 0, 100, 200)."""
    patches = data.patches(data.bezier_curves(512, seed=0))
    config = training.TrainConfig(steps=200, snapshot_every=100)
    return training.train(lambda rngs: models.PatchAutoencoder(rngs=rngs), patches, seeds=range(2), config=config,
                          progress=False)


def test_training_animation_has_a_frame_per_snapshot_showing_that_snapshots_filters(trained):
    html = animations.training_animation(trained, seed_index=1, bar=1e-4)
    frames = _frames(html)
    assert len(frames) == len(trained.snapshots) == 3
    assert frames[0].shape[1] >= 800 and not np.array_equal(frames[0], frames[-1]), "the frames must differ"
    fig, artists = animations.training_figure(np.asarray(trained.losses), 1.0, 1.0, bar=1e-4)
    for k, step in enumerate(trained.snapshot_steps):
        model = trained.model(1, snapshot=k)
        animations.draw_training_frame(artists, step, model.encoder.filters(), model.decoder.filters(), "t")
        shown = np.stack([line.get_ydata() for line in artists["decoder"]], axis=1)
        assert np.allclose(shown, np.asarray(model.decoder.filters())), "the decoder panel shows the snapshot's filters"
        assert artists["step"].get_xdata()[0] == step
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        for other in fig.axes:
            assert not ax.get_legend().get_window_extent(renderer).overlaps(other.get_window_extent(renderer))
    plt.close(fig)


def test_training_animation_needs_snapshots(trained):
    patches = data.patches(data.bezier_curves(64, seed=0))
    without = training.train(lambda rngs: models.PatchAutoencoder(rngs=rngs), patches, seeds=range(1),
                             config=training.TrainConfig(steps=10), progress=False)
    with pytest.raises(ValueError, match="snapshot_every"):
        animations.training_animation(without)
    with pytest.raises(ValueError, match="seed_index must hold seed position numbers"):
        animations.training_animation(trained, seed_index=5)


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="component must be 0, 1 or 2"):
        animations.sweep(3)
    with pytest.raises(ValueError, match=r"\(frames, 3\)"):
        animations.decoder_animation(MODEL, np.ones((4, 2)))
    with pytest.raises(ValueError, match="fps must be"):
        player.html_player([b"png"], fps=0)
    with pytest.raises(TypeError, match="non-empty list of PNG bytes"):
        player.html_player([])


def test_the_painting_ends_with_the_models_own_output_and_counts_every_overlap():
    curve = data.bezier_curves(1, seed=3)[0]
    frames = animations.painting_frames(MODEL, curve)
    assert len(frames) == len(data.WINDOW_STARTS) * animations.PAINT_STEPS
    whole = np.asarray(MODEL(curve[None]))[0]  # the patch model run over the whole curve, overlaps added
    assert np.allclose(frames[-1]["output"], whole, atol=1e-5)
    assert frames[-1]["counts"].tolist() == [1, 1, 1, 1, 2, 2, 2, 1, 2, 2, 2, 1, 1, 1, 1]
    assert frames[0]["counts"].tolist() == [1] * 7 + [0] * 8
    first_window = frames[animations.PAINT_STEPS - 1]["output"]
    assert np.allclose(first_window[7:], BIAS, atol=1e-6), "before window 2 paints, only the bias is right of it"
    html = animations.painting_animation(MODEL, curve)
    pngs = _frames(html)
    assert len(pngs) == len(frames) and pngs[0].shape[1] >= 800


def test_the_painting_rejects_a_patch_for_a_curve():
    with pytest.raises(ValueError, match="15 points"):
        animations.painting_frames(MODEL, np.zeros(7))
