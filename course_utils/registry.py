"""The explorer registry: every "Try it" explorer of the course, collected from the notebook modules.

The top floor of the package: it imports every Part I and Part II module and keeps
each :class:`~course_utils.display.explorer.Explorer` entry it finds at module level,
and nothing in the package imports it. An explorer is registered by defining its
entry beside its scene (see CONTRIBUTING.md); the browser test, ``make bench``, the
static copy of the course and ``tests/test_registry.py`` read :data:`EXPLORERS`.
"""

from __future__ import annotations

import importlib
import pkgutil

from . import part1, part2
from .display.explorer import Explorer


def _collect() -> dict[str, Explorer]:
    found = []
    for package in (part1, part2):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            found += [value for value in vars(module).values()
                      if isinstance(value, Explorer) and value.module == module.__name__]
    found.sort(key=lambda e: e.notebook)  # stable: a notebook's explorers keep their order in its module
    names = [e.name for e in found]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RuntimeError(f"two explorers share the name(s) {repeated}: each needs its own")
    return {e.name: e for e in found}


EXPLORERS: dict[str, Explorer] = _collect()
"""Every explorer of the course by name, in the order of the notebooks."""
