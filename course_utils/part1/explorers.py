"""The explorers of Part I: a curve, a patch's code, the decoder and encoder by hand,
the whole curve fix by fix, and the size of a transposed convolution.

Used by notebooks 01 (curve), 02 (reconstruction), 03 (latent and encoder), 06 (full
curve) and 07 (size). Each explorer has a ``*_figure()`` that builds the figure, a
plain ``update_*()`` (control values -> artists updated in place, which tests call
without a browser), its :class:`~course_utils.display.explorer.Explorer` entry and
the ``*_explorer()`` function the notebook calls.
"""

from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx
from matplotlib.ticker import MaxNLocator

from ..core import checks, deconv
from ..display.explorer import Control, Explorer
from . import data, full_curve, models
from .models import ACTIVATIONS, CODE_NAMES, CODE_SIZE
from .plotting import WINDOW_COLORS, curve_axes, patch_axes, scaled_filter_lines, set_scaled_filters


def _height(lo=-1.0, hi=1.0):
    """Slider steps of 0.05 for a control height or a code value."""
    return lo, hi, 0.05


OFFSET = Control("offset", data.ALL_OFFSETS[0], data.ALL_OFFSETS[-1])
P1, P2 = Control("p1", *_height()), Control("p2", *_height())


def _example_model() -> tuple:
    """An untrained patch autoencoder: the input of the explorers of notebooks 02 and 03."""
    return (models.PatchAutoencoder(rngs=nnx.Rngs(0)),)


def _example_reconstructors() -> tuple:
    """Every fix of notebook 06 around an untrained patch autoencoder."""
    (model,) = _example_model()
    return ({fix: (lambda curves, fix=fix: full_curve.reconstruct(model, curves, fix)) for fix in full_curve.FIXES},)



# --- notebook 01: a curve and its three windows -------------------------------------

def curve_explorer_figure():
    """Figure for the curve explorer: the curve (left) and its three windows (right)."""
    fig, (ax_curve, ax_windows) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True)
    curve_axes(ax_curve, "the curve and its control heights")
    n, last = data.N_POINTS, data.N_POINTS - 1
    (curve,) = ax_curve.plot(range(n), np.zeros(n), "o-", color="black", label=f"curve ({n} points)")
    # Control points P0..P3 sit at x = 0, 0.5, 0.5, 1: in index units 0, last/2, last/2, last.
    (control,) = ax_curve.plot([0, last / 2, last / 2, last], np.zeros(4), "s--", color="tab:red", alpha=0.6,
                               label="control polygon (P0..P3)")
    ax_curve.set_ylim(-1.05, 1.05)
    ax_curve.legend(loc="lower left", fontsize=8)
    ax_windows.set_title(f"the {len(data.WINDOW_STARTS)} {data.PATCH}-point windows the decoder paints")
    patch_axes(ax_windows, xlabel="position inside the window")
    windows = [ax_windows.plot(range(data.PATCH), np.zeros(data.PATCH), "o-", color=c,
                               label=f"positions {s}-{s + data.PATCH - 1}")[0]
               for s, c in zip(data.WINDOW_STARTS, WINDOW_COLORS)]
    ax_windows.legend(loc="lower left", fontsize=8)
    plt.close(fig)  # shown by the explorer, not by the inline backend
    return fig, {"curve": curve, "control": control, "windows": windows}


def update_curve_explorer(artists: dict, p1: float, p2: float) -> np.ndarray:
    """Draw the curve for (p1, p2) and its windows; return the whole curve."""
    curve = data.curves_from_parameters(p1, p2)[0]
    artists["curve"].set_ydata(curve)
    artists["control"].set_ydata([0, p1, p2, 0])
    for line, start in zip(artists["windows"], data.WINDOW_STARTS):
        line.set_ydata(curve[start:start + data.PATCH])
    return curve


