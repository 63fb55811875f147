"""A local fake Bot API server (aiohttp) for tests and the benchmark.

It speaks the Bot API's HTTP shape: `POST /bot<token>/<method>` with form data (nested
objects as JSON strings, uploads as file parts), `GET /file/bot<token>/<path>` for
downloads. Every call is recorded with its decoded parameters. It can be told to answer a
method with 429 (retry_after) or to drop the connection, and to answer 403 for a chat (a
person who blocked the bot). Builders of real Update JSON live here too.

With `limits=True` it enforces the bulk limits Telegram documents (PLATFORMS.md): more
than 30 sends in the last second without `allow_paid_broadcast`, or more than 1,000 in
all with it, are answered 429 with `retry_after`. A paid send costs 0.1 Star from
`stars` (None: an endless balance); when the balance cannot pay, it is refused like
Telegram's Stars error (400 BALANCE_TOO_LOW; the exact wording is unconfirmed).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

TOKEN = "42:TEST"
BOT_USER = {"id": 42, "is_bot": True, "first_name": "Kabinet", "username": "kabinet_test_bot"}
_MESSAGE_METHODS = {"sendMessage", "sendPhoto", "sendDocument", "editMessageText"}
_SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument"}
FREE_RATE = 30  # sends a second without allow_paid_broadcast (Bot FAQ)
PAID_RATE = 1000  # sends a second with it
STARS_ERROR = "Bad Request: BALANCE_TOO_LOW"


@dataclass
class Upload:
    """A file part of a request."""

    filename: str
    content: bytes
    content_type: str


@dataclass
class Call:
    """One Bot API call as the server received it."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)
    result: Any = None
    status: int = 200  # the HTTP status it was answered with

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def paid(self) -> bool:
        """Sent with allow_paid_broadcast."""
        return self.params.get("allow_paid_broadcast") in (True, "true", "True")

    @property
    def message_id(self) -> int | None:
        """The id of the message this call sent or edited (from the server's answer)."""
        return self.result.get("message_id") if isinstance(self.result, dict) else None

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Every button of the call's keyboard (inline or reply), row by row."""
        markup = self.params.get("reply_markup") or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [button for row in rows for button in row]


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    times: int
    drop: bool = False


