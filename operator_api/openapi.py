"""The OpenAPI 3.1 document of the operator API, generated from the route table's models.

Nothing here is written by hand per endpoint: each `Endpoint` names its body, query and
response models, and the JSON Schemas come from pydantic. A new endpoint (the outage
schedules of issue 8, say) appears in the document by being added to the table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from operator_api.models import ErrorOut

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JsonMode = Literal["validation", "serialization"]


@dataclass(frozen=True)
class Endpoint:
    """One route: how it is called, what it takes and what it answers."""

    method: str
    path: str  # OpenAPI style: /api/v1/outages/{outage_id}
    handler: Handler
    summary: str
    operation_id: str
    tag: str
    body: type[BaseModel] | None = None
    body_required: bool = True
    csv_body: bool = False  # also accepts text/csv
    raw_body: str | None = None  # a media type taken as bytes (application/pdf)
    query: type[BaseModel] | None = None
    path_params: tuple[tuple[str, dict[str, Any]], ...] = ()
    responses: dict[int, tuple[type[BaseModel] | None, str]] = field(default_factory=dict)
    extra_content: dict[int, dict[str, Any]] = field(default_factory=dict)


_ERRORS = {
    401: "missing or wrong bearer token",
}


def _models(endpoints: Sequence[Endpoint]) -> list[tuple[type[BaseModel], JsonMode]]:
    seen: list[tuple[type[BaseModel], JsonMode]] = [(ErrorOut, "serialization")]
    for endpoint in endpoints:
        if endpoint.body is not None:
            seen.append((endpoint.body, "validation"))
        for model, _ in endpoint.responses.values():
            if model is not None:
                seen.append((model, "serialization"))
    unique: list[tuple[type[BaseModel], JsonMode]] = []
    for item in seen:
        if item not in unique:
            unique.append(item)
    return unique


def build_document(endpoints: Sequence[Endpoint], version: str = "1") -> dict[str, Any]:
    """The OpenAPI document for these endpoints."""
    models = _models(endpoints)
    refs, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))

    def ref(model: type[BaseModel], mode: JsonMode) -> dict[str, Any]:
        return refs[(model, mode)]

    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        operation: dict[str, Any] = {
            "operationId": endpoint.operation_id,
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": schema}
                for name, schema in endpoint.path_params
            ],
            "responses": {},
        }
        if endpoint.query is not None:
            operation["parameters"].extend(_query_parameters(endpoint.query))
        if endpoint.body is not None or endpoint.raw_body is not None:
            content: dict[str, Any] = {}
            if endpoint.body is not None:
                content["application/json"] = {"schema": ref(endpoint.body, "validation")}
            if endpoint.csv_body:
                content["text/csv"] = {"schema": {"type": "string"}}
            if endpoint.raw_body is not None:
                content[endpoint.raw_body] = {
                    "schema": {"type": "string", "contentMediaType": endpoint.raw_body}
                }
            operation["requestBody"] = {"required": endpoint.body_required, "content": content}
        for status, (model, description) in sorted(endpoint.responses.items()):
            response: dict[str, Any] = {"description": description}
            if model is not None:
                response["content"] = {"application/json": {"schema": ref(model, "serialization")}}
            response.setdefault("content", {}).update(endpoint.extra_content.get(status, {}))
            if not response["content"]:
                del response["content"]
            operation["responses"][str(status)] = response
        for status, description in _ERRORS.items():
            operation["responses"].setdefault(
                str(status),
                {
                    "description": description,
                    "content": {"application/json": {"schema": ref(ErrorOut, "serialization")}},
                },
            )
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kabinet operator API",
            "version": version,
            "description": (
                "Imports from billing, outages, schedules, the queues of call-centre "
                "requests, free-service orders and technical-support requests (answers are "
                "stored, shown in the person's chat and pushed), and the export of submitted "
                "readings. Every call needs `Authorization: Bearer $ADMIN_TOKEN`."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", ()))
    definitions = schema.get("$defs", {})
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        # Enums in query strings: inline them, a parameter schema has no $defs of its own.
        if "$ref" in prop:
            prop = dict(definitions[prop["$ref"].rsplit("/", 1)[-1]])
        # An optional parameter is left out rather than sent as null: drop the null option.
        options = [
            definitions[option["$ref"].rsplit("/", 1)[-1]] if "$ref" in option else option
            for option in prop.pop("anyOf", [])
            if option.get("type") != "null"
        ]
        if len(options) == 1:
            prop.update(options[0])
        elif options:
            prop["anyOf"] = options
        if prop.get("default", "") is None:
            del prop["default"]
        description = prop.pop("description", None)
        prop.pop("title", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters
