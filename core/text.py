"""Text the database can store: what people and platforms send is cleaned on the way in.

PostgreSQL refuses the NUL character in text, and a lone UTF-16 surrogate (which a JSON
"\\ud83d" escape produces) cannot be encoded as UTF-8 at all. Either one, in a profile name
or a message, failed every turn of that person with an apology, so neither gets in.
"""

from __future__ import annotations

import re

# NUL, and code points U+D800..U+DFFF: in a Python str they are always lone (a valid pair
# arrives as one astral code point).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` without NUL characters and lone surrogates; everything else kept as sent."""
    return _UNSTORABLE.sub("", text)


def storable_name(name: str, limit: int) -> str:
    """A name from a messenger profile, storable and at most `limit` characters.

    Nobody typed it for us, so nobody can be asked to shorten it: it is cut, on a space
    when there is one near the end.
    """
    cleaned = " ".join(storable(name).split())
    if len(cleaned) <= limit:
        return cleaned
    cut = cleaned[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit * 3 // 4 else cut
