# Two commands do everything on a fresh machine (see README):  make train   and   make test
# Without make, see the README's set-up for Linux, macOS and Windows.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?=
ARGS ?=
DATA_FLAG := $(if $(DATA),--data $(DATA),)

.PHONY: setup train test lint typecheck lab bench clean

setup: $(VENV)/.installed

# Rebuilt whenever pyproject.toml or constraints.txt changes; the editable install keeps ffnn_lab/
# live. constraints.txt pins the tested versions (pyproject.toml asks only for compatible ranges).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -c constraints.txt -e '.[test]'
	touch $@

train: setup
	$(BIN)/ffnn-lab train $(DATA_FLAG) $(ARGS)

lint: setup
	$(BIN)/ruff check ffnn_lab tests bench tools notebooks
	$(BIN)/ruff format --check ffnn_lab tests bench tools

# mypy over ffnn_lab (settings in pyproject.toml)
typecheck: setup
	$(BIN)/mypy

# Unit tests and every notebook (nbval, lax: only NBVAL_CHECK_OUTPUT cells are compared),
# in quick mode so the whole run stays within minutes on two CPU cores.
test: lint typecheck
	$(BIN)/python tools/notebooks.py --check
	FFNN_LAB_QUICK=1 $(BIN)/pytest --nbval-lax --durations=15 tests notebooks

lab: setup
	$(BIN)/jupyter lab notebooks

bench: setup
	$(BIN)/python bench/speed.py $(DATA_FLAG) $(ARGS)

clean:
	rm -rf $(VENV) data-unversioned/cache .pytest_cache .ruff_cache .mypy_cache
