"""The decoder animation shows the model's real output and stays small."""

import base64
import io
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from flax import nnx  # noqa: E402
from PIL import Image  # noqa: E402

from course_utils import animation, models  # noqa: E402

MODEL = models.PatchAutoencoder(rngs=nnx.Rngs(0))


def test_sweep_moves_one_component_and_tour_moves_all():
    codes = animation.sweep(1, base=(0.1, 0.2, 0.3), frames=8)
    assert codes.shape == (8, 3) and np.all(codes[:, 0] == 0.1) and np.all(codes[:, 2] == 0.3)
    assert codes[:, 1].min() == pytest.approx(-0.6) and codes[:, 1].max() > 0.5
    tour = animation.tour(frames=12)
    assert tour.shape == (12, 3) and np.all(tour.std(axis=0) > 0.1)


def test_every_frame_draws_the_decoded_output():
    filters, bias = np.asarray(MODEL.decoder.filters()), float(MODEL.decoder.bias())
    codes = animation.tour(frames=5).astype(np.float32)
    fig, artists = animation.decoder_figure(filters, bias)
    for code in codes:
        out = animation.draw_frame(artists, code)
        assert np.allclose(out, np.asarray(MODEL.decode(code.reshape(1, 1, 3)))[0], atol=1e-5)
        assert np.allclose(artists["current"].get_ydata(), out)
        assert np.allclose(artists["point"].get_offsets(), [code[:2]])
    matplotlib.pyplot.close(fig)


def test_html_player_embeds_every_frame_as_a_small_palette_png():
    html = animation.decoder_animation(MODEL, animation.sweep(0, frames=4))
    assert html.count("data:image/png;base64") == 4, "one embedded frame per code"
    assert len(html) < 120_000, f"4 frames took {len(html)} characters"


def test_html_player_loads_nothing_from_the_network():
    html = animation.decoder_animation(MODEL, animation.sweep(0, frames=2))
    assert "font-awesome" not in html and not re.search(r"(src|href)=[\"']?(https?:)?//", html)
    assert '.fa-play:before' in html, "the buttons get local symbols instead"


def test_blitted_frames_look_like_full_redraws():
    codes = animation.tour(frames=3)
    html = animation.decoder_animation(MODEL, codes)
    blitted = [_decode(frame) for frame in re.findall(r"data:image/png;base64,([^\"']+)", html)]
    filters, bias = np.asarray(MODEL.decoder.filters()), float(MODEL.decoder.bias())
    fig, artists = animation.decoder_figure(filters, bias, ylim=animation.output_limit(filters, bias, codes), dpi=64)
    animation.draw_frame(artists, codes[0])
    fig.canvas.draw()
    fig.set_layout_engine("none")
    for code, frame in zip(codes, blitted):
        animation.draw_frame(artists, code)
        fig.canvas.draw()
        full = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float)
        assert frame.shape == full.shape
        assert np.abs(frame - full).mean() < 3, "a blitted frame must show what a full redraw shows"
    matplotlib.pyplot.close(fig)


def _decode(frame_base64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(frame_base64))).convert("RGB")).astype(float)


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="component must be 0, 1 or 2"):
        animation.sweep(3)
    with pytest.raises(ValueError, match=r"\(frames, 3\)"):
        animation.decoder_animation(MODEL, np.ones((4, 2)))
