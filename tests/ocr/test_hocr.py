"""Tesseract's hOCR for the second reader: text, confidence and second choices per line."""

from __future__ import annotations

from ocr.line_reading import LineReading, parse_hocr

HOCR = b"""<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><body>
<div class='ocr_page' id='page_2' title='bbox 0 0 105 48'>
 <span class='ocr_line' id='line_2_1'>
  <span class='ocrx_word' id='word_2_1' title='bbox 12 12 93 36; x_wconf 77'>041
   <span class='ocrx_cinfo' id='lstm_choices_2_1_1'>
    <span class='ocrx_cinfo' id='choice_2_1_1' title='x_confs 94.0'>0</span>
    <span class='ocrx_cinfo' id='choice_2_1_2' title='x_confs 14.4'>8</span></span>
   <span class='ocrx_cinfo' id='lstm_choices_2_1_2'>
    <span class='ocrx_cinfo' id='choice_2_1_3' title='x_confs 90.0'>4</span></span>
   <span class='ocrx_cinfo' id='lstm_choices_2_1_3'>
    <span class='ocrx_cinfo' id='choice_2_1_4' title='x_confs 92.1'>1</span>
    <span class='ocrx_cinfo' id='choice_2_1_5' title='x_confs 47.5'>7</span></span>
  </span>
 </span>
</div>
</body></html>"""


def test_hocr_gives_text_confidence_and_choices_per_page() -> None:
    first, second = parse_hocr(HOCR, 2)
    assert first == LineReading("", 0.0)
    assert second.text == "041"
    assert second.confidence == 0.77
    assert [c[0][0] for c in second.choices] == ["0", "4", "1"]
    assert second.choices[0][1][0] == "8"
    assert abs(second.choices[0][1][1] - 0.144) < 1e-9
