"""Explorers: sliders wired to figures that update in place.

Used by notebooks 01 (curve explorer), 02 (reconstruction explorer), 03 (latent
and encoder explorers), 06 (full-curve explorer) and 07 (size explorer); the
explorers of notebooks 08 (:mod:`course_utils.vae`), 09 (:mod:`course_utils.upsampling`)
and 10 (:mod:`course_utils.gan`) live next to their models and use
:func:`interactive_figure` and the registry here.

Each explorer has three parts: ``*_figure()`` builds the figure and returns the
artists to update, ``update_*()`` is a plain function (arguments -> artists updated
with ``set_data``), which tests call without a browser, and ``*_explorer()`` wires
ipywidgets sliders to it.

Speed: a slider move must show its new picture within ~100 ms. Drawing the whole
figure and encoding it as PNG took most of that (about 200-400 ms in JupyterLab), so
:class:`FigureFrames` draws the still parts once and then, for each move, pastes
that background, draws only the moving artists and encodes a fast PNG; the new
picture replaces the old one in a single widget message. ``EXPLORERS`` lists every
explorer of the course in one place (notebook, figure, update, controls), for the
browser test, the benchmark and anyone adding an explorer. The entries of notebooks
08-10 import their modules only when built: those modules import this one.
"""

from __future__ import annotations

import base64
import io
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx
from matplotlib.artist import Artist
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image as PILImage

from . import data, deconv, models, views
from .models import ACTIVATIONS, CODE_SIZE
from .plotting import WINDOW_COLORS, curve_axes, patch_axes, scaled_filter_lines, set_scaled_filters

CODE_NAMES = tuple(f"c{i + 1}" for i in range(CODE_SIZE))
PNG_COMPRESS_LEVEL = 1  # zlib level 1: ~2x faster than the default 6, and the same size for line art


# --- drawing only what moves ------------------------------------------------------

def _flatten_artists(items) -> list[Artist]:
    """The artists in ``items``: an artist, or lists / tuples / dicts / bar containers of them."""
    if isinstance(items, Artist):
        return [items]
    if isinstance(items, dict):
        items = items.values()
    elif isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise TypeError(f"expected matplotlib artists, got {items!r}")
    return [artist for item in items for artist in _flatten_artists(item)]


class FigureFrames:
    """A figure drawn as PNG frames, redrawing only its moving artists (blitting).

    The first :meth:`png` draws the whole figure once (solving its layout, then
    keeping it), stores the picture without the moving artists as a background, and
    stores each legend's pixels. Every frame then pastes the background, draws the
    moving artists in their z-order, pastes the legends back on top (as a full draw
    would show them) and encodes the canvas as PNG.

    ``moving`` is an artist or a (nested) list of artists: lines, bars, images, texts,
    axes' ``xaxis`` / ``yaxis`` (their ticks), or a whole ``Axes`` when what it shows
    changes in structure. The spines of the axes they are in are redrawn with them:
    a full draw puts the axes' frame over bars and images.
    """

    def __init__(self, figure: Figure, moving):
        if not isinstance(figure, Figure):
            raise TypeError(f"figure must be a matplotlib Figure, got {type(figure).__name__}")
        moving = _flatten_artists(moving)
        if not moving:
            raise ValueError("moving must name at least one artist: the ones the sliders change")
        holders = dict.fromkeys(a.axes for a in moving if a.axes is not None and a.axes not in moving)
        spines = [spine for ax in holders for spine in ax.spines.values() if spine not in moving]
        self.moving = sorted(moving + spines, key=lambda a: a.get_zorder())
        self.figure = figure
        self.canvas = FigureCanvasAgg(figure)  # our own canvas: pyplot may have closed the figure's
        self.background = None
        self.legends = []

    def _draw_background(self) -> None:
        self.canvas.draw()  # with the layout engine still on: solve it with every artist in place
        self.figure.set_layout_engine("none")  # then keep it: moving one artist must not shift the axes
        for axis in (artist for artist in self.moving if isinstance(artist, Axis)):
            # Keep a moving axis' label where the layout put it: placing it anew measures
            # every tick label of the axes, about 5 ms an axis per frame.
            anchor = axis.label.get_transform().transform(axis.label.get_position())
            axis.set_label_coords(*axis.axes.transAxes.inverted().transform(anchor))
        for artist in self.moving:
            artist.set_animated(True)  # canvas.draw() skips animated artists: the still background
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        self.legends = [self.canvas.copy_from_bbox(ax.get_legend().get_window_extent().padded(1))
                        for ax in self.figure.axes if ax.get_legend() is not None and not ax.get_animated()]

    def draw(self) -> None:
        """Bring the canvas up to date with the moving artists' current data."""
        if self.background is None:
            self._draw_background()
        self.canvas.restore_region(self.background)
        for artist in self.moving:
            self.figure.draw_artist(artist)
        for legend in self.legends:
            self.canvas.restore_region(legend)

    def png(self) -> bytes:
        """The figure as it is now, as PNG bytes (opaque RGB)."""
        self.draw()
        width, height = self.canvas.get_width_height(physical=True)
        rgba = PILImage.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        rgba.convert("RGB").save(buffer, format="png", compress_level=PNG_COMPRESS_LEVEL)
        return buffer.getvalue()


