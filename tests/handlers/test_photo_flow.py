"""Photo readings in chat: confirm before storing, zones, problems, evidence kept."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from core.clock import FrozenClock
from core.model import Zone
from core.photo_reading import PhotoProblem, PhotoRecognition
from storage.photo_files import DirectoryPhotoStore
from tests.chat import Chat
from tests.fakes import FakePhotoReader, FakeUnitOfWorkFactory
from tests.handlers.conftest import linked

JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes"


def files_under(store: DirectoryPhotoStore) -> list[Path]:
    return [p for p in store._root.rglob("*") if p.is_file()]


async def test_photo_read_confirmed_and_kept(
    chat: Chat,
    photos: FakePhotoReader,
    factory: FakeUnitOfWorkFactory,
    photo_store: DirectoryPhotoStore,
) -> None:
    await linked(chat)
    photos.will_read("008480")
    text = await chat.send(photo=JPEG)
    # No leading zeros, and the step from the previous reading is shown at once.
    assert (
        "Розпізнано: 8 480 кВт·год. Попередні покази 8 350, спожито 130 кВт·год. Правильно?" in text
    )
    assert chat.labels()[:2] == ["Так", "Ні, ввести вручну"]
    assert not factory.data.submitted and not factory.data.photos
    _, prior = photos.calls[0]
    assert prior is not None and prior.previous == 8350 and prior.digit_count == 6
    text = await chat.press("Так")
    assert "Покази прийнято" in text and "130 кВт·год" in text and "561,60 грн" in text
    [reading] = factory.data.submitted.values()
    assert reading.values == {Zone.DAY: 8480} and reading.photo_id is not None
    _, size, _, ref = factory.data.photos[reading.photo_id]
    assert size == len(JPEG) and (photo_store._root / ref).read_bytes() == JPEG
    assert "pending" not in ref


async def test_no_means_type_it_and_nothing_is_kept(
    chat: Chat,
    photos: FakePhotoReader,
    factory: FakeUnitOfWorkFactory,
    photo_store: DirectoryPhotoStore,
) -> None:
    await linked(chat)
    photos.will_read("008480")
    await chat.send(photo=JPEG)
    text = await chat.press("Ні, ввести вручну")
    assert "Введіть поточні покази" in text
    assert not files_under(photo_store)
    text = await chat.send("8470")
    assert "120 кВт·год" in text
    [reading] = factory.data.submitted.values()
    assert reading.photo_id is None and not factory.data.photos


async def test_delete_my_data_removes_pending_photos(
    chat: Chat, photos: FakePhotoReader, photo_store: DirectoryPhotoStore
) -> None:
    """Issue 18, point 5: a photo read but never confirmed used to survive erasure."""
    await linked(chat)
    photos.will_read("008480")
    await chat.send(photo=JPEG)
    assert [p.parent.name for p in files_under(photo_store)] == ["pending"]
    await chat.send("/delete")
    assert "видалено" in await chat.press("Так, видалити")
    assert not files_under(photo_store)


@pytest.mark.parametrize(
    ("problem", "words"),
    [
        (PhotoProblem.NOT_AN_IMAGE, "не схоже на фото"),
        (PhotoProblem.TOO_LARGE, "завелике"),
        (PhotoProblem.TOO_DARK, "затемне"),
        (PhotoProblem.BLURRED, "розмите"),
        (PhotoProblem.COUNTER_NOT_FOUND, "табло"),
        (PhotoProblem.NO_DIGITS, "не видно цифр"),
        (PhotoProblem.TIMEOUT, "задовго"),
        (PhotoProblem.BUSY, "черзі"),
    ],
)
async def test_each_problem_has_its_advice(
    chat: Chat,
    photos: FakePhotoReader,
    factory: FakeUnitOfWorkFactory,
    problem: PhotoProblem,
    words: str,
) -> None:
    await linked(chat)
    photos.next = PhotoRecognition(problem=problem)
    text = await chat.send(photo=b"whatever")
    assert words in text and "ввести покази вручну" in text
    retake = "підійдіть ближче, тримайте телефон рівно навпроти табло, без спалаху й відблисків"
    assert (retake in text) is (
        problem not in {PhotoProblem.BUSY, PhotoProblem.NOT_AN_IMAGE, PhotoProblem.TOO_LARGE}
    )
    assert not factory.data.submitted
    assert "120 кВт·год" in await chat.send("8470")  # typing still works


async def test_unsure_reading_asks_to_type(
    chat: Chat, photos: FakePhotoReader, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    photos.will_read("008480", confidence=0.3)
    text = await chat.send(photo=JPEG)
    assert "Не вдалося надійно прочитати" in text and "(можливо, 8 480)" in text
    assert "Так" not in chat.labels() and not factory.data.submitted


async def test_two_zone_photo_is_for_the_zone_being_entered(
    chat: Chat, photos: FakePhotoReader, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat, "2010000777", "62Z000000000777O")
    await chat.send("Внести покази")
    photos.will_read("008460")
    text = await chat.send(photo=JPEG)
    _, prior = photos.calls[0]
    assert prior is not None and prior.previous is not None
    assert "Розпізнано покази денної зони: 8 460 кВт·год. Попередні покази" in text
    assert chat.labels()[:3] == ["Так", "Ні, ввести вручну", "Ні, це покази нічної зони"]
    text = await chat.press("Так")
    assert "Прийнято як покази денної зони" in text and "нічної зони" in text
    photos.will_read("008400")
    text = await chat.send(photo=JPEG)
    assert "Розпізнано покази нічної зони: 8 400 кВт·год." in text
    assert chat.labels()[:2] == ["Так", "Ні, ввести вручну"]  # no zone left to choose
    assert "Покази прийнято" in await chat.press("Так")
    [reading] = factory.data.submitted.values()
    assert reading.values == {Zone.DAY: 8460, Zone.NIGHT: 8400}


async def test_two_zone_photo_of_the_other_register(
    chat: Chat, photos: FakePhotoReader, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat, "2010000777", "62Z000000000777O")
    await chat.send("Внести покази")
    photos.will_read("008460")
    await chat.send(photo=JPEG)
    text = await chat.press("Ні, це покази нічної зони")
    assert "Прийнято як покази нічної зони" in text and "денної зони" in text
    text = await chat.send("8450")
    assert "• ніч: 8 460 → спожито 110 кВт·год" in text
    [reading] = factory.data.submitted.values()
    assert reading.values == {Zone.DAY: 8450, Zone.NIGHT: 8460} and reading.photo_id


async def test_a_reading_below_the_zones_previous_is_questioned_at_once(
    chat: Chat, photos: FakePhotoReader, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    photos.will_read("008300")
    text = await chat.send(photo=JPEG)
    assert "Розпізнано 8 300 кВт·год, але лічильник не може показувати це" in text
    assert "попередніх показів денної зони (8 350)" in text and "Введіть поточні покази" in text
    assert "Так" not in chat.labels() and not factory.data.submitted
    assert "130 кВт·год" in await chat.send("8480")


async def test_photo_outside_window(
    chat: Chat, photos: FakePhotoReader, clock: FrozenClock, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    clock.set(datetime.fromisoformat("2026-12-15T10:00:00+02:00"))
    photos.will_read("008480")
    text = await chat.send(photo=JPEG)
    assert "з 30.12.2026 по 03.01.2027" in text and not factory.data.submitted


async def test_photo_without_account(chat: Chat, photos: FakePhotoReader) -> None:
    await chat.send("/start")
    await chat.press("Погоджуюсь")
    text = await chat.send(photo=JPEG)
    assert "ще немає доданих" in text


async def test_reading_prompt_says_how_to_shoot(chat: Chat) -> None:
    await linked(chat)
    text = await chat.send("Внести покази")
    assert "надішліть фото лічильника" in text and "без спалаху" in text


async def test_typed_yes_or_a_number_after_a_photo(
    chat: Chat, photos: FakePhotoReader, factory: FakeUnitOfWorkFactory
) -> None:
    await linked(chat)
    photos.will_read("008480")
    await chat.send(photo=JPEG)
    assert "130 кВт·год" in await chat.send("так")
    photos.will_read("008480")
    await chat.send(photo=JPEG)
    text = await chat.send("8470")
    assert "120 кВт·год" in text and "замінено" in text
