"""The course book (`make html`): its parts, then the whole book read in headless Chromium with no network.

The browser tests (marker ``browser``) build the whole book once, as `make html`
builds it, in its own process with a time limit (set COURSE_BOOK=build/html to read a
book already built instead). Every request a page makes is routed: anything but a
local file fails the test, and so does any console error. Chromium is Debian's
(``apt-get install -y chromium``); Playwright's own browser download is never used.
Screenshots go to build/screenshots/.
"""

import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request

import nbformat
import numpy as np
import pytest
from PIL import Image

ROOT = pathlib.Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))
from course_utils import registry  # noqa: E402
from course_utils.display.static_explorer import GRID_LIMIT, precompute_frames, slider_positions  # noqa: E402
from tools.build_html import (  # noqa: E402
    PAGE_LIMIT_MB,
    course_text,
    landing_page,
    page_sizes,
    remote_assets,
    static_explorer_html,
    widgets_for_the_book,
)
from tools.execute_notebooks import NOTEBOOKS  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from test_lab import free_port  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
BUILD_TIMEOUT_S = 900
SCREENSHOTS = ROOT / "build" / "screenshots"
EXPLORER_CALL = re.compile(r"\b(?!update_)\w+_explorer\(")  # explorers.curve_explorer(...), not update_..._explorer(


# ---------------------------------------------------------------- the parts, no browser needed


def test_slider_positions_keep_the_start_and_both_ends():
    kept = slider_positions(-1.0, 1.0, 0.05, 0.65, integer=False)
    assert kept[0] == -1.0 and kept[-1] == 1.0 and 0.65 in kept and len(kept) <= 22
    assert slider_positions(0, 8, 1, 4, integer=True) == list(range(9)), "a short slider keeps every step"
    with pytest.raises(ValueError, match="max_positions"):
        slider_positions(0, 8, 1, 4, integer=True, max_positions=1)


def test_precomputed_frames_cover_every_position(tmp_path):
    curve = registry.EXPLORERS["curve"]
    spec = precompute_frames(curve, curve.examples(), {"p1": 0.2}, tmp_path / "curve")
    assert spec["mode"] == "single", "two 21-position sliders are too many combinations for a grid"
    p1, p2 = spec["controls"]
    assert p1["positions"][p1["start"]] == 0.2 and p2["positions"][p2["start"]] == curve.defaults["p2"]
    assert len(spec["frames"]) == len(p1["positions"]) + len(p2["positions"]) - 1
    assert all((tmp_path / "curve" / name).exists() for name in spec["frames"].values())
    assert len(set(spec["frames"].values())) > 10, "moving a slider changes the picture"
    png = Image.open(tmp_path / "curve" / spec["frames"][f"0,{p2['start']}"])
    assert png.mode == "P" and len(png.getcolors()) <= 64, "64-colour pictures"
    overlap = registry.EXPLORERS["overlap"]
    grid = precompute_frames(overlap, overlap.examples(), {}, tmp_path / "overlap")
    assert grid["mode"] == "grid" and len(grid["frames"]) == 8 * 4 <= GRID_LIMIT, "kernel x stride: every pair"
    with pytest.raises(TypeError, match="explorer"):
        precompute_frames("curve", (), {}, tmp_path)


def test_static_explorer_html_names_its_controls_and_says_that_the_others_reset():
    spec = {"name": "curve", "mode": "single", "frames": {"1,0": "000.png", "0,0": "001.png", "1,1": "002.png"},
            "controls": [{"name": "p1", "label": "p1", "menu": False, "positions": [0.0, 0.5], "start": 1},
                         {"name": "v", "label": "variant", "menu": True, "positions": ["a", "</script>"], "start": 0}]}
    page = static_explorer_html(spec, "_static/explorers/x/curve-0/", "Move p1.")
    assert 'src="_static/explorers/x/curve-0/000.png"' in page, "the start's picture shows first"
    assert 'type="range"' in page and "<select" in page and "Move p1." in page and "back at their starting" in page
    assert page.count("</script>") == 1, "a label cannot end the data early"
    assert not remote_assets(page)


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


