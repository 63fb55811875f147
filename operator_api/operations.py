"""What the operator can do, shared by the HTTP API and the `kabinet` CLI.

Each operation opens one unit of work, calls the core service that owns the rule (imports,
outages, notifications), and commits; HTTP handlers and CLI commands only translate their
input into these calls and the results into their output. Errors are `OperatorError`s with
the HTTP status they mean, so the CLI can print the same reasons the API answers with.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

from core.clock import Clock
from core.delivery import PaidEstimate, paid_estimate
from core.errors import DomainError
from core.imports import (
    FIELDS,
    MAX_PDF_BYTES,
    BadValue,
    ImportKind,
    ImportReport,
    ParsedBatch,
    RowChecker,
    RowProblem,
    Unreadable,
    check_pdf,
    import_parts,
    parse_period,
)
from core.model import (
    CallCenterRequest,
    Channel,
    FreeServiceOrder,
    Outage,
    RequestStatus,
    SupportRequest,
)
from core.notifications import (
    notify_call_center_answer,
    notify_free_service_answer,
    notify_new_bills,
    notify_support_answer,
)
from core.outages import (
    OutageChanges,
    OutageClosed,
    OutageDraft,
    OutageInvalid,
    OutageNotFound,
    cancel_outage,
    publish_outage_once,
    restore_outage,
    subject_of,
    update_outage,
)
from core.ports import AbstractUnitOfWork, AbstractUnitOfWorkFactory
from core.privacy import mask
from core.records import BillRecord, ReadingExport, Record
from operator_api import strict_json

log = logging.getLogger(__name__)

_T = TypeVar("_T")
Format = Literal["csv", "json"]
Row = Mapping[str, Any] | Unreadable
DEFAULT_MAX_IMPORT_BYTES = 64 * 1024 * 1024
DEFAULT_BATCH_ROWS = 5000
"""Rows an import reads, checks and upserts at a time (IMPORT_BATCH_ROWS)."""
IMPORT_THREADS = 2
"""Worker threads for reading and checking imports: a bound on the cores imports take
from the event loop's process, whatever the number of concurrent uploads."""
NOTICE_CHUNK = 5000
_FINAL = frozenset({RequestStatus.DONE, RequestStatus.REJECTED})


@dataclass
class OperatorError(Exception):
    """A request the operator must change: `status` is the HTTP status it answers with."""

    status: int
    error: str
    message: str
    problems: list[RowProblem] = field(default_factory=list)
    report: ImportReport | None = None

    def __str__(self) -> str:
        return self.message


def bad_request(message: str, field_name: str | None = None) -> OperatorError:
    """400 naming the field."""
    problems = [RowProblem(0, field_name, message)] if field_name else []
    return OperatorError(400, "bad_request", message, problems)


def not_found(what: str) -> OperatorError:
    """404."""
    return OperatorError(404, "not_found", f"no such {what}")


def conflict(message: str) -> OperatorError:
    """409."""
    return OperatorError(409, "conflict", message)


def import_workers() -> Executor:
    """The bounded pool in which imports are read and checked (threads start on first use)."""
    return ThreadPoolExecutor(max_workers=IMPORT_THREADS, thread_name_prefix="import")


# --- payloads ------------------------------------------------------------------------------


def parse_payload(content: bytes, fmt: Format, kind: ImportKind) -> list[tuple[int, Row]]:
    """(line, fields) rows of a CSV or JSON batch given whole; OperatorError(400) when
    unreadable (see `payload_rows`)."""
    return list(payload_rows(io.BytesIO(content), fmt, kind))


def payload_rows(source: IO[bytes], fmt: Format, kind: ImportKind) -> Iterator[tuple[int, Row]]:
    """(line, fields) rows of a CSV or JSON batch, read from `source` as they are asked for;
    OperatorError(400) when unreadable, raised when the reading gets there.

    JSON: {"rows": [{...}, ...]} or a bare array; a row's line is its position from 1, and
    numbers with a fraction stay Decimal (money is never a float). CSV: UTF-8 (a BOM is
    fine), a header row of field names, comma or semicolon separated; a row's line is the
    file line it ends on, so the header is line 1. A CSV is read a line at a time; a JSON
    document is parsed whole, and its rows are let go of as they are handed out.
    """
    if fmt == "json":
        return _json_rows(source.read())
    return _csv_rows(source, kind)


