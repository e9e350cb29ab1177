"""Run the course's notebooks top to bottom, each in a fresh kernel, as CI does.

Used by ``make html`` (tools/build_html.py) and ``make bench`` (benchmarks/bench.py).
The kernels inherit this process's environment (JAX_PLATFORMS, the compilation
cache settings of the Makefile).
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def execute(path: Path, *, timeout: int = 300, cell_seconds: list | None = None) -> tuple[nbformat.NotebookNode, float]:
    """Execute one notebook in a new kernel; return it with its outputs and the seconds taken.

    Widget state is stored in the notebook, as JupyterLab does when saving, so the
    explorers show their last state in a static copy. If ``cell_seconds`` is a list,
    the seconds of each code cell are appended to it, in order (the first is the
    set-up cell: imports and data).
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    if cell_seconds is not None:
        started = {}
        client.on_cell_execute = lambda cell, cell_index: started.__setitem__(cell_index, time.perf_counter())
        client.on_cell_executed = lambda cell, cell_index, execute_reply: cell_seconds.append(
            time.perf_counter() - started[cell_index])
    start = time.perf_counter()
    client.execute()
    return notebook, time.perf_counter() - start


def size_mb(notebook: nbformat.NotebookNode) -> float:
    """Size of the notebook as it would be saved (.ipynb JSON), in MB."""
    return len(nbformat.writes(notebook).encode()) / 1e6
