"""Independent optimisations shared out over the CPU devices, one share per core.

Used by :mod:`course_utils.part2.synthesis` (notebook 12): each image's
optimisation is independent of the others', so with one JAX device per core
(``course_utils.configure_cpu``) a compiled program over a batch sharded on its
first axis runs each share on its own core (the small CNN's ascents). Not for notebook 13's textures: their FFTs already use
every core, and sharing out made them slower (:mod:`course_utils.part2.textures`).
"""

from __future__ import annotations

import math

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from . import checks


def spread(batch, replicated):
    """Put ``batch`` (arrays with a leading axis of independent items) in equal shares on every device,
    ``replicated`` whole on each. A batch of one item stays on the first device.

    The batch's length must be a multiple of the number of devices (see :func:`padded_length`).
    """
    size = jax.tree.leaves(batch)[0].shape[0]
    devices = jax.devices()[:1] if size == 1 else jax.devices()
    if size % len(devices):
        raise ValueError(f"batch has {size} items, not a multiple of the {len(devices)} devices: pad it "
                         "(padded_length)")
    mesh = Mesh(np.array(devices), ("items",))
    return (jax.device_put(batch, NamedSharding(mesh, PartitionSpec("items"))),
            jax.device_put(replicated, NamedSharding(mesh, PartitionSpec())))


def padded_length(n: int, multiple: int = 1) -> int:
    """``n`` rounded up to a multiple of ``multiple`` and of the number of devices (1 stays 1)."""
    n, multiple = checks.positive_int("n", n), checks.positive_int("multiple", multiple)
    if n == 1:
        return 1
    step = math.lcm(multiple, len(jax.devices()))
    return -(-n // step) * step
