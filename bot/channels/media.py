"""`GET /media/{token}`: images and PDFs that Viber and Messenger fetch by URL.

Telegram takes uploads; Viber and Messenger only take a URL and fetch it themselves. The
store keeps recent attachments in memory, bounded in count and bytes, under a token that is
random (unguessable), carries its expiry, and is signed with MEDIA_SECRET (HMAC-SHA256), so
a forged or altered token is refused before the store is even looked at. The token ends
with the file's extension: Viber wants the extension as the last path segment of a picture.

The store is per process: behind several replicas, media URLs must reach the replica that
made them (sticky routing), or a shared store must replace this one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from bot.messages import Attachment

log = logging.getLogger(__name__)

MEDIA_PATH = "/media/{token}"
# How long a URL works. Messenger fetches at send time; when Viber's clients fetch a file
# is unconfirmed, so a late fetch of an expired URL is logged as a warning (see `serve`).
DEFAULT_TTL_SECONDS = 24 * 3600
DEFAULT_MAX_ITEMS = 2000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_EXPIRY = re.compile(r"[0-9]{1,12}")
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
}


@dataclass(frozen=True)
class _Item:
    attachment: Attachment
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class MediaStore:
    """Recent attachments by signed, expiring token; `url_for` stores and names one."""

    def __init__(
        self,
        secret: bytes,
        public_base_url: str,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        max_items: int = DEFAULT_MAX_ITEMS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        now: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("the media secret is empty")
        self._secret = secret
        self.public_base_url = public_base_url.rstrip("/")
        self._ttl = ttl_seconds
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._now = now
        self._items: OrderedDict[str, _Item] = OrderedDict()
        self._bytes = 0

    @classmethod
    def from_settings(cls, media_secret: str | None, public_base_url: str | None) -> MediaStore:
        """The store as configured; without MEDIA_SECRET a random one lives for this process.

        Tokens die with the process anyway (the store is in memory), so a random secret
        costs nothing but is logged, so operators know to set one for several replicas.
        """
        if not public_base_url:
            log.error("media: PUBLIC_BASE_URL is unset: Viber and Messenger cannot fetch images")
        if media_secret:
            secret = media_secret.encode()
        else:
            log.info("media: MEDIA_SECRET unset, using a random secret for this process")
            secret = secrets.token_bytes(32)
        return cls(secret, public_base_url or "http://127.0.0.1")

    def _sign(self, key: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{key}.{expires}".encode(), hashlib.sha256).digest()
        return _b64(mac[:20])

    def put(self, attachment: Attachment) -> str:
        """Keep the attachment; its token (no URL)."""
        key = _b64(secrets.token_bytes(16))
        expires = int(self._now()) + self._ttl
        extension = _EXTENSIONS.get(attachment.mime_type, "")
        token = f"{key}.{expires}.{self._sign(key, expires)}{extension}"
        self._items[key] = _Item(attachment, expires)
        self._bytes += len(attachment.content)
        self._evict()
        return token

    def url_for(self, attachment: Attachment) -> str:
        """Keep the attachment and return the public URL that serves it."""
        return f"{self.public_base_url}/media/{self.put(attachment)}"

    def _evict(self) -> None:
        now = int(self._now())
        while self._items and (
            len(self._items) > self._max_items
            or self._bytes > self._max_bytes
            or next(iter(self._items.values())).expires < now
        ):
            _, item = self._items.popitem(last=False)
            self._bytes -= len(item.attachment.content)

    def get(self, token: str) -> tuple[int, Attachment | None]:
        """(HTTP status, attachment): 403 for a forged token, 404 expired or gone, 200."""
        stem = token.rsplit(".", 1)[0] if token.count(".") == 3 else token
        parts = stem.split(".")
        # An expiry is a Unix time: ASCII digits, a dozen at most. Anything else (thousands
        # of digits, digits of other scripts) is not ours and must not reach int().
        if len(parts) != 3 or not _EXPIRY.fullmatch(parts[1]):
            return 403, None
        key, expires_text, signature = parts
        expires = int(expires_text)
        # Bytes: compare_digest refuses str with characters beyond ASCII.
        given = signature.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self._sign(key, expires).encode()):
            return 403, None
        if expires < self._now():
            log.warning(
                "media: a link expired %.0f s ago was fetched; if Viber or Messenger fetch "
                "this late, raise the media TTL",
                self._now() - expires,
            )
            self._items.pop(key, None)
            return 404, None
        item = self._items.get(key)
        if item is None:
            log.warning("media: a valid link was fetched after its file left the store")
            return 404, None
        return 200, item.attachment

    async def serve(self, request: web.Request) -> web.Response:
        """The route handler of GET /media/{token}."""
        status, attachment = self.get(request.match_info["token"])
        if attachment is None:
            return web.Response(status=status)
        log.info("media: served %s (%d bytes)", attachment.mime_type, len(attachment.content))
        filename = attachment.filename.replace('"', "")
        return web.Response(
            body=attachment.content,
            content_type=attachment.mime_type,
            headers={
                "Content-Disposition": f'inline; filename="{filename}"',
                "Cache-Control": "private, max-age=3600",
                "X-Content-Type-Options": "nosniff",
            },
        )


def register_media_route(app: web.Application, channels: Iterable[object]) -> None:
    """Add GET /media/{token} when a channel serves media (Viber, Messenger)."""
    stores = {id(store): store for c in channels if (store := getattr(c, "media", None))}
    if not stores:
        return
    if len(stores) > 1:
        raise ValueError("channels must share one media store")
    (store,) = stores.values()
    if isinstance(store, MediaStore):
        app.router.add_get(MEDIA_PATH, store.serve)