def _json_rows(content: bytes) -> Iterator[tuple[int, Row]]:
    try:
        body = strict_json.loads(content, parse_float=Decimal)
    except (ValueError, RecursionError) as error:
        raise bad_request(f"not JSON: {str(error)[:200]}") from None
    rows = body.get("rows") if isinstance(body, dict) else body
    if isinstance(body, dict) and set(body) - {"rows"}:
        raise bad_request('the body has fields other than "rows"', "rows")
    if not isinstance(rows, list):
        raise bad_request('expected {"rows": [...]} or an array of rows', "rows")
    del body
    return _handed_out(rows)


def _handed_out(rows: list[Any]) -> Iterator[tuple[int, Row]]:
    rows.reverse()  # pop from the end: each row is released once it is handed out
    line = 0
    while rows:
        line += 1
        yield line, rows.pop()


def _csv_rows(source: IO[bytes], kind: ImportKind) -> Iterator[tuple[int, Row]]:
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    try:
        first_line = text.readline()
    except UnicodeDecodeError:
        raise bad_request("CSV must be UTF-8") from None
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(itertools.chain([first_line], text), delimiter=delimiter, strict=True)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if not header or header == [""]:
            raise bad_request("CSV needs a header row of field names")
        unknown = [name for name in header if name not in FIELDS[kind]]
        if unknown:
            known = ", ".join(FIELDS[kind])
            raise bad_request(f"unknown column {unknown[0][:100]!r}; columns: {known}", "header")
        if len(set(header)) != len(header):
            raise bad_request("a column is named twice", "header")
    except csv.Error as error:
        raise bad_request(f"CSV line {reader.line_num}: {error}") from None
    except UnicodeDecodeError:
        raise bad_request("CSV must be UTF-8") from None
    return _csv_records(reader, header)


def _csv_records(reader: Any, header: list[str]) -> Iterator[tuple[int, Row]]:
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines (a trailing newline, spacing) are not rows
            if len(cells) != len(header):
                reason = f"{len(cells)} cells, the header has {len(header)}"
                yield reader.line_num, Unreadable(reason)
            else:
                yield reader.line_num, dict(zip(header, cells, strict=True))
    except csv.Error as error:
        raise bad_request(f"CSV line {reader.line_num}: {error}") from None
    except UnicodeDecodeError:
        raise bad_request("CSV must be UTF-8") from None


def _checked_part(
    rows: Iterator[tuple[int, Row]], checker: RowChecker, size: int
) -> ParsedBatch | None:
    """The next `size` rows read and checked (in a worker thread); None after the last."""
    part = list(itertools.islice(rows, size))
    return checker.check(part) if part else None


# --- readings export -----------------------------------------------------------------------

