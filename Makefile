# Two commands matter: `make run` and `make test` (README). The rest are their parts.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export GATEWAY_TEST_AMQP_URL ?= amqp://guest:guest@localhost:5672/%2F
export GATEWAY_TEST_DATABASE_URL ?= postgresql://postgres:postgres@127.0.0.1:5432/postgres
export GATEWAY_TEST_MESH_SANDBOX_PYTHON ?= $(CURDIR)/.venv-mesh-sandbox/bin/python

.PHONY: run test install services lint fuzz chaos bench bench-replay schemas clean console-screenshots

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

services:
	bash scripts/ensure-services.sh

run: install services
	$(VENV)/bin/gateway db upgrade
	$(VENV)/bin/gateway run

# mesh-sandbox (NHS England's MESH test server) pins its own FastAPI: it gets a virtualenv of its own.
MESH_VENV ?= .venv-mesh-sandbox
$(MESH_VENV)/.installed:
	python3 -m venv $(MESH_VENV)
	$(MESH_VENV)/bin/pip install -q "mesh-sandbox==1.0.137"
	touch $@

test: install $(MESH_VENV)/.installed
	bash scripts/ensure-services.sh --postgres
	bash scripts/ensure-browser.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy gateway adapters
	$(PY) -m pytest -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy gateway adapters

# Long fuzzing and soak runs: not in CI (see README).
fuzz: install services
	$(PY) -m pytest -m "slow and not chaos"

# Fault injection on a private RabbitMQ and PostgreSQL (also part of `make test`); scale-out check.
chaos: install services
	$(PY) -m pytest -s tests/chaos

# Benchmarks (docs/performance.md): broker ceiling, end-to-end throughput and latency, RSS; then replay.
bench: install services
	bash scripts/ensure-services.sh --postgres
	$(PY) -m bench.run

bench-replay: install services
	bash scripts/ensure-services.sh --postgres
	$(PY) -m bench.replay

# The console's pictures in docs/console/, taken by its browser test (docs/console.md).
console-screenshots: install services
	bash scripts/ensure-browser.sh
	GATEWAY_CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console $(PY) -m pytest tests/console/test_browser.py -k sqlite -q

schemas: install
	$(VENV)/bin/gateway schema export docs/schemas

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
