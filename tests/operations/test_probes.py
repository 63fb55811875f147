"""/livez, /readyz (and /healthz), /metrics behind its token, request ids: on SQLite and
PostgreSQL, through aiohttp's test client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from app.compose import build_app
from app.server import build_web_app
from app.settings import Settings
from storage.database import make_engine
from storage.migrate import migrate

METRICS_TOKEN = "metrics-token-for-tests"


def _settings(database_url: str, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        database_url=database_url,
        bills_dir=str(tmp_path / "bills"),
        photos_dir=str(tmp_path / "photos"),
        ocr_workers=0,
        _env_file=None,  # type: ignore[call-arg]
        **extra,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[TestClient]:
    app = await build_app(settings)
    client = TestClient(TestServer(build_web_app(app, []), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await app.close()


async def _probe(client: TestClient, path: str) -> tuple[int, dict[str, object]]:
    response = await client.get(path)
    return response.status, await response.json()


async def test_probes_on_a_database_at_head(database_url: str, tmp_path: Path) -> None:
    async with _client(_settings(database_url, tmp_path)) as client:
        assert await _probe(client, "/livez") == (200, {"status": "ok"})
        assert await _probe(client, "/readyz") == (200, {"status": "ok"})
        assert await _probe(client, "/healthz") == (200, {"status": "ok"})


async def test_not_ready_until_migrated_and_ready_on_a_newer_schema(
    fresh_database_url: str, tmp_path: Path
) -> None:
    async with _client(_settings(fresh_database_url, tmp_path)) as client:
        status, body = await _probe(client, "/readyz")
        assert status == 503
        assert body["migrations"] == "behind" and body["revision"] is None
        assert body["database"] == "ok" and str(body["head"])
        assert (await client.get("/healthz")).status == 503
        assert (await client.get("/livez")).status == 200

        engine = make_engine(fresh_database_url)
        try:
            await migrate(engine)
            assert await _probe(client, "/readyz") == (200, {"status": "ok"})
            head = body["head"]
            async with engine.begin() as connection:
                await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
            status, behind = await _probe(client, "/readyz")
            assert status == 503 and behind["revision"] == "0001" and behind["head"] == head
            # A newer release migrated the database (rolling update): still ready.
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE alembic_version SET version_num = 'fffffffffff9'")
                )
            assert await _probe(client, "/readyz") == (200, {"status": "ok"})
        finally:
            await engine.dispose()


async def test_an_unreachable_database_is_not_ready_but_alive(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://kabinet@127.0.0.1:1/kabinet"
    async with _client(_settings(url, tmp_path)) as client:
        assert await _probe(client, "/livez") == (200, {"status": "ok"})
        unreachable = {"status": "unhealthy", "database": "unreachable"}
        assert await _probe(client, "/readyz") == (503, unreachable)
        assert await _probe(client, "/healthz") == (503, unreachable)


async def test_metrics_answer_only_with_their_token(database_url: str, tmp_path: Path) -> None:
    async with _client(_settings(database_url, tmp_path)) as client:
        assert (await client.get("/metrics")).status == 404
        bearer = {"Authorization": "Bearer anything"}
        assert (await client.get("/metrics", headers=bearer)).status == 404

    settings = _settings(database_url, tmp_path, metrics_token=METRICS_TOKEN)
    async with _client(settings) as client:
        wrong: list[dict[str, str]] = [
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": METRICS_TOKEN},
            {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        ]
        for headers in wrong:
            response = await client.get("/metrics", headers=headers)
            assert response.status == 401, headers
            assert response.headers["WWW-Authenticate"] == "Bearer"
        response = await client.get(
            "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        assert response.status == 200
        assert "kabinet_inbound_total" in await response.text()


async def test_every_answer_carries_a_request_id(database_url: str, tmp_path: Path) -> None:
    async with _client(_settings(database_url, tmp_path)) as client:
        first = (await client.get("/livez")).headers["X-Request-Id"]
        second = (await client.get("/metrics")).headers["X-Request-Id"]  # a 404 too
        assert first and second and first != second
        given = await client.get("/livez", headers={"X-Request-Id": "proxy-abc.1"})
        assert given.headers["X-Request-Id"] == "proxy-abc.1"
        odd = await client.get("/livez", headers={"X-Request-Id": "no spaces please"})
        assert odd.headers["X-Request-Id"] != "no spaces please"


async def test_the_pool_size_reaches_the_engine(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://kabinet@127.0.0.1:1/kabinet"
    settings = _settings(url, tmp_path, database_pool_size=7, database_max_overflow=3)
    app = await build_app(settings)  # builds the engine, connects to nothing
    try:
        pool = app.engine.pool
        assert pool.size() == 7  # type: ignore[attr-defined]
        assert pool._max_overflow == 3  # type: ignore[attr-defined]
    finally:
        await app.close()
