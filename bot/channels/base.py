"""What every channel adapter offers the composition root and the delivery workers, and
the plumbing they share: the push envelope, the turn skeleton, chat memories (kept in the
dialog state by the composition root, so that every replica knows them), the typing
indicator, retries with jitter, metrics registration, and a collecting channel (tests, and
a template for a new adapter: README "Adding a channel")."""

from __future__ import annotations

import abc
import asyncio
import json
import logging
import random
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import asynccontextmanager
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from bot.messages import Incoming, Reply
from core.channels import policy_of
from core.model import Channel, ChatMemory, Topic
from core.ports import AbstractChatMemories, StoreUnavailable
from core.privacy import mask

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter

    from observability.metrics import Metrics

log = logging.getLogger(__name__)

Handle = Callable[[Incoming], Awaitable[list[Reply]]]
"""The dialog's entry point: a neutral input in, replies out."""


class DeliveryStatus(StrEnum):
    """How sending to one person ended; delivery decides about retries from it."""

    SENT = "sent"
    RETRY_LATER = "retry_later"  # rate limited or a network error: try again after `retry_after`
    UNREACHABLE = "unreachable"  # blocked, unsubscribed, outside the messaging window
    FAILED = "failed"  # a permanent error that is not about the person (bad request, token)
    NO_FUNDS = "no_funds"  # a paid send refused for the bot's balance: send it free instead


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of `send`, with the platform's words for the log."""

    status: DeliveryStatus
    retry_after: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class Push:
    """What delivery hands a channel outside a turn: the replies, what they are about
    (`Topic`; the channel's row in `core.channels` says what a topic may do there, e.g.
    which message tag carries it past a session window) and a subject line (e-mail)."""

    replies: list[Reply]
    topic: Topic | str | None = None
    subject: str = ""
    paid: bool = False  # send as a paid broadcast (Telegram's allow_paid_broadcast)

    def tag(self, channel: Channel) -> str | None:
        """The message tag `channel`'s policy gives this push's topic, if any."""
        return policy_of(channel).tag(self.topic)


class ChannelAdapter(abc.ABC):
    """One channel: routes for its webhook, start/stop, and sending pushes to a user."""

    channel: Channel

    @abc.abstractmethod
    def register_routes(self, app: web.Application) -> None:
        """Add the webhook routes of this channel to the HTTP application."""

    async def start(self) -> None:
        """Called when the server starts: register the webhook or start polling."""
        return None

    async def stop(self) -> None:
        """Called when the server stops: release sessions and tasks."""
        return None

    @abc.abstractmethod
    async def send(self, user_id: str, push: Push) -> DeliveryResult:
        """Send a push to a user outside a conversation turn."""

    # A platform call that sends one message to many (Viber's broadcast_message): how many
    # recipients one call takes; 0: none, every push is sent on its own.
    broadcast_limit: int = 0
    # Whether a push's calls wait at `bot.channels.send_gate.through_gate` right before the
    # wire (delivery then marks a part `sending` once its requests are ready).
    gated: bool = False

    async def prefetch(self, user_ids: Sequence[str]) -> None:
        """Read ahead what sending pushes to these users will need (their chats'
        memories), in one go for a batch; the default needs nothing."""
        return None

    def broadcast_key(self, push: Push) -> Hashable | None:
        """What identical pushes share on the wire (None: this one goes on its own); the
        delivery workers group pushes with equal keys into `broadcast` calls."""
        return None

    async def broadcast(self, user_ids: Sequence[str], push: Push) -> dict[str, DeliveryResult]:
        """Send one push to several users (at most `broadcast_limit`); the outcome per
        user. The default sends to each in turn."""
        return {user_id: await self.send(user_id, push) for user_id in user_ids}


class BackgroundWork:
    """Tasks an adapter starts outside a request (registrations, slow turns, typing).

    Keeping a reference stops them being garbage-collected mid-flight; `drain` lets them
    finish on shutdown, within a bound, and cancels the rest.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run `work` in the background and keep it referenced until it ends."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, grace_seconds: float = 10) -> None:
        """Wait for running work up to `grace_seconds`, then cancel what is left."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:  # e.g. a start-up registration still waiting to retry
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


