"""Animations: how three scaled filters add up to an output, and how training shapes them.

Used by notebooks 02 (:func:`training_animation`), 03 (:func:`decoder_animation`) and
06 (:func:`painting_animation`).

The decoder animation has four panels: the code as a point (x = c1, y = c2, marker
size = |c3|, filled when c3 > 0), the raw filters, the filters scaled by the code
with their sum (the output), and a family of outputs for several values of c3 with
the current one highlighted. The training animation shows the loss band of all
seeds with the current step marked, and one seed's encoder and decoder filters at
that step. Both draw their frames with matplotlib and return a small,
self-contained HTML player (:func:`course_utils.display.player.html_player`): every frame an inline 64-colour
PNG, buttons drawn as inline SVG, a few lines of JavaScript, nothing loaded from
the network, so it plays offline, in JupyterLab and in the static copy
(``make html``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..core import checks, deconv
from ..core.training import TrainResult
from ..display.frames import render_frames
from ..display.player import html_player
from . import data
from .plotting import WINDOW_COLORS, loss_band, patch_axes, scaled_filter_lines, set_scaled_filters


FAMILY_C3 = (-0.6, -0.3, 0.0, 0.3, 0.6)
"""The values of c3 drawn in the "family of outputs" panel."""

FIGURE_INCHES = (9.2, 5.4)
"""Width and height of a frame in inches: 883 x 518 pixels at the default 96 dpi."""

FONT_POINTS = 10
"""Size of ticks, labels and legends in the frames. A frame is shown at one image pixel
per CSS pixel (96 per inch), so at the default 96 dpi this is also the size a reader sees."""


def sweep(component: int, base=(0.0, 0.0, 0.0), *, frames: int = 12, amplitude: float = 0.6) -> np.ndarray:
    """Codes that move one component from -amplitude to +amplitude and back: (frames, 3).

    ``component`` is 0, 1 or 2; the other components stay at ``base``.
    """
    component = checks.non_negative_int("component", component)
    if component > 2:
        raise ValueError(f"component must be 0, 1 or 2 (c1, c2, c3), got {component}")
    frames = checks.positive_int("frames", frames, minimum=2)
    amplitude = checks.non_negative_float("amplitude", amplitude)
    base = np.asarray(checks.array("base", base, ndim=1, shape_hint="(3,): one number per component", dtype=np.float64), np.float64)
    if base.shape != (3,):
        raise ValueError(f"base must give 3 numbers (c1, c2, c3), got shape {base.shape}")
    codes = np.tile(base, (frames, 1))
    codes[:, component] = amplitude * np.sin(np.linspace(-np.pi / 2, 3 * np.pi / 2, frames, endpoint=False))
    return codes


def tour(*, frames: int = 16, amplitude: float = 0.6) -> np.ndarray:
    """Codes where all three components move at once, along a closed loop: (frames, 3)."""
    frames = checks.positive_int("frames", frames, minimum=2)
    amplitude = checks.non_negative_float("amplitude", amplitude)
    t = np.linspace(0, 2 * np.pi, frames, endpoint=False)
    return amplitude * np.stack([np.cos(t), np.sin(t), np.sin(2 * t)], axis=1)


def _code_marker_size(c3: float) -> float:
    return 40 + 700 * abs(c3)


def _signed(value: float) -> str:
    # Two decimals with a sign, but a plain "0.00" for anything that rounds to zero (never "-0.00").
    return "0.00" if round(float(value), 2) == 0 else f"{value:+.2f}"


def _code_title(c1: float, c2: float, c3: float) -> str:
    return f"code c = ({_signed(c1)}, {_signed(c2)}, {_signed(c3)})\nsize = |c3|, filled if c3 > 0"


def _legend_outside(ax: plt.Axes) -> None:
    # Right of the panel, never over the lines it explains.
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=FONT_POINTS - 1,
              handlelength=1.6, frameon=False)


def decoder_figure(filters: np.ndarray, bias: float, *, ylim: float = 0.8, dpi: int = 96):
    """The four-panel figure (2 x 2) and the artists that each frame updates.

    ``ylim`` bounds the panels that show outputs (see :func:`output_limit`).
    """
    filters, bias = _checked_filters(filters, bias)
    ylim = checks.positive_float("ylim", ylim)
    dpi = checks.positive_int("dpi", dpi, minimum=20)
    with plt.rc_context({"font.size": FONT_POINTS, "axes.titlesize": FONT_POINTS + 1,
                         "axes.labelsize": FONT_POINTS, "xtick.labelsize": FONT_POINTS,
                         "ytick.labelsize": FONT_POINTS}):
        fig = plt.figure(figsize=FIGURE_INCHES, dpi=dpi, layout="constrained")
        top, bottom = fig.subfigures(2, 1)
        ax_code, ax_raw = top.subplots(1, 2, width_ratios=(1, 2))  # the code panel is square
        ax_scaled, ax_family = bottom.subplots(1, 2)

        ax_code.set_xlim(-1, 1)
        ax_code.set_ylim(-1, 1)
        ax_code.set_aspect("equal")
        ax_code.set_xlabel("c1")
        ax_code.set_ylabel("c2")
        label = ax_code.set_title(_code_title(0, 0, 0))  # changes with every frame
        ax_code.axhline(0, color="0.85", linewidth=0.8)
        ax_code.axvline(0, color="0.85", linewidth=0.8)
        point = ax_code.scatter([0], [0], s=[_code_marker_size(0)], color="tab:green", edgecolor="black")

        limit = 1.1 * max(np.abs(filters).max(), 0.5)
        patch_axes(ax_raw, "raw filters (the decoder's kernel)", ylim=limit, xlabel="tap", ylabel="weight")
        for i, (column, color) in enumerate(zip(filters.T, WINDOW_COLORS)):
            ax_raw.plot(range(7), column, "o-", color=color, markersize=4, label=f"filter {i + 1}")
        _legend_outside(ax_raw)

        patch_axes(ax_scaled, "scaled filters and their sum", ylim=ylim, xlabel="tap")
        lines = scaled_filter_lines(ax_scaled)
        _legend_outside(ax_scaled)

        patch_axes(ax_family, "outputs for several c3", ylim=ylim, xlabel="tap")
        family = [ax_family.plot(range(7), np.zeros(7), "-", color=plt.cm.viridis(k / (len(FAMILY_C3) - 1)),
                                 linewidth=1.2, label=f"c3 = {c3:+.1f}")[0] for k, c3 in enumerate(FAMILY_C3)]
        (current,) = ax_family.plot(range(7), np.zeros(7), "--", color="black", linewidth=2, label="this frame")
        _legend_outside(ax_family)
        for ax in (ax_code, ax_raw, ax_scaled, ax_family):
            ax.title.set_fontsize(FONT_POINTS + 1)  # patch_axes sets its own title size

    artists = {"point": point, "label": label, "lines": lines, "family": family, "current": current,
               "filters": np.asarray(filters, np.float64), "bias": float(bias)}
    return fig, artists


def _checked_filters(filters, bias) -> tuple[np.ndarray, float]:
    filters = np.asarray(checks.array("filters", filters, ndim=2, shape_hint="(7 taps, 3 components)", dtype=np.float64), np.float64)
    if filters.shape[1] != 3:
        raise ValueError(f"filters must have shape (taps, 3): one column per code component, got {filters.shape}")
    return filters, checks.number("bias", bias)


def _checked_codes(codes) -> np.ndarray:
    codes = np.asarray(checks.array("codes", codes, ndim=2, shape_hint="(frames, 3)", dtype=np.float64), np.float64)
    if codes.shape[1] != 3:
        raise ValueError(f"codes must have shape (frames, 3), got {codes.shape}")
    return codes


def output_limit(filters: np.ndarray, bias: float, codes: np.ndarray) -> float:
    """A y-limit that fits every output and scaled filter the frames of ``codes`` will draw."""
    filters, bias = _checked_filters(filters, bias)
    codes = _checked_codes(codes)
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
    artists["label"].set_text(_code_title(c1, c2, c3))
    output = set_scaled_filters(artists["lines"], artists["filters"], (c1, c2, c3), artists["bias"])
    for line, other_c3 in zip(artists["family"], FAMILY_C3):
        line.set_ydata(artists["filters"] @ np.array([c1, c2, other_c3]) + artists["bias"])
    artists["current"].set_ydata(output)
    return output



def decoder_animation(model, codes, *, fps: float = 6, dpi: int = 96) -> str:
    """Animate the decoder of ``model`` over ``codes`` (frames, 3), e.g. from :func:`sweep`.

    Returns a self-contained HTML player (see :func:`html_player`). At the default
    ``dpi`` a frame is 883 pixels wide with 10-point text, readable at that width.
    """
    checks.model_with("model", model, ("encode", "decode"), "models.PatchAutoencoder")
    codes = _checked_codes(codes)
    dpi = checks.positive_int("dpi", dpi, minimum=20)
    checks.positive_float("fps", fps)
    filters, bias = np.asarray(model.decoder.filters(), np.float64), float(model.decoder.bias())
    fig, artists = decoder_figure(filters, bias, ylim=output_limit(filters, bias, codes), dpi=dpi)
    try:
        frames = render_frames(fig, artists, codes, draw_frame)
    finally:
        plt.close(fig)  # shown through the HTML player, not as a still
    return html_player(frames, fps=fps, alt="the decoder's four panels, one frame per code")


def training_figure(losses: np.ndarray, encoder_limit: float, decoder_limit: float, *, bar: float | None = None,
                    dpi: int = 96):
    """The training animation's figure: the loss band on top, a seed's encoder and decoder filters below.

    Returns the figure and the artists each frame updates (see :func:`draw_training_frame`).
    """
    losses = np.asarray(checks.array("losses", losses, ndim=2, shape_hint="(seeds, steps)", dtype=np.float64), np.float64)
    encoder_limit = checks.positive_float("encoder_limit", encoder_limit)
    decoder_limit = checks.positive_float("decoder_limit", decoder_limit)
    dpi = checks.positive_int("dpi", dpi, minimum=20)
    with plt.rc_context({"font.size": FONT_POINTS, "axes.titlesize": FONT_POINTS + 1,
                         "axes.labelsize": FONT_POINTS, "xtick.labelsize": FONT_POINTS,
                         "ytick.labelsize": FONT_POINTS, "legend.fontsize": FONT_POINTS - 1}):
        fig = plt.figure(figsize=FIGURE_INCHES, dpi=dpi, layout="constrained")
        top, bottom = fig.subfigures(2, 1)
        ax_loss = top.subplots()
        ax_encoder, ax_decoder = bottom.subplots(1, 2)
        loss_band(ax_loss, losses, label="loss", bar=bar)
        step_line = ax_loss.axvline(0, color="tab:red", linewidth=1.5, label="this frame")
        _legend_outside(ax_loss)
        title = ax_loss.set_title("")
        lines = {}
        for ax, name, limit in ((ax_encoder, "encoder", encoder_limit), (ax_decoder, "decoder", decoder_limit)):
            patch_axes(ax, f"{name} filters", ylim=limit, xlabel="tap", ylabel="weight")
            lines[name] = [ax.plot(range(7), np.zeros(7), "o-", color=color, markersize=4,
                                   label=f"filter {i + 1}")[0] for i, color in enumerate(WINDOW_COLORS)]
            ax.title.set_fontsize(FONT_POINTS + 1)
            _legend_outside(ax)
    return fig, {"step": step_line, "title": title, "encoder": lines["encoder"], "decoder": lines["decoder"]}


def draw_training_frame(artists: dict, step: int, encoder_filters, decoder_filters, title: str) -> None:
    """Update the training figure: the step marker, the title and both sets of filters (7, 3)."""
    artists["step"].set_xdata([step, step])
    artists["title"].set_text(title)
    for name, filters in (("encoder", encoder_filters), ("decoder", decoder_filters)):
        for line, column in zip(artists[name], np.asarray(filters, np.float64).T):
            line.set_ydata(column)


def training_animation(result, *, seed_index: int = 0, bar: float | None = None, fps: float = 6,
                       dpi: int = 96) -> str:
    """Animate training from the snapshots of ``result`` (``training.train`` with ``snapshot_every``).

    One frame per snapshot: the loss band of all seeds with the snapshot's step
    marked, and the encoder and decoder filters of seed number ``seed_index`` then.
    ``bar`` draws a horizontal line on the loss (e.g. the 1e-4 bar). Returns a
    self-contained HTML player (see :func:`html_player`).
    """
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult from training.train, got {type(result).__name__}")
    checks.positive_float("fps", fps)
    checks.indices("seed_index", seed_index, size=len(result.seeds), what="seed position")
    if not getattr(result, "snapshots", None):
        raise ValueError("result has no snapshots: train with TrainConfig(snapshot_every=k) to animate training")
    models = [result.model(seed_index, snapshot=k) for k in range(len(result.snapshots))]  # checks seed_index
    encoders = np.stack([np.asarray(m.encoder.filters(), np.float64) for m in models])
    decoders = np.stack([np.asarray(m.decoder.filters(), np.float64) for m in models])
    dpi = checks.positive_int("dpi", dpi, minimum=20)
    losses = np.asarray(result.losses, np.float64)
    fig, artists = training_figure(losses, 1.1 * np.abs(encoders).max(), 1.1 * np.abs(decoders).max(), bar=bar,
                                   dpi=dpi)
    seed = result.seeds[seed_index]
    frames = [(step, encoder, decoder, f"step {step} of {losses.shape[1]}: filters of seed {seed}")
              for step, encoder, decoder in zip(result.snapshot_steps, encoders, decoders)]
    try:
        pngs = render_frames(fig, artists, frames, draw=lambda a, frame: draw_training_frame(a, *frame))
    finally:
        plt.close(fig)
    return html_player(pngs, fps=fps, alt="training: the loss so far and one seed's filters")


# --- notebook 06: three windows paint the whole curve --------------------------------

PAINT_STEPS = 4
"""Frames per window while its paint fades in (scale 1/4, 2/4, 3/4, 1)."""


def painting_frames(model, curve) -> list[dict]:
    """What each frame of :func:`painting_animation` shows, computed from ``model`` and one ``curve`` (15,).

    The patch model encodes the whole curve into a code per window (3 windows x 3
    components); window ``w`` paints ``filters @ code[w]`` onto positions
    ``data.WINDOW_STARTS[w]`` .. +6. A frame holds the window being painted, how much
    of its paint is on (0..1), the output so far (bias included) and how many windows
    have painted each position so far. The last frame has every window painted: the
    model's own output, doubled where windows overlap.
    """
    checks.model_with("model", model, ("encode", "decode"), "models.PatchAutoencoder")
    curve = _checked_curve(curve)
    code = np.asarray(model.encode(curve[None].astype(np.float32)), np.float64)[0]  # (windows, components)
    filters, bias = np.asarray(model.decoder.filters(), np.float64), float(model.decoder.bias())
    strokes = np.zeros((len(data.WINDOW_STARTS), data.N_POINTS))
    for w, start in enumerate(data.WINDOW_STARTS):
        strokes[w, start:start + data.PATCH] = filters @ code[w]
    frames = []
    for w in range(len(data.WINDOW_STARTS)):
        for step in range(1, PAINT_STEPS + 1):
            share = step / PAINT_STEPS
            output = strokes[:w].sum(axis=0) + share * strokes[w] + bias
            counts = deconv.overlap_counts(w + 1, data.PATCH, data.STRIDE)
            frames.append({"window": w, "share": share, "stroke": share * strokes[w], "output": output,
                           "counts": np.pad(counts, (0, data.N_POINTS - len(counts)))})
    return frames


def _checked_curve(curve) -> np.ndarray:
    curve = np.asarray(checks.array("curve", curve, ndim=1, shape_hint=f"({data.N_POINTS},)", dtype=np.float64), np.float64)
    if curve.shape[0] != data.N_POINTS:
        raise ValueError(f"curve must have {data.N_POINTS} points, got {curve.shape[0]}")
    return curve


def painting_figure(curve, *, ylim: float = 0.8, dpi: int = 96):
    """The figure of :func:`painting_animation`: the output being painted above, the overlap count below."""
    curve = _checked_curve(curve)
    ylim = checks.positive_float("ylim", ylim)
    dpi = checks.positive_int("dpi", dpi, minimum=20)
    fig = plt.figure(figsize=(FIGURE_INCHES[0], 4.6), dpi=dpi, layout="constrained")
    with plt.rc_context({"font.size": FONT_POINTS}):
        ax_paint, ax_count = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
        positions = np.arange(data.N_POINTS)
        ax_paint.plot(positions, curve, "o-", color="0.6", linewidth=1, markersize=3, label="the curve")
        (output,) = ax_paint.plot(positions, np.zeros(data.N_POINTS), "o-", color="black", markersize=4,
                                  label="output so far")
        # Neutral colours for the legend; each frame colours the stroke and span by window.
        (stroke,) = ax_paint.plot(positions, np.zeros(data.N_POINTS), "-", linewidth=2.5, color="0.35",
                                  label="this window's stroke")
        span = ax_paint.axvspan(-0.5, data.PATCH - 0.5, color="0.35", alpha=0.12, label="this window")
        ax_paint.set_xlim(-0.5, data.N_POINTS - 0.5)
        ax_paint.set_ylim(-ylim, ylim)
        ax_paint.set_ylabel("y")
        ax_paint.axhline(0, color="0.85", linewidth=0.8, zorder=0)
        title = ax_paint.set_title("")
        _legend_outside(ax_paint)
        bars = ax_count.bar(positions, np.zeros(data.N_POINTS), color="0.55", label="windows painted here")
        ax_count.set_ylim(0, 2.6)
        ax_count.set_yticks([0, 1, 2])
        ax_count.set_xticks(positions)
        ax_count.set_xlabel("position (index of the 15 x-values)")
        ax_count.set_ylabel("overlap count")
        _legend_outside(ax_count)
    return fig, {"output": output, "stroke": stroke, "span": span, "title": title, "bars": list(bars)}


def draw_painting_frame(artists: dict, frame: dict) -> None:
    """Update the figure of :func:`painting_figure` to one item of :func:`painting_frames`."""
    w, start = frame["window"], data.WINDOW_STARTS[frame["window"]]
    color = WINDOW_COLORS[w % len(WINDOW_COLORS)]
    artists["output"].set_ydata(frame["output"])
    stroke = np.where(frame["stroke"] != 0, frame["stroke"], np.nan)  # only inside the window
    artists["stroke"].set_ydata(stroke)
    artists["stroke"].set_color(color)
    artists["span"].set_x(start - 0.5)
    artists["span"].set_color(color)
    # Windows are numbered i = 0, 1, 2 as in y[n] = sum_i x[i] w[n - 4i]; window i starts at position 4i.
    artists["title"].set_text(f"window i = {w} adds its filters × its code to positions {start}-{start + data.PATCH - 1}: "
                              f"{frame['share']:.0%} of its stroke drawn")
    for bar, count in zip(artists["bars"], frame["counts"]):
        bar.set_height(count)


def painting_animation(model, curve, *, fps: float = 4, dpi: int = 96) -> str:
    """Animate the patch model painting one whole ``curve`` (15,), window after window (notebook 06).

    Returns a self-contained HTML player (see :func:`html_player`): above, each
    window's paint fading in on top of the output so far; below, the number of
    windows that have painted each position, which is 2 where windows overlap.
    """
    checks.positive_float("fps", fps)
    frames = painting_frames(model, curve)
    dpi = checks.positive_int("dpi", dpi, minimum=20)
    limit = 1.1 * max(np.abs(f["output"]).max() for f in frames)
    fig, artists = painting_figure(np.asarray(curve, np.float64), ylim=max(limit, 0.8), dpi=dpi)
    try:
        pngs = render_frames(fig, artists, frames, draw=draw_painting_frame)
    finally:
        plt.close(fig)
    return html_player(pngs, fps=fps, alt="three windows painting the whole curve, and the overlap count")