class FakeTelegram:
    """The fake server; `await start()` returns its base URL for TELEGRAM_API_BASE."""

    def __init__(
        self,
        *,
        record: bool = True,
        limits: bool = False,
        free_rate: int = FREE_RATE,
        paid_rate: int = PAID_RATE,
        stars: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.record = record
        self.limits = limits
        self.free_rate = free_rate
        self.paid_rate = paid_rate
        self.stars = stars
        self.clock = clock
        self.too_many = 0  # 429s answered for the limits
        self.answer_delay = 0.0  # seconds a send's answer takes after it was accepted
        self.stars_refused = 0
        self._free_sends: deque[float] = deque()
        self._all_sends: deque[float] = deque()
        self.calls: list[Call] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.downloads: list[str] = []
        self.streams: dict[str, tuple[str, int, bool]] = {}
        self.streamed: dict[str, int] = {}
        self.updates: list[dict[str, Any]] = []  # served by getUpdates (polling)
        self.forbidden_chats: set[int] = set()
        self.listeners: list[Callable[[Call], None]] = []
        self._faults: dict[str, _Fault] = {}
        self._message_ids = itertools.count(1000)
        self._new_updates = asyncio.Event()
        self._server: TestServer | None = None

    # ---- control ---------------------------------------------------------------------

    def fail(
        self, method: str, *, status: int = 429, retry_after: int | None = 1, times: int = 1
    ) -> None:
        """Answer the next `times` calls of `method` with an error (429 by default)."""
        self._faults[method] = _Fault(status, retry_after, times)

    def drop(self, method: str, *, times: int = 1) -> None:
        """Close the connection without an answer on the next `times` calls (network error)."""
        self._faults[method] = _Fault(0, None, times, drop=True)

    def forbid(self, chat_id: int) -> None:
        """Answer 403 "bot was blocked by the user" for this chat from now on."""
        self.forbidden_chats.add(chat_id)

    def add_file(self, content: bytes, file_id: str, path: str = "photos/file.jpg") -> None:
        """Serve `content` for getFile(file_id) and its download."""
        self.files[file_id] = (path, content)

    def add_stream(self, file_id: str, path: str, size: int, *, declared: bool = False) -> None:
        """Serve `size` bytes (JPEG start, then zeros) for file_id, made as they are sent,
        never held: a huge file as a self-hosted Bot API serves it. getFile tells its size
        only when `declared`. `streamed[path]` counts what was actually sent."""
        self.streams[file_id] = (path, size, declared)

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        self.updates.append(update)
        self._new_updates.set()

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        """Recorded calls of one method (to one chat)."""
        return [
            call
            for call in self.calls
            if call.method == method and (chat_id is None or call.chat_id == chat_id)
        ]

    # ---- server ----------------------------------------------------------------------

    async def start(self, port: int | None = None) -> str:
        """Start listening on 127.0.0.1; the base URL."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._server = TestServer(app, host="127.0.0.1", port=port)
        await self._server.start_server()
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        """Stop the server."""
        if self._server is not None:
            await self._server.close()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        params: dict[str, Any] = {}
        form = await request.post()
        for key, value in form.items():
            if hasattr(value, "file"):
                params[key] = Upload(value.filename, value.file.read(), value.content_type)
            elif isinstance(value, str) and value[:1] in "{[":
                params[key] = json.loads(value)
            else:
                params[key] = value
        # Uploads are sent as "attach://<name>" plus a part of that name.
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith("attach://"):
                params[key] = params.pop(value[len("attach://") :], value)
        return params

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params)
        if self.record:
            self.calls.append(call)
        fault = self._faults.get(method)
        if fault is not None and fault.times > 0:
            fault.times -= 1
            if fault.drop:
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            call.status = fault.status
            return _error(fault.status, fault.retry_after)
        if call.chat_id is not None and call.chat_id in self.forbidden_chats:
            call.status = 403
            return _error(403, None, "Forbidden: bot was blocked by the user")
        if method in _SEND_METHODS:
            refused = self._refused(call)
            if refused is not None:
                return refused
        for listener in self.listeners:
            listener(call)
        if method == "getUpdates":
            return _ok(await self._get_updates(params))
        call.result = self._result(method, params)
        if self.answer_delay and method in _SEND_METHODS:
            # Accepted (recorded) before the answer leaves: a client that drops the
            # connection meanwhile has had its message delivered all the same.
            await asyncio.sleep(self.answer_delay)
        return _ok(call.result)

    def _refused(self, call: Call) -> web.Response | None:
        """A send over the limits (429) or a paid one the balance cannot pay (400)."""
        if call.paid and self.stars is not None and self.stars < 0.1 - 1e-9:
            self.stars_refused += 1
            call.status = 400
            return _error(400, None, STARS_ERROR)
        if not self.limits:
            self._pay(call)
            return None
        now = self.clock()
        for sends in (self._free_sends, self._all_sends):
            while sends and sends[0] <= now - 1.0:
                sends.popleft()
        over = (
            len(self._all_sends) >= self.paid_rate
            if call.paid
            else len(self._free_sends) >= self.free_rate
        )
        if over:
            self.too_many += 1
            call.status = 429
            return _error(429, 1)
        self._all_sends.append(now)
        if not call.paid:
            self._free_sends.append(now)
        self._pay(call)
        return None

    def _pay(self, call: Call) -> None:
        if call.paid and self.stars is not None:
            self.stars -= 0.1

    def sent(self) -> list[Call]:
        """Sends that were accepted (every method that delivers a message)."""
        return [call for call in self.calls if call.method in _SEND_METHODS and call.ok]

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            self._new_updates.clear()
            timeout = min(float(params.get("timeout") or 0), 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_updates.wait(), timeout)
        return list(self.updates)

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getFile":
            file_id = str(params["file_id"])
            if file_id in self.streams:
                path, size, declared = self.streams[file_id]
                found = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_path": path}
                return {**found, "file_size": size} if declared else found
            if file_id not in self.files:
                raise web.HTTPBadRequest(
                    text=json.dumps(
                        {
                            "ok": False,
                            "error_code": 400,
                            "description": "Bad Request: wrong file_id",
                        }
                    ),
                    content_type="application/json",
                )
            path, content = self.files[file_id]
            return {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(content),
                "file_path": path,
            }
        if method in _MESSAGE_METHODS:
            message: dict[str, Any] = {
                "message_id": int(params.get("message_id") or next(self._message_ids)),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
            }
            if "text" in params:
                message["text"] = params["text"]
            return message
        return True

    async def _file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        for stream_path, size, _ in self.streams.values():
            if stream_path == path:
                self.downloads.append(path)
                return await self._stream(request, path, size)
        for stored_path, content in self.files.values():
            if stored_path == path:
                self.downloads.append(path)
                return web.Response(body=content, content_type="application/octet-stream")
        raise web.HTTPNotFound()

    async def _stream(self, request: web.Request, path: str, size: int) -> web.StreamResponse:
        # Chunked (no Content-Length), as if the size were unknown up front.
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = bytes(256 * 1024)
        sent = 0
        self.streamed[path] = 0
        try:
            while sent < size:
                piece = b"\xff\xd8\xff" + chunk[3:] if sent == 0 else chunk
                piece = piece[: size - sent]
                await response.write(piece)
                sent += len(piece)
                self.streamed[path] = sent
            await response.write_eof()
        except ConnectionError:
            pass  # the reader stopped: what it took is in `streamed`
        return response


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, retry_after: int | None, description: str | None = None) -> web.Response:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": status,
        "description": description
        or (f"Too Many Requests: retry after {retry_after}" if status == 429 else "Error"),
    }
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


# ---- Update JSON builders ---------------------------------------------------------------

_update_ids = itertools.count(500_000)


def next_update_id() -> int:
    """A fresh update id (unique within the test process)."""
    return next(_update_ids)


def user_json(user_id: int, language: str = "uk", name: str = "Іван") -> dict[str, Any]:
    """The `from` of a person."""
    return {"id": user_id, "is_bot": False, "first_name": name, "language_code": language}


def message_update(
    user_id: int,
    *,
    update_id: int | None = None,
    text: str | None = None,
    language: str = "uk",
    chat_type: str = "private",
    chat_id: int | None = None,
    **content: Any,
) -> dict[str, Any]:
    """An Update with a message: text, or any other content (photo=[...], contact={...})."""
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": int(time.time()),
        "chat": {"id": chat_id if chat_id is not None else user_id, "type": chat_type},
        "from": user_json(user_id, language),
        **content,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": update_id or next_update_id(), "message": message}


def callback_update(
    user_id: int,
    data: str,
    *,
    message_id: int,
    keyboard: list[dict[str, Any]] | None = None,
    update_id: int | None = None,
    language: str = "uk",
) -> dict[str, Any]:
    """An Update with a callback query: a press of an inline button of message_id."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private"},
        "from": BOT_USER,
        "text": "…",
    }
    if keyboard:
        message["reply_markup"] = {"inline_keyboard": [[button] for button in keyboard]}
    return {
        "update_id": update_id or next_update_id(),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": user_json(user_id, language),
            "chat_instance": "1",
            "message": message,
            "data": data,
        },
    }
