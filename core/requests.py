"""Call-centre requests (manual §6.8), free services (§6.9) and technical support (§7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.contacts import PhoneInvalid, national_mobile, normalise_mobile
from core.errors import DomainError
from core.model import CallCenterRequest, FreeServiceOrder, RequestStatus, SupportRequest
from core.ports import AbstractUnitOfWork
from core.text import storable


@dataclass(frozen=True)
class RequestRules:
    """Which types people may choose and how long a text may be (configurable)."""

    call_center_types: tuple[str, ...] = (
        "unclear_bill",
        "no_power",
        "meter_fault",
        "readings",
        "recalculation",
        "other",
    )
    free_service_types: tuple[str, ...] = (
        "meter_noise",
        "meter_check",
        "seal_check",
        "meter_display",
        "other",
    )
    support_types: tuple[str, ...] = (
        "adding_accounts",
        "readings",
        "payments",
        "notifications",
        "bug",
        "other",
    )
    # A request's text, in one message or several: a full Viber message (7,000 characters)
    # or two full Telegram ones (4,096 each) fit.
    max_text: int = 10_000


MAX_NAME = 300
"""Characters of a person's name: what the name columns hold (persons, support requests)."""

MAX_LOGIN = 320
"""Characters of a support request's login (an e-mail address at most 320)."""


class TextEmpty(DomainError):
    """Nothing but spaces was sent."""


@dataclass
class TextTooLong(DomainError):
    """Longer than the limit; `length` is how long it was."""

    limit: int
    length: int = 0


class UnknownType(DomainError):
    """A type that is not in the configured list."""


def clean_text(text: str, limit: int) -> str:
    """Trimmed, storable (core.text) text within the limit; empty and too long are refused."""
    cleaned = storable(text).strip()
    if not cleaned:
        raise TextEmpty
    if len(cleaned) > limit:
        raise TextTooLong(limit, len(cleaned))
    return cleaned


def free_service_phone(text: str) -> str:
    """The manual's 10-digit mobile "0XXXXXXXXX" from any common way of writing it."""
    return national_mobile(normalise_mobile(text))


async def submit_call_center(
    uow: AbstractUnitOfWork,
    rules: RequestRules,
    person_id: int,
    account_id: int | None,
    request_type: str,
    text: str,
    now: datetime,
) -> CallCenterRequest:
    """Store a new call-centre request with status "new"."""
    if request_type not in rules.call_center_types:
        raise UnknownType(request_type)
    return await uow.requests.add_call_center(
        CallCenterRequest(
            0,
            person_id,
            account_id,
            request_type,
            clean_text(text, rules.max_text),
            RequestStatus.NEW,
            now,
        )
    )


async def order_free_service(
    uow: AbstractUnitOfWork,
    rules: RequestRules,
    person_id: int,
    account_id: int,
    service_type: str,
    phone: str,
    now: datetime,
) -> FreeServiceOrder:
    """Store a free-service order; the phone in 0XXXXXXXXX form."""
    if service_type not in rules.free_service_types:
        raise UnknownType(service_type)
    return await uow.requests.add_free_service(
        FreeServiceOrder(
            0,
            person_id,
            account_id,
            service_type,
            free_service_phone(phone),
            RequestStatus.NEW,
            now,
        )
    )


async def submit_support(
    uow: AbstractUnitOfWork,
    rules: RequestRules,
    person_id: int,
    name: str,
    login: str,
    phone: str,
    request_type: str,
    text: str,
    now: datetime,
) -> SupportRequest:
    """Store a technical-support request (all fields required)."""
    if request_type not in rules.support_types:
        raise UnknownType(request_type)
    return await uow.requests.add_support(
        SupportRequest(
            0,
            person_id,
            clean_text(name, MAX_NAME),
            clean_text(login, MAX_LOGIN),
            normalise_mobile(phone),
            request_type,
            clean_text(text, rules.max_text),
            RequestStatus.NEW,
            now,
        )
    )


__all__ = [
    "MAX_LOGIN",
    "MAX_NAME",
    "PhoneInvalid",
    "RequestRules",
    "TextEmpty",
    "TextTooLong",
    "UnknownType",
    "clean_text",
    "free_service_phone",
    "order_free_service",
    "submit_call_center",
    "submit_support",
]
