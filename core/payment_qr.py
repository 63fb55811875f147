"""Paying by bank transfer: the payee's details and the National Bank of Ukraine's payment
QR code (rules of NBU resolution No. 97, in force since 1 November 2025).

Format 002 is built, the one Ukrainian banking apps scan today: the QR code holds the link
`https://bank.gov.ua/qr/<data>`, where <data> is the Base64URL (no padding) of 13 lines
separated by CR LF:

     1 BCD              service mark
     2 002              format version
     3 1 | 2            encoding of the text: 1 UTF-8, 2 Windows-1251
     4 UCT              function: Ukrainian credit transfer
     5 (empty)          BIC, reserved
     6 recipient        name of the payee, up to 70 characters
     7 IBAN             UA + 27 characters
     8 UAH<amount>      optional, e.g. UAH721.44 (two decimals), at most 999999999.99
     9 recipient code   ЄДРПОУ (8 digits), РНОКПП (10 digits) or a passport
    10 (empty)          purpose code, reserved
    11 (empty)          reference, reserved
    12 purpose          payment purpose, up to 140 characters
    13 (empty)          display text (not used: apps differ in showing it)

Windows-1251 is preferred because it keeps the code small (a Cyrillic letter is one byte);
text it cannot hold (a rare sign in a company name) makes the whole payload UTF-8 instead.
Banking apps read the lines by position, so no value may contain a line break.
Formats 002 and 003 require the hryvnia sign in a white circle in the centre of the
printed code; the renderer draws it (`documents/rendering.py`).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from decimal import Decimal

from stdnum import iban as iban_numbers
from stdnum.ua import edrpou, rntrc

from core.errors import DomainError
from core.model import Supplier

NBU_QR_LINK = "https://bank.gov.ua/qr/"
MAX_RECIPIENT = 70
MAX_PURPOSE = 140
MAX_AMOUNT = Decimal("999999999.99")
_PASSPORT = re.compile(r"[А-ЯІЇЄҐA-Z]{2}\d{6}|\d{9}")


class BankDetailsInvalid(DomainError):
    """A payee detail cannot go into a payment order (the message names which)."""


@dataclass(frozen=True)
class CreditTransfer:
    """One transfer to offer: who gets it, into which account, for what, how much."""

    recipient: str
    iban: str
    recipient_code: str
    purpose: str
    amount: Decimal | None = None


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _checked(transfer: CreditTransfer) -> CreditTransfer:
    recipient = _one_line(transfer.recipient)
    purpose = _one_line(transfer.purpose)
    account = re.sub(r"\s", "", transfer.iban).upper()
    code = re.sub(r"\s", "", transfer.recipient_code).upper()
    if not recipient or len(recipient) > MAX_RECIPIENT:
        raise BankDetailsInvalid(f"recipient must be 1-{MAX_RECIPIENT} characters")
    if not purpose or len(purpose) > MAX_PURPOSE:
        raise BankDetailsInvalid(f"purpose must be 1-{MAX_PURPOSE} characters")
    if not account.startswith("UA") or len(account) != 29 or not iban_numbers.is_valid(account):
        raise BankDetailsInvalid("IBAN must be a valid Ukrainian IBAN (UA + 27 characters)")
    if not (edrpou.is_valid(code) or rntrc.is_valid(code) or _PASSPORT.fullmatch(code)):
        raise BankDetailsInvalid("recipient code must be an EDRPOU, a RNOKPP or a passport")
    amount = transfer.amount
    if amount is not None and (
        not amount.is_finite()
        or amount <= 0
        or amount > MAX_AMOUNT
        or amount != amount.quantize(Decimal("0.01"))
    ):
        raise BankDetailsInvalid("amount must be 0.01-999999999.99 with at most 2 decimals")
    return CreditTransfer(recipient, account, code, purpose, amount)


def nbu_payload(transfer: CreditTransfer) -> bytes:
    """The 13 lines of format 002, encoded as their encoding line says."""
    checked = _checked(transfer)
    amount = "" if checked.amount is None else f"UAH{checked.amount:.2f}"

    def lines(encoding: str) -> str:
        fields = [
            "BCD",
            "002",
            encoding,
            "UCT",
            "",
            checked.recipient,
            checked.iban,
            amount,
            checked.recipient_code,
            "",
            "",
            checked.purpose,
            "",
        ]
        return "\r\n".join(fields)

    try:
        return lines("2").encode("cp1251")
    except UnicodeEncodeError:
        return lines("1").encode("utf-8")


def nbu_qr_link(transfer: CreditTransfer) -> str:
    """What the QR code holds: the NBU link with the payload (raises BankDetailsInvalid)."""
    encoded = base64.urlsafe_b64encode(nbu_payload(transfer)).decode("ascii").rstrip("=")
    return NBU_QR_LINK + encoded


@dataclass(frozen=True)
class Payee:
    """Who receives payments for an account, and how the purpose of a payment reads."""

    recipient: str
    iban: str
    recipient_code: str


@dataclass(frozen=True)
class BankTransferRules:
    """The payee when a supplier has no bank details of its own, and the purpose template
    (always Ukrainian: it goes to the payee's bank). `{account}` and `{period}` are filled."""

    recipient: str = ""
    iban: str = ""
    recipient_code: str = ""
    purpose: str = "Оплата за електроенергію, о/р {account}, період {period}"


def payee_for(supplier: Supplier | None, rules: BankTransferRules) -> Payee | None:
    """The supplier's own details when complete, else the configured ones, else None."""
    if supplier is not None and supplier.iban and supplier.edrpou:
        return Payee(supplier.name, supplier.iban, supplier.edrpou)
    if rules.iban and rules.recipient_code and rules.recipient:
        return Payee(rules.recipient, rules.iban, rules.recipient_code)
    return None


def transfer_for(
    payee: Payee, rules: BankTransferRules, account_number: str, period: str, amount: Decimal
) -> CreditTransfer:
    """The transfer for an account: `period` as people write it ("10.2026"); no amount
    when nothing is due (the person types one in the banking app)."""
    purpose = rules.purpose.format(account=account_number, period=period)
    return CreditTransfer(
        payee.recipient,
        payee.iban,
        payee.recipient_code,
        purpose,
        amount if amount > 0 else None,
    )
