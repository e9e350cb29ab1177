"""``make html``: execute every notebook and write a static copy of the course to build/html/.

Each notebook is executed top to bottom in a fresh kernel (as CI does) and
converted with nbconvert's "lab" template; ``index.html`` links them in order with
each notebook's title and introduction. Open ``build/html/index.html`` in a
browser: no server, no kernel and no network are needed.

What makes the copy read offline:

- The pages load no script, stylesheet or font from the internet. The lab
  template would load require.js and MathJax from a CDN (and mermaid.js when a
  diagram appears); :data:`OFFLINE_TEMPLATE` leaves them out, and the build fails
  if a page still refers to a remote script, stylesheet, font or image.
- Equations are rendered here, at build time, by matplotlib's mathtext (a TeX
  subset, already a course dependency) into inline SVG paths: no MathJax, no
  font files. TeX that mathtext cannot parse is shown as its source in a marked
  ``<code class="tex-source">``, with a warning (the static-copy test fails on it).
- The explorers need a running kernel, so each one becomes its last figure and
  slider values with a caption; a progress bar (tqdm's widget) becomes its final
  line of text.
- The animations of notebook 03 are self-contained players (see
  ``course_utils/display/player.py``).
"""

from __future__ import annotations

import argparse
import functools
import html
import re
import sys
import warnings
from pathlib import Path

