"""Pushes rendered for a person: a queued payload (outage, bill, reminder, payment, answer)
into replies in the person's language, at delivery time; and schedule push texts, rendered
once per language when a schedule is published.

Delivery workers (scheduler.delivery) call `PushRenderer.render` for each claimed row; the
rows come from storage, so only the fields used here are named (`QueuedPush`).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, Protocol

from bot.handlers.reading_state import ReadingDraft
from bot.handlers.schedule import _STATE_NAMES, _interval_line
from bot.i18n import SUPPORTED_LOCALES, Catalogues, Translator
from bot.menu import main_menu, menu_button
from bot.messages import Button, Reply
from core.balances import BillingRules, due_date
from core.documents import DocumentRenderer
from core.model import Channel, DialogState, Zone
from core.ports import AbstractUnitOfWorkFactory
from core.records import PushKind
from core.schedules import Interval, PushTexts, SchedulePushKind


class QueuedPush(Protocol):
    """What rendering needs of a claimed outbox row (read-only: the row is frozen)."""

    @property
    def person_id(self) -> int | None: ...
    @property
    def channel(self) -> Channel: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def locale(self) -> str | None: ...
    @property
    def payload(self) -> dict: ...
    @property
    def event(self) -> str: ...


@dataclass
class RenderedPush:
    """What to send, and (for a reading reminder) the dialog step to offer afterwards."""

    replies: list[Reply]
    subject: str = ""
    step: DialogState | None = None


class PushRenderer:
    """Turns a neutral payload into replies in the person's language."""

    def __init__(
        self,
        uow_factory: AbstractUnitOfWorkFactory,
        catalogues: Catalogues,
        zone: tzinfo,
        documents: DocumentRenderer | None = None,
        *,
        billing: BillingRules | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._catalogues = catalogues
        self._zone = zone
        self._documents = documents
        self._billing = billing or BillingRules()

    def shared_key(self, push: QueuedPush) -> Hashable | None:
        """A key under which this push renders as every other push with the same key (its
        language and payload), or None when rendering reads the person's own data (bills,
        reminders, payments). An outage alert to 100,000 people renders once per language."""
        kind = str(push.payload.get("kind", ""))
        if not (kind.startswith("outage.") or kind == PushKind.TEXT):
            return None
        locale = self._catalogues.translator(push.locale or "").locale
        return locale, json.dumps(push.payload, sort_keys=True, ensure_ascii=False)

    async def render(self, push: QueuedPush) -> RenderedPush:
        """Replies for one claimed push; raises on a payload it does not know."""
        t = self._catalogues.translator(push.locale or "")
        payload = push.payload
        kind = payload.get("kind", "")
        if kind.startswith("outage."):
            return self._outage(t, payload)
        if kind == PushKind.BILL_NEW:
            return await self._bill(t, push)
        if kind == PushKind.READING_REMINDER:
            return await self._reading(t, push)
        if kind == PushKind.PAYMENT_PAID:
            return await self._payment(t, payload)
        if kind == PushKind.PAYMENT_HELD:
            return await self._held(t, payload)
        if kind == PushKind.CALL_CENTER_ANSWER:
            text = t("push.call_center.answer", number=payload["request_id"])
            return _answer(t, text, payload["answer"], "cc.mine", "cc")
        if kind == PushKind.FREE_SERVICE_ANSWER:
            text = t(
                "push.free_service.answer",
                number=payload["order_id"],
                type=t.label("free_type", payload["service_type"]),
                status=t(f"status.{payload['status']}"),
            )
            return _answer(t, text, payload["answer"], "free.mine", "free")
        if kind == PushKind.SUPPORT_ANSWER:
            text = t("push.support.answer", number=payload["request_id"])
            return _answer(t, text, payload["answer"], "cc.mine", "sup")
        if kind == PushKind.TEXT:
            return RenderedPush([Reply(payload["text"], [[menu_button(t)]])], payload["text"])
        raise ValueError(f"unknown push kind {kind!r}")

    def _local(self, iso: str) -> datetime:
        return datetime.fromisoformat(iso).astimezone(self._zone)

    def _moment(self, t: Translator, iso: str | None) -> str:
        if not iso:
            return t("push.outage.until_restored")
        return t.moment(self._local(iso))

    def _outage(self, t: Translator, p: dict[str, Any]) -> RenderedPush:
        kind = p["kind"]
        head = t(f"push.{kind}", time=self._moment(t, p.get("restored_at")))
        lines = [head]
        if kind == PushKind.OUTAGE_CHANGED:
            if not p.get("affected", True):
                lines.append(t("push.outage.no_longer"))
            for name, change in p.get("changed", {}).items():
                if name in ("starts_at", "ends_at"):
                    old, new = self._moment(t, change["old"]), self._moment(t, change["new"])
                    if change["old"] and change["new"]:
                        before, after = self._local(change["old"]), self._local(change["new"])
                        if before.date() == after.date():  # "… о 09:00 → 10:00"
                            new = after.strftime("%H:%M")
                    lines.append(t(f"push.changed.{name}", old=old, new=new))
                elif name == "reason":
                    lines.append(t("push.changed.reason", old=change["old"], new=change["new"]))
            if {"groups", "streets"} & set(p.get("changed", {})):
                lines.append(t("push.changed.targets"))
        if p.get("ends_at"):
            span = t.span(self._local(p["starts_at"]), self._local(p["ends_at"]))
            when = t("push.outage.when", when=span)
        else:
            when = t("push.outage.when_open", starts=self._moment(t, p["starts_at"]))
        lines.append(when)
        if p.get("groups"):
            label = "push.outage.groups" if len(p["groups"]) > 1 else "push.outage.group"
            lines.append(t(label, groups=", ".join(p["groups"])))
        for street in p.get("streets", []):
            address = ", ".join(x for x in (street.get("settlement"), street["street"]) if x)
            if street.get("buildings"):
                address += ", " + t(
                    "push.outage.buildings", buildings=", ".join(street["buildings"])
                )
            lines.append(t("push.outage.street", address=address))
        reason_said = kind == PushKind.OUTAGE_CHANGED and "reason" in p.get("changed", {})
        if p.get("reason") and kind != PushKind.OUTAGE_RESTORED and not reason_said:
            # The grid operator's own words, as written (Ukrainian in every language).
            lines.append(t("push.outage.reason", reason=p["reason"]))
        buttons = [[menu_button(t)]]
        return RenderedPush([Reply("\n".join(lines), buttons)], head)

    async def _bill(self, t: Translator, push: QueuedPush) -> RenderedPush:
        account_id = int(push.event.rsplit(":", 1)[1])
        period = push.payload["period"]
        async with self._uow_factory() as uow:
            account = await uow.accounts.get(account_id)
            bill = await uow.billing.bill(account_id, period)
        if account is None or bill is None:
            raise ValueError("the bill is gone")
        # The bill's own amount due (billing counted earlier debt or overpayment into it).
        facts = {
            "period": t.month(period),
            "account": account.number,
            "charged": t.money(bill.charged),
        }
        if bill.amount_due > 0:
            due_on = due_date(bill.period, bill.issued_on, self._billing)
            text = t("push.bill.new", due=t.money(bill.amount_due), date=t.date(due_on), **facts)
        else:
            text = t("push.bill.new_covered", **facts)
        return RenderedPush([Reply(text, main_menu(t))], text)

    async def _reading(self, t: Translator, push: QueuedPush) -> RenderedPush:
        p = push.payload
        opens = datetime.fromisoformat(p["opens"])
        closes = datetime.fromisoformat(p["closes"])
        lines = [t("push.reading.reminder", opens=t.date(opens), closes=t.date(closes))]
        step: DialogState | None = None
        async with self._uow_factory() as uow:
            accounts = await uow.links.accounts_of(push.person_id or 0)
            for account in accounts:
                if await uow.readings.submitted(account.id, since=opens):
                    continue
                meter = await uow.meters.in_service(account.id)
                if meter is None:
                    continue
                billing = await uow.readings.latest_billing(account.id)
                if billing is None:
                    lines.append(t("push.reading.account_none", account=account.number))
                else:
                    values = t.values({z: billing.values.get(z, 0) for z in meter.zones})
                    lines.append(
                        t(
                            "push.reading.account",
                            account=account.number,
                            values=values,
                            date=t.date(billing.taken_on),
                        )
                    )
                if step is None and push.external_id is not None:
                    # The first account waiting for a reading: the reply goes straight
                    # into the reading step of the dialog (bot.handlers.readings).
                    zones = [Zone(z).value for z in meter.zones]
                    step = DialogState(
                        push.channel,
                        push.external_id,
                        "read.value",
                        ReadingDraft(account.id, zones).data(),
                    )
                    reply_to = account.number
        if step is None:
            raise ValueError("every account has its reading already")
        lines.append(t("push.reading.reply", account=reply_to))
        return RenderedPush([Reply("\n".join(lines), [[menu_button(t)]])], lines[0], step)

    async def _payment(self, t: Translator, payload: dict[str, Any]) -> RenderedPush:
        from bot.handlers.receipts import paid_replies  # PDF rendering loads only when paying

        async with self._uow_factory() as uow:
            order = await uow.payment_orders.get(payload["order_id"])
            if order is None:
                raise ValueError("the order is gone")
            replies = await paid_replies(uow, t, self._zone, self._documents, order, self._billing)
        if not replies:
            raise ValueError("the order is not paid")
        return RenderedPush(replies, replies[0].text.split("\n", 1)[0])

    async def _held(self, t: Translator, payload: dict[str, Any]) -> RenderedPush:
        from bot.handlers.receipts import held_replies

        async with self._uow_factory() as uow:
            order = await uow.payment_orders.get(payload["order_id"])
            if order is None:
                raise ValueError("the order is gone")
            paid_at = datetime.fromisoformat(payload["paid_at"])
            replies = await held_replies(uow, t, self._zone, order, paid_at)
        if not replies:
            raise ValueError("the account is gone")
        return RenderedPush(replies, replies[0].text)


def _answer(t: Translator, head: str, answer: str, label: str, payload: str) -> RenderedPush:
    """An operator's answer: what it answers, the answer, and the way to the list."""
    buttons = [[Button(t(label), payload)], [menu_button(t)]]
    return RenderedPush([Reply(head + "\n" + answer, buttons)], head)


# --- push texts ------------------------------------------------------------------------------


def push_texts(catalogues: Catalogues, zone: tzinfo) -> PushTexts:
    """Renders schedule push facts into {locale: text} for every supported language."""

    def render(facts: dict) -> Mapping[str, str]:
        return {
            locale: _push_text(catalogues.translator(locale), facts, zone)
            for locale in SUPPORTED_LOCALES
        }

    return render


def _push_text(t: Translator, facts: dict, zone: tzinfo) -> str:
    kind = facts["kind"]
    group = facts["group"]
    if kind in (SchedulePushKind.REMIND_OFF, SchedulePushKind.REMIND_ON):
        at = datetime.fromisoformat(facts["at"]).astimezone(zone)
        if kind == SchedulePushKind.REMIND_ON:
            return t(
                "schedule.push.remind_on",
                group=group,
                minutes=t.n("count.minutes", facts["minutes"]),
                time=at.strftime("%H:%M"),
            )
        until = facts.get("until")
        line = t(
            "schedule.push.remind_off",
            group=group,
            minutes=t.n("count.minutes", facts["minutes"]),
            time=at.strftime("%H:%M"),
        )
        if until:
            end = datetime.fromisoformat(until).astimezone(zone)
            line += "\n" + t("schedule.push.until", time=end.strftime("%H:%M"))
        return line
    day = date.fromisoformat(facts["day"])
    if kind == SchedulePushKind.CHANGED:
        lines = [t("schedule.push.changed", group=group, date=t.date(day))]
        changes = facts.get("changes", {})
        for name in ("added", "removed"):
            if changes.get(name):
                items = ", ".join(_change_item(t, item) for item in changes[name])
                lines.append(t(f"schedule.push.{name}", items=items))
        lines.append(t("schedule.push.now_reads"))
    else:
        message = "schedule.push.tomorrow" if facts.get("tomorrow") else "schedule.push.published"
        lines = [t(message, group=group, date=t.date(day))]
    found = [
        Interval(_minute(i["from"]), _minute(i["to"]), _STATE_NAMES[i["state"]])
        for i in facts["intervals"]
    ]
    if not found:
        lines.append(t("schedule.all_on"))
    lines += [_interval_line(t, interval) for interval in found]
    lines.append(t("schedule.total_off", hours=t.hours(facts["hours_off"])))
    return "\n".join(lines)


def _minute(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _change_item(t: Translator, item: str) -> str:
    state, _, span = item.partition(" ")
    return t(f"schedule.state.{state}", span=span)
