"""The channel rows of core.channels and the open `Channel` / `ReadingSource` values."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest

from core.channels import (
    ChannelPolicy,
    default_rates,
    messengers,
    offered_messengers,
    policy_of,
    register_channel,
    unregister_channel,
)
from core.delivery import RANK_BILLED, RANK_EMAIL, RANK_FREE, RANK_IN_SESSION, RANK_TAGGED, rank
from core.model import Channel, ReadingSource, Topic

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


def test_channel_values_behave_like_the_enum_they_were() -> None:
    assert Channel("viber") is Channel.VIBER and Channel.VIBER == "viber"
    assert Channel.VIBER.value == "viber" and f"{Channel.VIBER}" == "viber"
    assert [c.value for c in Channel] == ["telegram", "viber", "messenger", "console", "email"]
    assert "messenger" in Channel and "pager" not in Channel
    assert pickle.loads(pickle.dumps(Channel.MESSENGER)) is Channel.MESSENGER
    with pytest.raises(ValueError):
        Channel("pager")
    with pytest.raises(ValueError):
        ReadingSource("pager")


def test_the_built_in_rows_give_the_ranking_of_the_readme() -> None:
    recent, old = NOW - timedelta(hours=1), NOW - timedelta(days=2)
    bill, alert = Topic.NEW_BILLS, Topic.OUTAGES_EMERGENCY
    assert rank(Channel.TELEGRAM, alert, None, NOW) == RANK_FREE
    assert rank(Channel.CONSOLE, alert, None, NOW) == RANK_FREE
    assert rank(Channel.VIBER, alert, recent, NOW) == RANK_IN_SESSION
    assert rank(Channel.VIBER, alert, old, NOW) == RANK_BILLED
    assert rank(Channel.MESSENGER, alert, recent, NOW) == RANK_IN_SESSION
    assert rank(Channel.MESSENGER, bill, old, NOW) == RANK_TAGGED
    assert rank(Channel.MESSENGER, alert, old, NOW) is None
    assert rank(Channel.EMAIL, alert, None, NOW) == RANK_EMAIL
    assert policy_of(Channel.MESSENGER).tag(Topic.PAYMENTS) == "ACCOUNT_UPDATE"
    assert policy_of(Channel.MESSENGER).tag(Topic.READING_REMINDERS) is None
    assert Channel.EMAIL not in messengers() and Channel.CONSOLE not in offered_messengers()
    assert default_rates()[Channel.TELEGRAM] == 30.0


def test_a_registered_channel_comes_and_goes_with_its_row() -> None:
    stored = register_channel(ChannelPolicy("pager", billed=True, rate=3.0))
    try:
        assert isinstance(stored.channel, Channel) and Channel("pager") is stored.channel
        assert ReadingSource(Channel("pager").value) == stored.reading_source
        assert rank(Channel("pager"), Topic.OUTAGES_PLANNED, None, NOW) == RANK_BILLED
        assert Channel("pager") in messengers() and default_rates()[Channel("pager")] == 3.0
    finally:
        unregister_channel("pager")
    assert "pager" not in Channel and "pager" not in ReadingSource
    assert rank("pager", Topic.OUTAGES_PLANNED, None, NOW) is None  # type: ignore[arg-type]
