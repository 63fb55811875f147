"""A local fake Graph API (Send API and Messenger Profile API) and signed webhook builders.

It speaks the Graph API's shape: `POST /v25.0/me/messages` and `/v25.0/me/messenger_profile`
with JSON and a page token, answers `{recipient_id, message_id}` or HTTP 400 with
`{"error": {message, type, code, error_subcode, fbtrace_id}}`. Like Meta it fetches the URL
of every image or file attachment it is asked to send. Images a "person" sends are served
at `/cdn/<name>` (the attachment URLs of webhook events). Errors can be queued (outside the
window 10/2018278, 551, rate limits 4/613) or set for a recipient.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from app.compose import messenger_channel
from tests.channels.fake_viber import StubPayments, free_port

PAGE_TOKEN = "EAAG-page-token-for-tests"
APP_SECRET = "app-secret-for-tests"
VERIFY_TOKEN = "verify-me-please"
PAGE_ID = "1234567890"
VERSION = "v25.0"

ERRORS = {
    (10, 2018278): "(#10) This message is sent outside of allowed window.",
    (551, 1545041): "This person isn't available right now.",
    (4, None): "(#4) Application request limit reached",
    (613, None): "(#613) Calls to this api have exceeded the rate limit.",
    (100, None): "(#100) Invalid parameter",
    (190, None): "Invalid OAuth access token.",
}


@dataclass
class Call:
    """One Graph API call, and the attachment it fetched."""

    path: str
    body: dict[str, Any]
    auth: str | None
    fetched: bytes | None = None
    fetched_type: str | None = None

    @property
    def recipient(self) -> str | None:
        return (self.body.get("recipient") or {}).get("id")

    @property
    def message(self) -> dict[str, Any]:
        return self.body.get("message") or {}

    @property
    def attachment(self) -> dict[str, Any]:
        return self.message.get("attachment") or {}

    @property
    def text(self) -> str:
        if "text" in self.message:
            return str(self.message["text"])
        payload = self.attachment.get("payload") or {}
        return str(payload.get("text") or "")


@dataclass
class FakeGraph:
    """The fake server; `await start()` returns the base for MESSENGER_API_BASE."""

    token: str = PAGE_TOKEN
    calls: list[Call] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    blocked: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    locales: dict[str, str] = field(default_factory=dict)  # PSID → locale (default uk_UA)
    profiles_refused: bool = False
    _errors: list[tuple[int, int | None]] = field(default_factory=list)
    _server: TestServer | None = None
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post(f"/{VERSION}/{{path:.*}}", self._api)
        app.router.add_get("/cdn/{name}", self._image)
        app.router.add_get(f"/{VERSION}/{{psid}}", self._profile)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self._session = aiohttp.ClientSession()
        return f"{self.base}/{VERSION}"

    @property
    def base(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._server is not None:
            await self._server.close()

    def fail(self, code: int, subcode: int | None = None, times: int = 1) -> None:
        """Answer the next `times` message sends with this Graph error."""
        self._errors.extend([(code, subcode)] * times)

    def add_image(self, name: str, content: bytes) -> str:
        self.images[name] = content
        return f"{self.base}/cdn/{name}?sig=secret-cdn-signature"

    def sent_to(self, psid: str) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.path == "me/messages" and c.recipient == psid and "message" in c.body
        ]

    def actions_to(self, psid: str) -> list[str]:
        return [
            c.body["sender_action"]
            for c in self.calls
            if c.recipient == psid and "sender_action" in c.body
        ]

    def calls_of(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    async def _api(self, request: web.Request) -> web.Response:
        call = Call(
            request.match_info["path"], await request.json(), request.headers.get("Authorization")
        )
        self.calls.append(call)
        if call.auth != f"Bearer {self.token}":
            return _error(190, None)
        if call.path == "me/messenger_profile":
            return web.json_response({"result": "success"})
        if call.path != "me/messages":
            return _error(100, None)
        if "message" in call.body:
            if self._errors:
                return _error(*self._errors.pop(0))
            if call.recipient in self.blocked:
                return _error(*self.blocked[call.recipient])
            payload = call.attachment.get("payload") or {}
            if call.attachment.get("type") in ("image", "file") and payload.get("url"):
                assert self._session is not None
                async with self._session.get(payload["url"]) as response:
                    if response.status != 200:
                        return _error(100, None)
                    call.fetched = await response.read()
                    call.fetched_type = response.content_type
        return web.json_response({"recipient_id": call.recipient, "message_id": f"m_{next(_ids)}"})

    async def _profile(self, request: web.Request) -> web.Response:
        psid = request.match_info["psid"]
        call = Call(f"GET {psid}", dict(request.query), request.headers.get("Authorization"))
        self.calls.append(call)
        if call.auth != f"Bearer {self.token}":
            return _error(190, None)
        if self.profiles_refused:
            return _error(10, None)
        return web.json_response(
            {"id": psid, "first_name": "Іван", "locale": self.locales.get(psid, "uk_UA")}
        )

    async def _image(self, request: web.Request) -> web.Response:
        content = self.images.get(request.match_info["name"])
        if content is None:
            raise web.HTTPNotFound()
        return web.Response(body=content, content_type="image/jpeg")


def _error(code: int, subcode: int | None) -> web.Response:
    error: dict[str, Any] = {
        "message": ERRORS.get((code, subcode), "error"),
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return web.json_response({"error": error}, status=400)


# ---- webhook builders ------------------------------------------------------------------

_ids = itertools.count(1)


def mid() -> str:
    return f"m_{next(_ids)}-mid"


def page_event(*messagings: dict[str, Any], entries: int = 1) -> dict[str, Any]:
    """A page webhook body; messaging events spread over `entries` entries."""
    now = int(time.time() * 1000)
    groups: list[list[dict[str, Any]]] = [[] for _ in range(entries)]
    for index, messaging in enumerate(messagings):
        groups[index % entries].append(messaging)
    return {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": now, "messaging": group} for group in groups],
    }


def messaging(psid: str, **content: Any) -> dict[str, Any]:
    return {
        "sender": {"id": psid},
        "recipient": {"id": PAGE_ID},
        "timestamp": int(time.time() * 1000),
        **content,
    }


def text_message(
    psid: str, text: str, *, quick: str | None = None, message_id: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": message_id or mid(), "text": text}
    if quick is not None:
        message["quick_reply"] = {"payload": quick}
    return messaging(psid, message=message)


def encode(body: dict[str, Any]) -> bytes:
    """The raw body as Meta sends it (escaped unicode)."""
    return json.dumps(body).encode()


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ---- the harness ------------------------------------------------------------------------


@dataclass
class MessengerHarness:
    """The running bot with Messenger on."""

    fake: FakeGraph
    client: TestClient
    app: Any
    channel: Any
    events: list[Any]
    sleeps: list[float]
    clock: Any

    async def post(self, body: dict[str, Any] | bytes, *, signature: str | None = "auto") -> Any:
        raw = body if isinstance(body, bytes) else encode(body)
        headers = {"Content-Type": "application/json"}
        if signature == "auto":
            headers["X-Hub-Signature-256"] = sign(raw)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        response = await self.client.post("/webhook/messenger", data=raw, headers=headers)
        await response.read()
        return response

    def user(self) -> MessengerUser:
        return MessengerUser(self, str(next(_psids)))


_psids = itertools.count(24_000_000_000_001)


@dataclass
class MessengerUser:
    """One person in Messenger: writes, taps quick replies and buttons, sees messages."""

    harness: MessengerHarness
    psid: str
    last: list[Call] = field(default_factory=list)
    buttons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def user_id(self) -> str:
        return self.psid

    @property
    def text(self) -> str:
        return "\n".join(call.text for call in self.last if call.text)

    def labels(self) -> list[str]:
        return [b["title"] for b in self.buttons if "title" in b]

    def can_share_phone(self) -> bool:
        return any(b.get("content_type") == "user_phone_number" for b in self.buttons)

    def files(self, kind: str) -> list[bytes]:
        kind = {"picture": "image"}.get(kind, kind)
        return [
            c.fetched
            for c in self.last
            if c.attachment.get("type") == kind and c.fetched is not None
        ]

    async def post(self, body: dict[str, Any]) -> str:
        fake = self.harness.fake
        before = len(fake.sent_to(self.psid))
        response = await self.harness.post(body)
        assert response.status == 200
        self.last = fake.sent_to(self.psid)[before:]
        found: list[dict[str, Any]] = []
        for call in self.last:
            payload = call.attachment.get("payload") or {}
            found.extend(payload.get("buttons") or [])
        if self.last:
            found.extend(self.last[-1].message.get("quick_replies") or [])
        if found or self.last:
            self.buttons = found
        return self.text

    async def say(self, text: str) -> str:
        return await self.post(page_event(text_message(self.psid, text)))

    def _find(self, label: str) -> dict[str, Any] | None:
        # A long label is shown in full in the text as "N. label"; its button starts "N.".
        for line in self.text.splitlines():
            number, dot, full = line.partition(". ")
            if dot and number.isdigit() and label in full:
                for button in self.buttons:
                    if button.get("title", "").startswith(f"{number}. "):
                        return button
        for button in self.buttons:
            title = button.get("title", "")
            if label in title or (title.endswith("…") and label.startswith(title[:-1])):
                return button
        return None

    async def press(self, label: str) -> str:
        """Tap the quick reply or template button with that label (paging through "more")."""
        for _ in range(5):
            button = self._find(label)
            if button is not None:
                return await self.tap_button(button)
            more = next((b for b in self.buttons if b.get("payload") == "~more"), None)
            if more is None:
                break
            await self.tap_button(more)
        raise AssertionError(f"no button {label!r} in {self.labels()}")

    async def tap_button(self, button: dict[str, Any]) -> str:
        """Tap a quick reply, a template button or a persistent-menu item as shown."""
        if button.get("type") == "postback":
            event = messaging(
                self.psid,
                postback={"mid": mid(), "title": button["title"], "payload": button["payload"]},
            )
            return await self.post(page_event(event))
        if button.get("type") == "web_url":
            raise AssertionError("a URL button opens a browser")
        return await self.post(
            page_event(text_message(self.psid, button["title"], quick=str(button["payload"])))
        )

    def standing(self) -> list[str]:
        """The persistent menu's titles (always a tap away in Messenger)."""
        calls = self.harness.fake.calls_of("me/messenger_profile")
        return [i["title"] for i in calls[0].body["persistent_menu"][0]["call_to_actions"]]

    async def tap(self, label: str) -> str:
        """Tap an item of the persistent menu."""
        return await self.menu(label)

    async def menu(self, label: str) -> str:
        """Tap an item of the persistent menu (set at start-up) whose title contains `label`."""
        (profile, *_) = self.harness.fake.calls_of("me/messenger_profile")
        items = profile.body["persistent_menu"][0]["call_to_actions"]
        item = next((i for i in items if label in i["title"]), None)
        assert item is not None, (label, [i["title"] for i in items])
        return await self.tap_button(item)

    async def share_phone(self, phone: str) -> str:
        assert self.can_share_phone(), self.buttons
        return await self.post(page_event(text_message(self.psid, phone, quick=phone)))

    async def send_picture(self, content: bytes) -> str:
        url = self.harness.fake.add_image(f"{self.psid}-{next(_ids)}.jpg", content)
        message = {"mid": mid(), "attachments": [{"type": "image", "payload": {"url": url}}]}
        return await self.post(page_event(messaging(self.psid, message=message)))


