"""Seven-segment LCD meter readings.

`read_lcd_line(image)` reads one cropped line of an LCD (a detector's text box) with a
small CRNN trained on synthetic seven-segment lines and run by onnxruntime; the model loads
on the first call. `rank_total_lines(lines)` says which of an LCD's lines is the total
rather than a clock, a date or a tariff register.
"""

from ocr.lcd.decoding import ALPHABET, LcdCandidate
from ocr.lcd.ranking import LcdLine, RankedLine, rank_total_lines
from ocr.lcd.recognizer import LcdReading, read_lcd_line

__all__ = [
    "ALPHABET",
    "LcdCandidate",
    "LcdLine",
    "LcdReading",
    "RankedLine",
    "rank_total_lines",
    "read_lcd_line",
]
