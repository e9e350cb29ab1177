"""The explorers in a real browser: JupyterLab in headless Chromium, driven by Playwright.

The explorers come from ``course_utils.widgets.EXPLORERS`` (one registry), and a
test checks that the notebooks call exactly those. For every notebook with an
explorer: run all its cells in JupyterLab, move every slider (keyboard) and menu of
each explorer, round after round, and check that the figure changes after each
move, that the explorer shows no traceback and that no cell raised. A screenshot of
each explorer goes to build/browser/.

Latency, slider move -> new picture, is measured inside the page: from the key
press (or menu change) to the first animation frame after the new image has been
decoded. Each explorer's median and 90th percentile are printed and written to
build/browser/latency.json::

    round_trip_ms_median        JupyterLab's round trip: the same move on a control that
                                computes nothing (one line of a 9 x 3.2 in figure moves)
    explorer_browser_ms_median  the slowest explorer's median
    explorer_round_trips        that median as a multiple of the round trip (goal <= 1.5)
    explorer_browser_ms_p90     the slowest explorer's 90th percentile
    explorers                   per explorer: notebook, registered, median_ms, p90_ms,
                                round_trips (median / round trip), moves_ms

Milliseconds do not travel between machines; the multiple of the round trip does.

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

import nbformat
import pytest

from course_utils import registry
from test_lab import free_port
from test_registry import NOTEBOOK_CALLS, REGISTERED

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).parent.parent
OUT = ROOT / "build" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
MOVES = 20  # moves per explorer, every control in turn; each must bring a new figure
GOAL_ROUND_TRIPS = 1.5  # the slowest explorer's median over the round trip; reported, not asserted (noisy machines)
ROUND_TRIP = "round_trip.ipynb"  # written into the lab's copy of notebooks/, never into notebooks/
ROUND_TRIP_CELLS = [
    "import ipywidgets\nimport numpy as np\nfrom matplotlib.figure import Figure\n"
    "from course_utils.display.explorer import interactive_figure",
    "# A control that computes nothing: the move only shifts one line, as cheap as an explorer can be.\n"
    "figure = Figure(figsize=(9, 3.2), layout='constrained')\n"
    "ax = figure.add_subplot(xlabel='x', ylabel='value', ylim=(-1, 11))\n"
    "(line,) = ax.plot(np.linspace(0, 1, 50), np.zeros(50))\n"
    "interactive_figure(figure, [line], lambda value: line.set_ydata(np.full(50, float(value))),\n"
    "                   {'value': ipywidgets.IntSlider(value=0, min=0, max=10)})",
]

if CHROMIUM is None:
    pytest.skip("headless Chromium not found: install Debian's package (`sudo apt-get install -y chromium`); "
                ".ci/run installs it, so CI always runs these tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.txt: run `make setup`")

# The registry's notebooks, and any notebook showing an explorer of another module (measured, flagged).
NOTEBOOKS_WITH_EXPLORERS = sorted({e.notebook for e in registry.EXPLORERS.values()}
                                  | {name for name, calls in NOTEBOOK_CALLS.items() if calls})
LATENCIES: dict = {}
ROUND_TRIPS_MS: list = []

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
# Before a move: note the time of the key press or menu change, and the first animation
# frame after a new image (another src) has been decoded in the explorer.
WATCH_MOVE = """(root, old) => {
  const move = window.courseMove = {start: null, end: null};
  const mark = () => { if (move.start === null) move.start = performance.now(); };
  document.addEventListener('keydown', mark, {capture: true, once: true});
  root.addEventListener('change', mark, {capture: true, once: true});
  const observer = new MutationObserver(() => {
    const img = root.querySelector('.widget-output img');
    if (!img || img.src === old) return;
    observer.disconnect();
    img.decode().catch(() => null).then(() => requestAnimationFrame(() => { move.end = performance.now(); }));
  });
  observer.observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""
MOVE_SHOWN = "() => window.courseMove.start !== null && window.courseMove.end !== null"
MOVE_MS = "() => window.courseMove.end - window.courseMove.start"
TRACEBACK = "root => !!root.querySelector('.widget-output [data-mime-type=\"application/vnd.jupyter.stderr\"]')"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 serving copies of the notebooks; stopped by its process id."""
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in ROUND_TRIP_CELLS],
                                            metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                     "display_name": "Python 3"}}),
                   work / ROUND_TRIP)
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


def latency_summary(latencies: dict, round_trips_ms: list | None = None) -> dict:
    """The keys of latency.json (see the module docstring) from {explorer: {..., "moves_ms": [...]}}.

    ``round_trips_ms``: the moves of the control that computes nothing; without them
    the multiples of the round trip are None.
    """
    round_trip = statistics.median(round_trips_ms) if round_trips_ms else None
    explorers = {}
    for key, entry in latencies.items():
        moves = entry["moves_ms"]
        deciles = statistics.quantiles(moves, n=10, method="inclusive") if len(moves) > 1 else moves * 9
        median = statistics.median(moves)
        explorers[key] = {**entry, "median_ms": median, "p90_ms": deciles[-1],
                          "round_trips": median / round_trip if round_trip else None}
    slowest = max(e["median_ms"] for e in explorers.values())
    return {"round_trip_ms_median": round_trip, "round_trip_moves_ms": list(round_trips_ms or []),
            "explorer_browser_ms_median": slowest,
            "explorer_round_trips": slowest / round_trip if round_trip else None,
            "explorer_browser_ms_p90": max(e["p90_ms"] for e in explorers.values()),
            "goal_round_trips": GOAL_ROUND_TRIPS, "moves_per_explorer": MOVES, "explorers": explorers}


@pytest.fixture(scope="module", autouse=True)
def latency_file():
    yield
    if LATENCIES:
        OUT.mkdir(parents=True, exist_ok=True)
        summary = latency_summary(LATENCIES, ROUND_TRIPS_MS)
        (OUT / "latency.json").write_text(json.dumps(summary, indent=2) + "\n")
        slowest = max(summary["explorers"], key=lambda k: summary["explorers"][k]["median_ms"])
        multiple = summary["explorer_round_trips"]
        print(f"\n  slowest explorer: {slowest}, median {summary['explorer_browser_ms_median']:.0f} ms"
              + (f" = {multiple:.2f} x the round trip of {summary['round_trip_ms_median']:.0f} ms"
                 f" (goal <= {GOAL_ROUND_TRIPS})" if multiple else "")
              + "; written: build/browser/latency.json")


def test_some_notebooks_have_explorers():
    assert len(NOTEBOOKS_WITH_EXPLORERS) >= 5, NOTEBOOKS_WITH_EXPLORERS


def test_latency_summary_takes_the_slowest_explorer():
    summary = latency_summary({"a": {"moves_ms": [10.0] * 9 + [100.0]}, "b": {"moves_ms": [20.0, 30.0, 40.0]}},
                              [5.0, 20.0, 15.0])
    assert summary["round_trip_ms_median"] == 15.0
    assert summary["explorer_browser_ms_median"] == 30.0
    assert summary["explorer_round_trips"] == 2.0
    assert summary["explorers"]["a"]["round_trips"] == pytest.approx(10 / 15)
    assert latency_summary({"a": {"moves_ms": [10.0]}})["explorer_round_trips"] is None
    assert summary["explorers"]["a"]["median_ms"] == 10.0
    assert summary["explorers"]["a"]["p90_ms"] == pytest.approx(19.0)  # between the 9th and 10th of 10 moves
    assert summary["explorer_browser_ms_p90"] == pytest.approx(38.0)


def move_every_control(page, root) -> list[float]:
    """Move every control of the explorer ``root`` in turn, MOVES moves in all: the ms each took to show.

    Sliders: an arrow key on the handle, turning back at either end; menus: the next
    option, round. Each move must bring a new picture.
    """
    controls = root.locator(".noUi-handle, select").all()
    direction = {i: "ArrowRight" for i in range(len(controls))}
    latencies = []
    for move in range(MOVES):
        i = move % len(controls)
        control = controls[i]
        is_menu = control.evaluate("el => el.tagName") == "SELECT"
        if is_menu:
            options = control.evaluate("el => el.options.length")
            if options < 2:
                continue
            next_option = (control.evaluate("el => el.selectedIndex") + 1) % options
        else:
            now, lo, hi = (float(control.get_attribute(a)) for a in
                           ("aria-valuenow", "aria-valuemin", "aria-valuemax"))
            if now >= hi:
                direction[i] = "ArrowLeft"
            elif now <= lo:
                direction[i] = "ArrowRight"
        before = root.evaluate(FIGURE_SRC)
        root.evaluate(WATCH_MOVE, before)
        if is_menu:
            control.select_option(index=next_option)
        else:
            control.focus()
            page.keyboard.press(direction[i])
        page.wait_for_function(MOVE_SHOWN, timeout=30_000, polling="raf")
        latencies.append(page.evaluate(MOVE_MS))
    return latencies


def explorer_keys(name: str) -> list[tuple[str, bool]]:
    """(key in latency.json, registered?) for each explorer the notebook shows, in order."""
    keys = []
    for index, call in enumerate(NOTEBOOK_CALLS[name]):
        if call in REGISTERED:
            keys.append((REGISTERED[call].name, True))
        else:
            keys.append((f"{name.removesuffix('.ipynb')} {call}", False))
    return keys


def open_and_run(page, lab, name: str):
    """Open the notebook ``name`` in JupyterLab and run all its cells; fail if one raised."""
    # ?reset: a fresh workspace, so only this notebook is open (not the previous test's).
    page.goto(f"{lab['url']}/lab/tree/{name}?reset&token={lab['token']}")
    page.wait_for_function(KERNEL_IDLE, arg=name, timeout=120_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(ALL_CELLS_RAN, timeout=300_000, polling=500)
    assert page.evaluate(CELL_ERRORS) == [], f"{name}: a cell raised"


def test_round_trip_of_a_control_that_computes_nothing(lab, browser, capsys):
    """JupyterLab's own round trip on this machine: the unit the explorers' times are given in."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_and_run(page, lab, ROUND_TRIP)
        root = page.locator(".widget-vbox:has(> .widget-output)").first
        root.locator(".widget-output img").wait_for(timeout=30_000)
        ROUND_TRIPS_MS[:] = move_every_control(page, root)
        with capsys.disabled():
            print(f"\n  round trip (a control that computes nothing): {statistics.median(ROUND_TRIPS_MS):.0f} ms "
                  f"(median of {len(ROUND_TRIPS_MS)})")
    finally:
        page.close()


@pytest.mark.parametrize("name", NOTEBOOKS_WITH_EXPLORERS)
def test_explorers_answer_their_sliders(lab, browser, name, capsys):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_and_run(page, lab, name)
        explorers = page.locator(".widget-vbox:has(> .widget-output)")
        count = explorers.count()
        keys = explorer_keys(name)
        assert count == page.locator(".widget-output").count() and count >= 1, f"{name}: explorers not rendered"
        assert count == len(keys), f"{name}: {count} explorers on the page, but the notebook calls {len(keys)}"
        for index, (key, registered) in enumerate(keys):
            root = explorers.nth(index)
            root.locator(".widget-output img").wait_for(timeout=30_000)
            latencies = move_every_control(page, root)
            assert len(latencies) >= MOVES // 2, f"{name}: explorer {index + 1} has too few controls to move"
            assert not root.evaluate(TRACEBACK), f"{name}: explorer {index + 1} shows a traceback"
            OUT.mkdir(parents=True, exist_ok=True)
            root.screenshot(path=str(OUT / f"{name.removesuffix('.ipynb')}-explorer{index + 1}.png"))
            LATENCIES[key] = {"notebook": name, "registered": registered, "moves_ms": latencies}
            entry = latency_summary({key: LATENCIES[key]}, ROUND_TRIPS_MS)["explorers"][key]
            multiple = f", {entry['round_trips']:.2f} x the round trip" if entry["round_trips"] else ""
            with capsys.disabled():  # shown in every run, CI's included
                print(f"\n  {name} {key}: slider move -> new picture in {entry['median_ms']:.0f} ms{multiple} "
                      f"(median of {len(latencies)}, 90th percentile {entry['p90_ms']:.0f}, max {max(latencies):.0f})"
                      + ("" if registered else "  [not in registry.EXPLORERS]"))
        assert page.evaluate(CELL_ERRORS) == [], f"{name}: moving the sliders raised"
        assert page.evaluate(KERNEL_IDLE, name), f"{name}: the kernel is not idle (dead?) after the slider moves"
    finally:
        page.close()
