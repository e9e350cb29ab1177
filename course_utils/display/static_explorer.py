"""Static explorers: an explorer's figure precomputed for every slider position, for the book.

Used by ``make html`` (tools/build_html.py), never by a notebook: the book has no
kernel, so each explorer there is a set of pictures, one per position of its
controls, and a few lines of script show the picture of the position the reader
picks. The live explorer in JupyterLab is unchanged.

Which positions: one control moves at a time, the others at the values the notebook
started the explorer with; where all combinations are few (at most
:data:`GRID_LIMIT` pictures), every combination. A slider with more than
:data:`MAX_POSITIONS` positions is sampled on a coarser grid of its own steps that
keeps the starting value. Pictures are 64-colour PNGs (the animations' format), and
a picture seen twice is stored once.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import numbers
import time
from pathlib import Path

from .explorer import Explorer
from .frames import FigureFrames

MAX_POSITIONS = 21
"""Most positions kept of one slider (a 41-step slider keeps every other step)."""

GRID_LIMIT = 40
"""Every combination of the controls is drawn when there are at most this many."""


def slider_positions(lo: float, hi: float, step: float, start: float, *, integer: bool,
                     max_positions: int = MAX_POSITIONS) -> list:
    """The positions of a slider from ``lo`` to ``hi`` in ``step`` kept for the book, ``start`` among them."""
    for name, value in (("lo", lo), ("hi", hi), ("step", step), ("start", start)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise TypeError(f"{name} must be a finite number, got {value!r}")
    if hi <= lo:
        raise ValueError(f"hi must be above lo ({lo}), got {hi}")
    if step <= 0:
        raise ValueError(f"step must be > 0, got {step}")
    if not lo <= start <= hi:
        raise ValueError(f"start must be in [{lo}, {hi}], got {start}")
    if isinstance(max_positions, bool) or not isinstance(max_positions, numbers.Integral) or max_positions < 2:
        raise ValueError(f"max_positions must be an integer of at least 2, got {max_positions!r}")
    count = round((hi - lo) / step) + 1
    stride = max(1, math.ceil((count - 1) / (max_positions - 1)))
    indices = sorted(set(range(0, count, stride)) | {count - 1, round((start - lo) / step)})
    values = [lo + i * step for i in indices]
    return [int(round(v)) for v in values] if integer else [round(float(v), 10) for v in values]


def _nearest(positions: list, value) -> int:
    if value in positions:
        return positions.index(value)
    return min(range(len(positions)), key=lambda i: abs(positions[i] - value))


def precompute_frames(explorer: Explorer, inputs: tuple, values: dict, out_dir) -> dict:
    """Draw ``explorer`` built from ``inputs`` at every kept position; write the PNGs and spec.json to ``out_dir``.

    ``values`` are the control values the notebook passed (the others take the
    explorer's defaults). Returns the spec: the controls (name, label, positions,
    starting index), the mode (``"single"``: one control moves, the others stay at
    their start; ``"grid"``: every combination) and the frame file of each position.
    """
    if not isinstance(explorer, Explorer):
        raise TypeError(f"explorer must be a course_utils Explorer entry, got {type(explorer).__name__}")
    if not isinstance(inputs, tuple):
        raise TypeError(f"inputs must be a tuple of the explorer's inputs, got {type(inputs).__name__}")
    if not isinstance(values, dict):
        raise TypeError(f"values must be a dict of control values, got {type(values).__name__}")
    if not isinstance(out_dir, (str, Path)):
        raise TypeError(f"out_dir must be a folder path, got {type(out_dir).__name__}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figure, moving, update, choices = explorer.scene(*inputs)
    widgets = explorer.controls_for(choices, values)  # the live explorer's controls: its start, labels, menus
    controls = []
    for control in explorer.controls:
        widget = widgets[control.name]
        if control.is_menu:
            positions = list(widget.options)
        else:
            positions = slider_positions(control.lo, control.hi, control.step, widget.value,
                                         integer=control.integer)
        controls.append({"name": control.name, "label": widget.description, "menu": control.is_menu,
                         "positions": positions, "start": _nearest(positions, widget.value)})
    start = tuple(c["start"] for c in controls)
    grid = math.prod(len(c["positions"]) for c in controls) <= GRID_LIMIT
    if grid:
        combos = list(itertools.product(*(range(len(c["positions"])) for c in controls)))
    else:  # one control at a time, the others at their start
        combos = [start] + [start[:k] + (i,) + start[k + 1:] for k, c in enumerate(controls)
                            for i in range(len(c["positions"])) if i != c["start"]]
    engine = FigureFrames(figure, moving)
    files, frames = {}, {}
    for combo in combos:
        update(**{c["name"]: c["positions"][i] for c, i in zip(controls, combo)})
        png = engine.palette_png()
        digest = hashlib.sha1(png).hexdigest()[:12]
        if digest not in files:
            files[digest] = f"{len(files):03d}.png"
            (out_dir / files[digest]).write_bytes(png)
        frames[",".join(map(str, combo))] = files[digest]
    try:  # the scene's figure is ours alone: keep it out of the cell's output
        from matplotlib import pyplot
        pyplot.close(figure)
    except ImportError:  # pragma: no cover - matplotlib always has pyplot
        pass
    spec = {"name": explorer.name, "notebook": explorer.notebook, "mode": "grid" if grid else "single",
            "controls": controls, "frames": frames, "files": len(files),
            "bytes": sum((out_dir / f).stat().st_size for f in files.values()),
            "seconds": time.perf_counter() - started}
    (out_dir / "spec.json").write_text(json.dumps(spec, default=str), encoding="utf-8")
    return spec
