"""The attribution explorer of notebook 11: pick an image and a method, see the map and the shape's outline.

Used by notebook 11 (seeing inside a CNN).

Like every explorer of the course (see :mod:`course_utils.widgets`) it has three
parts: :func:`attribution_explorer_figure` builds the figure, :func:`update_attribution_explorer`
is a plain function that redraws it for one image and method (tests call it
without a browser), and :func:`attribution_explorer` wires a slider and a menu to it
through ``widgets.interactive_figure``. The maps are computed once beforehand
(``sanity.attribution_maps``), so moving the slider only redraws.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection

from . import attribution, sanity, shapes, widgets

IMAGES = widgets.ATTRIBUTION_IMAGES
"""How many images the explorer's slider runs over (the first ones passed)."""
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
    blank = np.zeros((shapes.SIZE, shapes.SIZE))
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
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (shapes.SIZE, shapes.SIZE, 1):
        raise ValueError(f"images must have shape (n, {shapes.SIZE}, {shapes.SIZE}, 1), got {images.shape}")
    n = images.shape[0]
    labels, masks = np.asarray(labels), np.asarray(masks)
    if labels.shape != (n,) or masks.shape != images.shape[:3] or masks.dtype != bool:
        raise ValueError(f"labels and masks must have shapes ({n},) and {images.shape[:3]} (bool), "
                         f"got {labels.shape} and {masks.shape} ({masks.dtype})")
    if not isinstance(maps, dict) or not maps:
        raise TypeError("maps must map a method's name to its maps (n, 32, 32)")
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
    """``(figure, moving artists, update(image, method), menu options)`` for ``widgets.interactive_figure``."""
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


ATTRIBUTION = widgets.ATTRIBUTION  # the registry entry (widgets.EXPLORERS)


def attribution_explorer(images, labels, masks, maps: dict, image: int = ATTRIBUTION.defaults["image"],
                         method: str = ATTRIBUTION.defaults["method"]):
    """A slider over the first :data:`IMAGES` images and a menu of methods -> the map with the shape's outline.

    ``maps`` is method name -> maps (n, 32, 32) of those images, e.g. from
    ``sanity.attribution_maps``. Only the images, maps, outlines and titles redraw.
    """
    return ATTRIBUTION.widget(images, labels, masks, maps, image=image, method=method)
