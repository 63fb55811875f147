"""Logs of a process: text or JSON lines, ids that tie the lines of one request, update or
push together, and personal data and secrets kept out.

The ids live in a context variable: the server's middleware binds `request_id`, a
conversation turn `update_id`, the delivery worker `push_id`. asyncio copies the context
into every task, so a line logged anywhere below carries the ids of the work it belongs to.

Masking is a second line of defence: the code logs ids masked already (core.privacy.mask),
and the formatters also hide every configured secret, bot tokens, bearer credentials,
Ukrainian phone numbers and EIC codes in whatever reaches them (library messages and
tracebacks included). Names cannot be recognised by a pattern: they are never logged.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO

from core.privacy import mask

_ids: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("kabinet_log_ids")

# A request id a reverse proxy sends (X-Request-Id) is taken when it looks like one.
_FOREIGN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# Telegram bot tokens ("123456789:AA…", also inside API URLs "…/bot123456789:AA…/").
_BOT_TOKEN = re.compile(r"(?<![0-9])[0-9]{5,}:[A-Za-z0-9_-]{30,}")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
# Ukrainian phone numbers: +380XXXXXXXXX, 380XXXXXXXXX, 0XXXXXXXXX (spaces, dashes and
# brackets inside are allowed, as people type them).
_PHONE = re.compile(
    r"(?<![\w+])(?:\+?38[\s-]?)?\(?0\d{2}\)?[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2}(?!\d)"
)
# EIC codes: 16 characters, two digits, a type letter, 12 more, a check character.
_EIC = re.compile(r"(?<![A-Za-z0-9])[0-9]{2}[A-Z][A-Z0-9-]{12}[A-Z0-9](?![A-Za-z0-9])")


def new_id() -> str:
    """A short random id for a request, an update or a push that has none of its own."""
    return secrets.token_hex(6)


def foreign_id(value: str | None) -> str | None:
    """`value` when it is usable as an id (a proxy's X-Request-Id), else None."""
    return value if value and _FOREIGN_ID.fullmatch(value) else None


def current_ids() -> dict[str, str]:
    """The ids bound in this context."""
    return dict(_ids.get({}))


@contextmanager
def log_ids(**ids: str | None) -> Iterator[None]:
    """Bind ids (request_id=, update_id=, push_id=) for the lines logged inside."""
    merged = {**_ids.get({}), **{key: value for key, value in ids.items() if value}}
    token = _ids.set(merged)
    try:
        yield
    finally:
        _ids.reset(token)


def bind_ids(**ids: str | None) -> None:
    """Bind ids for the rest of the current task (which has its own copy of the context,
    so the binding ends with it); `log_ids` where a block should end it."""
    _ids.set({**_ids.get({}), **{key: value for key, value in ids.items() if value}})


class Redactor:
    """Hides secrets (exact values) and personal data (by pattern) in a log text."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is hidden whole; very short values
        # would hide ordinary words and are not secrets worth the name.
        self._secrets = sorted({s for s in secret_values if len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._secrets:
            if value in text:
                text = text.replace(value, "***")
        text = _BOT_TOKEN.sub("***", text)
        text = _BEARER.sub(r"\1 ***", text)
        text = _EIC.sub(lambda match: mask(match.group()), text)
        return _PHONE.sub(lambda match: mask(re.sub(r"\D", "", match.group())), text)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the bound ids,
    and `exception` (the traceback) when there is one."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._redact(record.getMessage()),
        }
        line.update(_ids.get({}))
        if record.exc_info:
            line["exception"] = self._redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = self._redact(record.exc_text)
        if record.stack_info:
            line["stack"] = self._redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic one-line text, the bound ids in brackets at the end, masked the same way."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = _ids.get({})
        if ids:
            first, newline, rest = text.partition("\n")
            bound = " ".join(f"{key}={value}" for key, value in ids.items())
            text = f"{first} [{bound}]{newline}{rest}"
        return self._redact(text)


# Libraries whose DEBUG lines carry statement parameters or message bodies (personal data):
# they stay at INFO whatever LOG_LEVEL says.
_CHATTY = ("aiosqlite", "asyncpg")
# Libraries that say at INFO what no operator needs: SQLAlchemy echoes every statement at
# INFO (its own default is WARNING), Alembic lists its plugins on import, APScheduler
# every run of every job.
_NOISY = ("sqlalchemy", "alembic.runtime.plugins", "apscheduler")


def configure_logging(
    level: int,
    *,
    json_lines: bool,
    secret_values: Iterable[str] = (),
    stream: IO[str] | None = None,
    force: bool = False,
) -> None:
    """Send the root logger's records to `stream` (stderr) as text or JSON lines.

    Like `logging.basicConfig`, it leaves a root logger that already has handlers alone
    (a test runner's, or a program embedding Kabinet) unless `force` replaces them.
    """
    root = logging.getLogger()
    if not root.handlers or force:
        redact = Redactor(secret_values)
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(JsonFormatter(redact) if json_lines else TextFormatter(redact))
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(handler)
        root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


# fontTools logs ~30 INFO lines per PDF (font subsetting); matplotlib and Pillow log
# their plugin and font discovery. None of it helps an operator, and the subsetter's lines
# name the glyphs used, i.e. hint at the text of the document. aiosqlite logs every
# statement with its bound values at DEBUG: names, phones, call-centre texts.
CHATTY_LIBRARIES = ("fontTools", "matplotlib", "PIL", "aiosqlite")


def quiet_chatty_libraries(level: int = logging.WARNING) -> None:
    """Keep the chatty libraries at `level` or above, whatever the application's level."""
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(level)
