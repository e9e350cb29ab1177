"""The package's floors, without a browser: no import circle, imports only downwards,
modules of a readable size, and every explorer registered and shown by its notebook.

The floors (see CONTRIBUTING.md): ``core`` < ``display`` < ``part1`` < ``part2`` <
``registry``. A module may import its own floor and the floors below; ``core`` and
``display`` know no notebook; nothing imports ``registry``.
"""

from __future__ import annotations

import ast
import json
import pathlib
import re

import pytest

from course_utils import registry

ROOT = pathlib.Path(__file__).parent.parent
PACKAGE = ROOT / "course_utils"
FLOORS = {"core": 0, "display": 1, "part1": 2, "part2": 3, "registry": 4}
MAX_LINES = 600

EXPLORER_CALL = re.compile(r"\b(\w+)\.((?!update_)\w+_explorer)\(")  # explorers.curve_explorer(, not update_*


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports() -> dict[str, set[str]]:
    """Every module of course_utils -> the course_utils modules it imports, at the top or inside functions."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph`` (strongly connected parts of more than one module), each as a path."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def floor(module: str) -> int | None:
    parts = module.split(".")
    return FLOORS.get(parts[1]) if len(parts) > 1 else None


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_the_package():
    found = circles(package_imports())
    assert not found, "import circles (imports inside functions count): " + "; ".join(" <-> ".join(c) for c in found)


def test_every_import_runs_down_the_floors():
    graph = package_imports()
    assert "course_utils.registry" in graph and "course_utils.core.training" in graph
    wrong = [f"{a} -> {b}" for a, targets in graph.items() for b in targets
             if floor(a) is not None and floor(b) is not None and floor(b) > floor(a)]
    assert not wrong, "imports that run up a floor (core < display < part1 < part2 < registry): " + ", ".join(wrong)
    display_imports = {b for a, targets in graph.items() if floor(a) == FLOORS["display"] for b in targets}
    assert all(floor(b) == FLOORS["display"] for b in display_imports), f"display imports {display_imports}"
    assert not [a for a, targets in graph.items() if "course_utils.registry" in targets], "nothing imports registry"


def test_no_module_is_longer_than_the_limit():
    long = {module_name(p): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


def explorer_calls(path: pathlib.Path) -> list[str]:
    """The explorers a notebook shows, in order, as "module.function"."""
    cells = json.loads(path.read_text())["cells"]
    return [f"{module}.{function}" for cell in cells if cell["cell_type"] == "code"
            for module, function in EXPLORER_CALL.findall("".join(cell["source"]))]


NOTEBOOK_CALLS = {p.name: explorer_calls(p) for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
REGISTERED = {e.call: e for e in registry.EXPLORERS.values()}  # "module.function" -> explorer


def test_the_registry_collects_every_entry_once():
    assert len(registry.EXPLORERS) >= 11
    assert len(REGISTERED) == len(registry.EXPLORERS), "two entries share a module.function"
    notebooks = [e.notebook for e in registry.EXPLORERS.values()]
    assert notebooks == sorted(notebooks), "the registry lists explorers in the order of the notebooks"


@pytest.mark.parametrize("call", sorted(REGISTERED))
def test_each_registered_explorer_is_shown_by_its_notebook(call):
    explorer = REGISTERED[call]
    assert explorer.notebook in NOTEBOOK_CALLS, f"{call} names a notebook that does not exist: {explorer.notebook}"
    assert call in NOTEBOOK_CALLS[explorer.notebook], (
        f"{explorer.notebook} does not call {call}(...): a notebook shows its explorer as module.function(...), "
        "with the module imported under its own name")


def test_every_explorer_a_notebook_shows_is_registered():
    for name, calls in NOTEBOOK_CALLS.items():
        for call in calls:
            assert call in REGISTERED, (f"{name} calls {call}(), which is not registered: define its Explorer entry "
                                        "beside its scene, at module level (see CONTRIBUTING.md)")
            assert REGISTERED[call].notebook == name, f"{call} is registered for {REGISTERED[call].notebook}"


def test_models_and_measures_do_not_import_the_explorer_layer():
    """Only a notebook's own module (Part I's explorers, a *_lesson) builds explorers."""
    graph = package_imports()
    explorer_builders = {m for m in graph if m.endswith("_lesson") or m == "course_utils.part1.explorers"}
    wrong = sorted(a for a, targets in graph.items() if a not in explorer_builders and floor(a) in (2, 3)
                   and (targets & ({"course_utils.display.explorer"} | explorer_builders)))
    assert not wrong, f"these model or measure modules import the explorer layer: {wrong}"
