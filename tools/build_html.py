"""``make html``: the course as an offline book in build/html/ (Sphinx + myst-nb + sphinx-book-theme).

Steps:

1. Execute every notebook top to bottom in a fresh kernel, as CI does
   (tools/execute_notebooks.py). A few lines run in the kernel first, never saved
   into the notebook: each explorer the notebook shows also draws its pictures for
   every kept slider position (course_utils/display/static_explorer.py).
2. Replace each widget by what a page without a kernel can show: an explorer by its
   precomputed pictures, controls and a caption from docs/book/course.yml (a few
   lines of script swap the pictures); a progress bar by its last line of text.
3. Write the executed copies, a landing page (docs/book/course.yml: the parts, the
   question each notebook answers, the run times measured in step 1) and a local
   MathJax 3 (the pinned django-static-mathjax package) into build/book-src/, and let
   Sphinx read them there (myst-nb does not execute: ``nb_execution_mode = "off"``).
4. Check that no page would load anything from the network, and report sizes.

Open build/html/index.html in a browser; for search with text snippets serve the
folder: ``cd build/html && python -m http.server --bind 127.0.0.1``.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import json
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.execute_notebooks import NOTEBOOKS, ROOT, execute  # noqa: E402

BOOK = ROOT / "docs" / "book"
PAGE_LIMIT_MB = 3.0
EXPLORER_DIR = "_static/explorers"

# Runs in each notebook's kernel before its first cell (and is not kept in the notebook):
# every explorer the notebook builds also writes its static pictures to FRAMES/<widget id>/.
KERNEL_SETUP = """\
def _static_explorers(frames):
    import pathlib
    from course_utils.display import explorer, static_explorer
    live = explorer.Explorer.widget
    def widget(self, *inputs, **values):
        shown = live(self, *inputs, **values)
        static_explorer.precompute_frames(self, inputs, values, pathlib.Path(frames) / shown.model_id)
        return shown
    explorer.Explorer.widget = widget
_static_explorers({frames!r})
del _static_explorers
"""

# A reference to something the browser would load, not a link a reader may follow:
# script/img/iframe/source src, stylesheet or font <link href>, CSS url() and @import.
REMOTE_ASSET = re.compile(
    r"<(?:script|img|iframe|source|audio|video|embed)\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//"
    r"|url\(\s*[\"']?(?:https?:)?//|@import\s+(?:url\()?\s*[\"']?(?:https?:)?//", re.IGNORECASE)
LOCAL_REFERENCE = re.compile(r"<(?:img|source)\b[^>]*\bsrc\s*=\s*[\"']([^\"'#?]+)[\"']", re.IGNORECASE)


def remote_assets(page: str) -> list[str]:
    """The places in ``page`` (HTML or CSS) where a browser would fetch something from the network."""
    return [page[max(0, m.start() - 40): m.end() + 60] for m in REMOTE_ASSET.finditer(page)]


def course_text() -> dict:
    """The book's own text: docs/book/course.yml."""
    return yaml.safe_load((BOOK / "course.yml").read_text(encoding="utf-8"))


def title_of(notebook) -> str:
    """The notebook's first Markdown heading."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.strip().splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


# ---------------------------------------------------------------- widgets

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}
BAR_WIDTH = 24  # characters of the text progress bar


def _widget_tree(state: dict, model_id: str):
    """The widget models under ``model_id`` (itself included), depth first."""
    model = state.get(model_id)
    if model is None:
        return
    yield model
    for child in model["state"].get("children", []):
        yield from _widget_tree(state, child.removeprefix("IPY_MODEL_"))


def _progress_text(models: list[dict]) -> str:
    """tqdm's widget (text, bar, text) as the line tqdm prints in a terminal."""
    texts = [html.unescape(m["state"].get("value", "")).replace("\u2007", " ")
             for m in models if m["model_name"] == "HTMLModel"]
    bar = next(m["state"] for m in models if m["model_name"] in PROGRESS_MODELS)
    span = (bar.get("max", 100) - bar.get("min", 0)) or 1
    filled = round(BAR_WIDTH * min(max((bar.get("value", 0) - bar.get("min", 0)) / span, 0), 1))
    left, right = (texts + ["", ""])[:2]
    return f"{left}|{'█' * filled}{' ' * (BAR_WIDTH - filled)}|{right}".strip()


