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
from ..core.exercise import solution, solves, verdict, verdict_on_function  # noqa: F401  (notebooks call attribution_lesson.solution)
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


def _passed_back(relu, g, x) -> np.ndarray:
    """What ``relu``'s backward pass sends down, given the signal ``g`` from above and the forward input ``x``."""
    import jax

    _, backward = jax.vjp(relu, np.asarray(x, np.float32))
    return np.asarray(backward(np.asarray(g, np.float32))[0])


def check_relu_rules(answer):
    """Exercise: what the gradient, the deconvnet and guided backprop pass back through a ReLU at RELU_X, RELU_G."""
    import jax

    expected = [_passed_back(relu, RELU_G, RELU_X)
                for relu in (jax.nn.relu, attribution.deconvnet_relu, attribution.guided_relu)]
    return verdict(answer, expected, what="three 5-vectors: (gradient, deconvnet, guided backprop)")


@solves
def solve_relu_rules():
    x, g = RELU_X, RELU_G
    gradient = np.where(x > 0, g, 0.0)  # the chain rule: the ReLU's slope is 1 where its input was positive
    deconvnet = np.maximum(g, 0.0)  # Zeiler & Fergus: rectify the signal, forget the forward pass
    guided = np.where((x > 0) & (g > 0), g, 0.0)  # Springenberg et al.: both tests
    return gradient, deconvnet, guided


def _relu_rule_inputs() -> list[tuple[np.ndarray, np.ndarray]]:
    """Random ``(g, x)`` pairs of three shapes (a vector, a matrix, a batch of feature maps), a few zeros among them."""
    rng = np.random.default_rng(11)
    pairs = []
    for shape in ((7,), (4, 5), (2, 6, 6, 8)):
        g, x = rng.normal(size=shape), rng.normal(size=shape)
        g.flat[0], x.flat[1] = 0.0, 0.0  # a zero signal and a zero input: the rules must not divide or fail there
        pairs.append((g, x))
    return pairs


def check_deconvnet_backward(answer_function):
    """Exercise: a function ``(g, x) -> what the deconvnet's ReLU passes down``, checked on random inputs.

    ``g`` is the signal arriving from above, ``x`` the ReLU's forward input (same
    shape). Compared with the backward pass of ``attribution.deconvnet_relu``; when
    it differs, the hint names the rule the function computed instead, if it is one
    of the other two (or the forward pass).
    """
    import jax

    last = {}

    def reference(g, x):
        last["g"], last["x"] = g, x  # for the hint: the inputs the answer is being compared on
        return _passed_back(attribution.deconvnet_relu, g, x)

    def hint(got, expected):
        g, x = last["g"], last["x"]
        known = (
            (_passed_back(attribution.guided_relu, g, x),
             "You gated on the forward input's sign too: that is guided backpropagation. The deconvnet never looks at x."),
            (_passed_back(jax.nn.relu, g, x),
             "You passed g where x > 0: that is the ordinary gradient. The deconvnet looks at the sign of g, not of x."),
            (g, "You passed g through unchanged: the deconvnet rectifies the signal on its way down."),
            (np.maximum(x, 0), "You returned the forward output max(x, 0): the backward rule acts on g."),
        )
        for value, sentence in known:
            if got.shape == value.shape and np.allclose(got, value, rtol=1e-4, atol=1e-6):
                return sentence
        return "Only the sign of g decides what passes: compare with the deconvnet column of exercise 1."

    return verdict_on_function(answer_function, reference, _relu_rule_inputs(), hint=hint,
                               what="deconvnet_backward(g, x) -> what the deconvnet's ReLU passes down (shaped like g)")


@solves
def solve_deconvnet_backward():
    def deconvnet_backward(g, x):
        return np.maximum(g, 0.0)  # rectify the signal coming down; the forward input x plays no part

    return deconvnet_backward


CHANCE_SHARE_DIGITS = 3
"""Decimal places the chance-share exercise asks for (an exact fraction passes too)."""
SPEARMAN_DIGITS = 2
"""Decimal places the Spearman-by-hand exercise asks for."""