class MovableClock:
    """A clock tests can move (the 24-hour window)."""

    def __init__(self, now: Any) -> None:
        self.at = now

    def now(self) -> Any:
        return self.at


async def make_messenger_harness(
    database_url: str,
    *,
    now: Any,
    started: list[Any],
    typing_after: float = 5.0,
    wrap: Any = None,
    **settings: Any,
) -> MessengerHarness:
    """Start the app with Messenger on, on a free port, against a new fake Graph API."""
    from app.compose import build_app, make_media_store
    from app.server import build_web_app
    from app.settings import load_settings

    fake = FakeGraph()
    api_base = await fake.start()
    port = free_port()
    values: dict[str, Any] = {
        "database_url": database_url,
        "messenger_page_token": PAGE_TOKEN,
        "messenger_app_secret": APP_SECRET,
        "messenger_verify_token": VERIFY_TOKEN,
        "messenger_api_base": api_base,
        "public_base_url": f"http://127.0.0.1:{port}",
        "media_secret": "media-secret-for-tests",
        "kabinet_now": None,
        "telegram_bot_token": None,
        "viber_auth_token": None,
    }
    values.update(settings)
    app_settings = load_settings(**values)
    clock = MovableClock(now)
    app = await build_app(app_settings, clock=clock, payments=StubPayments())  # type: ignore[arg-type]
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
    channel = messenger_channel(
        app_settings,
        handle=wrap(recording) if wrap else recording,
        mark_unreachable=app.mark_unreachable,
        catalogues=app.catalogues,
        media=media,
        clock=clock,  # type: ignore[arg-type]
        memories=app.memories,
        metrics=app.metrics,
        sleep=no_wait,
        typing_after=typing_after,
    )
    client = TestClient(TestServer(build_web_app(app, [channel]), host="127.0.0.1", port=port))
    await client.start_server()
    harness = MessengerHarness(fake, client, app, channel, events, sleeps, clock)
    started.append(harness)
    return harness
