"""Notebook 09's experiments, figures, explorer and exercises: checkerboards in 2-D.

The reusable parts are :mod:`course_utils.part2.upsampling` (the layers) and
:mod:`course_utils.part2.checkerboard` (the measures); this module holds what only
notebook 09 draws and checks, and its overlap explorer.
"""

from __future__ import annotations

import itertools

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator

from ..core import checks, deconv
from ..core.exercise import solution, solves, verdict, verdict_on_function  # noqa: F401  (notebooks call checkerboard_lesson.solution)
from ..display.explorer import Control, Explorer
from . import checkerboard, upsampling


CHECKERED = ("transposed k3 s2", "transposed k4 s2", "sub-pixel")
"""The kinds whose untrained outputs notebook 09 finds checkered."""


FIXED = ("resize-conv", "sub-pixel ICNR")
"""The two fixes of notebook 09."""


def format_table(table: dict) -> str:
    """:func:`artifact_table`'s result as text: one row per name, ``mean ± std`` per measure."""
    if not isinstance(table, dict) or not table:
        raise TypeError("table must be a non-empty dict, as artifact_table returns")
    names = list(next(iter(table.values())))
    width = max(len(name) for name in table) + 2
    lines = [" " * width + "".join(f"{m:>26s}" for m in names)]
    for name, row in table.items():
        lines.append(f"{name:{width}s}" + "".join(f"{mean:>17.4f} ± {std:<6.4f}" for mean, std in row.values()))
    return "\n".join(lines)


def separation(measures: dict, checkered=CHECKERED, fixed=FIXED) -> dict:
    """How far apart the checkered and the fixed kinds are, by the two measures of :data:`MEASURES`.

    ``measures`` maps each kind to ``{measure name: values, one per generator}``.
    Returns ``nyquist_lowest`` (lowest Nyquist fraction of any checkered generator),
    ``nyquist_highest`` (highest of any fixed one), ``parity_median_low`` (lowest
    median parity spread of a checkered kind), ``parity_median_high`` (highest median
    of a fixed kind), ``parity_top_fixed`` (highest parity spread of any fixed
    generator), ``missed`` (checkered generators at or below it) and ``checkered``
    (how many checkered generators there are).
    """
    if not isinstance(measures, dict) or not set(checkered) | set(fixed) <= set(measures):
        raise TypeError(f"measures must be a dict with an entry for each of {tuple(checkered) + tuple(fixed)}")
    nyq = {k: np.asarray(measures[k]["Nyquist fraction"]) for k in (*checkered, *fixed)}
    par = {k: np.asarray(measures[k]["parity spread"]) for k in (*checkered, *fixed)}
    top_fixed = max(float(par[k].max()) for k in fixed)
    return {"nyquist_lowest": min(float(nyq[k].min()) for k in checkered),
            "nyquist_highest": max(float(nyq[k].max()) for k in fixed),
            "parity_median_low": min(float(np.median(par[k])) for k in checkered),
            "parity_median_high": max(float(np.median(par[k])) for k in fixed),
            "parity_top_fixed": top_fixed,
            "missed": sum(int((par[k] <= top_fixed).sum()) for k in checkered),
            "checkered": sum(par[k].size for k in checkered)}


