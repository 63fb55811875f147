# Convenience targets; the README's two commands work without make.
.PHONY: setup demo test test-fast lint bench bench-ocr

setup:
	bash scripts/setup --dev

demo:
	bash scripts/demo

test:
	bash scripts/test

# The before-commit habit (README "Tests"): the fast tier, seconds; `make test` before handing over.
test-fast: .venv/bin/pytest
	.venv/bin/pytest -m fast -q

.venv/bin/pytest:
	bash scripts/setup --dev

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports

bench-ocr: setup
	.venv/bin/python -m bench.ocr

bench: bench-ocr

.PHONY: bench-telegram
bench-telegram: setup
	.venv/bin/python -m bench.telegram_inbound

bench: bench-telegram

.PHONY: bench-broadcast
bench-broadcast: setup
	.venv/bin/python -m bench.broadcast --write

bench: bench-broadcast

# Re-resolve requirements/*.lock from pyproject.toml (uv, with hashes); see the README.
.PHONY: lock lock-upgrade
lock:
	bash scripts/lock

lock-upgrade:
	bash scripts/lock --upgrade

.PHONY: bench-retention
bench-retention: setup
	.venv/bin/python -m bench.retention --write

bench: bench-retention

.PHONY: bench-imports
bench-imports: setup
	.venv/bin/python -m bench.imports --write

bench: bench-imports
