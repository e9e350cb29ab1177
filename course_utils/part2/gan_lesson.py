"""Notebook 10's figures, explorer, animation and exercises: a digit generator.

The reusable parts (the digits, the generator and discriminator, the adversarial
loss, the judges) are in :mod:`course_utils.part2.gan`; this module draws what
notebook 10 shows. The latent explorer follows the explorer contract of
:mod:`course_utils.display.explorer`: :func:`digit_latent_figure` returns the
artists, :func:`update_digit_latent` redraws them (tests call it) and
:func:`digit_latent_explorer` wires two sliders; the latent walk is an animation
drawn by the same frame engine.
"""

from __future__ import annotations

import ipywidgets
import jax
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

from ..core import checks, deconv
from ..core.exercise import solution, solves, verdict, verdict_on_function  # noqa: F401  (notebooks call gan_lesson.solution)
from ..display.explorer import Control, Explorer
from ..display.frames import render_frames
from ..display.player import html_player
from . import gan


def digit_grid(ax, images, *, columns: int = 10, labels=None, title: str = ""):
    """Draw ``images`` (n, 8, 8[, 1]) as one grey mosaic on ``ax``, ink dark, one pixel gap (three above labels)."""
    checks.axes("ax", ax)
    ndim = np.ndim(images) if not isinstance(images, str) else 0
    images = np.asarray(checks.array("images", images, ndim=ndim if ndim in (3, 4) else 4,
                                     shape_hint=f"(n, {gan.DIGIT_SIZE}, {gan.DIGIT_SIZE}[, 1])", dtype=None), np.float32)
    if images.shape[1:3] != (gan.DIGIT_SIZE, gan.DIGIT_SIZE) or images.shape[3:] not in ((), (1,)):
        raise ValueError(f"images must be digits (n, {gan.DIGIT_SIZE}, {gan.DIGIT_SIZE}[, 1]), got {images.shape}")
    images = images.reshape(-1, gan.DIGIT_SIZE, gan.DIGIT_SIZE)
    columns = checks.positive_int("columns", columns)
    rows = -(-len(images) // columns)
    size = gan.DIGIT_SIZE
    row_step = size + (3 if labels is not None else 1)  # a label needs a wider gap than one pixel
    mosaic = np.full((rows * row_step - (row_step - size), columns * (size + 1) - 1), np.nan, np.float32)
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        mosaic[r * row_step:r * row_step + size, c * (size + 1):c * (size + 1) + size] = image
    ax.imshow(mosaic, cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
    if labels is not None:
        for k, label in enumerate(labels):
            r, c = divmod(k, columns)
            ax.text(c * (size + 1) + size / 2 - 0.5, r * row_step - 0.6, str(label), ha="center", va="bottom",
                    fontsize=9, color="tab:blue")
    ax.set_title(title, pad=18 if labels is not None else 6)  # above the labels, not over them
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def loss_figure(results: dict, *, window: int = 50):
    """Both players' losses (mean +- std over seeds, smoothed) for each generator kind in ``results``."""
    fig, axes = plt.subplots(1, len(results), figsize=(10, 3.4), sharey=True, constrained_layout=True)
    for ax, (kind, result) in zip(np.atleast_1d(axes), results.items()):
        steps = np.arange(window, result.losses.shape[1] + 1)
        for p, (player, color) in enumerate(zip(gan.PLAYERS, ("tab:red", "tab:blue"))):
            curves = gan.smoothed(result.losses[..., p], window)
            mean, std = curves.mean(axis=0), curves.std(axis=0)
            ax.plot(steps, mean, color=color, label=f"{player} (mean of {len(result.seeds)} seeds)")
            ax.fill_between(steps, mean - std, mean + std, color=color, alpha=0.25, linewidth=0)
        ax.axhline(2 * np.log(2), color="tab:red", ls=":", lw=1, label="2 ln 2: D cannot tell")
        ax.axhline(np.log(2), color="tab:blue", ls=":", lw=1, label="ln 2: D says 50 % real")
        ax.set_title(f"{kind}")
        ax.set_xlabel("training step")
    np.atleast_1d(axes)[0].set_ylabel(f"loss (nats, {window}-step average)")
    fig.suptitle("the two players' losses (bands: +-1 std over seeds)", fontsize=11)
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=9)
    return fig


def class_share_figure(coverages: dict):
    """One bar chart of class shares per entry of ``coverages`` (name -> Coverage or list of them, one per seed)."""
    columns = min(3, len(coverages))
    rows = -(-len(coverages) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(10, 3.0 * rows), sharey=True, squeeze=False,
                             constrained_layout=True)
    for ax in axes.flat[len(coverages):]:
        ax.set_visible(False)
    for ax, (name, cov) in zip(axes.flat, coverages.items()):
        covs = cov if isinstance(cov, (list, tuple)) else [cov]
        width = 0.8 / len(covs)
        for s, c in enumerate(covs):
            ax.bar(np.arange(gan.CLASSES) - 0.4 + width * (s + 0.5), c.shares, width,
                   label=f"seed {s}" if len(covs) > 1 else None)
        ax.axhline(1 / gan.CLASSES, color="black", ls=":", lw=1, label=f"1/{gan.CLASSES}: every class alike")
        ax.set_xticks(range(gan.CLASSES))
        ax.set_xlabel("class the classifier picks")
        counts = ", ".join(f"{c.classes}" for c in covs)
        confidence = ", ".join(f"{c.confidence:.2f}" for c in covs)
        # one value per seed (in legend order) where there are several sets
        ax.set_title(f"{name}\nclasses: {counts} · confidence: {confidence}", fontsize=9)
        ax.legend(fontsize=8, loc="upper right")
    for ax in axes[:, 0]:
        ax.set_ylabel("share of the images")
    tallest = max(c.shares.max() for cov in coverages.values()
                  for c in (cov if isinstance(cov, (list, tuple)) else [cov]))
    axes[0, 0].set_ylim(0, 1.45 * tallest)  # shared: room above the tallest bar for the legends
    return fig


def latent_directions(seed: int = 0) -> np.ndarray:
    """Two orthonormal directions (2, LATENT) in latent space, random but fixed by ``seed``."""
    seed = checks.non_negative_int("seed", seed)
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((gan.LATENT, 2)))
    return q.T.astype(np.float32)


