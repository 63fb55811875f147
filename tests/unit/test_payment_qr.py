"""The NBU payment QR payload (format 002): field order, encodings, limits — decoded back."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from core.model import Supplier
from core.payment_qr import (
    NBU_QR_LINK,
    BankDetailsInvalid,
    BankTransferRules,
    CreditTransfer,
    nbu_payload,
    nbu_qr_link,
    payee_for,
    transfer_for,
)

IBAN = "UA213223130000026007233566001"
TRANSFER = CreditTransfer(
    "ТОВ «Демо Енергозбут»",
    IBAN,
    "32910079",
    "Оплата за електроенергію, о/р 2010000232, період 10.2026",
    Decimal("721.44"),
)


def decode(link: str) -> list[str]:
    """What a banking app reads: the lines of the payload, in its declared encoding."""
    assert link.startswith(NBU_QR_LINK)
    data = link.removeprefix(NBU_QR_LINK)
    assert "=" not in data and "+" not in data and "/" not in data
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    encoding = {b"1": "utf-8", b"2": "cp1251"}[raw.split(b"\r\n")[2]]
    return raw.decode(encoding).split("\r\n")


def test_thirteen_lines_in_the_nbu_order() -> None:
    assert decode(nbu_qr_link(TRANSFER)) == [
        "BCD",
        "002",
        "2",
        "UCT",
        "",
        "ТОВ «Демо Енергозбут»",
        IBAN,
        "UAH721.44",
        "32910079",
        "",
        "",
        "Оплата за електроенергію, о/р 2010000232, період 10.2026",
        "",
    ]


def test_windows_1251_keeps_cyrillic_to_one_byte() -> None:
    payload = nbu_payload(TRANSFER)
    assert payload.split(b"\r\n")[2] == b"2"
    assert "ТОВ «Демо Енергозбут»".encode("cp1251") in payload


def test_text_windows_1251_cannot_hold_falls_back_to_utf8() -> None:
    transfer = CreditTransfer("ТОВ «Енерго ✓»", IBAN, "32910079", "Оплата", Decimal("1"))
    lines = decode(nbu_qr_link(transfer))
    assert lines[2] == "1" and lines[5] == "ТОВ «Енерго ✓»" and lines[7] == "UAH1.00"


def test_no_amount_leaves_the_line_empty() -> None:
    transfer = CreditTransfer("ТОВ Е", IBAN, "3363403087", "Оплата за електроенергію")
    assert decode(nbu_qr_link(transfer))[7] == ""


def test_line_breaks_and_spaces_in_values_are_collapsed() -> None:
    transfer = CreditTransfer(" ТОВ\n«Е» ", f" {IBAN[:4]} {IBAN[4:]}", "32910079", "а\r\nб")
    lines = decode(nbu_qr_link(transfer))
    assert len(lines) == 13 and lines[5] == "ТОВ «Е»" and lines[6] == IBAN and lines[11] == "а б"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"recipient": ""}, "recipient"),
        ({"recipient": "Т" * 71}, "recipient"),
        ({"purpose": "П" * 141}, "purpose"),
        ({"iban": "UA213223130000026007233566002"}, "IBAN"),
        ({"iban": "DE89370400440532013000"}, "IBAN"),
        ({"recipient_code": "12345"}, "recipient code"),
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("1.005")}, "amount"),
        ({"amount": Decimal("1000000000")}, "amount"),
    ],
)
def test_what_a_bank_would_refuse_is_refused_here(change: dict, named: str) -> None:
    fields = {**TRANSFER.__dict__, **change}
    with pytest.raises(BankDetailsInvalid, match=named):
        nbu_qr_link(CreditTransfer(**fields))


def test_limits_are_inclusive() -> None:
    transfer = CreditTransfer("Т" * 70, IBAN, "32910079", "П" * 140, Decimal("999999999.99"))
    lines = decode(nbu_qr_link(transfer))
    assert lines[5] == "Т" * 70 and lines[11] == "П" * 140 and lines[7] == "UAH999999999.99"


def test_the_suppliers_details_win_then_the_configured_ones() -> None:
    rules = BankTransferRules("ТОВ «Налаштований»", IBAN, "32910079")
    supplier = Supplier(1, "ТОВ «Постачальник»", IBAN, "32910079")
    assert payee_for(supplier, rules).recipient == "ТОВ «Постачальник»"
    assert payee_for(Supplier(1, "ТОВ «Без IBAN»"), rules).recipient == "ТОВ «Налаштований»"
    assert payee_for(Supplier(1, "ТОВ «Без IBAN»"), BankTransferRules()) is None


def test_the_purpose_names_the_account_and_period_in_ukrainian() -> None:
    payee = payee_for(Supplier(1, "ТОВ «П»", IBAN, "32910079"), BankTransferRules())
    transfer = transfer_for(payee, BankTransferRules(), "2010000232", "10.2026", Decimal("0"))
    assert transfer.purpose == "Оплата за електроенергію, о/р 2010000232, період 10.2026"
    assert transfer.amount is None
