"""The static copy of the course (`make html`): its parts, then the whole copy read in
headless Chromium with no network.

The browser tests (marker ``browser``) build the whole course once, as `make html`
builds it, in its own process with a time limit. Every request a page makes is
routed: anything but a local file fails the test. Chromium is Debian's
(``apt-get install -y chromium``); Playwright's own browser download is never used.
"""

import io
import pathlib
import re
import shutil
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from PIL import Image

ROOT = pathlib.Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))
from tools.build_html import (  # noqa: E402
    remote_assets,
    render_markdown,
    tex_to_svg,
    title_and_summary,
    widgets_as_stills,
)
from tools.execute_notebooks import NOTEBOOKS  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
BUILD_TIMEOUT_S = 900
EXPLORER_CALL = re.compile(r"\b(?!update_)\w+_explorer\(")  # explorers.curve_explorer(...), not update_..._explorer(
LOCAL_REFERENCE = re.compile(r"<(?:script|img|link|iframe|source)\b[^>]*\b(?:src|href)\s*=\s*[\"']([^\"'#]+)[\"']")


# ---------------------------------------------------------------- the parts, no browser needed


def test_equations_become_svg_paths_with_no_tex_left():
    page = render_markdown("Each curve is $y = p_1 \\, a + p_2 \\, b$, and\n\n$$\\sum_i c_i f_i + b$$\n")
    assert page.count("<svg class=\"tex\"") == 2 and page.count("<path ") == 2
    assert "$" not in re.sub(r"<[^>]*>", "", page), "no TeX delimiter left in the text"
    assert 'class="tex-display"' in page, "display math gets its own line"
    svg = tex_to_svg("x^2")
    width, height = (float(v) for v in re.search(r"width:([\d.]+)em;height:([\d.]+)em", svg).groups())
    assert 0.5 < width < 3 and 0.5 < height < 2, "sized in em, like the text around it"
    with pytest.raises(ValueError):
        tex_to_svg(r"\begin{aligned} a \\ b \end{aligned}")
    with pytest.warns(UserWarning, match="cannot draw"):
        assert 'class="tex-source"' in render_markdown(r"$\notacommand x$")


def test_remote_assets_are_found_and_links_are_not():
    for loaded in ('<script src="https://cdn.example/require.js"></script>', "<link rel=stylesheet href='//x/y.css'>",
                   "<style>@font-face { src: url(https://x/f.woff) }</style>", '<img src="http://x/a.png">'):
        assert remote_assets(loaded), loaded
    assert not remote_assets('<a href="https://example.org">a link to read</a><script src="local.js"></script>')


def _state(models: dict) -> dict:
    return {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {
        key: {"model_name": name, "state": state} for key, (name, state) in models.items()}}}}


def _view(model_id: str) -> dict:
    return nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": model_id, "version_major": 2, "version_minor": 0}})


def test_widgets_become_stills_progress_bars_become_text():
    notebook = nbformat.v4.new_notebook(metadata=_state({
        "bar": ("HBoxModel", {"children": ["IPY_MODEL_left", "IPY_MODEL_progress", "IPY_MODEL_right"]}),
        "left": ("HTMLModel", {"value": "training\u20073\u2007seeds:\u2007100%", "description": ""}),
        "progress": ("FloatProgressModel", {"value": 3000, "min": 0, "max": 3000, "description": ""}),
        "right": ("HTMLModel", {"value": "\u20073000/3000\u2007[00:01&lt;00:00]", "description": ""}),
        "explorer": ("VBoxModel", {"children": ["IPY_MODEL_slider", "IPY_MODEL_out"]}),
        "slider": ("FloatSliderModel", {"value": 0.25, "description": "c1"}),
        "out": ("OutputModel", {"outputs": [{"output_type": "display_data", "data": {"image/png": "iVBOR"},
                                             "metadata": {}}]}),
    }))
    notebook.cells = [nbformat.v4.new_code_cell(outputs=[_view("bar")]),
                      nbformat.v4.new_code_cell(outputs=[_view("explorer")]),
                      nbformat.v4.new_code_cell(outputs=[_view("closed_long_ago")])]
    assert widgets_as_stills(notebook) == {"explorer": 1, "progress": 1, "other": 0, "closed": 1}
    (bar,), explorer, closed = (cell.outputs for cell in notebook.cells)
    assert bar.data["text/plain"].startswith("training 3 seeds: 100%|█") and "3000/3000 [00:01<00:00]" in bar.data[
        "text/plain"], "a progress bar becomes its last line of text, with no explorer caption"
    assert explorer[0].data["image/png"] == "iVBOR"
    assert "Explorer, as left by the run (c1 = 0.25)" in explorer[1].data["text/html"]
    assert closed == [] and "widgets" not in notebook.metadata


