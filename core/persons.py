"""Persons and their channel identities."""

from __future__ import annotations

from core.model import Channel
from core.ports import AbstractUnitOfWork


async def mark_unreachable(uow: AbstractUnitOfWork, channel: Channel, external_id: str) -> bool:
    """Stop pushing to an identity that blocked us or unsubscribed; False if unknown.

    Writing to us again makes it reachable again (the dialog does that).
    """
    identity = await uow.persons.identity(channel, external_id)
    if identity is None:
        return False
    if identity.reachable:
        await uow.persons.set_reachable(identity.id, False)
    return True
