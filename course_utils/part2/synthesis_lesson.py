"""Notebook 12's explorer and exercises: what a unit wants, slider by slider.

The reusable parts are :mod:`course_utils.part2.synthesis` (activation maximisation,
the regularisers, inversion), :mod:`course_utils.part2.judge_cnn` (the independent
classifier) and :mod:`course_utils.part2.cnn` (the shape classifier and its
receptive fields). The explorer follows the contract of
:mod:`course_utils.display.explorer`.
"""

from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

from ..core import checks
from ..core.exercise import solution, solves, verdict, verdict_on_function  # noqa: F401  (notebooks call synthesis_lesson.solution)
from ..display.explorer import Control, Explorer
from . import cnn, judge_cnn, shapes, synthesis


EXPLORER_TARGETS = tuple(f"class: {name}" for name in shapes.CLASS_NAMES) + tuple(
    f"act2 channel {c}" for c in range(cnn.CHANNELS[1]))
"""The explorer's menu: a class score, or a layer-2 channel's mean activation."""


EXPLORER_STEPS = 100
"""Ascent steps per explorer move (step size ``EXPLORER_STEP_SIZE``): notebook 12's settings."""


EXPLORER_STEP_SIZE = 0.04


def explorer_target(target: str) -> tuple[str, int]:
    """``(layer, unit)`` of a menu entry of ``EXPLORER_TARGETS``."""
    checks.one_of("target", target, set(EXPLORER_TARGETS))
    if target.startswith("class: "):
        return "logits", shapes.CLASS_NAMES.index(target.removeprefix("class: "))
    return "act2", int(target.rsplit(" ", 1)[1])


def synthesis_explorer_figure():
    """Figure for the explorer: the synthesised image (left), both classifiers' probabilities (right)."""
    fig, (ax_image, ax_prob) = plt.subplots(1, 2, figsize=(8, 3.4), width_ratios=(1, 1.5), constrained_layout=True)
    image = ax_image.imshow(np.zeros((shapes.IMAGE_SIZE, shapes.IMAGE_SIZE)), cmap="gray", vmin=0, vmax=1,
                            interpolation="nearest")
    ax_image.set_xticks([])
    ax_image.set_yticks([])
    title = ax_image.set_title(" ", fontsize=10)
    x = np.arange(shapes.N_CLASSES)
    own = ax_prob.bar(x - 0.2, np.zeros(shapes.N_CLASSES), 0.4, color="tab:blue", label="the model that made it")
    judge = ax_prob.bar(x + 0.2, np.zeros(shapes.N_CLASSES), 0.4, color="tab:orange", label="independent judge")
    ax_prob.set_ylim(0, 1.35)  # room above the bars for the legend
    ax_prob.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax_prob.set_xticks(x, shapes.CLASS_NAMES)
    ax_prob.set_xlabel("class")
    ax_prob.set_ylabel("probability")
    ax_prob.set_title("what the two classifiers see")
    ax_prob.legend(loc="upper center", ncol=2, fontsize=9)
    plt.close(fig)  # shown by the explorer, not by the inline backend
    return fig, {"image": image, "title": title, "own": list(own), "judge": list(judge)}


def update_synthesis_explorer(artists: dict, model, judge, target: str, decay: float, blur_sigma: float,
                              clip_percentile: float, jitter: int) -> np.ndarray:
    """Synthesise the image for ``target`` under these regulariser strengths, draw it; return it (32, 32, 1)."""
    layer, unit = explorer_target(target)
    regs = synthesis.Regularisers(decay=decay, blur_sigma=blur_sigma, norm_percentile=clip_percentile,
                        contribution_percentile=clip_percentile, jitter=int(jitter))
    image = synthesis.maximise(model, [unit], layer=layer, regularisers=regs, steps=EXPLORER_STEPS,
                     step_size=EXPLORER_STEP_SIZE)[0]
    own, other = judge_cnn.probabilities(model, image[None])[0], judge_cnn.probabilities(judge, image[None])[0]
    artists["image"].set_data(image[..., 0])
    for bars, p in ((artists["own"], own), (artists["judge"], other)):
        for bar, value in zip(bars, p):
            bar.set_height(float(value))
    hf = synthesis.high_frequency_share(image[None])[0]
    artists["title"].set_text(f"{target}\nmodel: {shapes.CLASS_NAMES[own.argmax()]}, "
                              f"judge: {shapes.CLASS_NAMES[other.argmax()]}; high-freq. {hf:.2f}")
    return image


