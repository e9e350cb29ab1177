"""Train several seeds of a model at once, with the whole loop compiled.

Used by notebooks 02-07.

The textbook loop calls a jitted train step from Python once per step. Here one
compiled program runs ``steps_per_chunk`` steps with ``jax.lax.scan`` for every
seed, and Python only loops over the chunks to move a progress bar. The seeds are
shared out over the CPU devices (one per core, see ``course_utils/__init__.py``)
with ``jax.shard_map``; each device trains its seeds one after another with
``jax.lax.fori_loop`` (``vmap`` would turn each convolution into a grouped
convolution, which is slow on CPU). Each step takes a random mini-batch (all of a
chunk's are drawn at once), optionally adds Gaussian noise to the input and to the
code (one standard deviation per code component), and takes an Adam step on the
mean squared error (optionally weighted per output position).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from . import _checks
from .models import CODE_SIZE


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run besides the data and the seeds."""

    steps: int = 3000
    batch_size: int = 64
    learning_rate: float = 1e-2
    code_noise: tuple[float, ...] | None = None
    """Standard deviation of the Gaussian noise added to each code component."""
    input_noise: float = 0.0
    """Standard deviation of the Gaussian noise added to every input value."""
    loss_weights: tuple[float, ...] | None = None
    """Weight of each output position in the loss (None: all equal)."""
    steps_per_chunk: int = 300
    """Steps per compiled call (the progress bar moves once per call). Runs with the
    same value, model, data width and kind of noise share one compiled program,
    whatever their number of seeds and rows (see ``MIN_SLOTS_PER_DEVICE``)."""

    def __post_init__(self):
        _checks.positive_int("steps", self.steps)
        _checks.positive_int("batch_size", self.batch_size)
        _checks.positive_int("steps_per_chunk", self.steps_per_chunk)
        if _checks.non_negative_float("learning_rate", self.learning_rate) == 0:
            raise ValueError("learning_rate must be > 0, got 0")
        _checks.non_negative_float("input_noise", self.input_noise)
        if self.code_noise is not None:
            if len(self.code_noise) != CODE_SIZE:
                raise ValueError(f"code_noise must give {CODE_SIZE} standard deviations, got {self.code_noise!r}")
            for i, std in enumerate(self.code_noise):
                _checks.non_negative_float(f"code_noise[{i}]", std)
        if self.loss_weights is not None:
            for i, wgt in enumerate(self.loss_weights):
                _checks.non_negative_float(f"loss_weights[{i}]", wgt)
            if sum(self.loss_weights) == 0:
                raise ValueError("loss_weights must not all be 0")
        if self.steps % self.steps_per_chunk:
            raise ValueError(f"steps ({self.steps}) must be a multiple of steps_per_chunk ({self.steps_per_chunk})")


@dataclasses.dataclass
class TrainResult:
    """Trained parameters of every seed (stacked on a leading axis) and their losses."""

    graphdef: nnx.GraphDef
    params: nnx.State
    """Leaves are NumPy arrays (seeds, ...) on the host: taking one seed's needs no compiled program."""
    losses: np.ndarray
    """Training loss of every seed at every step, shape (seeds, steps)."""
    seeds: tuple[int, ...]
    config: TrainConfig
    seconds: float
    """Wall time of the training, compilation included."""

    def model(self, index: int) -> nnx.Module:
        """The trained model of seed number ``index`` (0-based position in ``seeds``)."""
        if not 0 <= index < len(self.seeds):
            raise ValueError(f"index must be in 0..{len(self.seeds) - 1}, got {index}")
        return nnx.merge(self.graphdef, jax.tree.map(lambda p: jnp.asarray(p[index]), self.params))

    def models(self) -> list[nnx.Module]:
        """The trained model of every seed, in the order of ``seeds``."""
        return [self.model(i) for i in range(len(self.seeds))]


def _weighted_mse(prediction, target, weights):
    return (((prediction - target) ** 2) * weights).sum(axis=-1).mean() / weights.sum()


