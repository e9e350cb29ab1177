"""Notebook 11's explorer and exercises: pick an image and a method, see the map and the shape's outline.

The reusable parts are :mod:`course_utils.part2.attribution` (the methods and their
scores) and :mod:`course_utils.part2.sanity` (the sanity checks). The explorer
follows the contract of :mod:`course_utils.display.explorer`:
:func:`attribution_explorer_figure` builds the figure, :func:`update_attribution_explorer`
is a plain function that redraws it for one image and method (tests call it
without a browser), and :func:`attribution_explorer` wires a slider and a menu to
it. The maps are computed once beforehand (``sanity.attribution_maps``), so moving
the slider only redraws.
"""

from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection


from ..core import checks
from ..core.exercise import solution, solves, verdict  # noqa: F401  (notebooks call attribution_lesson.solution)
from ..display.explorer import Control, Explorer
from . import attribution, sanity, shapes

IMAGES = 50
"""How many images the explorer's slider runs over (notebook 11 passes its first 50)."""
OUTLINE_COLOR = "tab:green"


def mask_outline(mask) -> np.ndarray:
    """The boundary of a boolean mask (height, width) as line segments (k, 2, 2) of (x, y) points.

    Pixel (row r, col c) covers x in [c - 0.5, c + 0.5] and y in [r - 0.5, r + 0.5], as
    ``imshow`` draws it; a segment is drawn wherever a mask pixel meets a non-mask
    pixel or the image's border.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"mask must be boolean with shape (height, width), got {mask.dtype} {mask.shape}")
    padded = np.pad(mask, 1)
    inside = padded[1:-1, 1:-1]
    segments = []
    # (neighbour offset, the pixel's edge on that side as two corner offsets)
    sides = (((-1, 0), ((-0.5, -0.5), (0.5, -0.5))), ((1, 0), ((-0.5, 0.5), (0.5, 0.5))),
             ((0, -1), ((-0.5, -0.5), (-0.5, 0.5))), ((0, 1), ((0.5, -0.5), (0.5, 0.5))))
    for (dr, dc), ((x0, y0), (x1, y1)) in sides:
        neighbour = padded[1 + dr:padded.shape[0] - 1 + dr, 1 + dc:padded.shape[1] - 1 + dc]
        rows, cols = np.nonzero(inside & ~neighbour)
        segments.append(np.stack([np.stack([cols + x0, rows + y0], -1), np.stack([cols + x1, rows + y1], -1)], 1))
    return np.concatenate(segments).astype(np.float64).reshape(-1, 2, 2)


def attribution_explorer_figure():
    """Figure: the image (left) and the chosen map (right), each with the shape's outline."""
    fig, (ax_image, ax_map) = plt.subplots(1, 2, figsize=(8, 4), constrained_layout=True)
    blank = np.zeros((shapes.IMAGE_SIZE, shapes.IMAGE_SIZE))
    image = ax_image.imshow(blank, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    heat = ax_map.imshow(blank, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    fig.colorbar(heat, ax=ax_map, shrink=0.8, label="attribution / max |attribution|")
    outlines = []
    for ax in (ax_image, ax_map):
        outline = LineCollection([], colors=OUTLINE_COLOR, linewidths=1.2)
        ax.add_collection(outline)
        outlines.append(outline)
        ax.set_xlabel("column (pixel)")
        ax.set_ylabel("row (pixel)")
        ax.set_title(" ")
    plt.close(fig)  # shown by the explorer, not by the inline backend
    return fig, {"image": image, "map": heat, "outlines": outlines, "image_title": ax_image.title,
                 "map_title": ax_map.title}


def _checked_inputs(images, labels, masks, maps):
    images = np.asarray(checks.array("images", images, ndim=4, shape_hint="(n, 32, 32, 1)", dtype=None))
    if images.shape[1:] != (shapes.IMAGE_SIZE, shapes.IMAGE_SIZE, 1):
        raise ValueError(f"images must have shape (n, {shapes.IMAGE_SIZE}, {shapes.IMAGE_SIZE}, 1), got {images.shape}")
    n = images.shape[0]
    labels, masks = np.asarray(labels), np.asarray(masks)
    if labels.shape != (n,) or masks.shape != images.shape[:3] or masks.dtype != bool:
        raise ValueError(f"labels and masks must have shapes ({n},) and {images.shape[:3]} (bool), "
                         f"got {labels.shape} and {masks.shape} ({masks.dtype})")
    checks.indices("labels", labels, size=shapes.N_CLASSES, what="class")
    checks.mapping("maps", maps, what="method names to maps (n, 32, 32)")
    for name, value in maps.items():
        if np.shape(value) != images.shape[:3]:
            raise ValueError(f"maps[{name!r}] must have shape {images.shape[:3]}, got {np.shape(value)}")
    return images, labels, masks


def update_attribution_explorer(artists: dict, images, labels, masks, maps: dict, image: int, method: str) -> float:
    """Show image ``image`` and its ``method`` map with the shape's outline; return the map's on-object share."""
    images, labels, masks = _checked_inputs(images, labels, masks, maps)
    if method not in maps:
        raise ValueError(f"method must be one of {sorted(maps)}, got {method!r}")
    if not 0 <= image < images.shape[0]:
        raise ValueError(f"image must lie in 0..{images.shape[0] - 1}, got {image}")
    heat = np.asarray(maps[method][image], np.float64)
    scale = np.abs(heat).max()
    artists["image"].set_data(images[image, :, :, 0])
    artists["map"].set_data(heat / scale if scale > 0 else heat)
    outline = mask_outline(masks[image])
    for collection in artists["outlines"]:
        collection.set_segments(outline)
    share = float(attribution.on_object_share(heat[None], masks[image][None])[0])
    chance = float(attribution.dilate_masks(masks[image][None], 1).mean())
    artists["image_title"].set_text(f"image {image}: a {shapes.CLASS_NAMES[labels[image]]}")
    artists["map_title"].set_text(f"{method}: {share:.0%} on the shape (chance {chance:.0%})")
    return share


def attribution_scene(images, labels, masks, maps):
    """``(figure, moving artists, update(image, method), menu options)``: the explorer's scene."""
    images, labels, masks = _checked_inputs(images, labels, masks, maps)
    n = min(IMAGES, images.shape[0])
    images, labels, masks = images[:n], labels[:n], masks[:n]
    maps = {name: np.asarray(value)[:n] for name, value in maps.items()}
    fig, artists = attribution_explorer_figure()
    moving = [artists["image"], artists["map"], *artists["outlines"], artists["image_title"], artists["map_title"]]

    def update(image, method):
        return update_attribution_explorer(artists, images, labels, masks, maps, min(image, n - 1), method)

    return fig, moving, update, {"method": list(maps)}


def example_inputs() -> tuple:
    """Stand-in inputs for tests and benchmarks: 50 shapes and random maps for every method."""
    images, labels, masks = shapes.make_dataset(IMAGES, seed=0)
    rng = np.random.default_rng(0)
    return images, labels, masks, {name: rng.normal(size=masks.shape) for name in sanity.METHODS}


ATTRIBUTION_EXPLORER = Explorer(
    "attribution", "11_seeing_inside_a_cnn.ipynb", __name__, "attribution_explorer", attribution_scene,
    (Control("image", 0, IMAGES - 1), Control("method")), {"image": 0, "method": "guided backprop"},
    ("images", "labels", "masks", "maps"), examples=example_inputs)


def attribution_explorer(images, labels, masks, maps: dict, image: int = ATTRIBUTION_EXPLORER.defaults["image"],
                         method: str = ATTRIBUTION_EXPLORER.defaults["method"]) -> ipywidgets.Widget:
    """A slider over the first :data:`IMAGES` images and a menu of methods -> the map with the shape's outline.

    ``maps`` is method name -> maps (n, 32, 32) of those images, e.g. from
    ``sanity.attribution_maps``. Only the images, maps, outlines and titles redraw.
    """
    return ATTRIBUTION_EXPLORER.widget(images, labels, masks, maps, image=image, method=method)
# --- exercises -------------------------------------------------------------------

RELU_X = np.array([-1.0, 2.0, 0.5, -0.3, 1.5])
"""Notebook 11's exercise 1: the forward input of a ReLU, one value per unit ..."""
RELU_G = np.array([0.4, -0.7, 0.9, 0.6, 0.2])
"""... and the signal arriving at it from above in the backward pass."""


def check_relu_rules(answer):
    """Exercise: what the gradient, the deconvnet and guided backprop pass back through a ReLU at RELU_X, RELU_G."""
    import jax


    def passed(relu):
        _, backward = jax.vjp(relu, RELU_X)
        return np.asarray(backward(RELU_G)[0])

    expected = [passed(jax.nn.relu), passed(attribution.deconvnet_relu), passed(attribution.guided_relu)]
    return verdict(answer, expected, what="three 5-vectors: (gradient, deconvnet, guided backprop)")


@solves
def solve_relu_rules():
    x, g = RELU_X, RELU_G
    gradient = np.where(x > 0, g, 0.0)  # the chain rule: the ReLU's slope is 1 where its input was positive
    deconvnet = np.maximum(g, 0.0)  # Zeiler & Fergus: rectify the signal, forget the forward pass
    guided = np.where((x > 0) & (g > 0), g, 0.0)  # Springenberg et al.: both tests
    return gradient, deconvnet, guided


def check_chance_share(answer):
    """Exercise: the on-object share of a flat map for a 6x6 square in a 32x32 shape image (mask dilated by 1)."""

    mask = np.zeros((1, shapes.IMAGE_SIZE, shapes.IMAGE_SIZE), dtype=bool)
    mask[0, 10:16, 20:26] = True
    return verdict(answer, attribution.on_object_share(np.ones((1, shapes.IMAGE_SIZE, shapes.IMAGE_SIZE)), mask)[0], what="one number in [0, 1]")


@solves
def solve_chance_share():
    # dilating by one pixel grows the 6x6 square to 8x8; a flat map puts the same mass on every pixel
    return (6 + 2) ** 2 / shapes.IMAGE_SIZE**2


def check_joint_zero_share(answer):
    """Exercise: Spearman's rho of |a| = (0, 0, 0, 0, 1, 2) and |b| = (0, 0, 0, 0, 2, 1), and its share from joint zeros."""

    a = np.array([[[0, 0, 0, 0, 1, 2]]], dtype=float)
    b = np.array([[[0, 0, 0, 0, 2, 1]]], dtype=float)
    rho = sanity.stage_correlations({"m": a}, {"s": {"m": b}})["m"][0, 0]
    return verdict(answer, [rho, sanity.joint_zero_share(a, b)[0]], what="a pair: (rho, share from joint zeros)")


@solves
def solve_joint_zero_share():
    # the four tied zeros share ranks 1-4: each gets 2.5; the mean rank of 6 values is 3.5
    ranks_a = np.array([2.5, 2.5, 2.5, 2.5, 5, 6]) - 3.5
    ranks_b = np.array([2.5, 2.5, 2.5, 2.5, 6, 5]) - 3.5
    terms = ranks_a * ranks_b
    rho = terms.sum() / np.sqrt((ranks_a**2).sum() * (ranks_b**2).sum())
    return rho, terms[:4].sum() / terms.sum()
