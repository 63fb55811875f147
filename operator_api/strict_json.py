"""JSON bodies with each key once: `{"amount": 1, "amount": -1}` is refused, not "last wins".

An operator's system that sends a key twice has a bug, and which value it meant is a
guess; a proxy or a second parser may read the other one. json.loads keeps the last.
"""

from __future__ import annotations

import json
from typing import Any


class DuplicateKey(ValueError):
    """A JSON object names a key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} appears twice in one object")
        self.key = key


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


def loads(content: str | bytes, **options: Any) -> Any:
    """json.loads refusing duplicate keys (DuplicateKey, a ValueError)."""
    return json.loads(content, object_pairs_hook=_once, **options)
