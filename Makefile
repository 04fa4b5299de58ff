# hub: `make run` serves the demo company, `make test` checks everything.
# Both work from a fresh clone: they create .venv and install into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
PYTEST_ARGS ?=
# Test processes for make test (pytest-xdist): one per core by default; 0 runs in-process.
PYTEST_WORKERS ?= auto
BENCH_ARGS ?=

RUN_TARGETS := run migrate demo demo-reset serve

# DEMO VALUES ONLY: the channel tokens config/hub.toml reads (token_env). Anyone who
# knows them can push messages into the hub; set your own before exposing it.
$(RUN_TARGETS): export WEBFORM_TOKEN ?= demo-web-form-token
$(RUN_TARGETS): export SHOP_TOKEN ?= demo-shop-token
$(RUN_TARGETS): export PORTAL_TOKEN ?= demo-portal-token
# The login URL the demo prints follows HOST and PORT unless HUB_PUBLIC_URL is set.
$(RUN_TARGETS): export HUB_PUBLIC_URL ?= http://$(HOST):$(PORT)

.DEFAULT_GOAL := help
.PHONY: help run migrate demo demo-reset serve test lint pytest bench install install-dev clean clean-all

help:
	@echo "make run        set up .venv, migrate, seed the demo, serve http://$(HOST):$(PORT)"
	@echo "make test       set up .venv with dev tools, then ruff, mypy and pytest"
	@echo "make lint       ruff and mypy only"
	@echo "make bench      ingest benchmark (bench/ingest.py; BENCH_ARGS='--backend sqlite')"
	@echo "make demo-reset wipe the database and seed the demo again"
	@echo "make clean      remove caches and build output; make clean-all also .venv and var/"

# --- environment -------------------------------------------------------------------

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changed since the last install (stamp files).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# --- running -----------------------------------------------------------------------

# One recipe, so the steps run in order even under make -j.
run: $(VENV)/.installed
	$(BIN)/hub migrate
	$(BIN)/hub demo
	$(BIN)/hub serve --host $(HOST) --port $(PORT)

migrate: $(VENV)/.installed
	$(BIN)/hub migrate

demo: migrate
	$(BIN)/hub demo

demo-reset: migrate
	$(BIN)/hub demo --reset

serve: $(VENV)/.installed
	$(BIN)/hub serve --host $(HOST) --port $(PORT)

# --- checking ----------------------------------------------------------------------

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check hub tests $(wildcard bench)
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check hub tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python bench/ingest.py $(BENCH_ARGS)

# --- cleaning ----------------------------------------------------------------------

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist bench/out
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

# Also removes the virtualenv and var/ (the embedded database, blobs and secret key).
clean-all: clean
	rm -rf $(VENV) var