@dataclasses.dataclass(frozen=True)
class _Trainer:
    """What one compiled program depends on: the model's structure and the loop's shape.

    The noise levels and loss weights are passed in as arrays, not compiled in, so
    runs that differ only in their values (notebook 04's noise variants, notebook
    06's border weights) share one compiled program; only whether each kind of noise
    is drawn at all changes the program.
    """

    graphdef: nnx.GraphDef
    batch_size: int
    learning_rate: float
    input_noise: bool
    code_noise: bool

    @classmethod
    def for_config(cls, graphdef, config: TrainConfig) -> "_Trainer":
        return cls(graphdef, config.batch_size, config.learning_rate, bool(config.input_noise),
                   config.code_noise is not None)

    def optimizer(self):
        # Adam is elementwise, so flattening the parameters into one vector changes no
        # number; it turns a few small updates per step into one (faster on CPU).
        return optax.flatten(optax.adam(self.learning_rate))

    def loss(self, params, x, hyper, noise):
        model = nnx.merge(self.graphdef, params)
        code = model.encode(x + hyper["input_noise"] * noise["input"] if self.input_noise else x)
        if self.code_noise:
            code = code + hyper["code_noise"] * noise["code"]
        return _weighted_mse(model.decode(code), x, hyper["loss_weights"])

    def draw(self, data, n_rows, key, n_steps, code_shape):
        """Every mini-batch and noise sample of ``n_steps`` steps, drawn at once.

        One large random call is much cheaper on CPU than one small call per step.
        Mini-batches come from the first ``n_rows`` rows (the rest is padding).
        """
        rows_key, input_key, code_key = jax.random.split(key, 3)
        draws = {"rows": jax.random.randint(rows_key, (n_steps, self.batch_size), 0, n_rows)}
        if self.input_noise:
            draws["input"] = jax.random.normal(input_key, (n_steps, self.batch_size, data.shape[1]))
        if self.code_noise:
            draws["code"] = jax.random.normal(code_key, (n_steps, self.batch_size) + code_shape)
        return draws

    def chunk(self, data, n_rows, hyper, params, opt_state, key, n_steps):
        tx = self.optimizer()
        code_shape = jax.eval_shape(nnx.merge(self.graphdef, params).encode, data[:1]).shape[1:]

        def step(carry, draw):
            params, opt_state = carry
            noise = {name: value for name, value in draw.items() if name != "rows"}
            loss, grads = jax.value_and_grad(self.loss)(params, data[draw["rows"]], hyper, noise)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), self.draw(data, n_rows, key, n_steps, code_shape))
        return params, opt_state, losses


# Compiling a training program takes about a second, running a chunk a few
# milliseconds. So runs of different sizes are made to share programs: the seeds
# fill a fixed number of slots per device (a device skips its empty slots) and the
# data is padded to a fixed number of rows (mini-batches are drawn from the real
# rows only). Both round up to powers of two, so larger runs still fit.
MIN_SLOTS_PER_DEVICE = 8
MIN_ROWS = 2**18


def _round_up(n: int, minimum: int) -> int:
    """``n`` rounded up to a power of two, and to at least ``minimum``."""
    return max(minimum, 1 << (n - 1).bit_length())


