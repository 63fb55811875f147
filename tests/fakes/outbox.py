"""The outbox port in memory, routed by core.delivery's channel rules."""

from __future__ import annotations

from datetime import datetime

from core.delivery import Route, choose_route
from core.model import Account, Channel, Outage
from core.outages import building_matches
from core.ports import AbstractOutboxRepository
from storage.addresses import settlement_key, street_key
from tests.fakes.data import FakePush, FakeRepo


class FakeOutbox(FakeRepo, AbstractOutboxRepository):
    """The outbox port in memory, with the channel rules of core.delivery (no 24-hour
    knowledge: a fake person last wrote never, unless `data.last_inbound` says so)."""

    @property
    def rows(self) -> dict[tuple[str, int], FakePush]:
        """The queued pushes by (event, person id)."""
        return self.data.outbox_rows

    def _route(self, person_id: int, topic: str, now: datetime, prefer: Channel | None):
        last = self.data.last_inbound
        routes = [
            Route(i.channel, i.id, last.get((i.channel, i.external_id)), i.reachable)
            for i in self.data.identities.values()
            if i.person_id == person_id
        ]
        person = self.data.persons.get(person_id)
        if person is not None and person.email:
            routes.append(Route(Channel.EMAIL, None))
        # The channels on in the installation the test plays (`data.push_channels`).
        on = self.data.push_channels
        prefs = self.data.prefs.get(person_id)
        if prefer is not None:
            preferred = [r for r in routes if r.channel == prefer]
            chosen = choose_route(preferred, prefs, topic, now, on=on)
            if chosen is not None:
                return chosen
        return choose_route(routes, prefs, topic, now, on=on)

    async def _add(
        self,
        person_id: int,
        event: str,
        subject: str,
        topic: str,
        payload: dict,
        now: datetime,
        prefer: Channel | None = None,
    ) -> bool:
        if (event, person_id) in self.rows:
            return False
        route = self._route(person_id, topic, now, prefer)
        if route is None:
            return False
        self.rows[(event, person_id)] = FakePush(
            event, subject, person_id, route.channel, topic, dict(payload)
        )
        return True

    async def enqueue_person(self, person_id, event, subject, topic, payload, now, prefer=None):
        return await self._add(person_id, event, subject, topic, payload, now, prefer)

    def _targeted(self, outage: Outage) -> set[int]:
        def hits(account: Account) -> bool:
            for t in outage.targets:
                if t.outage_group and t.outage_group == account.outage_group:
                    return True
                if not t.street or street_key(t.street) != street_key(account.address.street):
                    continue
                if t.settlement and settlement_key(t.settlement) != settlement_key(
                    account.address.settlement
                ):
                    continue
                if not t.buildings or any(
                    building_matches(spec, account.address.building) for spec in t.buildings
                ):
                    return True
            return False

        hit = {a.id for a in self.data.accounts.values() if a.dso_id == outage.dso_id and hits(a)}
        return {person for (person, account) in self.data.links if account in hit}

    def _told(self, subject: str) -> set[int]:
        return {
            p.person_id
            for p in self.rows.values()
            if p.subject == subject and p.status in ("claimed", "sending", "sent", "uncertain")
        }

    async def enqueue_outage_targets(self, outage, event, topic, payload, now, exclude_told=False):
        subject = f"outage:{outage.id}"
        persons = self._targeted(outage) - (self._told(subject) if exclude_told else set())
        return sum([await self._add(p, event, subject, topic, payload, now) for p in persons])

    async def enqueue_told(
        self, subject, event, topic, payload, now, outage=None, still_targeted=None
    ):
        persons = self._told(subject)
        if outage is not None and still_targeted is not None:
            targeted = self._targeted(outage)
            persons = persons & targeted if still_targeted else persons - targeted
        return sum([await self._add(p, event, subject, "answers", payload, now) for p in persons])

    async def supersede_pending(self, subject: str, now: datetime) -> int:
        pending = [p for p in self.rows.values() if p.subject == subject and p.status == "pending"]
        for push in pending:
            push.status = "superseded"
        return len(pending)

    async def queued_per_channel(self, subject: str) -> dict[tuple[Channel, str], int]:
        counts: dict[tuple[Channel, str], int] = {}
        for push in self.rows.values():
            if push.subject == subject and push.status != "superseded":
                key = (push.channel, push.topic)
                counts[key] = counts.get(key, 0) + 1
        return counts

    async def event_queued(self, subject: str, event: str) -> bool:
        return any(p.event == event for p in self.rows.values())

    async def enqueue_new_bills(self, periods, account_ids, now):
        queued = 0
        for bill in self.data.bills:
            if bill.period not in periods or (
                account_ids is not None and bill.account_id not in account_ids
            ):
                continue
            for person, account in self.data.links:
                if account == bill.account_id:
                    queued += await self._add(
                        person,
                        f"bill:{bill.period}:{account}",
                        f"bill:{bill.period}",
                        "new_bills",
                        {"kind": "bill.new", "period": bill.period},
                        now,
                    )
        return queued

    async def enqueue_reading_reminders(self, period, window_opens, payload, now):
        waiting = {
            person
            for person, account in self.data.links
            if any(m.account_id == account and m.removed_on is None for m in self.data.meters)
            and not any(
                r.account_id == account and r.taken_at >= window_opens
                for r in self.data.submitted.values()
            )
        }
        event = f"reading:{period}"
        return sum(
            [await self._add(p, event, event, "reading_reminders", payload, now) for p in waiting]
        )
