"""Importing course_utils changes no process-wide setting; configure_cpu() is the one explicit call."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_importing_the_package_changes_no_jax_or_xla_setting():
    done = run(
        "import os, jax\n"
        "before = (os.environ.get('XLA_FLAGS'), jax.config.jax_num_cpu_devices)\n"
        "import course_utils\n"
        "from course_utils import registry  # every module of the package\n"
        "after = (os.environ.get('XLA_FLAGS'), jax.config.jax_num_cpu_devices)\n"
        "assert before == after, (before, after)\n"
        "print('unchanged')\n")
    assert done.returncode == 0 and "unchanged" in done.stdout, done.stderr[-2000:]


def test_a_process_that_already_started_jax_keeps_its_devices_and_still_trains():
    done = run(
        "import jax, jax.numpy as jnp\n"
        "jax.config.update('jax_num_cpu_devices', 1)\n"
        "jnp.ones(3).block_until_ready()  # JAX has started with the user's own setting\n"
        "import course_utils\n"
        "assert course_utils.configure_cpu() == 1  # too late to change: it keeps what JAX has\n"
        "from course_utils.core import training\n"
        "from course_utils.part1 import data, models\n"
        "patches = data.patches(data.bezier_curves(64, seed=0))\n"
        "result = training.train(lambda rngs: models.PatchAutoencoder(rngs=rngs), patches, seeds=[0, 1],\n"
        "                        config=training.TrainConfig(steps=10), progress=False)\n"
        "assert result.losses.shape == (2, 10)\n"
        "print('trained')\n")
    assert done.returncode == 0 and "trained" in done.stdout, done.stderr[-2000:]


def test_each_notebook_module_loads_without_the_heavy_libraries_it_does_not_use():
    """A notebook's set-up cell pays only for what it uses: Part I loads no SciPy statistics, no Part II."""
    done = run(
        "import sys\n"
        "from course_utils.core import training\n"
        "from course_utils.part1 import analysis, animations, data, exercises, explorers, losses, models, plotting\n"
        "from course_utils.part2 import attribution, sanity\n"
        "heavy = sorted(m for m in ('scipy.stats', 'sklearn') if m in sys.modules)\n"
        "part2 = sorted(m for m in sys.modules if m.startswith('course_utils.part2.') and 'attribution' not in m\n"
        "               and 'sanity' not in m and 'cnn' not in m and 'shapes' not in m)\n"
        "print('heavy', heavy, 'part2', part2)\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "heavy [] part2 []" in done.stdout, done.stdout

