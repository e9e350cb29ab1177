"""Animations of the decoder: how three scaled filters add up to an output.

Used by notebook 03.

Each frame has four panels: the code as a point (x = c1, y = c2, marker size = |c3|,
filled when c3 > 0), the raw filters, the filters scaled by the code with their sum
(the output), and a family of outputs for several values of c3 with the current
one highlighted. :func:`decoder_animation` returns matplotlib's JavaScript player
(the one ``to_jshtml`` makes; no ffmpeg needed) with every frame stored as a
64-colour PNG, so a notebook with four animations stays well under a megabyte, and
with its buttons drawn without Font Awesome, so it plays offline.
"""

from __future__ import annotations

import base64
import io
import re
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import HTMLWriter
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from . import _checks
from .plotting import WINDOW_COLORS, patch_axes, scaled_filter_lines, set_scaled_filters

PALETTE_COLORS = 64
"""Colours of each stored frame (a palette PNG: a quarter of a full-colour PNG's size)."""

FAMILY_C3 = (-0.6, -0.3, 0.0, 0.3, 0.6)
"""The values of c3 drawn in the "family of outputs" panel."""


def sweep(component: int, base=(0.0, 0.0, 0.0), *, frames: int = 12, amplitude: float = 0.6) -> np.ndarray:
    """Codes that move one component from -amplitude to +amplitude and back: (frames, 3).

    ``component`` is 0, 1 or 2; the other components stay at ``base``.
    """
    component = _checks.positive_int("component", component, minimum=0)
    if component > 2:
        raise ValueError(f"component must be 0, 1 or 2 (c1, c2, c3), got {component}")
    frames = _checks.positive_int("frames", frames, minimum=2)
    codes = np.tile(np.asarray(base, np.float64), (frames, 1))
    codes[:, component] = amplitude * np.sin(np.linspace(-np.pi / 2, 3 * np.pi / 2, frames, endpoint=False))
    return codes


def tour(*, frames: int = 16, amplitude: float = 0.6) -> np.ndarray:
    """Codes where all three components move at once, along a closed loop: (frames, 3)."""
    frames = _checks.positive_int("frames", frames, minimum=2)
    t = np.linspace(0, 2 * np.pi, frames, endpoint=False)
    return amplitude * np.stack([np.cos(t), np.sin(t), np.sin(2 * t)], axis=1)


def _code_marker_size(c3: float) -> float:
    return 30 + 600 * abs(c3)


def decoder_figure(filters: np.ndarray, bias: float, *, ylim: float = 0.8, dpi: int = 100):
    """The four-panel figure and the artists that each frame updates.

    ``ylim`` bounds the panels that show outputs (see :func:`output_limit`).
    """
    fig, axes = plt.subplots(1, 4, figsize=(11, 2.7), dpi=dpi, constrained_layout=True)
    ax_code, ax_raw, ax_scaled, ax_family = axes

    ax_code.set_xlim(-1, 1)
    ax_code.set_ylim(-1, 1)
    ax_code.set_aspect("equal")
    ax_code.set_xlabel("c1")
    ax_code.set_ylabel("c2")
    ax_code.set_title("code: size = |c3|", fontsize=10)
    ax_code.axhline(0, color="0.85", linewidth=0.8)
    ax_code.axvline(0, color="0.85", linewidth=0.8)
    point = ax_code.scatter([0], [0], s=[_code_marker_size(0)], color="tab:green", edgecolor="black")
    label = ax_code.text(0.03, 0.03, "", transform=ax_code.transAxes, fontsize=8)

    limit = 1.1 * max(np.abs(filters).max(), 0.5)
    patch_axes(ax_raw, "raw filters (the decoder's kernel)", ylim=limit, xlabel="tap")
    for i, (column, color) in enumerate(zip(filters.T, WINDOW_COLORS)):
        ax_raw.plot(range(7), column, "o-", color=color, markersize=3, label=f"filter {i + 1}")
    ax_raw.legend(fontsize=7, loc="lower center")

    patch_axes(ax_scaled, "scaled filters and their sum", ylim=ylim, xlabel="tap")
    lines = scaled_filter_lines(ax_scaled)
    ax_scaled.legend(fontsize=6, loc="lower center")

    patch_axes(ax_family, "outputs for several c3", ylim=ylim, xlabel="tap")
    family = [ax_family.plot(range(7), np.zeros(7), "-", color=plt.cm.viridis(k / (len(FAMILY_C3) - 1)),
                             linewidth=1, label=f"c3 = {c3:+.1f}")[0] for k, c3 in enumerate(FAMILY_C3)]
    (current,) = ax_family.plot(range(7), np.zeros(7), "--", color="black", linewidth=2, label="this frame")
    ax_family.legend(fontsize=6, loc="lower center", ncol=2)

    artists = {"point": point, "label": label, "lines": lines, "family": family, "current": current,
               "filters": np.asarray(filters, np.float64), "bias": float(bias)}
    return fig, artists


def output_limit(filters: np.ndarray, bias: float, codes: np.ndarray) -> float:
    """A y-limit that fits every output and scaled filter the frames of ``codes`` will draw."""
    family = np.repeat(codes, len(FAMILY_C3), axis=0)
    family[:, 2] = np.tile(FAMILY_C3, len(codes))
    largest = max(np.abs(np.concatenate([codes, family]) @ filters.T + bias).max(),
                  np.abs(codes[:, None, :] * filters[None]).max())
    return 1.1 * float(largest)