EXPORT_COLUMNS = ("id", "account_number", "eic", "meter_serial", "taken_at", "zone", "value",
                  "source", "photo")  # fmt: skip


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A text cell a spreadsheet will not run: one starting like a formula gets a leading
    apostrophe (a meter serial `=cmd|' /C calc'!A0` is shown, not executed)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def readings_csv(readings: Iterable[ReadingExport]) -> str:
    """One line per reading and zone, in the columns of EXPORT_COLUMNS; text cells are
    neutralised against formula injection (see _cell)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for reading in readings:
        for zone, value in reading.values.items():
            writer.writerow(
                _cell(cell)
                for cell in (
                    reading.id,
                    reading.account_number,
                    reading.eic,
                    reading.meter_serial,
                    reading.taken_at.astimezone(UTC).isoformat(),
                    zone.value,
                    value,
                    reading.source.value,
                    "true" if reading.photo else "false",
                )
            )
    return out.getvalue()


# --- the operator --------------------------------------------------------------------------


@dataclass
class Operator:
    """The operations, bound to a database, a clock and the bills directory."""

    uow_factory: AbstractUnitOfWorkFactory
    clock: Clock
    zone: tzinfo
    bills_dir: Path
    max_import_bytes: int = DEFAULT_MAX_IMPORT_BYTES
    batch_rows: int = DEFAULT_BATCH_ROWS
    workers: Executor = field(default_factory=import_workers)
    # Topics each channel sends as paid broadcasts (TELEGRAM_PAID_BROADCAST_TOPICS).
    paid_topics: Mapping[Channel, frozenset[str]] = field(default_factory=dict)

    # --- imports ------------------------------------------------------------------------

    async def import_batch(
        self, kind: ImportKind, content: bytes | IO[bytes], fmt: Format, skip_bad: bool
    ) -> ImportReport:
        """Import a CSV or JSON batch (bytes, or a file positioned at its start); OperatorError
        (400) with the report when refused.

        The batch is read and checked IMPORT_BATCH_ROWS rows at a time in the import worker
        threads, and each part upserted before the next is read, all in one transaction: the
        event loop stays free for other requests between parts, and memory holds a part,
        not the whole batch.
        """
        if isinstance(content, bytes):
            if len(content) > self.max_import_bytes:
                raise OperatorError(413, "too_large", f"larger than {self.max_import_bytes} bytes")
            content = io.BytesIO(content)
        now = self.clock.now()
        checker = RowChecker(kind, self.zone)
        loop = asyncio.get_running_loop()
        source = content

        async def parts() -> AsyncIterator[ParsedBatch]:
            rows = await loop.run_in_executor(self.workers, payload_rows, source, fmt, kind)
            while True:
                part = await loop.run_in_executor(
                    self.workers, _checked_part, rows, checker, self.batch_rows
                )
                if part is None:
                    return
                yield part

        async def after(
            uow: AbstractUnitOfWork, report: ImportReport, records: Sequence[Record]
        ) -> None:
            bills = [record for record in records if isinstance(record, BillRecord)]
            if bills and (report.inserted or report.updated):
                periods = sorted({bill.period for bill in bills})
                account_ids = sorted({bill.account_id for bill in bills})
                queued = 0
                # Chunks: a 100,000-bill import must stay under the drivers' parameter limit.
                for start in range(0, len(account_ids), NOTICE_CHUNK):
                    chunk = account_ids[start : start + NOTICE_CHUNK]
                    queued += await notify_new_bills(uow, periods, now, chunk)
                log.info("new-bill notices queued: %d", queued)

        async with self.uow_factory() as uow:
            report = await import_parts(
                uow,
                kind,
                parts(),
                skip_bad=skip_bad,
                save_pdf=self._save_pdf,
                after=after if kind is ImportKind.BILLS else None,
            )
        log.info(
            "import %s: %d rows, %d new, %d changed, %d unchanged, %d bad%s",
            kind.value,
            report.received,
            report.inserted,
            report.updated,
            report.unchanged,
            report.skipped,
            "" if report.applied else " (nothing written)",
        )
        if not report.applied:
            raise OperatorError(
                400,
                "bad_rows",
                f"{report.skipped} bad row(s); nothing was written (skip_bad=true writes "
                "the good ones)",
                list(report.problems),
                report,
            )
        return report

    async def _save_pdf(self, account_number: str, period: str, content: bytes) -> str:
        """Write a bill PDF under BILLS_DIR; the name carries its hash, so a re-import of the
        same PDF writes the same file and a new PDF never overwrites one a bill points at."""
        digest = hashlib.sha256(content).hexdigest()[:16]
        ref = f"{account_number}/{period}-{digest}.pdf"
        path = self.bills_dir / ref
        await asyncio.to_thread(_write_file, path, content)
        return ref

    async def attach_pdf(self, account_number: str, period_text: str, content: bytes) -> str:
        """Store the PDF of a stored bill; its reference."""
        try:
            period = parse_period(period_text)
            check_pdf(content)
        except BadValue as error:
            raise bad_request(str(error), "period" if "YYYY" in str(error) else "body") from None
        if len(content) > MAX_PDF_BYTES:
            raise OperatorError(413, "too_large", "the PDF is too large")
        async with self.uow_factory() as uow:
            refs = await uow.operator.account_refs([account_number])
            if (
                account_number not in refs
                or await uow.billing.bill(refs[account_number].id, period) is None
            ):
                raise not_found("bill")
            ref = await self._save_pdf(account_number, period, content)
            await uow.operator.set_bill_pdf(account_number, period, ref)
            await uow.commit()
        return ref

    # --- outages ------------------------------------------------------------------------

    async def publish_outage(self, draft: OutageDraft) -> tuple[Outage, bool]:
        """Publish (and queue its alerts); (outage, True) when new, False when its
        external_id was already published."""
        now = self.clock.now()
        async with self.uow_factory() as uow:
            if await uow.references.dso(draft.dso_id) is None:
                raise bad_request("unknown DSO", "dso_id")
            outage, created = await _outage_call(publish_outage_once(uow, draft, now))
            await uow.commit()
        log.info("outage %d %s", outage.id, "published" if created else "already published")
        return outage, created

    async def paid_estimate(self, outage_id: int) -> PaidEstimate:
        """What the outage's paid sends will cost (0 when its topic is not sent paid);
        logged for the operator's books."""
        if not any(self.paid_topics.values()):
            return PaidEstimate()
        async with self.uow_factory() as uow:
            queued = await uow.outbox.queued_per_channel(subject_of(outage_id))
        estimate = paid_estimate(queued, self.paid_topics)
        if estimate.messages:
            log.info(
                "outage %d: paid broadcast of %d message(s), about %s Telegram Stars",
                outage_id,
                estimate.messages,
                estimate.stars,
            )
        return estimate

    async def get_outage(self, outage_id: int) -> Outage:
        """The stored outage."""
        async with self.uow_factory() as uow:
            outage = await uow.outage_store.get(outage_id)
        if outage is None:
            raise not_found("outage")
        return outage

    async def update_outage(self, outage_id: int, changes: OutageChanges) -> Outage:
        """Change it and tell those already told what changed."""
        async with self.uow_factory() as uow:
            outage = await _outage_call(update_outage(uow, outage_id, changes, self.clock.now()))
            await uow.commit()
        return outage

    async def cancel_outage(self, outage_id: int, reason: str) -> Outage:
        """Cancel it and tell those already told."""
        async with self.uow_factory() as uow:
            outage = await _outage_call(cancel_outage(uow, outage_id, self.clock.now(), reason))
            await uow.commit()
        return outage

    async def restore_outage(self, outage_id: int, restored_at: datetime | None) -> Outage:
        """Power is back: record it and tell those already told."""
        now = self.clock.now()
        if restored_at is not None and restored_at > now:
            raise bad_request("restoration cannot be in the future", "restored_at")
        async with self.uow_factory() as uow:
            outage = await _outage_call(restore_outage(uow, outage_id, now, restored_at))
            await uow.commit()
        return outage

    # --- call-centre requests and free-service orders -------------------------------------

    async def call_center_requests(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[CallCenterRequest]:
        """A page of the queue, oldest first."""
        async with self.uow_factory() as uow:
            return await uow.operator.call_center_requests(status, after_id, limit)

    async def call_center_request(self, request_id: int) -> CallCenterRequest:
        """One request."""
        async with self.uow_factory() as uow:
            request = await uow.operator.call_center_request(request_id)
        if request is None:
            raise not_found("call-centre request")
        return request

    async def answer_call_center(
        self, request_id: int, answer: str, status: RequestStatus
    ) -> tuple[CallCenterRequest, bool]:
        """Store the answer and push it to the person; (request, pushed).

        A request is answered once: a second answer is a conflict, so a person never gets
        two different answers to one question.
        """
        now = self.clock.now()
        async with self.uow_factory() as uow:
            request = await uow.operator.call_center_request(request_id)
            if request is None:
                raise not_found("call-centre request")
            if request.status in _FINAL or request.answer is not None:
                raise conflict(f"the request is already {request.status.value}")
            await uow.operator.answer_call_center(request_id, answer, status, now)
            pushed = await notify_call_center_answer(
                uow, request_id, request.person_id, answer, now
            )
            await uow.commit()
        log.info("call-centre request %d answered (%s), pushed: %s", request_id, status, pushed)
        answered = CallCenterRequest(
            id=request.id,
            person_id=request.person_id,
            account_id=request.account_id,
            request_type=request.request_type,
            text=request.text,
            status=status,
            created_at=request.created_at,
            answer=answer,
            answered_at=now,
        )
        return answered, pushed

    async def free_service_orders(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[FreeServiceOrder]:
        """A page of the orders, oldest first."""
        async with self.uow_factory() as uow:
            return await uow.operator.free_service_orders(status, after_id, limit)

    async def free_service_order(self, order_id: int) -> FreeServiceOrder:
        """One order."""
        async with self.uow_factory() as uow:
            order = await uow.operator.free_service_order(order_id)
        if order is None:
            raise not_found("free-service order")
        return order

    async def answer_free_service(
        self, order_id: int, answer: str, status: RequestStatus
    ) -> tuple[FreeServiceOrder, bool]:
        """Move the order to `status`, store the answer and push it; (order, pushed)."""
        now = self.clock.now()
        async with self.uow_factory() as uow:
            order = await uow.operator.free_service_order(order_id)
            if order is None:
                raise not_found("free-service order")
            if order.status in _FINAL:
                raise conflict(f"the order is already {order.status.value}")
            if order.status == status:
                raise conflict(f"the order is already {status.value}")
            await uow.operator.answer_free_service(order_id, answer, status, now)
            answered = replace(order, status=status, answer=answer, answered_at=now)
            pushed = await notify_free_service_answer(uow, answered, answer, now)
            await uow.commit()
        log.info(
            "free-service order %d → %s (phone %s), pushed: %s",
            order_id,
            status.value,
            mask(order.phone),
            pushed,
        )
        return answered, pushed

    # --- technical support ----------------------------------------------------------------

    async def support_requests(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[SupportRequest]:
        """A page of the support queue, oldest first."""
        async with self.uow_factory() as uow:
            return await uow.operator.support_requests(status, after_id, limit)

    async def support_request(self, request_id: int) -> SupportRequest:
        """One support request."""
        async with self.uow_factory() as uow:
            request = await uow.operator.support_request(request_id)
        if request is None:
            raise not_found("support request")
        return request

    async def answer_support(
        self, request_id: int, answer: str, status: RequestStatus
    ) -> tuple[SupportRequest, bool]:
        """Store the answer and push it to the person; (request, pushed). Answered once,
        like a call-centre request."""
        now = self.clock.now()
        async with self.uow_factory() as uow:
            request = await uow.operator.support_request(request_id)
            if request is None:
                raise not_found("support request")
            if request.status in _FINAL or request.answer is not None:
                raise conflict(f"the request is already {request.status.value}")
            await uow.operator.answer_support(request_id, answer, status, now)
            answered = replace(request, status=status, answer=answer, answered_at=now)
            pushed = await notify_support_answer(uow, answered, answer, now)
            await uow.commit()
        log.info("support request %d answered (%s), pushed: %s", request_id, status, pushed)
        return answered, pushed

    # --- export -------------------------------------------------------------------------

    async def submitted_readings(
        self, since: datetime, until: datetime | None, after_id: int, limit: int
    ) -> Sequence[ReadingExport]:
        """Submitted readings since a time, by id (page on with after_id)."""
        if until is not None and until <= since:
            raise bad_request("until must be after since", "until")
        async with self.uow_factory() as uow:
            return await uow.operator.submitted_readings(since, until, after_id, limit)


async def _outage_call(call: Awaitable[_T]) -> _T:
    """Await a core outage service, turning its refusals into operator errors."""
    try:
        return await call
    except OutageNotFound:
        raise not_found("outage") from None
    except OutageClosed:
        raise conflict("the outage is cancelled or restored; it cannot change") from None
    except OutageInvalid as error:
        raise bad_request(str(error)) from None
    except DomainError as error:
        raise bad_request(str(error) or type(error).__name__) from None


def _write_file(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    temporary.write_bytes(content)
    temporary.replace(path)  # atomic: a reader never sees half a PDF
