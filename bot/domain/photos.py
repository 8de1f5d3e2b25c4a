"""Photos citizens send: fetched from the platform and read for QR codes before the event runs.

Downloading and decoding take time (network, tens of milliseconds of CPU), so they happen
before the event's transaction and outside the chat's lock; the handler then only verifies
what was read (`bot.handlers.certificates.check_photo`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from enum import StrEnum
from typing import Protocol

from bot.channels import TemporaryFailure
from bot.domain.dcc.qr_reader import ImageTooLarge, NotAnImage, read_qr_texts
from bot.messages import Incoming, Kind

log = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 10 * 1024 * 1024  # Telegram's photos are a few hundred kB; documents more
DECODES_AT_ONCE = 2


class PhotoStatus(StrEnum):
    """What became of a photo before its handler ran."""

    READ = "read"  # decoded; `Incoming.photo_texts` holds the QR codes found (maybe none)
    UNAVAILABLE = "unavailable"  # the platform could not give us the file right now
    NOT_AN_IMAGE = "not_an_image"
    TOO_BIG = "too_big"


class FetchFile(Protocol):
    """A channel's download of a file a user sent (see `TelegramChannel.fetch_file`)."""

    def __call__(self, file_id: str, *, max_bytes: int) -> Awaitable[bytes | None]:
        """The file's bytes, or None when it is larger than `max_bytes`."""
        ...


class PhotoReader:
    """Reads the photos of incoming updates, per channel."""

    def __init__(self, fetchers: Mapping[str, FetchFile]) -> None:
        self._fetchers = dict(fetchers)
        # A phone photo takes tens of megabytes and of milliseconds to decode: two at a time.
        self._decoding = asyncio.Semaphore(DECODES_AT_ONCE)

    async def read_all(self, msgs: Sequence[Incoming]) -> list[Incoming]:
        """`msgs` with every photo read (other updates as they are)."""
        if not any(msg.kind == Kind.PHOTO for msg in msgs):
            return list(msgs)
        return list(await asyncio.gather(*(self.read(msg) for msg in msgs)))

    async def read(self, msg: Incoming) -> Incoming:
        """The update with `photo_status`, `photo_texts` and `photo_bytes` filled in, if a photo.

        Never raises: a photo that could not be read is answered as such, and the updates
        that came with it are handled all the same.
        """
        if msg.kind != Kind.PHOTO or not msg.photo_file_id:
            return msg
        try:
            return await self._read(msg)
        except Exception:
            log.exception("reading a photo from %s failed", msg.chat.channel)
            return replace(msg, photo_status=PhotoStatus.UNAVAILABLE)

    async def _read(self, msg: Incoming) -> Incoming:
        assert msg.photo_file_id is not None
        fetch = self._fetchers.get(msg.chat.channel)
        if fetch is None:
            return replace(msg, photo_status=PhotoStatus.UNAVAILABLE)
        try:
            data = await fetch(msg.photo_file_id, max_bytes=MAX_PHOTO_BYTES)
        except TemporaryFailure as error:
            log.warning("could not fetch a photo from %s: %s", msg.chat.channel, error)
            return replace(msg, photo_status=PhotoStatus.UNAVAILABLE)
        if data is None:
            return replace(msg, photo_status=PhotoStatus.TOO_BIG)
        try:
            async with self._decoding:
                texts = await asyncio.to_thread(read_qr_texts, data)
        except ImageTooLarge:
            return replace(msg, photo_status=PhotoStatus.TOO_BIG)
        except NotAnImage:
            return replace(msg, photo_status=PhotoStatus.NOT_AN_IMAGE)
        return replace(
            msg, photo_status=PhotoStatus.READ, photo_texts=tuple(texts), photo_bytes=data
        )
