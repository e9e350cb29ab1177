"""Train several seeds of any Flax NNX model at once, with the loop compiled.

Used by notebooks 02-08 and 10-12.

``train(make_model, data, seeds=..., loss=...)`` builds one model per seed with
``make_model(rngs=nnx.Rngs(seed))`` and takes Adam steps on ``loss(model, batch, key)``,
where ``batch`` holds the same random rows of every array in ``data`` and ``key``
is a fresh random key for the step (for noise, dropout or sampling). With no
``loss`` it trains an autoencoder (``model.encode``/``model.decode``) on its
reconstruction error: see :func:`reconstruction_loss`.

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
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from . import checks

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


# --- the default loss: an autoencoder's reconstruction error ----------------------

@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ReconstructionLoss:
    """Weighted mean squared error of ``model.decode(model.encode(x))`` against ``x``.

    Made by :func:`reconstruction_loss`. Its noise levels and weights are arrays that
    a compiled run takes as inputs, so runs that differ only in their values
    (notebook 04's noise variants, notebook 06's border weights) share one program;
    a field that is ``None`` (that kind of noise not drawn at all) changes the program.
    """

    code_noise: Any = None
    """Standard deviation of the Gaussian noise added to each code component (last axis)."""
    input_noise: Any = None
    """Standard deviation of the Gaussian noise added to every input value."""
    weights: Any = None
    """Weight of each output position (None: all equal)."""

    def __call__(self, model, batch, key):
        x = batch
        input_key, code_key = jax.random.split(key)
        if self.input_noise is not None:
            x = x + self.input_noise * jax.random.normal(input_key, x.shape)
        code = model.encode(x)
        if self.code_noise is not None:
            if code.shape[-1] != self.code_noise.shape[0]:
                raise ValueError(f"code_noise gives {self.code_noise.shape[0]} standard deviations but the code has "
                                 f"{code.shape[-1]} components (code shape {code.shape[1:]})")
            code = code + self.code_noise * jax.random.normal(code_key, code.shape)
        error = (model.decode(code) - batch) ** 2
        if self.weights is None:
            return error.mean()
        if self.weights.shape[0] != error.shape[-1]:
            raise ValueError(f"weights must give one weight per output position ({error.shape[-1]}), "
                             f"got {self.weights.shape[0]}")
        return (error * self.weights).sum(axis=-1).mean() / self.weights.sum()


def reconstruction_loss(*, code_noise: Sequence[float] | None = None, input_noise: float = 0.0,
                        weights: Sequence[float] | None = None) -> ReconstructionLoss:
    """The autoencoder loss of notebooks 02-07: MSE, optionally with input and code noise.

    ``code_noise`` gives one standard deviation per code component (notebook 04),
    ``input_noise`` one for every input value (notebook 05), ``weights`` one weight
    per output position (notebook 06).
    """
    if code_noise is not None:
        code_noise = np.asarray([checks.non_negative_float(f"code_noise[{i}]", s) for i, s in enumerate(code_noise)],
                                np.float32)
        if code_noise.size == 0:
            raise ValueError("code_noise must give one standard deviation per code component, got none")
    input_noise = checks.non_negative_float("input_noise", input_noise)
    if weights is not None:
        weights = np.asarray([checks.non_negative_float(f"weights[{i}]", w) for i, w in enumerate(weights)],
                             np.float32)
        if weights.sum() == 0:
            raise ValueError("weights must not all be 0")
    return ReconstructionLoss(code_noise, np.float32(input_noise) if input_noise else None, weights)


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

@dataclasses.dataclass(frozen=True)
class _Step:
    """What one compiled program depends on: the model's structure, the loss and the optimiser."""

    graphdef: nnx.GraphDef
    batch_size: int
    learning_rate: float
    b1: float

    def optimizer(self):
        # Adam is elementwise, so flattening the parameters into one vector changes no
        # number; it turns a few small updates per step into one (faster on CPU).
        return optax.flatten(optax.adam(self.learning_rate, b1=self.b1))

    players: tuple[str, ...] | None = None

    @property
    def value_shape(self) -> tuple:
        """Shape of one step's loss: a number, or one per player."""
        return () if self.players is None else (len(self.players),)

    def init(self, params: tuple) -> tuple:
        return tuple(self.optimizer().init(group) for group in params)

    def __call__(self, loss, params: tuple, other, opt_state: tuple, batch, key):
        """One Adam step of each parameter group in turn (one group unless there are players)."""
        values = []
        for i, name in enumerate(self.players or (None,)):
            def group_loss(group, other, key):
                # Fresh Variables (copy=True) created under this trace, so batch norm may update its statistics.
                model = nnx.merge(self.graphdef, *params[:i], group, *params[i + 1:], other, copy=True)
                value = loss(model, batch, key)
                return value if name is None else value[name], nnx.state(model, nnx.Not(nnx.Param))

            group_key = key if name is None else jax.random.fold_in(key, i)
            (value, other), grads = jax.value_and_grad(group_loss, has_aux=True)(params[i], other, group_key)
            updates, group_opt = self.optimizer().update(grads, opt_state[i], params[i])
            params = params[:i] + (optax.apply_updates(params[i], updates),) + params[i + 1:]
            opt_state = opt_state[:i] + (group_opt,) + opt_state[i + 1:]
            values.append(value)
        return params, other, opt_state, values[0] if self.players is None else jnp.stack(values)


