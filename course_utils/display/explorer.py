"""Explorers: controls wired to a figure that redraws only what moves.

The kit behind every "Try it" explorer of the course; it knows no notebook. An
explorer is described by an :class:`Explorer` entry that sits beside its scene in
the notebook's module, and :mod:`course_utils.registry` collects the entries.

The contract: ``scene(*inputs)`` builds the figure and returns ``(figure, moving,
update, choices)``: ``moving`` the artists a move changes, ``update(**values)`` a
plain function that sets their data from the control values (tests call it without
a browser), and ``choices`` a dict that gives, by control name, a menu's options
(a list) or a slider's label when it depends on the inputs (a str). The explorer
function the notebook calls (``module.function(...)``) takes the same inputs and the
control values, defaulting to ``defaults``, and returns :meth:`Explorer.widget`.

Speed: a slider move must show its new picture within ~100 ms. Drawing the whole
figure and encoding it as PNG took most of that (about 200-400 ms in JupyterLab), so
:class:`~course_utils.display.frames.FigureFrames` draws the still parts once and then,
for each move, pastes that background, draws only the moving artists and encodes a
fast PNG; the new picture replaces the old one in a single widget message.
"""

from __future__ import annotations

import base64
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from .frames import FigureFrames


def interactive_figure(figure: Figure, moving, update: Callable, controls: dict) -> ipywidgets.Widget:
    """Controls (name -> ipywidgets slider or menu) above a figure that ``update(**values)`` changes.

    After each change only ``moving`` is redrawn (see :class:`FigureFrames`) and the
    picture is replaced with one message to the browser. If ``update`` raises, its
    traceback shows under the controls.
    """
    if not callable(update):
        raise TypeError(f"update must be a function of the control values, got {type(update).__name__}")
    if not controls or not all(isinstance(c, ipywidgets.ValueWidget) for c in controls.values()):
        raise TypeError("controls must map names to ipywidgets sliders or menus")
    frames = FigureFrames(figure, moving)
    out = ipywidgets.Output()

    def redraw(_change=None):
        try:
            update(**{name: control.value for name, control in controls.items()})
            png = frames.png()
        except Exception:
            with out:  # the Output widget shows the traceback under the controls
                out.clear_output()
                raise
        # Replacing the Output's content directly is one message; printing into it
        # (clear_output + display) is five.
        out.outputs = ({"output_type": "display_data", "metadata": {},
                        "data": {"image/png": base64.b64encode(png).decode("ascii"),
                                 "text/plain": "<the explorer's figure>"}},)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return ipywidgets.VBox([ipywidgets.HBox(list(controls.values())), out])


