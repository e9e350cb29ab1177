"""Train several seeds of any Flax NNX model at once, with the loop compiled.

Used by notebooks 02-08 and 10-12.

``train(make_model, data, seeds=..., loss=...)`` builds one model per seed with
``make_model(rngs=nnx.Rngs(seed))`` and takes Adam steps on ``loss(model, batch, key)``,
where ``batch`` holds the same random rows of every array in ``data`` and ``key``
is a fresh random key for the step (for noise, dropout or sampling). With no
``loss`` it uses the model's own ``default_loss`` (the patch autoencoder's is its
reconstruction error: :mod:`course_utils.part1.losses`). The engine knows no
notebook: any NNX model, any data, any loss. A loss that turns NaN or infinite
stops the run with an error that says which seed, which step and what usually
causes it (``check_finite=False`` lets it run on).

The textbook loop calls a jitted step from Python once per step. The engine runs
many steps per call, in one of two ways, and picks the faster for the model:

- ``"scan"`` (1-D models such as the patch autoencoder): one compiled program runs
  ``steps_per_chunk`` steps with ``jax.lax.scan`` for every seed. The seeds are
  shared out over the CPU devices (one per core, see :func:`course_utils.configure_cpu`)
  with ``jax.shard_map``; each device trains its seeds one after another with
  ``jax.lax.fori_loop`` (``vmap`` would turn each convolution into a grouped
  convolution, which is slow on CPU). A step costs a few microseconds here, so
  leaving Python out of the loop is what makes it fast.
- ``"step"`` (models with 2-D convolutions): a jitted step called from Python, one
  seed per device side by side. XLA's CPU backend gives a 2-D convolution's
  gradient a slow memory layout when it sits inside a loop (its layout pass only
  rewrites convolutions at the top level of a program), so inside ``lax.scan`` a
  small CNN's step ran 3-6x slower than the same step jitted alone. A step costs
  milliseconds there, so calling it from Python costs little.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from . import checks, loops

LOOPS = ("auto", "scan", "step")



@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run besides the model, data, loss and seeds."""

    steps: int = 3000
    batch_size: int = 64
    learning_rate: float = 1e-2
    b1: float = 0.9
    """Adam's decay rate of the first moment (DCGAN uses 0.5)."""
    steps_per_chunk: int = 300
    """Steps per compiled call of the scan loop (the progress bar moves once per call).
    Runs with the same value, model, data shapes and loss share one compiled
    program, whatever their number of steps, seeds and rows."""
    snapshot_every: int | None = None
    """Keep a copy of every seed's parameters every this many steps (and at step 0)."""
    loop: str = "auto"
    """"scan", "step", or "auto": scan for 1-D models, step for 2-D convolutions."""
    players: tuple[str, ...] | None = None
    """Submodules (attribute names of the model, e.g. ("discriminator", "generator"))
    trained in turn, each step, each with its own Adam on its own loss: the loss then
    returns a dict {player: scalar}. Every parameter must belong to one player."""

    def __post_init__(self):
        checks.positive_int("steps", self.steps)
        checks.positive_int("batch_size", self.batch_size)
        checks.positive_int("steps_per_chunk", self.steps_per_chunk)
        if checks.non_negative_float("learning_rate", self.learning_rate) == 0:
            raise ValueError("learning_rate must be > 0, got 0")
        if not 0 <= checks.non_negative_float("b1", self.b1) < 1:
            raise ValueError(f"b1 must be in [0, 1), got {self.b1}")
        if self.snapshot_every is not None:
            checks.positive_int("snapshot_every", self.snapshot_every)
        checks.one_of("loop", self.loop, set(LOOPS))
        if self.players is not None:
            if (not isinstance(self.players, tuple) or not self.players
                    or not all(isinstance(p, str) and p for p in self.players)):
                raise TypeError(f"players must be a tuple of submodule names, got {self.players!r}")
            if len(set(self.players)) != len(self.players):
                raise ValueError(f"players must not repeat a name, got {self.players!r}")


# --- the result -----------------------------------------------------------------

