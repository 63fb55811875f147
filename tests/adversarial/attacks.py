"""What an outsider (or a confused platform) sends: malformed requests built byte by byte,
sent over a raw socket (aiohttp's client refuses header bytes that are not UTF-8), and the
secrets of a server with every channel on. Shared by the in-process tests of issue 18,
point 8, and the suite against a real `kabinet serve`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from payments.easypay import sign as easypay_sign
from tests.channels.conftest import SECRET as TELEGRAM_SECRET
from tests.channels.fake_graph import APP_SECRET, PAGE_TOKEN, VERIFY_TOKEN
from tests.channels.fake_telegram import TOKEN as TELEGRAM_TOKEN
from tests.channels.fake_viber import TOKEN as VIBER_TOKEN

ADMIN_TOKEN = "admin-token-for-attacks"
EASYPAY_SECRET = "easypay-secret-for-attacks"
MEDIA_SECRET = "media-secret-for-attacks"
NOT_UTF8 = b"\xff\xfe\xc3(\x80"
# Deep enough to pass any recursion limit; small enough for the webhook's 256 KiB cap.
DEEP = 100_000


def everything_on(telegram: str, viber: str, graph: str) -> dict[str, str]:
    """Settings (as environment variables) of a server with every inbound route on:
    the three messengers against their fakes, EasyPay, the operator API and media."""
    return {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE": telegram,
        "TELEGRAM_MODE": "webhook",
        "VIBER_AUTH_TOKEN": VIBER_TOKEN,
        "VIBER_API_BASE": viber,
        "MESSENGER_PAGE_TOKEN": PAGE_TOKEN,
        "MESSENGER_APP_SECRET": APP_SECRET,
        "MESSENGER_VERIFY_TOKEN": VERIFY_TOKEN,
        "MESSENGER_API_BASE": graph,
        "EASYPAY_PARTNER_KEY": "partner",
        "EASYPAY_SERVICE_KEY": "service",
        "EASYPAY_SECRET_KEY": EASYPAY_SECRET,
        # Never called: only notifications are posted to the server.
        "EASYPAY_API_BASE": "http://127.0.0.1:9",
        "EASYPAY_NOTIFY_URL": "http://127.0.0.1:9/payments/easypay",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "MEDIA_SECRET": MEDIA_SECRET,
        "OCR_WORKERS": "0",
    }


@dataclass(frozen=True)
class Attack:
    """One request, as bytes on the wire."""

    name: str
    method: str
    path: str
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""
    allowed: frozenset[int] = field(default_factory=lambda: frozenset({400}))


def viber_signed(body: bytes) -> tuple[tuple[bytes, bytes], ...]:
    mac = hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()
    return ((b"X-Viber-Content-Signature", mac.encode()),)


def messenger_signed(body: bytes) -> tuple[tuple[bytes, bytes], ...]:
    mac = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return ((b"X-Hub-Signature-256", b"sha256=" + mac.encode()),)


def easypay_signed(body: bytes) -> tuple[tuple[bytes, bytes], ...]:
    return ((b"Sign", easypay_sign(EASYPAY_SECRET, body).encode()),)


def deep_json(depth: int = DEEP) -> bytes:
    return b"[" * depth + b"]" * depth


def _easypay_notice(amount: str) -> bytes:
    # The amount is spliced in as written: JSON literals such as NaN or 1e999999999.
    notice = {
        "OperationType": "Payment",
        "TransactionStatus": "Accepted",
        "MerchantOrderId": "order-1",
        "TransactionId": 77,
        "Amount": "AMOUNT",
    }
    return json.dumps(notice).replace('"AMOUNT"', amount).encode()


def malformed() -> list[Attack]:
    """Issue 18, point 8: each used to be a 500 with a traceback in the log."""
    telegram = ((b"X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET.encode()),)
    entry_1 = json.dumps({"object": "page", "entry": [1]}).encode()
    viber_x = json.dumps(
        {
            "event": "message",
            "timestamp": 1,
            "message_token": 5,
            "sender": {"id": "viber-user"},
            "message": "x",
        }
    ).encode()
    easypay_deep = deep_json(30_000)  # its body cap is 64 KiB
    attacks = [
        Attack(
            "telegram secret not UTF-8",
            "POST",
            "/webhook/telegram",
            ((b"X-Telegram-Bot-Api-Secret-Token", NOT_UTF8),),
            b"{}",
            frozenset({400, 401}),
        ),
        Attack(
            "viber signature not UTF-8",
            "POST",
            "/webhook/viber",
            ((b"X-Viber-Content-Signature", NOT_UTF8 * 13),),
            b"{}",
            frozenset({400, 403}),
        ),
        Attack(
            "messenger signature not UTF-8",
            "POST",
            "/webhook/messenger",
            ((b"X-Hub-Signature-256", b"sha256=" + NOT_UTF8 * 13),),
            b"{}",
            frozenset({400, 403}),
        ),
        Attack(
            "operator bearer not UTF-8",
            "GET",
            "/api/v1/call-center-requests",
            ((b"Authorization", b"Bearer " + NOT_UTF8),),
            allowed=frozenset({400, 401}),
        ),
        Attack(
            "media token with a 5,000-digit expiry",
            "GET",
            "/media/abcdefghijklmnopqrstuv." + "9" * 5000 + ".c2lnbmF0dXJl.jpg",
            allowed=frozenset({403, 404}),
        ),
        Attack(
            "media token with a signature beyond ASCII",
            "GET",
            "/media/abcdefghijklmnopqrstuv.1700000000.%C3%A9%C3%A9.jpg",
            allowed=frozenset({403, 404}),
        ),
        Attack(
            "telegram JSON nested 100,000 deep", "POST", "/webhook/telegram", telegram, deep_json()
        ),
        Attack(
            "viber JSON nested 100,000 deep",
            "POST",
            "/webhook/viber",
            viber_signed(deep_json()),
            deep_json(),
        ),
        Attack(
            "messenger JSON nested 100,000 deep",
            "POST",
            "/webhook/messenger",
            messenger_signed(deep_json()),
            deep_json(),
        ),
        Attack(
            "operator JSON nested 100,000 deep",
            "POST",
            "/api/v1/outages",
            (
                (b"Authorization", f"Bearer {ADMIN_TOKEN}".encode()),
                (b"Content-Type", b"application/json"),
            ),
            deep_json(),
        ),
        Attack(
            "easypay JSON nested 30,000 deep",
            "POST",
            "/payments/easypay",
            easypay_signed(easypay_deep),
            easypay_deep,
        ),
        Attack(
            'messenger "entry": [1]',
            "POST",
            "/webhook/messenger",
            messenger_signed(entry_1),
            entry_1,
        ),
        Attack('viber "message": "x"', "POST", "/webhook/viber", viber_signed(viber_x), viber_x),
    ]
    for amount in (
        "1e999999999",
        "NaN",
        "Infinity",
        "-Infinity",
        '"NaN"',
        '"1e999999999"',
        "1" * 5000,
    ):
        body = _easypay_notice(amount)
        attacks.append(
            Attack(
                f"easypay Amount {amount[:12]}",
                "POST",
                "/payments/easypay",
                easypay_signed(body),
                body,
            )
        )
    return attacks


async def send_raw(
    host: str,
    port: int,
    method: str,
    path: str,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    body: bytes | AsyncIterator[bytes] = b"",
    *,
    length: int | None = None,
) -> int:
    """Send one request as raw bytes (Connection: close); the status of the answer, or 0
    when the server closed the connection without one.

    `body` may be an async iterator of chunks, sent as they come with `length` declared,
    so a test can send a large body without holding it."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        size = len(body) if isinstance(body, bytes) else length
        lines = [f"{method} {path} HTTP/1.1".encode(), f"Host: {host}:{port}".encode()]
        lines += [name + b": " + value for name, value in headers]
        if size is not None and (size or method == "POST"):
            lines.append(f"Content-Length: {size}".encode())
        lines.append(b"Connection: close")
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
        # The answer may come (403, 413) before the body is all sent: read it meanwhile.
        answer = asyncio.ensure_future(reader.readline())
        try:
            if isinstance(body, bytes):
                writer.write(body)
                await writer.drain()
            else:
                async for chunk in body:
                    if answer.done():
                        break
                    writer.write(chunk)
                    await writer.drain()
        except ConnectionError:
            pass  # the server answered and closed before the body was all sent
        status_line = await answer
    except ConnectionError:
        return 0
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    parts = status_line.split()
    return int(parts[1]) if len(parts) >= 2 else 0
