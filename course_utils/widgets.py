"""Explorers: sliders wired to figures that update in place.

Used by notebooks 01 (curve explorer), 02 (reconstruction explorer), 03 (latent
and encoder explorers), 06 (full-curve explorer) and 07 (size explorer).

Each explorer has three parts: ``*_figure()`` builds the figure and returns the
artists to update, ``update_*()`` is a plain function (arguments -> artists updated
with ``set_data``), which tests call without a browser, and ``*_explorer()`` wires
ipywidgets sliders to it and shows the same figure again after each update.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

from . import data, deconv, views
from .models import ACTIVATIONS
from .plotting import WINDOW_COLORS, curve_axes, patch_axes, scaled_filter_lines, set_scaled_filters

WINDOW_STARTS = (0, 4, 8)


def _wire(figure, update, sliders: dict) -> widgets.Widget:
    """Show ``figure`` in an Output widget and redraw it whenever a slider moves."""
    out = widgets.Output()

    def redraw(_change=None):
        with out:  # an error in update() shows its traceback here, under the sliders
            out.clear_output(wait=True)
            update(**{name: s.value for name, s in sliders.items()})
            display(_png(figure))

    for s in sliders.values():
        s.observe(redraw, names="value")
    redraw()
    figure.set_layout_engine("none")  # keep the first layout: solving it again each move costs ~30 %
    return widgets.VBox([widgets.HBox(list(sliders.values())), out])


def _png(figure) -> Image:
    """The figure as a PNG, drawn once (the inline backend's tight bounding box draws it twice)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return Image(buffer.getvalue())


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


# --- notebook 03: the decoder driven by hand ---------------------------------------

def latent_explorer_figure(model):
    """Figure for the latent explorer: the scaled filters and their sum, the output."""
    fig, ax = plt.subplots(figsize=(6, 3.4), constrained_layout=True)
    patch_axes(ax, "the decoder: three scaled filters and their sum")
    lines = scaled_filter_lines(ax)
    ax.legend(loc="lower left", fontsize=8)
    plt.close(fig)
    return fig, {**lines, "filters": np.asarray(model.decoder.filters(), np.float64),
                 "bias": float(model.decoder.bias())}


def update_latent_explorer(artists: dict, c1: float, c2: float, c3: float) -> np.ndarray:
    """Paint the filters scaled by the code (c1, c2, c3); return the decoder's output."""
    return set_scaled_filters(artists, artists["filters"], (c1, c2, c3), artists["bias"])


def latent_explorer(model, code=(0.0, 0.1, 0.2)) -> widgets.Widget:
    """Three sliders for the code -> the scaled filters and the decoder's output."""
    fig, artists = latent_explorer_figure(model)
    sliders = {f"c{i + 1}": _slider(f"c{i + 1}", float(v)) for i, v in enumerate(code)}
    return _wire(fig, lambda c1, c2, c3: update_latent_explorer(artists, c1, c2, c3), sliders)


# --- notebook 03: the encoder at work ----------------------------------------------

def encoder_explorer_figure(model):
    """Figure: input patch, its products with the filters, the code, the reconstruction."""
    fig, (ax_in, ax_prod, ax_code, ax_out) = plt.subplots(
        1, 4, figsize=(12, 3.0), constrained_layout=True, gridspec_kw={"width_ratios": [3, 3, 1.6, 3]})
    patch_axes(ax_in, "input patch")
    (patch,) = ax_in.plot(range(7), np.zeros(7), "o-", color="black", label="input")
    patch_axes(ax_prod, "filter × input, tap by tap", ylim=0.5)
    products = [ax_prod.plot(range(7), np.zeros(7), "o-", color=c, markersize=3, label=f"filter {i + 1} × input")[0]
                for i, c in enumerate(WINDOW_COLORS)]
    ax_prod.legend(loc="lower left", fontsize=7)
    bars = ax_code.bar(range(3), np.zeros(3), color=WINDOW_COLORS)
    ax_code.set_xticks(range(3), ["c1", "c2", "c3"])
    ax_code.set_ylim(-1.05, 1.05)
    ax_code.set_ylabel("tanh(sum + bias)")
    ax_code.set_title("code", fontsize=10)
    ax_code.axhline(0, color="0.6", linewidth=0.8)
    patch_axes(ax_out, "the decoder rebuilds it")
    (target,) = ax_out.plot(range(7), np.zeros(7), "o-", color="0.6", label="input")
    (rebuilt,) = ax_out.plot(range(7), np.zeros(7), "x--", color="tab:red", label="reconstruction")
    ax_out.legend(loc="lower left", fontsize=7)
    plt.close(fig)
    encoder = model.encoder
    return fig, {"patch": patch, "products": products, "bars": bars, "target": target, "rebuilt": rebuilt,
                 "enc_filters": np.asarray(encoder.filters(), np.float64),
                 "enc_bias": np.asarray(encoder.conv.bias[...], np.float64),
                 "dec_filters": np.asarray(model.decoder.filters(), np.float64),
                 "dec_bias": float(model.decoder.bias()), "activation": encoder.activation}


def update_encoder_explorer(artists: dict, p1: float, p2: float, offset: int = 4) -> np.ndarray:
    """Encode the patch of curve (p1, p2) at ``offset`` by hand; draw every step; return the code."""
    x = data.curves_from_parameters(p1, p2)[0, offset:offset + data.PATCH].astype(np.float64)
    products = artists["enc_filters"] * x[:, None]  # (7 taps, 3 filters)
    pre_activation = products.sum(axis=0) + artists["enc_bias"]
    code = np.asarray(ACTIVATIONS[artists["activation"]](pre_activation), np.float64)
    artists["patch"].set_ydata(x)
    for line, column in zip(artists["products"], products.T):
        line.set_ydata(column)
    for bar, value in zip(artists["bars"], code):
        bar.set_height(value)
    artists["target"].set_ydata(x)
    artists["rebuilt"].set_ydata(artists["dec_filters"] @ code + artists["dec_bias"])
    return code


def encoder_explorer(model, p1: float = 0.6, p2: float = -0.4, offset: int = 4) -> widgets.Widget:
    """Sliders for p1, p2 and the offset -> products with the filters, code, reconstruction."""
    fig, artists = encoder_explorer_figure(model)
    sliders = {"p1": _slider("p1", p1), "p2": _slider("p2", p2),
               "offset": widgets.IntSlider(value=offset, min=0, max=8, description="offset")}
    return _wire(fig, lambda p1, p2, offset: update_encoder_explorer(artists, p1, p2, offset), sliders)


# --- notebook 06: the whole curve, fix by fix -------------------------------------

def full_curve_explorer_figure():
    """Figure: a curve and its reconstruction by one variant, and the error by position."""
    fig, (ax_curve, ax_err) = plt.subplots(1, 2, figsize=(10, 3.2), constrained_layout=True)
    curve_axes(ax_curve, "the whole curve")
    for start, color in zip(WINDOW_STARTS, WINDOW_COLORS):
        ax_curve.axvspan(start - 0.45, start + 6.45, color=color, alpha=0.08)
    (curve,) = ax_curve.plot(range(15), np.zeros(15), "o-", color="black", label="curve")
    (rebuilt,) = ax_curve.plot(range(15), np.zeros(15), "x--", color="tab:red", label="reconstruction")
    ax_curve.legend(loc="lower left", fontsize=8)
    bars = ax_err.bar(range(15), np.zeros(15), color="tab:red")
    ax_err.set_xlim(-0.5, 14.5)
    ax_err.set_ylim(0, 0.3)
    ax_err.set_xticks(range(0, 15, 2))
    ax_err.set_xlabel("position")
    ax_err.set_ylabel("|reconstruction - curve|")
    ax_err.set_title("error by position", fontsize=10)
    plt.close(fig)
    return fig, {"curve": curve, "rebuilt": rebuilt, "bars": bars, "title": ax_curve.title}


def update_full_curve_explorer(artists: dict, reconstructors: dict, variant: str, p1: float, p2: float) -> float:
    """Reconstruct curve (p1, p2) with ``reconstructors[variant]``; draw it; return its MSE."""
    if variant not in reconstructors:
        raise ValueError(f"variant must be one of {list(reconstructors)}, got {variant!r}")
    curve = data.curves_from_parameters(p1, p2)
    rebuilt = np.asarray(reconstructors[variant](curve))[0]
    error = np.abs(rebuilt - curve[0])
    artists["curve"].set_ydata(curve[0])
    artists["rebuilt"].set_ydata(rebuilt)
    for bar, value in zip(artists["bars"], error):
        bar.set_height(min(value, 0.3))
    mse = float((error**2).mean())
    artists["title"].set_text(f"{variant}: MSE {mse:.1e}")
    return mse


def full_curve_explorer(reconstructors: dict, p1: float = 0.6, p2: float = -0.4) -> widgets.Widget:
    """A menu of variants (name -> function curves -> reconstructions) and sliders for p1, p2."""
    if not reconstructors or not all(callable(f) for f in reconstructors.values()):
        raise TypeError("reconstructors must map variant names to functions curves (n, 15) -> (n, 15)")
    fig, artists = full_curve_explorer_figure()
    controls = {"variant": widgets.Dropdown(options=list(reconstructors), description="variant"),
                "p1": _slider("p1", p1), "p2": _slider("p2", p2)}
    return _wire(fig, lambda variant, p1, p2: update_full_curve_explorer(artists, reconstructors, variant, p1, p2),
                 controls)


# --- notebook 07: the size of a transposed convolution -----------------------------

def size_explorer_figure():
    """Figure: the windows of every input over the full output, and the cropped output."""
    fig, ax = plt.subplots(figsize=(9, 3.2), constrained_layout=True)
    ax.set_xlabel("position in the full (unpadded) output")
    ax.set_ylabel("windows covering it")
    plt.close(fig)
    return fig, {"ax": ax}


def update_size_explorer(artists: dict, n_inputs: int, kernel: int, stride: int, padding: int) -> int:
    """Draw the overlap counts and the part that ``padding`` keeps; return the output length.

    The bars change in number with the sizes, so this one axis is redrawn rather
    than updated in place; at these sizes that is cheap.
    """
    ax = artists["ax"]
    ax.clear()
    counts = deconv.overlap_counts(n_inputs, kernel, stride)
    full = len(counts)
    try:
        length = views.output_length(n_inputs, kernel, stride, padding)
    except ValueError:
        length = 0
    kept = np.zeros(full, bool)
    kept[padding:padding + length] = True
    ax.bar(np.arange(full), counts, color=np.where(kept, "tab:blue", "0.8"), edgecolor="black", linewidth=0.5)
    ax.set_xlim(-0.6, max(full, 8) - 0.4)
    ax.set_ylim(0, max(3, counts.max() + 1))
    ax.set_xlabel("position in the full (unpadded) output; grey: cropped by padding")
    ax.set_ylabel("windows covering it")
    gaps = int((counts == 0).sum())
    ax.set_title(f"{n_inputs} inputs, kernel {kernel}, stride {stride}, padding {padding}: output length "
                 f"{stride}·({n_inputs}-1) + {kernel} - 2·{padding} = {length}"
                 + (f"  ({gaps} positions no window reaches)" if gaps else ""), fontsize=9)
    return length


def size_explorer(n_inputs: int = 3, kernel: int = 7, stride: int = 4, padding: int = 0) -> widgets.Widget:
    """Sliders for input length, kernel, stride and padding -> overlap pattern and output length."""
    fig, artists = size_explorer_figure()
    sliders = {"n_inputs": widgets.IntSlider(value=n_inputs, min=1, max=8, description="inputs"),
               "kernel": widgets.IntSlider(value=kernel, min=1, max=9, description="kernel"),
               "stride": widgets.IntSlider(value=stride, min=1, max=6, description="stride"),
               "padding": widgets.IntSlider(value=padding, min=0, max=6, description="padding")}
    return _wire(fig, lambda **values: update_size_explorer(artists, **values), sliders)
