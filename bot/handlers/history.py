"""Payment history (manual §6.2) and readings history (§6.3, fig. 3.1), by year."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.handlers.accounts import account_title, with_account
from bot.handlers.context import Context
from bot.handlers.paging import page_buttons, page_footer, page_of, parse_page
from bot.handlers.router import Router
from bot.menu import main_menu, with_menu
from bot.messages import Button
from core.accounts import periods_back
from core.model import Account

router = Router()


def _two_years_ago(ctx: Context) -> tuple[datetime, str]:
    """The start of the two-year history, as a moment and as a period."""
    zone: ZoneInfo = ctx.rules.readings.zone
    today = ctx.now.astimezone(zone).date()
    oldest_period = periods_back(today, 24)[-1]
    year, month = (int(part) for part in oldest_period.split("-"))
    return datetime.combine(
        today.replace(year=year, month=month, day=1), time(), zone
    ), oldest_period


def _year_buttons(action: str, account: Account, years: list[str], chosen: str) -> list[Button]:
    return [
        Button(("• " if year == chosen else "") + year, f"{action}:{account.id}:{year}:0")
        for year in years
    ]


def _split_argument(argument: str) -> tuple[str, str, int]:
    """ "12:2026:1" → ("12", "2026", 1): account, year, page."""
    head, page = parse_page(argument)
    account_part, _, year = head.partition(":")
    return account_part, year, page


@router.action("pays", commands=("payments",))
async def payments(ctx: Context, argument: str) -> None:
    """Payments of one year (amount with VAT, date), newest first, each with a receipt."""
    account_part, year, page = _split_argument(argument)
    await with_account(
        ctx,
        account_part,
        "pays",
        lambda c, a: _show_payments(c, a, year, page, bool(argument.count(":"))),
    )


async def _show_payments(
    ctx: Context, account: Account, year: str, page_number: int, paging: bool
) -> None:
    ctx.reset()
    t = ctx.t
    since, _ = _two_years_ago(ctx)
    zone = ctx.rules.readings.zone
    rows = await ctx.uow.billing.payments(account.id, since=since)
    if not rows:
        ctx.say(t("payments.none"), main_menu(t))
        return
    years = sorted({str(p.paid_at.astimezone(zone).year) for p in rows}, reverse=True)
    year = year if year in years else years[0]
    of_year = [p for p in rows if str(p.paid_at.astimezone(zone).year) == year]
    page = page_of(of_year, page_number, ctx.rules.page_size)
    lines = [t("payments.title", title=account_title(ctx, account), year=year)]
    lines += [
        t("payments.line", date=t.date(p.paid_at.astimezone(zone)), amount=t.money(p.amount))
        for p in page.items
    ]
    year_total = sum((p.amount for p in of_year), Decimal(0))
    lines.append(t("payments.year_total", amount=t.money(year_total)))
    if footer := page_footer(t, page):
        lines.append(footer)
    receipts = [
        [
            Button(
                t(
                    "payments.receipt",
                    date=t.date(p.paid_at.astimezone(zone)),
                    amount=t.money(p.amount),
                ),
                f"rcpt:{p.id}",
            )
        ]
        for p in page.items
    ]
    navigation = page_buttons(t, page, "pays", f"{account.id}:{year}")
    rows_of_buttons = [*receipts, _year_buttons("pays", account, years, year)]
    if navigation:
        rows_of_buttons.append(navigation)
    ctx.say("\n".join(lines), with_menu(t, *rows_of_buttons), replaces_previous=paging)


@router.action("hist", commands=("history",))
async def readings_history(ctx: Context, argument: str) -> None:
    """Submitted readings (date, values, source) and billing readings by period, by year."""
    account_part, year, page = _split_argument(argument)
    await with_account(
        ctx,
        account_part,
        "hist",
        lambda c, a: _show_history(c, a, year, page, bool(argument.count(":"))),
    )


async def _show_history(
    ctx: Context, account: Account, year: str, page_number: int, paging: bool
) -> None:
    ctx.reset()
    t = ctx.t
    since, oldest_period = _two_years_ago(ctx)
    zone = ctx.rules.readings.zone
    submitted = await ctx.uow.readings.submitted(account.id, since=since)
    billing = await ctx.uow.readings.billing(account.id, since_period=oldest_period)
    years = sorted(
        {str(r.taken_at.astimezone(zone).year) for r in submitted}
        | {b.period[:4] for b in billing},
        reverse=True,
    )
    if not years:
        ctx.say(t("history.none"), main_menu(t))
        return
    year = year if year in years else years[0]
    entered = [r for r in submitted if str(r.taken_at.astimezone(zone).year) == year]
    settled = [b for b in billing if b.period.startswith(year)]
    page = page_of(entered, page_number, ctx.rules.page_size)
    lines = [t("history.title", title=account_title(ctx, account), year=year), t("history.entered")]
    for reading in page.items:
        values = t.values(reading.values, account.tariff_plan.zones)
        photo = " 📷" if reading.photo_id else ""
        lines.append(
            t(
                "history.entered_line",
                date=t.date(reading.taken_at.astimezone(zone)),
                values=values,
                source=t(f"source.{reading.source.value}"),
            )
            + photo
        )
    if not page.items:
        lines.append(t("history.nothing"))
    if page.number == 0:
        lines.append("")
        lines.append(t("history.billing"))
        for billed in settled:
            values = t.values(billed.values, account.tariff_plan.zones)
            lines.append(
                t(
                    "history.billing_line",
                    period=t.period(billed.period),
                    values=values,
                    source=t(f"source.{billed.source.value}"),
                )
            )
        if not settled:
            lines.append(t("history.nothing"))
    if footer := page_footer(t, page):
        lines.append(footer)
    buttons = [_year_buttons("hist", account, years, year)]
    navigation = page_buttons(t, page, "hist", f"{account.id}:{year}")
    if navigation:
        buttons.append(navigation)
    buttons.append(
        [Button(t("menu.calc"), f"calc:{account.id}"), Button(t("menu.read"), f"read:{account.id}")]
    )
    ctx.say("\n".join(lines), with_menu(t, *buttons), replaces_previous=paging)