def interactive_figure(figure: Figure, moving, update: Callable, controls: dict) -> widgets.Widget:
    """Controls (name -> ipywidgets slider or menu) above a figure that ``update(**values)`` changes.

    After each change only ``moving`` is redrawn (see :class:`FigureFrames`) and the
    picture is replaced with one message to the browser. If ``update`` raises, its
    traceback shows under the controls.
    """
    if not callable(update):
        raise TypeError(f"update must be a function of the control values, got {type(update).__name__}")
    if not controls or not all(isinstance(c, widgets.ValueWidget) for c in controls.values()):
        raise TypeError("controls must map names to ipywidgets sliders or menus")
    frames = FigureFrames(figure, moving)
    out = widgets.Output()

    def redraw(_change=None):
        try:
            update(**{name: control.value for name, control in controls.items()})
            png = frames.png()
        except Exception:
            with out:  # the Output widget shows the traceback under the controls
                out.clear_output()
                raise
        # Replacing the Output's content directly is one message; printing into it
        # (clear_output + display) is five.
        out.outputs = ({"output_type": "display_data", "metadata": {},
                        "data": {"image/png": base64.b64encode(png).decode("ascii"),
                                 "text/plain": "<the explorer's figure>"}},)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(controls.values())), out])


# --- one registry of explorers ----------------------------------------------------

@dataclass(frozen=True)
class Control:
    """A slider from ``lo`` to ``hi`` in steps of ``step`` (integers if all three are), or a menu.

    A menu (``lo is None``) takes its options when the explorer is built, e.g. the
    names of the variants passed to :func:`full_curve_explorer`; a slider may take its
    label then, when it depends on the inputs (e.g. which latent it moves).
    """

    name: str
    lo: float | None = None
    hi: float | None = None
    step: float = 1
    label: str = ""  # shown beside the control; the name if empty

    @property
    def is_menu(self) -> bool:
        return self.lo is None

    @property
    def integer(self) -> bool:
        return all(isinstance(v, numbers.Integral) for v in (self.lo, self.hi, self.step))

    def widget(self, value, options=None) -> widgets.ValueWidget:
        """The ipywidgets control, starting at ``value`` (a menu: at ``value`` or its first option).

        ``options``: a menu's options; for a slider, a label (str) that replaces ``label``.
        """
        if self.is_menu:
            options = list(options or [])
            if not options:
                raise ValueError(f"the menu {self.name!r} needs at least one option")
            return widgets.Dropdown(options=options, value=value if value in options else options[0],
                                    description=self.label or self.name)
        if not isinstance(value, numbers.Real) or not self.lo <= value <= self.hi:
            raise ValueError(f"{self.name} must be a number in [{self.lo}, {self.hi}], got {value!r}")
        if options is not None and not isinstance(options, str):
            raise TypeError(f"the slider {self.name!r} takes a label (str) when built, got {options!r}")
        label = options or self.label or self.name
        if self.integer:
            return widgets.IntSlider(value=int(value), min=self.lo, max=self.hi, step=self.step, description=label)
        return widgets.FloatSlider(value=float(value), min=self.lo, max=self.hi, step=self.step,
                                   description=label, continuous_update=True, readout_format=".2f")

    def sample(self, rng: np.random.Generator, options=None):
        """A random position of this control (for benchmarks and tests)."""
        if self.is_menu:
            return options[int(rng.integers(len(options)))]
        positions = round((self.hi - self.lo) / self.step)
        value = self.lo + self.step * int(rng.integers(positions + 1))
        return int(value) if self.integer else float(value)


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
    from . import full_curve

    (model,) = _example_model()
    return ({fix: (lambda curves, fix=fix: full_curve.reconstruct(model, curves, fix)) for fix in full_curve.FIXES},)


