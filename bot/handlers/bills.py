"""Bill archive (manual §6.7), payment receipts (§6.2) and the consumption chart (§6.6)."""

from __future__ import annotations

from decimal import Decimal

from babel.dates import get_month_names

from bot.handlers.accounts import account_title, with_account
from bot.handlers.context import Context
from bot.handlers.money import bank_transfer_for, transfer_rows
from bot.handlers.paging import page_buttons, page_footer, page_of, parse_page
from bot.handlers.receipts import receipt_document
from bot.handlers.router import Router
from bot.i18n import Translator
from bot.menu import main_menu, with_menu
from bot.messages import Attachment, Button
from core.accounts import linked_account, periods_back
from core.balances import BillStatement, bill_is_paid, load_bill_statement
from core.documents import (
    ChartSeries,
    ConsumptionChart,
    PaymentQrImage,
    PdfDocument,
    PdfSection,
)
from core.model import Account, Payment

router = Router()


@router.action("bills", commands=("bills",))
async def bill_archive(ctx: Context, argument: str) -> None:
    """Periods with a bill, newest first, a page at a time; a period's button sends its PDF."""
    account_part, page = parse_page(argument)
    await with_account(
        ctx, account_part, "bills", lambda c, a: _list_bills(c, a, page, ":" in argument)
    )


async def _list_bills(ctx: Context, account: Account, page_number: int, paging: bool) -> None:
    ctx.reset()
    t = ctx.t
    today = ctx.now.astimezone(ctx.rules.readings.zone).date()
    bills = await ctx.uow.billing.bills(account.id, since_period=periods_back(today, 24)[-1])
    if not bills:
        ctx.say(t("bills.none"), main_menu(t))
        return
    page = page_of(bills, page_number, ctx.rules.page_size)
    lines = [t("bills.title", title=account_title(ctx, account))]
    if footer := page_footer(t, page):
        lines.append(footer)
    rows = [
        [
            Button(
                t("bills.button", period=t.period(b.period), amount=t.money(b.charged)),
                f"bill:{account.id}:{b.period}",
            )
        ]
        for b in page.items
    ]
    navigation = page_buttons(t, page, "bills", str(account.id))
    if navigation:
        rows.append(navigation)
    ctx.say("\n".join(lines), with_menu(t, *rows), replaces_previous=paging)


@router.action("bill")
async def bill_pdf(ctx: Context, argument: str) -> None:
    """One period's bill as a PDF: the stored one from billing, or rendered now."""
    account_part, _, period = argument.partition(":")
    await with_account(ctx, account_part, "bills", lambda c, a: _send_bill(c, a, period))


async def _send_bill(ctx: Context, account: Account, period: str) -> None:
    ctx.reset()
    t = ctx.t
    bill = await ctx.uow.billing.bill(account.id, period)
    if bill is None:
        ctx.say(t("bills.not_found"), main_menu(t))
        return
    statement = await load_bill_statement(
        ctx.uow, account, bill, ctx.rules.billing, ctx.rules.readings.zone
    )
    content = None
    if bill.pdf_ref and ctx.services.stored_documents is not None:
        content = await ctx.services.stored_documents.fetch(bill.pdf_ref)
    if content is None:
        if ctx.services.documents is None:
            ctx.say(t("documents.unavailable"), main_menu(t))
            return
        document = await _bill_document(ctx, account, statement)
        content = await ctx.services.documents.pdf(document)
    charged, paid = await ctx.uow.billing.totals(account.id)
    balance = account.opening_balance + paid - charged
    newer = [b for b in await ctx.uow.billing.bills(account.id) if b.period > bill.period]
    rows = []
    if bill_is_paid(bill, balance, newer):
        text = t("bills.sent_paid", period=t.month(period))
    else:
        text = t(
            "bills.sent_open",
            period=t.month(period),
            due=t.money(bill.amount_due),
            date=t.date(statement.due_on),
        )
        rows.append([Button(t("menu.pay"), f"pay:{account.id}")])
    ctx.say(
        text,
        with_menu(t, *rows),
        document=Attachment(f"rakhunok-{account.number}-{period}.pdf", content, "application/pdf"),
    )


def _carried_text(t: Translator, carried: Decimal) -> str:
    if carried > 0:
        return t("pdf.carried_overpaid", amount=t.money(carried))
    if carried < 0:
        return t("pdf.carried_debt", amount=t.money(-carried))
    return t.money(carried)


