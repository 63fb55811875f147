# Convenience targets; the README's two commands work without make.
.PHONY: setup demo test lint bench bench-ocr

setup:
	bash scripts/setup --dev

demo:
	bash scripts/demo

test:
	bash scripts/test

lint: setup
	.venv/bin/ruff check .
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

.PHONY: bench-retention
bench-retention: setup
	.venv/bin/python -m bench.retention --write

bench: bench-retention