def digit_latent_figure():
    """Figure for the latent explorer: the digit (left) and the classifier's probabilities (right)."""
    fig, (ax_digit, ax_prob) = plt.subplots(1, 2, figsize=(8.4, 3.4), width_ratios=(1, 1.6), constrained_layout=True)
    image = ax_digit.imshow(np.zeros((gan.DIGIT_SIZE, gan.DIGIT_SIZE)), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
    ax_digit.set_xticks([])
    ax_digit.set_yticks([])
    title = ax_digit.set_title(" ")
    bars = ax_prob.bar(range(gan.CLASSES), np.zeros(gan.CLASSES), color="tab:blue")
    ax_prob.set_ylim(0, 1)
    ax_prob.set_xticks(range(gan.CLASSES))
    ax_prob.set_xlabel("digit class")
    ax_prob.set_ylabel("classifier probability")
    ax_prob.set_title("what the independent classifier sees")
    plt.close(fig)  # shown by the explorer or the animation, not by the inline backend
    return fig, {"image": image, "bars": list(bars), "title": title}


def draw_digit(artists: dict, digit, probabilities, caption: str = "") -> None:
    """Put one digit (8, 8[, 1]) and its class probabilities (CLASSES,) into the explorer's artists."""
    artists["image"].set_data(np.asarray(digit).reshape(gan.DIGIT_SIZE, gan.DIGIT_SIZE))
    for bar, p in zip(artists["bars"], probabilities):
        bar.set_height(float(p))
    best = int(np.argmax(probabilities))
    artists["title"].set_text(f"{caption}classifier: {best} (p = {probabilities[best]:.2f})")


def update_digit_latent(artists: dict, generator, classifier, a: float, b: float, *, seed: int = 0) -> np.ndarray:
    """Draw the digit at latent ``a * u + b * v`` (u, v from :func:`latent_directions`); return it (8, 8, 1)."""
    u, v = latent_directions(seed)
    digit = gan.generate(generator, (a * u + b * v)[None])[0]
    draw_digit(artists, digit, classifier.predict_proba(digit.reshape(1, -1))[0], f"a = {a:+.1f}, b = {b:+.1f}\n")
    return digit


def _digit_latent_scene(generator, classifier):
    gan.check_judge(classifier)
    fig, artists = digit_latent_figure()
    moving = [artists["image"], artists["bars"], artists["title"]]
    return fig, moving, lambda a, b: update_digit_latent(artists, generator, classifier, a, b), {}


def _example_digit_models() -> tuple:
    """An untrained generator and a classifier fitted on 300 real digits."""
    images, labels = gan.digits()
    return gan.Generator(rngs=nnx.Rngs(0)), gan.train_classifier(images[:300], labels[:300])


DIGIT_LATENT_EXPLORER = Explorer(
    "digit_latent", "10_digit_generator.ipynb", __name__, "digit_latent_explorer", _digit_latent_scene,
    (Control("a", -4.0, 4.0, 0.25), Control("b", -4.0, 4.0, 0.25)), {"a": 0.0, "b": 0.0},
    ("generator", "classifier"), examples=_example_digit_models)


def digit_latent_explorer(generator, classifier, a: float = DIGIT_LATENT_EXPLORER.defaults["a"],
                          b: float = DIGIT_LATENT_EXPLORER.defaults["b"]) -> ipywidgets.Widget:
    """Two sliders move the latent vector along two fixed directions; the digit follows.

    Built from ``DIGIT_LATENT_EXPLORER``: each move redraws only the digit, its title and the bars.
    """
    return DIGIT_LATENT_EXPLORER.widget(generator, classifier, a=a, b=b)


def latent_circle(frames: int = 36, *, seed: int = 0) -> np.ndarray:
    """Latents (frames, LATENT) on a circle of radius sqrt(LATENT) in the plane of :func:`latent_directions`.

    N(0, I) samples in LATENT dimensions have length close to sqrt(LATENT), so every
    point of the walk is a typical latent, not the rarely drawn centre.
    """
    frames = checks.positive_int("frames", frames, minimum=2)
    u, v = latent_directions(seed)
    angles = np.linspace(0, 2 * np.pi, frames, endpoint=False)
    return (np.sqrt(gan.LATENT) * (np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v)).astype(np.float32)


def latent_walk_animation(generator, classifier, latents, *, fps: float = 6) -> str:
    """An offline HTML player of the digits along ``latents`` (frames, LATENT), e.g. :func:`latent_circle`."""
    gan.check_judge(classifier)
    checks.positive_float("fps", fps)
    latents = checks.array("latents", latents, ndim=2, shape_hint=f"(frames, {gan.LATENT})")
    digits_ = gan.generate(generator, latents)
    probabilities = classifier.predict_proba(digits_.reshape(len(digits_), -1))
    fig, artists = digit_latent_figure()

    def draw(artists, k):
        draw_digit(artists, digits_[k], probabilities[k], f"step {k + 1} of {len(digits_)} around the circle\n")

    frames = render_frames(fig, artists, list(range(len(digits_))), draw)
    return html_player(frames, fps=fps, alt="a digit from the generator along a circle in latent space")
# --- exercises -------------------------------------------------------------------

def check_scaled_grey_level(answer):
    """Exercise: grey level 4 of ``load_digits`` after scaling to [-1, 1]."""

    return verdict(answer, float(gan.scale_digits([4.0])[0]), what="one number in [-1, 1]")


@solves
def solve_scaled_grey_level():
    # 0..16 onto [-1, 1]: divide by 8 (range 16 -> 2), then shift 0 to -1
    return 4 / 8 - 1


def check_shifted_frechet(answer):
    """Exercise: the Frechet distance between 8x8 images and the same images plus 0.5."""

    rng = np.random.default_rng(0)
    images = rng.normal(size=(200, gan.DIGIT_SIZE, gan.DIGIT_SIZE))
    return verdict(answer, gan.frechet_distance(images, images + 0.5), what="one number", atol=1e-3)


@solves
def solve_shifted_frechet():
    # equal covariances: the trace term is 0; only |mean_a - mean_b|^2 is left, 0.5 on each of 64 pixels
    shift = np.full(8 * 8, 0.5)
    return float(shift @ shift)


def check_windows_over_pixel(answer):
    """Exercise: windows of a 3x3, stride-2 transposed convolution on 4x4 over pixels (4, 5) and (4, 4)."""
    counts = deconv.overlap_counts((4, 4), 3, 2)
    return verdict(answer, [counts[4, 5], counts[4, 4]], what="a pair of integers", atol=0)


@solves
def solve_windows_over_pixel():
    # input i paints rows 2i..2i+2 (and columns alike); a pixel counts the windows of its row times those of its column
    def windows(position):
        return sum(1 for i in range(4) if 2 * i <= position <= 2 * i + 2)

    return (windows(4) * windows(5), windows(4) * windows(4))


def check_collapsed_coverage(answer):
    """Exercise: ``classes`` and ``largest_share`` for a generator drawing only 1s and 7s, half each."""

    coverage = gan.class_coverage(np.array([1, 7] * 50))
    return verdict(answer, [coverage.classes, coverage.largest_share], what="a pair: (classes, largest_share)")


@solves
def solve_collapsed_coverage():
    # 100 samples: 50 ones, 50 sevens; a class counts when it holds at least 2 % of them
    shares = np.bincount([1, 7] * 50, minlength=10) / 100
    return (int((shares >= 0.02).sum()), float(shares.max()))


def _generator_loss_hint(got, expected) -> str:
    if np.all(got < 0):
        return ("A loss that is negative: -log D(G(z)) is never below 0. The saturating form log(1 - D(G(z))) = "
                "-softplus(logit) has this sign; the non-saturating loss is -log sigmoid(logit) = softplus(-logit).")
    ratio = got / expected
    if np.all(ratio > 1.5) and np.allclose(ratio, np.round(ratio)):
        return "Off by a whole factor: average over the batch (mean), do not sum."
    return ("Check the sign inside: -log sigmoid(logit) = softplus(-logit) is large for logits far below 0 "
            "(the discriminator says fake).")


def check_generator_loss(answer_function):
    """Exercise: write the generator's non-saturating loss from the discriminator's logits, checked on random logits."""
    rng = np.random.default_rng(10)
    inputs = [(4 * rng.standard_normal(n)).astype(np.float32) for n in (1, 32, 500)]
    inputs.append(np.array([-12.0, -3.0, 0.0, 3.0, 12.0], np.float32))  # confident rejections and acceptances
    return verdict_on_function(answer_function, gan.generator_loss, inputs, what="generator_loss(fake_logits)",
                               hint=_generator_loss_hint)


@solves
def solve_generator_loss():
    def generator_loss(fake_logits):
        # -log D(G(z)) with D = sigmoid(logit): -log sigmoid(l) = log(1 + e^-l) = softplus(-l), averaged
        return jax.nn.softplus(-fake_logits).mean()

    return generator_loss
