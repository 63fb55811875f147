"""EasyPay (easypay.ua), the provider of manual §6.12: create orders, read notifications.

EasyPay publishes no open documentation; this follows the protocol seen in public
integrations (PLATFORMS.md, "Payments"), so keep it behind the `PaymentProvider` port:

- `POST {base}/api/system/createApp`, header `PartnerKey` → `appId`, `pageId`.
- `POST {base}/api/merchant/createOrder`, headers `PartnerKey`, `AppId`, `PageId` and
  `Sign` over the exact JSON body → `forwardUrl`, the page where the consumer pays.
- EasyPay posts a JSON notification to the order's `Merchant.UrlNotify` with a `Sign`
  header computed the same way over the raw body (`OperationType`, `TransactionStatus`,
  `MerchantOrderId`, `Amount`, `TransactionId`, `DateTime`, ...).

`Sign` = base64(raw SHA-256(secret key + body bytes)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from pydantic import SecretStr

from core.model import PaymentNotice, PaymentOrder
from core.money import to_money
from core.payments import PaymentProvider, PaymentProviderError

log = logging.getLogger(__name__)

PROVIDER = "easypay"
NOTIFY_PATH = "/payments/easypay"
ACCEPTED = "Accepted"
DECLINED = "Declined"
PAYMENT = "Payment"
# A notification is a few hundred bytes; anything far larger is not EasyPay's.
MAX_NOTIFICATION_BYTES = 64 * 1024
# Far above any household payment; a notice above it cannot be one of our orders.
MAX_AMOUNT = Decimal(10) ** 9

# Decimal amounts travel as JSON numbers without ever becoming floats: they are written
# as marked strings first and unquoted afterwards. U+E000 is a private-use character
# that no description or order id of ours contains.
_MARK = "\ue000"
_MARKED_NUMBER = re.compile(f'"{_MARK}(-?[0-9]+(?:\\.[0-9]+)?){_MARK}"')


class MalformedNotification(ValueError):
    """A correctly signed notification whose content cannot be read."""


def sign(secret: str, body: bytes) -> str:
    """EasyPay's `Sign`: base64 of the raw SHA-256 digest of the secret followed by the body."""
    digest = hashlib.sha256(secret.encode("utf-8") + body).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_valid(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether `signature` is the `Sign` of `body`, compared in constant time."""
    if not signature:
        return False
    expected = sign(secret, body).encode("ascii")
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON in which Decimal values are plain numbers (never floats)."""

    def number(value: object) -> str:
        if isinstance(value, Decimal):
            return f"{_MARK}{value:f}{_MARK}"
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=number)
    return _MARKED_NUMBER.sub(r"\1", text).encode("utf-8")


def order_body(
    order: PaymentOrder,
    description: str,
    service_key: str,
    notify_url: str,
    return_url: str | None = None,
) -> bytes:
    """The createOrder JSON body for an order (the bytes that are signed and sent)."""
    payload: dict[str, Any] = {
        "order": {
            "serviceKey": service_key,
            "orderId": order.order_id,
            "description": description,
            "amount": to_money(order.amount),
            "additionalItems": {"Merchant.UrlNotify": notify_url},
        }
    }
    if return_url:
        payload["urls"] = {"success": return_url, "failed": return_url}
    return dumps(payload)


@dataclass(frozen=True)
class EasyPayNotification:
    """What an EasyPay notification says, read but not yet acted on."""

    operation: str
    status: str
    order_id: str
    transaction_id: str
    amount: Decimal
    at: datetime | None
    partner_key: str | None = None
    service_key: str | None = None
    error_code: str = ""

    @property
    def is_payment(self) -> bool:
        """A payment (not a refund or another operation)."""
        return self.operation == PAYMENT

    def to_notice(self, fallback_time: datetime) -> PaymentNotice:
        """The provider-neutral notice core settles orders with."""
        return PaymentNotice(
            provider=PROVIDER,
            order_id=self.order_id,
            provider_txn_id=self.transaction_id,
            amount=self.amount,
            accepted=self.status == ACCEPTED,
            paid_at=self.at or fallback_time,
            detail=self.error_code,
        )


