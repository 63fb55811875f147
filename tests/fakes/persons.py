"""The person port in memory (identities, consents, link codes, preferences)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from core.model import Channel, ChannelIdentity, Consent, NotificationPrefs, Person
from core.ports import AbstractPersonRepository
from tests.fakes.data import FakeRepo


class FakePersons(FakeRepo, AbstractPersonRepository):
    async def identity(self, channel: Channel, external_id: str) -> ChannelIdentity | None:
        return next(
            (
                i
                for i in self.data.identities.values()
                if i.channel == channel and i.external_id == external_id
            ),
            None,
        )

    async def create_person_with_identity(
        self,
        channel: Channel,
        external_id: str,
        display_name: str,
        locale: str | None,
        at: datetime,
    ) -> ChannelIdentity:
        person = Person(self.data.next_id(), name=display_name, locale=locale, created_at=at)
        self.data.persons[person.id] = person
        identity = ChannelIdentity(
            self.data.next_id(), person.id, channel, external_id, display_name
        )
        self.data.identities[identity.id] = identity
        return identity

    async def get(self, person_id: int) -> Person | None:
        return self.data.persons.get(person_id)

    async def update(self, person: Person) -> None:
        self.data.persons[person.id] = person

    async def identities(self, person_id: int) -> Sequence[ChannelIdentity]:
        return [i for i in self.data.identities.values() if i.person_id == person_id]

    async def set_reachable(self, identity_id: int, reachable: bool) -> None:
        identity = self.data.identities[identity_id]
        self.data.identities[identity_id] = replace(identity, reachable=reachable)

    async def add_consent(self, consent: Consent) -> None:
        self.data.consents.append(consent)

    async def latest_consent(self, person_id: int) -> Consent | None:
        mine = [c for c in self.data.consents if c.person_id == person_id]
        return max(mine, key=lambda c: c.given_at) if mine else None

    async def move_identity(self, identity_id: int, person_id: int) -> None:
        identity = self.data.identities[identity_id]
        self.data.identities[identity_id] = replace(identity, person_id=person_id)

    async def erase(self, person_id: int, at: datetime) -> None:
        person = self.data.persons[person_id]
        self.data.persons[person_id] = Person(person.id, created_at=person.created_at)
        for identity in [i for i in self.data.identities.values() if i.person_id == person_id]:
            del self.data.identities[identity.id]
            self.data.dialogs.pop((identity.channel, identity.external_id), None)
        for key in [k for k in self.data.links if k[0] == person_id]:
            del self.data.links[key]
        self.data.prefs.pop(person_id, None)
        for code, (owner, _, _) in list(self.data.link_codes.items()):
            if owner == person_id:
                del self.data.link_codes[code]
        self.data.schedule_settings.pop(person_id, None)
        for key, order in list(self.data.orders.items()):
            if order.person_id == person_id:
                self.data.orders[key] = replace(order, person_id=None, user_id="")

    async def add_link_code(self, person_id: int, code_hash: str, expires_at: datetime) -> None:
        self.data.link_codes[code_hash] = (person_id, expires_at, False)

    async def use_link_code(self, code_hash: str, now: datetime) -> int | None:
        entry = self.data.link_codes.get(code_hash)
        if entry is None or entry[2] or entry[1] <= now:
            return None
        self.data.link_codes[code_hash] = (entry[0], entry[1], True)
        return entry[0]

    async def prefs(self, person_id: int) -> NotificationPrefs | None:
        return self.data.prefs.get(person_id)

    async def save_prefs(self, prefs: NotificationPrefs) -> None:
        self.data.prefs[prefs.person_id] = prefs
