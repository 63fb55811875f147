"""The operator API (`/api/v1`, bearer ADMIN_TOKEN): imports, outages, requests, export.

The functions import their modules when called, so `kabinet` commands that never serve
HTTP do not load aiohttp for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from aiohttp import web

    from bot.api.operations import Operator
    from bot.app import App


def make_operator(app: App) -> Operator:
    """The operations on the app's database, clock and bills directory (API and CLI)."""
    from bot.api.operations import Operator

    return Operator(
        uow_factory=app.uow_factory,
        clock=app.clock,
        zone=ZoneInfo(app.settings.business_timezone),
        bills_dir=Path(app.settings.bills_dir),
    )


def register_operator_api(web_app: web.Application, app: App) -> None:
    """The server's hook: /api/v1 when ADMIN_TOKEN is set, nothing otherwise."""
    from bot.api.routes import register_api_routes

    token = app.settings.admin_token.get_secret_value() if app.settings.admin_token else None
    register_api_routes(web_app, make_operator(app), token)
