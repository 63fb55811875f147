"""The photo metadata port in memory."""

from __future__ import annotations

from datetime import datetime

from core.ports import AbstractPhotoRepository
from tests.fakes.data import FakeRepo


class FakePhotos(FakeRepo, AbstractPhotoRepository):
    async def add(
        self,
        sha256: str,
        size: int,
        content_type: str,
        storage_ref: str,
        at: datetime,
        retain_until: datetime | None,
    ) -> int:
        photo_id = self.data.next_id()
        self.data.photos[photo_id] = (sha256, size, content_type, storage_ref)
        return photo_id
