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


def execute(path: Path, *, timeout: int = 300, cell_seconds: list | None = None,
            setup: str | None = None) -> tuple[nbformat.NotebookNode, float]:
    """Execute one notebook in a new kernel; return it with its outputs and the seconds taken.

    Widget state is stored in the notebook, as JupyterLab does when saving, so the
    explorers show their last state in a static copy. If ``cell_seconds`` is a list,
    the seconds of each code cell are appended to it, in order (the first is the
    set-up cell: imports and data). ``setup``: code run in the kernel before the first
    cell, left out of the returned notebook, its timings and its execution counts
    (``make html`` uses it to draw the explorers' static pictures).
    """
    notebook = nbformat.read(path, as_version=4)
    if setup is not None:
        notebook.cells.insert(0, nbformat.v4.new_code_cell(setup))
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    if cell_seconds is not None:
        started = {}
        client.on_cell_execute = lambda cell, cell_index: started.__setitem__(cell_index, time.perf_counter())
        client.on_cell_executed = lambda cell, cell_index, execute_reply: cell_seconds.append(
            time.perf_counter() - started[cell_index])
    start = time.perf_counter()
    if setup is None:
        client.execute()
        return notebook, time.perf_counter() - start
    done = {}
    client.on_cell_executed = _chain(client.on_cell_executed, lambda cell, cell_index, execute_reply:
                                     done.setdefault("setup", time.perf_counter()))
    client.execute()
    notebook.cells.pop(0)
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.execution_count is not None:
            cell.execution_count -= 1
            for output in cell.outputs:
                if output.get("execution_count") is not None:
                    output["execution_count"] -= 1
    if cell_seconds is not None:
        del cell_seconds[0]
    return notebook, time.perf_counter() - done.get("setup", start)


def _chain(first, second):
    """One nbclient hook that calls ``first`` (if any), then ``second``."""
    def hook(*args, **kwargs):
        if first is not None:
            first(*args, **kwargs)
        second(*args, **kwargs)
    return hook


def size_mb(notebook: nbformat.NotebookNode) -> float:
    """Size of the notebook as it would be saved (.ipynb JSON), in MB."""
    return len(nbformat.writes(notebook).encode()) / 1e6
