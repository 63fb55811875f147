"""Phone numbers and e-mail addresses, validated with phonenumbers and email-validator."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from core.errors import DomainError


class PhoneInvalid(DomainError):
    """Not a Ukrainian mobile number."""


class EmailInvalid(DomainError):
    """Not an e-mail address."""


_MOBILE_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
)


def normalise_mobile(text: str) -> str:
    """A Ukrainian mobile in E.164 ("+380501234567") from any common way of writing it.

    Accepts "0501234567", "+380 (50) 123-45-67", "380501234567"; refuses short, foreign and
    landline numbers.
    """
    raw = text.strip()
    if raw.startswith("380"):
        raw = "+" + raw
    try:
        number = phonenumbers.parse(raw, "UA")
    except phonenumbers.NumberParseException:
        raise PhoneInvalid(text) from None
    if (
        number.country_code != 380
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in _MOBILE_TYPES
    ):
        raise PhoneInvalid(text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_mobile(e164: str) -> str:
    """ "+380501234567" → "0501234567", the manual's 10-digit form (§6.9)."""
    return "0" + e164.removeprefix("+380")


def normalise_email(text: str) -> str:
    """The address in normal form; no DNS look-up (that would block and leak)."""
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise EmailInvalid(text) from None