async def _bill_document(ctx: Context, account: Account, statement: BillStatement) -> PdfDocument:
    t = ctx.t
    bill = statement.bill
    readings = await ctx.uow.readings.billing(account.id)
    current = next((r for r in readings if r.period == bill.period), None)
    previous = next((r for r in readings if r.period < bill.period), None)
    # A one-zone meter's row names no zone: the column would only say "день".
    named = len(statement.zones) > 1
    head = [t("pdf.previous"), t("pdf.current"), t("pdf.kwh"), t("pdf.price"), t("pdf.amount")]
    table = [[t("pdf.zone"), *head] if named else head]
    for line in statement.zones:
        row = [
            t.number(previous.values.get(line.zone, 0)) if previous else "—",
            t.number(current.values.get(line.zone, 0)) if current else "—",
            t.number(line.kwh),
            t.price(line.price) if line.price is not None else "—",
            t.money(line.amount) if line.amount is not None else "—",
        ]
        table.append([t.zone(line.zone).capitalize(), *row] if named else row)
    transfer = await bank_transfer_for(ctx.uow, ctx.rules.bank, account, statement.due, bill.period)
    sections = [
        PdfSection(
            t("pdf.consumer"),
            [
                (t("pdf.account"), account.number),
                (t("pdf.eic"), account.eic),
                (t("pdf.holder"), account.holder_name),
                (t("pdf.address"), account.address.one_line()),
            ],
        ),
        PdfSection(t("pdf.readings" if named else "pdf.readings_single"), table=table),
        PdfSection(
            t("pdf.charges"),
            [
                (t("pdf.carried"), _carried_text(t, statement.carried)),
                (t("pdf.consumed"), t.kwh(bill.kwh)),
                (t("pdf.charged"), t.money(bill.charged)),
                (t("pdf.due"), t.money(statement.due)),
                (t("pdf.due_on"), t.date(statement.due_on)),
            ],
        ),
    ]
    qr = None
    if transfer is not None:
        sections.append(PdfSection(t("pdf.payment_details"), transfer_rows(t, transfer)))
        if transfer.qr_link is not None:
            qr = PaymentQrImage(
                transfer.qr_link,
                t("pdf.qr_heading"),
                [
                    t("pdf.qr_scan"),
                    t("pdf.qr_amount", amount=t.money(statement.due))
                    if statement.due > 0
                    else t("pdf.qr_no_amount"),
                ],
            )
    return PdfDocument(
        title=t("pdf.bill_title", period=t.month(bill.period)),
        subtitle=t("pdf.issued", date=t.date(bill.issued_on)),
        sections=sections,
        footer=t("pdf.bill_footer"),
        metadata_title=f"{account.number} {bill.period}",
        qr=qr,
    )


@router.action("rcpt")
async def receipt(ctx: Context, argument: str) -> None:
    """A payment's receipt as a PDF (only for the person's own accounts)."""
    ctx.reset()
    t = ctx.t
    payment = await _own_payment(ctx, argument)
    if payment is None:
        ctx.say(t("payments.receipt_not_found"), main_menu(t))
        return
    account = await linked_account(ctx.uow, ctx.person.id, payment.account_id)
    if ctx.services.documents is None:
        ctx.say(t("documents.unavailable"), main_menu(t))
        return
    supplier = await ctx.uow.references.supplier(account.supplier_id)
    zone = ctx.rules.readings.zone
    document = receipt_document(t, zone, account, supplier, payment)
    content = await ctx.services.documents.pdf(document)
    day = payment.paid_at.astimezone(zone).date().isoformat()
    ctx.say(
        t(
            "payments.receipt_sent",
            date=t.date(payment.paid_at.astimezone(zone)),
            amount=t.money(payment.amount),
        ),
        with_menu(t),
        document=Attachment(f"kvytantsiia-{account.number}-{day}.pdf", content, "application/pdf"),
    )


async def _own_payment(ctx: Context, argument: str) -> Payment | None:
    if not argument.isdigit():
        return None
    for account in ctx.accounts:
        for payment in await ctx.uow.billing.payments(account.id):
            if payment.id == int(argument):
                return payment
    return None


@router.action("chart", commands=("chart",))
async def chart(ctx: Context, argument: str) -> None:
    """Monthly kWh for the last 24 months as a PNG: this year against last year."""
    await with_account(ctx, argument, "chart", _send_chart)


async def _send_chart(ctx: Context, account: Account) -> None:
    ctx.reset()
    t = ctx.t
    if ctx.services.documents is None:
        ctx.say(t("documents.unavailable"), main_menu(t))
        return
    today = ctx.now.astimezone(ctx.rules.readings.zone).date()
    periods = list(reversed(periods_back(today, 24)))  # oldest first
    rows = await ctx.uow.readings.consumption(account.id, since_period=periods[0])
    if not rows:
        ctx.say(t("consumption.none"), main_menu(t))
        return
    kwh = {(row.period, row.zone): row.kwh for row in rows}
    months = get_month_names("abbreviated", locale=t.locale)
    series = []
    for half in (periods[:12], periods[12:]):
        label = f"{t.period(half[0])}–{t.period(half[-1])}"
        values = {
            t.zone(zone).capitalize(): [kwh.get((period, zone), 0) for period in half]
            for zone in account.tariff_plan.zones
        }
        series.append(ChartSeries(label, values))
    image = await ctx.services.documents.chart_png(
        ConsumptionChart(
            title=t("chart.title", number=account.number),
            month_labels=[months[int(period[5:])] for period in periods[12:]],
            series=series,
            y_label=t("chart.y_label"),
        )
    )
    totals = [sum(sum(v) for v in s.values.values()) for s in series]
    ctx.say(
        t(
            "chart.caption",
            previous=series[0].label,
            previous_kwh=t.kwh(totals[0]),
            current=series[1].label,
            current_kwh=t.kwh(totals[1]),
        ),
        with_menu(t, [Button(t("menu.consumption"), f"cons:{account.id}")]),
        image=Attachment(f"spozhyvannia-{account.number}.png", image, "image/png"),
    )
