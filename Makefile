# The README's two commands are `make run` and `make test`; both work from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools/venv

.PHONY: run test test-unit test-integration test-e2e test-infra bench setup tools clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo "==> Python environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --progress-bar off -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "==> Azurite from package-lock.json"
	npm ci --no-audit --no-fund
	@touch $@

# The console's browser tests drive Debian's chromium (Playwright cannot download its own here).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

$(CHROMIUM):
	@echo "==> Debian's chromium for the console's browser tests"
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium

$(TOOLS)/.installed: infra/requirements-tools.txt
	@echo "==> Infrastructure checks (checkov) in $(TOOLS)"
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --progress-bar off -r infra/requirements-tools.txt
	@touch $@

setup: $(VENV)/.installed node_modules/.installed $(CHROMIUM)

tools: $(TOOLS)/.installed

run: setup
	$(PY) -m local up

test: setup tools
	$(PY) -m pytest

# One tier each; together they are `make test`. Unit tests need only the Python environment.
test-unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

test-integration: setup
	$(PY) -m pytest tests/integration

test-e2e: setup
	$(PY) -m pytest tests/e2e

# The Bicep checks: no services, but checkov from `make tools`.
test-infra: $(VENV)/.installed tools
	$(PY) -m pytest tests/infra

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(TOOLS) node_modules
