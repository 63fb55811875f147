"""The Facebook Messenger channel: Graph API webhooks in, the dialog, the Send API out.

`GET /webhook/messenger` answers Meta's verification challenge; `POST` checks
X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret, constant time) before
parsing, then handles every messaging event of every entry, in order. Message ids
de-duplicate redeliveries (the dialog keeps them).

Rendering: choices become quick replies (≤ 13, titles ≤ 20 characters, shortened, payload
kept; more are paged behind a "more" reply) or, for up to three choices, a button template
whose buttons stay in the chat; link buttons are template URL buttons; images and PDFs are
attachments by URL from the media route. Replies in a turn are RESPONSE messages; pushes
follow the 24-hour rule (see `send`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.base import (
    BackgroundWork,
    ChannelAdapter,
    DeliveryResult,
    DeliveryStatus,
    Handle,
    Push,
    Remembered,
    Typing,
    counter,
    split_text,
)
from bot.channels.media import MediaStore
from bot.i18n import SUPPORTED_LOCALES, Catalogues, Translator, pick_locale
from bot.menu import MAIN_MENU
from bot.messages import Button, Incoming, Reply
from core.channels import policy_of
from core.clock import Clock
from core.model import Channel
from core.privacy import mask
from observability.metrics import Metrics

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook/messenger"
SIGNATURE_HEADER = "X-Hub-Signature-256"

TEXT_LIMIT = 2000
TEMPLATE_TEXT_LIMIT = 640
QUICK_REPLIES_LIMIT = 13
TITLE_LIMIT = 20  # quick replies and template buttons
MENU_TITLE_LIMIT = 30  # persistent menu items
MENU_ITEMS_LIMIT = 20
TEMPLATE_BUTTONS_LIMIT = 3
PHOTO_LIMIT_BYTES = 10 * 1024 * 1024
MORE_PAYLOAD = "~more"  # the adapter's own "next page of choices" reply
GET_STARTED_PAYLOAD = "start"
# Messenger locales that get the English persistent menu; "default" is Ukrainian.
ENGLISH_LOCALES = ("en_US", "en_GB")

# Graph API error codes (PLATFORMS.md; 4/613 unconfirmed on the official page).
OUTSIDE_WINDOW = (10, 2018278)
PERSON_UNAVAILABLE = 551
RATE_LIMITS = (4, 613, 32)
BAD_TOKEN = 190

WEBHOOK_ANSWER_BUDGET = 15.0
TYPING_AFTER = 1.0
TYPING_EVERY = 15.0  # Messenger shows typing_on for about 20 s
MAX_ATTEMPTS = 3
BACKOFF = (1.0, 2.0, 4.0)
PROFILE_DELAYS = (0.0, 2.0, 10.0)
REMEMBERED_USERS = 50_000
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)
_PHONE = re.compile(r"^\+?\d{9,15}$")

MarkUnreachable = Callable[[Channel, str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[Any]]


def signature_valid(app_secret: str, body: bytes, header: str) -> bool:
    """Constant-time check of `X-Hub-Signature-256: sha256=<hex>` over the raw body."""
    if not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header[len("sha256=") :].strip().encode())


def shorten(label: str, limit: int = TITLE_LIMIT) -> str:
    """A title within `limit` characters: whole words and "…" when it must be cut."""
    label = label.strip()
    if len(label) <= limit:
        return label
    cut = label[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-—–(") + "…"


def phone_like(value: str) -> str | None:
    """The value as a phone number when it looks like one, else None."""
    compact = re.sub(r"[\s()\-]", "", value or "")
    return compact if _PHONE.match(compact) else None


# ---- inbound ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    """One messaging event translated: the event, an image to download, or "next page"."""

    event: Incoming
    image_url: str | None = None
    more: bool = False


def from_messaging(
    messaging: dict[str, Any], phone_offered: bool
) -> tuple[Inbound | None, str | None]:
    """Translate one messaging event; (None, kind) for events that are not input."""
    sender = str((messaging.get("sender") or {}).get("id") or "")
    if not sender:
        return None, "no_sender"
    timestamp = messaging.get("timestamp")
    base: dict[str, Any] = {"channel": Channel.MESSENGER, "user_id": sender}
    message = messaging.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None, "echo"
        base["update_key"] = message.get("mid") or f"m:{sender}:{timestamp}"
        text = message.get("text")
        quick = (message.get("quick_reply") or {}).get("payload")
        if quick is not None:
            quick = str(quick)
            if quick == MORE_PAYLOAD:
                return Inbound(Incoming(**base, text=text), more=True), None
            phone = phone_like(quick)
            if phone is not None:
                # The user_phone_number quick reply: the number from their profile.
                return Inbound(Incoming(**base, contact_phone=phone, contact_is_own=True)), None
            if phone_offered and text and phone_like(text):
                log.warning(
                    "messenger: a phone quick reply carried no phone in its payload; "
                    "the platform's shape differs from what we expect"
                )
            return Inbound(Incoming(**base, text=text, payload=quick)), None
        attachments = message.get("attachments") or []
        if text is not None:
            return Inbound(Incoming(**base, text=text)), None
        for attachment in attachments:
            kind = str(attachment.get("type") or "unknown")
            payload = attachment.get("payload") or {}
            if kind == "image" and not payload.get("sticker_id") and payload.get("url"):
                return Inbound(Incoming(**base), image_url=str(payload["url"])), None
            if kind == "image" or payload.get("sticker_id"):
                return Inbound(Incoming(**base, unsupported="sticker")), None
            return Inbound(Incoming(**base, unsupported=kind)), None
        return Inbound(Incoming(**base, unsupported="empty")), None
    postback = messaging.get("postback")
    if isinstance(postback, dict):
        base["update_key"] = postback.get("mid") or f"p:{sender}:{timestamp}"
        payload = str(postback.get("payload") or "")
        ref = str((postback.get("referral") or {}).get("ref") or "")
        if payload == GET_STARTED_PAYLOAD and ref.isdigit():
            payload = f"start:{ref}"  # m.me/<page>?ref=<one-time code>
        return Inbound(Incoming(**base, text=postback.get("title"), payload=payload)), None
    referral = messaging.get("referral")
    if isinstance(referral, dict):
        # Someone who already talked to us opened an m.me link with a ref.
        ref = str(referral.get("ref") or "")
        base["update_key"] = f"r:{sender}:{timestamp}"
        payload = f"start:{ref}" if ref.isdigit() else "start"
        return Inbound(Incoming(**base, payload=payload)), None
    for kind in ("delivery", "read", "reaction", "optin", "account_linking"):
        if kind in messaging:
            return None, kind
    return None, "unknown"


# ---- outbound ----------------------------------------------------------------------------


def quick_replies(choices: list[Button], phone: Button | None) -> list[dict[str, Any]]:
    """Quick replies for one page (the caller keeps it within the limit)."""
    replies: list[dict[str, Any]] = []
    if phone is not None:
        replies.append({"content_type": "user_phone_number"})
    for button in choices:
        replies.append(
            {"content_type": "text", "title": shorten(button.label), "payload": button.payload}
        )
    return replies


def pages_of(choices: list[Button], first_room: int) -> list[list[Button]]:
    """Choices cut into pages; every page but the last leaves room for "more"."""
    pages: list[list[Button]] = []
    rest = list(choices)
    room = first_room
    while len(rest) > room:
        pages.append(rest[: room - 1])
        rest = rest[room - 1 :]
        room = QUICK_REPLIES_LIMIT
    pages.append(rest)
    return pages


def numbered(buttons: list[Button]) -> tuple[list[Button], list[str]]:
    """Buttons whose labels are too long get a number; the legend gives their full label.

    A cut title can lose what tells choices apart ("✅ Планові відключен…"), so the
    message lists such choices in full and the button shows the number first.
    """
    legend: list[str] = []
    result: list[Button] = []
    for button in buttons:
        if len(button.label) > TITLE_LIMIT and not button.request_phone:
            legend.append(f"{len(legend) + 1}. {button.label}")
            button = replace(button, label=f"{len(legend)}. {button.label}")
        result.append(button)
    return result, legend


def _template_button(button: Button) -> dict[str, Any]:
    if button.url:
        return {"type": "web_url", "url": button.url, "title": shorten(button.label)}
    return {"type": "postback", "title": shorten(button.label), "payload": button.payload}


@dataclass
class Rendered:
    """The Send API `message` objects of one reply, and choices left for "more"."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    more: list[list[Button]] = field(default_factory=list)


