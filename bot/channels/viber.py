"""The Viber channel: a signed webhook in, the dialog, Viber REST calls out (aiohttp).

Callbacks are verified (X-Viber-Content-Signature, HMAC-SHA256 of the raw body with the
auth token, compared in constant time) before anything is parsed, then parsed with
viberbot's request classes. Replies are rendered with viberbot's message classes
(`to_dict()`) and sent with aiohttp: viberbot's own sender is synchronous `requests` and
would block the event loop.

A Viber reply button can only send text back, so a button sends its label, and the map
label → payload travels in the message's `tracking_data`, which Viber returns with the
person's next message: no per-user memory, nothing lost on a restart. Only one keyboard
is visible at a time, so the buttons of all replies of a turn form one keyboard on the
turn's last message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp import web
from viberbot.api.messages import (
    ContactMessage,
    FileMessage,
    PictureMessage,
    TextMessage,
    URLMessage,
)
from viberbot.api.messages.typed_message import TypedMessage
from viberbot.api.viber_requests import (
    ViberConversationStartedRequest,
    ViberDeliveredRequest,
    ViberFailedRequest,
    ViberMessageRequest,
    ViberSeenRequest,
    ViberSubscribedRequest,
    ViberUnsubscribedRequest,
    create_request,
)
from viberbot.api.viber_requests.viber_request import ViberRequest

from bot.channels.base import (
    BackgroundWork,
    ChannelAdapter,
    DeliveryResult,
    DeliveryStatus,
    Handle,
    MalformedInput,
    PhotoTooLarge,
    Push,
    Retries,
    counter,
    run_turn,
    split_text,
    verified_json,
)
from bot.channels.media import MediaStore
from bot.i18n import Catalogues, pick_locale
from bot.menu import main_menu
from bot.messages import Attachment, Button, Incoming, Reply
from core.model import Channel
from core.privacy import mask
from observability.metrics import Metrics

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook/viber"
SIGNATURE_HEADER = "X-Viber-Content-Signature"
AUTH_HEADER = "X-Viber-Auth-Token"
EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]

TEXT_LIMIT = 7000  # creators.viber.com message data model
# Picture captions: 120 characters in Viber's older docs, 512 in a partner's; the smaller
# is used, a longer text goes as its own message.
PICTURE_TEXT_LIMIT = 120
PICTURE_BYTES_LIMIT = 1024 * 1024  # larger images go as files
SENDER_NAME_LIMIT = 28
BUTTON_TEXT_LIMIT = 250
TRACKING_LIMIT = 4000
# Not documented that we found; a keyboard above it is logged, not cut (Viber would say).
KEYBOARD_BUTTONS_GUESS = 24
# A picture a person sends is fetched from Viber's URL; a meter photo needs far less.
PHOTO_LIMIT_BYTES = 10 * 1024 * 1024
IMAGE_FILE_EXTENSIONS = (".jpg", ".jpeg", ".png")

# Status codes of send_message (PLATFORMS.md: 5–13 only from 3rd-party clients).
STATUS_OK = 0
NOT_REACHABLE = {5: "receiverNotRegistered", 6: "receiverNotSubscribed"}
TOO_MANY_REQUESTS = 12
BROADCAST_LIMIT = 300  # ids in one broadcast_message (creators.viber.com …/broadcast-message)

WEBHOOK_ANSWER_BUDGET = 15.0
MAX_ATTEMPTS = 3
BACKOFF = (1.0, 2.0, 4.0)
SET_WEBHOOK_DELAYS = (0.5, 2.0, 5.0, 15.0)
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)

MarkUnreachable = Callable[[Channel, str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[Any]]


def signature(token: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of the raw body keyed with the auth token (Viber's signature)."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


_SIGNATURE_SHAPE = re.compile(r"[0-9A-Fa-f]{64}")


def signature_valid(token: str, body: bytes, given: str) -> bool:
    """Constant-time check of X-Viber-Content-Signature."""
    return hmac.compare_digest(signature(token, body).encode(), given.strip().lower().encode())


# ---- inbound ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tracking:
    """What a keyboard message carries through Viber: label → payload, phone asked."""

    payloads: dict[str, str] = field(default_factory=dict)
    phone_asked: bool = False

    def encode(self) -> str | None:
        """The tracking_data string; None when there is nothing to carry."""
        if not self.payloads and not self.phone_asked:
            return None
        data: dict[str, Any] = {"k": self.payloads}
        if self.phone_asked:
            data["p"] = 1
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if len(text) > TRACKING_LIMIT:
            # Labels still work as typed words for the menu; say so, it is a rendering bug.
            log.error("viber: keyboard map of %d chars exceeds tracking_data", len(text))
            return json.dumps({"p": 1} if self.phone_asked else {})
        return text

    @classmethod
    def decode(cls, raw: str | None) -> Tracking:
        """Read tracking_data back; anything unreadable means "nothing carried"."""
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            payloads = data.get("k") or {}
            if not isinstance(payloads, dict):
                raise TypeError("k")
            return cls({str(k): str(v) for k, v in payloads.items()}, bool(data.get("p")))
        except (ValueError, TypeError, AttributeError):
            log.info("viber: unreadable tracking_data ignored")
            return cls()


@dataclass(frozen=True)
class Inbound:
    """A translated message: the event, and a media URL to download into `photo` first."""

    event: Incoming
    media_url: str | None = None


def _sequence(timestamp: object) -> int | None:
    """Viber's event time (epoch milliseconds) orders one person's messages."""
    return timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else None


def from_message(request: ViberMessageRequest) -> Inbound:
    """Translate a Viber message into the neutral event."""
    sender = request.sender
    message = request.message
    if not getattr(sender, "id", None):
        raise MalformedInput("a message without its sender's id")
    base: dict[str, Any] = {
        "channel": Channel.VIBER,
        "user_id": str(sender.id),
        "locale": sender.language,
        "profile_name": sender.name or "",
        "update_key": str(request.message_token),
        "sequence": _sequence(request.timestamp),
    }
    tracking = Tracking.decode(message.tracking_data)
    if isinstance(message, TextMessage):
        text = message.text or ""
        return Inbound(Incoming(**base, text=text, payload=tracking.payloads.get(text)))
    if isinstance(message, ContactMessage):
        phone = message.contact.phone_number if message.contact else None
        if not phone:
            return Inbound(Incoming(**base, unsupported="contact"))
        # Viber does not say whose contact it is; one sent while our share-phone button was
        # showing is taken as the person's own (a forwarded card then is their choice).
        return Inbound(Incoming(**base, contact_phone=phone, contact_is_own=tracking.phone_asked))
    if isinstance(message, PictureMessage) and message.media:
        return Inbound(Incoming(**base), media_url=message.media)
    if isinstance(message, FileMessage) and message.media:
        name = (message.file_name or "").lower()
        if name.endswith(IMAGE_FILE_EXTENSIONS):
            # People send a meter photo "as a file" to keep its quality.
            if message.size and int(message.size) > PHOTO_LIMIT_BYTES:
                return Inbound(Incoming(**base, unsupported="image_too_large"))
            return Inbound(Incoming(**base), media_url=message.media)
        return Inbound(Incoming(**base, unsupported="file"))
    kind = getattr(message, "_message_type", None) or type(message).__name__
    return Inbound(Incoming(**base, unsupported=str(kind)))


# ---- outbound ----------------------------------------------------------------------------


def _button(button: Button, columns: int) -> dict[str, Any] | None:
    text = html.escape(button.label[:BUTTON_TEXT_LIMIT], quote=False)
    common = {"Columns": columns, "Rows": 1, "Text": text, "TextSize": "regular"}
    if button.url:
        return {**common, "ActionType": "open-url", "ActionBody": button.url}
    if button.request_phone:
        # Needs a non-empty ActionBody (3rd-party) and API level 3.
        return {**common, "ActionType": "share-phone", "ActionBody": "phone"}
    if button.payload:
        return {**common, "ActionType": "reply", "ActionBody": button.label}
    log.warning("viber: button %r has neither payload nor link: left out", button.label)
    return None


@dataclass
class Keyboard:
    """One Viber keyboard and what its buttons mean."""

    buttons: list[dict[str, Any]] = field(default_factory=list)
    tracking: Tracking = field(default_factory=Tracking)

    @property
    def needs_api_3(self) -> bool:
        return self.tracking.phone_asked

    def as_dict(self) -> dict[str, Any] | None:
        if not self.buttons:
            return None
        return {
            "Type": "keyboard",
            "DefaultHeight": False,
            "InputFieldState": "regular",
            "Buttons": self.buttons,
        }


def keyboard_for(replies: list[Reply]) -> Keyboard:
    """The buttons of all replies as one keyboard, rows of up to three, duplicates once.

    The standing keyboard's top actions come last: Viber shows only the last message's
    keyboard, so they ride on every turn to stay in view.
    """
    keyboard = Keyboard()
    payloads: dict[str, str] = {}
    phone = False
    seen: set[tuple[str, str | None, str | None]] = set()
    standing = next((r.keyboard for r in reversed(replies) if r.keyboard is not None), None)
    rows = [row for reply in replies for row in reply.buttons]
    if standing is not None:
        rows += [list(row) for row in standing.rows]
    for row in rows:
        fresh = []
        for button in row:
            key = (button.label, button.payload, button.url)
            if key in seen:
                continue
            seen.add(key)
            fresh.append(button)
        for start in range(0, len(fresh), 3):
            group = fresh[start : start + 3]
            for button in group:
                rendered = _button(button, 6 // len(group))
                if rendered is None:
                    continue
                keyboard.buttons.append(rendered)
                if button.payload and not button.url:
                    payloads[button.label] = button.payload
                phone = phone or button.request_phone
    keyboard.tracking = Tracking(payloads, phone)
    if len(keyboard.buttons) > KEYBOARD_BUTTONS_GUESS:
        log.warning(
            "viber: a keyboard of %d buttons; if Viber refuses it (badData), page it",
            len(keyboard.buttons),
        )
    return keyboard


def render(replies: list[Reply], media: MediaStore) -> list[TypedMessage]:
    """Viber messages for a turn's replies; the keyboard rides on the last one."""
    keyboard = keyboard_for(replies)
    specs: list[tuple[type[TypedMessage], dict[str, Any]]] = []
    for reply in replies:
        text = reply.text
        image = reply.image
        as_picture = image is not None and len(image.content) <= PICTURE_BYTES_LIMIT
        if image is not None and as_picture and len(text) <= PICTURE_TEXT_LIMIT:
            specs.append((PictureMessage, {"media": media.url_for(image), "text": text}))
        else:
            if text:
                specs.extend(
                    (TextMessage, {"text": piece}) for piece in split_text(text, TEXT_LIMIT)
                )
            if image is not None:
                specs.append(
                    (PictureMessage, {"media": media.url_for(image), "text": ""})
                    if as_picture
                    else _file(image, media)
                )
        if reply.document is not None:
            specs.append(_file(reply.document, media))
        for button in reply.all_buttons():
            if button.url:
                # The keyboard is replaced by the next one; the link stays in the chat.
                specs.append((URLMessage, {"media": button.url}))
    if not specs:
        specs.append((TextMessage, {"text": "…"}))
    tracking = keyboard.tracking.encode()
    messages = [kind(tracking_data=tracking, **options) for kind, options in specs[:-1]]
    kind, options = specs[-1]
    messages.append(
        kind(
            tracking_data=tracking,
            keyboard=keyboard.as_dict(),
            min_api_version=3 if keyboard.needs_api_3 else None,
            **options,
        )
    )
    return messages


