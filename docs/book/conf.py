"""Sphinx settings of the course book (``make html``; tools/build_html.py runs Sphinx with them).

The book is read offline, from files: nothing may load from the network. Notebooks
arrive executed (myst-nb must not execute them), with their explorers already turned
into precomputed pictures, so no widget script is needed.
"""

project = "Deconvolution, visualized"
author = "the deconv-course authors"
copyright = "the deconv-course authors"
extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# myst-nb: read the executed copies as they are.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no ipywidgets html-manager (it would come from a CDN); explorers are pictures here
nb_merge_streams = True  # a table printed in several writes stays one block
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

# Equations: a local MathJax 3 (from the pinned django-static-mathjax package), copied
# into _static/mathjax by the build; SVG output needs no font files.
mathjax_path = "mathjax/tex-svg.js"
mathjax3_config = {"svg": {"fontCache": "global"}}

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_css_files = ["static_explorer.css"]
html_js_files = ["static_explorer.js", "offline_search.js"]
html_context = {"default_mode": "auto"}  # silences the theme's console error about the colour mode
html_copy_source = False  # no .ipynb copies: the book is for reading
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
}