@dataclass(frozen=True)
class Control:
    """A slider from ``lo`` to ``hi`` in steps of ``step`` (integers if all three are), or a menu.

    A menu (``lo is None``) takes its options when the explorer is built, e.g. the
    names of the variants a notebook passes; a slider may take its label then, when
    it depends on the inputs (e.g. which latent it moves).
    """

    name: str
    lo: float | None = None
    hi: float | None = None
    step: float = 1
    label: str = ""  # shown beside the control; the name if empty

    def __post_init__(self):
        if self.lo is None and self.hi is None:
            return  # a menu
        for field in ("lo", "hi", "step"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
                raise TypeError(f"{field} of control {self.name!r} must be a finite number, got {value!r}")
        if self.hi <= self.lo:
            raise ValueError(f"hi of control {self.name!r} must be above lo ({self.lo}), got {self.hi}")
        if self.step <= 0:
            raise ValueError(f"step of control {self.name!r} must be > 0, got {self.step}")

    @property
    def is_menu(self) -> bool:
        return self.lo is None

    @property
    def integer(self) -> bool:
        return all(isinstance(v, numbers.Integral) for v in (self.lo, self.hi, self.step))

    def widget(self, value, *, options=None, label: str | None = None) -> ipywidgets.ValueWidget:
        """The ipywidgets control, starting at ``value`` (a menu: at ``value`` or its first option).

        ``options``: a menu's options (required for a menu, refused for a slider);
        ``label``: replaces the control's own label.
        """
        label = label or self.label or self.name
        if not isinstance(label, str):
            raise TypeError(f"the label of control {self.name!r} must be a str, got {label!r}")
        if self.is_menu:
            options = list(options or [])
            if not options:
                raise ValueError(f"the menu {self.name!r} needs at least one option")
            if value is not None and value not in options:
                raise ValueError(f"{self.name} must be one of {options}, got {value!r}")
            return ipywidgets.Dropdown(options=options, value=value if value in options else options[0],
                                       description=label)
        if options is not None:
            raise TypeError(f"{self.name!r} is a slider from {self.lo} to {self.hi}: it takes no options")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not self.lo <= value <= self.hi:
            raise ValueError(f"{self.name} must be a number in [{self.lo}, {self.hi}], got {value!r}")
        if self.integer:
            return ipywidgets.IntSlider(value=int(value), min=self.lo, max=self.hi, step=self.step, description=label)
        return ipywidgets.FloatSlider(value=float(value), min=self.lo, max=self.hi, step=self.step,
                                      description=label, continuous_update=True, readout_format=".2f")

    def sample(self, rng: np.random.Generator, options=None):
        """A random position of this control (for benchmarks and tests); a menu picks from ``options``."""
        if self.is_menu:
            return options[int(rng.integers(len(options)))]
        positions = round((self.hi - self.lo) / self.step)
        value = self.lo + self.step * int(rng.integers(positions + 1))
        return int(value) if self.integer else float(value)


def no_inputs() -> tuple:
    """The stand-in inputs of an explorer that takes none."""
    return ()


@dataclass(frozen=True)
class Explorer:
    """One explorer of the course: where it is used and how it is built.

    ``scene(*inputs)`` returns ``(figure, moving artists, update(**values), choices)``
    (see the module docstring), where ``inputs`` are what the notebook passes (a
    model, reconstructors), named in ``inputs``. ``defaults`` are the controls'
    starting values, the same as the defaults of the explorer function ``function``
    in ``module`` (the defining module's ``__name__``). ``examples()`` builds
    stand-in inputs (small untrained models) for tests and benchmarks.
    """

    name: str
    notebook: str
    module: str
    function: str
    scene: Callable
    controls: tuple[Control, ...]
    defaults: dict
    inputs: tuple[str, ...] = ()
    examples: Callable[[], tuple] = no_inputs

    @property
    def call(self) -> str:
        """How a notebook calls it: "module.function", the module by its last name."""
        return f"{self.module.rsplit('.', 1)[-1]}.{self.function}"

    def random_values(self, rng: np.random.Generator, choices: dict | None = None) -> dict:
        """Random positions of every control (a menu's from its options in ``choices``)."""
        return {c.name: c.sample(rng, (choices or {}).get(c.name)) for c in self.controls}

    def controls_for(self, choices: dict, values: dict) -> dict:
        """The ipywidgets controls by name, at ``values`` or the defaults, with the scene's ``choices``."""
        unknown = set(values) - {c.name for c in self.controls}
        if unknown:
            raise TypeError(f"{self.function}() has no control(s) {sorted(unknown)}")
        made = {}
        for c in self.controls:
            choice = choices.get(c.name)
            menu_options = choice if c.is_menu else None
            label = choice if isinstance(choice, str) else None
            made[c.name] = c.widget(values.get(c.name, self.defaults.get(c.name)), options=menu_options,
                                       label=label)
        return made

    def widget(self, *inputs, **values) -> ipywidgets.Widget:
        """The explorer: its controls, starting at ``values`` or the defaults, above its figure."""
        figure, moving, update, choices = self.scene(*inputs)
        return interactive_figure(figure, moving, update, self.controls_for(choices, values))