def _file(document: Attachment, media: MediaStore) -> tuple[type[TypedMessage], dict[str, Any]]:
    return FileMessage, {
        "media": media.url_for(document),
        "size": len(document.content),
        "file_name": document.filename,
    }


def message_dict(message: TypedMessage) -> dict[str, Any]:
    """The message's JSON, without empty optional fields (Viber rejects some nulls)."""
    return {key: value for key, value in message.to_dict().items() if value is not None}


# ---- the channel -----------------------------------------------------------------------


class _Failed(Exception):
    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.detail)
        self.result = result


class ViberChannel(ChannelAdapter):
    """Viber through its REST API: the webhook route, set_webhook on start, send_message."""

    channel = Channel.VIBER

    def __init__(
        self,
        token: str,
        *,
        handle: Handle,
        mark_unreachable: MarkUnreachable,
        catalogues: Catalogues,
        media: MediaStore,
        metrics: Metrics | None = None,
        bot_name: str = "Kabinet",
        api_base: str = "https://chatapi.viber.com/pa",
        public_base_url: str | None = None,
        sleep: Sleep = asyncio.sleep,
        retries: Retries | None = None,
        broadcast: bool = False,
    ) -> None:
        self._token = token
        # Viber enables broadcast_message for a bot only on request (VIBER_BROADCAST).
        self.broadcast_limit = BROADCAST_LIMIT if broadcast else 0
        self._handle = handle
        self._mark_unreachable = mark_unreachable
        self._catalogues = catalogues
        self.media = media
        self._metrics = metrics
        self._sender = {"name": bot_name[:SENDER_NAME_LIMIT]}
        self._api_base = api_base.rstrip("/")
        self._public_base_url = public_base_url
        self._sleep = sleep
        # Network errors and rate limits: a few tries, jittered waits (base.Retries).
        self._retries = retries or Retries(MAX_ATTEMPTS, BACKOFF)
        self._session: aiohttp.ClientSession | None = None
        self._background = BackgroundWork()
        self._callbacks = counter(
            metrics,
            "kabinet_viber_callbacks",
            "Viber callbacks that are not messages, by event",
            ["event"],
        )

    # ---- lifecycle ---------------------------------------------------------------------

    def register_routes(self, app: web.Application) -> None:
        """POST /webhook/viber."""
        app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def start(self) -> None:
        """Register the webhook when PUBLIC_BASE_URL is set.

        Viber calls the URL back while set_webhook runs and refuses it unless that call
        gets a 200, so it runs in the background, after the server starts listening.
        """
        if not self._public_base_url:
            log.info("viber: PUBLIC_BASE_URL unset: webhook not registered")
            return
        self._background.spawn(self._set_webhook(self._public_base_url.rstrip("/") + WEBHOOK_PATH))

    async def stop(self) -> None:
        """Let turns in flight finish (bounded), close the HTTP session."""
        await self._background.drain(grace_seconds=10)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _set_webhook(self, url: str) -> bool:
        body = {"url": url, "event_types": EVENT_TYPES, "send_name": True, "send_photo": False}
        for attempt, delay in enumerate(SET_WEBHOOK_DELAYS, start=1):
            await self._sleep(delay)
            try:
                answer = await self._post("set_webhook", body)
            except _Failed as failed:
                detail = failed.result.detail
            else:
                if answer.get("status") == STATUS_OK:
                    log.info("viber: webhook set to %s", url)
                    return True
                detail = f"{answer.get('status')} {answer.get('status_message')}"
            log.warning("viber: set_webhook attempt %d failed: %s", attempt, detail)
        log.error("viber: webhook NOT set; Viber will not deliver messages to %s", url)
        return False

    # ---- HTTP ----------------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # More connections than delivery's calls in flight (200).
            connector = aiohttp.TCPConnector(limit=256)
            self._session = aiohttp.ClientSession(timeout=HTTP_TIMEOUT, connector=connector)
        return self._session

    async def _post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """One REST call with network retries; the answer's JSON (status not checked)."""
        for number in range(1, self._retries.attempts + 1):
            try:
                async with self._client().post(
                    f"{self._api_base}/{endpoint}", json=body, headers={AUTH_HEADER: self._token}
                ) as response:
                    if response.status >= 500:
                        raise aiohttp.ClientResponseError(
                            response.request_info, (), status=response.status
                        )
                    if response.status != 200:
                        text = (await response.text())[:200]
                        raise _Failed(
                            DeliveryResult(
                                DeliveryStatus.FAILED, detail=f"HTTP {response.status}: {text}"
                            )
                        )
                    return await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                detail = type(error).__name__
                if self._retries.last(number):
                    raise _Failed(
                        DeliveryResult(
                            DeliveryStatus.RETRY_LATER, self._retries.backoff[-1], detail
                        )
                    ) from None
                log.info("viber: %s on %s, retrying", detail, endpoint)
                await self._sleep(self._retries.delay(number))
        raise AssertionError("unreachable")

    async def _download(self, url: str) -> bytes | None:
        """A picture the person sent; None when it cannot be had (logged, no URL).
        Raises PhotoTooLarge past PHOTO_LIMIT_BYTES, declared or read."""
        for number in range(1, self._retries.attempts + 1):
            try:
                async with self._client().get(url) as response:
                    if response.status != 200:
                        log.warning("viber: picture download answered HTTP %s", response.status)
                        return None
                    if (response.content_length or 0) > PHOTO_LIMIT_BYTES:
                        log.info("viber: picture larger than the limit, refused")
                        raise PhotoTooLarge
                    data = await response.content.read(PHOTO_LIMIT_BYTES + 1)
                    if len(data) > PHOTO_LIMIT_BYTES:
                        raise PhotoTooLarge
                    return data
            except (aiohttp.ClientError, TimeoutError) as error:
                # The media URL may be signed: only the error's kind is logged.
                log.info("viber: picture download %s (attempt %d)", type(error).__name__, number)
                if not self._retries.last(number):
                    await self._sleep(self._retries.delay(number))
        return None

    # ---- inbound -------------------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        """Check the signature on the raw body, then parse and dispatch the callback.

        A request without a well-formed signature is refused before its body is read, and
        a body is read only up to a small cap: both before any work for an unknown sender.
        """
        data = await verified_json(
            request,
            channel="viber",
            header=SIGNATURE_HEADER,
            shaped=lambda given: _SIGNATURE_SHAPE.fullmatch(given.strip()) is not None,
            valid=lambda raw, given: signature_valid(self._token, raw, given),
        )
        if isinstance(data, web.Response):
            return data
        try:
            parsed: ViberRequest = create_request(data)
        except Exception as error:  # viberbot raises bare Exception on unknown kinds
            return await self._unparsed(data, error)
        if isinstance(parsed, ViberMessageRequest):
            return await self._answer_after(self._turn(from_message(parsed)))
        if isinstance(parsed, ViberConversationStartedRequest):
            return web.json_response(self._welcome(parsed))
        if isinstance(parsed, ViberUnsubscribedRequest):
            self._count("unsubscribed")
            await self._mark_unreachable(self.channel, str(parsed.user_id))
        elif isinstance(parsed, ViberSubscribedRequest):
            self._count("subscribed")
            log.info("viber: %s subscribed", mask(str(parsed.user.id)))
        elif isinstance(parsed, ViberDeliveredRequest | ViberSeenRequest):
            self._receipt(parsed.event_type, parsed.user_id, parsed.message_token, "")
        elif isinstance(parsed, ViberFailedRequest):
            self._receipt("failed", parsed.user_id, parsed.message_token, parsed.desc or "")
        else:
            log.info("viber: %s callback", parsed.event_type)
        return web.json_response({})

    async def _unparsed(self, data: Any, error: Exception) -> web.Response:
        """A callback viberbot does not know: a message of a new kind is still answered."""
        if not isinstance(data, dict):
            raise MalformedInput("not a JSON object")
        if data.get("event") == "message":
            sender = data.get("sender") or {}
            message = data.get("message") or {}
            if not isinstance(sender, dict) or not isinstance(message, dict):
                # Signed, so Viber's, yet not its shape: 400 (app.server), not a traceback.
                raise MalformedInput("sender or message is not an object")
            if sender.get("id") and data.get("message_token") is not None:
                kind = str(message.get("type") or "unknown")
                log.warning("viber: message of unknown type %r answered as unsupported", kind)
                event = Incoming(
                    Channel.VIBER,
                    str(sender["id"]),
                    locale=sender.get("language"),
                    profile_name=sender.get("name") or "",
                    update_key=str(data["message_token"]),
                    unsupported=kind,
                    sequence=_sequence(data.get("timestamp")),
                )
                return await self._answer_after(self._turn(Inbound(event)))
        # Answered 200 anyway: Viber would re-send it for an hour and it would fail again.
        log.warning("viber webhook: unparsable callback (%s) ignored", error)
        return web.json_response({})

    async def _answer_after(self, work: Awaitable[None]) -> web.Response:
        """Answer once the turn is done (or its budget is over): Viber re-sends otherwise."""
        task = self._background.spawn(work)
        done, _ = await asyncio.wait({task}, timeout=WEBHOOK_ANSWER_BUDGET)
        if not done:
            log.warning(
                "viber: a turn is slower than %.0f s: answered, still running",
                WEBHOOK_ANSWER_BUDGET,
            )
        return web.json_response({})

    def _welcome(self, started: ViberConversationStartedRequest) -> dict[str, Any]:
        """The free welcome message: a greeting and the main keyboard; nothing is stored.

        Viber sends conversation_started each time someone opens the chat, before they
        subscribe, so it creates no person; their first message does. A deep link's
        context that is a one-time code becomes a first button joining their profile.
        """
        self._count("conversation_started")
        t = self._catalogues.translator(pick_locale(started.user.language))
        rows = main_menu(t, has_accounts=False)  # nobody is known yet: "add an account" first
        context = (started.context or "").strip()
        if context.isdigit():
            rows = [[Button(t("viber.join_button"), f"start:{context}")], *rows]
        reply = Reply(t("start.greeting") + "\n\n" + t("viber.welcome"), rows)
        (message,) = render([reply], self.media)
        return {"sender": self._sender, **message_dict(message)}

    async def _turn(self, inbound: Inbound) -> None:
        event = inbound.event
        try:
            if inbound.media_url is not None:
                try:
                    photo = await self._download(inbound.media_url)
                except PhotoTooLarge:  # the dialog says so
                    event = replace(event, unsupported="photo_too_large")
                else:
                    if photo is None:
                        await self.deliver(event.user_id, self._apology(event))
                        return
                    event = replace(event, photo=photo)
            await run_turn(self.channel, self._handle, event, self.deliver, self._apology)
        except Exception:  # a bug in translation or rendering must not kill the server
            log.exception("viber message %s failed", event.update_key)

    def _apology(self, event: Incoming) -> list[Reply]:
        t = self._catalogues.translator(pick_locale(event.locale))
        return [Reply(t("error.apology"))]

    def _count(self, event: str) -> None:
        if self._callbacks is not None:
            self._callbacks.labels(event).inc()

    def _receipt(self, event: str, user_id: str, token: Any, desc: str) -> None:
        # The outbox will record these per message; until then, a log line and a count.
        self._count(event)
        if event == "failed":
            log.info("viber: message %s to %s failed: %s", token, mask(str(user_id)), desc)
        else:
            log.info("viber: message %s %s by %s", token, event, mask(str(user_id)))

    # ---- outbound ------------------------------------------------------------------------

    async def send(self, user_id: str, push: Push) -> DeliveryResult:
        """Push replies to a subscriber outside a turn (billed outside the session, which
        delivery's ranking weighs; nothing here depends on the topic)."""
        return await self.deliver(user_id, push.replies)

    async def deliver(self, user_id: str, replies: list[Reply]) -> DeliveryResult:
        """Send replies in order; stop at the first message that cannot be delivered."""
        result = DeliveryResult(DeliveryStatus.SENT)
        messages = render(replies, self.media)
        await self.media.save()  # the files behind their URLs, before Viber fetches them
        for message in messages:
            body = {"receiver": user_id, "sender": self._sender, **message_dict(message)}
            result = await self._send_one(body)
            if result.status != DeliveryStatus.SENT:
                break
        if self._metrics is not None and replies:
            self._metrics.outbound.labels(self.channel.value, result.status.value).inc()
        if result.status == DeliveryStatus.UNREACHABLE:
            await self._mark_unreachable(self.channel, user_id)
        return result

    def broadcast_key(self, push: Push) -> str | None:
        """The messages as Viber would get them, without the receiver: pushes with the
        same key (one text and keyboard per language) go in one broadcast_message."""
        if not self.broadcast_limit:
            return None
        return json.dumps(
            [message_dict(m) for m in render(push.replies, self.media)],
            ensure_ascii=False,
            sort_keys=True,
        )

    async def broadcast(self, user_ids: Sequence[str], push: Push) -> dict[str, DeliveryResult]:
        """One broadcast_message per message of the push to up to 300 subscribers.

        Receivers in the answer's `failed_list` are handled as a single send would be:
        not subscribed or registered → unreachable (marked), anything else → retried
        later; a receiver that failed gets none of the push's later messages. Without
        broadcast enabled, each is sent on its own."""
        if not self.broadcast_limit:
            return await super().broadcast(user_ids, push)
        if len(user_ids) > self.broadcast_limit:
            raise ValueError(f"at most {self.broadcast_limit} receivers per broadcast")
        results: dict[str, DeliveryResult] = {}
        waiting = list(dict.fromkeys(user_ids))
        for message in render(push.replies, self.media):
            if not waiting:
                break
            body = {"broadcast_list": waiting, "sender": self._sender, **message_dict(message)}
            outcome, failed = await self._broadcast_one(body)
            if outcome.status != DeliveryStatus.SENT:
                results.update({user_id: outcome for user_id in waiting})
                waiting = []
                break
            results.update(failed)
            waiting = [user_id for user_id in waiting if user_id not in failed]
        results.update({user_id: DeliveryResult(DeliveryStatus.SENT) for user_id in waiting})
        for user_id, result in results.items():
            if self._metrics is not None:
                self._metrics.outbound.labels(self.channel.value, result.status.value).inc()
            if result.status == DeliveryStatus.UNREACHABLE:
                await self._mark_unreachable(self.channel, user_id)
        return results

    async def _broadcast_one(
        self, body: dict[str, Any]
    ) -> tuple[DeliveryResult, dict[str, DeliveryResult]]:
        """One broadcast_message: the call's outcome, and the receivers it failed for."""
        result, answer = await self._call("broadcast_message", body)
        if result.status == DeliveryStatus.UNREACHABLE:
            # Not about one person when it answers the whole list: try again later.
            result = replace(result, status=DeliveryStatus.RETRY_LATER)
        if result.status != DeliveryStatus.SENT:
            return result, {}
        failed: dict[str, DeliveryResult] = {}
        entries = answer.get("failed_list")
        for entry in entries if isinstance(entries, list) else []:
            receiver = str(entry.get("receiver") or "")
            status = entry.get("status")
            detail = f"{status} {entry.get('status_message') or ''}".strip()
            if status in NOT_REACHABLE:
                failed[receiver] = DeliveryResult(DeliveryStatus.UNREACHABLE, detail=detail)
            else:
                # Too many requests, or a reason Viber gives only for this person: retried
                # as a single send's would be.
                failed[receiver] = DeliveryResult(DeliveryStatus.RETRY_LATER, detail=detail)
        return result, failed

    async def _send_one(self, body: dict[str, Any]) -> DeliveryResult:
        return (await self._call("send_message", body))[0]

    async def _call(
        self, endpoint: str, body: dict[str, Any]
    ) -> tuple[DeliveryResult, dict[str, Any]]:
        """A sending call with the rules of a send: 12 backs off and retries a few times;
        the outcome and Viber's answer."""
        for number in range(1, self._retries.attempts + 1):
            try:
                answer = await self._post(endpoint, body)
            except _Failed as failed:
                return failed.result, {}
            status = answer.get("status")
            message = str(answer.get("status_message") or "")
            if status == STATUS_OK:
                return DeliveryResult(DeliveryStatus.SENT), answer
            if status in NOT_REACHABLE:
                detail = f"{status} {message}"
                return DeliveryResult(DeliveryStatus.UNREACHABLE, detail=detail), answer
            if status == TOO_MANY_REQUESTS:
                if not self._retries.last(number):
                    log.info("viber: too many requests, backing off")
                    await self._sleep(self._retries.delay(number))
                    continue
                too_many = DeliveryResult(
                    DeliveryStatus.RETRY_LATER,
                    self._retries.backoff[-1] * 60,
                    f"{status} {message}",
                )
                return too_many, answer
            log.warning("viber: %s refused: status %s %s", endpoint, status, message)
            return DeliveryResult(DeliveryStatus.FAILED, detail=f"{status} {message}"), answer
        raise AssertionError("unreachable")
