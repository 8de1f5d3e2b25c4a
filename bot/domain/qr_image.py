"""QR images for the chat: booking codes, personal sampling tokens and signed certificates."""

from __future__ import annotations

import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M, ERROR_CORRECT_Q
from qrcode.image.pure import PyPNGImage


def qr_png(text: str, *, box_size: int = 10, error_correction: int = ERROR_CORRECT_M) -> bytes:
    """A PNG QR symbol of `text`; error correction M by default (reads from a cracked screen).

    Pure Python (pypng): a few milliseconds for the short texts of codes and tokens.
    """
    image = qrcode.make(
        text,
        image_factory=PyPNGImage,
        error_correction=error_correction,
        box_size=box_size,
        border=4,
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def certificate_png(text: str) -> bytes:
    """The QR picture of a signed certificate ("HC1:..."), error correction Q as the EU DCC asks.

    About 60 ms of pure Python for a certificate's 500-600 characters, so it is rendered once
    per certificate (`bot.workers.renderer.Renderer`), never per view.
    """
    return qr_png(text, box_size=6, error_correction=ERROR_CORRECT_Q)