def test_widgets_become_static_explorers_progress_bars_become_text():
    notebook = nbformat.v4.new_notebook(metadata=_state({
        "bar": ("HBoxModel", {"children": ["IPY_MODEL_left", "IPY_MODEL_progress", "IPY_MODEL_right"]}),
        "left": ("HTMLModel", {"value": "training\u20073\u2007seeds:\u2007100%", "description": ""}),
        "progress": ("FloatProgressModel", {"value": 3000, "min": 0, "max": 3000, "description": ""}),
        "right": ("HTMLModel", {"value": "\u20073000/3000\u2007[00:01&lt;00:00]", "description": ""}),
        "explorer": ("VBoxModel", {"children": ["IPY_MODEL_out"]}),
        "out": ("OutputModel", {"outputs": []}),
    }))
    notebook.cells = [nbformat.v4.new_code_cell(outputs=[_view("bar")]),
                      nbformat.v4.new_code_cell(outputs=[_view("explorer")]),
                      nbformat.v4.new_code_cell(outputs=[_view("closed_long_ago")])]
    counts = widgets_for_the_book(notebook, {"explorer": "<div class='course-explorer'></div>"})
    assert counts == {"explorer": 1, "still": 0, "progress": 1, "other": 0, "closed": 1}
    (bar,), (explorer,), closed = (cell.outputs for cell in notebook.cells)
    assert bar.data["text/plain"].startswith("training 3 seeds: 100%|█") and "3000/3000 [00:01<00:00]" in bar.data[
        "text/plain"], "a progress bar becomes its last line of text"
    assert "course-explorer" in explorer.data["text/html"]
    assert closed == [] and "widgets" not in notebook.metadata


def test_landing_page_places_every_notebook_in_a_part():
    text = course_text()
    pages = {path.stem: {"title": f"title of {path.stem}", "seconds": 4.2} for path in NOTEBOOKS}
    page = landing_page(text, pages)
    assert page.count(":caption: Part") == 2 and "## Part I" in page and "## Part II" in page
    for stem in pages:
        assert re.search(rf"^- \[title of {stem}\]\({stem}\.ipynb\): .+\? \*Runs in 4 s\.\*$", page, re.MULTILINE), stem
    assert set(text["explorers"]) == set(registry.EXPLORERS), "docs/book/course.yml: a caption for every explorer"
    with pytest.raises(ValueError, match="no part"):
        landing_page(text, {**pages, "14_new": {"title": "t", "seconds": 1.0}})


# ---------------------------------------------------------------- the whole book, in a browser


@pytest.fixture(scope="module")
def chromium_path():
    if CHROMIUM is None:
        pytest.skip("headless Chromium not found: install Debian's package (`sudo apt-get install -y chromium`); "
                    ".ci/run installs it, so CI always runs these tests")
    return CHROMIUM


