"""The operator API's HTTP routes under /api/v1: thin adapters over `operator_api.operations`.

Each handler validates its input with the pydantic models, calls one operation and answers
JSON (or CSV for the readings export). Every route checks the bearer token first, in
constant time; with ADMIN_TOKEN empty no route is registered at all, so the API answers 404
as if it did not exist. Bad input is a 400 naming the field (or the line of a batch) and
the reason; unknown ids are 404; conflicts 409. Secrets and personal data stay out of logs.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import tempfile
from collections.abc import Awaitable, Callable
from typing import IO, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError

from core.imports import ImportKind
from core.model import RequestStatus
from core.ports import StoreUnavailable
from operator_api import models as m
from operator_api import schedules, strict_json
from operator_api.openapi import Endpoint, build_document
from operator_api.operations import (
    EXPORT_COLUMNS,
    Format,
    Operator,
    OperatorError,
    not_found,
    readings_csv,
)
from storage.database import unavailable

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
OPERATOR_KEY = web.AppKey("kabinet_operator", Operator)
# What a 503 (the database unreachable) asks the caller to wait, in seconds.
RETRY_AFTER_SECONDS = 5
_LARGE_EXPORT = 2000  # rows above which the answer is serialised off the event loop
_SPOOL_IN_MEMORY = 1024 * 1024  # bytes of an import body kept in memory; more go to disk
_SPOOL_CHUNK = 256 * 1024

ModelT = TypeVar("ModelT", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- answers -------------------------------------------------------------------------------


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        text=model.model_dump_json(), status=status, content_type="application/json"
    )


def _error(status: int, error: str, message: str, problems: list[m.ProblemOut] | None = None,
           headers: dict[str, str] | None = None) -> web.Response:  # fmt: skip
    body = m.ErrorOut(error=error, message=message, problems=problems or [])
    response = _json(body, status)
    if headers:
        response.headers.update(headers)
    return response


def _operator_error(error: OperatorError) -> web.Response:
    problems = [
        m.ProblemOut(line=p.line or None, field=p.field, reason=p.reason) for p in error.problems
    ]
    if error.report is not None:
        body = m.ImportErrorOut(
            error=error.error,
            message=error.message,
            problems=problems,
            report=m.ImportReportOut.of(error.report),
        )
        return _json(body, error.status)
    return _error(error.status, error.error, error.message, problems)


def _validation_error(error: ValidationError, where: str) -> web.Response:
    problems = [
        m.ProblemOut(
            field=".".join(str(part) for part in item["loc"]) or where,
            reason=item["msg"],
        )
        for item in error.errors(include_url=False, include_input=False)[:100]
    ]
    return _error(400, "bad_request", f"invalid {where}", problems)


def guarded(token: str, handler: Handler) -> Handler:
    """The handler behind the bearer-token check and the error translation."""
    expected = token.encode()

    async def guard(request: web.Request) -> web.StreamResponse:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        # compare_digest: the time taken tells nothing about how much of a guess was right.
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return _error(
                401, "unauthorized", "a valid bearer token is required",
                headers={"WWW-Authenticate": 'Bearer realm="kabinet"'},
            )  # fmt: skip
        try:
            return await handler(request)
        except OperatorError as error:
            return _operator_error(error)
        except _BadInput as bad:
            return bad.response
        except web.HTTPRequestEntityTooLarge:
            # aiohttp's own limit (client_max_size) on reading the body: answer in JSON too.
            return _error(413, "too_large", "the request body is too large")
        except IntegrityError:
            # Two writers raced on one natural key; the operator retries and gets a clean
            # answer. Never a 500 for input that was valid a moment ago.
            log.warning("operator API: conflicting concurrent write on %s", request.path)
            return _error(409, "conflict", "changed by another request at the same time; retry")
        except Exception as error:
            # Down, restarting, refusing connections, its pool exhausted: the request did
            # nothing and may succeed in a moment, so 503 with a pause, not a 500.
            if not (isinstance(error, StoreUnavailable) or unavailable(error)):
                raise
            log.warning("operator API: database unavailable: %s", type(error).__name__)
            return _error(
                503, "unavailable", "the database is busy or unreachable; retry",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )  # fmt: skip

    return guard


class _BadInput(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


# --- input ---------------------------------------------------------------------------------


async def _body(request: web.Request, model: type[ModelT]) -> ModelT:
    raw = await request.read()
    try:
        parsed = model.model_validate_json(raw or b"{}")
    except ValidationError as error:
        raise _BadInput(_validation_error(error, "body")) from None
    try:
        strict_json.loads(raw or b"{}")  # valid JSON by now: only duplicate keys are left
    except strict_json.DuplicateKey as error:
        problem = m.ProblemOut(field=error.key, reason=str(error))
        raise _BadInput(_error(400, "bad_request", "invalid body", [problem])) from None
    except (ValueError, RecursionError):
        raise _BadInput(_error(400, "bad_request", "invalid body", [])) from None
    return parsed


def _query(request: web.Request, model: type[ModelT]) -> ModelT:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as error:
        raise _BadInput(_validation_error(error, "query")) from None


def _id(request: web.Request, name: str, what: str) -> int:
    text = request.match_info[name]
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= m.MAX_ID:
        raise not_found(what)
    return int(text)


def _operator(request: web.Request) -> Operator:
    return request.app[OPERATOR_KEY]


async def _spooled_body(request: web.Request) -> IO[bytes]:
    """The body, read in chunks into a file that stays in memory up to _SPOOL_IN_MEMORY and
    goes to a temporary file beyond: an import of many megabytes is not held in memory
    while it is read. The server's body limit (client_max_size) still applies: 413."""
    limit = request.client_max_size
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - returned
    try:
        size = 0
        async for chunk in request.content.iter_chunked(_SPOOL_CHUNK):
            size += len(chunk)
            if size > limit:
                raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
            await asyncio.to_thread(spool.write, chunk)  # a disk write once spooled out
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


