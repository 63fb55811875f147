"""The console channel: a chat in the terminal (or a pipe), as DESIGN.md §3 describes.

Replies print as text with their buttons as `[N] Label` lines; `#N` or a button's exact
label presses it; `/photo PATH`, `/contact +380…` and `/quit` are understood; after every
turn the prompt `> ` is printed and flushed so a driving program knows the turn ended.

A link button to this machine (127.0.0.1, localhost) is opened with an HTTP GET, so the
demo's local payment page can complete a payment; pushes (`send`) print like replies.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from bot.messages import Attachment, Button, Incoming, Reply
from core.model import Channel

if TYPE_CHECKING:
    from bot.channels.base import DeliveryResult

PROMPT = "> "
_PRESS = re.compile(r"#(\d+)")
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

Handle = Callable[[Incoming], Awaitable[list[Reply]]]


class ConsoleChannel:
    """Reads lines, hands them to the dialog as one console user, prints the replies."""

    channel = Channel.CONSOLE

    def __init__(
        self,
        handle: Handle,
        user_id: str = "console",
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        out_dir: Path = Path("kabinet-out"),
        locale: str | None = None,
        profile_name: str = "",
    ) -> None:
        self._handle = handle
        self._user_id = user_id
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self._out_dir = out_dir
        self._locale = locale
        self._profile_name = profile_name
        self._buttons: list[Button] = []
        self._saved = 0
        self._idle = False  # waiting for the user's next line (a push then re-prompts)

    async def run(self) -> None:
        """Chat until EOF or /quit."""
        loop = asyncio.get_running_loop()
        self._write(PROMPT)
        while True:
            # Reading stdin blocks, so it runs in a thread; the loop stays free.
            self._idle = True
            line = await loop.run_in_executor(None, self._stdin.readline)
            self._idle = False
            if not line:
                break
            text = line.rstrip("\r\n")
            if text.strip() == "/quit":
                break
            if text.strip():
                await self._turn(text.strip())
            self._write(PROMPT)
        self._write("\n")

    async def send(self, user_id: str, replies: list[Reply]) -> DeliveryResult:
        """A push (e.g. a payment's receipt): printed now; re-prompts when the user waits."""
        from bot.channels.base import DeliveryResult, DeliveryStatus  # only pushes need it

        if user_id != self._user_id:
            return DeliveryResult(DeliveryStatus.FAILED, detail="not this console's user")
        if self._idle:
            self._write("\n")
        self._render(replies)
        if self._idle:
            self._write(PROMPT)
        return DeliveryResult(DeliveryStatus.SENT)

    async def _turn(self, text: str) -> None:
        button = None if text.startswith(("/photo", "/contact")) else self._button_for(text)
        if button is not None and button.url and urlsplit(button.url).hostname in _LOCAL_HOSTS:
            self._write(f"(open {button.url})\n")
            await self._open(button.url)
            return
        event = self._to_incoming(text)
        if event is not None:
            self._render(await self._handle(event))

    async def _open(self, url: str) -> None:
        """GET a page on this machine and print its first line (the demo's payment page)."""
        import aiohttp  # only a console that opens a local page needs an HTTP client

        try:
            timeout = aiohttp.ClientTimeout(total=60)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url) as response,
            ):
                status, body = response.status, await response.text()
        except (TimeoutError, aiohttp.ClientError) as error:
            self._write(f"(cannot open {url}: {type(error).__name__})\n")
            return
        first = next((line.strip() for line in body.splitlines() if line.strip()), "")
        self._write(f"(page {status}: {first[:200]})\n")

    def _to_incoming(self, text: str) -> Incoming | None:
        base = {
            "channel": Channel.CONSOLE,
            "user_id": self._user_id,
            "locale": self._locale,
            "profile_name": self._profile_name,
        }
        if text.startswith("/photo"):
            path = Path(text[len("/photo") :].strip()).expanduser()
            try:
                data = path.read_bytes()
            except OSError as error:
                self._write(f"(cannot read {path}: {error.strerror})\n")
                return None
            return Incoming(**base, photo=data)
        if text.startswith("/contact"):
            return Incoming(**base, contact_phone=text[len("/contact") :].strip())
        button = self._button_for(text)
        if button is not None:
            if button.url:
                self._write(f"(open {button.url})\n")
                return None
            if button.request_phone:
                self._write("(type /contact +380XXXXXXXXX to share your phone number)\n")
                return None
            return Incoming(**base, payload=button.payload, text=button.label)
        return Incoming(**base, text=text)

    def _button_for(self, text: str) -> Button | None:
        press = _PRESS.fullmatch(text)
        if press:
            index = int(press.group(1)) - 1
            return self._buttons[index] if 0 <= index < len(self._buttons) else None
        return next((b for b in self._buttons if b.label == text), None)

    def _render(self, replies: list[Reply]) -> None:
        for reply in replies:
            self._write(reply.text + "\n")
            for attachment, kind in ((reply.image, "image"), (reply.document, "document")):
                if attachment is not None:
                    self._write(f"[{kind}: {self._save(attachment)}]\n")
            buttons = reply.all_buttons()
            for number, button in enumerate(buttons, start=1):
                link = f" -> {button.url}" if button.url else ""
                self._write(f"[{number}] {button.label}{link}\n")
            if buttons:
                self._buttons = buttons

    def _save(self, attachment: Attachment) -> Path:
        self._out_dir.mkdir(parents=True, exist_ok=True)
        self._saved += 1
        path = self._out_dir / f"{self._saved:03d}-{Path(attachment.filename).name}"
        path.write_bytes(attachment.content)
        return path

    def _write(self, text: str) -> None:
        self._stdout.write(text)
        self._stdout.flush()
