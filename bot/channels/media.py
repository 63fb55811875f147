"""`GET /media/{token}`: images and PDFs that Viber and Messenger fetch by URL.

Telegram takes uploads; Viber and Messenger only take a URL and fetch it themselves, without
cookies, from whichever replica the proxy picks. So the files are kept where every replica
reads them (`AbstractMediaFiles`: the database, wired by the composition root), bounded in
count and bytes, under a key that is random (unguessable); the token carries the key, its
expiry and a signature with MEDIA_SECRET (HMAC-SHA256, the same on every replica), so a
forged or altered token is refused before the store is even looked at. The token ends with
the file's extension: Viber wants the extension as the last path segment of a picture.

Rendering a reply names its files (`url_for`, no I/O); the adapter stores them (`save`)
before it sends the messages that point at them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from aiohttp import web

from bot.messages import Attachment
from core.model import MediaFile
from core.ports import AbstractMediaFiles

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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _instant(unix_time: float) -> datetime:
    return datetime.fromtimestamp(unix_time, UTC)


class LocalMediaFiles(AbstractMediaFiles):
    """Media files in this process's memory, the oldest dropped beyond the caps: for a
    store built without a database (unit tests); behind replicas it would 404."""

    def __init__(
        self, *, max_items: int = DEFAULT_MAX_ITEMS, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[MediaFile, datetime]] = OrderedDict()
        self._bytes = 0

    async def put(
        self, key: str, file: MediaFile, created_at: datetime, expires_at: datetime
    ) -> None:
        """Keep the file; drop the oldest beyond either cap."""
        self._items[key] = (file, expires_at)
        self._bytes += len(file.content)
        while self._items and (len(self._items) > self._max_items or self._bytes > self._max_bytes):
            _, (dropped, _) = self._items.popitem(last=False)
            self._bytes -= len(dropped.content)

    async def get(self, key: str, now: datetime) -> MediaFile | None:
        """The file, unless it expired or was dropped."""
        found = self._items.get(key)
        if found is None or found[1] < now:
            return None
        return found[0]


class MediaStore:
    """Attachments by signed, expiring token: `url_for` names one, `save` stores what was
    named, `serve` answers GET /media/{token}."""

    def __init__(
        self,
        secret: bytes,
        public_base_url: str,
        *,
        files: AbstractMediaFiles | None = None,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        max_items: int = DEFAULT_MAX_ITEMS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        now: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("the media secret is empty")
        self._secret = secret
        self.public_base_url = public_base_url.rstrip("/")
        self._files = files or LocalMediaFiles(max_items=max_items, max_bytes=max_bytes)
        self._ttl = ttl_seconds
        self._now = now
        # Named by `url_for` and not stored yet; `save` stores them under the lock, so a
        # caller that finds nothing left to store knows another caller's write has ended.
        self._unsaved: list[tuple[str, MediaFile, int]] = []
        self._saving = asyncio.Lock()

    @classmethod
    def from_settings(
        cls,
        media_secret: str | None,
        public_base_url: str | None,
        *,
        files: AbstractMediaFiles | None = None,
        fallback_secret: str | None = None,
    ) -> MediaStore:
        """The store as configured. Without MEDIA_SECRET the key is derived from
        `fallback_secret` (a channel secret every replica has), else random for this
        process (logged: another replica would refuse its URLs)."""
        if not public_base_url:
            log.error("media: PUBLIC_BASE_URL is unset: Viber and Messenger cannot fetch images")
        if media_secret:
            secret = media_secret.encode()
        elif fallback_secret:
            secret = hmac.new(fallback_secret.encode(), b"kabinet media", hashlib.sha256).digest()
        else:
            log.warning("media: MEDIA_SECRET unset, using a random secret for this process")
            secret = secrets.token_bytes(32)
        return cls(secret, public_base_url or "http://127.0.0.1", files=files)

    def _sign(self, key: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{key}.{expires}".encode(), hashlib.sha256).digest()
        return _b64(mac[:20])

    def put(self, attachment: Attachment) -> str:
        """Name the attachment (stored at the next `save`); its token (no URL)."""
        key = _b64(secrets.token_bytes(16))
        expires = int(self._now()) + self._ttl
        extension = _EXTENSIONS.get(attachment.mime_type, "")
        token = f"{key}.{expires}.{self._sign(key, expires)}{extension}"
        file = MediaFile(attachment.filename, attachment.content, attachment.mime_type)
        self._unsaved.append((key, file, expires))
        return token

    def url_for(self, attachment: Attachment) -> str:
        """Name the attachment and return the public URL that will serve it once saved."""
        return f"{self.public_base_url}/media/{self.put(attachment)}"

    async def save(self) -> None:
        """Store every attachment named so far; call before sending messages with their URLs."""
        if not self._unsaved and not self._saving.locked():
            return
        async with self._saving:
            while self._unsaved:
                key, file, expires = self._unsaved.pop(0)
                created = _instant(self._now())
                await self._files.put(key, file, created, _instant(expires))

    async def get(self, token: str) -> tuple[int, Attachment | None]:
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
        now = self._now()
        if expires < now:
            log.warning(
                "media: a link expired %.0f s ago was fetched; if Viber or Messenger fetch "
                "this late, raise the media TTL",
                now - expires,
            )
            return 404, None
        file = await self._files.get(key, _instant(now))
        if file is None:
            log.warning("media: a valid link was fetched after its file left the store")
            return 404, None
        return 200, Attachment(file.filename, file.content, file.mime_type)

    async def serve(self, request: web.Request) -> web.Response:
        """The route handler of GET /media/{token}."""
        status, attachment = await self.get(request.match_info["token"])
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