def render(reply: Reply, media: MediaStore, t: Translator) -> Rendered:
    """The messages that show `reply` in Messenger."""
    rendered = Rendered()
    buttons, legend = numbered(reply.all_buttons())
    links = [b for b in buttons if b.url]
    choices = [b for b in buttons if b.payload and not b.url and not b.request_phone]
    phone = next((b for b in buttons if b.request_phone), None)
    for button in buttons:
        if not (button.url or button.payload or button.request_phone):
            log.warning("messenger: button %r has neither payload nor link: left out", button.label)
    text = "\n\n".join(part for part in (reply.text.strip(), "\n".join(legend)) if part)
    # Up to three choices (with the links) stay in the chat as template buttons; more, or
    # a phone request, become quick replies.
    template_choices = (
        phone is None and bool(choices) and len(links) + len(choices) <= TEMPLATE_BUTTONS_LIMIT
    )
    messages = rendered.messages
    attachments = [
        ("image", reply.image),
        ("file", reply.document),
    ]
    template_buttons: list[Button] = []
    if links or template_choices:
        template_buttons = links + (choices if template_choices else [])
    pieces = split_text(text, TEXT_LIMIT) if text else []
    template_text = ""
    if template_buttons:
        # The last piece of text carries the buttons when it fits a template.
        if pieces and len(pieces[-1]) <= TEMPLATE_TEXT_LIMIT and not any(a for _, a in attachments):
            template_text = pieces.pop()
        else:
            template_text = t("messenger.choose")
    messages.extend({"text": piece} for piece in pieces)
    for kind, attachment in attachments:
        if attachment is not None:
            url = media.url_for(attachment)
            messages.append(
                {"attachment": {"type": kind, "payload": {"url": url, "is_reusable": False}}}
            )
    for start in range(0, len(template_buttons), TEMPLATE_BUTTONS_LIMIT):
        group = template_buttons[start : start + TEMPLATE_BUTTONS_LIMIT]
        messages.append(
            {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "button",
                        "text": template_text if start == 0 else t("messenger.more_links"),
                        "buttons": [_template_button(b) for b in group],
                    },
                }
            }
        )
    if not template_choices and (choices or phone is not None):
        first_room = QUICK_REPLIES_LIMIT - (1 if phone is not None else 0)
        pages = pages_of(choices, first_room)
        page = quick_replies(pages[0], phone)
        if len(pages) > 1:
            page.append(
                {"content_type": "text", "title": t("messenger.more"), "payload": MORE_PAYLOAD}
            )
            rendered.more = pages[1:]
        if not messages:
            messages.append({"text": t("messenger.choose")})
        messages[-1]["quick_replies"] = page
    if not messages:
        messages.append({"text": "…"})
    return rendered