def draw_frame(artists: dict, code) -> np.ndarray:
    """Update every panel for one code (3 numbers); return the decoder's output."""
    c1, c2, c3 = np.asarray(code, np.float64)
    artists["point"].set_offsets([[c1, c2]])
    artists["point"].set_sizes([_code_marker_size(c3)])
    artists["point"].set_facecolor("tab:green" if c3 >= 0 else "white")
    artists["label"].set_text(f"c = ({c1:+.2f}, {c2:+.2f}, {c3:+.2f})")
    output = set_scaled_filters(artists["lines"], artists["filters"], (c1, c2, c3), artists["bias"])
    for line, other_c3 in zip(artists["family"], FAMILY_C3):
        line.set_ydata(artists["filters"] @ np.array([c1, c2, other_c3]) + artists["bias"])
    artists["current"].set_ydata(output)
    return output


def moving_artists(artists) -> list:
    """The matplotlib artists in ``artists`` (nested dicts and lists): what frames change."""
    found = []
    for value in artists.values() if isinstance(artists, dict) else artists:
        if isinstance(value, (dict, list)):
            found += moving_artists(value)
        elif isinstance(value, Artist):
            found.append(value)
    return found


def decoder_animation(model, codes, *, fps: float = 6, dpi: int = 64) -> str:
    """Animate the decoder of ``model`` over ``codes`` (frames, 3), e.g. from :func:`sweep`.

    Returns a self-contained HTML player: matplotlib's ``HTMLWriter`` (the player
    of ``to_jshtml``), fed frame by frame. The still parts of the figure (axes,
    ticks, legends) are drawn once; each frame redraws only the artists that
    :func:`draw_frame` changes, which is about 20 times faster than drawing every
    frame in full.
    """
    codes = np.asarray(_checks.array("codes", codes, ndim=2, shape_hint="(frames, 3)"), np.float64)
    if codes.shape[1] != 3:
        raise ValueError(f"codes must have shape (frames, 3), got {codes.shape}")
    filters, bias = np.asarray(model.decoder.filters(), np.float64), float(model.decoder.bias())
    fig, artists = decoder_figure(filters, bias, ylim=output_limit(filters, bias, codes), dpi=dpi)
    draw_frame(artists, codes[0])  # the panels are laid out (on the first frame's draw) with real data
    plt.close(fig)  # shown through the HTML player, not as a still
    moving = moving_artists(artists)
    for artist in moving:
        artist.set_animated(True)  # left out of the background, drawn per frame
    writer = _BlittingWriter(moving, fps=fps, embed_frames=True, default_mode="loop")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "animation.html")
        with writer.saving(fig, path, dpi=dpi):
            for code in codes:
                draw_frame(artists, code)
                writer.grab_frame()
        return _offline_buttons(path.read_text())


class _BlittingWriter(HTMLWriter):
    """matplotlib's HTML writer, drawing only the moving artists over a still background.

    Each frame is stored as a palette PNG (``PALETTE_COLORS``): four times smaller
    than a full-colour PNG and just as sharp for line plots. It fills
    ``HTMLWriter``'s own list of frames, ``_saved_frames`` (matplotlib 3.11;
    ``tests/test_animation.py`` counts the frames in the HTML and fails if that
    changes).
    """

    def __init__(self, moving: list, **kwargs):
        super().__init__(**kwargs)
        self.moving = sorted(moving, key=lambda artist: artist.get_zorder())
        self.background = None

    def setup(self, fig, outfile, dpi=None, frame_dir=None):
        super().setup(fig, outfile, dpi, frame_dir)
        self.canvas = FigureCanvasAgg(fig)  # renders off-screen, whatever the notebook's backend

    def grab_frame(self, **savefig_kwargs):
        canvas = self.canvas
        if self.background is None:
            canvas.draw()  # lays the panels out, then draws everything except the moving artists
            self.fig.set_layout_engine("none")  # keep that layout
            self.background = canvas.copy_from_bbox(self.fig.bbox)
        canvas.restore_region(self.background)
        for artist in self.moving:
            self.fig.draw_artist(artist)
        frame = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
        png = io.BytesIO()
        # 64 colours by fast octree: 7x faster than 32 by Pillow's default median cut
        # (with optimize), truer colours, 4% more bytes.
        frame.quantize(colors=PALETTE_COLORS, method=Image.Quantize.FASTOCTREE).save(png, format="png")
        self._saved_frames.append(base64.encodebytes(png.getvalue()).decode("ascii"))


# The player's buttons use Font Awesome icons loaded from a CDN; offline they would be
# blank. These text symbols replace them, so the player works with no network at all.
_BUTTON_SYMBOLS = {"minus": "\\2212", "plus": "+", "fast-backward": "\\23EE", "step-backward": "\\25C1",
                   "play": "\\25B6\\FE0E", "pause": "\\275A\\275A", "step-forward": "\\25B7",
                   "fast-forward": "\\23ED"}
_OFFLINE_BUTTON_STYLE = "<style>\n" + "".join(
    f'.anim-buttons .fa-{name}:before {{ content: "{symbol}"; }}\n' for name, symbol in _BUTTON_SYMBOLS.items()
) + ".anim-buttons .fa-flip-horizontal { display: inline-block; transform: scaleX(-1); }\n</style>\n"


def _offline_buttons(html: str) -> str:
    """Replace the player's link to Font Awesome (a CDN) by local text symbols."""
    link = re.search(r"<link[^>]*font-awesome[^>]*>", html)
    if link is None:
        raise RuntimeError("matplotlib's HTML player no longer links Font Awesome: check _offline_buttons")
    return html[: link.start()] + _OFFLINE_BUTTON_STYLE + html[link.end():]