@dataclasses.dataclass
class TrainResult:
    """Trained parameters of every seed (stacked on a leading axis) and their losses."""

    graphdef: nnx.GraphDef
    params: tuple
    """One ``nnx.State`` per parameter group (one group, or one per player), whose leaves
    are NumPy arrays (seeds, ...) on the host: taking one seed's needs no compiled program."""
    other_state: nnx.State
    """Model state that is not trained by gradients (batch norm statistics), stacked like ``params``."""
    losses: np.ndarray
    """Training loss of every seed at every step, shape (seeds, steps), or (seeds, steps, players)."""
    seeds: tuple[int, ...]
    config: TrainConfig
    loop: str
    """The loop that ran: "scan" or "step"."""
    seconds: float
    """Wall time of the training, compilation included."""
    snapshot_steps: tuple[int, ...] = ()
    """The steps after which parameters were kept (``config.snapshot_every``), 0 first."""
    snapshots: list = dataclasses.field(default_factory=list)
    """``snapshots[k]`` is stacked like ``params``, taken after ``snapshot_steps[k]`` steps."""

    def _check_index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.seeds):
            raise ValueError(f"index must be an integer in 0..{len(self.seeds) - 1}, got {index!r}")
        return int(index)

    def model(self, index: int, *, snapshot: int | None = None) -> nnx.Module:
        """The trained model of seed number ``index`` (0-based position in ``seeds``).

        With ``snapshot=k``, the model as it was after ``snapshot_steps[k]`` steps.
        """
        index = self._check_index(index)
        params = self.params
        if snapshot is not None:
            if not self.snapshots:
                raise ValueError("this run kept no snapshots: train with TrainConfig(snapshot_every=k)")
            if not isinstance(snapshot, (int, np.integer)) or not -len(self.snapshots) <= snapshot < len(self.snapshots):
                raise ValueError(f"snapshot must be an integer in 0..{len(self.snapshots) - 1}, got {snapshot!r}")
            params = self.snapshots[snapshot]
        one = functools.partial(jax.tree.map, lambda p: jnp.asarray(p[index]))
        return nnx.merge(self.graphdef, *one(params), one(self.other_state))

    def models(self) -> list[nnx.Module]:
        """The trained model of every seed, in the order of ``seeds``."""
        return [self.model(i) for i in range(len(self.seeds))]


# --- what a step computes, shared by both loops ------------------------------------


# Compiling a training program takes about a second, running a chunk a few
# milliseconds. So runs of different sizes are made to share programs: the seeds
# fill a fixed number of slots per device (a device skips its empty slots) and the
# data is padded to a fixed number of rows (mini-batches are drawn from the real
# rows only). Both round up to powers of two, so larger runs still fit.


def _uses_2d_convolutions(abstract_model) -> bool:
    """Does the model hold a convolution over two or more spatial axes?"""
    for _, node in nnx.iter_graph(abstract_model):
        if isinstance(node, (nnx.Conv, nnx.ConvTranspose)) and len(node.kernel_size) >= 2:
            return True
    return False


def _checked_data(data):
    """``data`` as a float32 or int32 NumPy array, or a tuple of them sharing the first axis."""
    arrays = data if isinstance(data, tuple) else (data,)
    if not arrays:
        raise ValueError("data must be an array or a non-empty tuple of arrays")
    out = []
    for i, a in enumerate(arrays):
        name = "data" if not isinstance(data, tuple) else f"data[{i}]"
        try:
            a = np.asarray(a)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be an array, got {type(a).__name__}") from err
        if a.ndim == 0 or a.shape[0] == 0:
            raise ValueError(f"{name} must have a first axis of examples, got shape {a.shape}")
        if a.dtype.kind in "biu":
            a = a.astype(np.int32)
        elif a.dtype.kind == "f":
            a = a.astype(np.float32)
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must contain only finite numbers (no NaN or inf)")
        else:
            raise TypeError(f"{name} must hold numbers, got dtype {a.dtype}")
        out.append(a)
    if len({a.shape[0] for a in out}) > 1:
        raise ValueError(f"the arrays in data must share their first axis (one row per example), "
                         f"got shapes {[a.shape for a in out]}")
    return tuple(out) if isinstance(data, tuple) else out[0]


