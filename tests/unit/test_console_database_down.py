"""Issue 18, point 10: the console chat survives a database out of reach (the dialog raises
StoreUnavailable so that platforms can redeliver; the console just says so)."""

from __future__ import annotations

import io
from pathlib import Path

from bot.channels.console import PROMPT, ConsoleChannel
from bot.messages import Incoming, Reply
from core.ports import StoreUnavailable


async def test_the_console_says_the_database_is_unreachable_and_goes_on(tmp_path: Path) -> None:
    calls: list[str | None] = []

    async def handle(event: Incoming) -> list[Reply]:
        calls.append(event.text)
        if len(calls) == 1:
            raise StoreUnavailable("ConnectionRefusedError")
        return [Reply("answer")]

    stdout = io.StringIO()
    console = ConsoleChannel(
        handle, "me", stdin=io.StringIO("hello\nhello\n"), stdout=stdout, out_dir=tmp_path
    )
    await console.run()
    assert calls == ["hello", "hello"]
    shown = stdout.getvalue()
    assert "the database cannot be reached" in shown and "answer" in shown
    assert shown.endswith(PROMPT + "\n")
