"""Log levels of the libraries that would otherwise fill the log (and spill data into it)."""

from __future__ import annotations

import logging

# fontTools logs ~30 INFO lines per PDF (font subsetting); matplotlib and Pillow log
# their plugin and font discovery. None of it helps an operator, and the subsetter's lines
# name the glyphs used, i.e. hint at the text of the document. aiosqlite logs every
# statement with its bound values at DEBUG: names, phones, call-centre texts.
CHATTY_LIBRARIES = ("fontTools", "matplotlib", "PIL", "aiosqlite")


def quiet_chatty_libraries(level: int = logging.WARNING) -> None:
    """Keep the chatty libraries at `level` or above, whatever the application's level."""
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(level)
