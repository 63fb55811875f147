"""The rules of each channel, as data: one `ChannelPolicy` row per channel.

Everything that differs between channels and is not about a platform's wire format is
read from these rows: the delivery ranking (`core.delivery.rank`, and the same ranking in
SQL in `storage.outbox`), which channels a person may choose in the settings screen, the
default send rate of the delivery workers, the message tag a push may carry past a
session window, and the source recorded for a reading submitted in the channel.

A new channel adds its row with `register_channel` (a deployment's composition root, or a
test) without editing this module; its `Channel` value is declared by the registration.
Values are stored in the database as the plain strings, so a registered channel needs no
migration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from types import MappingProxyType

from core.model import Channel, ReadingSource, Topic

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class ChannelPolicy:
    """How pushes and readings behave on one channel.

    - `channel`: the stored name ("telegram").
    - `messenger`: people write to us there (a channel identity); False for an address
      channel such as e-mail, which only carries pushes, last, and only when chosen.
    - `session`: the window after the person's last message in which pushes are free
      (Viber's session, Messenger's 24-hour window); None: no window, pushes are free.
    - `billed`: outside the session every message is billed (Viber); still allowed.
    - `tags`: topic → the message tag that may carry it past the session window
      (Messenger's ACCOUNT_UPDATE); a topic without a tag may not go out there.
    - `offered`: listed among the person's choices in the notification settings; a
      messenger that is not (the console, the operator's terminal) follows any choice of
      a messenger.
    - `rate`: default sends per second of the delivery workers.
    - `reading_source`: the source a reading submitted in this channel records (default:
      the channel's own name; None for an address channel).
    """

    channel: str
    messenger: bool = True
    session: timedelta | None = None
    billed: bool = False
    tags: Mapping[Topic, str] = field(default_factory=dict)
    offered: bool = True
    rate: float = 10.0
    reading_source: str | None = None

    def tag(self, topic: Topic | str | None) -> str | None:
        """The message tag a push of `topic` carries outside the session, if any."""
        if topic is None:
            return None
        try:
            return self.tags.get(Topic(topic))
        except ValueError:
            return None


_POLICIES: dict[Channel, ChannelPolicy] = {}


def register_channel(policy: ChannelPolicy) -> ChannelPolicy:
    """Add (or replace) a channel's row, declaring its `Channel` value and, for a
    messenger, its reading source; returns the row as stored (typed values)."""
    channel = Channel.declare(str.__str__(policy.channel))
    source = None
    if policy.messenger:
        source = ReadingSource.declare(policy.reading_source or channel.value)
    stored = replace(
        policy,
        channel=channel,
        tags=MappingProxyType({Topic(t): tag for t, tag in policy.tags.items()}),
        reading_source=source,
    )
    _POLICIES[channel] = stored
    return stored


def unregister_channel(name: str) -> None:
    """Remove a registered channel's row and values (a test's channel, when it ends)."""
    policy = _POLICIES.pop(Channel(name), None)
    if policy is None:
        return
    if policy.reading_source is not None and policy.reading_source not in _BUILT_IN_SOURCES:
        ReadingSource.withdraw(policy.reading_source)
    Channel.withdraw(name)


def policy_of(channel: Channel | str) -> ChannelPolicy:
    """The row of `channel` (KeyError for a channel without one)."""
    return _POLICIES[Channel(channel)]


def policies() -> tuple[ChannelPolicy, ...]:
    """Every row, in registration order."""
    return tuple(_POLICIES.values())


def messengers() -> tuple[Channel, ...]:
    """Channels people write to us in (every channel but the address ones)."""
    return tuple(channel for channel, p in _POLICIES.items() if p.messenger)


def offered_messengers() -> tuple[Channel, ...]:
    """Messengers a person can choose in the settings screen."""
    return tuple(channel for channel, p in _POLICIES.items() if p.messenger and p.offered)


def default_rates() -> dict[Channel, float]:
    """Default sends per second of each channel's delivery worker."""
    return {channel: p.rate for channel, p in _POLICIES.items()}


# The built-in rows. Rates: Telegram's FAQ says about 30 messages a second to different
# chats; Viber publishes no per-second limit (broadcast allows 500 requests / 10 s);
# Messenger's Send API allows 300 calls/s per Page for text, kept with headroom.
register_channel(ChannelPolicy("telegram", rate=30.0))
register_channel(ChannelPolicy("viber", session=DAY, billed=True, rate=50.0))
# Meta allows tags only for what they describe (no promotions): ACCOUNT_UPDATE fits a new
# bill or a payment on the account; reminders and outage alerts have no fitting tag.
register_channel(
    ChannelPolicy(
        "messenger",
        session=DAY,
        tags={Topic.NEW_BILLS: "ACCOUNT_UPDATE", Topic.PAYMENTS: "ACCOUNT_UPDATE"},
        rate=250.0,
    )
)
register_channel(ChannelPolicy("console", offered=False, rate=1000.0))
register_channel(ChannelPolicy("email", messenger=False, rate=10.0))

_BUILT_IN_SOURCES = frozenset(ReadingSource)