# --- handlers ------------------------------------------------------------------------------


def _import_handler(kind: ImportKind) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        query = _query(request, m.ImportQuery)
        fmt: Format
        if request.content_type in ("text/csv", "application/csv"):
            fmt = "csv"
        elif request.content_type == "application/json":
            fmt = "json"
        else:
            return _error(415, "unsupported_media_type", "send application/json or text/csv")
        with await _spooled_body(request) as body:
            report = await _operator(request).import_batch(kind, body, fmt, query.skip_bad)
        return _json(m.ImportReportOut.of(report))

    return handle


async def put_bill_pdf(request: web.Request) -> web.StreamResponse:
    """PUT /bills/{account_number}/{period}/pdf."""
    if request.content_type != "application/pdf":
        return _error(415, "unsupported_media_type", "send application/pdf")
    number, period = request.match_info["account_number"], request.match_info["period"]
    ref = await _operator(request).attach_pdf(number, period, await request.read())
    return _json(m.BillPdfOut(account_number=number, period=period, pdf_ref=ref))


async def post_outage(request: web.Request) -> web.StreamResponse:
    """POST /outages: publish."""
    body = await _body(request, m.OutageIn)
    operator = _operator(request)
    outage, created = await operator.publish_outage(body.draft())
    paid = await operator.paid_estimate(outage.id) if created else None
    return _json(m.OutageOut.of(outage, paid), 201 if created else 200)


async def get_outage(request: web.Request) -> web.StreamResponse:
    """GET /outages/{outage_id}."""
    outage_id = _id(request, "outage_id", "outage")
    return _json(m.OutageOut.of(await _operator(request).get_outage(outage_id)))


async def patch_outage(request: web.Request) -> web.StreamResponse:
    """PATCH /outages/{outage_id}: change times, reason or targets."""
    outage_id = _id(request, "outage_id", "outage")
    body = await _body(request, m.OutageUpdateIn)
    return _json(m.OutageOut.of(await _operator(request).update_outage(outage_id, body.changes())))


