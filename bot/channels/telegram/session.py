"""An aiogram session that posts file-less calls as JSON.

aiogram sends every call as form data: it walks each value in Python, JSON-encodes nested
objects into fields, then url-encodes them. For a reply with a keyboard and a few lines of
Cyrillic text that costs about a millisecond of CPU per call (measured here), as much as a
whole echo turn. The Bot API accepts `application/json` for every call that uploads no
file, so the few calls a turn makes are dumped by pydantic in one go instead; uploads and
everything else still go the stock way. A successful send or edit is answered with just the
message id (all the channel uses); other answers and every error are read by aiogram as usual.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    SendChatAction,
    SendMessage,
)
from aiogram.methods.base import Response, TelegramMethod, TelegramType
from aiogram.types import TelegramObject
from aiohttp import ClientError, ClientTimeout
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import BytesPayload

from bot.channels import send_gate
from bot.channels.send_gate import GateRefused, through_gate

# Calls that never carry a file: safe to send as JSON.
JSON_METHODS: tuple[type[TelegramMethod[Any]], ...] = (
    SendMessage,
    EditMessageText,
    AnswerCallbackQuery,
    SendChatAction,
)
_JSON = {"Content-Type": "application/json"}


def _plain(value: Any) -> Any:
    """What json.dumps cannot encode by itself."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, TelegramObject):
        return value.model_dump(exclude_none=True)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


class GatedBody(BytesPayload):
    """A JSON request body that waits at the send gate when aiohttp is about to write it.

    By then the connection is taken and the headers are built (aiohttp holds them back to
    send with the body), so once the gate opens each call is one write: the stretch in
    which a killed worker leaves a `sending` row whose request never left is as short as
    it can be without the platform's help.
    """

    def __init__(self, body: bytes) -> None:
        super().__init__(body, content_type=_JSON["Content-Type"])

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        """Write the body once the gate (if any) lets this call through."""
        await through_gate()
        await super().write_with_length(writer, content_length)


def json_body(bot: Bot, method: TelegramMethod[Any]) -> bytes:
    """The call's parameters as a JSON object; bot-wide defaults filled in, None left out."""
    data = method.model_dump(exclude_none=True, warnings=False)
    for key, value in list(data.items()):
        if isinstance(value, Default):
            resolved = bot.default[value.name]
            if resolved is None:
                del data[key]
            else:
                data[key] = resolved
    return json.dumps(data, ensure_ascii=False, default=_plain).encode()


class JsonSession(AiohttpSession):
    """`AiohttpSession` that sends the calls in `JSON_METHODS` as JSON."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # aiogram reads every answer through `Response[<returned type>]`. pydantic keeps
        # such parametrised models only weakly, and under load the class was collected
        # and rebuilt (schema and all) for nearly every call: a tenth of a busy bot's CPU
        # in the profile. Holding the ones our calls return keeps pydantic's cache warm.
        # A type parametrised at run time, as aiogram's own session does it: no static type.
        self._answer_models = [Response[m.__returning__] for m in JSON_METHODS]  # type: ignore[name-defined]

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        """Post the call; the answer is checked by aiogram (errors become its exceptions)."""
        if not isinstance(method, JSON_METHODS):
            await through_gate()
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        # A push waits in its body's write, its request ready, until delivery has marked
        # it `sending` (GatedBody).
        body = GatedBody(json_body(bot, method))
        try:
            async with session.post(
                url,
                data=body,
                headers=_JSON,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as response:
                raw = await response.text()
        except TimeoutError as error:
            raise TelegramNetworkError(method=method, message="Request timeout error") from error
        except ClientError as error:
            if send_gate.refused():
                raise GateRefused from None
            # The URL holds the token: only the kind of error goes into the message.
            raise TelegramNetworkError(method=method, message=type(error).__name__) from error
        if response.status == HTTPStatus.OK and isinstance(method, (SendMessage, EditMessageText)):
            sent = sent_message(raw)
            if sent is not None:
                return cast(TelegramType, sent)
        checked = self.check_response(
            bot=bot, method=method, status_code=response.status, content=raw
        )
        return cast(TelegramType, checked.result)


@dataclass(frozen=True)
class SentMessage:
    """What the channel needs of a message it sent: the id, to edit it later.

    Validating the whole `Message` Telegram echoes back (chat, sender, keyboard, entities)
    was the dearest part of a reply's call, for one number.
    """

    message_id: int


def sent_message(raw: str) -> SentMessage | None:
    """The id of a successful answer to a send or edit; None for anything else."""
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("ok") is not True:
        return None
    result = answer.get("result")
    if isinstance(result, dict) and type(result.get("message_id")) is int:
        return SentMessage(result["message_id"])
    return None
