"""Paying on one machine, for `kabinet demo` (and `chat` with EASYPAY_FAKE=true).

A fake EasyPay and a listener for its notifications run in-process on 127.0.0.1 ports
the system picks, so a console chat can press "Сплатити", open the local payment page and
receive the thanks and the receipt, with no network and no money.
"""

from __future__ import annotations

import socket
from types import TracebackType

from aiohttp import web
from pydantic import SecretStr

from payments.callback import EasyPayCallbacks, register
from payments.easypay import NOTIFY_PATH, EasyPayProvider
from payments.fake_easypay import FakeEasyPay


class LocalEasyPay:
    """`async with LocalEasyPay() as local:` → `local.provider` for `build_app(payments=...)`,
    then `await local.serve_callbacks(callbacks)` once the app exists (the composition root
    builds the callbacks: `app.compose.payment_callbacks`)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.fake = FakeEasyPay(host=host)
        self.provider: EasyPayProvider | None = None
        self._socket: socket.socket | None = None
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> LocalEasyPay:
        # The callback port is taken now, because the provider must name it in every order
        # before the application (and so the callback route) exists.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.host, 0))
        port = self._socket.getsockname()[1]
        base = await self.fake.start()
        self.provider = EasyPayProvider(
            api_base=base,
            partner_key=self.fake.partner_key,
            service_key=self.fake.service_key,
            secret_key=SecretStr(self.fake.secret_key),
            notify_url=f"http://{self.host}:{port}{NOTIFY_PATH}",
        )
        return self

    async def serve_callbacks(self, callbacks: EasyPayCallbacks) -> None:
        """Start answering the fake's notifications with `callbacks`."""
        assert self._socket is not None, "use `async with LocalEasyPay()` first"
        # The fake pays "now" on the app's (maybe frozen) clock.
        self.fake.clock = callbacks.clock.now
        web_app = web.Application()
        register(web_app, callbacks)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self._socket).start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.fake.close()
        if self.provider is not None:
            await self.provider.close()
        if self._socket is not None:
            self._socket.close()
