"""The operator API (`/api/v1`, bearer ADMIN_TOKEN): imports, outages, requests, export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.api.operations import Operator
from bot.api.routes import register_api_routes

if TYPE_CHECKING:
    from bot.app import App


def make_operator(app: App) -> Operator:
    """The operations on the app's database, clock and bills directory (API and CLI)."""
    return Operator(
        uow_factory=app.uow_factory,
        clock=app.clock,
        zone=ZoneInfo(app.settings.business_timezone),
        bills_dir=Path(app.settings.bills_dir),
    )


def register_operator_api(web_app: web.Application, app: App) -> None:
    """The server's hook: /api/v1 when ADMIN_TOKEN is set, nothing otherwise."""
    token = app.settings.admin_token.get_secret_value() if app.settings.admin_token else None
    register_api_routes(web_app, make_operator(app), token)
