"""Explorers: sliders wired to figures that update in place.

Used by notebooks 01 (curve explorer) and 02 (reconstruction explorer).

Each explorer has three parts: ``*_figure()`` builds the figure and returns the
artists to update, ``update_*()`` is a plain function (arguments -> artists updated
with ``set_data``), which tests call without a browser, and ``*_explorer()`` wires
ipywidgets sliders to it and shows the same figure again after each update.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from . import data
from .plotting import WINDOW_COLORS, curve_axes

WINDOW_STARTS = (0, 4, 8)


def _wire(figure, update, sliders: dict) -> widgets.Widget:
    """Show ``figure`` in an Output widget and redraw it whenever a slider moves."""
    out = widgets.Output()

    def redraw(_change=None):
        update(**{name: s.value for name, s in sliders.items()})
        with out:
            out.clear_output(wait=True)
            display(figure)

    for s in sliders.values():
        s.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(sliders.values())), out])


def _slider(description: str, value: float, lo: float = -1.0, hi: float = 1.0, step: float = 0.05):
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                               continuous_update=True, readout_format=".2f")


# --- notebook 01: a curve and its three windows -------------------------------------

def curve_explorer_figure():
    """Figure for the curve explorer: the curve (left) and its three windows (right)."""
    fig, (ax_curve, ax_windows) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True)
    curve_axes(ax_curve, "the curve and its control heights")
    (curve,) = ax_curve.plot(range(15), np.zeros(15), "o-", color="black", label="curve (15 points)")
    (control,) = ax_curve.plot([0, 7, 7, 14], np.zeros(4), "s--", color="tab:red", alpha=0.6,
                               label="control polygon (P0..P3)")
    ax_curve.set_ylim(-1.05, 1.05)
    ax_curve.legend(loc="lower left", fontsize=8)
    ax_windows.set_title("the three 7-point windows the decoder paints")
    ax_windows.set_xlim(-0.5, 6.5)
    ax_windows.set_ylim(-0.8, 0.8)
    ax_windows.set_xlabel("position inside the window")
    ax_windows.set_ylabel("y")
    windows = [ax_windows.plot(range(7), np.zeros(7), "o-", color=c, label=f"positions {s}-{s + 6}")[0]
               for s, c in zip(WINDOW_STARTS, WINDOW_COLORS)]
    ax_windows.legend(loc="lower left", fontsize=8)
    plt.close(fig)  # shown by the explorer, not by the inline backend
    return fig, {"curve": curve, "control": control, "windows": windows}


def update_curve_explorer(artists: dict, p1: float, p2: float) -> np.ndarray:
    """Draw the curve for (p1, p2) and its windows; return the 15-point curve."""
    curve = data.curves_from_parameters(p1, p2)[0]
    artists["curve"].set_ydata(curve)
    artists["control"].set_ydata([0, p1, p2, 0])
    for line, start in zip(artists["windows"], WINDOW_STARTS):
        line.set_ydata(curve[start:start + 7])
    return curve


def curve_explorer(p1: float = 0.6, p2: float = -0.4) -> widgets.Widget:
    """Sliders for p1 and p2 -> the curve and its three windows."""
    fig, artists = curve_explorer_figure()
    sliders = {"p1": _slider("p1", p1), "p2": _slider("p2", p2)}
    return _wire(fig, lambda p1, p2: update_curve_explorer(artists, p1, p2), sliders)


# --- notebook 02: a patch, its code and its reconstruction --------------------------

def reconstruction_explorer_figure():
    """Figure for the reconstruction explorer: patch vs reconstruction, and the code."""
    fig, (ax_patch, ax_code) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True,
                                            gridspec_kw={"width_ratios": [2, 1]})
    ax_patch.set_title("a 7-point patch and its reconstruction")
    ax_patch.set_xlim(-0.5, 6.5)
    ax_patch.set_ylim(-0.8, 0.8)
    ax_patch.set_xlabel("position inside the patch")
    ax_patch.set_ylabel("y")
    (original,) = ax_patch.plot(range(7), np.zeros(7), "o-", color="black", label="input patch")
    (rebuilt,) = ax_patch.plot(range(7), np.zeros(7), "x--", color="tab:red", label="reconstruction")
    ax_patch.legend(loc="lower left", fontsize=8)
    bars = ax_code.bar(range(3), np.zeros(3), color=WINDOW_COLORS)
    ax_code.set_title("the code (3 numbers)")
    ax_code.set_xticks(range(3), ["c1", "c2", "c3"])
    ax_code.set_ylim(-1.05, 1.05)
    ax_code.set_ylabel("code value (tanh range)")
    ax_code.axhline(0, color="0.6", linewidth=0.8)
    plt.close(fig)
    return fig, {"original": original, "rebuilt": rebuilt, "bars": bars, "title": ax_patch.title}


def update_reconstruction_explorer(artists: dict, model, p1: float, p2: float, offset: int) -> float:
    """Encode and decode the patch of curve (p1, p2) at ``offset``; return its MSE."""
    patch = data.curves_from_parameters(p1, p2)[:, offset:offset + data.PATCH]
    code = np.asarray(model.encode(patch))[0, 0]
    rebuilt = np.asarray(model.decode(code.reshape(1, 1, 3)))[0]
    artists["original"].set_ydata(patch[0])
    artists["rebuilt"].set_ydata(rebuilt)
    for bar, value in zip(artists["bars"], code):
        bar.set_height(value)
    mse = float(((rebuilt - patch[0]) ** 2).mean())
    artists["title"].set_text(f"a patch at offset {offset} and its reconstruction (MSE {mse:.1e})")
    return mse


def reconstruction_explorer(model, p1: float = 0.6, p2: float = -0.4, offset: int = 4) -> widgets.Widget:
    """Sliders for p1, p2 and the patch offset -> the code and the reconstruction."""
    fig, artists = reconstruction_explorer_figure()
    sliders = {"p1": _slider("p1", p1), "p2": _slider("p2", p2),
               "offset": widgets.IntSlider(value=offset, min=0, max=8, description="offset")}
    return _wire(fig, lambda p1, p2, offset: update_reconstruction_explorer(artists, model, p1, p2, offset), sliders)