def _no_inputs() -> tuple:
    return ()


@dataclass(frozen=True)
class Explorer:
    """One explorer of the course: where it is used and how it is built.

    ``scene(*inputs)`` returns ``(figure, moving artists, update(**values), options)``
    where ``inputs`` are what the notebook passes (a model, reconstructors), named in
    ``inputs``, and ``options`` the menus' options (or sliders' labels), by control
    name; ``defaults`` are the controls' starting values, the same as the defaults of
    the explorer function ``module.function``. ``examples()`` builds stand-in inputs
    (small untrained models) for tests and benchmarks.
    """

    name: str
    notebook: str
    function: str
    scene: Callable
    controls: tuple[Control, ...]
    defaults: dict
    inputs: tuple[str, ...] = ()
    module: str = "widgets"  # the course_utils module that defines ``function``
    examples: Callable[[], tuple] = _no_inputs

    @property
    def call(self) -> str:
        """How a notebook calls it: "module.function"."""
        return f"{self.module}.{self.function}"

    def random_values(self, rng: np.random.Generator, options: dict | None = None) -> dict:
        """Random positions of every control."""
        return {c.name: c.sample(rng, (options or {}).get(c.name)) for c in self.controls}

    def widget(self, *inputs, **values) -> widgets.Widget:
        """The explorer: its controls, starting at ``values`` or the defaults, above its figure."""
        unknown = set(values) - {c.name for c in self.controls}
        if unknown:
            raise TypeError(f"{self.function}() has no control(s) {sorted(unknown)}")
        figure, moving, update, options = self.scene(*inputs)
        controls = {c.name: c.widget(values.get(c.name, self.defaults.get(c.name)), options.get(c.name))
                    for c in self.controls}
        return interactive_figure(figure, moving, update, controls)


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


CURVE = Explorer("curve", "01_data.ipynb", "curve_explorer", _curve_scene, (P1, P2), {"p1": 0.6, "p2": -0.4})


def curve_explorer(p1: float = CURVE.defaults["p1"], p2: float = CURVE.defaults["p2"]) -> widgets.Widget:
    """Sliders for p1 and p2 -> the curve and its three windows."""
    return CURVE.widget(p1=p1, p2=p2)


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
    fig, artists = reconstruction_explorer_figure()
    return (fig, artists, lambda p1, p2, offset: update_reconstruction_explorer(artists, model, p1, p2, offset), {})


RECONSTRUCTION = Explorer("reconstruction", "02_patch_autoencoder.ipynb", "reconstruction_explorer",
                          _reconstruction_scene, (P1, P2, OFFSET), {"p1": 0.6, "p2": -0.4, "offset": 4}, ("model",),
                          examples=_example_model)


def reconstruction_explorer(model, p1: float = RECONSTRUCTION.defaults["p1"], p2: float = RECONSTRUCTION.defaults["p2"],
                            offset: int = RECONSTRUCTION.defaults["offset"]) -> widgets.Widget:
    """Sliders for p1, p2 and the patch offset -> the code and the reconstruction."""
    return RECONSTRUCTION.widget(model, p1=p1, p2=p2, offset=offset)


# --- notebook 03: the decoder driven by hand ---------------------------------------

def latent_explorer_figure(model):
    """Figure for the latent explorer: the scaled filters and their sum, the output."""
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