def _label(value) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def static_explorer_html(spec: dict, base: str, caption: str) -> str:
    """An explorer as controls over its precomputed pictures (``base``: their folder, relative to the page)."""
    controls = []
    for k, control in enumerate(spec["controls"]):
        labels = [_label(v) for v in control["positions"]]
        control["labels"] = labels
        name = html.escape(control["label"])
        if control["menu"]:
            options = "".join(f'<option value="{i}"{" selected" if i == control["start"] else ""}>'
                              f"{html.escape(label)}</option>" for i, label in enumerate(labels))
            controls.append(f'<label>{name} <select data-control="{k}">{options}</select></label>')
        else:
            controls.append(f'<label>{name} <input type="range" data-control="{k}" min="0" '
                            f'max="{len(labels) - 1}" step="1" value="{control["start"]}">'
                            f'<output>{html.escape(labels[control["start"]])}</output></label>')
    start = ",".join(str(c["start"]) for c in spec["controls"])
    reset = (" Moving one control puts the others back at their starting values: a picture was drawn "
             "for every position of one control at a time." if spec["mode"] == "single" and len(controls) > 1
             else "")
    data = json.dumps({"mode": spec["mode"], "base": base, "frames": spec["frames"],
                       "controls": [{"start": c["start"], "labels": c["labels"]} for c in spec["controls"]]}
                      ).replace("</", "<\\/")  # a label cannot end the script early
    return (f'<div class="course-explorer" data-explorer="{html.escape(spec["name"])}">'
            f'<div class="course-explorer-controls">{"".join(controls)}</div>'
            f'<img src="{base}{spec["frames"][start]}" alt="the {html.escape(spec["name"])} explorer\'s figure" '
            f'data-position="{start}">'
            f'<p class="course-explorer-caption"><strong>Try it here.</strong> {html.escape(caption)}{reset} '
            f"The pictures were drawn when the book was built; in JupyterLab the explorer computes each move.</p>"
            f'<script type="application/json">{data}</script></div>')


def widgets_for_the_book(notebook, explorers: dict[str, str]) -> dict:
    """Replace each widget view by what a page without a kernel can show; return counts by kind.

    ``explorers`` maps a widget's model id to its static explorer (HTML). A progress
    bar becomes its final line of text; a widget that was closed disappears; any other
    explorer (one not built through an Explorer entry) becomes its last figure.
    """
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    counts = {"explorer": 0, "still": 0, "progress": 0, "other": 0, "closed": 0}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(output)
                continue
            model_id = view["model_id"]
            models = list(_widget_tree(state, model_id))
            names = {m["model_name"] for m in models}
            layouts = [state.get(m["state"].get("layout", "").removeprefix("IPY_MODEL_"), {}) for m in models[:1]]
            hidden = any(layout.get("state", {}).get("visibility") == "hidden"
                         or layout.get("state", {}).get("display") == "none" for layout in layouts)
            values = [f"{m['state']['description']} = {m['state']['value']}" for m in models
                      if "value" in m["state"] and m["state"].get("description")]
            if model_id in explorers:
                outputs.append(nbformat.v4.new_output("display_data", data={"text/html": explorers[model_id]}))
                counts["explorer"] += 1
            elif not models or hidden:
                counts["closed"] += 1
            elif "OutputModel" in names:
                figures = [o["data"]["image/png"] for m in models if m["model_name"] == "OutputModel"
                           for o in m["state"].get("outputs", []) if "image/png" in o.get("data", {})]
                outputs += [nbformat.v4.new_output("display_data", data={"image/png": png}) for png in figures]
                counts["still"] += 1
            elif names & PROGRESS_MODELS:
                outputs.append(nbformat.v4.new_output("display_data", data={"text/plain": _progress_text(models)}))
                counts["progress"] += 1
            else:  # a widget of another kind: its values, if it has any
                if values:
                    outputs.append(nbformat.v4.new_output("display_data", data={"text/plain": "; ".join(values)}))
                counts["other"] += 1
        cell.outputs = outputs
    notebook.metadata.pop("widgets", None)
    return counts