async def cancel_outage(request: web.Request) -> web.StreamResponse:
    """POST /outages/{outage_id}/cancel."""
    outage_id = _id(request, "outage_id", "outage")
    body = await _body(request, m.OutageCancelIn)
    return _json(m.OutageOut.of(await _operator(request).cancel_outage(outage_id, body.reason)))


async def restore_outage(request: web.Request) -> web.StreamResponse:
    """POST /outages/{outage_id}/restore."""
    outage_id = _id(request, "outage_id", "outage")
    body = await _body(request, m.OutageRestoreIn)
    outage = await _operator(request).restore_outage(outage_id, body.restored_at)
    return _json(m.OutageOut.of(outage))


async def list_call_center(request: web.Request) -> web.StreamResponse:
    """GET /call-center-requests."""
    query = _query(request, m.QueueQuery)
    items = await _operator(request).call_center_requests(query.status, query.after_id, query.limit)
    page = m.CallCenterPage(
        items=[m.CallCenterRequestOut.of(item) for item in items],
        next_after_id=items[-1].id if len(items) == query.limit else None,
    )
    return _json(page)


async def get_call_center(request: web.Request) -> web.StreamResponse:
    """GET /call-center-requests/{request_id}."""
    request_id = _id(request, "request_id", "call-centre request")
    item = await _operator(request).call_center_request(request_id)
    return _json(m.CallCenterRequestOut.of(item))


async def answer_call_center(request: web.Request) -> web.StreamResponse:
    """POST /call-center-requests/{request_id}/answer: store and push the answer."""
    request_id = _id(request, "request_id", "call-centre request")
    body = await _body(request, m.CallCenterAnswerIn)
    item, pushed = await _operator(request).answer_call_center(
        request_id, body.answer, RequestStatus(body.status)
    )
    return _json(m.CallCenterAnswerOut(request=m.CallCenterRequestOut.of(item), pushed=pushed))


async def list_free_services(request: web.Request) -> web.StreamResponse:
    """GET /free-service-orders."""
    query = _query(request, m.QueueQuery)
    items = await _operator(request).free_service_orders(query.status, query.after_id, query.limit)
    page = m.FreeServicePage(
        items=[m.FreeServiceOrderOut.of(item) for item in items],
        next_after_id=items[-1].id if len(items) == query.limit else None,
    )
    return _json(page)


async def get_free_service(request: web.Request) -> web.StreamResponse:
    """GET /free-service-orders/{order_id}."""
    order_id = _id(request, "order_id", "free-service order")
    return _json(m.FreeServiceOrderOut.of(await _operator(request).free_service_order(order_id)))


async def answer_free_service(request: web.Request) -> web.StreamResponse:
    """POST /free-service-orders/{order_id}/answer: new status, answer pushed."""
    order_id = _id(request, "order_id", "free-service order")
    body = await _body(request, m.FreeServiceAnswerIn)
    order, pushed = await _operator(request).answer_free_service(
        order_id, body.answer, RequestStatus(body.status)
    )
    return _json(m.FreeServiceAnswerOut(order=m.FreeServiceOrderOut.of(order), pushed=pushed))


async def list_support(request: web.Request) -> web.StreamResponse:
    """GET /support-requests."""
    query = _query(request, m.QueueQuery)
    items = await _operator(request).support_requests(query.status, query.after_id, query.limit)
    page = m.SupportPage(
        items=[m.SupportRequestOut.of(item) for item in items],
        next_after_id=items[-1].id if len(items) == query.limit else None,
    )
    return _json(page)


async def get_support(request: web.Request) -> web.StreamResponse:
    """GET /support-requests/{request_id}."""
    request_id = _id(request, "request_id", "support request")
    return _json(m.SupportRequestOut.of(await _operator(request).support_request(request_id)))


async def answer_support(request: web.Request) -> web.StreamResponse:
    """POST /support-requests/{request_id}/answer: store, show in chat and push the answer."""
    request_id = _id(request, "request_id", "support request")
    body = await _body(request, m.SupportAnswerIn)
    item, pushed = await _operator(request).answer_support(
        request_id, body.answer, RequestStatus(body.status)
    )
    return _json(m.SupportAnswerOut(request=m.SupportRequestOut.of(item), pushed=pushed))