def _checked_loss(loss, graphdef, abstract_groups, abstract_other, data, batch_size, players):
    """``loss`` as a pytree a compiled run can take, after checking what it returns."""
    if not callable(loss):
        raise TypeError(f"loss must be a function (model, batch, key) -> scalar, got {type(loss).__name__}")
    # A plain function becomes part of the program (hashed by identity); a registered
    # pytree such as ReconstructionLoss passes its numbers as inputs.
    if not all(isinstance(leaf, (np.ndarray, np.generic, jax.Array)) for leaf in jax.tree.leaves(loss)):
        loss = jax.tree_util.Partial(loss)
    batch = jax.tree.map(lambda a: jax.ShapeDtypeStruct((batch_size,) + a.shape[1:], a.dtype), data)
    try:
        value = jax.eval_shape(
            lambda groups, s, b: loss(nnx.merge(graphdef, *groups, s), b, jax.random.key(0, impl="rbg")),
            tuple(abstract_groups), abstract_other, batch)
    except ValueError as err:
        raise ValueError(f"the loss could not be computed on a batch of data (rows of shape "
                         f"{[a.shape[1:] for a in jax.tree.leaves(data)]}): {err}") from err
    except AttributeError as err:
        raise TypeError(f"the loss could not be computed on this model: {err}. A loss gets the model as "
                        "built by make_model; pass loss=fn(model, batch, key) -> scalar that uses what the "
                        "model has") from err
    if players is not None:
        if not isinstance(value, dict) or set(value) != set(players):
            got = sorted(value) if isinstance(value, dict) else type(value).__name__
            raise ValueError(f"with players {players} the loss must return a dict with one number per player, got {got}")
        value = jax.ShapeDtypeStruct((), jnp.float32) if all(v.shape == () for v in value.values()) else value
    if not isinstance(value, jax.ShapeDtypeStruct) or value.shape != ():
        shape = getattr(value, "shape", type(value).__name__)
        raise ValueError(f"loss must return one number (a scalar){' per player' if players else ''}, got {shape}")
    return loss


def _parameter_groups(abstract, players) -> tuple:
    """The filters that split a model's parameters into groups: all of them, or one group per player."""
    if players is None:
        return (nnx.Param,)
    filters = tuple(nnx.All(nnx.Param, nnx.PathContains(p)) for p in players)
    counts = [len(jax.tree.leaves(nnx.state(abstract, f))) for f in filters]
    for name, count in zip(players, counts):
        if count == 0:
            raise ValueError(f"player {name!r} holds no parameters: players must name submodules of the model")
    if sum(counts) != len(jax.tree.leaves(nnx.state(abstract, nnx.Param))):
        raise ValueError(f"every parameter must belong to exactly one of the players {players}")
    return filters


def train(
    make_model: Callable[[nnx.Rngs], nnx.Module],
    data,
    *,
    seeds: Sequence[int],
    config: TrainConfig = TrainConfig(),
    loss: Callable | None = None,
    progress: bool = True,
    check_finite: bool = True,
) -> TrainResult:
    """Train one model per seed on ``data`` with Adam and return them all.

    ``make_model(rngs=...)`` builds a fresh model: a model class itself
    (``models.PatchAutoencoder``), ``functools.partial`` of one with its options, or
    any function of ``rngs``. The seed decides the model's initial weights,
    its mini-batches and the keys its loss gets. ``data`` is an array, or a tuple of
    arrays sharing the first axis (e.g. ``(images, labels)``): a batch holds the same
    random rows of each. ``loss(model, batch, key)`` returns the number to minimise;
    ``None`` means the model's ``default_loss`` (the patch autoencoder's
    reconstruction error). Model state other than ``nnx.Param`` (batch norm
    statistics) is carried from step to step as the loss leaves it.

    The losses are read back after every chunk of steps; with ``check_finite`` (the
    default) the first NaN or infinite loss raises ``FloatingPointError`` naming the
    seed, the step and the last finite loss. Pass ``check_finite=False`` to train on.

    Raises ``TypeError`` for a ``make_model`` that is not a class or function (a
    model instance, say), ``seeds`` that are not a sequence of ints, a ``config``
    that is not a :class:`TrainConfig` or a loss the model cannot give;
    ``ValueError`` for data or loss values of the wrong shape.
    """
    if isinstance(make_model, nnx.Module) or not callable(make_model):
        raise TypeError("make_model must build a model from rngs=..., e.g. the class models.PatchAutoencoder "
                        f"(not a model already built), got {type(make_model).__name__}")
    data = _checked_data(data)
    seeds = checks.int_sequence("seeds", seeds, minimum=0)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    start = time.perf_counter()

    abstract = nnx.eval_shape(lambda: make_model(rngs=nnx.Rngs(0)))
    filters = _parameter_groups(abstract, config.players)
    graphdef, *abstract_groups, abstract_other = nnx.split(abstract, *filters, ...)
    if jax.tree.leaves(nnx.state(abstract, nnx.RngState)):
        raise ValueError("train() cannot carry random-number state inside a model (an nnx.Rngs or nnx.Dropout "
                         "holding rngs): draw randomness in the loss from its key argument instead")
    if loss is None:
        loss = getattr(abstract, "default_loss", None)
        if loss is None:
            raise TypeError(f"{type(abstract).__name__} has no default_loss: pass loss=fn(model, batch, key) -> "
                            "scalar (models.PatchAutoencoder is a course model that has one)")
    loss = _checked_loss(loss, graphdef, abstract_groups, abstract_other, data, config.batch_size, config.players)
    loop = config.loop if config.loop != "auto" else ("step" if _uses_2d_convolutions(abstract) else "scan")
    step = loops.Step(graphdef, config.batch_size, config.learning_rate, config.b1, config.players)
    runner = (loops.ScanRunner if loop == "scan" else loops.StepRunner)(step, config, make_model, data, loss, seeds, filters)

    snapshots, snapshot_steps = ([runner.params()], [0]) if config.snapshot_every else ([], [])
    losses, done = [], 0
    bar = tqdm(total=config.steps, desc=f"training {len(seeds)} seed{'s' * (len(seeds) > 1)}", unit="step",
               disable=not progress)
    while done < config.steps:
        n = min(runner.chunk - done % runner.chunk, config.steps - done)
        if config.snapshot_every:
            n = min(n, config.snapshot_every - done % config.snapshot_every)
        losses.append(runner.run(done, n))  # waits for the steps: an honest progress bar
        if check_finite:
            _raise_if_not_finite(losses, seeds, config.players)
        done += n
        if config.snapshot_every and done % config.snapshot_every == 0:
            snapshots.append(runner.params())
            snapshot_steps.append(done)
        last = losses[-1][:, -1].mean(axis=0)
        bar.set_postfix_str(f"loss {last:.2e}" if config.players is None else
                            " ".join(f"{name} {v:.2e}" for name, v in zip(config.players, last)))
        bar.update(n)
    bar.close()
    return TrainResult(graphdef, runner.params(), runner.other(), np.concatenate(losses, axis=1), seeds, config,
                       loop, time.perf_counter() - start, tuple(snapshot_steps), snapshots)


