"""course_utils: the small library behind the "Deconvolution, visualized" notebooks.

Its folders are its floors; each imports only the ones below it::

    registry.py    the registry of every explorer (imports everything; nothing imports it)
    part2/         notebooks 08-13: reusable modules and one *_lesson module per notebook
    part1/         notebooks 01-07
    display/       figures that redraw what moves, animation players, the explorer kit
    core/          argument checks, transposed-convolution maths, the training engine

Part II may use Part I; ``display`` and ``core`` know no notebook. A notebook imports
what it uses, e.g. ``from course_utils.part1 import data, models``.

Importing the package changes no process-wide setting. Each notebook's set-up cell
calls :func:`configure_cpu` visibly, before its first JAX computation.
"""

import os

import jax

__version__ = "0.1.0"


# XLA's older CPU code generator for fused operations compiles the course's training
# programs 2-3x faster (e.g. 2.2 s -> 0.8 s) and runs them as fast. XLA_FLAGS is read
# when JAX starts its CPU backend, so this only counts before the first computation.
# (XLA rejects unknown flags: check this one when upgrading jaxlib, pinned at 0.10.2.)
FAST_COMPILE_FLAG = "--xla_cpu_use_fusion_emitters=false"


def configure_cpu() -> int:
    """Faster compilation (see ``FAST_COMPILE_FLAG``) and one CPU device per core.

    Call it once, before the first JAX computation (the notebooks do it in their
    set-up cell). Each seed's training is a long chain of tiny operations that keeps
    one core busy; with one device per core, ``training.train`` runs a share of the
    seeds on each (nearly 2x faster on a 2-core laptop). JAX only accepts this before
    its first computation; after that the call changes nothing and training uses the
    devices JAX already has. Choices the user made (``jax_num_cpu_devices``, either
    flag in XLA_FLAGS) are kept. Returns the number of CPU devices JAX will use.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_use_fusion_emitters" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {FAST_COMPILE_FLAG}".strip()
    if jax.config.jax_num_cpu_devices == -1 and "xla_force_host_platform_device_count" not in flags:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        try:
            jax.config.update("jax_num_cpu_devices", cores)
        except RuntimeError:  # JAX has already started its backends: keep what it has
            pass
    return len(jax.devices("cpu"))