@pytest.fixture(scope="module")
def site(tmp_path_factory, chromium_path):
    """The whole book, built by tools/build_html.py into a temporary folder (or COURSE_BOOK, if set)."""
    if os.environ.get("COURSE_BOOK"):
        return (ROOT / os.environ["COURSE_BOOK"]).resolve()
    out = tmp_path_factory.mktemp("book") / "html"
    # In its own process, as `make html` runs it: nbclient's event loop and Playwright's
    # share none of this one (run in this process, a notebook once waited forever).
    built = subprocess.run([sys.executable, str(ROOT / "tools" / "build_html.py"), "--out", str(out)],
                           capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert built.returncode == 0, (built.stdout + built.stderr)[-3000:]
    assert "WARNING" not in built.stderr.replace("[IPKernelApp] WARNING", ""), built.stderr[-3000:]
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
    log = {"remote": [], "failed": [], "errors": []}

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            request_route.continue_()
        else:
            log["remote"].append(url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("requestfailed", lambda request: _missing(request.url) and log["failed"].append(request.url))
    page.on("console", lambda message: message.type == "error" and log["errors"].append(message.text))
    page.on("pageerror", lambda error: log["errors"].append(str(error)))
    yield page, log
    context.close()


def _missing(url: str) -> bool:
    """A failed request counts unless it is for a file that exists: leaving a page aborts its preloads."""
    parts = urllib.parse.urlparse(url)
    return parts.scheme != "file" or not pathlib.Path(urllib.request.url2pathname(parts.path)).is_file()


def _open(page_and_log, path: pathlib.Path, query: str = ""):
    page, log = page_and_log
    page.goto(path.as_uri() + query, wait_until="load")
    # MathJax typesets after the page loads; its promise settles when every equation is done.
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => true) : true")
    assert not log["remote"], f"{path.name} asked the network for {log['remote'][:5]}"
    assert not log["failed"], f"{path.name}: missing files {log['failed'][:5]}"
    assert not log["errors"], f"{path.name}: console errors {log['errors'][:5]}"
    return page


def _visible_symbol(button) -> bool:
    """Whether the button's face shows a dark mark (its symbol), not only its border."""
    image = np.asarray(Image.open(io.BytesIO(button.screenshot())).convert("L"), float)
    inner = image[4:-4, 4:-4]  # inside the border
    return inner.size > 0 and (inner < 128).sum() >= 12


# The article's prose: no code, no outputs, no typeset equations.
PROSE_JS = """() => { const a = document.querySelector('article').cloneNode(true);
  a.querySelectorAll('pre, code, .cell_output, .cell_input, mjx-container, script, style').forEach(e => e.remove());
  return a.innerText; }"""


def _pages(site):
    return [site / path.with_suffix(".html").name for path in NOTEBOOKS]


@pytest.mark.browser
def test_landing_page_has_both_parts_every_notebook_and_the_picture(site, offline_page):
    page = _open(offline_page, site / "index.html")
    article = page.locator("article")
    assert [h.strip() for h in article.locator("h2").all_inner_texts()][:2] == [
        part["title"] for part in course_text()["parts"]]
    items = article.locator("li").all_inner_texts()
    assert len(items) == len(NOTEBOOKS) and all(re.search(r"\? Runs in \d+ s\.$", item.strip()) for item in items)
    links = page.eval_on_selector_all("article li a", "links => links.map(a => a.getAttribute('href'))")
    assert links == [path.with_suffix(".html").name for path in NOTEBOOKS]
    assert page.locator("article img").evaluate("img => img.complete && img.naturalWidth") > 100, "the picture shows"
    sidebar = page.eval_on_selector_all("nav.bd-links a", "links => links.map(a => a.getAttribute('href'))")
    assert all(path.with_suffix(".html").name in sidebar for path in NOTEBOOKS), "the sidebar lists every notebook"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "book_landing_page.png"), full_page=True)


@pytest.mark.browser
def test_every_page_reads_offline_with_every_equation_typeset(site, offline_page):
    sizes = page_sizes(site)
    for html_path in [site / "index.html", site / "search.html", site / "genindex.html", *_pages(site)]:
        page = _open(offline_page, html_path)
        assert sizes[html_path.name] <= PAGE_LIMIT_MB * 1e6, f"{html_path.name}: {sizes[html_path.name] / 1e6:.2f} MB"
        prose = page.evaluate(PROSE_JS) if page.locator("article").count() else ""
        for raw in ("$", "\\(", "\\[", "\\begin"):
            assert raw not in prose, f"{html_path.name} shows raw TeX ({raw!r}): an equation was not typeset"
        maths = page.locator(".math").count()
        typeset = page.locator(".math mjx-container svg").count()
        assert typeset == maths, f"{html_path.name}: {typeset} of {maths} equations typeset by MathJax"
        assert page.locator("mjx-merror, [data-mjx-error]").count() == 0, f"{html_path.name}: a TeX error"
    assert (site / "_static" / "mathjax" / "tex-svg.js").exists()