# Viber's and Messenger's webhook events are a few kilobytes (Messenger may batch several
# events in one body); anything near this is not theirs.
WEBHOOK_BODY_LIMIT = 256 * 1024


class BodyTooLarge(Exception):
    """A request body over the limit; nothing more of it was read."""


class PhotoTooLarge(Exception):
    """A photo to download is over the channel's limit (declared, or found while reading);
    nothing more of it is read. The dialog tells the person it is too large
    (`Incoming.unsupported` "photo_too_large")."""


class MalformedInput(ValueError):
    """A request whose content has not the shape its sender's protocol promises (a list
    where an object belongs, a number past any sane size). The server answers 400 with
    one line in the log (app.server's middleware), never a 500 with a traceback."""


async def read_capped(request: web.Request, limit: int = WEBHOOK_BODY_LIMIT) -> bytes:
    """The request's body, read in chunks and never more than `limit` bytes of it.

    A declared Content-Length over the limit is refused before reading; a chunked body
    (no length) is counted as it arrives. So an unauthenticated sender cannot make the
    server hold a large body in memory before its signature is checked."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def verified_json(
    request: web.Request,
    *,
    channel: str,
    header: str,
    shaped: Callable[[str], bool],
    valid: Callable[[bytes, str], bool],
) -> Any:
    """A signed webhook's JSON, or the web.Response that refuses it.

    A missing or malformed signature header is refused (403) before the body is read; the
    body is read up to WEBHOOK_BODY_LIMIT (413 beyond), then the signature checked on the
    raw bytes (403) and the JSON parsed (400) — no work for an unknown sender."""
    given = request.headers.get(header, "")
    if not shaped(given):
        log.warning("%s webhook: missing or malformed signature, refused", channel)
        return web.Response(status=403)
    try:
        raw = await read_capped(request)
    except BodyTooLarge:
        log.warning("%s webhook: body over %d bytes, refused", channel, WEBHOOK_BODY_LIMIT)
        return web.Response(status=413)
    if not valid(raw, given):
        log.warning("%s webhook: wrong or missing signature, refused", channel)
        return web.Response(status=403)
    try:
        return json.loads(raw)
    except ValueError:
        log.warning("%s webhook: body is not JSON", channel)
        return web.Response(status=400)


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at line ends or spaces when possible.

    Every platform caps a message's length; a long answer goes out as several messages.
    """
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


K = TypeVar("K")
V = TypeVar("V")


class Remembered(OrderedDict[K, V]):
    """A bounded LRU map (user id → what an adapter keeps of them between turns): the
    least recently remembered key goes when `size` is exceeded."""

    def __init__(self, size: int = 50_000) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: K, value: V) -> None:
        """Keep `value` for `key`, as the most recent."""
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


class LocalChatMemories(AbstractChatMemories):
    """Chat memories in this process only (`Remembered`): for an adapter built without a
    database (unit tests). It cannot know when anyone last wrote."""

    def __init__(self, size: int = 50_000) -> None:
        self._kept: Remembered[tuple[Channel, str], dict[str, Any]] = Remembered(size)

    async def recall(self, channel: Channel, user_id: str) -> ChatMemory:
        """What was kept, as a copy."""
        return ChatMemory(deepcopy(self._kept.get((channel, user_id), {})))

    async def keep(self, channel: Channel, user_id: str, data: Mapping[str, Any]) -> None:
        """Keep a copy of `data`."""
        self._kept.remember((channel, user_id), deepcopy(dict(data)))


