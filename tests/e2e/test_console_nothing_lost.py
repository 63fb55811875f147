"""Nothing silently lost, as a person would meet it in `kabinet demo` / `kabinet chat`, on
SQLite and PostgreSQL: payments across restarts, notification settings, answers to every
kind of request, long texts, and pushes shown in the console.
"""

from __future__ import annotations

import re

from tests.e2e.conftest import Console

PAID = re.compile(r"Дякуємо! Оплату ([\d ]+,\d\d) грн за рахунком 2010000232")
RECEIPT = re.compile(r"\[document: (kabinet-out/(\d{3})-kvytantsiia-2010000232-[\d-]+\.pdf)\]")


def test_demo_restarted_between_two_payments_thanks_for_both(console: Console) -> None:
    first = console.demo(
        "/start", "Погоджуюсь", "/add", "2010000232", "62Z000000000232T", "/pay", "500", "#1"
    )
    assert PAID.findall(first[-1]) == ["500,00"], first[-1]
    # The process ends; a new one (its own fake EasyPay) takes the next payment.
    second = console.demo("/pay", "300", "#1")
    assert PAID.findall(second[-1]) == ["300,00"], second[-1]
    assert "не вдалося" not in second[-1]
    receipts = [RECEIPT.search(first[-1]), RECEIPT.search(second[-1])]
    assert all(receipts), (first[-1], second[-1])
    # Files of the second run are numbered on from the first's: none is overwritten.
    paths = [match.group(1) for match in receipts if match]
    assert len(set(paths)) == 2 and all((console.workdir / path).exists() for path in paths)
    history = console.demo("/payments")[0]
    assert "500,00" in history and "300,00" in history, history
