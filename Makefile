# MER: `make demo` runs the whole stack on real input; `make test` runs every test.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PY := .venv/bin/python
export UV_FROZEN := 1

.PHONY: help setup demo test test-fast up down status repl lint fmt bench models clean

help:
	@echo "make setup   install uv (if missing), the workspace and a .env with fresh tokens"
	@echo "make demo    start the stack, classify real held-out digits with each weight vector, stop"
	@echo "make test    every test (real SurrealDB, onnxruntime, HTTP servers, sshd)"
	@echo "make up|down|status   start, stop, inspect the local stack (migrator, DAL, worker)"
	@echo "make repl    the interactive driver, with configuration changes allowed"
	@echo "make lint    ruff and mypy --strict"
	@echo "make bench   MER against bare onnxruntime and a plain FastAPI server"

setup: .venv/.synced .env

.venv/.synced: pyproject.toml uv.lock */*/pyproject.toml repl-client/pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --all-packages
	@touch $@

.env:
	$(PY) scripts/write_env.py

demo: setup
	$(PY) scripts/demo.py

test: setup
	$(PY) -m pytest -q

up: setup
	.venv/bin/mer up

down:
	.venv/bin/mer down

status:
	.venv/bin/mer status

repl: setup
	.venv/bin/mer repl --allow-config-changes

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy packages/mer-core/src services/migrator/src services/dal-api/src services/meal-worker/src repl-client/src tests scripts models bench

fmt: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench: setup
	$(PY) bench/run.py

models: setup
	$(PY) models/train_demo_models.py
	$(PY) models/train_demo_models.py --check

clean:
	rm -rf .mer .venv .pytest_cache .mypy_cache .ruff_cache
