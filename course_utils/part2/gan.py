"""A digit generator trained adversarially (DCGAN), and how to judge its samples.

Used by notebook 10.

- Data: scikit-learn's ``load_digits``, 1,797 real 8x8 handwritten digits with 16
  grey levels, shipped inside the package, scaled to [-1, 1] (the range of ``tanh``).
- Models (Radford, Metz & Chintala 2016, "Unsupervised representation learning with
  deep convolutional generative adversarial networks"): a generator that paints a
  latent vector up to 2x2 -> 4x4 -> 8x8 with notebook 09's layers
  (:class:`course_utils.part2.upsampling.Upsample2x`): 3x3 transposed convolutions with
  stride 2 (``"transposed k3 s2"``), or nearest-neighbour resizing followed by a 3x3
  convolution (``"resize-conv"``, Odena, Dumoulin & Olah 2016); and a discriminator
  of strided convolutions with leaky ReLU. :class:`GAN` holds both, so
  ``training.train`` can train them in turn (``players=PLAYERS``) on the two losses
  of :func:`gan_loss` (the generator's is :func:`generator_loss`).
- Judging samples without the discriminator: an independent classifier trained on
  real digits (class coverage, largest class share, confidence), the Frechet distance
  between pixel statistics, and distances to the nearest training image (copies?).
  The checkerboard measures are notebook 09's (``checkerboard.MEASURES``).
Notebook 10's figures, its latent explorer and the latent-walk animation are in
:mod:`course_utils.part2.gan_lesson`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..core import checks
from . import upsampling

DIGIT_SIZE = 8
"""Digits are DIGIT_SIZE x DIGIT_SIZE pixels."""
LATENT = 16
"""Length of the generator's latent vector."""
CLASSES = 10


# --- data -----------------------------------------------------------------------

def scale_digits(pixels) -> np.ndarray:
    """Grey levels 0..16 (``load_digits``) -> [-1, 1]: 0 (white paper) -> -1, 16 (ink) -> 1."""
    try:
        pixels = np.asarray(pixels, np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"pixels must be grey levels 0..16 (numbers), got {type(pixels).__name__}") from err
    if pixels.size == 0:
        raise ValueError("pixels must not be empty")
    if not np.all(np.isfinite(pixels)) or pixels.min() < 0 or pixels.max() > 16:
        raise ValueError(f"pixels must be grey levels in 0..16, got values in "
                         f"[{np.nanmin(pixels):g}, {np.nanmax(pixels):g}]")
    return pixels / 8.0 - 1.0


@functools.lru_cache(maxsize=1)
def _loaded():
    from sklearn.datasets import load_digits  # imported here: only notebook 10 needs scikit-learn

    bunch = load_digits()
    return bunch.images.astype(np.float32), bunch.target.astype(np.int32)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as images (n, 8, 8, 1) in [-1, 1], and their labels (n,) in 0..9."""
    images, labels = _loaded()
    return scale_digits(images)[..., None], labels.copy()


def split(n: int, held_out: float = 0.25, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random row numbers for training and for holding out: ``(train, held_out)``."""
    n = checks.positive_int("n", n, minimum=2)
    held_out = checks.non_negative_float("held_out", held_out)
    if not 0 < held_out < 1:
        raise ValueError(f"held_out must be a fraction in (0, 1), got {held_out}")
    seed = checks.non_negative_int("seed", seed)
    order = np.random.default_rng(seed).permutation(n)
    cut = n - max(1, round(held_out * n))
    return np.sort(order[:cut]), np.sort(order[cut:])


# --- models -----------------------------------------------------------------------

KINDS = ("transposed k3 s2", "resize-conv")
"""The generator's two ways to double the image size, notebook 09's layers
(:class:`course_utils.part2.upsampling.Upsample2x`): a 3x3 transposed convolution with
stride 2 (3 is not divisible by 2: uneven overlap, like Part I's kernel 7, stride 4),
or nearest-neighbour resizing followed by a 3x3 convolution. Both have a 3x3 kernel
from the same channels to the same channels: the same parameters, used differently."""