def _curve_scene():
    fig, artists = curve_explorer_figure()
    return fig, artists, lambda p1, p2: update_curve_explorer(artists, p1, p2), {}


CURVE_EXPLORER = Explorer("curve", "01_data.ipynb", __name__, "curve_explorer", _curve_scene, (P1, P2), {"p1": 0.6, "p2": -0.4})


def curve_explorer(p1: float = CURVE_EXPLORER.defaults["p1"], p2: float = CURVE_EXPLORER.defaults["p2"]) -> ipywidgets.Widget:
    """Sliders for p1 and p2 -> the curve and its three windows."""
    return CURVE_EXPLORER.widget(p1=p1, p2=p2)


# --- notebook 02: a patch, its code and its reconstruction --------------------------

def _code_axes(ax, ylabel: str):
    """Bars for the code, one per component, in the window colours."""
    bars = ax.bar(range(CODE_SIZE), np.zeros(CODE_SIZE), color=WINDOW_COLORS)
    ax.set_xticks(range(CODE_SIZE), CODE_NAMES)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel(ylabel)
    ax.axhline(0, color="0.6", linewidth=0.8)
    return bars


def reconstruction_explorer_figure():
    """Figure for the reconstruction explorer: patch vs reconstruction, and the code."""
    fig, (ax_patch, ax_code) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True,
                                            gridspec_kw={"width_ratios": [2, 1]})
    patch_axes(ax_patch, f"a {data.PATCH}-point patch and its reconstruction", xlabel="position inside the patch")
    x = range(data.PATCH)
    (original,) = ax_patch.plot(x, np.zeros(data.PATCH), "o-", color="black", label="input patch")
    (rebuilt,) = ax_patch.plot(x, np.zeros(data.PATCH), "x--", color="tab:red", label="reconstruction")
    ax_patch.legend(loc="lower left", fontsize=8)
    bars = _code_axes(ax_code, "code value (tanh range)")
    ax_code.set_title(f"the code ({CODE_SIZE} numbers)")
    plt.close(fig)
    return fig, {"original": original, "rebuilt": rebuilt, "bars": bars, "title": ax_patch.title}


def update_reconstruction_explorer(artists: dict, model, p1: float, p2: float, offset: int) -> float:
    """Encode and decode the patch of curve (p1, p2) at ``offset``; return its MSE."""
    patch = data.curves_from_parameters(p1, p2)[:, offset:offset + data.PATCH]
    code = np.asarray(model.encode(patch))[0, 0]
    rebuilt = np.asarray(model.decode(code.reshape(1, 1, CODE_SIZE)))[0]
    artists["original"].set_ydata(patch[0])
    artists["rebuilt"].set_ydata(rebuilt)
    for bar, value in zip(artists["bars"], code):
        bar.set_height(value)
    mse = float(((rebuilt - patch[0]) ** 2).mean())
    artists["title"].set_text(f"a patch at offset {offset} and its reconstruction (MSE {mse:.1e})")
    return mse


def _reconstruction_scene(model):
    checks.model_with("model", model, ("encode", "decode"), "models.PatchAutoencoder")
    fig, artists = reconstruction_explorer_figure()
    return (fig, artists, lambda p1, p2, offset: update_reconstruction_explorer(artists, model, p1, p2, offset), {})


RECONSTRUCTION_EXPLORER = Explorer("reconstruction", "02_patch_autoencoder.ipynb", __name__, "reconstruction_explorer",
                          _reconstruction_scene, (P1, P2, OFFSET), {"p1": 0.6, "p2": -0.4, "offset": 4}, ("model",),
                          examples=_example_model)


def reconstruction_explorer(model, p1: float = RECONSTRUCTION_EXPLORER.defaults["p1"], p2: float = RECONSTRUCTION_EXPLORER.defaults["p2"],
                            offset: int = RECONSTRUCTION_EXPLORER.defaults["offset"]) -> ipywidgets.Widget:
    """Sliders for p1, p2 and the patch offset -> the code and the reconstruction."""
    return RECONSTRUCTION_EXPLORER.widget(model, p1=p1, p2=p2, offset=offset)


