"""Every registered explorer (``course_utils.registry.EXPLORERS``) timed without a browser.

For ``benchmarks/bench.py``: :func:`bench_explorers` moves each explorer's controls
to random positions and times ``update`` alone, then ``update`` plus the PNG frame
the explorer sends to the browser (blitted: only the moving artists are redrawn).
The browser's own share (message, decode, paint) is measured by
``tests/test_browser.py`` and written to ``build/browser/latency.json``.

    python benchmarks/explorers.py      # prints the table, trains a model for a few seconds
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_utils import registry  # noqa: E402  (after the path)
from course_utils.core import training  # noqa: E402  (after the path)
from course_utils.display import frames  # noqa: E402  (after the path)
from course_utils.part1 import data, full_curve, models  # noqa: E402  (after the path)


def explorer_inputs(model) -> dict:
    """What the notebooks pass to the explorers (by ``Explorer.inputs`` name), built from ``model``."""
    return {"model": model,
            "reconstructors": {fix: (lambda curves, fix=fix: full_curve.reconstruct(model, curves, fix))
                               for fix in full_curve.FIXES}}


def bench_explorers(model, *, updates: int = 200, n_frames: int = 20, seed: int = 0) -> dict:
    """Per explorer: median and max of ``update`` (ms), and median of ``update`` + PNG frame (ms)."""
    inputs = explorer_inputs(model)
    results = {}
    for name, explorer in registry.EXPLORERS.items():
        # The Part I explorers run on the trained patch model; the others on their registry's stand-ins.
        if all(i in inputs for i in explorer.inputs):
            figure, moving, update, options = explorer.scene(*(inputs[i] for i in explorer.inputs))
        else:
            figure, moving, update, options = explorer.scene(*explorer.examples())
        renderer = frames.FigureFrames(figure, moving)
        rng = np.random.default_rng(seed)
        update(**explorer.random_values(rng, options))  # first call compiles the model's functions
        renderer.png()  # first frame: layout and background
        update_ms = []
        for _ in range(updates):
            values = explorer.random_values(rng, options)
            start = time.perf_counter()
            update(**values)
            update_ms.append(1000 * (time.perf_counter() - start))
        frame_ms, frame_kb = [], []
        for _ in range(n_frames):
            values = explorer.random_values(rng, options)
            start = time.perf_counter()
            update(**values)
            png = renderer.png()
            frame_ms.append(1000 * (time.perf_counter() - start))
            frame_kb.append(len(png) / 1024)
        results[name] = {"notebook": explorer.notebook, "update_ms_median": statistics.median(update_ms),
                         "update_ms_max": max(update_ms), "update_and_png_ms_median": statistics.median(frame_ms),
                         "png_kb_median": statistics.median(frame_kb)}
        matplotlib.pyplot.close(figure)
    return results


if __name__ == "__main__":
    matplotlib.use("Agg")
    patches = data.patches(data.bezier_curves(4096, seed=0))
    trained = training.train(models.PatchAutoencoder, patches, seeds=[0],
                             config=training.TrainConfig(steps=300), progress=False).model(0)
    for name, r in bench_explorers(trained).items():
        print(f"{name:16s} update {r['update_ms_median']:6.2f} ms (max {r['update_ms_max']:6.2f}), "
              f"update + PNG frame {r['update_and_png_ms_median']:6.1f} ms, {r['png_kb_median']:.0f} kB")
