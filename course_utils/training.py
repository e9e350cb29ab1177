"""Train several seeds of a model at once, with the whole loop compiled.

Used by notebooks 02-06.

The textbook loop calls a jitted train step from Python once per step. Here one
compiled program runs ``steps_per_chunk`` steps with ``jax.lax.scan`` for every
seed, and Python only loops over the chunks to move a progress bar. The seeds are
shared out over the CPU devices (one per core, see ``course_utils/__init__.py``)
with ``jax.shard_map``; each device trains its seeds one after another with
``jax.lax.map`` (``vmap`` would turn each convolution into a grouped convolution,
which is slow on CPU). Each step takes a random mini-batch (all of a chunk's are
drawn at once), optionally adds Gaussian noise to the input and to the code (one
standard deviation per code component), and takes an Adam step on the mean
squared error (optionally weighted per output position).
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
    same value, model, data shape, number of seeds and kind of noise share one
    compiled program."""

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
        return nnx.merge(self.graphdef, jax.tree.map(lambda p: p[index], self.params))

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

    def draw(self, data, key, n_steps, code_shape):
        """Every mini-batch and noise sample of ``n_steps`` steps, drawn at once.

        One large random call is much cheaper on CPU than one small call per step.
        """
        rows_key, input_key, code_key = jax.random.split(key, 3)
        draws = {"rows": jax.random.randint(rows_key, (n_steps, self.batch_size), 0, data.shape[0])}
        if self.input_noise:
            draws["input"] = jax.random.normal(input_key, (n_steps, self.batch_size, data.shape[1]))
        if self.code_noise:
            draws["code"] = jax.random.normal(code_key, (n_steps, self.batch_size) + code_shape)
        return draws

    def chunk(self, data, hyper, params, opt_state, key, n_steps):
        tx = self.optimizer()
        code_shape = jax.eval_shape(nnx.merge(self.graphdef, params).encode, data[:1]).shape[1:]

        def step(carry, draw):
            params, opt_state = carry
            noise = {name: value for name, value in draw.items() if name != "rows"}
            loss, grads = jax.value_and_grad(self.loss)(params, data[draw["rows"]], hyper, noise)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), self.draw(data, key, n_steps, code_shape))
        return params, opt_state, losses


def _seed_mesh(n_seeds: int) -> Mesh:
    """The devices the seeds are shared out to: one per core on CPU (see ``__init__``)."""
    devices = jax.devices()[:n_seeds]
    return Mesh(np.array(devices), ("seeds",))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _run_chunk(trainer: _Trainer, chunk_steps: int, mesh: Mesh, data, hyper, params, opt_state, keys):
    """``chunk_steps`` steps for every seed; compiled once per model, data shape, seed count and kind of run.

    Each device trains its share of the seeds one after another (``lax.map``).
    """

    def one_seed(args):
        p, o, k = args
        k, chunk_key = jax.random.split(k)
        p, o, losses = trainer.chunk(data, hyper, p, o, chunk_key, chunk_steps)
        return p, o, k, losses

    def on_one_device(params, opt_state, keys):
        return jax.lax.map(one_seed, (params, opt_state, keys))

    by_seed = PartitionSpec("seeds")
    return jax.shard_map(on_one_device, mesh=mesh, in_specs=by_seed, out_specs=by_seed)(params, opt_state, keys)


def _hyper_arrays(config: TrainConfig, length: int) -> dict:
    """The values a compiled run takes as inputs (see ``_Trainer``)."""
    hyper = {"input_noise": jnp.float32(config.input_noise)}
    if config.code_noise is not None:
        hyper["code_noise"] = jnp.asarray(config.code_noise, jnp.float32)
    hyper["loss_weights"] = jnp.asarray(config.loss_weights or (1.0,) * length, jnp.float32)
    return hyper


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
    data = _checks.array("data", data, ndim=2, shape_hint="(n_examples, length)")
    seeds = tuple(_checks.positive_int("seed", s, minimum=0) for s in seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    start = time.perf_counter()

    mesh = _seed_mesh(len(seeds))
    # Every device trains as many seeds: pad with copies of the last seed, dropped at the end.
    run_seeds = seeds + seeds[-1:] * (-len(seeds) % mesh.size)
    models = [make_model(nnx.Rngs(seed)) for seed in run_seeds]
    graphdef, _, other_state = nnx.split(models[0], nnx.Param, ...)
    if jax.tree.leaves(other_state):
        raise ValueError("train() handles models whose only state is nnx.Param (no batch statistics or RNG state)")
    params = jax.tree.map(lambda *p: jnp.stack(p), *[nnx.split(m, nnx.Param)[1] for m in models])
    check = nnx.merge(graphdef, jax.tree.map(lambda p: p[0], params))(data[:1])
    if config.loss_weights is not None and len(config.loss_weights) != check.shape[1]:
        raise ValueError(f"loss_weights must give one weight per position ({check.shape[1]}), got {len(config.loss_weights)}")

    trainer = _Trainer.for_config(graphdef, config)
    opt_state = jax.vmap(trainer.optimizer().init)(params)
    # "rbg" keys draw with XLA's own random bit generator: smaller programs than the
    # default threefry, so compiling a run with noise takes about half the time.
    keys = jnp.stack([jax.random.key(seed, impl="rbg") for seed in run_seeds])
    params, opt_state, keys = jax.device_put((params, opt_state, keys), NamedSharding(mesh, PartitionSpec("seeds")))
    hyper = _hyper_arrays(config, check.shape[1])
    chunk_steps = config.steps_per_chunk

    data = jnp.asarray(data)
    losses = []
    bar = tqdm(total=config.steps, desc=f"training {len(seeds)} seeds", unit="step", disable=not progress)
    for _ in range(config.steps // chunk_steps):
        params, opt_state, keys, chunk_losses = _run_chunk(trainer, chunk_steps, mesh, data, hyper, params, opt_state, keys)
        losses.append(np.asarray(chunk_losses)[: len(seeds)])  # waits for the chunk: an honest progress bar
        bar.set_postfix(loss=f"{losses[-1][:, -1].mean():.2e}")
        bar.update(chunk_steps)
    bar.close()
    params = jax.device_put(jax.tree.map(lambda p: p[: len(seeds)], params), jax.devices()[0])
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