def more_page(pages: list[list[Button]], t: Translator) -> Rendered:
    """The next page of quick replies after "more"."""
    rendered = Rendered()
    page = quick_replies(pages[0], None)
    if len(pages) > 1:
        page.append({"content_type": "text", "title": t("messenger.more"), "payload": MORE_PAYLOAD})
        rendered.more = pages[1:]
    rendered.messages.append({"text": t("messenger.more_text"), "quick_replies": page})
    return rendered


def persistent_menu(catalogues: Catalogues) -> list[dict[str, Any]]:
    """The main menu as the persistent menu: Ukrainian by default, English for en locales."""

    def items(t: Translator) -> list[dict[str, Any]]:
        return [
            {"type": "postback", "title": shorten(t(label), MENU_TITLE_LIMIT), "payload": payload}
            for label, payload in MAIN_MENU[:MENU_ITEMS_LIMIT]
        ]

    menus = [
        {
            "locale": "default",
            "composer_input_disabled": False,
            "call_to_actions": items(catalogues.translator("uk")),
        }
    ]
    if "en" in SUPPORTED_LOCALES:
        english = items(catalogues.translator("en"))
        menus.extend(
            {"locale": locale, "composer_input_disabled": False, "call_to_actions": english}
            for locale in ENGLISH_LOCALES
        )
    return menus


