"""A self-contained HTML player for animation frames: loops, with buttons and a slider.

Every frame is an inline PNG, the buttons are inline SVG and a few lines of
JavaScript swap the frames: nothing is loaded from the network, so the player works
offline, in JupyterLab and in the static copy of the course (``make html``).
"""

from __future__ import annotations

import base64
import html
import io
import json
import numbers

from PIL import Image

# Button symbols as inline SVG (16 x 16, drawn in the text colour): they show in any
# browser, with no icon font and no network.
_ICONS = {
    "first": '<rect x="2" y="3" width="2" height="10"/><path d="M14 3v10L5 8z"/>',
    "previous": '<path d="M11 2.5 5 8l6 5.5" fill="none" stroke="currentColor" stroke-width="2.2"/>',
    "play": '<path d="M4 2.5v11L13.5 8z"/>',
    "pause": '<rect x="3.5" y="3" width="3" height="10"/><rect x="9.5" y="3" width="3" height="10"/>',
    "next": '<path d="M5 2.5 11 8l-6 5.5" fill="none" stroke="currentColor" stroke-width="2.2"/>',
    "last": '<path d="M2 3v10L11 8z"/><rect x="12" y="3" width="2" height="10"/>',
}
_BUTTONS = (("first", "First frame"), ("previous", "Previous frame"), ("play", "Play"), ("next", "Next frame"),
            ("last", "Last frame"))

_PLAYER_STYLE = (
    ".course-animation{display:inline-block;max-width:100%}"
    ".course-animation img{display:block;max-width:100%;height:auto}.course-animation img[hidden]{display:none}"
    ".course-animation-controls{display:flex;align-items:center;gap:6px;margin:6px 0 2px}"
    ".course-animation-controls button{width:2.2em;height:2em;padding:0;display:inline-flex;align-items:center;"
    "justify-content:center;border:1px solid #888;border-radius:4px;background:#fff;color:#222;cursor:pointer}"
    ".course-animation-controls button:hover{background:#eee}"
    ".course-animation-controls svg{width:1em;height:1em;fill:currentColor}"
    ".course-animation-controls input{flex:1;min-width:6em}"
    ".course-animation-controls output{font:0.85em monospace;min-width:4.5em;text-align:right}"
)

# Finds its own player (the element just before this script), so it needs no ids; the
# frames are <img> elements, and the first shows even where scripts do not run.
_PLAYER_SCRIPT = """(() => {
  const root = document.currentScript.previousElementSibling, fps = %s;
  const frames = root.querySelectorAll("img"), slider = root.querySelector("input");
  const counter = root.querySelector("output"), play = root.querySelector("button[data-action=play]");
  let index = 0, timer = null;
  const show = (i) => {
    frames[index].hidden = true;
    index = (i + frames.length) %% frames.length;
    frames[index].hidden = false;
    slider.value = index;
    counter.textContent = (index + 1) + " / " + frames.length;
  };
  const setPlaying = (playing) => {
    clearInterval(timer);
    timer = playing ? setInterval(() => show(index + 1), 1000 / fps) : null;
    play.title = playing ? "Pause" : "Play";
    play.querySelector("[data-icon=play]").style.display = playing ? "none" : "";
    play.querySelector("[data-icon=pause]").style.display = playing ? "" : "none";
  };
  const actions = {first: () => show(0), previous: () => show(index - 1), next: () => show(index + 1),
                   last: () => show(frames.length - 1)};
  root.querySelectorAll("button[data-action]").forEach((button) => {
    const action = button.dataset.action;
    button.onclick = () => action === "play" ? setPlaying(timer === null) : (setPlaying(false), actions[action]());
  });
  slider.oninput = () => { setPlaying(false); show(Number(slider.value)); };
})();"""


def _icon(name: str, hidden: bool = False) -> str:
    style = ' style="display:none"' if hidden else ""
    return (f'<svg viewBox="0 0 16 16" aria-hidden="true" data-icon="{name}"{style}>'
            f"{_ICONS[name]}</svg>")


def html_player(frames: list[bytes], *, fps: float = 6, alt: str = "animation frame") -> str:
    """A self-contained HTML player for PNG ``frames`` (bytes): loops, with buttons and a slider.

    Nothing is loaded from the network; the output is the same for the same frames.
    """
    if not isinstance(frames, (list, tuple)) or not frames or not all(isinstance(f, bytes) for f in frames):
        raise TypeError(f"frames must be a non-empty list of PNG bytes, got {type(frames).__name__}")
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not 0 < fps <= 60:
        raise ValueError(f"fps must be a number in (0, 60], got {fps!r}")
    width, height = Image.open(io.BytesIO(frames[0])).size
    images = "\n".join(
        f'<img src="data:image/png;base64,{base64.b64encode(frame).decode("ascii")}" width="{width}" '
        f'height="{height}" alt="{html.escape(alt)}, frame {i + 1} of {len(frames)}"{" hidden" * (i > 0)}>'
        for i, frame in enumerate(frames))
    buttons = "".join(
        f'<button type="button" title="{title}" data-action="{action}">{_icon(action)}'
        f'{_icon("pause", hidden=True) if action == "play" else ""}</button>' for action, title in _BUTTONS)
    controls = (f'<div class="course-animation-controls">{buttons}'
                f'<input type="range" min="0" max="{len(frames) - 1}" value="0" step="1" aria-label="frame">'
                f"<output>1 / {len(frames)}</output></div>")
    return (f"<style>{_PLAYER_STYLE}</style>\n<div class=\"course-animation\">\n{images}\n{controls}\n</div>\n"
            f"<script>{_PLAYER_SCRIPT % json.dumps(float(fps))}</script>\n")