# ---------------------------------------------------------------- the landing page


def landing_page(text: dict, pages: dict[str, dict]) -> str:
    """index.md: what the course teaches and for whom, its picture, and both parts with one line per notebook.

    ``pages``: notebook stem -> {"title", "seconds"}.
    """
    lines = [f"# {text['title']}", "", f"![{text['picture_alt']}]({Path(text['picture']).name})", "",
             text["intro"], "", f"**Who it is for.** {text['audience']}", "",
             "Each notebook runs on a laptop CPU, offline; the times are those of this book's build. "
             "To run a cell or move an explorer with live computation, open the notebooks in JupyterLab "
             "(`make lab`).", ""]
    toctrees = []
    for part in text["parts"]:
        stems = [s for s in part["notebooks"] if s in pages]
        lines += [f"## {part['title']}", ""]
        for stem in stems:
            page = pages[stem]
            lines.append(f"- [{page['title']}]({stem}.ipynb): {part['notebooks'][stem]} "
                         f"*Runs in {page['seconds']:.0f} s.*")
        lines.append("")
        toctrees += ["```{toctree}", ":hidden:", f":caption: {part['title']}", "", *stems, "```", ""]
    missing = sorted(set(pages) - {s for part in text["parts"] for s in part["notebooks"]})
    if missing:
        raise ValueError(f"docs/book/course.yml places no part for {missing}: add each to a part")
    return "\n".join(lines + toctrees)


# ---------------------------------------------------------------- the build


def mathjax_dir() -> Path:
    """MathJax 3's es5 folder inside the pinned django-static-mathjax package."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or spec.origin is None:
        raise RuntimeError("MathJax 3 is missing: `pip install -r requirements.txt` (django-static-mathjax)")
    es5 = Path(spec.origin).parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-svg.js").exists():
        raise RuntimeError(f"{es5} has no tex-svg.js: is django-static-mathjax the pinned version?")
    return es5


def prepare_source(src: Path) -> None:
    """An empty source folder with the book's settings, static files, picture and MathJax."""
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(BOOK / "_static", src / "_static")
    shutil.copy(BOOK / "conf.py", src / "conf.py")
    es5, mathjax = mathjax_dir(), src / "_static" / "mathjax"
    mathjax.mkdir(parents=True)
    shutil.copy(es5 / "tex-svg.js", mathjax / "tex-svg.js")  # SVG output: no font files to load
    # TeX packages that MathJax loads when an equation needs them (\boldsymbol, \cancel, ...).
    shutil.copytree(es5 / "input" / "tex" / "extensions", mathjax / "input" / "tex" / "extensions")
    picture = course_text()["picture"]
    shutil.copy(ROOT / picture, src / Path(picture).name)


def execute_for_book(path: Path, src: Path, captions: dict) -> tuple[nbformat.NotebookNode, float, dict]:
    """Execute one notebook with its explorers' pictures drawn; return it ready for Sphinx, its run time, counts.

    The run time leaves out the pictures' drawing: it is the notebook's own time.
    """
    frames = src / EXPLORER_DIR / path.stem
    notebook, seconds = execute(path, setup=KERNEL_SETUP.format(frames=str(frames)))
    explorers = {}
    drawing = 0.0
    for k, spec_path in enumerate(sorted(frames.glob("*/spec.json"), key=lambda p: p.stat().st_mtime)):
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        folder = spec_path.parent.rename(frames / f"{spec['name']}-{k}")
        drawing += spec["seconds"]
        explorers[spec_path.parent.name] = static_explorer_html(
            spec, f"{EXPLORER_DIR}/{path.stem}/{folder.name}/", captions.get(spec["name"], ""))
    counts = widgets_for_the_book(notebook, explorers)
    counts["drawing_s"] = drawing
    return notebook, seconds - drawing, counts


