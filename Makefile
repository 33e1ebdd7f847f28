# The two commands a new machine needs (see README):
#   make demo   set up, then run the main job on the embedded store
#   make test   set up, then make check, then run the whole test suite (what CI runs: .ci/run)
# and a contributor's fast loop:
#   make check  ruff, ruff format --check, mypy --strict, the unit tests (no server started): < 3 min
# torch is pinned (2.13.0). From PyPI that is the build with its CUDA libraries (~3 GB, cached by pip
# after the first install; it runs on the CPU). Where download.pytorch.org is reachable,
# `make setup TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu` takes the ~200 MB CPU-only wheel.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
TORCH_VERSION ?= 2.13.0
TORCH_INDEX_URL ?=
DEMO_INTERACTIONS ?= 200000
PORT ?= 8000
ORIGINS ?=
# what ruff lints and formats (mypy checks src and api, strict: see pyproject.toml)
PY_PATHS = src api tests bench training
# Root runs apt-get itself; anyone else through sudo when there is one.
SUDO := $(shell [ "$$(id -u)" = 0 ] || ! command -v sudo >/dev/null 2>&1 || echo sudo)

.PHONY: setup browser lint check test demo bench clean

$(BIN)/graphrec: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/graphrec

setup: $(BIN)/graphrec

# Debian's Chromium for the storefront's end-to-end test (tests/web/test_storefront.py drives it with
# playwright-core, which never downloads a browser of its own).
browser:
	command -v chromium >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium)

# The static part of the gate.
lint: setup
	$(BIN)/ruff check $(PY_PATHS)
	$(BIN)/ruff format --check $(PY_PATHS)
	$(BIN)/mypy src api

# The fast gate, for every commit: the static part, then the unit tests, i.e. every test not marked
# `integration` (tests/conftest.py marks each test that starts a process: a server, a browser, the CLI).
check: lint
	$(BIN)/python -m pytest -q -m "not integration"

# The whole suite (what CI runs): the fast gate, then the tests it left out (the integration tests),
# so no test runs twice.
test: check browser
	$(BIN)/python -m pytest -q -m integration

# make demo PORT=8001 ORIGINS=http://localhost:5173 : serve elsewhere, and let your own pages call it
demo: setup
	$(BIN)/python -m graphrec.demo --interactions $(DEMO_INTERACTIONS) --port $(PORT) --origins "$(ORIGINS)"

bench: setup
	$(BIN)/python bench/import.py

clean:
	rm -rf $(VENV) .graphrec .pytest_cache