# ---- the channel -----------------------------------------------------------------------


@dataclass(frozen=True)
class GraphError(Exception):
    """A Graph API error: code, subcode, message."""

    status: int
    code: int | None
    subcode: int | None
    message: str

    def __str__(self) -> str:
        return f"HTTP {self.status} code {self.code}/{self.subcode}: {self.message}"


class MessengerChannel(ChannelAdapter):
    """Messenger through the Graph API: webhook routes, profile on start, the Send API."""

    channel = Channel.MESSENGER

    def __init__(
        self,
        page_token: str,
        app_secret: str,
        verify_token: str,
        *,
        handle: Handle,
        mark_unreachable: MarkUnreachable,
        catalogues: Catalogues,
        media: MediaStore,
        clock: Clock,
        metrics: Metrics | None = None,
        api_base: str = "https://graph.facebook.com/v25.0",
        sleep: Sleep = asyncio.sleep,
        typing_after: float = TYPING_AFTER,
        fetch_profiles: bool = True,
    ) -> None:
        self._page_token = page_token
        self._app_secret = app_secret
        self._verify_token = verify_token
        self._handle = handle
        self._mark_unreachable = mark_unreachable
        self._catalogues = catalogues
        self.media = media
        self._clock = clock
        self._metrics = metrics
        self._api_base = api_base.rstrip("/")
        self._sleep = sleep
        self._typing_after = typing_after
        self._fetch_profiles = fetch_profiles
        self._profiles: Remembered[str, Any] = Remembered(
            REMEMBERED_USERS
        )  # PSID → (locale, first name)
        self._profile_refused_logged = False
        self._session: aiohttp.ClientSession | None = None
        self._background = BackgroundWork()
        self._last_inbound: Remembered[str, Any] = Remembered(
            REMEMBERED_USERS
        )  # PSID → when they last wrote
        self._more: Remembered[str, Any] = Remembered(
            REMEMBERED_USERS
        )  # PSID → pages of choices behind "more"
        self._phone_offered: Remembered[str, Any] = Remembered(REMEMBERED_USERS)
        self._events = counter(
            metrics, "kabinet_messenger_events", "Messenger webhook events, by kind", ["kind"]
        )
        # The 24-hour window, from Messenger's row in core.channels.
        self._window = policy_of(self.channel).session or timedelta(hours=24)

    # ---- lifecycle ---------------------------------------------------------------------

    def register_routes(self, app: web.Application) -> None:
        """GET (verification) and POST (events) /webhook/messenger."""
        app.router.add_get(WEBHOOK_PATH, self._verify)
        app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def start(self) -> None:
        """Set the Get Started button and the persistent menu (Messenger Profile API)."""
        self._background.spawn(self._set_profile())

    async def stop(self) -> None:
        """Let turns in flight finish (bounded), close the HTTP session."""
        await self._background.drain(grace_seconds=10)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _set_profile(self) -> bool:
        body = {
            "get_started": {"payload": GET_STARTED_PAYLOAD},
            "persistent_menu": persistent_menu(self._catalogues),
        }
        for attempt, delay in enumerate(PROFILE_DELAYS, start=1):
            await self._sleep(delay)
            try:
                await self._graph("me/messenger_profile", body)
            except GraphError as error:
                log.warning("messenger: profile attempt %d failed: %s", attempt, error)
                if error.code == BAD_TOKEN:
                    break
                continue
            log.info("messenger: Get Started and the persistent menu are set")
            return True
        log.error("messenger: Get Started and the persistent menu are NOT set")
        return False

    # ---- HTTP ----------------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=HTTP_TIMEOUT)
        return self._session

    async def _graph(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One Graph API POST with network retries; raises GraphError on an error answer.

        The page token goes in the Authorization header, never in a URL that could be logged.
        """
        headers = {"Authorization": f"Bearer {self._page_token}"}
        for number in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self._client().post(
                    f"{self._api_base}/{path}", json=body, headers=headers
                ) as response:
                    data = await response.json(content_type=None)
                    if response.status == 200 and not (isinstance(data, dict) and "error" in data):
                        return data if isinstance(data, dict) else {}
                    error = (data or {}).get("error") or {} if isinstance(data, dict) else {}
                    raise GraphError(
                        response.status,
                        error.get("code"),
                        error.get("error_subcode"),
                        str(error.get("message") or "")[:200],
                    )
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                if number == MAX_ATTEMPTS:
                    raise GraphError(0, None, None, type(error).__name__) from None
                log.info("messenger: %s on %s, retrying", type(error).__name__, path)
                await self._sleep(BACKOFF[number - 1])
        raise AssertionError("unreachable")

    async def _profile(self, psid: str) -> tuple[str | None, str]:
        """The person's Messenger locale and first name, once per process (best effort).

        The User Profile API needs Meta's "Business Asset User Profile Access" for business
        apps; without it the call fails, which is logged once, and the dialog simply
        starts in Ukrainian with no name, as it would without the call.
        """
        known = self._profiles.get(psid)
        if known is not None:
            return known
        profile: tuple[str | None, str] = (None, "")
        if self._fetch_profiles:
            try:
                async with self._client().get(
                    f"{self._api_base}/{psid}",
                    params={"fields": "first_name,locale"},
                    headers={"Authorization": f"Bearer {self._page_token}"},
                    timeout=aiohttp.ClientTimeout(total=5),
                ) as response:
                    data = await response.json(content_type=None)
                if response.status == 200 and isinstance(data, dict) and "error" not in data:
                    locale = data.get("locale")
                    profile = (str(locale) if locale else None, str(data.get("first_name") or ""))
                elif not self._profile_refused_logged:
                    self._profile_refused_logged = True
                    error = data.get("error", {}) if isinstance(data, dict) else {}
                    log.warning(
                        "messenger: User Profile API refused (code %s): no names or locales",
                        error.get("code"),
                    )
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                log.info("messenger: profile not fetched: %s", type(error).__name__)
        self._profiles.remember(psid, profile)
        return profile

    def _translator(self, psid: str) -> Translator:
        """Texts of the adapter itself ("More ▶"), in the person's Messenger language."""
        locale, _ = self._profiles.get(psid) or (None, "")
        return self._catalogues.translator(pick_locale(locale))

    async def _download(self, url: str) -> bytes | None:
        """An image the person sent (from Meta's CDN); None when it cannot be had."""
        for number in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self._client().get(url) as response:
                    if response.status != 200:
                        log.warning("messenger: image download answered HTTP %s", response.status)
                        return None
                    if (response.content_length or 0) > PHOTO_LIMIT_BYTES:
                        return None
                    data = await response.content.read(PHOTO_LIMIT_BYTES + 1)
                    return data if len(data) <= PHOTO_LIMIT_BYTES else None
            except (aiohttp.ClientError, TimeoutError) as error:
                # CDN URLs are signed: only the error's kind is logged.
                log.info("messenger: image download %s (attempt %d)", type(error).__name__, number)
                if number < MAX_ATTEMPTS:
                    await self._sleep(BACKOFF[number - 1])
        return None

    # ---- inbound -------------------------------------------------------------------------

    async def _verify(self, request: web.Request) -> web.Response:
        """Meta's subscription check: echo hub.challenge when the verify token matches."""
        query = request.query
        given = query.get("hub.verify_token", "")
        if query.get("hub.mode") == "subscribe" and hmac.compare_digest(
            given.encode(), self._verify_token.encode()
        ):
            log.info("messenger: webhook verified")
            return web.Response(text=query.get("hub.challenge", ""))
        log.warning("messenger: webhook verification refused")
        return web.Response(status=403)

    async def _webhook(self, request: web.Request) -> web.Response:
        """Check the signature on the raw body, then handle every messaging event."""
        raw = await request.read()
        if not signature_valid(self._app_secret, raw, request.headers.get(SIGNATURE_HEADER, "")):
            log.warning("messenger webhook: wrong or missing signature, refused")
            return web.Response(status=403)
        try:
            data = json.loads(raw)
        except ValueError:
            log.warning("messenger webhook: body is not JSON")
            return web.Response(status=400)
        if not isinstance(data, dict) or data.get("object") != "page":
            log.info(
                "messenger webhook: object %r ignored",
                data.get("object") if isinstance(data, dict) else None,
            )
            return web.Response(text="EVENT_RECEIVED")
        events = [
            messaging
            for entry in data.get("entry") or []
            for messaging in (entry.get("messaging") or [])
            if isinstance(messaging, dict)
        ]
        task = self._background.spawn(self._handle_all(events))
        done, _ = await asyncio.wait({task}, timeout=WEBHOOK_ANSWER_BUDGET)
        if not done:
            log.warning(
                "messenger: events slower than %.0f s: answered, still running",
                WEBHOOK_ANSWER_BUDGET,
            )
        return web.Response(text="EVENT_RECEIVED")

    async def _handle_all(self, events: list[dict[str, Any]]) -> None:
        # One person's events in order (they must not overtake each other); different
        # people side by side, so one slow turn does not hold up the rest of a batch.
        by_sender: dict[str, list[dict[str, Any]]] = {}
        for messaging in events:
            sender = str((messaging.get("sender") or {}).get("id") or "")
            by_sender.setdefault(sender, []).append(messaging)
        await asyncio.gather(*(self._in_order(group) for group in by_sender.values()))

    async def _in_order(self, events: list[dict[str, Any]]) -> None:
        for messaging in events:
            try:
                await self._one(messaging)
            except Exception:  # a bug in translation or rendering must not drop the rest
                log.exception("messenger: an event failed")

    async def _one(self, messaging: dict[str, Any]) -> None:
        sender = str((messaging.get("sender") or {}).get("id") or "")
        inbound, kind = from_messaging(messaging, sender in self._phone_offered)
        if inbound is None:
            self._count(kind or "unknown")
            if kind in ("delivery", "read"):
                log.info("messenger: %s by %s", kind, mask(sender))
            elif kind != "echo":
                log.info("messenger: %s event ignored", kind)
            return
        self._count("input")
        self._last_inbound.remember(sender, self._clock.now())
        locale, name = await self._profile(sender)
        event = replace(inbound.event, locale=locale, profile_name=name)
        t = self._catalogues.translator(pick_locale(locale))
        if inbound.more:
            pages = self._more.pop(sender, None)
            if pages:
                await self._deliver_rendered(sender, [more_page(pages, t)], "RESPONSE")
                return
            # The pages were forgotten (a restart): show the menu instead.
            event = replace(event, payload="menu")
        typing = Typing(lambda: self._send_typing(sender), self._typing_after, TYPING_EVERY)
        try:
            if inbound.image_url is not None:
                photo = await self._download(inbound.image_url)
                if photo is None:
                    await self.deliver(sender, [Reply(t("error.apology"))])
                    return
                event = replace(event, photo=photo)
            try:
                replies = await self._handle(event)
            except Exception:  # the dialog apologises itself; this is the last safety net
                log.exception("messenger message %s: handling failed", event.update_key)
                replies = [Reply(t("error.apology"))]
        finally:
            typing.cancel()
        if not replies:
            return  # a redelivered message already answered
        result = await self.deliver(sender, replies)
        if result.status != DeliveryStatus.SENT:
            log.info(
                "messenger: reply to %s not delivered (%s): %s",
                mask(sender),
                result.status.value,
                result.detail,
            )

    def _count(self, kind: str) -> None:
        if self._events is not None:
            self._events.labels(kind).inc()

    def _send_typing(self, psid: str) -> None:
        async def send() -> None:
            try:
                await self._graph(
                    "me/messages", {"recipient": {"id": psid}, "sender_action": "typing_on"}
                )
            except GraphError as error:
                log.info("messenger: typing indicator not shown: %s", error)

        self._background.spawn(send())

    # ---- outbound ------------------------------------------------------------------------

    async def deliver(self, psid: str, replies: list[Reply]) -> DeliveryResult:
        """Send a turn's replies (messaging_type RESPONSE)."""
        t = self._translator(psid)
        rendered = [render(reply, self.media, t) for reply in replies]
        return await self._deliver_rendered(psid, rendered, "RESPONSE")

    async def send(self, user_id: str, push: Push) -> DeliveryResult:
        """Push replies outside a turn, within Messenger's 24-hour rule.

        Inside the window (the person wrote in the last 24 h, as far as this process saw)
        it is an UPDATE. Outside it, or when unknown, only a push whose topic has a
        message tag in Messenger's row of `core.channels` is sent (ACCOUNT_UPDATE for
        bills and payments); anything else is UNREACHABLE with the reason, so delivery can
        hand it to another channel.
        """
        last = self._last_inbound.get(user_id)
        inside = last is not None and self._clock.now() - last < self._window
        t = self._translator(user_id)
        rendered = [render(reply, self.media, t) for reply in push.replies]
        if inside:
            return await self._deliver_rendered(user_id, rendered, "UPDATE")
        topic = push.topic
        tag = push.tag(self.channel)
        if tag is None:
            why = "no message from them in 24 h" if last else "no message from them since start"
            detail = f"outside the 24-hour window ({why}) and topic {topic!r} has no tag"
            log.info("messenger: push to %s not sent: %s", mask(user_id), detail)
            self._count_outbound(DeliveryStatus.UNREACHABLE)
            return DeliveryResult(DeliveryStatus.UNREACHABLE, detail=detail)
        return await self._deliver_rendered(user_id, rendered, "MESSAGE_TAG", tag=tag)

    async def _deliver_rendered(
        self, psid: str, rendered: list[Rendered], messaging_type: str, *, tag: str | None = None
    ) -> DeliveryResult:
        result = DeliveryResult(DeliveryStatus.SENT)
        for part in rendered:
            for message in part.messages:
                body: dict[str, Any] = {
                    "recipient": {"id": psid},
                    "messaging_type": messaging_type,
                    "message": message,
                }
                if tag is not None:
                    body["tag"] = tag
                result = await self._send_one(body)
                if result.status != DeliveryStatus.SENT:
                    break
            if result.status != DeliveryStatus.SENT:
                break
            if part.more:
                self._more.remember(psid, part.more)
            if any(
                qr.get("content_type") == "user_phone_number"
                for message in part.messages
                for qr in message.get("quick_replies", [])
            ):
                self._phone_offered.remember(psid, True)
        self._count_outbound(result.status)
        if result.status == DeliveryStatus.UNREACHABLE and "551" in result.detail:
            await self._mark_unreachable(self.channel, psid)
        return result

    def _count_outbound(self, status: DeliveryStatus) -> None:
        if self._metrics is not None:
            self._metrics.outbound.labels(self.channel.value, status.value).inc()

    async def _send_one(self, body: dict[str, Any]) -> DeliveryResult:
        for number in range(1, MAX_ATTEMPTS + 1):
            try:
                await self._graph("me/messages", body)
                return DeliveryResult(DeliveryStatus.SENT)
            except GraphError as error:
                detail = str(error)
                if (error.code, error.subcode) == OUTSIDE_WINDOW:
                    return DeliveryResult(
                        DeliveryStatus.UNREACHABLE, detail=f"outside window: {detail}"
                    )
                if error.code == PERSON_UNAVAILABLE:
                    return DeliveryResult(
                        DeliveryStatus.UNREACHABLE, detail=f"551 unavailable: {detail}"
                    )
                if error.code in RATE_LIMITS:
                    if number < MAX_ATTEMPTS:
                        log.info("messenger: rate limited (%s), backing off", error.code)
                        await self._sleep(BACKOFF[number - 1])
                        continue
                    return DeliveryResult(DeliveryStatus.RETRY_LATER, 60.0, detail)
                if error.status == 0 or error.status >= 500 or error.code == 2:
                    return DeliveryResult(DeliveryStatus.RETRY_LATER, BACKOFF[-1], detail)
                log.warning("messenger: Send API refused: %s", detail)
                return DeliveryResult(DeliveryStatus.FAILED, detail=detail)
        raise AssertionError("unreachable")


__all__ = ["WEBHOOK_PATH", "MessengerChannel"]