def page_sizes(out: Path) -> dict[str, int]:
    """Bytes of each page: its HTML and the images it shows (not the theme's shared files)."""
    sizes = {}
    for page in sorted(out.glob("*.html")):
        text = page.read_text(encoding="utf-8")
        files = {page.parent / ref for ref in LOCAL_REFERENCE.findall(text) if not ref.startswith("data:")}
        for base in re.findall(r'"base": "([^"]+)"', text):
            files |= set((page.parent / base).glob("*.png"))
        sizes[page.name] = len(text.encode()) + sum(f.stat().st_size for f in files if f.is_file())
    return sizes


def build(notebooks: list[Path], out: Path, src: Path) -> dict:
    """Execute ``notebooks``, write the book's source to ``src`` and the book to ``out``; return a summary."""
    import sphinx.cmd.build  # noqa: PLC0415 - only the build needs Sphinx

    started = time.perf_counter()
    text = course_text()
    prepare_source(src)
    pages = {}
    for path in notebooks:
        notebook, seconds, counts = execute_for_book(path, src, text.get("explorers", {}))
        nbformat.write(notebook, src / path.name)
        pages[path.stem] = {"title": title_of(notebook), "seconds": seconds}
        print(f"{path.name}: ran in {seconds:.1f} s (+{counts['drawing_s']:.1f} s drawing "
              f"{counts['explorer']} static explorers; {counts['progress']} progress bars)", flush=True)
    (src / "index.md").write_text(landing_page(text, pages), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    code = sphinx.cmd.build.main(["-b", "html", "-q", "-j", "1", str(src), str(out)])
    if code != 0:
        raise RuntimeError(f"sphinx-build failed (exit status {code})")
    for source_map in out.glob("_static/**/*.map"):  # only a debugger reads them: a third of the site
        source_map.unlink()
    for path in [*out.glob("*.html"), *out.glob("_static/**/*.css")]:
        remote = remote_assets(path.read_text(encoding="utf-8", errors="replace"))
        if remote:
            raise RuntimeError(f"{path.relative_to(out)} would load from the network: {remote[:3]}")
    sizes = page_sizes(out)
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    largest = max(sizes, key=sizes.get)
    summary = {"seconds": time.perf_counter() - started, "total_mb": total / 1e6,
               "largest_page": largest, "largest_page_mb": sizes[largest] / 1e6,
               "pages_mb": {name: size / 1e6 for name, size in sizes.items()},
               "run_seconds": {stem: page["seconds"] for stem, page in pages.items()}}
    (out / "book.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    for name, size in sizes.items():
        if size / 1e6 > PAGE_LIMIT_MB:
            print(f"warning: {name} is {size / 1e6:.2f} MB with its pictures, over {PAGE_LIMIT_MB} MB", flush=True)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "html"), help="folder for the book")
    parser.add_argument("--src", default=None, help="folder for the book's source (default: beside --out, book-src)")
    parser.add_argument("notebooks", nargs="*", help="notebooks to build (default: all, in order)")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    src = Path(args.src).resolve() if args.src else out.parent / "book-src"
    notebooks = [Path(n).resolve() for n in args.notebooks] or NOTEBOOKS
    summary = build(notebooks, out, src)
    print(f"built in {summary['seconds']:.0f} s: {summary['total_mb']:.1f} MB in all; largest page "
          f"{summary['largest_page']} ({summary['largest_page_mb']:.2f} MB with its pictures)")
    print(f"open {out / 'index.html'} in a browser; for search snippets: "
          f"cd {out} && python -m http.server --bind 127.0.0.1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
