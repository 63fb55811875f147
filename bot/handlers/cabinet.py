"""Personal information (manual §6.1), meter (§6.5) and consumption (§6.4)."""

from __future__ import annotations

from bot.handlers.accounts import account_title, with_account
from bot.handlers.context import Context
from bot.handlers.money import account_lines
from bot.handlers.router import Router
from bot.menu import main_menu, with_menu
from bot.messages import Button
from core.accounts import periods_back
from core.balances import account_balance
from core.model import Account

router = Router()


@router.action("info", commands=("info",))
async def personal_information(ctx: Context, argument: str) -> None:
    """Holder, address, EIC, balance, last payment/bill/readings/consumption, tariff, contract."""
    await with_account(ctx, argument, "info", _show_info)


async def _show_info(ctx: Context, account: Account) -> None:
    ctx.reset()
    t = ctx.t
    found = await account_balance(ctx.uow, account, ctx.now, ctx.rules.billing, ctx.rules.readings)
    lines = [
        t("info.title"),
        t(
            "account.card",
            number=account.number,
            eic=account.eic,
            holder=account.holder_name,
            address=account.address.one_line(),
        ),
    ]
    if account.outage_group:
        lines.append(t("info.outage_group", group=account.outage_group))
    lines.append("")
    lines += account_lines(t, found, ctx.rules.readings.zone)
    lines.append("")
    lines.extend(await _tariff_lines(ctx, account))
    lines.append("")
    lines.extend(await _contract_lines(ctx, account))
    ctx.data["acc"] = account.id
    first_row = [Button(t("menu.payments"), f"pays:{account.id}")]
    if found.money.to_pay > 0:  # nothing to pay when it is settled or paid ahead
        first_row.insert(0, Button(t("menu.pay"), f"pay:{account.id}"))
    ctx.say(
        "\n".join(lines),
        with_menu(
            t,
            first_row,
            [
                Button(t("menu.read"), f"read:{account.id}"),
                Button(t("menu.meter"), f"meter:{account.id}"),
            ],
        ),
    )


async def _tariff_lines(ctx: Context, account: Account) -> list[str]:
    t = ctx.t
    today = ctx.now.astimezone(ctx.rules.readings.zone).date()
    rates = await ctx.uow.tariffs.rates_in_force(account.tariff_plan, today)
    lines = [t("info.tariff", plan=t(f"plan.{account.tariff_plan.value}"))]
    by_zone = {rate.zone: rate for rate in rates}
    zones = account.tariff_plan.zones
    for zone in zones:
        rate = by_zone.get(zone)
        if rate is not None:
            lines.append(
                t(
                    # A one-zone tariff has one price: no zone to name.
                    "info.tariff_price" if len(zones) == 1 else "info.tariff_zone",
                    zone=t.zone(zone),
                    price=t.price(rate.price),
                    since=t.date(rate.valid_from),
                )
            )
    return lines


async def _contract_lines(ctx: Context, account: Account) -> list[str]:
    t = ctx.t
    supplier = await ctx.uow.references.supplier(account.supplier_id)
    dso = await ctx.uow.references.dso(account.dso_id)
    contract_date = t.date(account.contract_date) if account.contract_date else "—"
    return [
        t("info.contract", number=account.contract_number or "—", date=contract_date),
        t("info.supplier", name=supplier.name if supplier else "—"),
        t("info.dso", name=dso.name if dso else "—"),
    ]


@router.action("meter", commands=("meter",))
async def meter(ctx: Context, argument: str) -> None:
    """Serial, type, installation date and readings, zones, digit count."""
    await with_account(ctx, argument, "meter", _show_meter)


async def _show_meter(ctx: Context, account: Account) -> None:
    ctx.reset()
    t = ctx.t
    device = await ctx.uow.meters.in_service(account.id)
    if device is None:
        ctx.say(t("reading.no_meter"), main_menu(t))
        return
    installed = t.values({zone: device.install_readings.get(zone, 0) for zone in device.zones})
    ctx.say(
        t(
            "meter.card",
            title=account_title(ctx, account),
            serial=device.serial,
            type=device.type_name,
            installed_on=t.date(device.installed_on),
            installed=installed,
            zones=t(f"plan.{account.tariff_plan.value}"),
            digits=t.n("count.digits", device.digit_count),
        ),
        with_menu(
            t,
            [
                Button(t("menu.read"), f"read:{account.id}"),
                Button(t("menu.history"), f"hist:{account.id}"),
            ],
        ),
    )


@router.action("cons", commands=("consumption",))
async def consumption(ctx: Context, argument: str) -> None:
    """kWh per period and zone, by year, for the last two years."""
    account_part, _, year = argument.partition(":")
    await with_account(ctx, account_part, "cons", lambda c, a: _show_consumption(c, a, year))


async def _show_consumption(ctx: Context, account: Account, year_text: str) -> None:
    ctx.reset()
    t = ctx.t
    today = ctx.now.astimezone(ctx.rules.readings.zone).date()
    oldest = periods_back(today, 24)[-1]
    rows = await ctx.uow.readings.consumption(account.id, since_period=oldest)
    years = sorted({row.period[:4] for row in rows}, reverse=True)
    if not years:
        ctx.say(t("consumption.none"), main_menu(t))
        return
    year = year_text if year_text in years else years[0]
    per_period: dict[str, dict] = {}
    for row in rows:
        if row.period.startswith(year):
            per_period.setdefault(row.period, {})[row.zone] = row.kwh
    zones = account.tariff_plan.zones
    lines = [t("consumption.title", title=account_title(ctx, account), year=year)]
    total = 0
    for period in sorted(per_period):
        values = per_period[period]
        total += sum(values.values())
        if len(zones) == 1:
            lines.append(
                t("consumption.line", period=t.period(period), kwh=t.kwh(sum(values.values())))
            )
        else:
            parts = t.values({zone: values.get(zone, 0) for zone in zones})
            lines.append(
                t(
                    "consumption.line_zones",
                    period=t.period(period),
                    zones=parts,
                    kwh=t.kwh(sum(values.values())),
                )
            )
    months = t.n("count.months", len(per_period))
    lines.append(t("consumption.total", months=months, kwh=t.kwh(total)))
    year_buttons = [
        Button(("• " if other == year else "") + other, f"cons:{account.id}:{other}")
        for other in years
    ]
    ctx.say(
        "\n".join(lines),
        with_menu(t, year_buttons, [Button(t("menu.chart"), f"chart:{account.id}")]),
        replaces_previous=bool(year_text),
    )