def _raise_if_not_finite(losses: list, seeds: tuple, players) -> None:
    """Raise at the first NaN or infinite loss in the newest chunk of ``losses`` (seeds, steps[, players])."""
    newest = losses[-1]
    if np.isfinite(newest).all():
        return
    every = np.concatenate(losses, axis=1)
    bad = ~np.isfinite(every.reshape(every.shape[0], every.shape[1], -1)).all(axis=2)
    first_bad = np.where(bad.any(axis=1), bad.argmax(axis=1), every.shape[1])
    seed_index = int(first_bad.argmin())  # the seed that went bad first
    step = int(first_bad[seed_index])
    history = every[seed_index, :step]
    last = (f"the last finite loss was {np.array2string(np.asarray(history[-1]), precision=4)} at step {step - 1}"
            if step else "it was not finite at the first step")
    who = "" if players is None else f" ({', '.join(players)})"
    raise FloatingPointError(
        f"the loss{who} of seed {seeds[seed_index]} became {every[seed_index, step]} at step {step}; {last}. "
        "Usual causes: a learning rate too high for the model, labels out of range for the logits "
        "(class indices must be 0..classes-1), or a log or division of zero in the loss. "
        "Pass check_finite=False to train on regardless.")


def batch_rows(seed: int, n_rows: int, config: TrainConfig = TrainConfig()) -> np.ndarray:
    """The data rows of every mini-batch that the scan loop trains seed ``seed`` on: (steps, batch_size).

    Lets a hand-written loop (notebook 02) see exactly the batches the engine saw.
    """
    seed = checks.non_negative_int("seed", seed)
    n_rows = checks.positive_int("n_rows", n_rows)
    chunk = config.steps_per_chunk
    rows = [_chunk_rows(jax.random.key(seed, impl="rbg"), c, n_rows, chunk, config.batch_size)
            for c in range(-(-config.steps // chunk))]
    return np.concatenate([np.asarray(r) for r in rows])[: config.steps]


@functools.partial(jax.jit, static_argnums=(3, 4))
def _chunk_rows(seed_key, chunk, n_rows, n_steps, batch_size):
    return loops.chunk_draws(jax.random.fold_in(seed_key, chunk), n_rows, n_steps, batch_size)[0]
