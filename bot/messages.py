"""The channel-neutral model: what a person sent, and what the bot answers.

Adapters translate their platform's updates into `Incoming` and render `Reply` back;
flows see nothing else. Payloads are short keys (Telegram allows 64 bytes of callback data).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.model import Channel
from core.requests import MAX_NAME
from core.text import storable, storable_name

MAX_PAYLOAD_BYTES = 64
# `Incoming.unsupported` of a photo, or an image sent as a file, over the size a channel
# downloads (declared by the platform, or found while downloading).
TOO_LARGE = frozenset({"photo_too_large", "image_too_large"})


@dataclass(frozen=True)
class Incoming:
    """One thing a person did: typed text, pressed a button, sent a photo or a contact."""

    channel: Channel
    user_id: str
    text: str | None = None
    payload: str | None = None
    photo: bytes | None = None
    contact_phone: str | None = None
    contact_is_own: bool = True
    locale: str | None = None
    profile_name: str = ""
    update_key: str | None = None
    unsupported: str | None = None
    # The platform's order of this person's messages (Telegram's update_id, Viber's and
    # Messenger's timestamp); waiting turns run lowest first (bot.handlers.turn_order).
    sequence: int | None = None

    def __post_init__(self) -> None:
        # Every channel's input passes here: keep out what the database cannot store
        # (core.text), so no profile name or message can fail a person's every turn.
        for name in ("text", "payload", "contact_phone"):
            value = getattr(self, name)
            if value is not None and value != (clean := storable(value)):
                object.__setattr__(self, name, clean)
        name = storable_name(self.profile_name, MAX_NAME)
        if name != self.profile_name:
            object.__setattr__(self, "profile_name", name)


@dataclass(frozen=True)
class Button:
    """A choice: pressing it sends `payload`; a link button opens `url` instead.

    `request_phone` asks the messenger to share the person's own phone number.
    """

    label: str
    payload: str | None = None
    url: str | None = None
    request_phone: bool = False

    def __post_init__(self) -> None:
        if self.payload is not None and len(self.payload.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"button payload longer than {MAX_PAYLOAD_BYTES} bytes")


@dataclass(frozen=True)
class Attachment:
    """A file the bot sends: an image (PNG/JPEG) or a document (PDF)."""

    filename: str
    content: bytes
    mime_type: str


@dataclass(frozen=True)
class Keyboard:
    """The standing keyboard: the top actions a channel keeps in view between messages.

    Telegram shows it as a persistent reply keyboard, Viber adds it to every message's
    keyboard (Viber shows only the last message's one); the others have no such thing.
    Its buttons send their label, which the dialog's word table maps back to the action,
    so no channel needs to remember it. No rows means "take the keyboard away". `hint` is
    a line a channel may send to carry the keyboard when no other message of the turn can
    (a Telegram message holds one keyboard: inline buttons or this one).
    """

    rows: tuple[tuple[Button, ...], ...] = ()
    hint: str = ""


@dataclass
class Reply:
    """One message of the bot: text, then buttons in rows, optionally an image or a document.

    `replaces_previous` asks channels that can edit messages to edit the last one instead
    of sending a new one (pagination); others simply send it. `keyboard` is the standing
    keyboard to keep in view with it (None: leave whatever is shown).
    """

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    image: Attachment | None = None
    document: Attachment | None = None
    replaces_previous: bool = False
    keyboard: Keyboard | None = None

    def all_buttons(self) -> list[Button]:
        """Buttons row by row, left to right."""
        return [button for row in self.buttons for button in row]
