"""The figures the bot relies on, importable without loading any model or runtime."""

# The bot treats a candidate at or above this confidence as read (one tap to accept); below,
# it asks to type. Calibrated on real photos: ocr/README.md, "Confidence".
CONFIDENT = 0.7
# With a previous reading but no stated maximum, months of household use stay below this.
DEFAULT_MAX_INCREASE = 5000
