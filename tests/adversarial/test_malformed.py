"""Issue 18, point 8: malformed input from outside is a 4xx and one log line, never a 500
with a traceback — on a real aiohttp server, the bytes sent over a socket."""

from __future__ import annotations

import logging

import pytest

from tests.adversarial.attacks import malformed, send_raw
from tests.adversarial.conftest import Everything


async def test_every_malformed_input_is_a_4xx_and_one_line(
    everything: Everything, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    failures = []
    for attack in malformed():
        caplog.clear()
        status = await send_raw(
            "127.0.0.1", everything.port, attack.method, attack.path, attack.headers, attack.body
        )
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        traced = [r for r in caplog.records if r.exc_info is not None or "\n" in r.getMessage()]
        if status not in attack.allowed or len(loud) > 1 or traced:
            failures.append((attack.name, status, [r.getMessage()[:120] for r in loud + traced]))
    assert not failures, failures
    assert await send_raw("127.0.0.1", everything.port, "GET", "/livez") == 200
