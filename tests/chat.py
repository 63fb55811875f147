"""Drives the real dialog like a person would: type text, press buttons by label."""

from __future__ import annotations

from bot.handlers.dialog import Dialog
from bot.messages import Button, Incoming, Reply
from core.model import Channel


class Chat:
    """One user's conversation with a Dialog; keeps the last replies and buttons."""

    def __init__(
        self,
        dialog: Dialog,
        user_id: str = "u1",
        *,
        locale: str | None = "uk",
        channel: Channel = Channel.CONSOLE,
        profile_name: str = "Іван",
    ) -> None:
        self.dialog = dialog
        self.user_id = user_id
        self.locale = locale
        self.channel = channel
        self.profile_name = profile_name
        self.replies: list[Reply] = []
        self.buttons: list[Button] = []
        self.keyboard: list[Button] = []  # the standing keyboard last shown

    @property
    def text(self) -> str:
        """All reply texts of the last turn, joined."""
        return "\n".join(reply.text for reply in self.replies)

    async def send(self, text: str | None = None, **fields: object) -> str:
        """Send text (or other Incoming fields) and return the joined reply text."""
        event = Incoming(
            channel=self.channel,
            user_id=self.user_id,
            text=text,
            locale=self.locale,
            profile_name=self.profile_name,
            **fields,  # type: ignore[arg-type]
        )
        self.replies = await self.dialog.handle(event)
        for reply in self.replies:
            if reply.buttons:
                self.buttons = reply.all_buttons()
            if reply.keyboard is not None:
                self.keyboard = [button for row in reply.keyboard.rows for button in row]
        return self.text

    async def press(self, label: str) -> str:
        """Press the button whose label contains `label` (first match)."""
        for button in self.buttons:
            if label in button.label:
                return await self.send(button.label, payload=button.payload)
        raise AssertionError(f"no button {label!r} among {[b.label for b in self.buttons]}")

    async def tap(self, label: str) -> str:
        """Press a standing-keyboard button: like Telegram, it sends its label as text."""
        for button in self.keyboard:
            if label in button.label:
                return await self.send(button.label)
        raise AssertionError(f"no key {label!r} among {[b.label for b in self.keyboard]}")

    def labels(self) -> list[str]:
        """Labels of the last buttons."""
        return [button.label for button in self.buttons]

    def standing(self) -> list[str]:
        """Labels of the standing keyboard in view."""
        return [button.label for button in self.keyboard]