LATENT = Explorer("latent", "03_decoder_animation.ipynb", "latent_explorer", _latent_scene,
                  tuple(Control(c, *_height()) for c in CODE_NAMES), {"c1": 0.0, "c2": 0.1, "c3": 0.2}, ("model",),
                  examples=_example_model)


def latent_explorer(model, code=tuple(LATENT.defaults[c] for c in CODE_NAMES)) -> widgets.Widget:
    """Sliders for the code's components -> the scaled filters and the decoder's output."""
    code = tuple(code)
    if len(code) != CODE_SIZE:
        raise ValueError(f"code must have {CODE_SIZE} numbers (one per filter), got {len(code)}")
    return LATENT.widget(model, **{c: float(v) for c, v in zip(CODE_NAMES, code)})


# --- notebook 03: the encoder at work ----------------------------------------------

def encoder_explorer_figure(model):
    """Figure: input patch, its products with the filters, the code, the reconstruction."""
    fig, (ax_in, ax_prod, ax_code, ax_out) = plt.subplots(
        1, 4, figsize=(12, 3.0), constrained_layout=True, gridspec_kw={"width_ratios": [3, 3, 1.6, 3]})
    x, zeros = range(data.PATCH), np.zeros(data.PATCH)
    patch_axes(ax_in, "input patch")
    (patch,) = ax_in.plot(x, zeros, "o-", color="black", label="input")
    patch_axes(ax_prod, "filter × input, tap by tap", ylim=0.5)
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


ENCODER = Explorer("encoder", "03_decoder_animation.ipynb", "encoder_explorer", _encoder_scene,
                   (P1, P2, OFFSET), {"p1": 0.6, "p2": -0.4, "offset": 4}, ("model",), examples=_example_model)


def encoder_explorer(model, p1: float = ENCODER.defaults["p1"], p2: float = ENCODER.defaults["p2"],
                     offset: int = ENCODER.defaults["offset"]) -> widgets.Widget:
    """Sliders for p1, p2 and the offset -> products with the filters, code, reconstruction."""
    return ENCODER.widget(model, p1=p1, p2=p2, offset=offset)


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


FULL_CURVE = Explorer("full_curve", "06_full_model_overlap.ipynb", "full_curve_explorer", _full_curve_scene,
                      (Control("variant"), P1, P2), {"p1": 0.6, "p2": -0.4}, ("reconstructors",),
                      examples=_example_reconstructors)


def full_curve_explorer(reconstructors: dict, p1: float = FULL_CURVE.defaults["p1"],
                        p2: float = FULL_CURVE.defaults["p2"]) -> widgets.Widget:
    """A menu of variants (name -> function curves -> reconstructions) and sliders for p1, p2."""
    return FULL_CURVE.widget(reconstructors, p1=p1, p2=p2)


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
        length = views.output_length(n_inputs, kernel, stride, padding)
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


SIZE = Explorer("size", "07_four_views.ipynb", "size_explorer", _size_scene, SIZE_CONTROLS,
                {"n_inputs": 3, "kernel": 7, "stride": 4, "padding": 0})


def size_explorer(n_inputs: int = SIZE.defaults["n_inputs"], kernel: int = SIZE.defaults["kernel"],
                  stride: int = SIZE.defaults["stride"], padding: int = SIZE.defaults["padding"]) -> widgets.Widget:
    """Sliders for input length, kernel, stride and padding -> overlap pattern and output length."""
    return SIZE.widget(n_inputs=n_inputs, kernel=kernel, stride=stride, padding=padding)


# --- notebooks 08-10: explorers defined next to their models -----------------------
# Their modules import this one (for interactive_figure and these entries), so the
# scenes import them when called, not at the top.

def _vae_curve_scene(model, latents=(0, 1)):
    from . import vae

    fig, artists = vae.latent_curve_figure(model, latents)
    moving = [artists["scaled"], artists["curve"], artists["nearest"]]
    labels = {name: f"latent {k}" for name, k in zip(("z1", "z2"), artists["latents"])}
    return fig, moving, lambda z1, z2: vae.update_latent_curve(artists, z1, z2), labels


def _example_curve_vae() -> tuple:
    from . import vae

    return vae.CurveVAE(rngs=nnx.Rngs(0)), (0, 1)


