# xuanpin: `make run` sets up and runs the main job on the embedded defaults; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCALE  ?= small
SEED   ?= 0

.PHONY: setup run serve-prod test lint mutation bench bench-serve clean

# A virtual environment with the project installed in editable mode (implicit compiles from source where
# PyPI has no wheel for this platform: allow a minute on a fresh machine).
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

PORT   ?= 8000
# hot items in the demo: the clock follows the orders (the snapshot's week is in the past) and a local token
# lets `xuanpin stream-orders` post a synthetic order stream
DEMO_EVENTS_TOKEN ?= local-demo-token-change-me

run: setup
	$(BIN)/xuanpin generate --scale $(SCALE) --seed $(SEED) --out data/$(SCALE)
	$(BIN)/xuanpin train --data data/$(SCALE) --out artifacts/$(SCALE) --overwrite
	$(BIN)/xuanpin inspect artifacts/$(SCALE)
	@echo "\nThe service is starting on http://127.0.0.1:$(PORT) (Ctrl-C stops it). In another terminal:"
	@echo "  curl -s 'http://127.0.0.1:$(PORT)/v1/anchors/10000010/picks?k=3' | python3 -m json.tool --no-ensure-ascii"
	@echo "  $(BIN)/xuanpin stream-orders --model artifacts/$(SCALE) --url http://127.0.0.1:$(PORT) --token $(DEMO_EVENTS_TOKEN)"
	@echo "  curl -s 'http://127.0.0.1:$(PORT)/v1/rankings/hot?k=3' | python3 -m json.tool --no-ensure-ascii"
	@echo "The selection-center page: http://127.0.0.1:$(PORT)/"
	XUANPIN_HOT_CLOCK=events XUANPIN_EVENTS_TOKEN=$(DEMO_EVENTS_TOKEN) \
		$(BIN)/xuanpin serve --model artifacts/$(SCALE) --port $(PORT)

# Production: nginx on 127.0.0.1:$(PORT) in front of gunicorn's sync workers, one per core, run as one unit
# (serve/prod.py; needs nginx: apt-get install nginx-light). nginx buffers whole requests and responses, so
# clients that send or read slowly cannot hold the workers.
serve-prod: setup
	XUANPIN_MODEL=artifacts/$(SCALE) XUANPIN_BIND=127.0.0.1:$(PORT) $(BIN)/python -m serve.prod

test: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Mutation testing of the core (not part of `make test`): a seeded sample of cosmic-ray's mutants per module, each
# judged by its module's tests, in copies of the tree; prints the score per module and the survivors. About 40
# minutes on 2 cores with the default sample, half of it the nightly job's (MUTANTS=0: every mutant, days).
MUTANTS ?= 40
mutation: setup
	$(BIN)/python -m bench.mutation --sample $(MUTANTS)

bench: setup
	$(BIN)/python -m bench.train --scales medium large --quality

bench-serve: setup  # needs wrk (apt-get install wrk) and the large artifact from `make bench`
	$(BIN)/python -m bench.serve --model /tmp/xuanpin-bench/large-0-model

clean:
	rm -rf data artifacts .pytest_cache
