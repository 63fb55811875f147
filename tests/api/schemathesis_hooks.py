"""Hooks the schemathesis run loads (SCHEMATHESIS_HOOKS): PDFs and CSV are sent as bytes."""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("application/pdf", "application/octet-stream")
schemathesis.serializer.alias("text/csv", "text/plain")
