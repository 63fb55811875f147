"""The reading flow's state data ("read.value", "read.confirm", "read.photo", "read.quick").

The dialog keeps a flow's data as a JSON object in the conversation's state row. The
reading flow's data is this dataclass: flows read it with `ReadingDraft.of(ctx.data)` and
write it with `ctx.goto(step, **draft.data())`.

States written before the fields had names used one-letter keys (`a`, `v`, `m`, `d`, `p`,
`r`, `n`); a person can be in the middle of a step when a new version is deployed, so
`of` still understands them. It writes only the new names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SUBMIT = "submit"
CALC = "calc"

LEGACY_KEYS = {
    "account": "a",
    "values": "v",
    "mode": "m",
    "digits": "d",
    "photo": "p",
    "recognised": "r",
    "typed": "n",
}
"""New name → the one-letter key states stored before the rename carry."""


@dataclass
class ReadingDraft:
    """What the reading flow has collected so far."""

    account: int
    zones: list[str] = field(default_factory=list)
    """The meter's zones, in the order they are asked."""
    values: dict[str, int] = field(default_factory=dict)
    """Values given so far, by zone."""
    mode: str = SUBMIT
    """SUBMIT stores the reading; CALC ("Розрахувати") only prices it."""
    digits: int | None = None
    """The meter's digit count, to refuse a too long value at once."""
    photo: str | None = None
    """The SHA-256 of the photo the values came from, kept as evidence once stored."""
    recognised: int | None = None
    """The value read from that photo, waiting for the person's "yes"."""
    typed: list[int] = field(default_factory=list)
    """Numbers typed while no step was open, offered as a reading ("read.quick")."""

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> ReadingDraft:
        """The draft in a state's data, written under the new names or the old ones."""

        def get(name: str, default: Any = None) -> Any:
            if name in data:
                return data[name]
            return data.get(LEGACY_KEYS.get(name, name), default)

        return cls(
            account=int(get("account")),
            zones=list(get("zones", [])),
            values=dict(get("values", {})),
            mode=get("mode", SUBMIT),
            digits=get("digits"),
            photo=get("photo"),
            recognised=get("recognised"),
            typed=list(get("typed", [])),
        )

    @staticmethod
    def account_in(data: Mapping[str, Any]) -> int | None:
        """The account a state's data is about, if any (new or old key)."""
        found = data.get("account", data.get(LEGACY_KEYS["account"]))
        return int(found) if found else None

    def data(self) -> dict[str, Any]:
        """The state's data: every field that holds something, under its name."""
        written: dict[str, Any] = {
            "account": self.account,
            "zones": list(self.zones),
            "values": dict(self.values),
            "mode": self.mode,
        }
        for name in ("digits", "photo", "recognised"):
            if getattr(self, name) is not None:
                written[name] = getattr(self, name)
        if self.typed:
            written["typed"] = list(self.typed)
        return written
