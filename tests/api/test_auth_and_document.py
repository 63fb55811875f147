"""Bearer auth on every route, the API off without ADMIN_TOKEN, the generated document."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from app.compose import build_app
from app.server import build_web_app
from core.clock import FrozenClock
from operator_api.routes import OPENAPI_PATH, endpoints
from tests.api.conftest import NOW, TOKEN, Api, settings_for


def _concrete(path: str) -> str:
    return (
        path.replace("{outage_id}", "1")
        .replace("{request_id}", "1")
        .replace("{order_id}", "1")
        .replace("{account_number}", "2010000232")
        .replace("{period}", "2026-10")
    )


ROUTES = [(e.method, _concrete(e.path)) for e in endpoints()] + [("GET", OPENAPI_PATH)]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", f"bearer{TOKEN}"],
)
async def test_every_route_refuses_a_missing_or_wrong_token(
    api: Api, authorization: str | None, dialect_name: str
) -> None:
    if dialect_name != "sqlite":
        pytest.skip("auth does not depend on the database; SQLite covers it")
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in ROUTES:
        response = await api.client.request(method, path, headers=headers)
        assert response.status == 401, (method, path)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = await response.json()
        assert body["error"] == "unauthorized"


async def test_the_scheme_is_case_insensitive(api: Api) -> None:
    response = await api.client.get(OPENAPI_PATH, headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status == 200


@pytest.mark.parametrize("token", [None, ""])
async def test_without_admin_token_the_api_does_not_exist(
    database_url: str, tmp_path: Path, token: str | None
) -> None:
    app = await build_app(settings_for(database_url, tmp_path, token=token), clock=FrozenClock(NOW))
    client = TestClient(TestServer(build_web_app(app, []), host="127.0.0.1"))
    await client.start_server()
    try:
        for method, path in ROUTES:
            for headers in ({}, {"Authorization": f"Bearer {token}"}, {"Authorization": "Bearer "}):
                response = await client.request(method, path, headers=headers)
                assert response.status == 404, (method, path, headers)
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()
        await app.close()


async def test_the_document_is_generated_from_the_models(api: Api) -> None:
    document = await api.call("GET", OPENAPI_PATH, status=200)
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for endpoint in endpoints():
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        assert operation["operationId"] == endpoint.operation_id
        assert "401" in operation["responses"]
    schemas = document["components"]["schemas"]
    # pydantic wrote these: fields, types and constraints come from the classes.
    assert set(schemas["AccountRowIn"]["required"]) >= {"number", "eic", "dso_id"}
    assert schemas["OutageIn"]["properties"]["targets"]["minItems"] == 1
    imports = document["paths"]["/api/v1/imports/bills"]["post"]["requestBody"]["content"]
    assert set(imports) == {"application/json", "text/csv"}
    export = document["paths"]["/api/v1/readings/submitted"]["get"]
    assert {p["name"] for p in export["parameters"]} >= {"since", "until", "format"}
    assert "text/csv" in export["responses"]["200"]["content"]
