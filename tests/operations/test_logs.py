"""JSON log lines: valid JSON, the ids of the work they belong to, nothing secret or personal."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from observability.logs import (
    JsonFormatter,
    Redactor,
    bind_ids,
    configure_logging,
    current_ids,
    foreign_id,
    log_ids,
)

TOKEN = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The root logger writing JSON lines into a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure_logging(
        logging.DEBUG,
        json_lines=True,
        secret_values=["s3cret-admin-token"],
        stream=stream,
        force=True,
    )
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def _parsed(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_time_level_logger_message(lines: io.StringIO) -> None:
    logging.getLogger("kabinet.test").warning("hello %s", "world")
    (line,) = _parsed(lines)
    assert line["level"] == "WARNING" and line["logger"] == "kabinet.test"
    assert line["message"] == "hello world"
    assert str(line["time"]).endswith("+00:00")


def test_ids_are_carried_and_end_with_their_block(lines: io.StringIO) -> None:
    log = logging.getLogger("kabinet.test")
    with log_ids(request_id="r1"):
        with log_ids(update_id="u1"):
            log.info("inside the turn")
        log.info("after the turn")
    log.info("outside")
    inside, after, outside = _parsed(lines)
    assert (inside["request_id"], inside["update_id"]) == ("r1", "u1")
    assert after["request_id"] == "r1" and "update_id" not in after
    assert "request_id" not in outside


async def test_a_push_id_bound_in_a_task_stays_in_that_task(lines: io.StringIO) -> None:
    async def send(push: int) -> None:
        bind_ids(push_id=str(push))
        await asyncio.sleep(0)
        logging.getLogger("kabinet.test").info("sent")

    await asyncio.gather(send(1), send(2))
    sent = [line for line in _parsed(lines) if line["message"] == "sent"]
    assert sorted(str(line["push_id"]) for line in sent) == ["1", "2"]
    assert current_ids() == {}


def test_tracebacks_are_in_the_line_and_masked(lines: io.StringIO) -> None:
    try:
        raise RuntimeError(f"call to https://api.telegram.org/bot{TOKEN}/sendMessage failed")
    except RuntimeError:
        logging.getLogger("kabinet.test").exception("boom")
    (line,) = _parsed(lines)
    assert "RuntimeError" in str(line["exception"])
    assert (
        TOKEN not in lines.getvalue()
        and "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in lines.getvalue()
    )


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        (f"token {TOKEN} leaked", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
        ("Authorization: Bearer abc.def-123", "abc.def-123"),
        ("admin token s3cret-admin-token", "s3cret-admin-token"),
        ("phone +380501234567", "0501234567"),
        ("phone 0501234567", "0501234567"),
        ("phone 050 123 45 67", "050 123 45 67"),
        ("EIC 62Z000000000232T linked", "62Z000000000232T"),
    ],
)
def test_secrets_and_personal_data_are_masked(text: str, gone: str) -> None:
    masked = Redactor(["s3cret-admin-token"])(text)
    assert gone not in masked
    assert masked.split()[0] == text.split()[0]  # the words around stay


def test_ordinary_numbers_stay() -> None:
    text = "push 12345 sent in 0.52 s at 2026-11-29T10:00:00+02:00; 3 of 50"
    assert Redactor()(text) == text


def test_a_proxy_request_id_is_taken_only_when_it_looks_like_one() -> None:
    assert foreign_id("abc-123_X.y") == "abc-123_X.y"
    assert foreign_id("with space") is None
    assert foreign_id("x" * 65) is None
    assert foreign_id(None) is None


def test_the_formatter_writes_unicode_as_is() -> None:
    record = logging.LogRecord("kabinet", logging.INFO, __file__, 1, "Покази прийнято", None, None)
    assert "Покази прийнято" in JsonFormatter(Redactor()).format(record)