@dataclasses.dataclass(frozen=True)
class _SeedLayout:
    """Seed number ``j`` trains on device ``j % devices``, in that device's slot ``j // devices``."""

    n_seeds: int
    devices: int

    @property
    def slots_per_device(self) -> int:
        return _round_up(-(-self.n_seeds // self.devices), MIN_SLOTS_PER_DEVICE)

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


def _seed_mesh() -> Mesh:
    """The devices the seeds are shared out to: one per core on CPU (see ``__init__``)."""
    return Mesh(np.array(jax.devices()), ("seeds",))


def _padded_rows(data: np.ndarray) -> np.ndarray:
    """``data`` followed by rows of zeros, up to ``MIN_ROWS`` or the next power of two."""
    rows = np.zeros((_round_up(data.shape[0], MIN_ROWS),) + data.shape[1:], np.float32)
    rows[: data.shape[0]] = data
    return rows


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _run_chunk(trainer: _Trainer, chunk_steps: int, mesh: Mesh, data, n_rows, hyper, counts, params, opt_state, keys):
    """``chunk_steps`` steps for every seed; compiled once per model, data width and kind of run.

    Each device trains the seeds in its first ``counts[device]`` slots, one after another.
    """

    def on_one_device(data, n_rows, hyper, count, params, opt_state, keys):
        def one_seed(i, state):
            params, opt_state, keys, losses = state
            p, o, k = jax.tree.map(lambda a: a[i], (params, opt_state, keys))
            k, chunk_key = jax.random.split(k)
            p, o, seed_losses = trainer.chunk(data, n_rows, hyper, p, o, chunk_key, chunk_steps)
            put = functools.partial(jax.tree.map, lambda a, value: a.at[i].set(value))
            return put(params, p), put(opt_state, o), keys.at[i].set(k), losses.at[i].set(seed_losses)

        losses = jax.lax.pcast(jnp.zeros((keys.shape[0], chunk_steps)), "seeds", to="varying")  # differs per device
        return jax.lax.fori_loop(0, count[0], one_seed, (params, opt_state, keys, losses))

    by_seed, whole = PartitionSpec("seeds"), PartitionSpec()
    return jax.shard_map(on_one_device, mesh=mesh, in_specs=(whole, whole, whole) + (by_seed,) * 4, out_specs=by_seed)(
        data, n_rows, hyper, counts, params, opt_state, keys)


def _hyper_arrays(config: TrainConfig, length: int) -> dict:
    """The values a compiled run takes as inputs (see ``_Trainer``)."""
    hyper = {"input_noise": np.float32(config.input_noise)}
    if config.code_noise is not None:
        hyper["code_noise"] = np.asarray(config.code_noise, np.float32)
    hyper["loss_weights"] = np.asarray(config.loss_weights or (1.0,) * length, np.float32)
    return hyper


@functools.partial(jax.jit, static_argnums=0)
def _optimizer_states(trainer: _Trainer, params):
    return jax.vmap(trainer.optimizer().init)(params)


@jax.jit
def _random_keys(seeds):
    # "rbg" keys draw with XLA's own random bit generator: smaller programs than the
    # default threefry, so compiling a run with noise takes about half the time.
    return jax.vmap(lambda seed: jax.random.key(seed, impl="rbg"))(seeds)


def _initial_state(make_model, trainer: _Trainer, seeds: np.ndarray, sharding):
    """Every slot's initial parameters (``make_model(nnx.Rngs(seed))``), optimiser state and random key.

    The models are built one by one as a student would (a compiled builder would be
    recompiled for every new ``make_model``); stacking them on the host and the
    jitted helpers avoid dozens of small operations each compiled on first use.
    """
    built = {seed: nnx.split(make_model(nnx.Rngs(int(seed))), nnx.Param)[1] for seed in np.unique(seeds)}
    params = jax.tree.map(lambda *p: np.stack([np.asarray(x) for x in p]), *[built[seed] for seed in seeds])
    params = jax.device_put(params, sharding)
    state = params, _optimizer_states(trainer, params), _random_keys(jax.device_put(seeds, sharding))
    return jax.device_put(state, sharding)  # exactly as _run_chunk returns them: one compiled program, not two


def train(
    make_model: Callable[[nnx.Rngs], nnx.Module],
    data,
    *,
    seeds: Sequence[int],
    config: TrainConfig = TrainConfig(),
    progress: bool = True,
) -> TrainResult:
    """Train one model per seed on ``data`` (n, length) and return them all.

    ``make_model(rngs)`` builds a fresh model with ``encode`` and ``decode``
    methods; the seed decides its initial weights, its mini-batches and its noise.
    """
    if not callable(make_model):
        raise TypeError(f"make_model must be a function rngs -> model, got {type(make_model).__name__}")
    data = np.asarray(_checks.array("data", data, ndim=2, shape_hint="(n_examples, length)"), np.float32)
    seeds = tuple(_checks.positive_int("seed", s, minimum=0) for s in seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    start = time.perf_counter()

    graphdef, abstract_params, other_state = nnx.split(nnx.eval_shape(lambda: make_model(nnx.Rngs(0))), nnx.Param, ...)
    if jax.tree.leaves(other_state):
        raise ValueError("train() handles models whose only state is nnx.Param (no batch statistics or RNG state)")
    output = jax.eval_shape(lambda p, x: nnx.merge(graphdef, p)(x), abstract_params, data[:1])
    if config.loss_weights is not None and len(config.loss_weights) != output.shape[1]:
        raise ValueError(f"loss_weights must give one weight per position ({output.shape[1]}), got {len(config.loss_weights)}")

    mesh = _seed_mesh()
    by_seed, replicated = NamedSharding(mesh, PartitionSpec("seeds")), NamedSharding(mesh, PartitionSpec())
    layout = _SeedLayout(len(seeds), mesh.size)
    trainer = _Trainer.for_config(graphdef, config)
    params, opt_state, keys = _initial_state(make_model, trainer, layout.spread(seeds), by_seed)
    counts = jax.device_put(layout.counts(), by_seed)
    rows, n_rows, hyper = jax.device_put((_padded_rows(data), np.int32(data.shape[0]),
                                          _hyper_arrays(config, output.shape[1])), replicated)
    chunk_steps, positions = config.steps_per_chunk, layout.positions()

    losses = []
    bar = tqdm(total=config.steps, desc=f"training {len(seeds)} seeds", unit="step", disable=not progress)
    for _ in range(config.steps // chunk_steps):
        params, opt_state, keys, chunk_losses = _run_chunk(trainer, chunk_steps, mesh, rows, n_rows, hyper, counts,
                                                           params, opt_state, keys)
        losses.append(np.asarray(chunk_losses)[positions])  # waits for the chunk: an honest progress bar
        bar.set_postfix(loss=f"{losses[-1][:, -1].mean():.2e}")
        bar.update(chunk_steps)
    bar.close()
    params = jax.tree.map(lambda p: np.asarray(p)[positions], params)
    return TrainResult(graphdef, params, np.concatenate(losses, axis=1), seeds, config, time.perf_counter() - start)


def reconstruction_mse(result: TrainResult, data) -> np.ndarray:
    """Mean squared reconstruction error of every seed on ``data``: shape (seeds,)."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult from train(), got {type(result).__name__}")
    data = jnp.asarray(_checks.array("data", data, ndim=2, shape_hint="(n_examples, length)"))
    return np.asarray(_errors_per_seed(result.graphdef, result.params, data))


@functools.partial(jax.jit, static_argnums=0)
def _errors_per_seed(graphdef, params, data):
    """Reconstruction MSE of every seed, one seed after another in one compiled program."""
    return jax.lax.map(lambda p: ((nnx.merge(graphdef, p)(data) - data) ** 2).mean(), params)
