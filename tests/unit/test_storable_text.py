"""core.text: NUL and lone surrogates never reach the database (issue 18, point 9)."""

from __future__ import annotations

import pytest

from bot.messages import Incoming
from core.model import Channel
from core.requests import MAX_NAME, TextEmpty, clean_text
from core.text import storable, storable_name


def test_nul_and_lone_surrogates_go_and_the_rest_stays() -> None:
    assert storable("a\x00b\ud83dc\udc80d 😀 ґ\n\t") == "abcd 😀 ґ\n\t"
    assert clean_text(" текст\x00 для кол-центру ", 10_000) == "текст для кол-центру"
    with pytest.raises(TextEmpty):
        clean_text("\x00 \ud800", 100)


def test_a_profile_name_is_cut_to_what_the_column_holds() -> None:
    long = "Олена " + "Петренко-" * 60
    cut = storable_name(long, MAX_NAME)
    assert len(cut) <= MAX_NAME and cut.startswith("Олена Петренко")
    assert storable_name("  Іван\x00   Петренко ", MAX_NAME) == "Іван Петренко"


def test_every_incoming_event_is_cleaned() -> None:
    event = Incoming(
        Channel.TELEGRAM, "1", text="при\x00віт", payload="x\ud800", profile_name="І" * 400
    )
    assert (event.text, event.payload, len(event.profile_name)) == ("привіт", "x", MAX_NAME)
