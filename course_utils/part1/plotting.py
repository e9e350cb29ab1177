"""Small plotting helpers so every figure of the course looks the same.

Used by notebooks 01-06 (and by ``animations`` and ``explorers``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..core import checks
from .data import N_POINTS, PATCH, WINDOW_STARTS

WINDOW_COLORS = ("tab:blue", "tab:orange", "tab:green")
"""One colour per window / code component, used throughout the course."""


def running_mean(values, window: int) -> np.ndarray:
    """Running mean over the last axis with a window of ``window`` steps ("valid" part only)."""
    ndim = np.ndim(values) if not isinstance(values, str) else 0
    if ndim not in (1, 2):
        raise ValueError(f"values must have shape (steps,) or (seeds, steps), got {np.shape(values)}")
    values = np.asarray(checks.array("values", values, ndim=ndim, shape_hint="(seeds, steps)", dtype=np.float64), np.float64)
    window = checks.positive_int("window", window)
    if window > values.shape[-1]:
        raise ValueError(f"window ({window}) must not exceed the number of steps ({values.shape[-1]})")
    cumsum = np.cumsum(np.concatenate([np.zeros(values.shape[:-1] + (1,)), values], axis=-1), axis=-1)
    return (cumsum[..., window:] - cumsum[..., :-window]) / window


def loss_band(ax: plt.Axes, losses, *, label: str, color: str | None = None, bar: float | None = None,
              smooth: int = 25) -> None:
    """Plot the mean training loss over seeds with a +-1 standard deviation band.

    ``losses`` has shape (seeds, steps). Each seed's curve is first averaged over
    ``smooth`` steps, so the band shows how seeds differ, not mini-batch noise.
    The y axis is logarithmic, so the band's lower edge is kept above a tenth of
    the mean (mean - std can be negative).
    """
    checks.axes("ax", ax)
    losses = checks.array("losses", losses, ndim=2, shape_hint="(seeds, steps)")
    smooth = checks.positive_int("smooth", smooth)
    if smooth > losses.shape[1]:
        raise ValueError(f"smooth ({smooth}) must not exceed the number of steps ({losses.shape[1]})")
    smoothed = running_mean(losses, smooth)
    steps = np.arange(smoothed.shape[1]) + smooth
    mean, std = smoothed.mean(axis=0), smoothed.std(axis=0)
    (line,) = ax.plot(steps, mean, color=color, label=f"{label}: mean of {losses.shape[0]} seeds")
    ax.fill_between(steps, np.maximum(mean - std, mean / 10), mean + std, color=line.get_color(), alpha=0.25,
                    label=f"{label}: ±1 std across seeds")
    if bar is not None:
        ax.axhline(bar, color="black", linestyle="--", linewidth=1, label=f"bar: {bar:g}")
    ax.set_yscale("log")
    ax.set_xlabel(f"training step (running mean over {smooth} steps)")
    ax.set_ylabel("mean squared error")
    ax.legend()


def curve_axes(ax: plt.Axes, title: str = "") -> None:
    """Label an axis that shows whole curves (``data.N_POINTS`` points): index on x, y in [-0.8, 0.8]."""
    checks.axes("ax", ax)
    ax.set_xlim(-0.5, N_POINTS - 0.5)
    ax.set_ylim(-0.8, 0.8)
    ax.set_xticks(range(0, N_POINTS, 2))
    ax.set_xlabel(f"position (index of the {N_POINTS} x-values)")
    ax.set_ylabel("y")
    ax.axhline(0, color="0.8", linewidth=0.8, zorder=0)
    if title:
        ax.set_title(title)


def shade_windows(ax: plt.Axes, starts=WINDOW_STARTS, width: int = PATCH) -> None:
    """Shade the decoder windows (positions start..start+width-1) in their colours."""
    checks.axes("ax", ax)
    width = checks.positive_int("width", width)
    starts = checks.int_sequence("starts", starts)
    for start, color in zip(starts, WINDOW_COLORS * 3):
        ax.axvspan(start - 0.45, start + width - 0.55, color=color, alpha=0.12, label=f"window at {start}")


def patch_axes(ax: plt.Axes, title: str = "", ylim: float = 0.8, xlabel: str = "tap (position in the window)",
               ylabel: str = "y") -> None:
    """Label an axis that shows patches or filters (``data.PATCH`` points or taps)."""
    checks.axes("ax", ax)
    ylim = checks.positive_float("ylim", ylim)
    ax.set_xlim(-0.5, PATCH - 0.5)
    ax.set_ylim(-ylim, ylim)
    ax.set_xticks(range(PATCH))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.axhline(0, color="0.8", linewidth=0.8, zorder=0)
    if title:
        ax.set_title(title, fontsize=10)


def scaled_filter_lines(ax: plt.Axes) -> dict:
    """Empty lines for three scaled filters and their sum (the decoder's output).

    Fill them with :func:`set_scaled_filters`; used by the animation and the
    latent explorer of notebook 03.
    """
    checks.axes("ax", ax)
    scaled = [ax.plot(range(PATCH), np.zeros(PATCH), "o-", color=c, markersize=3, label=f"c{i + 1} × filter {i + 1}")[0]
              for i, c in enumerate(WINDOW_COLORS)]
    (total,) = ax.plot(range(PATCH), np.zeros(PATCH), "-", color="black", linewidth=2.5, label="sum + bias = output")
    return {"scaled": scaled, "sum": total}


def set_scaled_filters(lines: dict, filters: np.ndarray, code, bias: float) -> np.ndarray:
    """Draw each filter scaled by its code value and their sum plus bias; return the sum."""
    code = np.asarray(code, dtype=np.float64)
    for line, column, value in zip(lines["scaled"], filters.T, code):
        line.set_ydata(value * column)
    output = filters @ code + bias
    lines["sum"].set_ydata(output)
    return output