def parse_notification(body: bytes, zone: tzinfo) -> EasyPayNotification:
    """Read a (verified) notification body; raises MalformedNotification.

    EasyPay writes `DateTime` without an offset, in Ukrainian time: it is read in `zone`.
    """
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        # Not JSON, not UTF-8, an integer of thousands of digits, or nested past the stack.
        raise MalformedNotification("not JSON") from None
    if not isinstance(data, dict):
        raise MalformedNotification("not a JSON object")
    order_id = data.get("MerchantOrderId")
    transaction_id = data.get("TransactionId")
    if not isinstance(order_id, str) or not order_id:
        raise MalformedNotification("no MerchantOrderId")
    if isinstance(transaction_id, bool) or not isinstance(transaction_id, (int, str)):
        raise MalformedNotification("no TransactionId")
    if not str(transaction_id):
        raise MalformedNotification("no TransactionId")
    extra = data.get("AdditionalItems")
    error_code = extra.get("ErrorCode") if isinstance(extra, dict) else None
    return EasyPayNotification(
        operation=str(data.get("OperationType") or ""),
        status=str(data.get("TransactionStatus") or ""),
        order_id=order_id,
        transaction_id=str(transaction_id),
        amount=_amount(data.get("Amount")),
        at=_moment(data.get("DateTime"), zone),
        partner_key=_text_or_none(data.get("PartnerKey")),
        service_key=_text_or_none(data.get("ServiceKey")),
        error_code=str(error_code or ""),
    )


def _amount(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise MalformedNotification("no Amount")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise MalformedNotification("bad Amount") from None
    # NaN, infinities and sums like 1e999999999 (which no quantize survives) are not money.
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise MalformedNotification("bad Amount")
    return to_money(amount)


def _moment(value: object, zone: tzinfo) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedNotification("bad DateTime") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class EasyPayProvider(PaymentProvider):
    """The payment-provider port over EasyPay's merchant API (aiohttp).

    The HTTP session is made on first use and closed by `close()`; one createApp per
    order, because a page id serves one createOrder only.
    """

    name = PROVIDER

    def __init__(
        self,
        *,
        api_base: str,
        partner_key: str,
        service_key: str,
        secret_key: SecretStr,
        notify_url: str,
        return_url: str | None = None,
        locale: str = "ua",
        timeout_seconds: float = 15.0,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.partner_key = partner_key
        self.service_key = service_key
        self.notify_url = notify_url
        self.return_url = return_url
        self._secret = secret_key
        self._locale = locale
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def verify(self, body: bytes, signature: str | None) -> bool:
        """Whether a notification body carries EasyPay's signature (constant time)."""
        return signature_valid(self._secret.get_secret_value(), body, signature)

    async def payment_url(self, order: PaymentOrder, description: str) -> str:
        """Register the order with EasyPay; the page where the consumer pays."""
        app = await self._post("/api/system/createApp", b"{}", {})
        app_id, page_id = app.get("appId"), app.get("pageId")
        if not isinstance(app_id, str) or not isinstance(page_id, str):
            raise PaymentProviderError("easypay: createApp gave no appId/pageId")
        body = order_body(order, description, self.service_key, self.notify_url, self.return_url)
        headers = {
            "AppId": app_id,
            "PageId": page_id,
            "Sign": sign(self._secret.get_secret_value(), body),
        }
        created = await self._post("/api/merchant/createOrder", body, headers)
        url = created.get("forwardUrl")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise PaymentProviderError("easypay: createOrder gave no forwardUrl")
        log.info("easypay: order %s created for %s", order.order_id, order.amount)
        return url

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        session = self._session_now()
        all_headers = {
            "PartnerKey": self.partner_key,
            "locale": self._locale,
            "Content-Type": "application/json",
            **headers,
        }
        try:
            async with session.post(
                self.api_base + path, data=body, headers=all_headers
            ) as response:
                text = await response.text()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as error:
            log.warning("easypay: %s failed: %s", path, type(error).__name__)
            raise PaymentProviderError(f"easypay: {path} unreachable") from None
        try:
            data = json.loads(text) if text else {}
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            log.warning("easypay: %s answered %s with no JSON object", path, status)
            raise PaymentProviderError(f"easypay: {path} answered {status}")
        if status != 200 or data.get("error"):
            log.warning("easypay: %s answered %s: %s", path, status, _error_text(data))
            raise PaymentProviderError(f"easypay: {path} refused")
        return data

    def _session_now(self) -> aiohttp.ClientSession:
        # Made here rather than in __init__: a session belongs to the running loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _error_text(data: dict[str, Any]) -> str:
    """EasyPay's error code for the log (its messages may echo request data)."""
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("errorCode") or error.get("code") or "error")
    return str(error or "no error field")[:80]
