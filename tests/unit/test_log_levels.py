"""Chatty libraries stay quiet whatever level the application logs at (issue 18)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from app.cli import _configure_logging
from app.settings import Settings
from observability.logs import CHATTY_LIBRARIES


@pytest.fixture
def restored_levels() -> Iterator[None]:
    before = {name: logging.getLogger(name).level for name in CHATTY_LIBRARIES}
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("restored_levels")
def test_fonttools_matplotlib_and_pil_log_warnings_only_even_at_debug() -> None:
    settings = Settings(log_level="DEBUG", _env_file=None)  # type: ignore[call-arg]
    _configure_logging(settings, console=False)
    chatty = ("fontTools.subset", "fontTools.ttLib.ttFont", "matplotlib.font_manager", "PIL")
    for name in (*chatty, "aiosqlite"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger(name).isEnabledFor(logging.WARNING), name
