"""OCR benchmark: `python -m bench.ocr` (see bench/ocr/run.py)."""
