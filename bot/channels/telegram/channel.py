"""The Telegram channel: webhook or polling in, the dialog, Bot API calls out.

Built by the composition root from settings (`TelegramChannel.from_settings`). It only
translates: updates become `Incoming` (bot.channels.telegram.inbound), replies become Bot
API calls (bot.channels.telegram.outbound); every rule lives in the dialog. What it keeps of
a chat between turns (the reply keyboard's labels, whether one is shown, the standing
keyboard in view) is the chat's memory in the dialog state, read once before a turn and
written once after it when it changed, so any replica knows it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatAction, ChatMemberStatus, ChatType
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteWebhook,
    EditMessageText,
    GetFile,
    SendChatAction,
    SetMyCommands,
    SetWebhook,
)
from aiogram.methods.base import TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeDefault,
    CallbackQuery,
    ChatMemberUpdated,
    Message,
    Update,
)
from aiohttp import web
from pydantic import ValidationError

from bot.channels.base import (
    ChannelAdapter,
    DeliveryResult,
    DeliveryStatus,
    Handle,
    LocalChatMemories,
    Memo,
    PhotoTooLarge,
    PrefetchedMemories,
    Push,
    Retries,
    Typing,
    remembering,
    run_turn,
)
from bot.channels.telegram.inbound import (
    PHOTO_LIMIT_BYTES,
    Inbound,
    from_callback,
    from_message,
)
from bot.channels.telegram.outbound import carries_standing, render
from bot.channels.telegram.session import JsonSession
from bot.handlers.turn_order import TurnQueue
from bot.i18n import SUPPORTED_LOCALES, Catalogues, pick_locale
from bot.messages import Incoming, Keyboard, Reply
from core.model import Channel
from core.ports import AbstractChatMemories, StoreUnavailable
from observability.metrics import Metrics

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
# my_chat_member tells at once when a person blocks the bot (status "kicked").
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]

# Telegram waits for the webhook's answer and re-sends an update it got no 200 for. We
# answer only after the update was handled (replies sent, state committed), so an update
# is never lost when the process dies mid-way: Telegram re-sends it and the dialog's
# update-id check drops the copy if the first one did get committed. aiogram's default
# (handle_in_background) answers first and would lose such an update. A turn slower than
# this budget is answered anyway and finishes in the background, so one stuck turn does not
# hold a Telegram connection until Telegram gives up and re-sends it.
WEBHOOK_ANSWER_BUDGET = 50.0
# Seconds a webhook answered 503 (the database unreachable) asks Telegram to wait.
STORE_RETRY_AFTER = 5
# Show "typing…" only when a turn is slow enough for a person to wonder; a quick turn
# costs no extra Bot API call.
TYPING_AFTER = 1.0
TYPING_EVERY = 4.5  # Telegram shows a chat action for 5 s
# Bounded retries: a turn must end, and pushes have their own retry loop in delivery.
MAX_ATTEMPTS = 3
MAX_RETRY_AFTER = 30.0
_PUSHING: ContextVar[bool] = ContextVar("telegram_pushing", default=False)
CONNECTIONS = 256
NETWORK_BACKOFF = (0.5, 1.0, 2.0)
# Per-chat memory without a database (unit tests): bounded.
REMEMBERED_CHATS = 50_000

MarkUnreachable = Callable[[Channel, str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[Any]]


def derived_secret(token: str) -> str:
    """A webhook secret derived from the bot token, for when none is configured.

    Every replica derives the same value, and nobody without the token can guess it.
    """
    return hmac.new(token.encode(), b"kabinet telegram webhook", hashlib.sha256).hexdigest()


class _Capped(io.BytesIO):
    """A download's destination that refuses to grow past `limit` bytes: aiogram writes
    the file into it chunk by chunk, and the first chunk past the limit ends the download
    (the stream is closed, the rest never read)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def write(self, chunk: Any, /) -> int:
        if self.tell() + len(chunk) > self._limit:
            raise PhotoTooLarge
        return super().write(chunk)