# --- notebook 03: the decoder driven by hand ---------------------------------------

def latent_explorer_figure(model):
    """Figure for the latent explorer: the scaled filters and their sum, the output."""
    checks.model_with("model", model, ("encode", "decode"), "models.PatchAutoencoder")
    fig, ax = plt.subplots(figsize=(6, 3.4), constrained_layout=True)
    patch_axes(ax, f"the decoder: {CODE_SIZE} scaled filters and their sum")
    lines = scaled_filter_lines(ax)
    ax.legend(loc="lower left", fontsize=8)
    plt.close(fig)
    return fig, {**lines, "filters": np.asarray(model.decoder.filters(), np.float64),
                 "bias": float(model.decoder.bias())}


def update_latent_explorer(artists: dict, c1: float, c2: float, c3: float) -> np.ndarray:
    """Paint the filters scaled by the code (c1, c2, c3); return the decoder's output."""
    return set_scaled_filters(artists, artists["filters"], (c1, c2, c3), artists["bias"])


def _latent_scene(model):
    fig, artists = latent_explorer_figure(model)
    moving = [artists["scaled"], artists["sum"]]
    return fig, moving, lambda **code: update_latent_explorer(artists, *(code[c] for c in CODE_NAMES)), {}


LATENT_EXPLORER = Explorer("latent", "03_decoder_animation.ipynb", __name__, "latent_explorer", _latent_scene,
                  tuple(Control(c, *_height()) for c in CODE_NAMES), {"c1": 0.0, "c2": 0.1, "c3": 0.2}, ("model",),
                  examples=_example_model)


def latent_explorer(model, code=tuple(LATENT_EXPLORER.defaults[c] for c in CODE_NAMES)) -> ipywidgets.Widget:
    """Sliders for the code's components -> the scaled filters and the decoder's output."""
    code = tuple(np.asarray(checks.array("code", code, ndim=1, shape_hint=f"({CODE_SIZE},)", dtype=np.float64), np.float64))
    if len(code) != CODE_SIZE:
        raise ValueError(f"code must have {CODE_SIZE} numbers (one per filter), got {len(code)}")
    return LATENT_EXPLORER.widget(model, **{c: float(v) for c, v in zip(CODE_NAMES, code)})


# --- notebook 03: the encoder at work ----------------------------------------------

def encoder_explorer_figure(model):
    """Figure: input patch, its products with the filters, the code, the reconstruction."""
    checks.model_with("model", model, ("encode", "decode"), "models.PatchAutoencoder")
    fig, (ax_in, ax_prod, ax_code, ax_out) = plt.subplots(
        1, 4, figsize=(12, 3.0), constrained_layout=True, gridspec_kw={"width_ratios": [3, 3, 1.6, 3]})
    x, zeros = range(data.PATCH), np.zeros(data.PATCH)
    patch_axes(ax_in, "input patch")
    (patch,) = ax_in.plot(x, zeros, "o-", color="black", label="input")
    patch_axes(ax_prod, "filter × input, tap by tap", ylim=0.5, ylabel="product")
    products = [ax_prod.plot(x, zeros, "o-", color=c, markersize=3, label=f"filter {i + 1} × input")[0]
                for i, c in enumerate(WINDOW_COLORS)]
    ax_prod.legend(loc="lower left", fontsize=7)
    bars = _code_axes(ax_code, "tanh(sum + bias)")
    ax_code.set_title("code", fontsize=10)
    patch_axes(ax_out, "the decoder rebuilds it")
    (target,) = ax_out.plot(x, zeros, "o-", color="0.6", label="input")
    (rebuilt,) = ax_out.plot(x, zeros, "x--", color="tab:red", label="reconstruction")
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
    products = artists["enc_filters"] * x[:, None]  # (taps, filters)
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


