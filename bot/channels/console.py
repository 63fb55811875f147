"""The console channel: a chat in the terminal (or a pipe), as DESIGN.md §3 describes.

Replies print as text with their buttons as `[N] Label` lines; `#N` (or a bare `N` up to the
number of buttons shown) or a button's exact label presses it; `/photo PATH`,
`/contact +380…` and `/quit` are understood; after every turn the prompt `> ` is printed and
flushed so a driving program knows the turn ended.

A link button to this machine (127.0.0.1, localhost) is opened with an HTTP GET, so the
demo's local payment page can complete a payment. Pushes (`send`) print like replies: the
ones due when a turn ends are printed before its prompt; one that comes while the user
waits is printed at once, followed by the prompt again.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from bot.messages import Attachment, Button, Incoming, Reply
from core.model import Channel
from core.ports import StoreUnavailable

if TYPE_CHECKING:
    from bot.channels.base import DeliveryResult, Push

PROMPT = "> "
# "#2" presses button 2; so does a bare "2" while buttons are shown (what a newcomer types on
# seeing "[2] Label"): readings are longer than the few buttons a reply carries.
_PRESS = re.compile(r"#?(\d{1,2})")
_SAVED = re.compile(r"(\d{3,})-")
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
        self._in_turn = False  # handling a line: a push waits for the turn's answer
        self._held: list[list[Reply]] = []  # pushes that came during a turn
        self.deliver_due: Callable[[], Awaitable[None]] | None = None
        """Set by the composition root: deliver this user's due pushes (through `send`)."""

    @property
    def user_id(self) -> str:
        """The console user this chat talks as."""
        return self._user_id

    async def run(self) -> None:
        """Chat until EOF or /quit."""
        loop = asyncio.get_running_loop()
        await self._end_turn()
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
                self._in_turn = True
                try:
                    await self._turn(text.strip())
                finally:
                    self._in_turn = False
            await self._end_turn()
        await self._deliver_due()  # what arrived meanwhile, before the chat closes
        self._write("\n")

    async def _end_turn(self) -> None:
        """Pushes that came during the turn, those due now (a payment's thanks the turn
        caused), then the prompt."""
        self._show_held()
        await self._deliver_due()
        self._write(PROMPT)

    async def _deliver_due(self) -> None:
        if self.deliver_due is None:
            return
        try:
            await self.deliver_due()
        except Exception as error:  # the chat goes on; delivery retries in the background
            self._write(f"(pushes not delivered now: {type(error).__name__})\n")

    def _show_held(self) -> None:
        held, self._held = self._held, []
        for replies in held:
            self._render(replies)

    async def send(self, user_id: str, push: Push) -> DeliveryResult:
        """A push (a payment's receipt, an answer, an alert), shown as a messenger would:
        at once while the user waits for their next line (then the prompt again), else
        after the turn's own answer, before the prompt."""
        from bot.channels.base import DeliveryResult, DeliveryStatus  # only pushes need it

        if user_id != self._user_id:
            return DeliveryResult(DeliveryStatus.FAILED, detail="not this console's user")
        replies = push.replies
        if self._in_turn:
            self._held.append(replies)
            return DeliveryResult(DeliveryStatus.SENT)
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
        if event is None:
            return
        try:
            replies = await self._handle(event)
        except StoreUnavailable:
            # The dialog keeps nothing of such a turn; the line can simply be typed again.
            self._write("(the database cannot be reached: nothing was kept, try again)\n")
            return
        self._render(replies)

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
        incoming = partial(
            Incoming,
            channel=Channel.CONSOLE,
            user_id=self._user_id,
            locale=self._locale,
            profile_name=self._profile_name,
        )
        if text.startswith("/photo"):
            path = Path(text[len("/photo") :].strip()).expanduser()
            try:
                data = path.read_bytes()
            except OSError as error:
                self._write(f"(cannot read {path}: {error.strerror})\n")
                return None
            return incoming(photo=data)
        if text.startswith("/contact"):
            return incoming(contact_phone=text[len("/contact") :].strip())
        button = self._button_for(text)
        if button is not None:
            if button.url:
                self._write(f"(open {button.url})\n")
                return None
            if button.request_phone:
                self._write("(type /contact +380XXXXXXXXX to share your phone number)\n")
                return None
            return incoming(payload=button.payload, text=button.label)
        return incoming(text=text)

    def _button_for(self, text: str) -> Button | None:
        press = _PRESS.fullmatch(text)
        if press:
            index = int(press.group(1)) - 1
            if 0 <= index < len(self._buttons):
                return self._buttons[index]
            if text.startswith("#"):
                return None
        return next((b for b in self._buttons if b.label == text), None)
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
        """Write a file under the next free number: numbering goes on from earlier runs
        (and other consoles in the same directory), so nothing is overwritten."""
        self._out_dir.mkdir(parents=True, exist_ok=True)
        if self._saved == 0:
            numbers = (_SAVED.match(p.name) for p in self._out_dir.iterdir())
            self._saved = max((int(m.group(1)) for m in numbers if m), default=0)
        while True:
            self._saved += 1
            path = self._out_dir / f"{self._saved:03d}-{Path(attachment.filename).name}"
            try:
                with path.open("xb") as file:  # exclusive: never another run's file
                    file.write(attachment.content)
            except FileExistsError:
                continue
            return path

    def _write(self, text: str) -> None:
        self._stdout.write(text)
        self._stdout.flush()
