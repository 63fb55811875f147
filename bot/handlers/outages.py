"""Planned and emergency outages for the chosen account (manual §6.10, §6.11)."""

from __future__ import annotations

from bot.handlers.accounts import account_title, with_account
from bot.handlers.context import Context
from bot.handlers.router import Router
from bot.menu import with_menu
from bot.messages import Button
from core.model import Account, OutageKind

router = Router()


@router.action("out", commands=("outages",))
async def outages(ctx: Context, argument: str) -> None:
    """Outages that hit the account's address or outage group, now or ahead."""
    await with_account(ctx, argument, "out", _show_outages)


async def _show_outages(ctx: Context, account: Account) -> None:
    ctx.reset()
    t = ctx.t
    zone = ctx.rules.readings.zone
    found = await ctx.uow.outages.affecting(account, ctx.now)
    updated = await ctx.uow.outages.last_update(account.dso_id)
    as_of = (
        t("outages.as_of", time=t.moment(updated.astimezone(zone)))
        if updated
        else t("outages.never_updated")
    )
    lines = [t("outages.title", title=account_title(ctx, account))]
    if account.outage_group:
        lines.append(t("info.outage_group", group=account.outage_group))
    if not found:
        lines.append(t("outages.none"))
    for kind in (OutageKind.EMERGENCY, OutageKind.PLANNED):
        of_kind = sorted((o for o in found if o.kind == kind), key=lambda o: o.starts_at)
        if not of_kind:
            continue
        lines.append("")
        lines.append(t(f"outages.{kind.value}"))
        for outage in of_kind:
            starts = outage.starts_at.astimezone(zone)
            when = (
                t.span(starts, outage.ends_at.astimezone(zone))
                if outage.ends_at
                else t("outages.open", starts=t.moment(starts))
            )
            # The reason is the grid operator's own words, shown as written (in Ukrainian
            # also to an English speaker, who is told whose words they are).
            if outage.reason:
                lines.append(t("outages.item", when=when, reason=outage.reason))
            else:
                lines.append(t("outages.item_no_reason", when=when))
    lines.append("")
    lines.append(as_of)
    ctx.say("\n".join(lines), with_menu(t, [Button(t("menu.schedule"), "sched")]))
