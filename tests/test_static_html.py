"""The static copy of the course (`make html`) in headless Chromium, offline.

Chromium is Debian's (``apt-get install -y chromium``); Playwright's own browser
download is never used.
"""

import pathlib
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]

if CHROMIUM is None:
    pytest.skip("headless Chromium not found: install Debian's package (`sudo apt-get install -y chromium`); "
                ".ci/run installs it, so CI always runs these tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.txt: run `make setup`")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def test_static_course_links_its_notebooks_and_animations_play_offline(browser, tmp_path):
    # As `make html` runs it, in its own process: nbclient's event loop and Playwright's
    # share none of this one (run in this process, a notebook once waited forever).
    notebooks = [str(ROOT / "notebooks" / name) for name in ("01_data.ipynb", "03_decoder_animation.ipynb")]
    built = subprocess.run([sys.executable, str(ROOT / "tools" / "build_html.py"), "--out", str(tmp_path), *notebooks],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, (built.stdout + built.stderr)[-3000:]
    index = tmp_path / "index.html"
    context = browser.new_context()
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    context.set_offline(True)
    page = context.new_page()
    try:
        page.goto(index.as_uri())
        links = page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))")
        assert links == ["01_data.html", "03_decoder_animation.html"]
        page.goto((tmp_path / "01_data.html").as_uri())
        assert page.locator("text=Explorer, as left by the run").count() == 1, "the explorer's still is missing"
        page.goto((tmp_path / "03_decoder_animation.html").as_uri())
        players = page.locator(".animation")
        assert players.count() == 4
        frame = players.first.locator("img")
        before = frame.get_attribute("src")
        play = players.first.locator("button[title='Play']")
        symbol = play.evaluate("b => getComputedStyle(b.querySelector('i'), '::before').content")
        assert symbol not in ("", "none", "normal"), "the play button has no symbol offline"
        play.click()
        page.wait_for_function("([img, old]) => img.src !== old", arg=[frame.element_handle(), before], timeout=10_000)
    finally:
        context.close()