def test_index_summary_is_the_whole_introduction():
    cell = nbformat.v4.new_markdown_cell("# 03 · Title\n\nWe take the best seed and:\n\n1. decode,\n2. animate.\n\n"
                                         "Builds on 02.\n\n## Next section\n\nnot this")
    title, intro = title_and_summary(nbformat.v4.new_notebook(cells=[cell]))
    assert title == "03 · Title" and intro.endswith("Builds on 02.") and "2. animate." in intro


# ---------------------------------------------------------------- the whole copy, in a browser


@pytest.fixture(scope="module")
def chromium_path():
    if CHROMIUM is None:
        pytest.skip("headless Chromium not found: install Debian's package (`sudo apt-get install -y chromium`); "
                    ".ci/run installs it, so CI always runs these tests")
    return CHROMIUM


@pytest.fixture(scope="module")
def site(tmp_path_factory, chromium_path):
    """The whole course built by tools/build_html.py into a temporary folder."""
    out = tmp_path_factory.mktemp("html")
    # In its own process, as `make html` runs it: nbclient's event loop and Playwright's
    # share none of this one (run in this process, a notebook once waited forever).
    built = subprocess.run([sys.executable, str(ROOT / "tools" / "build_html.py"), "--out", str(out)],
                           capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert built.returncode == 0, (built.stdout + built.stderr)[-3000:]
    assert "cannot draw" not in built.stderr, "an equation was left as TeX source:\n" + built.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def browser(chromium_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.txt: run `make setup`")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def offline_page(browser):
    """A page whose every request is checked: local files go through, anything else fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    remote, failed = [], []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            request_route.continue_()
        else:
            remote.append(url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("requestfailed", lambda request: failed.append(request.url))
    yield page, remote, failed
    context.close()


def _open(page_and_log, path: pathlib.Path):
    page, remote, failed = page_and_log
    page.goto(path.as_uri(), wait_until="load")
    assert not remote, f"{path.name} asked the network for {remote[:5]}"
    assert not [url for url in failed if not url.startswith("data:")], f"{path.name}: missing files {failed[:5]}"
    return page


def _visible_symbol(button) -> bool:
    """Whether the button's face shows a dark mark (its symbol), not only its border."""
    image = np.asarray(Image.open(io.BytesIO(button.screenshot())).convert("L"), float)
    inner = image[4:-4, 4:-4]  # inside the border
    return inner.size > 0 and (inner < 128).sum() >= 12


@pytest.mark.browser
def test_index_links_every_notebook_with_its_whole_introduction(site, offline_page):
    page = _open(offline_page, site / "index.html")
    items = page.locator("body > ol > li")
    assert items.count() == len(NOTEBOOKS)
    links = page.eval_on_selector_all("body > ol > li > a", "links => links.map(a => a.getAttribute('href'))")
    assert links == [path.with_suffix(".html").name for path in NOTEBOOKS]
    for i, path in enumerate(NOTEBOOKS):
        _, intro = title_and_summary(nbformat.read(path, as_version=4))
        last_word = re.findall(r"[A-Za-z0-9]+", intro)[-1]
        text = items.nth(i).inner_text().strip()
        assert re.search(rf"\b{re.escape(last_word)}\W*$", text), \
            f"the index shows only part of {path.name}'s introduction: {text[-120:]!r}"
        assert "$" not in text


@pytest.mark.browser
def test_every_page_reads_offline(site, offline_page):
    for path in NOTEBOOKS:
        html_path = site / path.with_suffix(".html").name
        source = html_path.read_text(encoding="utf-8")
        for reference in LOCAL_REFERENCE.findall(source):
            if not reference.startswith(("data:", "http:", "https:", "//")):
                assert (html_path.parent / reference).exists(), f"{html_path.name} refers to a missing {reference}"
        page = _open(offline_page, html_path)

        markdown_text = "\n".join(page.locator(".jp-RenderedMarkdown").all_inner_texts())
        assert "$" not in markdown_text, f"{html_path.name} shows raw TeX: an equation was not rendered"
        assert page.locator("code.tex-source").count() == 0, f"{html_path.name} has TeX that mathtext cannot draw"
        sizes = page.eval_on_selector_all("svg.tex", "svgs => svgs.map(s => s.getBoundingClientRect().width)")
        assert all(width > 5 for width in sizes), f"{html_path.name} has an equation drawn with no width"

        notebook = nbformat.read(path, as_version=4)
        explorers = sum(1 for cell in notebook.cells if cell.cell_type == "code" and EXPLORER_CALL.search(cell.source))
        captions = page.locator("em", has_text="Explorer, as left by the run").all_inner_texts()
        assert len(captions) == explorers, \
            f"{html_path.name}: {len(captions)} explorer captions for {explorers} explorers (a progress bar?)"
        assert not [c for c in captions if "()" in c or "run." in c], f"{html_path.name} has an empty caption"
        outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
        assert "Explorer, as left by the run ()" not in outputs
        for bar in re.findall(r"^.*\|[█ ]+\|.*$", outputs, re.MULTILINE):
            assert "Explorer" not in bar and "100%" in bar, f"{html_path.name}: unfinished or odd progress bar {bar!r}"


@pytest.mark.browser
def test_animations_have_visible_buttons_and_play_offline(site, offline_page):
    pages = [site / path.with_suffix(".html").name for path in NOTEBOOKS]
    with_players = [p for p in pages if "course-animation" in p.read_text(encoding="utf-8")]
    assert with_players, "notebook 03's animations are missing from the static copy"
    for html_path in with_players:
        page = _open(offline_page, html_path)
        players = page.locator("div.course-animation")
        assert players.count() >= 1
        for k in range(players.count()):
            player = players.nth(k)
            frame = player.locator("img:not([hidden])")
            assert frame.count() == 1 and frame.evaluate("img => img.complete && img.naturalWidth") >= 800, \
                "one frame shows, at least 800 pixels wide"
            for title in ("First frame", "Previous frame", "Play", "Next frame", "Last frame"):
                button = player.locator(f"button[title='{title}']")
                button.scroll_into_view_if_needed()
                assert _visible_symbol(button), f"the {title!r} button of player {k + 1} shows no symbol"
            count = player.locator("img").count()
            counter = player.locator("output")
            player.locator("button[title='Last frame']").click()
            assert counter.inner_text() == f"{count} / {count}"
            player.locator("button[title='Next frame']").click()
            assert counter.inner_text() == f"1 / {count}", "the player loops"
            before = frame.get_attribute("alt")
            player.locator("button[title='Play']").click()
            page.wait_for_function("([p, old]) => p.querySelector('img:not([hidden])').alt !== old",
                                   arg=[player.element_handle(), before], timeout=10_000)
            assert _visible_symbol(player.locator("button[title='Pause']")), "the pause button shows no symbol"
            player.locator("button[title='Pause']").click()
            player.locator("button[title='First frame']").click()
            assert counter.inner_text() == f"1 / {count}"