class Generator(nnx.Module):
    """Latent vectors (n, LATENT) -> digits (n, 8, 8, 1) in [-1, 1]: 2x2x64 -> 4x4x32 -> 8x8x1.

    DCGAN's recipe: a linear layer to a small image, then layers that double its size,
    batch norm and ReLU between them, ``tanh`` at the end.
    """

    def __init__(self, kind: str = KINDS[0], *, channels: int = 64, rngs: nnx.Rngs):
        checks.rngs("rngs", rngs)
        self.kind = checks.one_of("kind", kind, set(KINDS))
        self.channels = checks.positive_int("channels", channels, minimum=2)
        self.project = nnx.Linear(LATENT, 2 * 2 * channels, rngs=rngs)
        self.norm0 = nnx.BatchNorm(2 * 2 * channels, rngs=rngs)
        self.up1 = upsampling.Upsample2x(kind, channels, channels // 2, rngs=rngs)
        self.norm1 = nnx.BatchNorm(channels // 2, rngs=rngs)
        self.up2 = upsampling.Upsample2x(kind, channels // 2, 1, rngs=rngs)

    def __call__(self, z):
        h = nnx.relu(self.norm0(self.project(z))).reshape(z.shape[0], 2, 2, self.channels)
        h = nnx.relu(self.norm1(self.up1(h)))
        return jnp.tanh(self.up2(h))


class Discriminator(nnx.Module):
    """Digits (n, 8, 8, 1) -> one logit per digit (n,): "real" when positive.

    Two strided 3x3 convolutions (8x8 -> 4x4 -> 2x2) with leaky ReLU (slope 0.2), as in
    DCGAN (no pooling), then a linear read-out. DCGAN also puts batch norm in its
    discriminator; this small one trains without it.
    """

    def __init__(self, *, channels: int = 32, rngs: nnx.Rngs):
        checks.rngs("rngs", rngs)
        channels = checks.positive_int("channels", channels)
        pad = ((1, 1), (1, 1))  # with stride 2: 8 -> 4 -> 2
        self.conv1 = nnx.Conv(1, channels, (3, 3), strides=(2, 2), padding=pad, rngs=rngs)
        self.conv2 = nnx.Conv(channels, 2 * channels, (3, 3), strides=(2, 2), padding=pad, rngs=rngs)
        self.read = nnx.Linear(2 * 2 * 2 * channels, 1, rngs=rngs)

    def __call__(self, x):
        if not hasattr(x, "ndim") or x.ndim != 4 or tuple(x.shape[1:]) != (DIGIT_SIZE, DIGIT_SIZE, 1):
            raise ValueError(f"x must be digits of shape (n, {DIGIT_SIZE}, {DIGIT_SIZE}, 1), got {getattr(x, 'shape', x)}")
        h = nnx.leaky_relu(self.conv1(x), 0.2)
        h = nnx.leaky_relu(self.conv2(h), 0.2)
        return self.read(h.reshape(x.shape[0], -1))[:, 0]


class GAN(nnx.Module):
    """A generator and a discriminator in one module: the two players of ``training.train``."""

    def __init__(self, kind: str = KINDS[0], *, generator_channels: int = 64, discriminator_channels: int = 32,
                 rngs: nnx.Rngs):
        checks.rngs("rngs", rngs)
        checks.positive_int("generator_channels", generator_channels, minimum=2)
        checks.positive_int("discriminator_channels", discriminator_channels)
        self.generator = Generator(kind, channels=generator_channels, rngs=rngs)
        self.discriminator = Discriminator(channels=discriminator_channels, rngs=rngs)


PLAYERS = ("discriminator", "generator")


def gan_loss(model: GAN, batch, key) -> dict:
    """Both players' losses on a batch of real digits and as many fresh latent vectors.

    The discriminator minimises the cross-entropy of calling real digits real and
    generated ones fake; the generator minimises ``-log D(G(z))`` (the "non-saturating"
    loss of Goodfellow et al. 2014, which DCGAN uses), so it still gets a gradient
    when the discriminator rejects its samples confidently.
    """
    if not all(hasattr(model, player) for player in PLAYERS):
        raise TypeError(f"model must be a gan.GAN (with a generator and a discriminator), got {type(model).__name__}")
    real = batch[0] if isinstance(batch, tuple) else batch
    real = checks.array("batch", real, ndim=4, shape_hint=f"(n, {DIGIT_SIZE}, {DIGIT_SIZE}, 1) real digits", dtype=None)
    z = jax.random.normal(key, (real.shape[0], LATENT))
    fake = model.generator(z)
    real_logits, fake_logits = model.discriminator(real), model.discriminator(fake)
    d_loss = jax.nn.softplus(-real_logits).mean() + jax.nn.softplus(fake_logits).mean()
    return {"discriminator": d_loss, "generator": generator_loss(fake_logits)}


def generator_loss(fake_logits):
    """The generator's non-saturating loss from the discriminator's logits on its samples (n,).

    The mean of ``-log sigmoid(logit) = softplus(-logit)``: the binary cross-entropy of
    the label "real", large when the discriminator rejects the samples confidently
    (logits far below 0), where the saturating ``log(1 - sigmoid(logit))`` is flat.
    """
    fake_logits = checks.array("fake_logits", fake_logits, ndim=1, shape_hint="(n,): one logit per sample")
    return jax.nn.softplus(-fake_logits).mean()


def latents(n: int, *, seed: int = 0) -> np.ndarray:
    """``n`` latent vectors drawn from N(0, I): (n, LATENT)."""
    n = checks.positive_int("n", n)
    return np.random.default_rng(checks.non_negative_int("seed", seed)).standard_normal(
        (n, LATENT)).astype(np.float32)


def generate(generator: Generator, z) -> np.ndarray:
    """The generator's digits for latent vectors ``z`` (n, LATENT), in evaluation mode.

    Evaluation mode: batch norm uses the running statistics gathered during training,
    so a digit does not depend on which other latents share its batch.
    """
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a gan.Generator, got {type(generator).__name__}")
    z = checks.array("z", z, ndim=2, shape_hint=f"(n, {LATENT})")
    if z.shape[1] != LATENT:
        raise ValueError(f"z must have {LATENT} numbers per row, got shape {z.shape}")
    generator.eval()
    try:
        graphdef, state = nnx.split(generator)
    finally:
        generator.train()
    return np.asarray(_generated(graphdef, state, jnp.asarray(z)))


@functools.partial(jax.jit, static_argnums=0)
def _generated(graphdef, state, z):
    # One compiled program per generator structure: run op by op, the first call compiled
    # each operation apart (0.75 s), and every later call took about 5x longer.
    return nnx.merge(graphdef, state)(z)


# --- judging samples ----------------------------------------------------------------

def _flat(name: str, images) -> np.ndarray:
    """Images (n, ...) as float64 rows (n, pixels)."""
    ndim = np.ndim(images) if not isinstance(images, str) else 0
    images = np.asarray(checks.array(name, images, ndim=max(ndim, 2), shape_hint="(n, ...): a batch of images",
                                     dtype=np.float64))
    return images.reshape(images.shape[0], -1)


def _digit_rows(name: str, images) -> np.ndarray:
    """Digits (n, 8, 8) or (n, 8, 8, 1) as float64 rows (n, 64)."""
    ndim = np.ndim(images) if not isinstance(images, str) else 0
    images = np.asarray(checks.array(name, images, ndim=ndim if ndim in (3, 4) else 4,
                                     shape_hint=f"(n, {DIGIT_SIZE}, {DIGIT_SIZE}, 1)", dtype=np.float64), np.float64)
    if images.shape[1:3] != (DIGIT_SIZE, DIGIT_SIZE) or images.shape[3:] not in ((), (1,)):
        raise ValueError(f"{name} must be digits (n, {DIGIT_SIZE}, {DIGIT_SIZE}, 1), got shape {images.shape}")
    return images.reshape(images.shape[0], -1)


def train_classifier(images, labels):
    """A multinomial logistic regression on the pixels: the independent judge of samples.

    It never sees generated digits and is not the discriminator, so fooling the
    discriminator does not fool it. Returns the fitted scikit-learn model.
    """
    from sklearn.linear_model import LogisticRegression

    x = _digit_rows("images", images)
    labels = np.asarray(checks.indices("labels", labels, size=CLASSES, what="digit class"))
    if labels.shape != (x.shape[0],):
        raise ValueError(f"labels must give one class per image ({x.shape[0]}), got shape {labels.shape}")
    return LogisticRegression(max_iter=1000).fit(x, labels)


@dataclasses.dataclass(frozen=True)
class Coverage:
    """What a classifier says about a set of images."""

    shares: np.ndarray
    """Fraction of the images assigned to each class (CLASSES,)."""
    classes: int
    """How many classes hold at least ``min_share`` of the images."""
    largest_share: float
    confidence: float
    """Mean probability the classifier gives its chosen class (1/CLASSES: a guess)."""


def class_coverage(labels, *, min_share: float = 0.02, confidence=None) -> Coverage:
    """Class shares of predicted ``labels`` (n,) in 0..CLASSES-1, and how many classes are present.

    A class counts as present when it holds at least ``min_share`` of the labels (a
    stray sample or two is not a mode). ``confidence`` (n,) are the classifier's
    probabilities of the chosen classes, averaged into ``Coverage.confidence``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array of classes, got shape {labels.shape}")
    if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= CLASSES:
        raise ValueError(f"labels must be integers in 0..{CLASSES - 1}, got {labels.dtype} values "
                         f"in [{labels.min()}, {labels.max()}]")
    min_share = checks.non_negative_float("min_share", min_share)
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be a fraction in (0, 1], got {min_share}")
    shares = np.bincount(labels, minlength=CLASSES) / labels.size
    if confidence is None:
        mean_confidence = float("nan")
    else:
        confidence = np.asarray(confidence, np.float64)
        if confidence.shape != labels.shape:
            raise ValueError(f"confidence must give one probability per label {labels.shape}, got {confidence.shape}")
        mean_confidence = float(confidence.mean())
    return Coverage(shares, int((shares >= min_share - 1e-12).sum()), float(shares.max()), mean_confidence)


def check_judge(classifier) -> None:
    """Raise a ``TypeError`` unless ``classifier`` is a fitted classifier with ``predict_proba``."""
    if not callable(getattr(classifier, "predict_proba", None)):
        raise TypeError("classifier must be a fitted scikit-learn classifier with predict_proba, e.g. from "
                        f"gan.train_classifier, got {type(classifier).__name__}")


def judge(classifier, images, *, min_share: float = 0.02) -> Coverage:
    """The classifier's verdict on ``images`` (n, 8, 8, 1): class shares, coverage, confidence."""
    check_judge(classifier)
    probabilities = classifier.predict_proba(_digit_rows("images", images))
    return class_coverage(probabilities.argmax(axis=1), min_share=min_share,
                          confidence=probabilities.max(axis=1))


def frechet_distance(a, b) -> float:
    """Frechet distance between Gaussians fitted to two sets of images, in pixel space.

    ``|mean_a - mean_b|^2 + trace(C_a + C_b - 2 (C_a C_b)^(1/2))`` (Dowson & Landau
    1982), the formula of the FID (Heusel et al. 2017) applied to the pixels
    themselves instead of a network's features. 0 for identical sets; shifting every
    image of a set by a vector adds that vector's squared length.
    """
    a, b = _flat("a", a), _flat("b", b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must hold images of the same size, got {a.shape[1]} and {b.shape[1]} pixels")
    if min(len(a), len(b)) < 2:
        raise ValueError("a and b need at least 2 images each to have a covariance")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # trace((C_a C_b)^(1/2)) = sum of sqrt(eigenvalues of C_a^(1/2) C_b C_a^(1/2)), a symmetric
    # matrix: stable where scipy.linalg.sqrtm(C_a @ C_b) warns (digits' corner pixels never
    # change, so the covariances are singular).
    root_a = _psd_sqrt(cov_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    return float(max(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross, 0.0))


def _psd_sqrt(c):
    values, vectors = np.linalg.eigh(c)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def nearest_distances(images, reference) -> np.ndarray:
    """Euclidean distance from each of ``images`` to its nearest image in ``reference``: (n,)."""
    x, ref = _flat("images", images), _flat("reference", reference)
    if x.shape[1] != ref.shape[1]:
        raise ValueError(f"images and reference must have the same size, got {x.shape[1]} and {ref.shape[1]} pixels")
    squared = (x**2).sum(1)[:, None] - 2 * x @ ref.T + (ref**2).sum(1)[None, :]
    return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def uniform_noise(n: int, *, seed: int = 0) -> np.ndarray:
    """``n`` images (n, 8, 8, 1) of independent uniform pixels in [-1, 1]: a generator that learnt nothing."""
    n = checks.positive_int("n", n)
    seed = checks.non_negative_int("seed", seed)
    return np.random.default_rng(seed).uniform(-1, 1, (n, DIGIT_SIZE, DIGIT_SIZE, 1)).astype(np.float32)


# --- samples over training ------------------------------------------------------------

def snapshot_samples(result, z) -> np.ndarray:
    """Every snapshot's digits for latents ``z``: (snapshots, seeds, n, 8, 8, 1).

    ``result`` is a ``training.TrainResult`` of :class:`GAN` models trained with
    ``snapshot_every``; snapshot 0 is the generator as initialised.
    """
    if not getattr(result, "snapshots", None):
        raise ValueError("result must come from training.train with TrainConfig(snapshot_every=k): "
                         "it kept no snapshots")
    return np.stack([np.stack([generate(result.model(i, snapshot=k).generator, z) for i in range(len(result.seeds))])
                     for k in range(len(result.snapshots))])


def smoothed(values, window: int = 50) -> np.ndarray:
    """Moving average over the last axis (steps), ``window`` steps wide: shape (..., steps - window + 1)."""
    ndim = np.ndim(values) if not isinstance(values, str) else 1
    values = np.asarray(checks.array("values", values, ndim=max(ndim, 1), shape_hint="(..., steps)", dtype=np.float64), np.float64)
    window = checks.positive_int("window", window)
    if values.shape[-1] < window:
        raise ValueError(f"window ({window}) must not exceed the number of steps ({values.shape[-1]})")
    cumulative = np.cumsum(np.concatenate([np.zeros(values.shape[:-1] + (1,)), values], axis=-1), axis=-1)
    return (cumulative[..., window:] - cumulative[..., :-window]) / window


# --- figures ------------------------------------------------------------------------


# --- explorer and animation -------------------------------------------------------------


