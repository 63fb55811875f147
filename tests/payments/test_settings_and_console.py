"""EasyPay settings (all keys or none, a notify URL) and the console's side of paying:
pushes print (re-prompting when the user waits) and local links are opened."""

from __future__ import annotations

import asyncio
import io

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from app.compose import make_payments
from app.settings import ConfigError, load_settings
from bot.channels.base import DeliveryStatus, Push
from bot.channels.console import PROMPT, ConsoleChannel
from bot.messages import Button, Incoming, Reply
from payments.easypay import EasyPayProvider

KEYS = {"easypay_partner_key": "p", "easypay_service_key": "s", "easypay_secret_key": "k"}


def test_paying_is_off_without_keys(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    assert make_payments(load_settings()) is None


def test_keys_go_together_and_need_a_notify_url(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="EASYPAY_SECRET_KEY"):
        load_settings(easypay_partner_key="p", easypay_service_key="s")
    with pytest.raises(ConfigError, match=r"EASYPAY_NOTIFY_URL.*PUBLIC_BASE_URL"):
        load_settings(**KEYS)
    with pytest.raises(ConfigError, match="EASYPAY_NOTIFY_URL"):
        load_settings(**KEYS, easypay_notify_url="ftp://x")


def test_notify_url_from_public_base_or_explicit(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    derived = make_payments(load_settings(**KEYS, public_base_url="https://bot.example/"))
    assert isinstance(derived, EasyPayProvider)
    assert derived.notify_url == "https://bot.example/payments/easypay"
    explicit = make_payments(
        load_settings(**KEYS, public_base_url="https://a", easypay_notify_url="https://b/cb")
    )
    assert isinstance(explicit, EasyPayProvider) and explicit.notify_url == "https://b/cb"
    assert "k" not in repr(load_settings(**KEYS, public_base_url="https://a").easypay_secret_key)


async def test_console_push_re_prompts_only_when_waiting(tmp_path) -> None:
    stdin_r, stdin_w = _pipe()
    stdout = io.StringIO()

    async def handle(event: Incoming) -> list[Reply]:
        return [Reply("answer")]

    console = ConsoleChannel(handle, "me", stdin=stdin_r, stdout=stdout, out_dir=tmp_path)
    running = asyncio.create_task(console.run())
    await asyncio.sleep(0.05)  # the console now waits for a line
    result = await console.send("me", Push([Reply("Дякуємо!", [[Button("Меню", "menu")]])]))
    assert result.status == DeliveryStatus.SENT
    assert stdout.getvalue() == f"{PROMPT}\nДякуємо!\n[1] Меню\n{PROMPT}"
    other = await console.send("someone-else", Push([Reply("x")]))
    assert other.status == DeliveryStatus.FAILED
    stdin_w.write("hello\n")
    stdin_w.close()
    await asyncio.wait_for(running, 5)
    assert stdout.getvalue().endswith(f"answer\n{PROMPT}\n")


async def test_console_shows_a_turns_pushes_after_its_answer_before_the_prompt(
    tmp_path,
) -> None:
    stdout = io.StringIO()
    passes: list[int] = []

    async def handle(event: Incoming) -> list[Reply]:
        # Delivery in the background hands over a push while the turn is handled.
        await console.send("me", Push([Reply("Відповідь кол-центру")]))
        return [Reply("answer")]

    async def deliver_due() -> None:
        passes.append(1)
        if len(passes) == 2:  # what the turn queued (a payment's thanks)
            await console.send("me", Push([Reply("Дякуємо!")]))

    console = ConsoleChannel(
        handle, "me", stdin=io.StringIO("pay\n"), stdout=stdout, out_dir=tmp_path
    )
    console.deliver_due = deliver_due
    await console.run()
    # Before the first prompt, after the turn, and once more at the end of input.
    assert len(passes) == 3
    assert stdout.getvalue() == (f"{PROMPT}answer\nВідповідь кол-центру\nДякуємо!\n{PROMPT}\n")


def test_saved_files_are_numbered_on_across_runs(tmp_path) -> None:
    from bot.messages import Attachment

    (tmp_path / "007-old.pdf").write_bytes(b"earlier run")
    console = ConsoleChannel(lambda event: None, "me", stdout=io.StringIO(), out_dir=tmp_path)  # type: ignore[arg-type,return-value]
    first = console._save(Attachment("receipt.pdf", b"1", "application/pdf"))
    (tmp_path / "009-receipt.pdf").write_bytes(b"another console")
    second = console._save(Attachment("receipt.pdf", b"2", "application/pdf"))
    assert (first.name, second.name) == ("008-receipt.pdf", "010-receipt.pdf")
    assert (tmp_path / "007-old.pdf").read_bytes() == b"earlier run"
    assert (tmp_path / "009-receipt.pdf").read_bytes() == b"another console"


async def test_console_opens_local_links_only(tmp_path) -> None:
    opened: list[str] = []

    async def page(request: web.Request) -> web.Response:
        opened.append(request.path)
        return web.Response(text="\nPaid 10.00 UAH\nmore\n")

    web_app = web.Application()
    web_app.router.add_get("/pay/{order}", page)
    async with TestServer(web_app, host="127.0.0.1") as server:
        local = str(server.make_url("/pay/kb1"))
        replies = [
            Reply(
                "Pay",
                [[Button("Local", url=local)], [Button("Remote", url="https://pay.example/kb2")]],
            )
        ]

        async def handle(event: Incoming) -> list[Reply]:
            return replies

        stdout = io.StringIO()
        console = ConsoleChannel(
            handle, "me", stdin=io.StringIO("start\n#1\n#2\n"), stdout=stdout, out_dir=tmp_path
        )
        await console.run()
    assert opened == ["/pay/kb1"]
    assert f"(open {local})\n(page 200: Paid 10.00 UAH)\n" in stdout.getvalue()
    assert "(open https://pay.example/kb2)\n" in stdout.getvalue()


def _pipe() -> tuple[io.TextIOWrapper, io.TextIOWrapper]:
    import os

    read_fd, write_fd = os.pipe()
    return (
        os.fdopen(read_fd, "r", encoding="utf-8"),
        os.fdopen(write_fd, "w", encoding="utf-8", buffering=1),
    )


async def test_console_takes_a_bare_button_number_as_a_press_and_longer_numbers_as_text(
    tmp_path,
) -> None:
    seen: list[Incoming] = []

    async def handle(event: Incoming) -> list[Reply]:
        seen.append(event)
        return [Reply("Згода?", [[Button("Погоджуюсь", "yes")], [Button("Ні", "no")]])]

    lines = "hi\n1\n#2\n3\n19800\n"
    console = ConsoleChannel(
        handle, "me", stdin=io.StringIO(lines), stdout=io.StringIO(), out_dir=tmp_path
    )
    await console.run()
    # A newcomer types the number shown beside a button; "#N" still works; a number beyond
    # the buttons, or a reading, is text.
    assert [(e.payload, e.text) for e in seen] == [
        (None, "hi"),
        ("yes", "Погоджуюсь"),
        ("no", "Ні"),
        (None, "3"),
        (None, "19800"),
    ]