def _encoder_scene(model):
    fig, artists = encoder_explorer_figure(model)
    moving = [artists[k] for k in ("patch", "products", "bars", "target", "rebuilt")]
    return fig, moving, lambda p1, p2, offset: update_encoder_explorer(artists, p1, p2, offset), {}


ENCODER_EXPLORER = Explorer("encoder", "03_decoder_animation.ipynb", __name__, "encoder_explorer", _encoder_scene,
                   (P1, P2, OFFSET), {"p1": 0.6, "p2": -0.4, "offset": 4}, ("model",), examples=_example_model)


def encoder_explorer(model, p1: float = ENCODER_EXPLORER.defaults["p1"], p2: float = ENCODER_EXPLORER.defaults["p2"],
                     offset: int = ENCODER_EXPLORER.defaults["offset"]) -> ipywidgets.Widget:
    """Sliders for p1, p2 and the offset -> products with the filters, code, reconstruction."""
    return ENCODER_EXPLORER.widget(model, p1=p1, p2=p2, offset=offset)


# --- notebook 06: the whole curve, fix by fix -------------------------------------

ERROR_CAP = 0.3
"""The error axis of the full-curve explorer stops here; larger errors are drawn at the cap."""


def full_curve_explorer_figure():
    """Figure: a curve and its reconstruction by one variant, and the error by position."""
    fig, (ax_curve, ax_err) = plt.subplots(1, 2, figsize=(10, 3.2), constrained_layout=True)
    curve_axes(ax_curve, "the whole curve")
    for start, color in zip(data.WINDOW_STARTS, WINDOW_COLORS):
        ax_curve.axvspan(start - 0.45, start + data.PATCH - 0.55, color=color, alpha=0.08)
    n = data.N_POINTS
    (curve,) = ax_curve.plot(range(n), np.zeros(n), "o-", color="black", label="curve")
    (rebuilt,) = ax_curve.plot(range(n), np.zeros(n), "x--", color="tab:red", label="reconstruction")
    ax_curve.legend(loc="lower left", fontsize=8)
    bars = ax_err.bar(range(n), np.zeros(n), color="tab:red")
    ax_err.set_xlim(-0.5, n - 0.5)
    ax_err.set_ylim(0, ERROR_CAP)
    ax_err.set_xticks(range(0, n, 2))
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
        bar.set_height(min(value, ERROR_CAP))
    mse = float((error**2).mean())
    artists["title"].set_text(f"{variant}: MSE {mse:.1e}")
    return mse


def _full_curve_scene(reconstructors):
    if not isinstance(reconstructors, dict) or not reconstructors or not all(map(callable, reconstructors.values())):
        raise TypeError(f"reconstructors must map variant names to functions curves (n, {data.N_POINTS}) -> "
                        f"(n, {data.N_POINTS}), got {reconstructors!r}")
    fig, artists = full_curve_explorer_figure()

    def update(variant, p1, p2):
        return update_full_curve_explorer(artists, reconstructors, variant, p1, p2)

    return fig, artists, update, {"variant": list(reconstructors)}


FULL_CURVE_EXPLORER = Explorer("full_curve", "06_full_model_overlap.ipynb", __name__, "full_curve_explorer", _full_curve_scene,
                      (Control("variant"), P1, P2), {"p1": 0.6, "p2": -0.4}, ("reconstructors",),
                      examples=_example_reconstructors)


def full_curve_explorer(reconstructors: dict, p1: float = FULL_CURVE_EXPLORER.defaults["p1"],
                        p2: float = FULL_CURVE_EXPLORER.defaults["p2"]) -> ipywidgets.Widget:
    """A menu of variants (name -> function curves -> reconstructions) and sliders for p1, p2."""
    return FULL_CURVE_EXPLORER.widget(reconstructors, p1=p1, p2=p2)


