"""Notebook 13's figures, explorer and exercise: textures and style from a network's statistics.

The reusable parts (the random multi-scale network, convolution by FFT, Gram
matrices, the two optimisations, the baselines and the measures) are in
:mod:`course_utils.part2.textures`; this module holds what only notebook 13 shows.
The style explorer follows the contract of :mod:`course_utils.display.explorer`:
a style weight takes seconds to optimise, so the explorer looks up the nearest
weight the notebook's sweep computed instead of optimising per move.
"""

from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np

from ..core import checks
from ..core.exercise import solution, solves, verdict_on_function  # noqa: F401  (notebooks call textures_lesson.solution)
from ..display.explorer import Control, Explorer
from . import textures


def image_row(images: dict, *, title: str = "", width: float = 2.1):
    """One panel per named RGB image in [0, 1], left to right; returns the figure."""
    checks.mapping("images", images, what="titles to RGB images (h, w, 3)")
    fig, axes = plt.subplots(1, len(images), figsize=(width * len(images), width + 0.5), constrained_layout=True,
                             squeeze=False)
    for ax, (name, image) in zip(axes[0], images.items()):
        ax.imshow(np.clip(checks.array(f"images[{name!r}]", image, ndim=3, shape_hint="(h, w, 3)"), 0, 1),
                  interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def measures_table(targets: dict, candidates: dict) -> dict:
    """Every measure of every candidate against its target: ``{texture: {candidate: {measure: value}}}``.

    ``targets`` is texture name -> target image; ``candidates`` is texture name ->
    (candidate name -> image). The measures use no network (see :mod:`textures`).
    """
    checks.mapping("targets", targets, what="texture names to target images")
    checks.mapping("candidates", candidates, what="texture names to {candidate name: image}")
    table = {}
    for name, target in targets.items():
        table[name] = {label: {"spectrum": textures.spectrum_distance(target, image),
                               "colour": textures.colour_distance(target, image),
                               "edges": textures.edge_strength_distance(target, image)}
                       for label, image in candidates[name].items()}
    return table


def format_measures(table: dict) -> str:
    """The table of :func:`measures_table` as text: one row per texture and candidate.

    Within each texture, the best (smallest) value of each measure is marked with a ``*``.
    """
    checks.mapping("table", table, what="texture names to measures")
    measures = (("spectrum", 9), ("colour", 7), ("edges", 6))
    lines = ["".join([f"{'texture':10s} {'candidate':18s}", *(f" {m:>{w}s} " for m, w in measures)]).rstrip()]
    for name, rows in table.items():
        best = {m: min(r[m] for r in rows.values()) for m, _ in measures}
        for label, row in rows.items():
            cells = (f" {row[m]:{w}.3f}{'*' if row[m] == best[m] else ' '}" for m, w in measures)
            lines.append("".join([f"{name:10s} {label:18s}", *cells]).rstrip())
    lines.append("(* the best, i.e. smallest, value of each measure for that texture)")
    return "\n".join(lines)


# --- "Try it": the style weight -> the picture, from the notebook's sweep ----------------

WEIGHT_CONTROL = Control("log10_weight", -2.0, 1.5, 0.25, label="log₁₀ style weight")
"""The explorer's slider: the style weight on a log scale (the sweep's weights are looked up).
Its lowest position stands for weight 0, the content alone."""
ZERO_AS = 1e-2
"""Weight 0 sits at the slider's lowest position, 10**-2, when looking up the nearest computed weight."""


def style_explorer_figure(content, style):
    """Figure: the content, the result for one style weight, the style; returns it and the moving artists."""
    content = checks.array("content", content, ndim=3, shape_hint="(h, w, 3)")
    style = checks.array("style", style, ndim=3, shape_hint="(h, w, 3)")
    fig, (ax_content, ax_result, ax_style) = plt.subplots(1, 3, figsize=(8.4, 3.2), constrained_layout=True)
    for ax, image, title in ((ax_content, content, "content"), (ax_result, content, " "), (ax_style, style, "style")):
        shown = ax.imshow(np.clip(image, 0, 1), interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if ax is ax_result:
            result = shown
    plt.close(fig)  # shown by the explorer, not by the inline backend
    return fig, {"result": result, "title": ax_result.title}


def nearest_weight(weights, log10_weight: float) -> int:
    """Index of the computed weight nearest to ``10**log10_weight`` on a log scale (weight 0 counts as ``ZERO_AS``)."""
    weights = np.asarray(checks.array("weights", weights, ndim=1, shape_hint="(n,)"), np.float64)
    if weights.min() < 0:
        raise ValueError(f"weights must be >= 0, got {weights.min()}")
    return int(np.argmin(np.abs(np.log10(np.maximum(weights, ZERO_AS)) - checks.number("log10_weight", log10_weight))))


def update_style_explorer(artists: dict, content, style, weights, results, log10_weight: float) -> int:
    """Show the sweep's result nearest to the slider's weight, with its measures; return its index."""
    k = nearest_weight(weights, log10_weight)
    image = results[k]
    artists["result"].set_data(np.clip(image, 0, 1))
    asked = "0" if log10_weight <= np.log10(ZERO_AS) else f"{10**log10_weight:.2g}"
    artists["title"].set_text(f"asked {asked}: nearest computed weight {weights[k]:g}\n"
                              f"edges kept {textures.edge_correlation(content, image):.2f}, "
                              f"colour distance to style {textures.colour_distance(style, image):.2f}")
    return k


def _style_scene(content, style, weights, results):
    weights = np.asarray(checks.array("weights", weights, ndim=1, shape_hint="(n,)"), np.float64)
    results = np.asarray(checks.array("results", results, ndim=4, shape_hint="(n, h, w, 3)"))
    if len(results) != len(weights):
        raise ValueError(f"results must hold one image per weight ({len(weights)}), got {len(results)}")
    fig, artists = style_explorer_figure(content, style)
    moving = [artists["result"], artists["title"]]
    return fig, moving, lambda log10_weight: update_style_explorer(artists, content, style, weights, results,
                                                                   log10_weight), {}


def example_inputs() -> tuple:
    """Stand-ins for tests and benchmarks: a content, a style and made-up results for five weights."""
    rng = np.random.default_rng(0)
    content, style = rng.uniform(size=(2, 32, 32, 3)).astype(np.float32)
    weights = np.array([0.0, 0.1, 1.0, 10.0, 100.0])
    results = np.stack([(1 - t) * content + t * style for t in np.linspace(0, 1, len(weights))])
    return content, style, weights, results


STYLE_EXPLORER = Explorer("style", "13_textures_and_style.ipynb", __name__, "style_explorer", _style_scene,
                          (WEIGHT_CONTROL,), {"log10_weight": 0.0}, ("content", "style", "weights", "results"),
                          examples=example_inputs)


def style_explorer(content, style, weights, results, log10_weight: float = STYLE_EXPLORER.defaults["log10_weight"]
                   ) -> ipywidgets.Widget:
    """A slider on the style weight (log scale) -> the sweep's nearest result between content and style."""
    return STYLE_EXPLORER.widget(content, style, weights, results, log10_weight=log10_weight)


# --- exercise -------------------------------------------------------------------------

def check_gram(answer_function):
    """Exercise: write ``gram(features)`` for feature maps (h, w, channels), checked on random inputs.

    The Gram matrix asked for is ``G[i, j]`` = the mean over positions of
    ``F[:, :, i] * F[:, :, j]`` (divided by the number of positions h*w).
    """
    rng = np.random.default_rng(13)
    inputs = [np.maximum(rng.standard_normal(shape), 0).astype(np.float32) for shape in [(4, 5, 3), (8, 8, 6), (1, 7, 2)]]

    def hint(got, expected):
        ratio = np.median(got[expected != 0] / expected[expected != 0]) if np.any(expected) else np.nan
        if np.isfinite(ratio) and np.allclose(got, ratio * expected, rtol=1e-3):
            return f"It is {ratio:g} times the expected one: divide by the number of positions h*w once."
        return ""

    return verdict_on_function(answer_function, textures.gram, inputs, what="gram(features)", hint=hint)


@solves
def solve_gram():
    def gram(features):
        flat = features.reshape(-1, features.shape[-1])  # one row per position, one column per channel
        return flat.T @ flat / flat.shape[0]  # channel-by-channel products, averaged over positions

    return gram
