# satlearn: the two commands a user runs first are `make demo` and `make test`.
# Both create .venv if missing, install torch (TORCH_SPEC, overridable for a GPU
# build) and then the package with its dev extras; a stamp that follows
# pyproject.toml makes re-runs fast.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.satlearn-installed
DEMO_OUT ?= demo-output

.PHONY: demo test lint bench clean help frontend

help:
	@echo "make demo   synthesise a scene and run the demo pipeline into $(DEMO_OUT)/"
	@echo "make test   ruff, the import-layer contracts (lint-imports) and the test suite"
	@echo "make lint   ruff (check and format) and lint-imports"
	@echo "make bench  run the benchmarks (slow)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "satlearn needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV) || { echo "could not create $(VENV): on Debian run 'apt-get install python3-venv'"; exit 1; }

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

# The viewer's map library (Leaflet) comes from the npm registry at build time, pinned by
# frontend/package-lock.json, and ships inside the package (no CDN: the page works offline).
VENDOR := src/satlearn/view/static/vendor
frontend: $(VENDOR)/leaflet/leaflet.js

$(VENDOR)/leaflet/leaflet.js: frontend/package.json frontend/package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm; \
	  else echo "npm is needed to build the viewer's map library: install Node.js and npm (Debian: apt-get install nodejs npm)"; exit 1; fi; }
	cd frontend && npm ci --no-audit --no-fund
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/leaflet
	cp frontend/node_modules/leaflet/dist/leaflet.js frontend/node_modules/leaflet/dist/leaflet.css $(VENDOR)/leaflet/
	cp -r frontend/node_modules/leaflet/dist/images $(VENDOR)/leaflet/
	cp frontend/node_modules/leaflet/LICENSE $(VENDOR)/leaflet/
	@touch $@

demo: $(STAMP) frontend
	$(BIN)/satlearn demo --out $(DEMO_OUT)

test: $(STAMP) frontend
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

bench: $(STAMP)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(DEMO_OUT) test-artifacts .pytest_cache .ruff_cache .coverage htmlcov
