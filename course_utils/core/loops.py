"""The training engine's two loops: how one Adam step is computed, and how many run per call.

Used by :func:`course_utils.core.training.train`, which picks the loop (see its
module docstring for why there are two). :class:`Step` is what one step computes,
shared by both loops; :class:`ScanRunner` runs chunks of steps inside one compiled
``lax.scan`` with the seeds laid out over the CPU devices (:class:`SeedLayout`);
:class:`StepRunner` calls a jitted step from Python, one seed per device.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

STEP_LOOP_REPORT_EVERY = 100
"""The step loop reads its losses back (progress bar, finiteness check) at least this often: a
step there costs milliseconds, so a report every 100 steps keeps the bar moving at no cost."""


@dataclasses.dataclass(frozen=True)
class Step:
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


def chunk_draws(key, n_rows, n_steps, batch_size):
    """The rows (n_steps, batch_size) and loss keys (n_steps,) of a chunk's steps, drawn at once."""
    rows_key, keys_key = jax.random.split(key)
    return _sample_rows(rows_key, n_rows, (n_steps, batch_size)), jax.random.split(keys_key, n_steps)


def _scan_chunk(step: Step, loss, data, n_rows, begin, end, params, other, opt_state, key, n_steps, axis):
    """Steps ``begin..end-1`` of a chunk of ``n_steps`` steps of one seed, in a ``lax.scan``.

    Every step's rows and key are drawn at once (one random call is much cheaper on
    CPU than one per step), from ``key``, which depends only on the chunk's place in
    the run. Skipping the other steps with ``lax.cond`` lets runs of any length, and
    snapshots at any step, share the one compiled chunk and the same random draws.
    ``axis`` names the device axis the seeds are spread over (a skipped step's loss
    differs per device too).
    """
    rows, keys = chunk_draws(key, n_rows, n_steps, step.batch_size)

    def one(carry, xs):
        t, rows, k = xs

        def take(carry):
            params, other, opt_state = carry
            params, other, opt_state, value = step(loss, params, other, opt_state, _take_rows(data, rows), k)
            return (params, other, opt_state), value

        skip = lambda c: (c, jax.lax.pcast(jnp.zeros(step.value_shape, jnp.float32), axis, to="varying"))
        return jax.lax.cond((t >= begin) & (t < end), take, skip, carry)

    return jax.lax.scan(one, (params, other, opt_state), (jnp.arange(n_steps), rows, keys))


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
def _run_scan_chunk(step: Step, chunk_steps: int, mesh: Mesh, loss, data, n_rows, chunk, begin, end, counts,
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
def _run_step(step: Step, mesh: Mesh, loss, data, n_rows, t, params, other, opt_state, keys):
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
def _optimizer_states(step: Step, params):
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


class ScanRunner:
    """Runs chunks of steps with ``lax.scan``, the seeds in fixed slots per device (see ``SeedLayout``)."""

    def __init__(self, step: Step, config, make_model, data, loss, seeds, filters):
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


class StepRunner:
    """Calls a jitted step from Python; each call steps one seed per device, groups of seeds in turn."""

    def __init__(self, step: Step, config, make_model, data, loss, seeds, filters):
        self.step, self.chunk, self.n_seeds = step, min(config.steps_per_chunk, STEP_LOOP_REPORT_EVERY), len(seeds)
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