def plot_overlap_counts(cases, n_in: int = 4):
    """One panel per ``(kernel, stride)``: the 2-D overlap counts of ``n_in x n_in`` inputs.

    The interior (``kernel - 1`` off each side) is outlined; each title gives the
    interior's largest / smallest count. Returns the figure.
    """
    if isinstance(cases, (str, bytes)) or not hasattr(cases, "__iter__"):
        raise TypeError(f"cases must be a list of (kernel, stride) pairs, got {cases!r}")
    cases = list(cases)
    if not cases or not all(isinstance(c, (tuple, list)) and len(c) == 2 for c in cases):
        raise ValueError(f"cases must be a non-empty list of (kernel, stride) pairs, got {cases!r}")
    cases = [(checks.positive_int("kernel", k), checks.positive_int("stride", s)) for k, s in cases]
    n_in = checks.positive_int("n_in", n_in)
    counts = {case: deconv.overlap_counts((n_in, n_in), *case) for case in cases}
    top = max(int(c.max()) for c in counts.values())
    fig, axes = plt.subplots(1, len(cases), figsize=(3.3 * len(cases), 3.6), constrained_layout=True, squeeze=False)
    for ax, ((kernel, stride), count) in zip(axes[0], counts.items()):
        image = ax.imshow(count, cmap="viridis", vmin=0, vmax=top)
        inner = deconv.interior_overlap_counts((n_in, n_in), kernel, stride)
        k0 = kernel - 1
        ax.add_patch(plt.Rectangle((k0 - 0.5, k0 - 0.5), count.shape[1] - 2 * k0, count.shape[0] - 2 * k0,
                                   fill=False, edgecolor="white", linestyle="--", linewidth=1.2))
        ax.set_title(f"kernel {kernel}, stride {stride}: {count.shape[0]}x{count.shape[1]}\n"
                     f"interior max/min = {inner.max() / inner.min():g}")
        ax.set_xlabel("output column")
        ax.set_ylabel("output row")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(integer=True))
    bar = fig.colorbar(image, ax=axes[0], label="windows covering the pixel", shrink=0.8)
    bar.locator = MaxNLocator(integer=True)
    fig.suptitle(f"How many windows paint each pixel ({n_in}x{n_in} inputs; dashed: the interior)")
    return fig


