"""House rules for the notebooks: numbered, stored without outputs, each checks its claims."""

import json
import pathlib
import re

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_notebooks_exist_and_are_numbered_in_reading_order():
    assert NOTEBOOKS, "no notebooks found"
    numbers = [int(re.match(r"(\d\d)_\w+\.ipynb$", nb.name).group(1)) for nb in NOTEBOOKS]
    assert numbers == list(range(1, len(NOTEBOOKS) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name} cell {i} has outputs: clear them (make clean-notebooks) before committing"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_asserts_its_claims_and_ends_with_a_summary(path):
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert code.count("assert ") >= 2, f"{path.name} should check its key claims with assertions"
    assert "Summary" in "".join(cells[-1]["source"]), f"{path.name} should end with a summary"
    absolute_path = r"""["'](/|[A-Za-z]:[\\/]+)[\w.-]+[\\/]"""  # a quoted string that starts at a root
    assert not re.search(absolute_path, code), f"{path.name} has an absolute path"


def test_nbval_still_keeps_cell_outputs_where_conftest_reads_them():
    """conftest.py adds up each notebook's outputs from nbval's ``IPyNbCell.test_outputs`` (pinned nbval 0.11)."""
    import inspect

    from nbval.plugin import IPyNbCell

    source = inspect.getsource(IPyNbCell)
    assert "self.test_outputs = outs" in source, "nbval no longer sets test_outputs: update conftest.py's size check"


MAX_PROSE_WORDS = 1800  # a notebook answers one question; a side topic that does not serve it goes


def prose_words(cells) -> int:
    """Words of prose: whitespace-separated tokens over the markdown cells (equations and code spans count)."""
    return sum(len("".join(c["source"]).split()) for c in cells if c["cell_type"] == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_prose_is_at_most_1800_words(path):
    words = prose_words(json.loads(path.read_text())["cells"])
    assert words <= MAX_PROSE_WORDS, f"{path.name} has {words} words of prose (at most {MAX_PROSE_WORDS}): cut a side topic"


def test_prose_words_counts_markdown_only():
    cells = [{"cell_type": "markdown", "source": ["Two words\n", "and $x^2$"]},
             {"cell_type": "code", "source": ["not counted at all"]}]
    assert prose_words(cells) == 4