@pytest.mark.browser
def test_notebook_pages_link_previous_and_next_and_search_finds_them(site, offline_page):
    for k, html_path in enumerate(_pages(site)):
        page = _open(offline_page, html_path)
        links = page.eval_on_selector_all(".prev-next-area a", "links => links.map(a => a.getAttribute('href'))")
        expected = {"index.html" if k == 0 else _pages(site)[k - 1].name}
        if k + 1 < len(NOTEBOOKS):
            expected.add(_pages(site)[k + 1].name)
        assert expected <= set(links), f"{html_path.name}: previous/next are {links}"
    page = _open(offline_page, site / "search.html", "?q=checkerboard")
    page.wait_for_selector("#search-results li", timeout=10_000)
    found = page.eval_on_selector_all("#search-results li a", "links => links.map(a => a.getAttribute('href'))")
    assert any("09_checkerboard.html" in href for href in found), found


@pytest.mark.browser
def test_search_served_on_localhost_shows_text_snippets(site, browser):
    """Served (as the README says: python -m http.server --bind 127.0.0.1), results come with their snippets."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=site,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    context = browser.new_context()
    try:
        local = f"http://127.0.0.1:{port}/"
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith((local, "data:", "blob:"))
                      else r.abort())
        page = context.new_page()
        for _ in range(50):  # the server needs a moment to listen
            try:
                page.goto(local + "search.html?q=checkerboard", wait_until="load")
                break
            except Exception:  # noqa: BLE001 - connection refused until it listens
                page.wait_for_timeout(100)
        page.wait_for_selector("#search-results li p.context", timeout=15_000)
        assert "checkerboard" in page.locator("#search-results li p.context").first.inner_text().lower()
    finally:
        context.close()
        server.terminate()  # our own server, by its process id
        server.wait(timeout=10)


@pytest.mark.browser
def test_every_static_explorer_moves(site, offline_page):
    explorers_seen = 0
    for path, html_path in zip(NOTEBOOKS, _pages(site)):
        notebook = nbformat.read(path, as_version=4)
        calls = sum(1 for cell in notebook.cells if cell.cell_type == "code" and EXPLORER_CALL.search(cell.source))
        page = _open(offline_page, html_path)
        explorers = page.locator("div.course-explorer")
        assert explorers.count() == calls, f"{html_path.name}: {explorers.count()} static explorers for {calls} calls"
        for e in range(explorers.count()):
            explorer = explorers.nth(e)
            spec = json.loads(explorer.locator("script[type='application/json']").text_content())
            image = explorer.locator("img")
            explorer.scroll_into_view_if_needed()
            assert image.evaluate("img => img.complete && img.naturalWidth") > 300, "the start's picture shows"
            if explorers_seen == 0:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                explorer.screenshot(path=str(SCREENSHOTS / "book_explorer_before.png"))
            controls = explorer.locator("[data-control]")
            for k in range(controls.count()):
                control = controls.nth(k)
                before = image.get_attribute("src")
                start, count = spec["controls"][k]["start"], len(spec["controls"][k]["labels"])
                target = str(count - 1 if start < count - 1 else 0)
                if control.evaluate("c => c.tagName") == "SELECT":
                    control.select_option(target)
                else:
                    control.fill(target)
                position = image.get_attribute("data-position").split(",")
                assert position[k] == target, f"{html_path.name}: control {k} did not move the explorer"
                if spec["mode"] == "single":
                    assert all(int(p) == c["start"] for j, (p, c) in enumerate(zip(position, spec["controls"]))
                               if j != k), "the other controls went back to their start"
                page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
                assert image.get_attribute("src") != before or spec["frames"][",".join(position)] == before.rsplit(
                    "/", 1)[-1], "a new position shows its own picture"
                if explorers_seen == 0 and k == 0:
                    explorer.screenshot(path=str(SCREENSHOTS / "book_explorer_after.png"))
                assert not offline_page[1]["errors"] and not offline_page[1]["failed"], offline_page[1]
            changed = len(set(spec["frames"].values()))
            assert changed > 1, f"{html_path.name}: every position of explorer {e + 1} shows the same picture"
            explorers_seen += 1
    assert explorers_seen == len(registry.EXPLORERS), "every registered explorer moves in the book"


@pytest.mark.browser
def test_animations_have_visible_buttons_and_play_offline(site, offline_page):
    with_players = [p for p in _pages(site) if "course-animation" in p.read_text(encoding="utf-8")]
    assert with_players, "notebook 03's animations are missing from the book"
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
