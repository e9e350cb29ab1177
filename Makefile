# Two commands do everything on a fresh machine with Python 3.11 (no conda):
#   make lab    set up .venv if needed, then open JupyterLab on notebooks/
#   make test   set up .venv if needed, then run every test, notebooks included
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Notebooks run on the CPU and keep compiled programs on disk (build/jax-cache), so a
# notebook rerun, or the next notebook training the same model, skips compilation.
# The minimum compile time 0 makes JAX store even these small, quick-to-compile programs.
export JAX_PLATFORMS ?= cpu
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/build/jax-cache
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS ?= 0

.PHONY: lab test quick bench html setup clean-notebooks clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# JupyterLab refuses to run as root without --allow-root (CI and containers run as root).
LAB_ARGS ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(LAB_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider tests notebooks

# The everyday loop: the unit tests (no browser) and notebook 01, in about two minutes (2,340 tests, 1:57 measured).
# NB=notebooks/13_textures_and_style.ipynb picks another notebook.
NB ?= notebooks/01_data.ipynb
quick: $(STAMP)
	$(BIN)/python -m pytest -q --nbval-lax --nbval-current-env -p no:cacheprovider -m "not browser" tests $(NB)

# Speed of the training engine, the explorers and the whole course: build/bench.json.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# The course as an offline book (Sphinx + myst-nb, the notebooks executed as CI runs them):
# open build/html/index.html; for search snippets serve it (cd build/html && python -m http.server --bind 127.0.0.1).
html: $(STAMP)
	$(BIN)/python tools/build_html.py

# Notebooks are kept in git without outputs (a test enforces it).
clean-notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
