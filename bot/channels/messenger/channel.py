"""The Facebook Messenger channel: Graph API webhooks in, the dialog, the Send API out.

`GET /webhook/messenger` answers Meta's verification challenge; `POST` checks
X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret, constant time) before
parsing, then handles every messaging event of every entry, in order. Message ids
de-duplicate redeliveries (the dialog keeps them).

Rendering: choices become quick replies (≤ 13, titles ≤ 20 characters, shortened, payload
kept; more are paged behind a "more" reply) or, for up to three choices, a button template
whose buttons stay in the chat; link buttons are template URL buttons; images and PDFs are
attachments by URL from the media route. Replies in a turn are RESPONSE messages; pushes
follow the 24-hour rule (see `send`), judged from when the person last wrote as the
database knows it, so any replica, restarted or not, judges alike. The "more" pages and
whether a phone quick reply was offered are kept in the chat's memory (the dialog state).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, replace
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
    LocalChatMemories,
    Memo,
    PhotoTooLarge,
    PrefetchedMemories,
    Push,
    Remembered,
    Retries,
    Typing,
    counter,
    remembering,
    run_turn,
    verified_json,
)
from bot.channels.media import MediaStore
from bot.channels.messenger.inbound import (
    GET_STARTED_PAYLOAD,
    SIGNATURE_HEADER,
    Inbound,
    from_messaging,
    messaging_events,
    sender_of,
    signature_shaped,
    signature_valid,
)
from bot.channels.messenger.outbound import (
    PHOTO_LIMIT_BYTES,
    Rendered,
    more_page,
    persistent_menu,
    render,
)
from bot.handlers.turn_order import TurnQueue
from bot.i18n import Catalogues, Translator, pick_locale
from bot.messages import Button, Reply
from core.channels import policy_of
from core.clock import Clock
from core.model import Channel
from core.ports import AbstractChatMemories
from core.privacy import mask
from observability.metrics import Metrics

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook/messenger"

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

MarkUnreachable = Callable[[Channel, str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[Any]]


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
        memories: AbstractChatMemories | None = None,
        metrics: Metrics | None = None,
        api_base: str = "https://graph.facebook.com/v25.0",
        sleep: Sleep = asyncio.sleep,
        retries: Retries | None = None,
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
        # Network errors and rate limits: a few tries, jittered waits (base.Retries).
        self._retries = retries or Retries(MAX_ATTEMPTS, BACKOFF)
        self._typing_after = typing_after
        self._fetch_profiles = fetch_profiles
        self._profiles: Remembered[str, Any] = Remembered(
            REMEMBERED_USERS
        )  # PSID → (locale, first name)
        self._profile_refused_logged = False
        self._session: aiohttp.ClientSession | None = None
        self._background = BackgroundWork()
        # Per person: the pages of choices behind "more", whether a phone quick reply was
        # offered; and, from the dialog's turns, when they last wrote (the 24-hour window).
        # Read ahead for a batch of pushes (`prefetch`) in one statement.
        self._memories = PrefetchedMemories(memories or LocalChatMemories(REMEMBERED_USERS))
        # One person's inputs handled here side by side (separate webhook calls) take turns,
        # in the order of their timestamps, from reading their memory to writing it back, so
        # neither overwrites the other's.
        self.chat_turns = TurnQueue()
        """Whose input runs next per person (public: tests hold a person's turn)."""
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
        for number in range(1, self._retries.attempts + 1):
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
                if self._retries.last(number):
                    raise GraphError(0, None, None, type(error).__name__) from None
                log.info("messenger: %s on %s, retrying", type(error).__name__, path)
                await self._sleep(self._retries.delay(number))
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
        """An image the person sent (from Meta's CDN); None when it cannot be had.
        Raises PhotoTooLarge past PHOTO_LIMIT_BYTES, declared or read."""
        for number in range(1, self._retries.attempts + 1):
            try:
                async with self._client().get(url) as response:
                    if response.status != 200:
                        log.warning("messenger: image download answered HTTP %s", response.status)
                        return None
                    if (response.content_length or 0) > PHOTO_LIMIT_BYTES:
                        raise PhotoTooLarge
                    data = await response.content.read(PHOTO_LIMIT_BYTES + 1)
                    if len(data) > PHOTO_LIMIT_BYTES:
                        raise PhotoTooLarge
                    return data
            except (aiohttp.ClientError, TimeoutError) as error:
                # CDN URLs are signed: only the error's kind is logged.
                log.info("messenger: image download %s (attempt %d)", type(error).__name__, number)
                if not self._retries.last(number):
                    await self._sleep(self._retries.delay(number))
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
        """Check the signature on the raw body, then handle every messaging event.

        A request without a well-formed signature is refused before its body is read, and
        a body is read only up to a small cap: both before any work for an unknown sender.
        """
        data = await verified_json(
            request,
            channel="messenger",
            header=SIGNATURE_HEADER,
            shaped=signature_shaped,
            valid=lambda raw, given: signature_valid(self._app_secret, raw, given),
        )
        if isinstance(data, web.Response):
            return data
        if not isinstance(data, dict) or data.get("object") != "page":
            log.info(
                "messenger webhook: object %r ignored",
                data.get("object") if isinstance(data, dict) else None,
            )
            return web.Response(text="EVENT_RECEIVED")
        events = messaging_events(data)  # MalformedInput: 400 (app.server)
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
            sender = sender_of(messaging)
            by_sender.setdefault(sender, []).append(messaging)
        await asyncio.gather(*(self._in_order(group) for group in by_sender.values()))

    async def _in_order(self, events: list[dict[str, Any]]) -> None:
        for messaging in events:
            try:
                await self._one(messaging)
            except Exception:  # a bug in translation or rendering must not drop the rest
                log.exception("messenger: an event failed")

    async def _one(self, messaging: dict[str, Any]) -> None:
        sender = sender_of(messaging)
        inbound, kind = from_messaging(messaging)
        if inbound is None:
            self._count(kind or "unknown")
            if kind in ("delivery", "read"):
                log.info("messenger: %s by %s", kind, mask(sender))
            elif kind != "echo":
                log.info("messenger: %s event ignored", kind)
            return
        self._count("input")
        # Most inputs need nothing remembered before the turn: their memory is read only
        # when the answer changes it (no round trip otherwise).
        needed = inbound.more or inbound.phone_text_only
        async with (
            self.chat_turns.hold(sender, inbound.event.sequence),
            remembering(self._memories, self.channel, sender, lazy=not needed) as memo,
        ):
            await self._input(sender, inbound, memo)

    async def _input(self, sender: str, inbound: Inbound, memo: Memo) -> None:
        """One input of `sender`, with their chat's memory."""
        if inbound.phone_text_only and memo.data.get("phone_offered"):
            log.warning(
                "messenger: a phone quick reply carried no phone in its payload; "
                "the platform's shape differs from what we expect"
            )
        locale, name = await self._profile(sender)
        event = replace(inbound.event, locale=locale, profile_name=name)
        t = self._catalogues.translator(pick_locale(locale))
        if inbound.more:
            pages = _pages_of(memo.data.pop("more", None))
            if pages:
                await self._deliver_rendered(sender, [more_page(pages, t)], "RESPONSE", memo)
                return
            # The pages were forgotten (or never kept): show the menu instead.
            event = replace(event, payload="menu")

        async def deliver(psid: str, replies: list[Reply]) -> DeliveryResult:
            return await self._deliver_replies(psid, replies, memo)

        typing = Typing(lambda: self._send_typing(sender), self._typing_after, TYPING_EVERY)
        if inbound.image_url is not None:
            try:
                photo = await self._download(inbound.image_url)
            except PhotoTooLarge:  # the dialog says so
                event = replace(event, unsupported="photo_too_large")
            except BaseException:
                typing.cancel()
                raise
            else:
                if photo is None:
                    typing.cancel()
                    await deliver(sender, [Reply(t("error.apology"))])
                    return
                event = replace(event, photo=photo)
        await run_turn(
            self.channel,
            self._handle,
            event,
            deliver,
            lambda _event: [Reply(t("error.apology"))],
            user_id=sender,
            typing=typing,
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
        async with (
            self.chat_turns.hold(psid),
            remembering(self._memories, self.channel, psid, lazy=True) as memo,
        ):
            return await self._deliver_replies(psid, replies, memo)

    async def _deliver_replies(self, psid: str, replies: list[Reply], memo: Memo) -> DeliveryResult:
        t = self._translator(psid)
        rendered = [render(reply, self.media, t) for reply in replies]
        return await self._deliver_rendered(psid, rendered, "RESPONSE", memo)

    async def prefetch(self, user_ids: Sequence[str]) -> None:
        """The chats' memories for a batch of pushes, in one read."""
        await self._memories.prefetch(self.channel, user_ids)

    async def send(self, user_id: str, push: Push) -> DeliveryResult:
        """Push replies outside a turn, within Messenger's 24-hour rule.

        Inside the window (the person wrote in the last 24 h: the time every turn notes in
        the dialog state, so any replica knows it) it is an UPDATE. Outside it, or when
        unknown, only a push whose topic has a message tag in Messenger's row of
        `core.channels` is sent (ACCOUNT_UPDATE for bills and payments); anything else is
        UNREACHABLE with the reason, so delivery can hand it to another channel.
        """
        async with (
            self.chat_turns.hold(user_id),
            remembering(self._memories, self.channel, user_id) as memo,
        ):
            last = memo.last_inbound
            inside = last is not None and self._clock.now() - last < self._window
            t = self._translator(user_id)
            rendered = [render(reply, self.media, t) for reply in push.replies]
            if inside:
                return await self._deliver_rendered(user_id, rendered, "UPDATE", memo)
            topic = push.topic
            tag = push.tag(self.channel)
            if tag is None:
                why = "no message from them in 24 h" if last else "no message from them known"
                detail = f"outside the 24-hour window ({why}) and topic {topic!r} has no tag"
                log.info("messenger: push to %s not sent: %s", mask(user_id), detail)
                self._count_outbound(DeliveryStatus.UNREACHABLE)
                return DeliveryResult(DeliveryStatus.UNREACHABLE, detail=detail)
            return await self._deliver_rendered(user_id, rendered, "MESSAGE_TAG", memo, tag=tag)

    async def _deliver_rendered(
        self,
        psid: str,
        rendered: list[Rendered],
        messaging_type: str,
        memo: Memo,
        *,
        tag: str | None = None,
    ) -> DeliveryResult:
        result = DeliveryResult(DeliveryStatus.SENT)
        await self.media.save()  # the files behind their URLs, before Meta fetches them
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
            offers_phone = any(
                qr.get("content_type") == "user_phone_number"
                for message in part.messages
                for qr in message.get("quick_replies", [])
            )
            if part.more or offers_phone:
                await memo.load()
            if part.more:
                memo.data["more"] = [[asdict(button) for button in page] for page in part.more]
            if offers_phone:
                memo.data["phone_offered"] = True
        self._count_outbound(result.status)
        if result.status == DeliveryStatus.UNREACHABLE and "551" in result.detail:
            await self._mark_unreachable(self.channel, psid)
        return result

    def _count_outbound(self, status: DeliveryStatus) -> None:
        if self._metrics is not None:
            self._metrics.outbound.labels(self.channel.value, status.value).inc()

    async def _send_one(self, body: dict[str, Any]) -> DeliveryResult:
        for number in range(1, self._retries.attempts + 1):
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
                    if not self._retries.last(number):
                        log.info("messenger: rate limited (%s), backing off", error.code)
                        await self._sleep(self._retries.delay(number))
                        continue
                    return DeliveryResult(DeliveryStatus.RETRY_LATER, 60.0, detail)
                if error.status == 0 or error.status >= 500 or error.code == 2:
                    return DeliveryResult(
                        DeliveryStatus.RETRY_LATER, self._retries.backoff[-1], detail
                    )
                log.warning("messenger: Send API refused: %s", detail)
                return DeliveryResult(DeliveryStatus.FAILED, detail=detail)
        raise AssertionError("unreachable")


def _pages_of(kept: Any) -> list[list[Button]]:
    """The "more" pages as kept in the chat's memory (`asdict` of each button); none when
    what was kept cannot be read back."""
    try:
        return [[Button(**button) for button in page] for page in kept or []]
    except (TypeError, ValueError):
        log.info("messenger: unreadable 'more' pages ignored")
        return []


__all__ = ["WEBHOOK_PATH", "MessengerChannel"]
