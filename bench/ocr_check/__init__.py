"""An independent check set for photo reading: a generator written apart from ours.

    python -m bench.ocr_check --out bench/out/ocr_check --count 240 [--seed 51] [--measure]

See `scenes.py` for what the photos show.
"""
