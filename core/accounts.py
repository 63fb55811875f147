"""Linking a person to accounts, and what an account looks like to its holder (manual §6.1)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.eic import normalise_eic
from core.errors import (
    AccountNotFound,
    AccountNotLinked,
    AccountNumberInvalid,
    AlreadyLinked,
    TooManyLinkAttempts,
)
from core.model import (
    Account,
    BalanceFacts,
    Bill,
    BillingReading,
    ChannelIdentity,
    Payment,
    Readings,
)
from core.ports import AbstractUnitOfWork
from core.privacy import attempt_key

_ACCOUNT_NUMBER = re.compile(r"\d{6,13}")


@dataclass(frozen=True)
class LinkPolicy:
    """How many failed link tries a person gets in how long."""

    max_failures: int = 5
    period: timedelta = timedelta(hours=1)


def normalise_account_number(text: str) -> str:
    """Digits only, 6–13 of them (formats differ per DSO); spaces and dashes dropped."""
    compact = re.sub(r"[\s\-]", "", text)
    if not _ACCOUNT_NUMBER.fullmatch(compact):
        raise AccountNumberInvalid(text)
    return compact


def identity_key(identity: ChannelIdentity) -> str:
    """The key a messenger identity's failed tries count under (it survives erasure)."""
    return attempt_key("identity", str(identity.channel), identity.external_id)


def account_key(number: str) -> str:
    """The key failed tries at one account number count under, whoever makes them."""
    return attempt_key("account", number)


async def wait_before_next_try(
    uow: AbstractUnitOfWork,
    keys: Sequence[str],
    now: datetime,
    policy: LinkPolicy,
    kind: str = "account",
) -> timedelta | None:
    """How long to wait before the next try counted under any of `keys`, or None."""
    waits = []
    for key in keys:
        failures = await uow.links.failed_attempts_since(key, now - policy.period, kind)
        if len(failures) < policy.max_failures:
            continue
        # The try that frees a slot is the oldest of the last `max_failures` leaving the period.
        oldest_counted = failures[-policy.max_failures]
        waits.append(max(timedelta(minutes=1), oldest_counted + policy.period - now))
    return max(waits, default=None)


async def link_account(
    uow: AbstractUnitOfWork,
    identity: ChannelIdentity,
    number_text: str,
    eic_text: str,
    now: datetime,
    policy: LinkPolicy,
) -> Account:
    """Link the account whose number and EIC both match to the identity's person; raise a
    DomainError otherwise.

    Typos in the EIC are caught before the lookup so they do not count as a failed try.
    An unknown number and a number with another account's EIC get the same error, so the
    answer never tells whether an account number exists. Failures count against the
    messenger identity and against the account number: whoever tries, an account gets
    `policy.max_failures` wrong EICs per period, and erasing one's data resets nothing.
    """
    number = normalise_account_number(number_text)
    eic = normalise_eic(eic_text)
    keys = (identity_key(identity), account_key(number))
    wait = await wait_before_next_try(uow, keys, now, policy)
    if wait is not None:
        raise TooManyLinkAttempts(wait)
    account = await uow.accounts.find(number, eic)
    if account is None:
        await uow.links.record_failed_attempt(keys, now)
        raise AccountNotFound(number)
    person_id = identity.person_id
    if await uow.links.is_linked(person_id, account.id):
        raise AlreadyLinked(number)
    await uow.links.link(person_id, account.id, now)
    return account


async def linked_account(uow: AbstractUnitOfWork, person_id: int, account_id: int) -> Account:
    """The account if it is linked to the person, else AccountNotLinked."""
    if not await uow.links.is_linked(person_id, account_id):
        raise AccountNotLinked(str(account_id))
    account = await uow.accounts.get(account_id)
    if account is None:
        raise AccountNotLinked(str(account_id))
    return account


async def unlink_account(uow: AbstractUnitOfWork, person_id: int, account_id: int) -> Account:
    """Remove the link; the account and its billing data stay."""
    account = await linked_account(uow, person_id, account_id)
    await uow.links.unlink(person_id, account_id)
    return account


@dataclass(frozen=True)
class AccountSummary:
    """Стан рахунку: balance (positive = overpayment), last payment, bill and readings."""

    account: Account
    balance: Decimal
    last_payment: Payment | None
    last_bill: Bill | None
    last_billing_reading: BillingReading | None
    last_period_consumption: Readings

    @property
    def debt(self) -> Decimal:
        """What is owed (0 when the balance is an overpayment)."""
        return max(Decimal("0.00"), -self.balance)


async def account_summary(uow: AbstractUnitOfWork, account: Account) -> AccountSummary:
    """Balance and the latest billing facts of an account."""
    return summary_of(account, await uow.balance_facts(account.id))


def summary_of(account: Account, facts: BalanceFacts) -> AccountSummary:
    """The summary the balance facts of `account` add up to."""
    return AccountSummary(
        account=account,
        balance=account.opening_balance + facts.paid - facts.charged,
        last_payment=facts.last_payment,
        last_bill=facts.last_bill,
        last_billing_reading=facts.last_billing_reading,
        last_period_consumption=facts.last_period_consumption,
    )


def periods_back(today: date, months: int) -> Sequence[str]:
    """The `months` periods (YYYY-MM) before today's month, newest first."""
    periods: list[str] = []
    year, month = today.year, today.month
    for _ in range(months):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        periods.append(f"{year:04d}-{month:02d}")
    return periods