async def export_readings(request: web.Request) -> web.StreamResponse:
    """GET /readings/submitted: submitted readings since a time, JSON or CSV."""
    query = _query(request, m.ReadingsQuery)
    readings = await _operator(request).submitted_readings(
        query.since, query.until, query.after_id, query.limit
    )
    next_after_id = readings[-1].id if len(readings) == query.limit else None
    if query.format == "csv":
        text = (
            await asyncio.to_thread(readings_csv, readings)
            if len(readings) > _LARGE_EXPORT
            else readings_csv(readings)
        )
        headers = {"X-Next-After-Id": str(next_after_id)} if next_after_id else {}
        return web.Response(text=text, content_type="text/csv", headers=headers)

    def page() -> str:
        return m.ReadingsPage(
            readings=[m.ReadingOut.of(reading) for reading in readings],
            next_after_id=next_after_id,
        ).model_dump_json()

    body = await asyncio.to_thread(page) if len(readings) > _LARGE_EXPORT else page()
    return web.Response(text=body, content_type="application/json")


async def post_schedules(request: web.Request) -> web.StreamResponse:
    """POST /schedules: publish or replace schedules of groups and days."""
    body = await _body(request, m.SchedulesIn)
    operator = _operator(request)
    drafts = schedules.drafts_of(body, operator.clock.now())
    return _json(await schedules.publish(operator, drafts))


async def post_schedules_hourly(request: web.Request) -> web.StreamResponse:
    """POST /schedules/hourly: the community yes/no/maybe-per-group layout."""
    body = await _body(request, m.ScheduleHourlyIn)
    return _json(await schedules.import_hourly(_operator(request), body.model_dump(mode="json")))


async def get_schedule(request: web.Request) -> web.StreamResponse:
    """GET /schedule?group=&day=: the newest version of a group's day."""
    query = _query(request, m.ScheduleQuery)
    return _json(await schedules.latest(_operator(request), query.group, query.day))


# --- the table -----------------------------------------------------------------------------

_INT_ID = {"type": "integer", "minimum": 1, "maximum": m.MAX_ID}
_BAD = (m.ErrorOut, "invalid input: the problems name fields and reasons")
_NOT_FOUND = (m.ErrorOut, "no such resource")
_CONFLICT = (m.ErrorOut, "conflicts with the stored state")
_IMPORT_MODELS: dict[ImportKind, type[BaseModel]] = {
    ImportKind.ACCOUNTS: m.AccountsImport,
    ImportKind.METERS: m.MetersImport,
    ImportKind.BILLS: m.BillsImport,
    ImportKind.PAYMENTS: m.PaymentsImport,
    ImportKind.CONSUMPTION: m.ConsumptionImport,
    ImportKind.BILLING_READINGS: m.BillingReadingsImport,
}


