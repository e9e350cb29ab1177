"""How fast the course is, measured in one run: ``make bench``.

Prints a table and writes ``build/bench.json``. Five parts:

- engine: ``course_utils.training.train`` on 10 seeds of the patch autoencoder
  against the textbook loop (an ``nnx.jit`` train step called from Python once per
  step, one seed after another), same steps, batch size, optimiser and data.
  Run times are measured after compilation; compile times are recorded apart.
- conv2d: the same comparison for notebook 11's 2-D convolutional classifier
  (``cnn.ShapeCNN`` on ``shapes`` images, cross-entropy, 2 seeds), where the engine
  runs its jitted-step loop.
- widgets: every registered explorer's update function over many random slider
  positions, and the same plus the PNG frame it sends to the browser
  (``benchmarks/explorers.py``).
- browser: the browser test (``tests/test_browser.py``) moves every explorer's
  sliders in headless Chromium and times slider-to-picture; its
  ``build/browser/latency.json`` gives JupyterLab's round trip on a control that
  computes nothing (``round_trip_ms_median``) and the slowest explorer's median,
  in ms and as a multiple of that round trip (``explorer_round_trips``).
- course: every notebook executed top to bottom in a fresh kernel, as CI does,
  with an empty JAX compilation cache shared by the notebooks of this run (cold).
  Before each notebook a fresh Python process times 1,000 textbook steps (a few
  seconds, while no kernel runs): the reference scale is the median of these
  bursts, so it measures the machine as it was while the notebooks ran.

The machines are noisy: compare ratios from one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
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

import subprocess  # noqa: E402

import jax  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

import course_utils  # noqa: E402
from benchmarks.explorers import bench_explorers  # noqa: E402
from course_utils.core import training  # noqa: E402
from course_utils.part1 import data, losses, models  # noqa: E402
from course_utils.part2 import cnn, shapes  # noqa: E402
from tools.execute_notebooks import NOTEBOOKS, execute, size_mb  # noqa: E402

course_utils.configure_cpu()  # as the notebooks do

REFERENCE_TEXTBOOK_MS = 1.2
"""Reference seconds: seconds x 1.2 / (the textbook patch-model step's ms, measured in the same run), i.e. the
time on a machine whose textbook step takes 1.2 ms. Seconds do not travel between machines; this ratio does."""
BURST_STEPS = 1000
"""Textbook steps timed before each notebook (the course's yardstick, see ``bench_course``)."""


def notebook_budget(name: str) -> float:
    """A notebook's budget in reference seconds: 20, or 30 for notebook 10 and later."""
    return 30.0 if int(name[:2]) >= 10 else 20.0


GOALS = {  # key: (goal, True if higher is better)
    "speedup_vs_step_loop": (100.0, True),
    "speedup_vs_step_loop_conv2d": (1.5, True),
    "course_reference_seconds": (150.0, False),
    "worst_notebook_reference_overrun": (0.0, False),
    "widget_update_ms_median": (50.0, False),
    "explorer_round_trips": (1.5, False),
    "max_notebook_mb": (2.0, False),
}
SEEDS = range(10)
CONFIG = training.TrainConfig()  # 3000 steps, batch 64, Adam 1e-2: what notebooks 02-03 train


make_model = models.PatchAutoencoder


def train_patches():
    return data.patches(data.course_curves(0)[0])


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
        model = make_model(rngs=nnx.Rngs(seed))
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
    test = data.patches(data.course_curves(0)[1])
    # Both ways build the same models: compile those small operations before timing either.
    make_model(rngs=nnx.Rngs(0))(patches[:1])
    _, engine_first = timed(training.train, make_model, patches, seeds=SEEDS, config=CONFIG, progress=False)
    engine_runs = []
    for _ in range(3):
        result, seconds = timed(training.train, make_model, patches, seeds=SEEDS, config=CONFIG, progress=False)
        engine_runs.append(seconds)
    engine_run = statistics.median(engine_runs)

    _, textbook_first = timed(textbook_loop, patches, [0], CONFIG, steps=1)
    _, textbook_one_step = timed(textbook_loop, patches, [0], CONFIG, steps=1)
    textbook_models, textbook_run = timed(textbook_loop, patches, SEEDS, CONFIG)

    engine_mse = losses.reconstruction_mse(result, test)
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


# --- conv2d -------------------------------------------------------------------------

CONV2D_SEEDS = (0, 1)
CONV2D_CONFIG = training.TrainConfig(steps=300, batch_size=64, learning_rate=3e-3)


@nnx.jit
def textbook_classifier_step(model, optimizer, images, labels):
    def loss_fn(model):
        return cnn.cross_entropy_loss(model, (images, labels))

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


def textbook_classifier_loop(images, labels, seeds, config, steps=None) -> list:
    trained = []
    for seed in seeds:
        model = cnn.ShapeCNN(rngs=nnx.Rngs(seed))
        optimizer = nnx.Optimizer(model, optax.adam(config.learning_rate), wrt=nnx.Param)
        rng = np.random.default_rng(seed)
        for _ in range(steps or config.steps):
            rows = rng.integers(0, len(images), config.batch_size)
            loss = textbook_classifier_step(model, optimizer, images[rows], labels[rows])
        loss.block_until_ready()
        trained.append(model)
    return trained


def bench_conv2d() -> dict:
    images, labels, _ = shapes.make_dataset(4096, seed=0)
    test_images, test_labels, _ = shapes.make_dataset(1000, seed=1)

    def make(rngs):
        return cnn.ShapeCNN(rngs=rngs)

    def engine():
        return training.train(make, (images, labels), seeds=CONV2D_SEEDS, config=CONV2D_CONFIG,
                              loss=cnn.cross_entropy_loss, progress=False)

    # Both ways build the same models: compile those small operations before timing either.
    jax.block_until_ready(nnx.state(make(nnx.Rngs(0))))
    _, engine_first = timed(engine)
    result, engine_run = timed(engine)
    _, textbook_first = timed(textbook_classifier_loop, images, labels, [0], CONV2D_CONFIG, steps=1)
    _, textbook_one_step = timed(textbook_classifier_loop, images, labels, [0], CONV2D_CONFIG, steps=1)
    textbook_models, textbook_run = timed(textbook_classifier_loop, images, labels, CONV2D_SEEDS, CONV2D_CONFIG)
    steps = len(CONV2D_SEEDS) * CONV2D_CONFIG.steps
    return {
        "model": "cnn.ShapeCNN on 32x32 shapes", "seeds": len(CONV2D_SEEDS), "steps": CONV2D_CONFIG.steps,
        "batch_size": CONV2D_CONFIG.batch_size, "loop": result.loop,
        "engine_run_s": engine_run, "engine_compile_s": engine_first - engine_run,
        "textbook_run_s": textbook_run, "textbook_compile_s": textbook_first - textbook_one_step,
        "engine_ms_per_seed_step": 1000 * engine_run / steps, "textbook_ms_per_step": 1000 * textbook_run / steps,
        "engine_test_accuracy": [cnn.accuracy(m, test_images, test_labels) for m in result.models()],
        "textbook_test_accuracy": [cnn.accuracy(m, test_images, test_labels) for m in textbook_models],
        "speedup_vs_step_loop_conv2d": textbook_run / engine_run,
    }


# --- widgets ---------------------------------------------------------------------

def bench_widgets() -> dict:
    model = training.train(make_model, train_patches(), seeds=[0], config=CONFIG, progress=False).model(0)
    return bench_explorers(model)


# --- browser ---------------------------------------------------------------------

def bench_browser() -> dict:
    """Run the browser test (it writes build/browser/latency.json) and read its figures."""
    latency = ROOT / "build" / "browser" / "latency.json"
    latency.unlink(missing_ok=True)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "browser",
                          "tests/test_browser.py"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if not latency.exists():
        raise RuntimeError("the browser test wrote no build/browser/latency.json:\n" + (run.stdout + run.stderr)[-3000:])
    return json.loads(latency.read_text())


# --- course ----------------------------------------------------------------------

def textbook_burst() -> float:
    """Milliseconds per step of BURST_STEPS textbook steps, timed in a fresh Python process.

    A fresh process, as each notebook's kernel is: the step is Python dispatch bound,
    and in a process that has done much before (this one: the engine, explorers and
    browser parts), collecting its garbage slows each step (1.46 ms before the first
    notebook, rising to 2.13 ms by the last, in one run; fresh processes: 0.99-1.22 ms).
    """
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}  # nothing into the course's cache
    run = subprocess.run([sys.executable, __file__, "--textbook-burst"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    return float(run.stdout.strip().splitlines()[-1])


def _print_textbook_burst() -> None:
    patches = train_patches()
    textbook_loop(patches, [0], CONFIG, steps=2)  # compiled before timing
    _, seconds = timed(textbook_loop, patches, [0], CONFIG, steps=BURST_STEPS)
    print(1000 * seconds / BURST_STEPS)


def bench_course() -> dict:
    """Each notebook's seconds, with the textbook step timed (in a fresh process) just before it.

    The one long textbook run of ``bench_engine`` happens minutes before the course,
    and on these machines the step's time drifts by 10-25 % within minutes while the
    notebooks' do not (two runs an hour apart: course 175.4 and 175.2 s, textbook
    0.98 and 1.22 ms), so the course is scaled by steps timed while it runs.
    """
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = cache  # empty: a cold run, shared by this run's kernels
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        for path in tqdm(NOTEBOOKS, desc="executing notebooks"):
            burst = textbook_burst()
            cells = []
            notebook, seconds = execute(path, cell_seconds=cells)
            results[path.name] = {"seconds": seconds, "setup_seconds": cells[0], "mb": size_mb(notebook),
                                  "textbook_ms_before": burst, "cell_seconds": [round(c, 3) for c in cells]}
        del os.environ["JAX_COMPILATION_CACHE_DIR"]
    return results


# --- report ----------------------------------------------------------------------

def summary(engine: dict | None, conv2d: dict | None, widget_results: dict | None, browser: dict | None,
            course: dict | None) -> dict:
    out = {}
    if engine:
        out["speedup_vs_step_loop"] = engine["speedup_vs_step_loop"]
    if conv2d:
        out["speedup_vs_step_loop_conv2d"] = conv2d["speedup_vs_step_loop_conv2d"]
    if browser:
        out["round_trip_ms_median"] = browser["round_trip_ms_median"]
        out["explorer_browser_ms_median"] = browser["explorer_browser_ms_median"]
        out["explorer_round_trips"] = browser["explorer_round_trips"]
    if course:
        out["course_seconds_total"] = sum(r["seconds"] for r in course.values())
        out["max_notebook_seconds"] = max(r["seconds"] for r in course.values())
        out["max_notebook_mb"] = max(r["mb"] for r in course.values())
        # The scale: the median of the textbook bursts timed between the notebooks of this run.
        bursts = [r["textbook_ms_before"] for r in course.values()]
        out["course_textbook_ms_median"] = statistics.median(bursts)
        out["course_textbook_ms_spread"] = max(bursts) - min(bursts)
        scale = REFERENCE_TEXTBOOK_MS / out["course_textbook_ms_median"]
        for name, r in course.items():
            r["reference_seconds"] = r["seconds"] * scale
        out["reference_scale"] = scale
        out["course_reference_seconds"] = sum(r["reference_seconds"] for r in course.values())
        out["worst_notebook_reference_overrun"] = max(r["reference_seconds"] - notebook_budget(name)
                                                      for name, r in course.items())
    if widget_results:
        # The slowest explorer's median: every explorer must meet the goal.
        out["widget_update_ms_median"] = max(r["update_ms_median"] for r in widget_results.values())
    return out


def print_table(result: dict) -> None:
    print(f"\n{'measure':28s} {'value':>10s} {'goal':>10s}  met")
    for key, value in result["summary"].items():
        if key not in GOALS:
            print(f"{key:28s} {value:10.2f}")
            continue
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
    if "conv2d" in result:
        c = result["conv2d"]
        print(f"conv2d: {c['model']}, {c['seeds']} seeds x {c['steps']} steps, {c['loop']} loop: engine "
              f"{c['engine_ms_per_seed_step']:.2f} ms per seed-step (compile {c['engine_compile_s']:.2f} s), textbook "
              f"{c['textbook_ms_per_step']:.2f} ms per step (compile {c['textbook_compile_s']:.2f} s); test accuracy "
              f"{min(c['engine_test_accuracy']):.3f}-{max(c['engine_test_accuracy']):.3f} vs "
              f"{min(c['textbook_test_accuracy']):.3f}-{max(c['textbook_test_accuracy']):.3f}")
    for name, e in result.get("browser", {}).get("explorers", {}).items():
        multiple = f" = {e['round_trips']:4.2f} round trips" if e.get("round_trips") else ""
        print(f"browser {name:38s} median {e['median_ms']:6.1f} ms{multiple}, p90 {e['p90_ms']:6.1f} ms")
    for name, w in result.get("widgets", {}).items():
        print(f"widget {name:22s} update {w['update_ms_median']:6.2f} ms (max {w['update_ms_max']:6.2f}), "
              f"with PNG render {w['update_and_png_ms_median']:6.1f} ms")
    for name, n in result.get("notebooks", {}).items():
        reference = (f", {n['reference_seconds']:5.1f} reference s (budget {notebook_budget(name):.0f})"
                     if "reference_seconds" in n else "")
        reference += f", textbook {n['textbook_ms_before']:.2f} ms before it" if "textbook_ms_before" in n else ""
        print(f"notebook {name:32s} {n['seconds']:6.1f} s{reference} (set-up cell {n['setup_seconds']:5.1f} s) "
              f"{n['mb']:5.2f} MB")


PARTS = ("engine", "conv2d", "widgets", "browser", "course")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated: {', '.join(PARTS)}")
    parser.add_argument("--out", default=str(ROOT / "build" / "bench.json"))
    parser.add_argument("--textbook-burst", action="store_true", help="print the textbook step's ms (used by the course part)")
    args = parser.parse_args(argv)
    if args.textbook_burst:
        _print_textbook_burst()
        return 0
    parts = set(args.parts.split(","))
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}: choose from {', '.join(PARTS)}")

    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                          "jax": jax.__version__, "backend": jax.default_backend()}}
    engine = bench_engine() if "engine" in parts else None
    conv2d = bench_conv2d() if "conv2d" in parts else None
    widget_results = bench_widgets() if "widgets" in parts else None
    browser = bench_browser() if "browser" in parts else None
    course = bench_course() if "course" in parts else None
    result["summary"] = summary(engine, conv2d, widget_results, browser, course)
    result.update({k: v for k, v in [("engine", engine), ("conv2d", conv2d), ("widgets", widget_results),
                                     ("browser", browser), ("notebooks", course)] if v})
    result["goals"] = {key: {"goal": goal, "higher_is_better": higher} for key, (goal, higher) in GOALS.items()}

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**result["summary"], **result}, indent=2) + "\n")
    print_table(result)
    print(f"\nwritten: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