class PrefetchedMemories(AbstractChatMemories):
    """Chat memories read ahead for a batch of pushes, in one statement for the batch: the
    next recall of such a chat takes what was read while it is fresh (the push's send, a
    moment later), instead of a round trip per push between its `sending` mark and its call.

    A kept memory drops what was read ahead of that chat; what another replica keeps
    meanwhile is not seen within the freshness (best effort, as chat memories are).
    """

    def __init__(
        self, inner: AbstractChatMemories, fresh_seconds: float = 5.0, size: int = 20_000
    ) -> None:
        self._inner = inner
        self._fresh = fresh_seconds
        self._size = size
        self._ahead: dict[tuple[Channel, str], tuple[ChatMemory, float]] = {}

    async def prefetch(self, channel: Channel, user_ids: Sequence[str]) -> None:
        """Read the chats' memories now for their pushes' sends."""
        recalled = await self._inner.recall_many(channel, user_ids)
        until = time.monotonic() + self._fresh
        for user_id, memory in recalled.items():
            self._ahead[(channel, user_id)] = (memory, until)
        while len(self._ahead) > self._size:  # the oldest reads go first
            del self._ahead[next(iter(self._ahead))]

    async def recall(self, channel: Channel, user_id: str) -> ChatMemory:
        """What was read ahead, if fresh; else a read."""
        ahead = self._ahead.pop((channel, user_id), None)
        if ahead is not None and ahead[1] > time.monotonic():
            return ahead[0]
        return await self._inner.recall(channel, user_id)

    async def keep(self, channel: Channel, user_id: str, data: Mapping[str, Any]) -> None:
        """Keep, and forget what was read ahead of the chat."""
        self._ahead.pop((channel, user_id), None)
        await self._inner.keep(channel, user_id, data)

    async def recall_many(self, channel: Channel, user_ids: Sequence[str]) -> dict[str, ChatMemory]:
        """Straight from the store."""
        return await self._inner.recall_many(channel, user_ids)


class Memo:
    """One chat's adapter memory while a turn or a push runs (`remembering`): `data` is the
    adapter's to read and change, `last_inbound` is when the person last wrote; both are
    there once `load` has read them."""

    def __init__(self, memories: AbstractChatMemories, channel: Channel, user_id: str) -> None:
        self._memories = memories
        self._channel = channel
        self._user_id = user_id
        self.data: dict[str, Any] = {}
        self.last_inbound: datetime | None = None
        self._loaded: dict[str, Any] | None = None  # None: not read yet

    async def load(self) -> Memo:
        """Read the memory, once; when the database cannot be read, start from nothing."""
        if self._loaded is None:
            try:
                recalled = await self._memories.recall(self._channel, self._user_id)
            except Exception as error:
                log.warning(
                    "%s: chat memory not read: %s", self._channel.value, type(error).__name__
                )
                recalled = ChatMemory()
            self.data = deepcopy(recalled.data)
            self.last_inbound = recalled.last_inbound
            self._loaded = deepcopy(recalled.data)
        return self

    async def save(self) -> None:
        """Write the memory back if it was read and changed (logged when it cannot be)."""
        if self._loaded is None or self.data == self._loaded:
            return
        try:
            await self._memories.keep(self._channel, self._user_id, self.data)
        except Exception as error:
            log.warning("%s: chat memory not kept: %s", self._channel.value, type(error).__name__)
        self._loaded = deepcopy(self.data)


@asynccontextmanager
async def remembering(
    memories: AbstractChatMemories, channel: Channel, user_id: str, *, lazy: bool = False
) -> AsyncIterator[Memo]:
    """A chat's memory for the block: read once before it (or, `lazy`, when the block first
    asks: `await memo.load()`), written back once after it and only when it changed. Best
    effort, as a memory of the chat always was."""
    memo = Memo(memories, channel, user_id)
    if not lazy:
        await memo.load()
    yield memo
    await memo.save()


class Typing:
    """A "typing…" indicator: `show` after `after` seconds and again every `every`, until
    cancelled. A timer, not a task: a quick turn costs one scheduled callback and no call
    to the platform."""

    def __init__(self, show: Callable[[], None], after: float, every: float) -> None:
        self._show = show
        self._every = every
        self._timer = asyncio.get_running_loop().call_later(after, self._fire)

    def _fire(self) -> None:
        self._show()
        self._timer = asyncio.get_running_loop().call_later(self._every, self._fire)

    def cancel(self) -> None:
        """Stop showing (the turn's answer is ready)."""
        self._timer.cancel()


def jittered(delay: float, spread: float = 0.2) -> float:
    """`delay` ± `spread` of it, so that many workers retrying after one failure do not
    come back in step."""
    return max(0.0, delay * (1 + random.uniform(-spread, spread)))  # noqa: S311 - not crypto


