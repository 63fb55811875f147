"""Photo readings through `kabinet chat` with the real OCR: `/photo PATH`, confirm, stored;
bad files each get their own answer and store nothing."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

from ocr.synthetic.counters import draw_counter
from tests.e2e.conftest import Console, new_user

LINKED = ("/start", "Погоджуюсь", "Додати особовий рахунок", "2010000232", "62Z000000000232T")


def meter_closeup(path: Path, digits: str) -> Path:
    """A plain, well-lit close-up of a drum counter on a meter face."""
    # A fixed seed whose drums the shipped model reads with confidence (see bench for hard ones).
    counter = draw_counter(random.Random("e2e:2"), digits, "", lcd_share=0.0, realism=0.0)
    width = counter.image.width
    face = Image.new("RGB", (width * 2, width * 3 // 2), (228, 228, 222))
    face.paste(counter.image, (width // 2, width // 3))
    ImageDraw.Draw(face).text((width // 2, width), "ЛЕО  220 V", fill=(30, 30, 30))
    face.save(path, "JPEG", quality=92)
    return path


def huge_png(path: Path) -> Path:
    """20,000 × 20,000 pixels in a few kilobytes: a decompression bomb's header."""
    Image.new("1", (20_000, 20_000)).save(path, "PNG")
    return path


def test_photo_reading_confirmed(console: Console) -> None:
    user = new_user()
    photo = meter_closeup(console.workdir / f"{user}.jpg", "019779")
    turns = console.chat(user, *LINKED, "Внести покази", f"/photo {photo}")
    assert "надішліть фото лічильника" in turns[5]
    assert (
        "Розпізнано: 19 779 кВт·год. Попередні покази 19 649, спожито 130 кВт·год. Правильно?"
        in turns[6]
    ), turns[6]
    turns = console.chat(user, "Так", "Історія показів")
    assert "Покази прийнято" in turns[0] and "130 кВт·год" in turns[0]
    assert "561,60 грн" in turns[0]
    assert "19 779" in turns[1] and "📷" in turns[1]


def test_bad_photos_store_nothing(console: Console, tmp_path: Path) -> None:
    user = new_user()
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 10)
    pdf = tmp_path / "bill.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    blank = tmp_path / "wall.jpg"
    Image.new("RGB", (1200, 900), (200, 190, 170)).save(blank, "JPEG")
    huge = huge_png(tmp_path / "huge.png")
    # The two-zone account: the other test of this module stores a reading on 232.
    linked_777 = (*LINKED[:3], "2010000777", "62Z000000000777O")
    turns = console.chat(
        user,
        *linked_777,
        "Внести покази",
        f"/photo {corrupt}",
        f"/photo {pdf}",
        f"/photo {huge}",
        f"/photo {blank}",
        "Історія показів",
    )
    assert "не схоже на фото" in turns[6]
    assert "не схоже на фото" in turns[7]
    assert "завелике" in turns[8]
    assert any(words in turns[9] for words in ("табло", "не видно цифр", "затемне", "розмите"))
    for turn in turns[6:10]:
        assert "ввести покази вручну" in turn and "Розпізнано" not in turn
    assert "29.11.2026" not in turns[10]  # nothing was stored
