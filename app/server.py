"""The HTTP server of `kabinet serve`: webhooks, health and metrics, channels on and off."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from app.compose import App, make_operator, payment_callbacks
from bot.channels.base import ChannelAdapter
from bot.channels.media import register_media_route

log = logging.getLogger(__name__)

APP_KEY = web.AppKey("kabinet_app", App)
REGISTRY_KEY = web.AppKey("kabinet_registry", CollectorRegistry)


async def healthz(request: web.Request) -> web.Response:
    """Liveness and database reachability."""
    app = request.app[APP_KEY]
    try:
        async with app.engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")
    except Exception as error:  # the probe reports any database failure as unhealthy
        log.warning("health check: database unreachable: %s", type(error).__name__)
        return web.json_response({"status": "unhealthy", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format."""
    body = generate_latest(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_web_app(app: App, channels: list[ChannelAdapter]) -> web.Application:
    """The aiohttp application with every enabled channel's routes."""
    web_app = web.Application(client_max_size=25 * 1024 * 1024)
    web_app[APP_KEY] = app
    web_app[REGISTRY_KEY] = app.metrics.registry
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    for channel in channels:
        channel.register_routes(web_app)
    register_media_route(web_app, channels)
    callbacks = payment_callbacks(app, channels)
    if callbacks is not None:
        from payments.callback import register

        register(web_app, callbacks)
    from operator_api.routes import register_api_routes  # off (404) without ADMIN_TOKEN

    token = app.settings.admin_token
    register_api_routes(web_app, make_operator(app), token.get_secret_value() if token else None)

    async def start_channels(_: web.Application) -> None:
        for channel in channels:
            await channel.start()

    async def stop_channels(_: web.Application) -> None:
        for channel in channels:
            await channel.stop()

    web_app.on_startup.append(start_channels)
    web_app.on_cleanup.append(stop_channels)
    return web_app


async def serve(app: App, channels: list[ChannelAdapter], host: str, port: int) -> None:
    """Run the server until SIGINT or SIGTERM."""
    runner = web.AppRunner(build_web_app(app, channels), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    # Everything built so far lives as long as the process: move it out of the collector's
    # sight, so full collections (the source of most p99 latency) stay short.
    gc.collect()
    gc.freeze()
    await site.start()
    names = ", ".join(channel.channel.value for channel in channels) or "none"
    log.info("listening on http://%s:%s; channels on: %s", host, port, names)
    print(f"kabinet: serving on http://{host}:{port}; channels on: {names}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
