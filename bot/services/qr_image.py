"""QR images for the chat: booking codes, personal sampling tokens (and later certificates)."""

from __future__ import annotations

import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pure import PyPNGImage


def qr_png(text: str, *, box_size: int = 10) -> bytes:
    """A PNG QR symbol of `text`, error correction M (still reads from a cracked phone screen).

    Pure Python (pypng): a few milliseconds for the short texts of codes and tokens.
    """
    image = qrcode.make(
        text,
        image_factory=PyPNGImage,
        error_correction=ERROR_CORRECT_M,
        box_size=box_size,
        border=4,
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
