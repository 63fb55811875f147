"""Rules of push delivery, pure: which channel carries a push to a person, and when to retry.

The ranking is derived from the channel rows of `core.channels`, here for one person
(re-routing after a failure, tests) and in storage's set-based INSERT ... SELECT for a
broadcast (`storage.outbox`, from the same rows). `tests/pushes` checks that both agree.

Channel cost, cheapest first (the built-in rows in brackets):
- a messenger without a session window: free, any time (Telegram, the console);
- a messenger inside its session window (the person wrote in the last 24 h): free (Viber,
  Messenger);
- outside the window, a billed messenger: allowed, but every message is billed (Viber);
- outside the window, a topic the channel has a message tag for (Messenger's
  ACCOUNT_UPDATE: a new bill or a payment on the account); any other topic may not go;
- an address channel: last, and only when the person chose it and gave an address (e-mail).

Only channels that are on in the installation count for a person's choice (`on`): a
chosen channel that is off is passed over, and when nothing they chose is on, pushes fall
back to every messenger they use (see `allowed_channels`). A messenger that is off ranks
after every channel that is on: its push waits (pending) only when nothing else can carry
it, until the channel is on again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.channels import messengers, offered_messengers, policy_of
from core.model import Channel, NotificationPrefs, Topic

SWITCHABLE = frozenset(
    {Topic.OUTAGES_PLANNED, Topic.OUTAGES_EMERGENCY, Topic.NEW_BILLS, Topic.READING_REMINDERS}
)

# Ranks; storage's SQL uses the same numbers.
RANK_FREE = 0
RANK_IN_SESSION = 1
RANK_BILLED = 2
RANK_TAGGED = 3
RANK_EMAIL = 4
RANK_OFF = 10  # added for a channel that is off in the installation

# Priority lanes of the outbox, most urgent first: every worker claims a higher lane before
# a lower one (storage.outbox stores the lane with each row; migration 0008 spells the same
# numbers out for rows queued before it).
LANE_EMERGENCY = 0
LANE_PLANNED = 1  # planned outages and outage schedules
LANE_ANSWERS = 2  # payment confirmations and answers to requests
LANE_ROUTINE = 3  # new bills and reading reminders
LANES = {
    Topic.OUTAGES_EMERGENCY: LANE_EMERGENCY,
    Topic.OUTAGES_PLANNED: LANE_PLANNED,
    Topic.PAYMENTS: LANE_ANSWERS,
    Topic.ANSWERS: LANE_ANSWERS,
    Topic.NEW_BILLS: LANE_ROUTINE,
    Topic.READING_REMINDERS: LANE_ROUTINE,
}


def lane_of(topic: Topic | str | None) -> int:
    """The priority lane of a push of `topic` (a topic without one rides with the answers)."""
    try:
        return LANES.get(Topic(topic), LANE_ANSWERS) if topic else LANE_ANSWERS
    except ValueError:
        return LANE_ANSWERS


def wants(prefs: NotificationPrefs | None, topic: Topic | str) -> bool:
    """Whether the person wants pushes of this topic (no settings yet: every topic)."""
    topic = Topic(topic)
    if prefs is None or topic not in SWITCHABLE:
        return True
    return bool(getattr(prefs, topic.value))


def allowed_channels(
    prefs: NotificationPrefs | None,
    topic: Topic | str = Topic.ANSWERS,
    on: Collection[Channel] | None = None,
) -> frozenset[Channel]:
    """Channels the person lets us push this topic to; `on` are the channels that are on in
    the installation (None: every channel).

    - No settings yet: every messenger they use. E-mail only when chosen: an address given
      for a receipt is no consent to alerts.
    - Their choice, where it is on (the console, the operator's and the demo's terminal,
      follows a chosen messenger).
    - A choice of channels that are all off now (Viber's credentials removed, SMTP not
      configured): every messenger they use, as without settings; never silently nothing.
    - Every channel turned off (they confirmed it): nothing of the switchable topics; a
      payment confirmation or an answer to their request still reaches their messengers.
    """
    usable = frozenset(Channel) if on is None else frozenset(on)
    every_messenger = frozenset(messengers())
    if prefs is None:
        return every_messenger
    chosen = set(prefs.channels) & usable
    if chosen & set(offered_messengers()):
        chosen |= every_messenger - set(offered_messengers())
    if chosen:
        return frozenset(chosen)
    if prefs.channels or Topic(topic) not in SWITCHABLE:
        return every_messenger
    return frozenset()


def rank(
    channel: Channel, topic: Topic | str, last_inbound: datetime | None, now: datetime
) -> int | None:
    """The cost rank of pushing `topic` on `channel` now; None when the channel may not
    (from the channel's row in `core.channels`; a channel without one may not)."""
    try:
        policy = policy_of(channel)
    except (KeyError, ValueError):
        return None
    if not policy.messenger:
        return RANK_EMAIL
    if policy.session is None:
        return RANK_BILLED if policy.billed else RANK_FREE
    if last_inbound is not None and now - last_inbound < policy.session:
        return RANK_IN_SESSION
    if policy.billed:
        return RANK_BILLED
    return RANK_TAGGED if policy.tag(topic) is not None else None


@dataclass(frozen=True)
class Route:
    """One way to reach a person: a messenger identity, or e-mail (identity_id None)."""

    channel: Channel
    identity_id: int | None
    last_inbound: datetime | None = None
    reachable: bool = True


def choose_route(
    routes: Iterable[Route],
    prefs: NotificationPrefs | None,
    topic: Topic | str,
    now: datetime,
    exclude: Iterable[Channel] = (),
    on: Collection[Channel] | None = None,
) -> Route | None:
    """The cheapest route allowed for this push now, or None (opted out, nothing left).

    `on`: the channels that are on in this installation (None: every channel)."""
    if not wants(prefs, topic):
        return None
    allowed = allowed_channels(prefs, topic, on) - set(exclude)
    best: tuple[int, int, Route] | None = None
    for route in routes:
        if not route.reachable or route.channel not in allowed:
            continue
        cost = rank(route.channel, topic, route.last_inbound, now)
        if cost is None:
            continue
        if on is not None and route.channel not in on:
            # A messenger that is off here waits for it to come back: the last resort.
            cost += RANK_OFF
        key = (cost, route.identity_id or 0, route)
        if best is None or key[:2] < best[:2]:
            best = key
    return best[2] if best else None


@dataclass(frozen=True)
class RetryPolicy:
    """Network errors back off exponentially up to a cap; a platform's 429 says how long."""

    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    max_attempts: int = 8

    def delay(self, attempt: int, retry_after: float = 0.0) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        backoff = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        return max(backoff if retry_after <= 0 else 0.0, retry_after)

    def gives_up(self, attempt: int) -> bool:
        """After this many failed attempts the push is recorded as failed."""
        return attempt >= self.max_attempts


STARS_PER_PAID_MESSAGE = Decimal("0.1")
"""Telegram's fee for a message sent with allow_paid_broadcast, in Stars."""


@dataclass(frozen=True)
class PaidEstimate:
    """What a broadcast's paid sends will cost: messages and Telegram Stars."""

    messages: int = 0
    stars: Decimal = Decimal("0.0")


def paid_estimate(
    queued: Mapping[tuple[Channel, str], int], paid_topics: Mapping[Channel, Collection[str]]
) -> PaidEstimate:
    """The cost of the queued pushes (per (channel, topic)) whose topic the operator chose
    to send paid on their channel. An estimate: a push that falls back to the free rate
    (the balance ran out) or is re-routed costs nothing."""
    messages = sum(
        count for (channel, topic), count in queued.items() if topic in paid_topics.get(channel, ())
    )
    return PaidEstimate(messages, STARS_PER_PAID_MESSAGE * messages)