class _Failed(Exception):
    """A call gave up; carries the delivery outcome."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.detail)
        self.result = result


class TelegramChannel(ChannelAdapter):
    """Telegram through aiogram 3: a Bot, a Dispatcher, the webhook route or polling."""

    channel = Channel.TELEGRAM
    gated = True  # its session waits at the send gate (bot/channels/send_gate.py)

    def __init__(
        self,
        token: str,
        *,
        handle: Handle,
        mark_unreachable: MarkUnreachable,
        catalogues: Catalogues,
        metrics: Metrics | None = None,
        mode: str = "webhook",
        webhook_secret: str | None = None,
        api_base: str = "https://api.telegram.org",
        public_base_url: str | None = None,
        sleep: Sleep = asyncio.sleep,
        retries: Retries | None = None,
        typing_after: float = TYPING_AFTER,
        commands: Sequence[str] = (),
        photo_limit: int = PHOTO_LIMIT_BYTES,
        memories: AbstractChatMemories | None = None,
    ) -> None:
        self._handle = handle
        # The largest file downloaded (photos, images sent as files), declared or not.
        self._photo_limit = photo_limit
        # The command list people see: bot.menu.menu_commands, from the router.
        self._commands = tuple(commands)
        self._mark_unreachable = mark_unreachable
        self._catalogues = catalogues
        self._metrics = metrics
        self._mode = mode
        self._secret = webhook_secret or derived_secret(token)
        self._public_base_url = public_base_url
        self._sleep = sleep
        # Network errors and rate limits: a few tries, jittered waits (base.Retries).
        self._retries = retries or Retries(MAX_ATTEMPTS, NETWORK_BACKOFF)
        self._typing_after = typing_after
        # More connections than delivery's calls in flight (200): a push marked `sending`
        # never waits for one.
        session = JsonSession(
            api=TelegramAPIServer.from_base(api_base.rstrip("/")), limit=CONNECTIONS
        )
        self.bot = Bot(token, session=session)
        # No FSM: conversation state lives in the dialog's database, keyed by (channel, user).
        self.dispatcher = Dispatcher(disable_fsm=True)
        self.dispatcher.message.register(self._on_message)
        self.dispatcher.callback_query.register(self._on_callback)
        self.dispatcher.my_chat_member.register(self._on_membership)
        # Per chat (see the module's doc): "keyboard" (labels → payloads, for the next
        # input), "keyboard_shown", "standing" (a fingerprint). They change only when the
        # keyboards do, so most turns read the memory and write nothing.
        # Read ahead for a batch of pushes (`prefetch`) in one statement.
        self._memories = PrefetchedMemories(memories or LocalChatMemories(REMEMBERED_CHATS))
        # One chat's updates handled here side by side take turns, in the order Telegram
        # numbered them (update_id), from reading its memory to writing it back, so that
        # neither writes over what the other kept.
        self.chat_turns = TurnQueue()
        """Whose update runs next per chat (public: tests hold a chat's turn)."""
        self._background: set[asyncio.Task[Any]] = set()
        self._polling: asyncio.Task[None] | None = None

    # ---- lifecycle -------------------------------------------------------------------

    def register_routes(self, app: web.Application) -> None:
        """POST /webhook/telegram, in webhook mode only."""
        if self._mode == "webhook":
            app.router.add_post(WEBHOOK_PATH, self._webhook)

    async def start(self) -> None:
        """Set the bot's commands, then set the webhook or start polling."""
        await self._set_commands()
        if self._mode == "polling":
            # getUpdates refuses to work while a webhook is set.
            await self._best_effort(DeleteWebhook(drop_pending_updates=False))
            self._polling = asyncio.create_task(
                self.dispatcher.start_polling(
                    self.bot,
                    handle_signals=False,  # the server owns SIGINT/SIGTERM
                    close_bot_session=False,
                    allowed_updates=ALLOWED_UPDATES,
                )
            )
            log.info("telegram: polling")
        elif self._public_base_url:
            url = self._public_base_url.rstrip("/") + WEBHOOK_PATH
            done = await self._best_effort(
                SetWebhook(
                    url=url,
                    secret_token=self._secret,
                    allowed_updates=ALLOWED_UPDATES,
                    drop_pending_updates=False,
                )
            )
            if done:
                log.info("telegram: webhook set to %s", url)
        else:
            log.info("telegram: webhook mode, PUBLIC_BASE_URL unset: webhook not registered")

    async def stop(self) -> None:
        """Stop polling, let turns in flight finish (bounded), close the HTTP session."""
        if self._polling is not None:
            try:
                await self.dispatcher.stop_polling()
            except RuntimeError:  # polling never got going
                self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
            self._polling = None
        if self._background:
            await asyncio.wait(set(self._background), timeout=10)
        await self.bot.session.close()

    async def _set_commands(self) -> None:
        for locale in SUPPORTED_LOCALES:
            t = self._catalogues.translator(locale)
            commands = [
                BotCommand(command=c, description=t(f"telegram.cmd.{c}")) for c in self._commands
            ]
            await self._best_effort(
                SetMyCommands(
                    commands=commands, scope=BotCommandScopeDefault(), language_code=locale
                )
            )
        # People whose Telegram speaks another language see the Ukrainian ones.
        t = self._catalogues.translator(pick_locale(None))
        commands = [
            BotCommand(command=c, description=t(f"telegram.cmd.{c}")) for c in self._commands
        ]
        await self._best_effort(SetMyCommands(commands=commands, scope=BotCommandScopeDefault()))

    async def _best_effort(self, method: TelegramMethod) -> bool:
        """Run a start-up call with retries; a failure is logged, the server still starts."""
        try:
            await self._call(method)
        except _Failed as failed:
            log.error("telegram: %s failed: %s", type(method).__name__, failed.result.detail)
            return False
        return True

    # ---- inbound ---------------------------------------------------------------------

    def _secret_ok(self, given: str) -> bool:
        return secrets.compare_digest(given.encode(), self._secret.encode())

    async def _webhook(self, request: web.Request) -> web.Response:
        """Check the secret, parse the update, handle it, then answer (see the budget)."""
        if not self._secret_ok(request.headers.get(SECRET_HEADER, "")):
            log.warning("telegram webhook: wrong or missing secret token")
            return web.Response(status=401)
        try:
            data = await request.json()
            update = Update.model_validate(data, context={"bot": self.bot})
        except (ValueError, ValidationError) as error:
            log.warning("telegram webhook: malformed update: %s", type(error).__name__)
            return web.Response(status=400)
        task = asyncio.create_task(self._feed(update))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        done, _ = await asyncio.wait({task}, timeout=WEBHOOK_ANSWER_BUDGET)
        if not done:
            log.warning(
                "telegram update %s slower than %.0f s: answered, still running",
                update.update_id,
                WEBHOOK_ANSWER_BUDGET,
            )
        elif not task.result():
            # Nothing was kept, the update is not marked processed: Telegram sends it again
            # (with growing pauses) and it is handled once the database is back.
            return web.json_response(
                {}, status=503, headers={"Retry-After": str(STORE_RETRY_AFTER)}
            )
        return web.json_response({})

    async def _feed(self, update: Update) -> bool:
        """Handle the update; False when the database could not be reached."""
        try:
            await self.dispatcher.feed_update(self.bot, update)
        except StoreUnavailable:
            log.warning(
                "telegram update %s: the database is unreachable, not answered",
                update.update_id,
            )
            return False
        except Exception:  # a bug in translation or rendering; the dialog itself never raises
            log.exception("telegram update %s failed", update.update_id)
        return True

    async def _on_message(self, message: Message, event_update: Update) -> None:
        chat = str(message.chat.id)
        async with (
            self.chat_turns.hold(chat, event_update.update_id),
            remembering(self._memories, self.channel, chat) as memo,
        ):
            keyboard = memo.data.pop("keyboard", None)
            inbound = from_message(message, event_update.update_id, keyboard)
            if inbound is None:
                return
            await self._turn(inbound, memo)

    async def _on_callback(self, callback_query: CallbackQuery, event_update: Update) -> None:
        # Answer at once and in parallel with the turn, so the button stops spinning
        # without waiting for the dialog and without adding a round trip to the turn.
        answer = asyncio.create_task(self._answer(callback_query.id))
        try:
            inbound = from_callback(callback_query, event_update.update_id)
            if inbound is not None:
                chat = str(inbound.chat_id)
                async with (
                    self.chat_turns.hold(chat, event_update.update_id),
                    remembering(self._memories, self.channel, chat) as memo,
                ):
                    await self._turn(inbound, memo, edit_message_id=_message_id(callback_query))
        finally:
            await answer

    async def _on_membership(self, my_chat_member: ChatMemberUpdated) -> None:
        """A person blocked the bot: no pushes until they write again (the dialog's rule)."""
        if my_chat_member.chat.type == ChatType.PRIVATE and (
            my_chat_member.new_chat_member.status == ChatMemberStatus.KICKED
        ):
            await self._mark_unreachable(self.channel, str(my_chat_member.from_user.id))

    async def _answer(self, callback_id: str) -> None:
        try:
            await self._call(AnswerCallbackQuery(callback_query_id=callback_id))
        except _Failed as failed:
            log.info("telegram: callback not answered: %s", failed.result.detail)

    async def _turn(self, inbound: Inbound, memo: Memo, edit_message_id: int | None = None) -> None:
        """One input: download its file, hand it to the dialog, send what it answers."""
        chat_id = inbound.chat_id
        typing = Typing(lambda: self._send_typing(chat_id), self._typing_after, TYPING_EVERY)
        event = inbound.event
        if inbound.file_id is not None:
            try:
                photo = await self._download(inbound.file_id)
            except PhotoTooLarge:
                log.info("telegram: a file over %d bytes not downloaded", self._photo_limit)
                # The dialog tells the person the photo is too large.
                event = replace(event, unsupported="photo_too_large")
            except BaseException:
                typing.cancel()
                raise
            else:
                if photo is None:
                    typing.cancel()
                    await self._deliver(chat_id, self._apology(event), memo)
                    return
                event = replace(event, photo=photo)

        async def answer(_user_id: str, replies: list[Reply]) -> DeliveryResult:
            # A paging press edits the message whose button was pressed; any other reply
            # that asks to replace the previous one is sent as a new message (the chat's
            # last message is not remembered: it would cost a write every turn, and one
            # that a replica had not heard of would edit a message far up the chat).
            return await self._deliver(chat_id, replies, memo, edit_message_id=edit_message_id)

        await run_turn(
            self.channel,
            self._handle,
            event,
            answer,
            self._apology,
            user_id=str(chat_id),
            typing=typing,
            answer_empty=True,
            # Only a webhook's update comes again; a polled one is gone once fetched.
            redeliverable=self._mode == "webhook",
        )

    def _apology(self, event: Incoming) -> list[Reply]:
        t = self._catalogues.translator(pick_locale(event.locale))
        return [Reply(t("error.apology"))]

    def _send_typing(self, chat_id: int) -> None:
        async def send() -> None:
            try:
                await self.bot(SendChatAction(chat_id=chat_id, action=ChatAction.TYPING))
            except TelegramAPIError as error:
                log.debug("telegram: chat action failed: %s", error.message)

        task = asyncio.create_task(send())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _download(self, file_id: str) -> bytes | None:
        """The file's bytes, with network retries; None when it cannot be had.

        Raises PhotoTooLarge for a file over PHOTO_LIMIT_BYTES: declared so by getFile, or
        found so while reading. A photo's update may carry no size, and a self-hosted Bot
        API serves files of up to 2 GB: the download stops at the limit, whatever it is.
        """
        try:
            found = await self._call(GetFile(file_id=file_id))
        except _Failed as failed:
            log.warning("telegram: getFile failed: %s", failed.result.detail)
            return None
        if found.file_size is not None and found.file_size > self._photo_limit:
            raise PhotoTooLarge
        if not found.file_path:
            return None
        path = found.file_path
        try:
            data = await self._retrying(
                lambda: self.bot.download_file(path, destination=_Capped(self._photo_limit))
            )
        except _Failed as failed:
            log.warning("telegram: download failed: %s", failed.result.detail)
            return None
        return data.getvalue() if isinstance(data, io.BytesIO) else None

    # ---- outbound --------------------------------------------------------------------

    async def prefetch(self, user_ids: Sequence[str]) -> None:
        """The chats' memories for a batch of pushes, in one read."""
        await self._memories.prefetch(self.channel, user_ids)

    async def send(self, user_id: str, push: Push) -> DeliveryResult:
        """Push replies to a person outside a turn (private chat id = user id)."""
        try:
            chat_id = int(user_id)
        except ValueError:
            return DeliveryResult(DeliveryStatus.FAILED, detail="not a Telegram user id")
        chat = str(chat_id)
        # A push answers a 429 at once: delivery pauses the whole channel and puts the push
        # back, where a retry here would go out past the rate limit.
        pushing = _PUSHING.set(True)
        try:
            async with (
                self.chat_turns.hold(chat),
                remembering(self._memories, self.channel, chat) as memo,
            ):
                return await self._deliver(chat_id, push.replies, memo, paid=push.paid)
        finally:
            _PUSHING.reset(pushing)

    async def deliver(
        self,
        chat_id: int,
        replies: list[Reply],
        *,
        edit_message_id: int | None = None,
        paid: bool = False,
    ) -> DeliveryResult:
        """Send replies in order; stop at the first one that cannot be delivered. `paid`:
        as a paid broadcast (allow_paid_broadcast)."""
        chat = str(chat_id)
        async with (
            self.chat_turns.hold(chat),
            remembering(self._memories, self.channel, chat) as memo,
        ):
            return await self._deliver(
                chat_id, replies, memo, edit_message_id=edit_message_id, paid=paid
            )

    async def _deliver(
        self,
        chat_id: int,
        replies: list[Reply],
        memo: Memo,
        *,
        edit_message_id: int | None = None,
        paid: bool = False,
    ) -> DeliveryResult:
        result = DeliveryResult(DeliveryStatus.SENT)
        for reply in self._with_standing(replies, memo):
            result = await self._deliver_one(chat_id, reply, edit_message_id, memo, paid)
            if result.status != DeliveryStatus.SENT:
                break
        if self._metrics is not None and replies:
            self._metrics.outbound.labels(self.channel.value, result.status.value).inc()
        if result.status == DeliveryStatus.UNREACHABLE:
            await self._mark_unreachable(self.channel, str(chat_id))
        return result

    def _with_standing(self, replies: list[Reply], memo: Memo) -> list[Reply]:
        """The replies, led by the keyboard's hint when the standing keyboard is not in view
        yet and none of them can carry it (every one has inline buttons)."""
        keyboard = next((r.keyboard for r in replies if r.keyboard is not None), None)
        if (
            keyboard is None
            or not keyboard.rows
            or not keyboard.hint
            or memo.data.get("standing") == _fingerprint(keyboard)
            or any(carries_standing(reply) for reply in replies)
            # A share-phone keyboard is about to take its place anyway.
            or any(button.request_phone for reply in replies for button in reply.all_buttons())
        ):
            return replies
        return [Reply(keyboard.hint, keyboard=keyboard), *replies]

    async def _deliver_one(
        self,
        chat_id: int,
        reply: Reply,
        edit_message_id: int | None,
        memo: Memo,
        paid: bool = False,
    ) -> DeliveryResult:
        kept = memo.data
        rendered = render(
            chat_id,
            reply,
            edit_message_id=edit_message_id,
            remove_keyboard=bool(kept.get("keyboard_shown")),
            paid=paid,
        )
        try:
            for call in rendered.calls:
                await self._send_or_edit(call, chat_id, reply)
        except _Failed as failed:
            return failed.result
        if rendered.keyboard_payloads is not None:
            kept["keyboard"] = rendered.keyboard_payloads
            kept["keyboard_shown"] = True
            kept.pop("standing", None)  # the contact keyboard took its place
        elif rendered.standing is not None:
            kept.pop("keyboard_shown", None)
            if rendered.standing.rows:
                kept["standing"] = _fingerprint(rendered.standing)
            else:
                kept.pop("standing", None)
        elif rendered.removes_keyboard:
            kept.pop("keyboard_shown", None)
        return DeliveryResult(DeliveryStatus.SENT)

    async def _send_or_edit(self, call: TelegramMethod, chat_id: int, reply: Reply) -> Any:
        if not isinstance(call, EditMessageText):
            return await self._call(call)
        try:
            return await self._call(call)
        except _Failed as failed:
            if "not modified" in failed.result.detail:
                return None  # the same page pressed twice: nothing to change
            if failed.result.status != DeliveryStatus.FAILED:
                raise
        # The message is too old, gone, or not text (a photo): send a new one instead.
        rendered = render(chat_id, replace(reply, replaces_previous=False))
        sent = None
        for again in rendered.calls:
            sent = await self._call(again)
        return sent

    async def _call(self, method: TelegramMethod) -> Any:
        """Execute a Bot API call with the retry rules; raises `_Failed` when it gives up."""
        return await self._retrying(lambda: self.bot(method))

    async def _retrying(self, attempt: Callable[[], Awaitable[Any]]) -> Any:
        """429 waits retry_after, network and server errors back off; all bounded."""
        for number in range(1, self._retries.attempts + 1):
            last = self._retries.last(number)
            try:
                return await attempt()
            except TelegramRetryAfter as error:
                if last or error.retry_after > MAX_RETRY_AFTER or _PUSHING.get():
                    failure = DeliveryResult(
                        DeliveryStatus.RETRY_LATER, float(error.retry_after), error.message
                    )
                else:
                    log.info("telegram: rate limited, retrying after %s s", error.retry_after)
                    await self._sleep(error.retry_after)
                    continue
            except TelegramForbiddenError as error:
                failure = DeliveryResult(DeliveryStatus.UNREACHABLE, detail=error.message)
            except TelegramEntityTooLarge as error:  # a network error by class, but final
                failure = DeliveryResult(DeliveryStatus.FAILED, detail=error.message)
            except (
                TelegramNetworkError,
                TelegramServerError,
                aiohttp.ClientError,
                TimeoutError,
            ) as error:
                # The download URL holds the token, so only the error's kind is logged.
                detail = getattr(error, "message", None) or type(error).__name__
                if last:
                    failure = DeliveryResult(
                        DeliveryStatus.RETRY_LATER, self._retries.backoff[-1], detail
                    )
                else:
                    log.info("telegram: %s, retrying", detail)
                    await self._sleep(self._retries.delay(number))
                    continue
            except TelegramAPIError as error:  # bad request, unauthorized, not found…
                status = DeliveryStatus.NO_FUNDS if stars_ran_out(error) else DeliveryStatus.FAILED
                failure = DeliveryResult(status, detail=error.message)
            raise _Failed(failure)
        raise AssertionError("unreachable")  # the loop always returns or raises


def _fingerprint(keyboard: Keyboard) -> str:
    """A short stand-in for a standing keyboard, to tell whether a chat shows it already."""
    return hashlib.sha256(repr(keyboard).encode()).hexdigest()[:16]


# Telegram documents no error for a paid broadcast the Stars balance cannot pay
# (unconfirmed): MTProto names it BALANCE_TOO_LOW, and a description that speaks of too
# few Stars is taken too. A wrong guess fails loudly: such a send is recorded `failed`
# with Telegram's words (and logged), not silently retried.
_STARS_WORDS = ("balance_too_low", "not enough stars", "insufficient stars", "stars_not_enough")


def stars_ran_out(error: TelegramAPIError) -> bool:
    """Whether Telegram refused a call for the bot's Stars balance."""
    text = (error.message or "").lower()
    return any(word in text for word in _STARS_WORDS)


def _message_id(query: CallbackQuery) -> int | None:
    """The message whose button was pressed: the one a paging reply edits."""
    return query.message.message_id if query.message is not None else None