def _square_mask() -> np.ndarray:
    mask = np.zeros((1, shapes.IMAGE_SIZE, shapes.IMAGE_SIZE), dtype=bool)
    mask[0, 10:16, 20:26] = True
    return mask


def check_chance_share(answer):
    """Exercise: the on-object share of a flat map for a 6x6 square in a 32x32 shape image.

    The mask is grown by one pixel with a 3x3 square (every pixel next to the shape,
    diagonals included), as ``attribution.dilate_masks`` does. Accepted to
    :data:`CHANCE_SHARE_DIGITS` decimal places. An answer that grew the mask with a
    cross instead (4 neighbours, SciPy's default ``binary_dilation``) is told so.
    """
    mask = _square_mask()
    expected = attribution.on_object_share(np.ones(mask.shape), mask)[0]
    half_unit = 0.5 * 10.0**-CHANCE_SHARE_DIGITS + 1e-12  # rounding to the digits asked moves a number by at most this
    result = verdict(answer, expected, atol=half_unit, rtol=0.0,
                     what=f"one number in [0, 1], to {CHANCE_SHARE_DIGITS} decimal places")
    if result is False:
        from scipy import ndimage  # imported here, as sanity imports scipy.stats: only when needed

        cross = ndimage.binary_dilation(mask[0])  # SciPy's default: grown up, down, left and right only
        try:
            near_cross = abs(float(answer) - cross.mean()) <= half_unit
        except (TypeError, ValueError):
            near_cross = False
        if near_cross:
            print("That grows the square with a cross (4 neighbours per pixel, SciPy's default binary_dilation); "
                  "this exercise grows it with a 3x3 square, diagonal neighbours included.")
    return result


@solves
def solve_chance_share():
    # dilating by one pixel grows the 6x6 square to 8x8; a flat map puts the same mass on every pixel
    return (6 + 2) ** 2 / shapes.IMAGE_SIZE**2


def check_joint_zero_share(answer):
    """Exercise: Spearman's rho of |a| = (0, 0, 0, 0, 1, 2) and |b| = (0, 0, 0, 0, 2, 1), and its share from joint zeros.

    The share is a fraction in [0, 1]. Accepted to :data:`SPEARMAN_DIGITS` decimal
    places. An answer that gives the share in percent instead is told so.
    """
    a = np.array([[[0, 0, 0, 0, 1, 2]]], dtype=float)
    b = np.array([[[0, 0, 0, 0, 2, 1]]], dtype=float)
    rho = sanity.stage_correlations({"m": a}, {"s": {"m": b}})["m"][0, 0]
    share = sanity.joint_zero_share(a, b)[0]
    half_unit = 0.5 * 10.0**-SPEARMAN_DIGITS + 1e-12
    result = verdict(answer, [rho, share], atol=half_unit, rtol=0.0,
                     what=f"a pair: (rho, share from joint zeros as a fraction in [0, 1]), each to {SPEARMAN_DIGITS} "
                          "decimal places")
    if result is False:
        try:
            got = np.asarray(answer, dtype=np.float64)
            in_percent = got.shape == (2,) and abs(got[1] / 100 - share) <= half_unit
        except (TypeError, ValueError):
            in_percent = False
        if in_percent:
            print(f"The share looks like a percentage: give it as a fraction in [0, 1] (e.g. {got[1] / 100:.2f}).")
    return result


@solves
def solve_joint_zero_share():
    # the four tied zeros share ranks 1-4: each gets 2.5; the mean rank of 6 values is 3.5
    ranks_a = np.array([2.5, 2.5, 2.5, 2.5, 5, 6]) - 3.5
    ranks_b = np.array([2.5, 2.5, 2.5, 2.5, 6, 5]) - 3.5
    terms = ranks_a * ranks_b
    rho = terms.sum() / np.sqrt((ranks_a**2).sum() * (ranks_b**2).sum())
    return rho, terms[:4].sum() / terms.sum()
