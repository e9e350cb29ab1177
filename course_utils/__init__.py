"""course_utils: the small library behind the "Deconvolution, visualized" notebooks.

One module per idea: ``data`` (the curves), ``deconv`` (the maths of a transposed
convolution), ``models`` (the patch autoencoder in Flax NNX), ``training`` (the
compiled multi-seed training engine), ``analysis`` (aligning seeds, ablation,
PCA), ``full_curve`` (overlaps and borders), ``views`` (four views of one
transposed convolution), ``animation``, ``plotting``, ``widgets`` and ``exercises``.
"""

import os

import jax

__version__ = "0.1.0"


def _use_every_cpu_core() -> None:
    """Give JAX one CPU device per core, so training can run seeds side by side.

    Each seed's training is a long chain of tiny operations that keeps one core
    busy; with one device per core, ``training.train`` runs a share of the seeds on
    each (nearly 2x faster on a 2-core laptop). JAX only accepts this before its
    first computation; if that has already happened, training uses one device.
A number chosen by the user (``jax_num_cpu_devices`` or XLA_FLAGS) is kept.
    """
    if jax.config.jax_num_cpu_devices != -1 or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return  # the user chose a number of devices: keep it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        jax.config.update("jax_num_cpu_devices", cores)
    except RuntimeError:
        pass


_use_every_cpu_core()
