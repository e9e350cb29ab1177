"""``make html``: execute every notebook and write a static copy of the course to build/html/.

Each notebook is executed top to bottom in a fresh kernel (as CI does) and
converted with nbconvert's "lab" template; ``index.html`` links them in order with
each notebook's title and first paragraph. Open ``build/html/index.html`` in a
browser: no server and no kernel are needed. The animations of notebook 03 are
self-contained (frames and player inline, no icon font from the network), so they
play offline. The explorers need a running kernel, so the static copy shows each
one as its figure and slider values at the end of the run.
"""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.execute_notebooks import NOTEBOOKS, ROOT, execute  # noqa: E402

INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Deconvolution, visualized: the course</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }}
li {{ margin-bottom: 1rem; }}
.note {{ color: #555; font-size: 0.9rem; }}
</style>
</head>
<body>
<h1>Deconvolution, visualized</h1>
<p>A static, executed copy of the course: every notebook as it ran, outputs included.
To change a number, move a slider or rerun a cell, open the notebooks in JupyterLab
(<code>make lab</code>).</p>
<ol>
{items}
</ol>
<p class="note">Built by <code>make html</code>. Animations play offline; the explorers need a running kernel.</p>
</body>
</html>
"""


def title_and_summary(notebook) -> tuple[str, str]:
    """The notebook's first heading and the first paragraph after it."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.strip().splitlines()
        if lines and lines[0].startswith("#"):
            paragraph = []
            for line in lines[1:]:
                if not line.strip() and paragraph:
                    break
                if line.strip():
                    paragraph.append(line.strip())
            return lines[0].lstrip("#").strip(), " ".join(paragraph)
    return "", ""


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _widget_tree(state: dict, model_id: str):
    """The widget models under ``model_id`` (itself included), depth first."""
    model = state.get(model_id)
    if model is None:
        return
    yield model
    for child in model["state"].get("children", []):
        yield from _widget_tree(state, child.removeprefix("IPY_MODEL_"))


def explorers_as_stills(notebook) -> int:
    """Replace each explorer (a widget view) by its last figure and slider values; return how many.

    A static page cannot run the explorer's Python, and rendering the widgets
    would need the ipywidgets renderer from a CDN: the still works offline.
    """
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(output)
                continue
            models = list(_widget_tree(state, view["model_id"]))
            values = [f"{m['state']['description']} = {m['state']['value']}" for m in models
                      if "value" in m["state"] and m["state"].get("description")]
            figures = [o["data"]["image/png"] for m in models if m["model_name"] == "OutputModel"
                       for o in m["state"].get("outputs", []) if "image/png" in o.get("data", {})]
            outputs += [nbformat.v4.new_output("display_data", data={"image/png": png}) for png in figures]
            caption = (f"<p><em>Explorer, as left by the run ({html.escape(', '.join(values))}). "
                       "Open the notebook in JupyterLab to move its sliders.</em></p>")
            outputs.append(nbformat.v4.new_output("display_data", data={"text/html": caption}))
            replaced += 1
        cell.outputs = outputs
    notebook.metadata.pop("widgets", None)
    return replaced


def build(notebooks: list[Path], out_dir: Path) -> Path:
    """Execute and convert ``notebooks``; write them and index.html to ``out_dir``; return the index."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    items = []
    for path in notebooks:
        notebook, seconds = execute(path)
        explorers_as_stills(notebook)
        body, _ = exporter.from_notebook_node(notebook)
        page = path.with_suffix(".html").name
        (out_dir / page).write_text(body, encoding="utf-8")
        title, summary = title_and_summary(notebook)
        items.append(f'<li><a href="{page}">{html.escape(path.stem)}</a>: <strong>{html.escape(title)}</strong>'
                     f"{markdown2html(summary)}</li>")
        print(f"{path.name}: executed in {seconds:.1f} s -> {page}", flush=True)
    index = out_dir / "index.html"
    index.write_text(INDEX_TEMPLATE.format(items="\n".join(items)), encoding="utf-8")
    return index


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "html"), help="folder for the HTML copy")
    parser.add_argument("notebooks", nargs="*", help="notebooks to build (default: all, in order)")
    args = parser.parse_args(argv)
    notebooks = [Path(n).resolve() for n in args.notebooks] or NOTEBOOKS
    index = build(notebooks, Path(args.out))
    print(f"open {index} in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
