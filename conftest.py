"""Keep every executed notebook small: nbval runs the cells, this adds up what they output.

The outputs of each notebook's cells (as nbformat JSON, the form they take in an
executed .ipynb) plus its source must stay under ``NOTEBOOK_LIMIT_BYTES``. The
cell whose output crosses the limit fails, naming the notebook and the size. The
widget state JupyterLab adds when saving is not counted (about 0.15 MB for a
notebook with two explorers), hence the margin below the 2 MB goal.
"""

import json
from collections import defaultdict

import pytest

import course_utils

# As every notebook's set-up cell does: one JAX CPU device per core (tests of the engine use them).
course_utils.configure_cpu()

NOTEBOOK_LIMIT_BYTES = 1_700_000
_sizes: dict = defaultdict(int)
_reported: set = set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    # nbval keeps a cell's outputs on its test item as ``test_outputs``: not documented
    # API, so tests/test_notebooks_policy.py pins it and fails loudly if an upgrade drops it.
    outputs = getattr(item, "test_outputs", None)
    if call.when != "call" or outputs is None:
        return
    notebook = item.parent.path
    if notebook not in _sizes:
        _sizes[notebook] = notebook.stat().st_size
    _sizes[notebook] += len(json.dumps(outputs))
    report = outcome.get_result()
    if report.passed and _sizes[notebook] > NOTEBOOK_LIMIT_BYTES and notebook not in _reported:
        _reported.add(notebook)  # fail the cell that crossed the limit, not every one after it
        report.outcome = "failed"
        report.longrepr = (f"{notebook.name} outputs reached {_sizes[notebook] / 1e6:.2f} MB, over the "
                           f"{NOTEBOOK_LIMIT_BYTES / 1e6:.1f} MB limit: fewer or smaller figures/frames")
