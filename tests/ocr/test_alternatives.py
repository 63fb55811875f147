"""The model's second choices, and the prior picking among them."""

from __future__ import annotations

from PIL import Image

from core.photo_reading import ReadingPrior
from ocr.line_reading import LineReading, parse_hocr
from ocr.recognition import CONFIDENT, _shorter_readings, amendments, recognise_photo
from ocr.synthetic.meters import MeterPhoto
from tests.ocr.conftest import jpeg_bytes

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


def test_amendments_find_the_alternative_that_fits() -> None:
    reading = LineReading(
        "00417",
        0.77,
        (
            (("0", 0.94), ("8", 0.14)),
            (("0", 0.95), ("8", 0.26)),
            (("4", 0.94),),
            (("1", 0.92), ("4", 0.48)),
            (("7", 0.92),),
        ),
    )
    found = amendments(reading, ReadingPrior(previous=80294, max_increase=5000))
    assert found[0][0] == "80417"
    assert 0 < found[0][1] < 1


def test_amendments_need_a_prior_that_some_alternative_fits() -> None:
    reading = LineReading("00417", 0.77, ((("0", 0.94),),) * 5)
    assert amendments(reading, ReadingPrior(previous=80294, max_increase=5000)) == []


def test_an_amended_reading_is_offered_but_never_taken_as_read(closeup_photo: MeterPhoto) -> None:
    truth = str(closeup_photo.reading).zfill(closeup_photo.digit_count)
    wrong_first = "9" + truth[1:] if truth[0] != "9" else "8" + truth[1:]

    def misread(images: list[Image.Image]) -> list[LineReading]:
        choices = tuple(((w, 0.9), (t, 0.5)) for w, t in zip(wrong_first, truth, strict=True))
        return [LineReading(wrong_first, 0.95, choices) for _ in images]

    # The digit count keeps prefixes (glued decimals) out: only the alternatives can fit.
    prior = ReadingPrior(previous=max(0, closeup_photo.reading - 200), digit_count=len(truth))
    recognition = recognise_photo(jpeg_bytes(closeup_photo.image), prior, lines_reader=misread)
    assert recognition.best is not None
    assert recognition.best.value == closeup_photo.reading
    assert recognition.best.confidence < CONFIDENT


def test_a_leading_frame_digit_can_be_cut_off_but_not_below_the_digit_count() -> None:
    assert "0188" in _shorter_readings("30188", ReadingPrior(previous=31))
    assert "0188" not in _shorter_readings("30188", ReadingPrior(previous=31, digit_count=5))
