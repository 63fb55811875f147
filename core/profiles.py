"""One person across messengers: a one-time code joins a second messenger to a profile."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.accounts import LinkPolicy, identity_key, wait_before_next_try
from core.errors import DomainError
from core.model import ChannelIdentity
from core.ports import AbstractUnitOfWork


@dataclass(frozen=True)
class CodePolicy:
    """How long a code lives and how many wrong codes a messenger identity may try per
    period; the length makes guessing hopeless within that limit (README, "Security")."""

    ttl: timedelta = timedelta(minutes=15)
    max_failures: int = 5
    period: timedelta = timedelta(hours=1)
    digits: int = 10


class CodeInvalid(DomainError):
    """Unknown, expired or already used code."""


@dataclass
class TooManyCodeAttempts(DomainError):
    """Five wrong codes within the period."""

    wait: timedelta


class SameProfile(DomainError):
    """The code belongs to the person who typed it."""


def normalise_code(code: str) -> str:
    """The code as issued: people copy it with the spaces and dashes it is shown with."""
    return "".join(code.replace("-", " ").split())


def code_hash(code: str) -> str:
    """Codes are stored hashed, so a database reader cannot use them."""
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


async def issue_code(
    uow: AbstractUnitOfWork, person_id: int, now: datetime, policy: CodePolicy
) -> str:
    """A fresh single-use numeric code for this person."""
    code = "".join(secrets.choice("0123456789") for _ in range(policy.digits))
    await uow.persons.add_link_code(person_id, code_hash(code), now + policy.ttl)
    return code


async def join_with_code(
    uow: AbstractUnitOfWork,
    identity: ChannelIdentity,
    code: str,
    now: datetime,
    policy: CodePolicy,
) -> int:
    """Move this messenger identity to the code's person; returns that person's id.

    Accounts linked in the messenger being joined are kept (linked to the joined profile);
    the now-empty person is erased.
    """
    # Counted per messenger identity, not per person: the counter survives erasing the
    # person (a wrong code names no account, so there is no second key as for linking).
    keys = (identity_key(identity),)
    limit = LinkPolicy(policy.max_failures, policy.period)
    wait = await wait_before_next_try(uow, keys, now, limit, "code")
    if wait is not None:
        raise TooManyCodeAttempts(wait)
    typed = normalise_code(code)
    target = await uow.persons.use_link_code(code_hash(typed), now) if typed.isdigit() else None
    if target is None:
        await uow.links.record_failed_attempt(keys, now, "code")
        raise CodeInvalid(code)
    if target == identity.person_id:
        raise SameProfile
    old_person = identity.person_id
    for account in await uow.links.accounts_of(old_person):
        if not await uow.links.is_linked(target, account.id):
            await uow.links.link(target, account.id, now)
    await uow.persons.move_identity(identity.id, target)
    if not await uow.persons.identities(old_person):
        await uow.persons.erase(old_person, now)
    return target
