"""The Facebook Messenger channel: Graph API webhooks in (`inbound`), the dialog, the Send
API out (`outbound`); the adapter itself in `channel`."""

from __future__ import annotations

from bot.channels.messenger.channel import WEBHOOK_PATH, MessengerChannel
from bot.channels.messenger.inbound import signature_valid
from bot.channels.messenger.outbound import render, shorten

__all__ = ["WEBHOOK_PATH", "MessengerChannel", "render", "shorten", "signature_valid"]
