"""The Telegram channel (aiogram 3): webhook or polling, every flow, nothing Telegram-only leaks."""

from __future__ import annotations

from bot.channels.telegram.channel import WEBHOOK_PATH, TelegramChannel

__all__ = ["WEBHOOK_PATH", "TelegramChannel"]
