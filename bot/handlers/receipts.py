"""Payment receipts: one layout for the payment history and for the "paid" push.

A receipt looks the same however the person got it.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal

from bot.handlers.money import money_lines
from bot.i18n import Translator
from bot.menu import main_menu
from bot.messages import Attachment, Reply
from core.balances import BillingRules, money_of
from core.documents import DocumentRenderer, PdfDocument, PdfSection
from core.model import Account, Payment, PaymentOrder, Supplier
from core.ports import AbstractUnitOfWork


def receipt_document(
    t: Translator, zone: tzinfo, account: Account, supplier: Supplier | None, payment: Payment
) -> PdfDocument:
    """The receipt of one payment as a PDF description (rendered by the document port)."""
    paid_at = payment.paid_at.astimezone(zone)
    # What the payment order told the provider; a payment is not tied to one period.
    purpose = t("pay.description", number=account.number)
    return PdfDocument(
        title=t("pdf.receipt_title"),
        subtitle=t("pdf.receipt_subtitle", date=t.moment(paid_at)),
        sections=[
            PdfSection(
                t("pdf.payment"),
                [
                    (t("pdf.amount"), t.money(payment.amount)),
                    (t("pdf.commission"), t.money(Decimal(0))),
                    (t("pdf.paid_at"), t.datetime(paid_at)),
                    (t("pdf.provider"), t.label("provider", payment.provider)),
                    (t("pdf.transaction"), payment.provider_txn_id),
                ],
            ),
            PdfSection(
                t("pdf.consumer"),
                [
                    (t("pdf.account"), account.number),
                    (t("pdf.holder"), account.holder_name),
                    (t("pdf.address"), account.address.one_line()),
                ],
            ),
            PdfSection(
                t("pdf.payment_details"),
                [
                    (t("pdf.payee"), supplier.name if supplier else "—"),
                    (t("pdf.iban"), (supplier.iban if supplier else "") or "—"),
                    (t("pdf.edrpou"), (supplier.edrpou if supplier else "") or "—"),
                    (t("pdf.purpose_label"), purpose),
                ],
            ),
        ],
        metadata_title=f"{account.number} {payment.provider_txn_id}",
    )


async def paid_replies(
    uow: AbstractUnitOfWork,
    t: Translator,
    zone: tzinfo,
    renderer: DocumentRenderer | None,
    order: PaymentOrder,
    billing: BillingRules | None = None,
) -> list[Reply]:
    """Thanks for a paid order, the money state it leaves, and its receipt (when PDFs can be
    made)."""
    account = await uow.accounts.get(order.account_id)
    if account is None or order.paid_at is None or order.provider_txn_id is None:
        return []
    payment = Payment(
        id=0,
        account_id=account.id,
        amount=order.amount,
        paid_at=order.paid_at,
        provider=order.provider,
        provider_txn_id=order.provider_txn_id,
    )
    paid_at = payment.paid_at.astimezone(zone)
    text = t(
        "payment.thanks",
        amount=t.money(payment.amount),
        title=_title(t, account),
        date=t.moment(paid_at),
        state=" ".join(
            money_lines(t, await money_of(uow, account, paid_at.date(), billing or BillingRules()))
        ),
    )
    if renderer is None:
        return [Reply(text, main_menu(t))]
    supplier = await uow.references.supplier(account.supplier_id)
    content = await renderer.pdf(receipt_document(t, zone, account, supplier, payment))
    name = f"kvytantsiia-{account.number}-{paid_at.date().isoformat()}.pdf"
    return [
        Reply(
            text + "\n" + t("payment.receipt_attached"),
            main_menu(t),
            document=Attachment(name, content, "application/pdf"),
        )
    ]


async def held_replies(
    uow: AbstractUnitOfWork, t: Translator, zone: tzinfo, order: PaymentOrder, paid_at: datetime
) -> list[Reply]:
    """The provider says an order was paid, but it could not be credited (a conflict an
    operator reconciles): the person hears that their money is not lost."""
    account = await uow.accounts.get(order.account_id)
    if account is None:
        return []
    text = t(
        "payment.held",
        amount=t.money(order.amount),
        title=_title(t, account),
        date=t.moment(paid_at.astimezone(zone)),
    )
    return [Reply(text, main_menu(t))]


def _title(t: Translator, account: Account) -> str:
    return t(
        "account.title",
        number=account.number,
        street=account.address.street,
        building=account.address.building,
    )