def endpoints() -> list[Endpoint]:
    """Every route of the operator API (except the document itself)."""
    table: list[Endpoint] = []
    for kind, model in _IMPORT_MODELS.items():
        table.append(
            Endpoint(
                "POST", f"{PREFIX}/imports/{kind.value}", _import_handler(kind),
                f"Import {kind.value.replace('-', ' ')} (JSON or CSV), upserted by natural key",
                f"import_{kind.name.lower()}", "imports", body=model, csv_body=True,
                query=m.ImportQuery,
                responses={
                    200: (m.ImportReportOut, "applied; bad rows skipped only with skip_bad"),
                    400: (m.ImportErrorOut, "bad rows (nothing written) or unreadable input"),
                    409: _CONFLICT,
                    413: (m.ErrorOut, "too large"),
                    415: (m.ErrorOut, "neither application/json nor text/csv"),
                },
            )
        )  # fmt: skip
    number = {"type": "string", "pattern": r"^\d{6,13}$"}
    period = {"type": "string", "pattern": r"^\d{4}-\d{2}$"}
    outage_path = f"{PREFIX}/outages/{{outage_id}}"
    table += [
        Endpoint(
            "PUT", f"{PREFIX}/bills/{{account_number}}/{{period}}/pdf", put_bill_pdf,
            "Attach the PDF of a stored bill", "put_bill_pdf", "imports",
            raw_body="application/pdf",
            path_params=(("account_number", number), ("period", period)),
            responses={200: (m.BillPdfOut, "stored"), 400: _BAD, 404: _NOT_FOUND,
                       413: (m.ErrorOut, "too large"), 415: (m.ErrorOut, "not application/pdf")},
        ),
        Endpoint(
            "POST", f"{PREFIX}/outages", post_outage,
            "Publish an outage and alert everyone it hits", "publish_outage", "outages",
            body=m.OutageIn,
            responses={201: (m.OutageOut, "published"),
                       200: (m.OutageOut, "this external_id was published before"),
                       400: _BAD},
        ),
        Endpoint(
            "GET", outage_path, get_outage, "An outage", "get_outage", "outages",
            path_params=(("outage_id", _INT_ID),),
            responses={200: (m.OutageOut, "the outage"), 404: _NOT_FOUND},
        ),
        Endpoint(
            "PATCH", outage_path, patch_outage,
            "Change an outage; those already told learn what changed", "update_outage",
            "outages", body=m.OutageUpdateIn, path_params=(("outage_id", _INT_ID),),
            responses={200: (m.OutageOut, "changed (or nothing to change)"), 400: _BAD,
                       404: _NOT_FOUND, 409: _CONFLICT},
        ),
        Endpoint(
            "POST", f"{outage_path}/cancel", cancel_outage,
            "Cancel an outage; those already told are told", "cancel_outage", "outages",
            body=m.OutageCancelIn, body_required=False, path_params=(("outage_id", _INT_ID),),
            responses={200: (m.OutageOut, "cancelled"), 400: _BAD, 404: _NOT_FOUND,
                       409: _CONFLICT},
        ),
        Endpoint(
            "POST", f"{outage_path}/restore", restore_outage,
            "Power is back; those already told are told", "restore_outage", "outages",
            body=m.OutageRestoreIn, body_required=False, path_params=(("outage_id", _INT_ID),),
            responses={200: (m.OutageOut, "restored"), 400: _BAD, 404: _NOT_FOUND,
                       409: _CONFLICT},
        ),
        Endpoint(
            "GET", f"{PREFIX}/call-center-requests", list_call_center,
            "Call-centre requests, oldest first", "list_call_center_requests", "requests",
            query=m.QueueQuery,
            responses={200: (m.CallCenterPage, "a page"), 400: _BAD},
        ),
        Endpoint(
            "GET", f"{PREFIX}/call-center-requests/{{request_id}}", get_call_center,
            "A call-centre request", "get_call_center_request", "requests",
            path_params=(("request_id", _INT_ID),),
            responses={200: (m.CallCenterRequestOut, "the request"), 404: _NOT_FOUND},
        ),
        Endpoint(
            "POST", f"{PREFIX}/call-center-requests/{{request_id}}/answer", answer_call_center,
            "Answer a request; the answer is pushed to the person", "answer_call_center_request",
            "requests", body=m.CallCenterAnswerIn, path_params=(("request_id", _INT_ID),),
            responses={200: (m.CallCenterAnswerOut, "answered"), 400: _BAD, 404: _NOT_FOUND,
                       409: _CONFLICT},
        ),
        Endpoint(
            "GET", f"{PREFIX}/free-service-orders", list_free_services,
            "Free-service orders, oldest first", "list_free_service_orders", "requests",
            query=m.QueueQuery,
            responses={200: (m.FreeServicePage, "a page"), 400: _BAD},
        ),
        Endpoint(
            "GET", f"{PREFIX}/free-service-orders/{{order_id}}", get_free_service,
            "A free-service order", "get_free_service_order", "requests",
            path_params=(("order_id", _INT_ID),),
            responses={200: (m.FreeServiceOrderOut, "the order"), 404: _NOT_FOUND},
        ),
        Endpoint(
            "POST", f"{PREFIX}/free-service-orders/{{order_id}}/answer", answer_free_service,
            "Set an order's status; the answer is stored, shown in chat and pushed",
            "answer_free_service_order", "requests", body=m.FreeServiceAnswerIn,
            path_params=(("order_id", _INT_ID),),
            responses={200: (m.FreeServiceAnswerOut, "done"), 400: _BAD, 404: _NOT_FOUND,
                       409: _CONFLICT},
        ),
        Endpoint(
            "GET", f"{PREFIX}/support-requests", list_support,
            "Technical-support requests, oldest first", "list_support_requests", "requests",
            query=m.QueueQuery,
            responses={200: (m.SupportPage, "a page"), 400: _BAD},
        ),
        Endpoint(
            "GET", f"{PREFIX}/support-requests/{{request_id}}", get_support,
            "A technical-support request", "get_support_request", "requests",
            path_params=(("request_id", _INT_ID),),
            responses={200: (m.SupportRequestOut, "the request"), 404: _NOT_FOUND},
        ),
        Endpoint(
            "POST", f"{PREFIX}/support-requests/{{request_id}}/answer", answer_support,
            "Answer a support request; the answer is stored, shown in chat and pushed",
            "answer_support_request", "requests", body=m.SupportAnswerIn,
            path_params=(("request_id", _INT_ID),),
            responses={200: (m.SupportAnswerOut, "answered"), 400: _BAD, 404: _NOT_FOUND,
                       409: _CONFLICT},
        ),
        Endpoint(
            "GET", f"{PREFIX}/readings/submitted", export_readings,
            "Submitted readings since a time, for billing (JSON or CSV)",
            "export_submitted_readings", "export", query=m.ReadingsQuery,
            responses={200: (m.ReadingsPage, "a page; CSV columns: " + ",".join(EXPORT_COLUMNS)),
                       400: _BAD},
            extra_content={200: {"text/csv": {"schema": {"type": "string"}}}},
        ),
        Endpoint(
            "POST", f"{PREFIX}/schedules", post_schedules,
            "Publish or replace outage schedules of groups and days (idempotent)",
            "publish_schedules", "schedules", body=m.SchedulesIn,
            responses={200: (m.SchedulesPublishOut, "stored; pushes queued for real changes"),
                       400: _BAD, 409: _CONFLICT},
        ),
        Endpoint(
            "POST", f"{PREFIX}/schedules/hourly", post_schedules_hourly,
            "Import the hourly yes/no/maybe-per-group layout (idempotent)",
            "import_hourly_schedules", "schedules", body=m.ScheduleHourlyIn,
            responses={200: (m.SchedulesPublishOut, "stored; pushes queued for real changes"),
                       400: _BAD, 409: _CONFLICT},
        ),
        Endpoint(
            "GET", f"{PREFIX}/schedule", get_schedule,
            "The newest schedule of a group's day", "get_schedule", "schedules",
            query=m.ScheduleQuery,
            responses={200: (m.ScheduleOut, "the schedule"), 400: _BAD, 404: _NOT_FOUND},
        ),
    ]  # fmt: skip
    return table


def register_api_routes(web_app: web.Application, operator: Operator, token: str | None) -> None:
    """Add /api/v1 to the server; without a token the API stays off (every path 404)."""
    if not token:
        log.info("operator API off: ADMIN_TOKEN is not set")
        return
    web_app[OPERATOR_KEY] = operator
    table = endpoints()
    document = build_document(table)

    async def openapi(_: web.Request) -> web.StreamResponse:
        return web.json_response(document)

    for endpoint in table:
        web_app.router.add_route(endpoint.method, endpoint.path, guarded(token, endpoint.handler))
    web_app.router.add_get(OPENAPI_PATH, guarded(token, openapi))
    log.info("operator API on: %s (%d routes)", PREFIX, len(table) + 1)