def _take_rows(data, rows):
    return jax.tree.map(lambda a: a[rows], data)


def _sample_rows(key, n_rows, shape):
    """Random row numbers in 0..n_rows-1 (the rest of the data is padding)."""
    return jax.random.randint(key, shape, 0, n_rows)


def _chunk_draws(key, n_rows, n_steps, batch_size):
    """The rows (n_steps, batch_size) and loss keys (n_steps,) of a chunk's steps, drawn at once."""
    rows_key, keys_key = jax.random.split(key)
    return _sample_rows(rows_key, n_rows, (n_steps, batch_size)), jax.random.split(keys_key, n_steps)


def _scan_chunk(step: _Step, loss, data, n_rows, begin, end, params, other, opt_state, key, n_steps, axis):
    """Steps ``begin..end-1`` of a chunk of ``n_steps`` steps of one seed, in a ``lax.scan``.

    Every step's rows and key are drawn at once (one random call is much cheaper on
    CPU than one per step), from ``key``, which depends only on the chunk's place in
    the run. Skipping the other steps with ``lax.cond`` lets runs of any length, and
    snapshots at any step, share the one compiled chunk and the same random draws.
    ``axis`` names the device axis the seeds are spread over (a skipped step's loss
    differs per device too).
    """
    rows, keys = _chunk_draws(key, n_rows, n_steps, step.batch_size)

    def one(carry, xs):
        t, rows, k = xs

        def take(carry):
            params, other, opt_state = carry
            params, other, opt_state, value = step(loss, params, other, opt_state, _take_rows(data, rows), k)
            return (params, other, opt_state), value

        skip = lambda c: (c, jax.lax.pcast(jnp.zeros(step.value_shape, jnp.float32), axis, to="varying"))
        return jax.lax.cond((t >= begin) & (t < end), take, skip, carry)

    return jax.lax.scan(one, (params, other, opt_state), (jnp.arange(n_steps), rows, keys))


# Compiling a training program takes about a second, running a chunk a few
# milliseconds. So runs of different sizes are made to share programs: the seeds
# fill a fixed number of slots per device (a device skips its empty slots) and the
# data is padded to a fixed number of rows (mini-batches are drawn from the real
# rows only). Both round up to powers of two, so larger runs still fit.
MIN_SLOTS_PER_DEVICE = 8
MIN_ROWS = 2**18
MAX_PADDED_BYTES = 64 * 2**20
"""Data is padded to ``MIN_ROWS`` rows only while that stays under this size (images would not)."""


def _round_up(n: int, minimum: int) -> int:
    """``n`` rounded up to a power of two, and to at least ``minimum``."""
    return max(minimum, 1 << (n - 1).bit_length())


@dataclasses.dataclass(frozen=True)
class SeedLayout:
    """Seed number ``j`` trains on device ``j % devices``, in that device's slot ``j // devices``."""

    n_seeds: int
    devices: int
    min_slots: int = MIN_SLOTS_PER_DEVICE

    @property
    def slots_per_device(self) -> int:
        return _round_up(-(-self.n_seeds // self.devices), self.min_slots)

    def positions(self) -> np.ndarray:
        """Where each seed sits along the stacked (devices * slots) axis."""
        j = np.arange(self.n_seeds)
        return (j % self.devices) * self.slots_per_device + j // self.devices

    def counts(self) -> np.ndarray:
        """How many seeds each device trains."""
        return np.array([len(range(d, self.n_seeds, self.devices)) for d in range(self.devices)], np.int32)

    def spread(self, values: Sequence[int]) -> np.ndarray:
        """``values`` (one per seed) at their positions; empty slots repeat the first."""
        out = np.full(self.devices * self.slots_per_device, values[0])
        out[self.positions()] = values
        return out


def padded_rows(data: np.ndarray) -> np.ndarray:
    """``data`` followed by rows of zeros, up to ``MIN_ROWS`` (if small) or the next power of two."""
    minimum = MIN_ROWS if MIN_ROWS * data[:1].nbytes <= MAX_PADDED_BYTES else 1
    rows = np.zeros((_round_up(data.shape[0], minimum),) + data.shape[1:], data.dtype)
    rows[: data.shape[0]] = data
    return rows


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _run_scan_chunk(step: _Step, chunk_steps: int, mesh: Mesh, loss, data, n_rows, chunk, begin, end, counts,
                    params, other, opt_state, keys):
    """Steps ``begin..end-1`` of chunk number ``chunk`` for every seed.

    Each device trains the seeds in its first ``counts[device]`` slots.
    """

    def on_one_device(loss, data, n_rows, chunk, begin, end, count, params, other, opt_state, keys):
        def one_seed(i, state):
            params, other, opt_state, losses = state
            p, s, o = jax.tree.map(lambda a: a[i], (params, other, opt_state))
            chunk_key = jax.random.fold_in(keys[i], chunk)
            (p, s, o), seed_losses = _scan_chunk(step, loss, data, n_rows, begin, end, p, s, o, chunk_key,
                                                 chunk_steps, "seeds")
            put = functools.partial(jax.tree.map, lambda a, value: a.at[i].set(value))
            return put(params, p), put(other, s), put(opt_state, o), losses.at[i].set(seed_losses)

        losses = jnp.zeros((keys.shape[0], chunk_steps) + step.value_shape)
        losses = jax.lax.pcast(losses, "seeds", to="varying")  # differs per device
        return jax.lax.fori_loop(0, count[0], one_seed, (params, other, opt_state, losses))

    by_seed, whole = PartitionSpec("seeds"), PartitionSpec()
    return jax.shard_map(on_one_device, mesh=mesh, in_specs=(whole,) * 6 + (by_seed,) * 5, out_specs=by_seed)(
        loss, data, n_rows, chunk, begin, end, counts, params, other, opt_state, keys)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _run_step(step: _Step, mesh: Mesh, loss, data, n_rows, t, params, other, opt_state, keys):
    """Step number ``t`` for one seed on each device, side by side (no loop around the convolutions)."""

    def on_one_device(loss, data, n_rows, t, params, other, opt_state, keys):
        one = functools.partial(jax.tree.map, lambda a: a[0])
        rows_key, step_key = jax.random.split(jax.random.fold_in(keys[0], t))
        batch = _take_rows(data, _sample_rows(rows_key, n_rows, (step.batch_size,)))
        p, s, o, value = step(loss, one(params), one(other), one(opt_state), batch, step_key)
        add = functools.partial(jax.tree.map, lambda a: a[None])
        return add(p), add(s), add(o), value[None]

    by_seed, whole = PartitionSpec("seeds"), PartitionSpec()
    return jax.shard_map(on_one_device, mesh=mesh, in_specs=(whole,) * 4 + (by_seed,) * 4, out_specs=by_seed)(
        loss, data, n_rows, t, params, other, opt_state, keys)


@functools.partial(jax.jit, static_argnums=0)
def _optimizer_states(step: _Step, params):
    return jax.vmap(step.init)(params)


@jax.jit
def _random_keys(seeds):
    # "rbg" keys draw with XLA's own random bit generator: smaller programs than the
    # default threefry, so compiling a run with noise takes about half the time.
    return jax.vmap(lambda seed: jax.random.key(seed, impl="rbg"))(seeds)


def _built_models(make_model, seeds: np.ndarray, filters: tuple):
    """Every slot's initial (parameter groups, other state), stacked on the host.

    The models are built one by one as a student would (a compiled builder would be
    recompiled for every new ``make_model``).
    """
    built = {}
    for seed in np.unique(seeds):
        _, *groups, other = nnx.split(make_model(rngs=nnx.Rngs(int(seed))), *filters, ...)
        built[seed] = (tuple(groups), other)
    return jax.tree.map(lambda *p: np.stack([np.asarray(x) for x in p]), *[built[seed] for seed in seeds])


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
    if loss is None:
        loss = reconstruction_loss()
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
    except AttributeError as err:
        if not isinstance(loss, ReconstructionLoss):
            raise
        raise TypeError("the default loss needs a model with encode() and decode() methods; "
                        "for any other model pass loss=fn(model, batch, key) -> scalar") from err
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
) -> TrainResult:
    """Train one model per seed on ``data`` with Adam and return them all.

    ``make_model(rngs=...)`` builds a fresh model: a model class itself
    (``models.PatchAutoencoder``), ``functools.partial`` of one with its options, or
    any function of ``rngs``. The seed decides the model's initial weights,
    its mini-batches and the keys its loss gets. ``data`` is an array, or a tuple of
    arrays sharing the first axis (e.g. ``(images, labels)``): a batch holds the same
    random rows of each. ``loss(model, batch, key)`` returns the number to minimise;
    ``None`` means :func:`reconstruction_loss` with no noise (the model needs
    ``encode`` and ``decode``). Model state other than ``nnx.Param`` (batch norm
    statistics) is carried from step to step as the loss leaves it.
    """
    if not callable(make_model):
        raise TypeError("make_model must build a model from rngs=..., e.g. models.PatchAutoencoder, "
                        f"got {type(make_model).__name__}")
    data = _checked_data(data)
    seeds = tuple(checks.non_negative_int("seed", s) for s in seeds)
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
    loss = _checked_loss(loss, graphdef, abstract_groups, abstract_other, data, config.batch_size, config.players)
    loop = config.loop if config.loop != "auto" else ("step" if _uses_2d_convolutions(abstract) else "scan")
    step = _Step(graphdef, config.batch_size, config.learning_rate, config.b1, config.players)
    runner = (_ScanRunner if loop == "scan" else _StepRunner)(step, config, make_model, data, loss, seeds, filters)

    snapshots, snapshot_steps = ([runner.params()], [0]) if config.snapshot_every else ([], [])
    losses, done = [], 0
    bar = tqdm(total=config.steps, desc=f"training {len(seeds)} seed{'s' * (len(seeds) > 1)}", unit="step",
               disable=not progress)
    while done < config.steps:
        n = min(runner.chunk - done % runner.chunk, config.steps - done)
        if config.snapshot_every:
            n = min(n, config.snapshot_every - done % config.snapshot_every)
        losses.append(runner.run(done, n))  # waits for the steps: an honest progress bar
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


class _ScanRunner:
    """Runs chunks of steps with ``lax.scan``, the seeds in fixed slots per device (see ``SeedLayout``)."""

    def __init__(self, step: _Step, config: TrainConfig, make_model, data, loss, seeds, filters):
        self.step, self.chunk = step, config.steps_per_chunk
        self.mesh = Mesh(np.array(jax.devices()), ("seeds",))
        by_seed, replicated = NamedSharding(self.mesh, PartitionSpec("seeds")), NamedSharding(self.mesh, PartitionSpec())
        layout = SeedLayout(len(seeds), self.mesh.size)
        self.positions = layout.positions()
        params, other = jax.device_put(_built_models(make_model, layout.spread(seeds), filters), by_seed)
        state = params, other, _optimizer_states(step, params), _random_keys(jax.device_put(layout.spread(seeds), by_seed))
        self.state = jax.device_put(state, by_seed)  # as the chunks return them: one program, not two
        self.counts = jax.device_put(layout.counts(), by_seed)
        n_rows = np.int32(jax.tree.leaves(data)[0].shape[0])
        self.data, self.n_rows, self.loss = jax.device_put((jax.tree.map(padded_rows, data), n_rows, loss), replicated)

    def run(self, done: int, n: int) -> np.ndarray:
        """Steps ``done..done+n-1``, within one chunk."""
        chunk, begin = divmod(done, self.chunk)
        params, other, opt_state, losses = _run_scan_chunk(
            self.step, self.chunk, self.mesh, self.loss, self.data, self.n_rows, np.int32(chunk), np.int32(begin),
            np.int32(begin + n), self.counts, *self.state)
        self.state = params, other, opt_state, self.state[3]
        return np.asarray(losses)[self.positions, begin:begin + n]

    def params(self):
        return jax.tree.map(lambda p: np.asarray(p)[self.positions], self.state[0])

    def other(self):
        return jax.tree.map(lambda p: np.asarray(p)[self.positions], self.state[1])


class _StepRunner:
    """Calls a jitted step from Python; each call steps one seed per device, groups of seeds in turn."""

    def __init__(self, step: _Step, config: TrainConfig, make_model, data, loss, seeds, filters):
        self.step, self.chunk, self.n_seeds = step, min(config.steps_per_chunk, 100), len(seeds)
        # No more devices than seeds: a spare device would train a copy of a seed for nothing.
        self.mesh = Mesh(np.array(jax.devices()[: len(seeds)]), ("seeds",))
        by_seed, replicated = NamedSharding(self.mesh, PartitionSpec("seeds")), NamedSharding(self.mesh, PartitionSpec())
        devices = self.mesh.size
        padded = list(seeds) + [seeds[0]] * (-len(seeds) % devices)  # spare places on the last group's devices
        self.groups = []
        for g in range(0, len(padded), devices):
            group_seeds = np.array(padded[g:g + devices])
            params, other = jax.device_put(_built_models(make_model, group_seeds, filters), by_seed)
            state = params, other, _optimizer_states(step, params), _random_keys(jax.device_put(group_seeds, by_seed))
            self.groups.append(jax.device_put(state, by_seed))
        n_rows = np.int32(jax.tree.leaves(data)[0].shape[0])
        self.data, self.n_rows, self.loss = jax.device_put((data, n_rows, loss), replicated)

    def run(self, done: int, n: int) -> np.ndarray:
        """Steps ``done..done+n-1``."""
        values = [[] for _ in self.groups]
        for t in range(done, done + n):
            for g, (params, other, opt_state, keys) in enumerate(self.groups):  # dispatched without waiting:
                params, other, opt_state, value = _run_step(  # the devices work side by side
                    self.step, self.mesh, self.loss, self.data, self.n_rows, np.int32(t), params, other, opt_state, keys)
                self.groups[g] = params, other, opt_state, keys
                values[g].append(value)
        losses = np.concatenate([np.stack([np.asarray(v) for v in vs], axis=1) for vs in values])
        return losses[: self.n_seeds]

    def _stacked(self, part: int):
        return jax.tree.map(lambda *g: np.concatenate([np.asarray(x) for x in g])[: self.n_seeds],
                            *[state[part] for state in self.groups])

    def params(self):
        return self._stacked(0)

    def other(self):
        return self._stacked(1)


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
    return _chunk_draws(jax.random.fold_in(seed_key, chunk), n_rows, n_steps, batch_size)[0]


def reconstruction_mse(result: TrainResult, data) -> np.ndarray:
    """Mean squared reconstruction error of every seed on ``data``: shape (seeds,)."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult from train(), got {type(result).__name__}")
    data = jnp.asarray(checks.array("data", data, ndim=2, shape_hint="(n_examples, length)"))
    return np.asarray(_errors_per_seed(result.graphdef, result.params, result.other_state, data))


@functools.partial(jax.jit, static_argnums=0)
def _errors_per_seed(graphdef, params, other, data):
    """Reconstruction MSE of every seed, one seed after another in one compiled program."""
    return jax.lax.map(lambda ps: ((nnx.merge(graphdef, *ps[0], ps[1])(data) - data) ** 2).mean(), (params, other))