import matplotlib
import nbformat
from jinja2 import DictLoader, pass_context
from matplotlib.font_manager import FontProperties
from matplotlib.path import Path as MplPath
from matplotlib.textpath import TextToPath
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

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
li li {{ margin-bottom: 0; }}
.note {{ color: #555; font-size: 0.9rem; }}
{math_style}
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
<p class="note">Built by <code>make html</code>. It needs no network: animations play offline,
equations are drawn in the page; the explorers need a running kernel.</p>
</body>
</html>
"""

MATH_STYLE = """svg.tex { display: inline-block; overflow: visible; font-size: 1.1em; }
.tex-display { display: block; text-align: center; margin: 0.8em 0; font-size: 1.2em; }
code.tex-source { color: #a00; }"""

# The lab template, minus everything it would fetch from a CDN: require.js (needed only
# by the ipywidgets renderer, which the stills replace), MathJax (equations are SVG
# here) and mermaid.js (the course has no diagrams).
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}<style type="text/css">
""" + MATH_STYLE + """
</style>{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""

# A reference to something the browser would load, not a link a reader may follow:
# script/img/iframe/source src, stylesheet or font <link href>, CSS url() and @import.
REMOTE_ASSET = re.compile(
    r"<(?:script|img|iframe|source|audio|video|embed)\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//"
    r"|url\(\s*[\"']?(?:https?:)?//|@import\s+(?:url\()?\s*[\"']?(?:https?:)?//", re.IGNORECASE)


# ---------------------------------------------------------------- equations


@functools.lru_cache(maxsize=None)
def tex_to_svg(tex: str, *, display: bool = False) -> str:
    """TeX (mathtext's subset) as inline SVG sized in ``em``, so it scales with the text.

    Glyphs become SVG paths in the current text colour: no font file, no script.
    Raises ``ValueError`` if mathtext cannot parse ``tex``.
    """
    units = 100.0  # font size of the drawing: 1 em = 100 SVG units
    with matplotlib.rc_context({"mathtext.fontset": "cm"}):
        text_to_path, font = TextToPath(), FontProperties(size=units)
        width, height, descent = text_to_path.get_text_width_height_descent(f"${tex}$", font, ismath=True)
        vertices, codes = text_to_path.get_text_path(font, f"${tex}$", ismath=True)
    commands = []
    letters = {MplPath.MOVETO: "M", MplPath.LINETO: "L", MplPath.CURVE3: "Q", MplPath.CURVE4: "C"}
    for points, code in MplPath(vertices, codes).iter_segments(simplify=False, curves=True):
        if code == MplPath.CLOSEPOLY:
            commands.append("Z")
        else:  # SVG's y axis points down, TeX's up
            commands.append(letters[code] + " ".join(f"{x:.1f} {-y:.1f}" for x, y in points.reshape(-1, 2)))
    ascent = height - descent
    pad = 2.0  # room for antialiasing at the edges
    svg = (f'<svg class="tex" role="img" aria-label="{html.escape(tex.strip())}" '
           f'viewBox="{-pad:.1f} {-ascent - pad:.1f} {width + 2 * pad:.1f} {height + 2 * pad:.1f}" '
           f'style="width:{(width + 2 * pad) / units:.3f}em;height:{(height + 2 * pad) / units:.3f}em;'
           f'vertical-align:{-(descent + pad) / units:.3f}em">'
           f'<path fill="currentColor" d="{"".join(commands)}"/></svg>')
    return f'<span class="tex-display">{svg}</span>' if display else svg


def _math_html(tex: str, *, display: bool) -> str:
    try:
        return tex_to_svg(tex, display=display)
    except ValueError as error:
        warnings.warn(f"mathtext cannot draw ${tex}$ ({str(error).splitlines()[0]}): shown as TeX source",
                      stacklevel=2)
        return f'<code class="tex-source" title="TeX not rendered">{html.escape(tex)}</code>'


class OfflineMathRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with equations drawn as SVG instead of left for MathJax."""

    def block_math(self, body: str) -> str:
        return _math_html(body, display=True)

    def inline_math(self, body: str) -> str:
        return _math_html(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return _math_html(body, display=True)


def render_markdown(source: str, *, attachments: dict | None = None, path: str = "") -> str:
    """Markdown (with math) to HTML that needs no network."""
    renderer = OfflineMathRenderer(escape=False, attachments=attachments or {}, path=path)
    return MarkdownWithMath(renderer=renderer).render(source)


@pass_context
def _markdown2html_filter(context, source: str) -> str:
    # What HTMLExporter.markdown2html does, with the offline renderer.
    cell = context.get("cell", {})
    path = context.get("resources", {}).get("metadata", {}).get("path", "")
    return render_markdown(source, attachments=cell.get("attachments", {}), path=path)


def offline_exporter() -> HTMLExporter:
    """nbconvert's lab-template exporter whose pages load nothing from the network."""
    return HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
                        template_file="offline.html.j2", filters={"markdown2html": _markdown2html_filter})


def remote_assets(page: str) -> list[str]:
    """The places in ``page`` where a browser would fetch something from the network."""
    return [page[max(0, m.start() - 40): m.end() + 60] for m in REMOTE_ASSET.finditer(page)]


# ---------------------------------------------------------------- the index


def title_and_summary(notebook) -> tuple[str, str]:
    """The notebook's first heading and its introduction (Markdown): all that follows the
    heading in the same cell, up to the next heading, lists included."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.strip().splitlines()
        if lines and lines[0].startswith("#"):
            body = []
            for line in lines[1:]:
                if line.startswith("#"):
                    break
                body.append(line)
            return lines[0].lstrip("#").strip(), "\n".join(body).strip()
    return "", ""


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


def widgets_as_stills(notebook) -> dict:
    """Replace each widget view by what a static page can show; return counts by kind.

    A static page cannot run Python, and rendering the widgets would need the
    ipywidgets renderer from a CDN. An explorer (a widget holding an Output) becomes
    its last figure and slider values with a caption; a progress bar its final line
    of text; a widget that was closed (no state left) disappears.
    """
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    counts = {"explorer": 0, "progress": 0, "other": 0, "closed": 0}
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
            names = {m["model_name"] for m in models}
            layouts = [state.get(m["state"].get("layout", "").removeprefix("IPY_MODEL_"), {}) for m in models[:1]]
            hidden = any(layout.get("state", {}).get("visibility") == "hidden"
                         or layout.get("state", {}).get("display") == "none" for layout in layouts)
            values = [f"{m['state']['description']} = {m['state']['value']}" for m in models
                      if "value" in m["state"] and m["state"].get("description")]
            if not models or hidden:
                counts["closed"] += 1
            elif "OutputModel" in names:
                figures = [o["data"]["image/png"] for m in models if m["model_name"] == "OutputModel"
                           for o in m["state"].get("outputs", []) if "image/png" in o.get("data", {})]
                outputs += [nbformat.v4.new_output("display_data", data={"image/png": png}) for png in figures]
                settings = f" ({html.escape(', '.join(values))})" if values else ""
                caption = (f"<p><em>Explorer, as left by the run{settings}. "
                           "Open the notebook in JupyterLab to move its sliders.</em></p>")
                outputs.append(nbformat.v4.new_output("display_data", data={"text/html": caption}))
                counts["explorer"] += 1
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


# ---------------------------------------------------------------- the build


def build(notebooks: list[Path], out_dir: Path) -> Path:
    """Execute and convert ``notebooks``; write them and index.html to ``out_dir``; return the index."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = offline_exporter()
    items = []
    for path in notebooks:
        notebook, seconds = execute(path)
        counts = widgets_as_stills(notebook)
        body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"path": str(path.parent)}})
        remote = remote_assets(body)
        if remote:
            raise RuntimeError(f"{path.name}: the page would load from the network: {remote[:3]}")
        page = path.with_suffix(".html").name
        (out_dir / page).write_text(body, encoding="utf-8")
        title, summary = title_and_summary(notebook)
        items.append(f'<li><a href="{page}">{html.escape(path.stem)}</a>: <strong>{html.escape(title)}</strong>'
                     f"{render_markdown(summary)}</li>")
        print(f"{path.name}: executed in {seconds:.1f} s -> {page} ({len(body.encode()) / 1e6:.2f} MB; "
              f"{counts['explorer']} explorers, {counts['progress']} progress bars)", flush=True)
    index = out_dir / "index.html"
    index.write_text(INDEX_TEMPLATE.format(items="\n".join(items), math_style=MATH_STYLE), encoding="utf-8")
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
