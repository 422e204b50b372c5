# Two commands do everything on a fresh machine (see README):  make train   and   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?=
ARGS ?=
DATA_FLAG := $(if $(DATA),--data $(DATA),)

.PHONY: setup train test lint unit notebooks lab bench clean

setup: $(VENV)/.installed

# Rebuilt whenever pyproject.toml changes; the editable install keeps ffnn_lab/ live.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[test]'
	touch $@

train: setup
	$(BIN)/ffnn-lab train $(DATA_FLAG) $(ARGS)

lint: setup
	$(BIN)/ruff check ffnn_lab tests bench tools notebooks

# Unit tests and every notebook (nbval, lax: only NBVAL_CHECK_OUTPUT cells are compared),
# in quick mode so the whole run stays within minutes on two CPU cores.
test: lint
	$(BIN)/python tools/notebooks.py --check
	FFNN_LAB_QUICK=1 $(BIN)/pytest --nbval-lax --durations=15 tests notebooks

lab: setup
	$(BIN)/jupyter lab notebooks

bench: setup
	$(BIN)/python bench/speed.py $(DATA_FLAG) $(ARGS)

clean:
	rm -rf $(VENV) data-unversioned/cache .pytest_cache .ruff_cache