# --- notebook 07: the size of a transposed convolution -----------------------------

SIZE_CONTROLS = (Control("n_inputs", 1, 8, label="inputs"), Control("kernel", 1, 9), Control("stride", 1, 6),
                 Control("padding", 0, 6))
MAX_FULL_LENGTH = SIZE_CONTROLS[2].hi * (SIZE_CONTROLS[0].hi - 1) + SIZE_CONTROLS[1].hi  # stride·(n-1) + kernel
"""The longest full output the size explorer's sliders reach: one bar for each of its positions."""


def size_explorer_figure():
    """Figure: the windows of every input over the full output, and the cropped output.

    It holds one bar per position of the longest full output; an update shows the
    bars it needs. The axis labels are figure texts, so that they are drawn once,
    not with the ticks after every move.
    """
    fig, ax = plt.subplots(figsize=(9, 3.2), constrained_layout=True)
    fig.supxlabel("position in the full (unpadded) output; grey: cropped by padding", fontsize=10)
    fig.supylabel("windows covering it", fontsize=10)
    bars = ax.bar(np.arange(MAX_FULL_LENGTH), np.zeros(MAX_FULL_LENGTH), color="tab:blue", edgecolor="black",
                  linewidth=0.5)
    for axis in (ax.xaxis, ax.yaxis):  # positions and counts are whole numbers
        axis.set_major_locator(MaxNLocator(integer=True))
    plt.close(fig)
    return fig, {"ax": ax, "bars": bars}


def update_size_explorer(artists: dict, n_inputs: int, kernel: int, stride: int, padding: int) -> int:
    """Draw the overlap counts and the part that ``padding`` keeps; return the output length."""
    ax = artists["ax"]
    counts = deconv.overlap_counts(n_inputs, kernel, stride)
    full = len(counts)
    if full > len(artists["bars"]):
        raise ValueError(f"the full output ({full} positions) is longer than the figure's {len(artists['bars'])} bars")
    try:
        length = deconv.output_length(n_inputs, kernel, stride, padding)
    except ValueError:
        length = 0
    for position, bar in enumerate(artists["bars"]):
        bar.set_visible(position < full)
        if position < full:
            bar.set_height(counts[position])
            bar.set_facecolor("tab:blue" if padding <= position < padding + length else "0.8")
    ax.set_xlim(-0.6, max(full, 8) - 0.4)
    ax.set_ylim(0, max(3, counts.max() + 1))
    gaps = int((counts == 0).sum())
    ax.set_title(f"{n_inputs} inputs, kernel {kernel}, stride {stride}, padding {padding}: output length "
                 f"{stride}·({n_inputs}-1) + {kernel} - 2·{padding} = {length}"
                 + (f"  ({gaps} positions no window reaches)" if gaps else ""), fontsize=9)
    return length


def _size_scene():
    fig, artists = size_explorer_figure()
    ax = artists["ax"]
    # The limits follow the sizes: the ticks move with the bars and the title.
    moving = [artists["bars"], ax.title, ax.xaxis, ax.yaxis]
    return fig, moving, lambda **sizes: update_size_explorer(artists, **sizes), {}


SIZE_EXPLORER = Explorer("size", "07_four_views.ipynb", __name__, "size_explorer", _size_scene, SIZE_CONTROLS,
                {"n_inputs": 3, "kernel": 7, "stride": 4, "padding": 0})


def size_explorer(n_inputs: int = SIZE_EXPLORER.defaults["n_inputs"], kernel: int = SIZE_EXPLORER.defaults["kernel"],
                  stride: int = SIZE_EXPLORER.defaults["stride"], padding: int = SIZE_EXPLORER.defaults["padding"]) -> ipywidgets.Widget:
    """Sliders for input length, kernel, stride and padding -> overlap pattern and output length."""
    return SIZE_EXPLORER.widget(n_inputs=n_inputs, kernel=kernel, stride=stride, padding=padding)

