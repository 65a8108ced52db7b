# xuanpin: `make run` sets up and runs the main job on the embedded defaults; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCALE  ?= small
SEED   ?= 0

.PHONY: setup run test lint bench clean

# A virtual environment with the project installed in editable mode (implicit compiles from source where
# PyPI has no wheel for this platform: allow a minute on a fresh machine).
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/xuanpin generate --scale $(SCALE) --seed $(SEED) --out data/$(SCALE)
	$(BIN)/xuanpin train --data data/$(SCALE) --out artifacts/$(SCALE) --overwrite
	$(BIN)/xuanpin inspect artifacts/$(SCALE)

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/train.py --scales medium large --quality

clean:
	rm -rf data artifacts .pytest_cache
