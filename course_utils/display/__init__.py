"""The display kit: figures that redraw only what moves, animation players, explorers.

It knows no notebook and imports no other part of ``course_utils``: ``frames`` (one
blitting engine for explorers and animations), ``player`` (a self-contained HTML
player for frames) and ``explorer`` (controls wired to a figure, and the
:class:`~course_utils.display.explorer.Explorer` entry that every explorer of the
course is described by).
"""
