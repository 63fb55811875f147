"""Every conversation flow, written once against the neutral model."""

from __future__ import annotations

from bot.handlers import (
    accounts,
    balance,
    bills,
    cabinet,
    history,
    outages,
    pay,
    photo,
    readings,
    requests,
    schedule,
    settings,
    start,
)
from bot.handlers.router import Router
from bot.menu import WORDS


def build_router() -> Router:
    """All flows' actions and steps in one router."""
    router = Router()
    for module in (
        start,
        accounts,
        readings,
        balance,
        cabinet,
        history,
        bills,
        pay,
        requests,
        outages,
        schedule,
        settings,
        photo,
    ):
        router.include(module.router)
    return router


__all__ = ["WORDS", "build_router"]