def synthesis_scene(model, judge):
    """The explorer's figure, moving artists, update(**controls) and menu options: its scene."""
    cnn.check_shape_cnn(model)
    cnn.check_classifier(judge, "judge")
    fig, artists = synthesis_explorer_figure()
    moving = [artists["image"], artists["title"], artists["own"], artists["judge"]]

    def update(target, decay, blur_sigma, clip_percentile, jitter):
        update_synthesis_explorer(artists, model, judge, target, decay, blur_sigma, clip_percentile, jitter)

    return fig, moving, update, {"target": list(EXPLORER_TARGETS)}


def example_models() -> tuple:
    """Untrained stand-ins (a ShapeCNN and a JudgeCNN) for tests and benchmarks of the explorer."""
    return cnn.ShapeCNN(rngs=nnx.Rngs(0)), judge_cnn.JudgeCNN(rngs=nnx.Rngs(1))


SYNTHESIS_EXPLORER = Explorer(
    "synthesis", "12_what_units_want.ipynb", __name__, "synthesis_explorer", synthesis_scene,
    (Control("target"), Control("decay", 0.0, 0.1, 0.005), Control("blur_sigma", 0.0, 1.5, 0.1, label="blur σ"),
     Control("clip_percentile", 0.0, 60.0, 5.0, label="clip %"), Control("jitter", 0, 4)),
    {"target": "class: disc", "decay": 0.01, "blur_sigma": 0.5, "clip_percentile": 20.0, "jitter": 2},
    ("model", "judge"), examples=example_models)
DEFAULTS = SYNTHESIS_EXPLORER.defaults


def synthesis_explorer(model, judge, target: str = DEFAULTS["target"], decay: float = DEFAULTS["decay"],
                       blur_sigma: float = DEFAULTS["blur_sigma"], clip_percentile: float = DEFAULTS["clip_percentile"],
                       jitter: int = DEFAULTS["jitter"]) -> ipywidgets.Widget:
    """A menu (class or layer-2 channel) and regulariser sliders -> the synthesised image and both verdicts."""
    return SYNTHESIS_EXPLORER.widget(model, judge, target=target, decay=decay, blur_sigma=blur_sigma,
                            clip_percentile=clip_percentile, jitter=jitter)
# --- exercises -------------------------------------------------------------------

SIZE = shapes.IMAGE_SIZE  # the exercises' images have the shapes' size (32 x 32)