@dataclass(frozen=True)
class Retries:
    """How an adapter retries one platform call: up to `attempts` tries, waiting the
    `backoff` seconds between them, jittered by ± `spread` of each."""

    attempts: int = 3
    backoff: Sequence[float] = (1.0, 2.0, 4.0)
    spread: float = 0.2

    def delay(self, number: int) -> float:
        """Seconds to wait after failed try `number` (from 1)."""
        return jittered(self.backoff[min(number, len(self.backoff)) - 1], self.spread)

    def last(self, number: int) -> bool:
        """Whether try `number` was the last one."""
        return number >= self.attempts


_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Counter]] = (
    weakref.WeakKeyDictionary()
)


def counter(
    metrics: Metrics | None, name: str, documentation: str, labels: Sequence[str]
) -> Counter | None:
    """The counter `name` of the metrics' registry, created on first use: several adapters
    (or several instances of one, in tests) share it instead of registering it twice."""
    if metrics is None:
        return None
    from prometheus_client import Counter

    made = _COUNTERS.setdefault(metrics.registry, {})
    if name not in made:
        made[name] = Counter(name, documentation, list(labels), registry=metrics.registry)
    return made[name]


Deliver = Callable[[str, list[Reply]], Awaitable[DeliveryResult]]
Apology = Callable[[Incoming], list[Reply]]


async def run_turn(
    channel: Channel,
    handle: Handle,
    event: Incoming,
    deliver: Deliver,
    apology: Apology,
    *,
    user_id: str | None = None,
    typing: Typing | None = None,
    answer_empty: bool = False,
    redeliverable: bool = False,
) -> DeliveryResult | None:
    """One input, the same in every adapter: hand the event to the dialog (the typing
    indicator runs meanwhile), answer with an apology when it fails (the dialog apologises
    itself; this is the last safety net), send what it answers to `user_id` (default the
    event's), log an undelivered answer. None when there was nothing to send (a redelivered
    message already answered), unless `answer_empty` (an adapter whose answer does more
    than show the replies, such as Telegram's standing keyboard).

    When the database cannot be reached, a `redeliverable` adapter (its platform sends the
    update again unless answered 200) gets StoreUnavailable and sends nothing; the others
    send the apology."""
    try:
        try:
            replies = await handle(event)
        except StoreUnavailable:
            if redeliverable:
                raise
            log.warning("%s input %s: the database is unreachable", channel.value, event.update_key)
            replies = apology(event)
        except Exception:
            log.exception("%s input %s: handling failed", channel.value, event.update_key)
            replies = apology(event)
    finally:
        if typing is not None:
            typing.cancel()
    if not replies and not answer_empty:
        return None
    to = user_id if user_id is not None else event.user_id
    result = await deliver(to, replies)
    if result.status != DeliveryStatus.SENT:
        log.info(
            "%s: reply to %s not delivered (%s): %s",
            channel.value,
            mask(to),
            result.status.value,
            result.detail,
        )
    return result


@dataclass
class CollectingChannel(ChannelAdapter):
    """A channel that keeps what it is sent instead of sending it: a fake for tests, and the
    smallest complete adapter. `script` results are answered first (then SENT)."""

    channel: Channel
    sent: list[tuple[str, Push]] = field(default_factory=list)
    script: list[DeliveryResult] = field(default_factory=list)

    def register_routes(self, app: web.Application) -> None:
        """No webhook: tests call `send` (and a dialog) directly."""
        return None

    async def send(self, user_id: str, push: Push) -> DeliveryResult:
        """Record the push (when the scripted result is SENT) and answer."""
        result = self.script.pop(0) if self.script else DeliveryResult(DeliveryStatus.SENT)
        if result.status == DeliveryStatus.SENT:
            self.sent.append((user_id, push))
        return result

    def texts(self) -> list[str]:
        """The text of each push sent, its replies joined by new lines."""
        return ["\n".join(reply.text for reply in push.replies) for _, push in self.sent]


__all__ = [
    "BackgroundWork",
    "ChannelAdapter",
    "CollectingChannel",
    "DeliveryResult",
    "DeliveryStatus",
    "Handle",
    "LocalChatMemories",
    "MalformedInput",
    "Memo",
    "PhotoTooLarge",
    "Push",
    "Remembered",
    "Retries",
    "Typing",
    "counter",
    "jittered",
    "remembering",
    "run_turn",
    "split_text",
]
