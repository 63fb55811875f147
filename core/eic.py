"""EIC codes (Energy Identification Code), checked with python-stdnum."""

from __future__ import annotations

from stdnum.eu import eic as stdnum_eic
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError

from core.errors import EicInvalid


def normalise_eic(text: str) -> str:
    """Return the EIC upper-case without spaces, or raise EicInvalid saying what is wrong.

    The reason is one of "length", "checksum" or "format", so the person learns whether a
    character is missing or mistyped.
    """
    try:
        return stdnum_eic.validate(text.strip().upper())
    except InvalidLength:
        raise EicInvalid("length") from None
    except InvalidChecksum:
        raise EicInvalid("checksum") from None
    except ValidationError:
        raise EicInvalid("format") from None
