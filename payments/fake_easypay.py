"""A local EasyPay for tests and the demo: the same protocol, no money.

It answers createApp and createOrder (checking the partner key, the page id and `Sign`
exactly as EasyPay is described to), serves the payment page at `/pay/{order id}`, and
when that page is opened it completes the payment and posts a signed notification to the
order's `Merchant.UrlNotify`, like EasyPay does after a card payment.

Opening `/pay/{order}` pays at once (`?result=declined` declines), so a console demo
can "open" the link with one HTTP GET.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from payments.easypay import ACCEPTED, DECLINED, PAYMENT, dumps, sign, signature_valid

log = logging.getLogger(__name__)

TEST_PARTNER_KEY = "easypay-test"
TEST_SERVICE_KEY = "MERCHANT-TEST"
TEST_SECRET_KEY = "test"  # noqa: S105 - EasyPay's public test secret, not ours


def first_transaction_id() -> int:
    """Where a fake's transaction ids start: a random point in a space of 2**53.

    EasyPay's transaction ids are unique across its whole system, and the database keeps
    each one once. A fake that counted from the same number in every process would hand a
    restarted demo an id already stored for another order (that payment would be refused
    as a conflict). Ids count up from here, so two fakes collide only if they start within
    a few payments of each other (about 1 in 10**12 for a thousand payments); 2**53 keeps
    them exact as a JSON number in any client.
    """
    return 10**9 + secrets.randbelow(2**53 - 2 * 10**9)


@dataclass
class FakeOrder:
    """An order the fake has accepted through createOrder."""

    order_id: str
    amount: Decimal
    description: str
    notify_url: str
    status: str = "new"
    transaction_id: int | None = None


@dataclass
class SentNotification:
    """A notification the fake posted: what, how it was signed, and what came back."""

    url: str
    body: bytes
    sign: str
    status: int


@dataclass
class FakeEasyPay:
    """The fake server; `await start()` gives its base URL, `await close()` stops it."""

    partner_key: str = TEST_PARTNER_KEY
    service_key: str = TEST_SERVICE_KEY
    secret_key: str = TEST_SECRET_KEY
    host: str = "127.0.0.1"
    port: int = 0
    zone: tzinfo = field(default_factory=lambda: ZoneInfo("Europe/Kyiv"))
    clock: Callable[[], datetime] | None = None  # an aware now; the real time when None
    orders: dict[str, FakeOrder] = field(default_factory=dict)
    notifications: list[SentNotification] = field(default_factory=list)
    refuse_orders: bool = False  # answer createOrder with an error (provider outage)
    base_url: str = ""
    _pages: set[str] = field(default_factory=set)
    _apps: set[str] = field(default_factory=set)
    _transactions: count = field(default_factory=lambda: count(first_transaction_id()))
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    def web_app(self) -> web.Application:
        """The aiohttp application (also usable with aiohttp's test client)."""
        app = web.Application()
        app.router.add_post("/api/system/createApp", self._create_app)
        app.router.add_post("/api/merchant/createOrder", self._create_order)
        app.router.add_get("/pay/{order_id}", self._page)
        return app

    async def start(self, sock: socket.socket | None = None) -> str:
        """Listen (on `sock` when given, else host:port) and return the base URL."""
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site: web.BaseSite
        if sock is not None:
            site = web.SockSite(self._runner, sock)
        else:
            site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def close(self) -> None:
        """Stop serving and close the notification client."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- merchant API ------------------------------------------------------------------

    async def _create_app(self, request: web.Request) -> web.Response:
        if request.headers.get("PartnerKey") != self.partner_key:
            return _error(401, "PARTNER_KEY_INVALID")
        app_id, page_id = secrets.token_hex(8), secrets.token_hex(8)
        self._apps.add(app_id)
        self._pages.add(page_id)
        return web.json_response(
            {"appId": app_id, "pageId": page_id, "requestedSessionId": page_id, "error": None}
        )

    async def _create_order(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("PartnerKey") != self.partner_key:
            return _error(401, "PARTNER_KEY_INVALID")
        if request.headers.get("AppId") not in self._apps:
            return _error(400, "APP_ID_INVALID")
        page_id = request.headers.get("PageId", "")
        if page_id not in self._pages:
            return _error(400, "PAGE_ID_INVALID")
        if not signature_valid(self.secret_key, body, request.headers.get("Sign")):
            return _error(400, "SIGN_INVALID")
        if self.refuse_orders:
            return _error(500, "SERVICE_UNAVAILABLE")
        try:
            order = json.loads(body, parse_float=Decimal)["order"]
            order_id = str(order["orderId"])
            amount = Decimal(str(order["amount"]))
            notify_url = str(order["additionalItems"]["Merchant.UrlNotify"])
            service_key = order["serviceKey"]
        except (ValueError, KeyError, TypeError, ArithmeticError):
            return _error(400, "BAD_REQUEST")
        if service_key != self.service_key:
            return _error(400, "SERVICE_KEY_INVALID")
        if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            return _error(400, "AMOUNT_INVALID")
        if order_id in self.orders:
            return _error(400, "ORDER_ID_DUPLICATE")
        self._pages.discard(page_id)  # a page serves one order
        self.orders[order_id] = FakeOrder(
            order_id, amount, str(order.get("description", "")), notify_url
        )
        return web.json_response(
            {"forwardUrl": f"{self.base_url}/pay/{order_id}", "orderId": order_id, "error": None}
        )

    # ---- the payment page --------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["order_id"])
        if order is None:
            return web.Response(status=404, text="EasyPay (fake): no such order\n")
        if order.status != "new":
            return web.Response(text=f"EasyPay (fake): order {order.order_id} is {order.status}\n")
        declined = request.query.get("result") == "declined"
        status = DECLINED if declined else ACCEPTED
        order.status = "declined" if declined else "paid"
        answer = await self.notify(order.order_id, status)
        outcome = "declined" if declined else "paid"
        return web.Response(
            text=(
                f"EasyPay (fake): {outcome} {order.amount:.2f} UAH, commission 0.00, "
                f"order {order.order_id}; merchant answered {answer}\n"
            )
        )

    # ---- notifications -----------------------------------------------------------------

    def notification_body(
        self,
        order_id: str,
        status: str = ACCEPTED,
        amount: Decimal | None = None,
        transaction_id: int | None = None,
        operation: str = PAYMENT,
    ) -> bytes:
        """A notification as EasyPay would post it for an order (unsigned bytes)."""
        order = self.orders[order_id]
        if transaction_id is None:
            transaction_id = order.transaction_id or next(self._transactions)
        order.transaction_id = transaction_id
        now = self.clock() if self.clock is not None else datetime.now(self.zone)
        extra: dict[str, Any] = {
            "Account": order_id,
            "Card.BrandType": "MasterCard",
            "Card.Pan": "51678032****8169",
            "Description": order.description,
            "Merchant.OrderId": order_id,
            "Merchant.UrlNotify": order.notify_url,
        }
        if status == DECLINED:
            extra["ErrorCode"] = "PAYMENT_DECLINED"
            extra["ErrorMessage"] = "Платіж відхилено банком"
        payload = {
            "OperationType": operation,
            "PartnerKey": self.partner_key,
            "ServiceKey": self.service_key,
            "TransactionStatus": status,
            "MerchantOrderId": order_id,
            # EasyPay writes Ukrainian local time without an offset.
            "DateTime": now.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M:%S"),
            "Amount": (amount if amount is not None else order.amount).quantize(Decimal("0.01")),
            "Commission": Decimal("0.00"),
            "TransactionId": transaction_id,
            "AdditionalItems": extra,
        }
        return dumps(payload)

    def sign(self, body: bytes) -> str:
        """The `Sign` EasyPay would put on these bytes."""
        return sign(self.secret_key, body)

    async def notify(
        self,
        order_id: str,
        status: str = ACCEPTED,
        amount: Decimal | None = None,
        transaction_id: int | None = None,
    ) -> int:
        """Post a signed notification for an order to its notify URL; the HTTP status."""
        body = self.notification_body(order_id, status, amount, transaction_id)
        return await self.post(self.orders[order_id].notify_url, body, self.sign(body))

    async def post(self, url: str, body: bytes, signature: str) -> int:
        """Post notification bytes with a given `Sign` (tests forge and replay with it)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        headers = {"Content-Type": "application/json; charset=utf-8", "Sign": signature}
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                status = response.status
        except aiohttp.ClientError as error:
            log.warning("fake easypay: notification to %s failed: %s", url, error)
            status = 0
        self.notifications.append(SentNotification(url, body, signature, status))
        return status


def _error(status: int, code: str) -> web.Response:
    return web.json_response({"error": {"errorCode": code, "errorMessage": code}}, status=status)
