"""Every conversation flow, written once against the neutral model."""

from __future__ import annotations

from bot.handlers import accounts, balance, cabinet, history, readings, start
from bot.handlers.keyboards import WORDS
from bot.handlers.router import Router


def build_router() -> Router:
    """All flows' actions and steps in one router."""
    router = Router()
    for module in (start, accounts, readings, balance, cabinet, history):
        router.include(module.router)
    return router


__all__ = ["WORDS", "build_router"]