def _stripes(period: int) -> np.ndarray:
    """A SIZE x SIZE image of vertical stripes, 0 and 1, each stripe ``period // 2`` columns wide."""
    columns = (np.arange(SIZE) // (period // 2)) % 2
    return np.tile(columns.astype(np.float32), (SIZE, 1))


def check_stripe_high_frequency(answer):
    """Exercise: high_frequency_share (cutoff 0.25) of stripes of period 2 and of period 8 pixels."""

    expected = synthesis.high_frequency_share(np.stack([_stripes(2), _stripes(8)]))
    return verdict(answer, expected, what="a pair of shares: (period 2, period 8)", atol=1e-3)


@solves
def solve_stripe_high_frequency():
    # Vertical stripes vary along a row only, so one row's 1-D spectrum is the whole story.
    # Period 2 alternates 0, 1, 0, 1: all its variance sits at 1/2 cycle per pixel (> 0.25).
    # Period 8 is a square wave: 1/8 cycle per pixel plus odd harmonics (3/8 lies above 0.25).
    row = (np.arange(SIZE) // 4) % 2
    power = np.abs(np.fft.fft(row - row.mean())) ** 2
    high = np.abs(np.fft.fftfreq(SIZE)) > 0.25
    return (1.0, float(power[high].sum() / power.sum()))


def check_layer2_receptive_field(answer):
    """Exercise: receptive field of a layer-2 unit with conv1 kernel 7 (conv2 3x3) and with conv2 kernel 5 (conv1 5x5)."""
    def field(k1, k2, pool=2):
        return k1 + (pool - 1) + pool * (k2 - 1)

    return verdict(answer, [field(7, 3), field(5, 5)], what="a pair of integers (pixels)", atol=0)


@solves
def solve_layer2_receptive_field():
    # conv1 sees k1 pixels; a 2x2 pool cell covers two conv1 units side by side: k1 + 1;
    # conv2 reads k2 pool cells, each 2 pixels further: k1 + 1 + 2 (k2 - 1).
    def field(k1, k2):
        after_pool = k1 + 1
        return after_pool + 2 * (k2 - 1)

    return (field(7, 3), field(5, 5))


def check_checkerboard_tv(answer):
    """Exercise: synthesis.total_variation of a 0/1 checkerboard and of 0/1 vertical stripes of period 2."""

    checker = (np.add.outer(np.arange(SIZE), np.arange(SIZE)) % 2).astype(np.float32)
    images = np.stack([checker, _stripes(2)])[..., None]
    return verdict(answer, np.asarray(synthesis.total_variation(images)), what="a pair of numbers", atol=1e-4)


@solves
def solve_checkerboard_tv():
    # Every neighbour differs by 1 in a checkerboard, in both directions: 1 + 1.
    # Vertical stripes change only along a row (dx = 1), never down a column (dy = 0).
    return (1.0 + 1.0, 0.0 + 1.0)


HIGH_FREQUENCY_SIZES = (8, 9, 32)
"""Image sizes the high-frequency-share exercise is checked on (8 and 32 have bins exactly at 0.25 cycles/pixel)."""


def _share_variants(images):
    """Shares of common slips (for hints): mean kept, a square cutoff, bins at exactly 0.25 counted."""
    x = np.asarray(images, np.float64)
    f = np.fft.fftfreq(x.shape[1])
    radial = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    square = np.maximum(np.abs(f)[:, None], np.abs(f)[None, :])

    def share(images, mask):
        power = np.abs(np.fft.fft2(images)) ** 2
        return power[:, mask].sum(axis=1) / power.sum(axis=(1, 2))

    centred = x - x.mean(axis=(1, 2), keepdims=True)
    return {"Remove each image's mean first: the share is of its variance, and the mean (the 0-frequency bin) "
            "would count in the total.": share(x, radial > 0.25),
            "Use the radial frequency sqrt(fy^2 + fx^2), not the larger of |fy| and |fx|.": share(centred, square > 0.25),
            "Count only bins strictly above 0.25 cycles per pixel (> not >=).": share(centred, radial >= 0.25)}


def check_high_frequency_share(answer_function):
    """Exercise: write ``high_frequency_share(images)`` for grey images (n, size, size) -> (n,), checked on random images.

    The share asked for: remove each image's mean, take the power |FFT|^2 of its 2-D
    discrete Fourier transform, and divide the power at bins whose radial frequency
    sqrt(fy^2 + fx^2) (``np.fft.fftfreq(size)``, cycles per pixel) is above 0.25 by the total.
    """
    rng = np.random.default_rng(12)
    # Random pixels plus a brightness offset and a slow ramp, so that every slip above changes the answer.
    inputs = [(rng.random((3, size, size)) + 0.5 + np.linspace(0, 1, size)[None, None, :]).astype(np.float32)
              for size in HIGH_FREQUENCY_SIZES]

    slips = [(synthesis.high_frequency_share(x), _share_variants(x)) for x in inputs]

    def hint(got, expected):
        variants = next((v for e, v in slips if np.array_equal(e, expected)), {})  # the input that failed
        for sentence, variant in variants.items():
            if np.allclose(got, variant, rtol=1e-4, atol=1e-6):
                return sentence
        ratio = got / expected
        if np.allclose(ratio, ratio[0], rtol=1e-4):
            return f"Yours is {ratio[0]:.3g} times the expected share: a share is a fraction between 0 and 1."
        return ""

    return verdict_on_function(answer_function, synthesis.high_frequency_share, inputs,
                               what="high_frequency_share(images)", hint=hint)


@solves
def solve_high_frequency_share():
    def high_frequency_share(images):
        size = images.shape[1]
        centred = images - images.mean(axis=(1, 2), keepdims=True)  # the share is of the variance
        power = np.abs(np.fft.fft2(centred)) ** 2  # fft2 transforms the last two axes: one spectrum per image
        f = np.fft.fftfreq(size)  # cycles per pixel of each bin, along one axis
        high = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2) > 0.25  # radial frequency above the cutoff
        return power[:, high].sum(axis=1) / power.sum(axis=(1, 2))

    return high_frequency_share
