"""A local fake Viber REST API (aiohttp) and builders of real, signed Viber callbacks.

It speaks Viber's shape: `POST /pa/<endpoint>` with JSON and `X-Viber-Auth-Token`, answers
HTTP 200 with `{"status": 0, "status_message": "ok"}` or an error status. Like Viber it
calls the webhook back during set_webhook, and fetches the media URL of every picture and
file message it is asked to send (so tests see the bytes a person would get). It serves
pictures a "person" sends at `/media-src/<name>`. It can answer a receiver with status 6
(not subscribed), a number of sends with 12 (too many requests), or drop connections.

`broadcast_message` sends one message to up to 300 ids of `broadcast_list` and answers the
receivers it could not reach in `failed_list` (status 6 for the unsubscribed, or what
`fail_receiver` set). With `limits=True` each endpoint takes at most 500 calls in any 10 s
(Viber's documented broadcast rate; send_message publishes none, the same is assumed) and
answers status 12 above it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from app.compose import viber_channel
from bot.channels.viber import signature

TOKEN = "44dafb7e0f40021e-61a47a1e6778d187-f2c5a676a07050b3"
ERRORS = {
    1: "invalidUrl",
    2: "invalidAuthToken",
    3: "badData",
    6: "receiverNotSubscribed",
    12: "tooManyRequests",
}
BROADCAST_LIMIT = 300  # ids per broadcast_message
CALLS_PER_WINDOW = 500  # per endpoint in any WINDOW_SECONDS
WINDOW_SECONDS = 10.0


@dataclass
class Call:
    """One REST call as the fake received it, and media it fetched for it."""

    endpoint: str
    body: dict[str, Any]
    auth: str | None
    fetched: bytes | None = None
    fetched_type: str | None = None
    at: float = field(default_factory=time.perf_counter)

    @property
    def receiver(self) -> str | None:
        return self.body.get("receiver")

    @property
    def type(self) -> str | None:
        return self.body.get("type")

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return list((self.body.get("keyboard") or {}).get("Buttons") or [])

    @property
    def receivers(self) -> list[str]:
        """Who the call was for: the receiver, or every id of a broadcast list."""
        if self.endpoint == "broadcast_message":
            return [str(r) for r in self.body.get("broadcast_list") or []]
        return [self.receiver] if self.receiver else []


@dataclass
class FakeViber:
    """The fake server; `await start()` returns the base for VIBER_API_BASE (…/pa)."""

    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    unsubscribed: set[str] = field(default_factory=set)
    pictures: dict[str, bytes] = field(default_factory=dict)
    webhook_checks: list[int] = field(default_factory=list)
    limits: bool = False
    calls_per_window: int = CALLS_PER_WINDOW
    too_many: int = 0  # status 12 answered for the limits
    clock: Any = time.monotonic
    failing: dict[str, int] = field(default_factory=dict)  # receiver → broadcast status
    delivered: list[tuple[str, Call]] = field(default_factory=list)  # (receiver, call)
    _windows: dict[str, deque[float]] = field(default_factory=dict)
    _statuses: list[int] = field(default_factory=list)
    _drops: int = 0
    _server: TestServer | None = None
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/pa/{endpoint}", self._api)
        app.router.add_get("/media-src/{name}", self._picture)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self._session = aiohttp.ClientSession()
        return self.base + "/pa"

    @property
    def base(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._server is not None:
            await self._server.close()

    # ---- control -----------------------------------------------------------------------

    def answer_with(self, status: int, times: int = 1) -> None:
        """Answer the next `times` send_message calls with an error status."""
        self._statuses.extend([status] * times)

    def drop(self, times: int = 1) -> None:
        """Close the connection without an answer on the next calls."""
        self._drops += times

    def add_picture(self, name: str, content: bytes) -> str:
        """Serve a picture a person sends; its URL (as in a Viber picture message)."""
        self.pictures[name] = content
        return f"{self.base}/media-src/{name}"

    def fail_receiver(self, user_id: str, status: int) -> None:
        """Name this receiver in a broadcast's failed_list with `status` from now on."""
        self.failing[user_id] = status

    def sent_to(self, user_id: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == "send_message" and c.receiver == user_id]

    def calls_of(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    # ---- server ------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        call = Call(endpoint, await request.json(), request.headers.get("X-Viber-Auth-Token"))
        self.calls.append(call)
        if self._drops:
            self._drops -= 1
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if call.auth != self.token:
            return _status(2)
        if endpoint == "set_webhook":
            return await self._set_webhook(call)
        if endpoint in ("send_message", "broadcast_message") and self._over(endpoint):
            self.too_many += 1
            return _status(12)
        if endpoint == "broadcast_message":
            return self._broadcast(call)
        if endpoint == "send_message":
            if self._statuses:
                return _status(self._statuses.pop(0))
            if call.receiver in self.unsubscribed:
                return _status(6)
            for key in ("sender", "receiver", "type"):
                if key not in call.body:
                    return _status(3)
            if call.type in ("picture", "file"):
                await self._fetch(call)
            self.delivered.append((str(call.receiver), call))
            return web.json_response(
                {"status": 0, "status_message": "ok", "message_token": next(_tokens)}
            )
        return _status(0)

    def _over(self, endpoint: str) -> bool:
        """Whether this call is over the endpoint's rate (counted when it is not)."""
        if not self.limits:
            return False
        now = self.clock()
        window = self._windows.setdefault(endpoint, deque())
        while window and window[0] <= now - WINDOW_SECONDS:
            window.popleft()
        if len(window) >= self.calls_per_window:
            return True
        window.append(now)
        return False

    def _broadcast(self, call: Call) -> web.Response:
        receivers = call.receivers
        if not receivers or len(receivers) > BROADCAST_LIMIT or "type" not in call.body:
            return _status(3)
        failed = []
        for receiver in receivers:
            status = 6 if receiver in self.unsubscribed else self.failing.get(receiver)
            if status:
                failed.append(
                    {"receiver": receiver, "status": status, "status_message": ERRORS.get(status)}
                )
            else:
                self.delivered.append((receiver, call))
        return web.json_response(
            {
                "status": 0,
                "status_message": "ok",
                "message_token": next(_tokens),
                "failed_list": failed,
            }
        )

    async def _set_webhook(self, call: Call) -> web.Response:
        # Viber checks the URL with a signed "webhook" callback and wants a 200.
        body = json.dumps(
            {"event": "webhook", "timestamp": int(time.time() * 1000), "message_token": 1}
        ).encode()
        assert self._session is not None
        try:
            async with self._session.post(
                call.body["url"],
                data=body,
                headers={"X-Viber-Content-Signature": signature(self.token, body)},
            ) as response:
                self.webhook_checks.append(response.status)
                ok = response.status == 200
        except aiohttp.ClientError:
            self.webhook_checks.append(0)
            ok = False
        return _status(0 if ok else 1)

    async def _fetch(self, call: Call) -> None:
        assert self._session is not None
        async with self._session.get(call.body["media"]) as response:
            if response.status == 200:
                call.fetched = await response.read()
                call.fetched_type = response.content_type

    async def _picture(self, request: web.Request) -> web.Response:
        content = self.pictures.get(request.match_info["name"])
        if content is None:
            raise web.HTTPNotFound()
        return web.Response(body=content, content_type="image/jpeg")


def _status(status: int) -> web.Response:
    return web.json_response({"status": status, "status_message": ERRORS.get(status, "ok")})


# ---- callback builders ----------------------------------------------------------------

_tokens = itertools.count(5_000_000_000_000_000_000)


def next_token() -> int:
    return next(_tokens)


def user_json(user_id: str, language: str = "uk", name: str = "Іван") -> dict[str, Any]:
    return {
        "id": user_id,
        "name": name,
        "avatar": "http://avatar.example/a.jpg",
        "language": language,
        "country": "UA",
        "api_version": 10,
    }


def message_event(
    user_id: str,
    message: dict[str, Any],
    *,
    token: int | None = None,
    language: str = "uk",
) -> dict[str, Any]:
    return {
        "event": "message",
        "timestamp": int(time.time() * 1000),
        "chat_hostname": "SN-CHAT-01_",
        "message_token": token or next_token(),
        "sender": user_json(user_id, language),
        "message": message,
        "silent": False,
    }


def conversation_started(
    user_id: str, *, context: str | None = None, language: str = "uk"
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": "conversation_started",
        "timestamp": int(time.time() * 1000),
        "chat_hostname": "SN-CHAT-01_",
        "message_token": next_token(),
        "type": "open",
        "user": user_json(user_id, language),
        "subscribed": False,
    }
    if context is not None:
        event["context"] = context
    return event


def simple_event(event: str, user_id: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": event,
        "timestamp": int(time.time() * 1000),
        "chat_hostname": "SN-CHAT-01_",
        "message_token": next_token(),
        **extra,
    }
    if event == "subscribed":
        body["user"] = user_json(user_id)
    else:
        body["user_id"] = user_id
    return body


def encode(body: dict[str, Any]) -> bytes:
    """The raw body as Viber sends it (compact JSON, UTF-8)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def wait_for(predicate: Any, seconds: float = 5.0) -> None:
    """Poll until predicate() is true (background work such as set_webhook)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


# ---- the harness: the real app and channel against the fake --------------------------


def free_port() -> int:
    """A TCP port nobody listens on now (so PUBLIC_BASE_URL is known before start)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StubPayments:
    """A payment provider that makes a page URL at once (no HTTP): enough for the link."""

    name = "stub"

    async def payment_url(self, order: Any, description: str) -> str:
        return f"https://pay.example/checkout/{order.order_id}"


@dataclass
class ViberHarness:
    """The running bot with Viber on: post signed callbacks, read what it sent."""

    fake: FakeViber
    client: Any
    app: Any
    channel: Any
    events: list[Any]
    sleeps: list[float]

    async def post(
        self, body: dict[str, Any] | bytes, *, signed: bool = True, sig: str | None = None
    ) -> Any:
        raw = body if isinstance(body, bytes) else encode(body)
        headers = {"Content-Type": "application/json"}
        if sig is not None:
            headers["X-Viber-Content-Signature"] = sig
        elif signed:
            headers["X-Viber-Content-Signature"] = signature(self.fake.token, raw)
        response = await self.client.post("/webhook/viber", data=raw, headers=headers)
        await response.read()
        return response

    def user(self, language: str = "uk") -> ViberUser:
        return ViberUser(self, f"vb{next(_users)}==", language)


_users = itertools.count(1_000_001)


@dataclass
class ViberUser:
    """One Viber subscriber: writes, presses keyboard buttons, sees the bot's messages."""

    harness: ViberHarness
    user_id: str
    language: str = "uk"
    last: list[Call] = field(default_factory=list)
    buttons: list[dict[str, Any]] = field(default_factory=list)
    tracking: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(call.text for call in self.last if call.text)

    def labels(self) -> list[str]:
        import html

        return [html.unescape(button["Text"]) for button in self.buttons]

    def standing(self) -> list[str]:
        """What stays in view: Viber shows the last message's keyboard, top actions included."""
        return self.labels()

    async def tap(self, label: str) -> str:
        """Press a key of the keyboard in view."""
        return await self.press(label)

    def can_share_phone(self) -> bool:
        """The keyboard shows a share-phone button."""
        return any(button["ActionType"] == "share-phone" for button in self.buttons)

    def files(self, kind: str) -> list[bytes]:
        """Bytes the fake fetched for picture ("picture") or file ("file") messages."""
        return [c.fetched for c in self.last if c.type == kind and c.fetched is not None]

    async def post(self, body: dict[str, Any]) -> str:
        fake = self.harness.fake
        before = len(fake.sent_to(self.user_id))
        response = await self.harness.post(body)
        assert response.status == 200
        self.last = fake.sent_to(self.user_id)[before:]
        for call in self.last:
            self.tracking = call.body.get("tracking_data")
        if self.last:
            self.buttons = self.last[-1].buttons
        return self.text

    async def say(self, text: str) -> str:
        message: dict[str, Any] = {"type": "text", "text": text}
        if self.tracking:
            message["tracking_data"] = self.tracking
        return await self.post(message_event(self.user_id, message, language=self.language))

    async def press(self, label: str) -> str:
        """Press the reply button whose label contains `label`: it sends its ActionBody."""
        for button, shown in zip(self.buttons, self.labels(), strict=True):
            if label in shown and button["ActionType"] == "reply":
                return await self.say(button["ActionBody"])
        raise AssertionError(f"no button {label!r} in {self.labels()}")

    async def share_phone(self, phone: str) -> str:
        message: dict[str, Any] = {
            "type": "contact",
            "contact": {"name": "Іван", "phone_number": phone},
        }
        if self.tracking:
            message["tracking_data"] = self.tracking
        return await self.post(message_event(self.user_id, message, language=self.language))

    async def send(self, message: dict[str, Any], token: int | None = None) -> str:
        return await self.post(
            message_event(self.user_id, message, token=token, language=self.language)
        )

    async def send_picture(self, content: bytes) -> str:
        url = self.harness.fake.add_picture(
            f"{self.user_id.strip('=')}-{next_token()}.jpg", content
        )
        return await self.send({"type": "picture", "media": url, "text": "", "size": len(content)})


async def make_viber_harness(
    database_url: str,
    *,
    now: Any,
    started: list[Any],
    wrap: Any = None,
    public: bool = True,
    **settings: Any,
) -> ViberHarness:
    """Start the app with Viber on, on a free port, against a new fake Viber."""
    from aiohttp.test_utils import TestClient

    from app.compose import build_app, make_media_store
    from app.server import build_web_app
    from app.settings import load_settings
    from core.clock import FrozenClock

    fake = FakeViber()
    api_base = await fake.start()
    port = free_port()
    values: dict[str, Any] = {
        "database_url": database_url,
        "viber_auth_token": TOKEN,
        "viber_api_base": api_base,
        "viber_bot_name": "Kabinet Test",
        "public_base_url": f"http://127.0.0.1:{port}" if public else None,
        "media_secret": "media-secret-for-tests",
        "kabinet_now": None,
        "telegram_bot_token": None,
        "messenger_page_token": None,
    }
    values.update(settings)
    app_settings = load_settings(**values)
    app = await build_app(app_settings, clock=FrozenClock(now), payments=StubPayments())
    events: list[Any] = []
    sleeps: list[float] = []

    async def recording(event: Any) -> Any:
        events.append(event)
        return await app.handle(event)

    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)

    # Files in the database, as `kabinet serve` keeps them (MEDIA_SECRET from the settings).
    media = make_media_store(app)
    channel = viber_channel(
        app_settings,
        handle=wrap(recording) if wrap else recording,
        mark_unreachable=app.mark_unreachable,
        catalogues=app.catalogues,
        media=media,
        metrics=app.metrics,
        sleep=no_wait,
    )
    client = TestClient(TestServer(build_web_app(app, [channel]), host="127.0.0.1", port=port))
    await client.start_server()
    harness = ViberHarness(fake, client, app, channel, events, sleeps)
    started.append(harness)
    return harness


async def close_harnesses(started: list[Any]) -> None:
    for harness in started:
        await harness.client.close()
        await harness.app.close()
        await harness.fake.close()


async def table_counts(engine: Any) -> dict[str, int]:
    """Rows in every table: a forged callback must leave all of them as they were."""
    from sqlalchemy import func, select

    from storage.orm import Base

    counts: dict[str, int] = {}
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = int(
                await connection.scalar(select(func.count()).select_from(table)) or 0
            )
    return counts
