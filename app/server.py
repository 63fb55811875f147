"""The HTTP server of `kabinet serve`: webhooks, probes and metrics, channels on and off."""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from app.compose import App, make_operator, payment_callbacks
from bot.channels.base import ChannelAdapter, MalformedInput
from bot.channels.media import register_media_route
from observability.logs import foreign_id, log_ids, new_id
from storage.migrate import schema_state

log = logging.getLogger(__name__)

APP_KEY = web.AppKey("kabinet_app", App)
REGISTRY_KEY = web.AppKey("kabinet_registry", CollectorRegistry)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# A probe that cannot get an answer in this time reports the database unreachable rather
# than hanging past the orchestrator's own probe timeout.
PROBE_TIMEOUT_SECONDS = 5.0


@web.middleware
async def request_ids(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every request gets an id (the proxy's X-Request-Id when it sends a usable one) that
    the log lines of its work carry and the answer returns."""
    request_id = foreign_id(request.headers.get("X-Request-Id")) or new_id()
    with log_ids(request_id=request_id):
        try:
            response = await handler(request)
        except web.HTTPException as error:
            error.headers["X-Request-Id"] = request_id
            raise
    response.headers["X-Request-Id"] = request_id
    return response


# What malformed input raises where it is read: bytes that are not UTF-8 in a header or a
# body (aiohttp keeps undecodable header bytes as surrogates, which fail on .encode()), JSON
# nested deeper than the interpreter's stack, and the shape checks of each protocol.
MALFORMED = (UnicodeError, RecursionError, MalformedInput)


@web.middleware
async def refuse_malformed(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Malformed input from outside is a 400 and one warning line, never a 500 with a
    traceback: whoever sent it learns nothing, and the log is not flooded."""
    try:
        return await handler(request)
    except MALFORMED as error:
        # The route's pattern, not the path: the path is the sender's text.
        route = request.match_info.route.resource
        where = route.canonical if route is not None else "?"
        log.warning(
            "%s %s: malformed input refused (%s)", request.method, where, type(error).__name__
        )
        return web.json_response({"error": "bad_request", "message": "malformed input"}, status=400)


async def livez(_: web.Request) -> web.Response:
    """Liveness: the process answers. No database: an outage of it must not restart pods."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers and its schema is the one this code needs.

    A database migrated by a newer release (a revision this code does not know) is ready:
    during a rolling update the old replicas keep serving until they are replaced.
    """
    app = request.app[APP_KEY]
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            state = await schema_state(app.engine)
    except Exception as error:  # the probe reports any database failure as not ready
        log.warning("readiness: database unreachable: %s", type(error).__name__)
        return web.json_response({"status": "unhealthy", "database": "unreachable"}, status=503)
    if state.behind:
        body = {
            "status": "unhealthy",
            "database": "ok",
            "migrations": "behind",
            "revision": state.current,
            "head": state.head,
        }
        return web.json_response(body, status=503)
    return web.json_response({"status": "ok"})


def metrics_route(token: str | None) -> Handler:
    """/metrics in Prometheus text format behind `Authorization: Bearer <token>`; without a
    token configured the route answers 404, as if it did not exist."""
    expected = f"Bearer {token}".encode() if token else None

    async def metrics(request: web.Request) -> web.Response:
        if expected is None:
            raise web.HTTPNotFound()
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": "Bearer"})
        body = generate_latest(request.app[REGISTRY_KEY])
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics


def build_web_app(app: App, channels: list[ChannelAdapter]) -> web.Application:
    """The aiohttp application with every enabled channel's routes."""
    web_app = web.Application(
        client_max_size=25 * 1024 * 1024, middlewares=[request_ids, refuse_malformed]
    )
    web_app[APP_KEY] = app
    web_app[REGISTRY_KEY] = app.metrics.registry
    web_app.router.add_get("/livez", livez)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/healthz", readyz)  # the old name, kept for existing probes
    metrics_token = app.settings.metrics_token
    web_app.router.add_get(
        "/metrics", metrics_route(metrics_token.get_secret_value() if metrics_token else None)
    )
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


async def serve(
    app: App,
    channels: list[ChannelAdapter],
    host: str,
    port: int,
    before_channels_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run the server until SIGINT or SIGTERM. `before_channels_stop` runs first when it
    stops (the delivery workers finishing the batches in hand), while the channels can
    still send: a channel closed under a push in flight would see its call cut, retry it,
    and the person would get the message twice."""
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
        try:
            if before_channels_stop is not None:
                await before_channels_stop()
        finally:
            await runner.cleanup()
