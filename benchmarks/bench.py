"""How fast the course is, measured in one run: ``make bench``.

Prints a table and writes ``build/bench.json``. Three parts:

- engine: ``course_utils.training.train`` on 10 seeds of the patch autoencoder
  against the textbook loop (an ``nnx.jit`` train step called from Python once per
  step, one seed after another), same steps, batch size, optimiser and data.
  Run times are measured after compilation; compile times are recorded apart.
- widgets: every explorer's update function (decode + artists updated) over many
  random slider positions, and the same plus rendering the figure to PNG (what the
  notebook then sends to the browser).
- course: every notebook executed top to bottom in a fresh kernel, as CI does,
  with an empty JAX compilation cache shared by the notebooks of this run (cold).

The machines are noisy: compare ratios from one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# This process measures compilation itself: it must not read compiled programs from disk.
os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

import course_utils  # noqa: E402
from course_utils import data, full_curve, models, training, widgets  # noqa: E402
from tools.execute_notebooks import NOTEBOOKS, execute, size_mb  # noqa: E402

course_utils.configure_cpu()  # as the notebooks do

GOALS = {  # key: (goal, True if higher is better)
    "speedup_vs_step_loop": (50.0, True),
    "course_seconds_total": (90.0, False),
    "widget_update_ms_median": (50.0, False),
    "max_notebook_mb": (2.0, False),
}
SEEDS = range(10)
CONFIG = training.TrainConfig()  # 3000 steps, batch 64, Adam 1e-2: what notebooks 02-03 train


def make_model(rngs):
    return models.PatchAutoencoder(rngs=rngs)


def train_patches():
    return data.patches(data.bezier_curves(16384, seed=0))


# --- engine ----------------------------------------------------------------------

@nnx.jit
def textbook_step(model, optimizer, batch):
    def loss_fn(model):
        return ((model(batch) - batch) ** 2).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


def textbook_loop(patches: np.ndarray, seeds, config: training.TrainConfig, steps: int | None = None) -> list:
    """Train one seed after another, one jitted step per Python iteration; return the models."""
    trained = []
    for seed in seeds:
        model = make_model(nnx.Rngs(seed))
        optimizer = nnx.Optimizer(model, optax.adam(config.learning_rate), wrt=nnx.Param)
        rng = np.random.default_rng(seed)
        for _ in tqdm(range(steps or config.steps), desc=f"textbook loop, seed {seed}", leave=False):
            loss = textbook_step(model, optimizer, patches[rng.integers(0, len(patches), config.batch_size)])
        loss.block_until_ready()
        trained.append(model)
    return trained


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def bench_engine() -> dict:
    patches = train_patches()
    test = data.patches(data.bezier_curves(2048, seed=1000))
    # Both ways build the same models: compile those small operations before timing either.
    make_model(nnx.Rngs(0))(patches[:1])
    _, engine_first = timed(training.train, make_model, patches, seeds=SEEDS, config=CONFIG, progress=False)
    engine_runs = []
    for _ in range(3):
        result, seconds = timed(training.train, make_model, patches, seeds=SEEDS, config=CONFIG, progress=False)
        engine_runs.append(seconds)
    engine_run = statistics.median(engine_runs)

    _, textbook_first = timed(textbook_loop, patches, [0], CONFIG, steps=1)
    _, textbook_one_step = timed(textbook_loop, patches, [0], CONFIG, steps=1)
    textbook_models, textbook_run = timed(textbook_loop, patches, SEEDS, CONFIG)

    engine_mse = training.reconstruction_mse(result, test)
    textbook_mse = [float(((np.asarray(m(test)) - test) ** 2).mean()) for m in textbook_models]
    return {
        "seeds": len(SEEDS), "steps": CONFIG.steps, "batch_size": CONFIG.batch_size, "devices": len(jax.devices()),
        "engine_run_s": engine_run, "engine_compile_s": engine_first - engine_run,
        "textbook_run_s": textbook_run, "textbook_compile_s": textbook_first - textbook_one_step,
        "textbook_ms_per_step": 1000 * textbook_run / (len(SEEDS) * CONFIG.steps),
        "engine_heldout_mse_median": float(np.median(engine_mse)),
        "textbook_heldout_mse_median": float(np.median(textbook_mse)),
        "speedup_vs_step_loop": textbook_run / engine_run,
    }


# --- widgets ---------------------------------------------------------------------

def explorer_cases(model) -> dict:
    """Each explorer: (figure, update(rng) that moves its sliders to a random position)."""
    def curve(rng):
        return rng.uniform(-1, 1, 2)

    reconstructors = {fix: (lambda curves, fix=fix: full_curve.reconstruct(model, curves, fix)) for fix in full_curve.FIXES}
    cases = {}
    fig, art = widgets.curve_explorer_figure()
    cases["curve (01)"] = fig, lambda rng: widgets.update_curve_explorer(art, *curve(rng))
    fig, art_r = widgets.reconstruction_explorer_figure()
    cases["reconstruction (02)"] = fig, lambda rng: widgets.update_reconstruction_explorer(
        art_r, model, *curve(rng), int(rng.integers(0, 9)))
    fig, art_l = widgets.latent_explorer_figure(model)
    cases["latent (03)"] = fig, lambda rng: widgets.update_latent_explorer(art_l, *rng.uniform(-1, 1, 3))
    fig, art_e = widgets.encoder_explorer_figure(model)
    cases["encoder (03)"] = fig, lambda rng: widgets.update_encoder_explorer(art_e, *curve(rng), int(rng.integers(0, 9)))
    fig, art_f = widgets.full_curve_explorer_figure()
    cases["full curve (06)"] = fig, lambda rng: widgets.update_full_curve_explorer(
        art_f, reconstructors, str(rng.choice(full_curve.FIXES)), *curve(rng))
    fig, art_s = widgets.size_explorer_figure()
    cases["size (07)"] = fig, lambda rng: widgets.update_size_explorer(
        art_s, int(rng.integers(1, 9)), int(rng.integers(1, 10)), int(rng.integers(1, 7)), int(rng.integers(0, 7)))
    return cases


def bench_widgets(updates: int = 200, renders: int = 20) -> dict:
    model = training.train(make_model, train_patches(), seeds=[0], config=CONFIG, progress=False).model(0)
    results = {}
    for name, (fig, update) in explorer_cases(model).items():
        rng = np.random.default_rng(0)
        update(rng)  # first call compiles the model's functions for this explorer
        fig.savefig(io.BytesIO(), format="png")
        fig.set_layout_engine("none")  # as widgets._wire does after the first figure
        update_ms = [1000 * timed(update, rng)[1] for _ in range(updates)]
        render_ms = []
        for _ in range(renders):
            start = time.perf_counter()
            update(rng)
            fig.savefig(io.BytesIO(), format="png")  # what the explorer sends to the browser
            render_ms.append(1000 * (time.perf_counter() - start))
        results[name] = {"update_ms_median": statistics.median(update_ms), "update_ms_max": max(update_ms),
                         "update_and_png_ms_median": statistics.median(render_ms)}
        matplotlib.pyplot.close(fig)
    return results


# --- course ----------------------------------------------------------------------

def bench_course() -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = cache  # empty: a cold run, shared by this run's kernels
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        for path in tqdm(NOTEBOOKS, desc="executing notebooks"):
            notebook, seconds = execute(path)
            results[path.name] = {"seconds": seconds, "mb": size_mb(notebook)}
        del os.environ["JAX_COMPILATION_CACHE_DIR"]
    return results


# --- report ----------------------------------------------------------------------

def summary(engine: dict | None, widget_results: dict | None, course: dict | None) -> dict:
    out = {}
    if engine:
        out["speedup_vs_step_loop"] = engine["speedup_vs_step_loop"]
    if course:
        out["course_seconds_total"] = sum(r["seconds"] for r in course.values())
        out["max_notebook_mb"] = max(r["mb"] for r in course.values())
    if widget_results:
        # The slowest explorer's median: every explorer must meet the goal.
        out["widget_update_ms_median"] = max(r["update_ms_median"] for r in widget_results.values())
    return out


def print_table(result: dict) -> None:
    print(f"\n{'measure':28s} {'value':>10s} {'goal':>10s}  met")
    for key, value in result["summary"].items():
        goal, higher = GOALS[key]
        met = value >= goal if higher else value <= goal
        print(f"{key:28s} {value:10.2f} {('>= ' if higher else '<= ') + f'{goal:g}':>10s}  {'yes' if met else 'NO'}")
    if "engine" in result:
        e = result["engine"]
        print(f"\nengine: {e['seeds']} seeds x {e['steps']} steps on {e['devices']} device(s): "
              f"{e['engine_run_s']:.2f} s (compile {e['engine_compile_s']:.2f} s); textbook loop "
              f"{e['textbook_run_s']:.1f} s ({e['textbook_ms_per_step']:.2f} ms/step, compile "
              f"{e['textbook_compile_s']:.2f} s); held-out MSE median {e['engine_heldout_mse_median']:.1e} "
              f"vs {e['textbook_heldout_mse_median']:.1e}")
    for name, w in result.get("widgets", {}).items():
        print(f"widget {name:22s} update {w['update_ms_median']:6.2f} ms (max {w['update_ms_max']:6.2f}), "
              f"with PNG render {w['update_and_png_ms_median']:6.1f} ms")
    for name, n in result.get("notebooks", {}).items():
        print(f"notebook {name:32s} {n['seconds']:6.1f} s {n['mb']:5.2f} MB")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="engine,widgets,course", help="comma-separated: engine, widgets, course")
    parser.add_argument("--out", default=str(ROOT / "build" / "bench.json"))
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    unknown = parts - {"engine", "widgets", "course"}
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}: choose from engine, widgets, course")

    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                          "jax": jax.__version__, "backend": jax.default_backend()}}
    engine = bench_engine() if "engine" in parts else None
    widget_results = bench_widgets() if "widgets" in parts else None
    course = bench_course() if "course" in parts else None
    result["summary"] = summary(engine, widget_results, course)
    result.update({k: v for k, v in [("engine", engine), ("widgets", widget_results), ("notebooks", course)] if v})
    result["goals"] = {key: {"goal": goal, "higher_is_better": higher} for key, (goal, higher) in GOALS.items()}

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**result["summary"], **result}, indent=2) + "\n")
    print_table(result)
    print(f"\nwritten: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
