"""The explorers in a real browser: JupyterLab in headless Chromium, driven by Playwright.

For every notebook with an explorer: run all its cells in JupyterLab, move every
slider (keyboard) and menu of each explorer, and check that the figure changes after
each move, that the explorer shows no traceback and that no cell raised. A
screenshot of each explorer goes to build/browser/, and the time from a move to the
new figure is printed (and written to build/browser/latency.json).

JupyterLab runs on 127.0.0.1 with a throwaway config, data and runtime directory,
on copies of the notebooks (so nothing is saved into notebooks/), and is stopped by
its process id. Chromium is Debian's (``apt-get install -y chromium``); Playwright's
own browser download is never used.
"""

import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

import pytest

from test_lab import free_port

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).parent.parent
OUT = ROOT / "build" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
MOVES = 5  # at least this many moves per explorer; each must bring a new figure

if CHROMIUM is None:
    pytest.skip("headless Chromium not found: install Debian's package (`sudo apt-get install -y chromium`); "
                ".ci/run installs it, so CI always runs these tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.txt: run `make setup`")

NOTEBOOKS_WITH_EXPLORERS = sorted(
    p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb") if "_explorer(" in p.read_text()
)
LATENCIES: dict = {}

# The notebook panel JupyterLab shows, through the app it exposes (--LabApp.expose_app_in_browser).
PANEL = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
KERNEL_IDLE = f"""name => {{
  const panel = {PANEL};
  if (!panel || !panel.context || panel.context.path !== name) return false;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && panel.content && panel.content.model;
}}"""
ALL_CELLS_RAN = f"""() => {{
  const panel = {PANEL};
  const cells = Array.from(panel.content.model.cells);
  const kernel = panel.sessionContext.session.kernel;
  return kernel.status === 'idle' && cells.every(c => c.type !== 'code' || c.executionCount > 0);
}}"""
CELL_ERRORS = f"""() => {{
  const cells = Array.from({PANEL}.content.model.cells);
  return cells.filter(c => c.type === 'code')
              .flatMap(c => c.toJSON().outputs.filter(o => o.output_type === 'error')
                                           .map(o => o.ename + ': ' + o.evalue));
}}"""
FIGURE_SRC = "root => { const img = root.querySelector('.widget-output img'); return img ? img.src : null; }"
FIGURE_CHANGED = ("([root, old]) => { const img = root.querySelector('.widget-output img');"
                  " return !!img && img.src !== old; }")
TRACEBACK = "root => !!root.querySelector('.widget-output [data-mime-type=\"application/vnd.jupyter.stderr\"]')"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 serving copies of the notebooks; stopped by its process id."""
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    # Render every cell (no virtual scrolling), so every explorer is in the page.
    settings = tmp / "config" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), "course-browser-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_RUNTIME_DIR": str(tmp / "run"),
           "JUPYTER_DATA_DIR": str(tmp / "data")}
    args = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
            "--LabApp.expose_app_in_browser=True", f"--LabApp.workspaces_dir={tmp / 'workspaces'}"]
    if os.getuid() == 0:
        args.append("--allow-root")
    log = open(tmp / "lab.log", "wb")
    server = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (tmp / "lab.log").read_text()[-2000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(0.5)
        yield {"url": f"http://127.0.0.1:{port}", "token": token}
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its kernels share this process group
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", autouse=True)
def latency_file():
    yield
    if LATENCIES:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "latency.json").write_text(json.dumps(LATENCIES, indent=2) + "\n")


def test_some_notebooks_have_explorers():
    assert len(NOTEBOOKS_WITH_EXPLORERS) >= 5, NOTEBOOKS_WITH_EXPLORERS


@pytest.mark.parametrize("name", NOTEBOOKS_WITH_EXPLORERS)
def test_explorers_answer_their_sliders(lab, browser, name, capsys):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # ?reset: a fresh workspace, so only this notebook is open (not the previous test's).
        page.goto(f"{lab['url']}/lab/tree/{name}?reset&token={lab['token']}")
        page.wait_for_function(KERNEL_IDLE, arg=name, timeout=120_000)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(ALL_CELLS_RAN, timeout=300_000, polling=500)
        assert page.evaluate(CELL_ERRORS) == [], f"{name}: a cell raised"

        explorers = page.locator(".widget-vbox:has(> .widget-output)")
        count = explorers.count()
        assert count == page.locator(".widget-output").count() and count >= 1, f"{name}: explorers not rendered"
        for index in range(count):
            root = explorers.nth(index)
            root.locator(".widget-output img").wait_for(timeout=30_000)
            # Every control once (sliders: ArrowRight on the handle; menus: the next option), then
            # the first slider again until MOVES moves in all.
            controls = root.locator(".noUi-handle, select").all()
            controls += [root.locator(".noUi-handle").first] * max(0, MOVES - len(controls))
            latencies = []
            for control in controls:
                before = root.evaluate(FIGURE_SRC)
                is_menu = control.evaluate("el => el.tagName") == "SELECT"
                next_option = control.evaluate("el => el.selectedIndex + 1") if is_menu else None
                control.focus()
                start = time.perf_counter()
                if is_menu:
                    control.select_option(index=next_option)
                else:
                    page.keyboard.press("ArrowRight")
                page.wait_for_function(FIGURE_CHANGED, arg=[root.element_handle(), before], timeout=30_000,
                                       polling="raf")
                latencies.append(1000 * (time.perf_counter() - start))
            assert not root.evaluate(TRACEBACK), f"{name}: explorer {index + 1} shows a traceback"
            OUT.mkdir(parents=True, exist_ok=True)
            root.screenshot(path=str(OUT / f"{name.removesuffix('.ipynb')}-explorer{index + 1}.png"))
            LATENCIES[f"{name} explorer {index + 1}"] = latencies
            with capsys.disabled():  # shown in every run, CI's included
                print(f"\n  {name} explorer {index + 1}: slider move -> new figure in "
                      f"{statistics.median(latencies):.0f} ms (median of {len(latencies)}, max {max(latencies):.0f})")
        assert page.evaluate(CELL_ERRORS) == [], f"{name}: moving the sliders raised"
        assert page.evaluate(KERNEL_IDLE, name), f"{name}: the kernel is not idle (dead?) after the slider moves"
    finally:
        page.close()