VAE_CURVE = Explorer("vae_curve", "08_learned_code_noise.ipynb", "latent_curve_explorer", _vae_curve_scene,
                     (Control("z1", -2.5, 2.5, 0.05), Control("z2", -2.5, 2.5, 0.05)), {"z1": 0.5, "z2": 0.5},
                     ("model", "latents"), module="vae", examples=_example_curve_vae)


def _overlap_scene():
    from . import upsampling

    fig, artists = upsampling.overlap_explorer_figure()
    # The colour bar's colours stay; its tick labels follow the largest count.
    moving = [artists["counts"], artists["image"], artists["ax_counts"].title, artists["ax_image"].title,
              artists["ax_colorbar"].yaxis]
    return fig, moving, lambda kernel, stride: upsampling.update_overlap_explorer(artists, kernel, stride), {}


OVERLAP = Explorer("overlap", "09_checkerboard.ipynb", "overlap_explorer", _overlap_scene,
                   (Control("kernel", 1, 8), Control("stride", 1, 4)), {"kernel": 3, "stride": 2}, module="upsampling")


def _digit_latent_scene(generator, classifier):
    from . import gan

    fig, artists = gan.latent_explorer_figure()
    moving = [artists["image"], artists["bars"], artists["title"]]
    return fig, moving, lambda a, b: gan.update_latent_explorer(artists, generator, classifier, a, b), {}


def _example_digit_models() -> tuple:
    """An untrained generator and a classifier fitted on 300 real digits."""
    from . import gan

    images, labels = gan.digits()
    return gan.Generator(rngs=nnx.Rngs(0)), gan.train_classifier(images[:300], labels[:300])


DIGIT_LATENT = Explorer("digit_latent", "10_digit_generator.ipynb", "latent_explorer", _digit_latent_scene,
                        (Control("a", -4.0, 4.0, 0.25), Control("b", -4.0, 4.0, 0.25)), {"a": 0.0, "b": 0.0},
                        ("generator", "classifier"), module="gan", examples=_example_digit_models)


# --- notebooks 11-12 ---------------------------------------------------------------

def _attribution_scene(images, labels, masks, maps):
    from . import attribution_explorer

    return attribution_explorer.attribution_scene(images, labels, masks, maps)


def _example_attribution_inputs() -> tuple:
    from . import attribution_explorer

    return attribution_explorer.example_inputs()


ATTRIBUTION_IMAGES = 50
"""Images the attribution explorer's slider runs over (notebook 11 passes its first 50)."""

ATTRIBUTION = Explorer("attribution", "11_seeing_inside_a_cnn.ipynb", "attribution_explorer", _attribution_scene,
                       (Control("image", 0, ATTRIBUTION_IMAGES - 1), Control("method")),
                       {"image": 0, "method": "guided backprop"}, ("images", "labels", "masks", "maps"),
                       module="attribution_explorer", examples=_example_attribution_inputs)


def _synthesis_scene(model, judge):
    from . import synthesis

    return synthesis.synthesis_scene(model, judge)


def _example_synthesis_models() -> tuple:
    from . import synthesis

    return synthesis.example_models()


SYNTHESIS = Explorer("synthesis", "12_what_units_want.ipynb", "synthesis_explorer", _synthesis_scene,
                     (Control("target"), Control("decay", 0.0, 0.1, 0.005),
                      Control("blur_sigma", 0.0, 1.5, 0.1, label="blur σ"),
                      Control("clip_percentile", 0.0, 60.0, 5.0, label="clip %"), Control("jitter", 0, 4)),
                     {"target": "class: disc", "decay": 0.01, "blur_sigma": 0.5, "clip_percentile": 20.0, "jitter": 2},
                     ("model", "judge"), module="synthesis", examples=_example_synthesis_models)


EXPLORERS: dict[str, Explorer] = {e.name: e for e in (CURVE, RECONSTRUCTION, LATENT, ENCODER, FULL_CURVE, SIZE,
                                                      VAE_CURVE, OVERLAP, DIGIT_LATENT, ATTRIBUTION, SYNTHESIS)}
"""Every explorer of the course by name, in the order of the notebooks."""