def plot_generator_outputs(images: dict, *, crop: int = 16, period: int = 4):
    """One row per kind: an output zoomed, its repeating part, and where the energy lies in frequency.

    ``images`` maps a name to images ``(n, h, w)``. The example shown is the
    initialisation with the median Nyquist fraction (neither the best nor the worst):
    its top-left ``crop x crop`` pixels in units of the image's standard deviation,
    then the mean of each pixel class ``(row mod period, column mod period)``
    (:func:`parity_class_means`) tiled over the same pixels, on the same scale: the
    part of the image that repeats with that period. The third panel is
    :func:`energy_share_spectrum` of all ``n`` images on a log scale. Returns the figure.
    """
    if not isinstance(images, dict) or not images:
        raise TypeError("images must be a non-empty dict: name -> images (n, height, width)")
    crop, period = checks.positive_int("crop", crop), checks.positive_int("period", period, minimum=2)
    fig, axes = plt.subplots(len(images), 3, figsize=(8.2, 2.2 * len(images) + 1.4), constrained_layout=True,
                             squeeze=False)
    for (name, imgs), (ax_img, ax_rep, ax_spec) in zip(images.items(), axes):
        imgs = np.asarray(imgs, np.float64)
        nyq, par = checkerboard.nyquist_fraction(imgs), checkerboard.parity_spread(imgs)
        i = int(np.argsort(nyq)[len(nyq) // 2])  # the median initialisation
        centred = imgs[i] - imgs[i].mean()
        scale = max(centred.std(), 1e-12)
        shown = ax_img.imshow(centred[:crop, :crop] / scale, cmap="RdBu_r", vmin=-2, vmax=2)
        ax_img.set_title(f"{name}\nNyquist {nyq[i]:.3f}, parity (period 2) {par[i]:.3f}", fontsize=8.5)
        tile = checkerboard.parity_class_means(imgs[i], period)
        ax_rep.imshow(np.tile(tile, (crop // period + 1, crop // period + 1))[:crop, :crop] / scale,
                      cmap="RdBu_r", vmin=-2, vmax=2)
        ax_rep.set_title(f"its repeating part (period {period}):\n{checkerboard.parity_spread(imgs[i], period):.2f} of the "
                         f"variance (period {period})", fontsize=8.5)
        for ax in (ax_img, ax_rep):
            ax.set_xticks(range(0, crop, 5))
            ax.set_yticks(range(0, crop, 5))
            ax.set_ylabel("row")
        share = checkerboard.energy_share_spectrum(imgs)
        half = imgs.shape[-1] // 2
        spectrum = ax_spec.imshow(np.log10(np.maximum(share, 1e-6)), cmap="magma", vmin=-6, vmax=-1,
                                  extent=(-half - 0.5, half + 0.5, half + 0.5, -half - 0.5))
        ticks = [-half, -half // 2, 0, half // 2, half]
        ax_spec.set_xticks(ticks)
        ax_spec.set_yticks(ticks)
        ax_spec.set_ylabel("vertical freq.")
        ax_spec.set_title(f"energy by frequency\n(mean of {len(imgs)} outputs)", fontsize=9.5)
    for ax in axes[-1, :2]:
        ax.set_xlabel("column")
    axes[-1, 2].set_xlabel(f"horizontal frequency\n(cycles per {imgs.shape[-1]} px; ±{half} = Nyquist)")
    fig.colorbar(shown, ax=axes[:, :2], location="bottom", label="pixel / image std", shrink=0.7, aspect=30)
    fig.colorbar(spectrum, ax=axes[:, 2], location="bottom", label="log10 share of energy", aspect=15)
    fig.suptitle(f"Each kind's median initialisation (top-left {crop}x{crop} pixels) and its spectrum", fontsize=12)
    return fig


def _annotate(ax, values, limit, fmt, fontsize):
    # white text on the dark ends of the colour map, black on the pale middle
    for (a, b), v in np.ndenumerate(values):
        ax.text(b, a, fmt(a, b, v), ha="center", va="center", fontsize=fontsize,
                color="white" if abs(v) > 0.55 * limit else "black")


def plot_subkernels(response: dict, out_channel: int = 0):
    """Three panels from :func:`constant_input_response`: kernel, sub-kernel sums, output."""
    kernel = response["kernel"][..., 0, out_channel]
    sums, painted = response["sums"][..., out_channel], response["painted"][..., out_channel]
    fig, (ax_k, ax_s, ax_o) = plt.subplots(1, 3, figsize=(11.5, 3.5), constrained_layout=True)
    for ax, values, title in [
            (ax_k, kernel, (f"{kernel.shape[0]}x{kernel.shape[1]} kernel, input 0 -> output {out_channel} only\n"
                            "(one of the inputs the sums add up);\ntaps labelled by sub-kernel (a mod 2, b mod 2)")),
            (ax_s, sums, f"the four sub-kernel sums\n(output channel {out_channel}, all inputs)")]:
        limit = float(np.abs(values).max()) or 1.0
        shown = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(title, fontsize=10)
        if ax is ax_k:  # its labels name the sub-kernels, so the colour bar gives the values
            fig.colorbar(shown, ax=ax_k, label="tap value", shrink=0.85)
        ax.set_xticks(range(values.shape[1]))
        ax.set_yticks(range(values.shape[0]))
    _annotate(ax_k, kernel, float(np.abs(kernel).max()), lambda a, b, v: f"({a % 2},{b % 2})", 9)
    _annotate(ax_s, sums, float(np.abs(sums).max()), lambda a, b, v: f"{v:.2f}", 11)
    limit = float(np.abs(painted).max()) or 1.0
    shown = ax_o.imshow(painted, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(shown, ax=ax_o, label="output value", shrink=0.85)
    ax_o.set_title(f"layer output for a constant input\n({painted.shape[0]}x{painted.shape[1]}, "
                   f"output channel {out_channel})")
    for ax in (ax_k, ax_s, ax_o):
        ax.set_xlabel("column")
        ax.set_ylabel("row")
    return fig


def plot_gradients(panels: dict, draws: dict):
    """Gradient images (one panel per ``title -> (h, w)`` in ``panels``) and, last, the
    parity classes' variances of each ``name -> images (n, h, w)`` in ``draws``
    (:func:`parity_class_variances`, one line per image). Returns the figure."""
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(3.6 * (len(panels) + 1), 3.7), constrained_layout=True)
    for ax, (title, g) in zip(axes, panels.items()):
        limit = float(np.abs(g).max()) or 1.0
        shown = ax.imshow(g, cmap="RdBu_r", vmin=-limit, vmax=limit)
        fig.colorbar(shown, ax=ax, label="gradient", shrink=0.8)
        ax.set_title(title)
        ax.set_xlabel("input column")
        ax.set_ylabel("input row")
    ax = axes[-1]
    for (name, g), color in zip(draws.items(), ["tab:red", "0.5", "tab:blue"]):
        ratios = checkerboard.parity_class_variances(g)
        ax.plot(range(4), ratios.T, "o-", color=color, alpha=0.35, linewidth=0.8)
        ax.plot([], [], "o-", color=color, label=name)
    ax.set_xticks(range(4), ["(even,\neven)", "(even,\nodd)", "(odd,\neven)", "(odd,\nodd)"], fontsize=9)
    ax.set_xlabel("parity class (row, column)")
    ax.set_ylabel("class variance / mean over classes")
    ax.set_title(f"parity classes' variances ({len(ratios)} draws)")
    ax.legend(loc="upper right", fontsize=9)
    return fig


KERNEL_CONTROL, STRIDE_CONTROL = Control("kernel", 1, 8), Control("stride", 1, 4)
"""The overlap explorer's sliders; the figure is laid out for the largest kernel."""

EXPLORER_INPUTS = 4
"""Input size (rows = columns) of the explorer's transposed convolutions."""


def overlap_explorer_figure():
    """Figure for the overlap explorer: the 2-D overlap counts and a random generator's output.

    Made to be redrawn fast, panel by panel: the images carry no ticks (their titles
    give their sizes), the colour bar keeps one scale (0 to 1 = 0 to the largest
    count) and only its tick labels change, and the layout is solved once, for the
    largest counts (the widest labels), then kept.
    """
    fig, (ax_counts, ax_image) = plt.subplots(1, 2, figsize=(8, 3.7), constrained_layout=True)
    counts = ax_counts.imshow(np.zeros((2, 2)), cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    colorbar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap=counts.get_cmap()), ax=ax_counts,
                            label="windows covering the pixel", shrink=0.8)
    image = ax_image.imshow(np.zeros((2, 2)), cmap="gray", interpolation="nearest")
    for ax in (ax_counts, ax_image):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("output column")
        ax.set_ylabel("output row")
    plt.close(fig)  # shown by the explorer, not by the inline backend
    artists = {"counts": counts, "image": image, "ax_counts": ax_counts, "ax_image": ax_image,
               "colorbar": colorbar, "ax_colorbar": colorbar.ax}
    update_overlap_explorer(artists, KERNEL_CONTROL.hi, 1)  # the largest counts
    fig.draw_without_rendering()  # solve the layout ...
    fig.set_layout_engine("none")  # ... and keep it for every other size
    return fig, artists


def _paint_2d(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """:func:`course_utils.core.deconv.conv_transpose_2d` in NumPy, tap by tap.

    The same sum, without compiling: JAX compiles once per image shape, about a
    quarter of a second for every new kernel and stride the sliders reach.
    """
    (height, width), (kh, kw) = x.shape[:2], w.shape[:2]
    out = np.zeros((stride * (height - 1) + kh, stride * (width - 1) + kw, w.shape[3]), np.float64)
    for a in range(kh):
        for b in range(kw):  # tap (a, b) of input pixel (i, j) lands on (stride*i + a, stride*j + b)
            out[a:a + stride * (height - 1) + 1:stride, b:b + stride * (width - 1) + 1:stride] += x @ w[a, b]
    return out


def random_transposed_generator(kernel: int, stride: int, *, seed: int = 0, channels=(8, 8, 1)) -> np.ndarray:
    """Output of an untrained stack of transposed convolutions (kernel, stride), ReLU between.

    No padding: every stage paints its full output (as :func:`course_utils.core.deconv.conv_transpose_2d`,
    computed in NumPy). The weights are normal with variance ``stride**2 / (kernel**2 * in_channels)``,
    the code is ``(4, 4, channels[0])`` standard normal; both drawn from ``seed``.
    Returns the grey image ``(height, width)``.
    """
    kernel, stride = checks.positive_int("kernel", kernel), checks.positive_int("stride", stride)
    rng = np.random.default_rng(checks.non_negative_int("seed", seed))
    x = rng.normal(size=(EXPLORER_INPUTS, EXPLORER_INPUTS, channels[0])).astype(np.float32)
    for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
        # each output pixel gets about (kernel/stride)**2 * c_in terms: keep its variance near 1
        w = rng.normal(scale=stride / (kernel * np.sqrt(c_in)), size=(kernel, kernel, c_in, c_out))
        x = _paint_2d(x, w.astype(np.float32), stride)
        if i < len(channels) - 2:
            x = np.maximum(x, 0.0)
    return x[..., 0]


def update_overlap_explorer(artists: dict, kernel: int, stride: int) -> dict:
    """Draw the overlap counts and a random generator's output; return the numbers shown.

    Returns ``{"counts": the count image, "image": the generator's output,
    "ratio": largest / smallest interior count (inf if some pixel is never painted; the
    title writes it ∞),
    "spread": parity_spread with period = stride of the output's interior}``.
    """
    counts = deconv.overlap_counts((EXPLORER_INPUTS, EXPLORER_INPUTS), kernel, stride)
    has_interior = 2 * (kernel - 1) < counts.shape[0]
    inner = deconv.interior_overlap_counts((EXPLORER_INPUTS, EXPLORER_INPUTS), kernel, stride) \
        if has_interior else counts  # a kernel this large leaves no interior: use every pixel
    ratio = float(inner.max() / inner.min()) if inner.min() > 0 else float("inf")
    ratio_text = "∞" if np.isinf(ratio) else f"{ratio:.2f}"
    image = random_transposed_generator(kernel, stride)
    # the interior of the output, trimmed to whole periods, for the pixel-class measure
    size = image.shape[0] - 2 * (kernel - 1)
    size -= size % stride
    spread = float(checkerboard.parity_spread(image[kernel - 1:kernel - 1 + size, kernel - 1:kernel - 1 + size], stride)) \
        if stride > 1 and size >= 2 * stride else float("nan")
    artists["counts"].set_data(counts)
    artists["counts"].set_extent((-0.5, counts.shape[1] - 0.5, counts.shape[0] - 0.5, -0.5))
    top = max(int(counts.max()), 1)
    artists["counts"].set_clim(0, top)
    ticks = [int(t) for t in MaxNLocator(integer=True).tick_values(0, top) if 0 <= t <= top]
    artists["colorbar"].set_ticks([t / top for t in ticks], labels=[str(t) for t in ticks])
    # Short titles: their letters are a good part of what each slider move redraws.
    artists["ax_counts"].set_title(f"overlap counts, {counts.shape[0]}x{counts.shape[1]} from {EXPLORER_INPUTS}x"
                                   f"{EXPLORER_INPUTS}\n" + (f"interior max / min: {ratio_text}" if has_interior
                                                             else f"max / min: {ratio_text} (no interior)"),
                                   fontsize=10)
    limit = float(np.abs(image).max()) or 1.0
    artists["image"].set_data(image)
    artists["image"].set_extent((-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
    artists["image"].set_clim(-limit, limit)
    artists["ax_image"].set_title(f"random generator, {image.shape[0]}x{image.shape[1]}\n"
                                  f"interior parity spread: {spread:.3f}", fontsize=10)
    return {"counts": counts, "image": image, "ratio": ratio, "spread": spread}


def _overlap_scene():
    fig, artists = overlap_explorer_figure()
    # The colour bar's colours stay; its tick labels follow the largest count.
    moving = [artists["counts"], artists["image"], artists["ax_counts"].title, artists["ax_image"].title,
              artists["ax_colorbar"].yaxis]
    return fig, moving, lambda kernel, stride: update_overlap_explorer(artists, kernel, stride), {}


OVERLAP_EXPLORER = Explorer("overlap", "09_checkerboard.ipynb", __name__, "overlap_explorer", _overlap_scene,
                            (KERNEL_CONTROL, STRIDE_CONTROL), {"kernel": 3, "stride": 2})


def overlap_explorer(kernel: int = OVERLAP_EXPLORER.defaults["kernel"],
                     stride: int = OVERLAP_EXPLORER.defaults["stride"]) -> ipywidgets.Widget:
    """Sliders for kernel size and stride -> overlap counts and a random generator's output.

    Built from ``OVERLAP_EXPLORER``: each move redraws only the two panels and the colour bar.
    """
    return OVERLAP_EXPLORER.widget(kernel=kernel, stride=stride)
# --- exercises -------------------------------------------------------------------

def check_overlap_image(answer, n_inputs=(3, 3), kernel=5, stride=2):
    """Exercise: the 2-D overlap count image (how many windows cover each output pixel)."""
    return verdict(answer, deconv.overlap_counts(n_inputs, kernel, stride),
                   what="an image of integers (hint: the outer product of the two axes' 1-D counts)", atol=0)


@solves
def solve_overlap_image(n_inputs=(3, 3), kernel=5, stride=2):
    rows = np.zeros(stride * (n_inputs[0] - 1) + kernel, int)
    cols = np.zeros(stride * (n_inputs[1] - 1) + kernel, int)
    for i in range(n_inputs[0]):
        rows[stride * i:stride * i + kernel] += 1
    for j in range(n_inputs[1]):
        cols[stride * j:stride * j + kernel] += 1
    return np.outer(rows, cols)  # a pixel is covered by (windows over its row) x (windows over its column)


def check_interior_ratio(answer, kernel=5, stride=3):
    """Exercise: largest / smallest interior overlap count of a 2-D transposed convolution."""
    inner = deconv.interior_overlap_counts((6, 6), kernel, stride)
    return verdict(answer, inner.max() / inner.min(), what="one number (the 1-D ratio, squared)")


@solves
def solve_interior_ratio(kernel=5, stride=3):
    counts = np.zeros(stride * 9 + kernel, int)  # 10 windows in 1-D, plenty for an interior
    for i in range(10):
        counts[stride * i:stride * i + kernel] += 1
    interior = counts[kernel - 1:-(kernel - 1)]
    return (interior.max() / interior.min()) ** 2  # the 2-D counts are products of the 1-D ones


def check_subkernel_sums(answer, kernel):
    """Exercise: the sums of the four parity sub-kernels kernel[a::2, b::2] of a 2-D kernel."""

    return verdict(answer, checkerboard.subkernel_sums(np.asarray(kernel, np.float64), 2),
                   what="a 2x2 array: entry [a, b] is kernel[a::2, b::2].sum()")


@solves
def solve_subkernel_sums(kernel):
    kernel = np.asarray(kernel)
    return np.array([[kernel[a::2, b::2].sum() for b in range(2)] for a in range(2)])


def check_depth_to_space(answer_function):
    """Exercise: write ``depth_to_space(x)`` for 2x2 blocks, checked on random inputs.

    ``x`` is (n, h, w, 4*c); the answer is (n, 2h, 2w, c) with pixel (2i + dy, 2j + dx)
    taken from channel group ``dy*2 + dx`` of pixel (i, j): channels
    ``(dy*2 + dx)*c .. (dy*2 + dx)*c + c - 1``.
    """
    rng = np.random.default_rng(9)
    inputs = [rng.standard_normal(shape).astype(np.float32) for shape in [(1, 1, 1, 4), (2, 3, 5, 8), (1, 4, 2, 12)]]
    return verdict_on_function(answer_function, upsampling.depth_to_space, inputs, what="depth_to_space(x)",
                               hint=lambda got, expected: "Check which channels form group dy*2+dx: c consecutive "
                                                          "channels, group 0 first.", rtol=0)


@solves
def solve_depth_to_space():
    def depth_to_space(x):
        n, h, w, depth = x.shape
        blocks = x.reshape(n, h, w, 2, 2, depth // 4)  # (pixel i, pixel j, dy, dx, channel)
        return blocks.transpose(0, 1, 3, 2, 4, 5).reshape(n, 2 * h, 2 * w, depth // 4)  # rows 2i+dy, cols 2j+dx

    return depth_to_space
