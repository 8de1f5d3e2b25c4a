"""Reading the QR codes in a picture: a certificate someone photographed or screenshotted.

Pure and CPU-bound: a few milliseconds for a screenshot, tens for a phone photo, up to about
half a second for a 48-megapixel photo whose QR code is small. Callers run it in a thread.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

import zxingcpp
from PIL import Image

from bot.domain.dcc.codec import PREFIX

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")  # JPEG includes the MPO files of some cameras
MAX_PIXELS = 50_000_000  # a 48-megapixel photo passes; a decompression bomb does not
# First pass at this size (fast, and enough unless the code is a small part of the frame),
# then at the size decoded: JPEGs are decoded at up to twice this side, the rest as they are.
WORKING_SIDE = 2048
_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
# What Pillow raises on damaged or truncated data (beyond its own UnidentifiedImageError).
_DECODE_ERRORS = (OSError, ValueError, EOFError, SyntaxError, struct.error)


class NotAnImage(ValueError):
    """The bytes are no PNG, JPEG or WebP picture that can be read."""


class ImageTooLarge(NotAnImage):
    """The picture has more than `MAX_PIXELS` pixels (or claims to: a decompression bomb)."""


def read_qr_texts(data: bytes) -> list[str]:
    """Decode every QR code in a PNG, JPEG or WebP picture.

    Args:
        data: The file's bytes.

    Returns:
        The texts of the QR codes found, in zxing's order; empty when there is none.

    Raises:
        ImageTooLarge: The picture has (or its header claims) more than `MAX_PIXELS` pixels.
        NotAnImage: The bytes are not a picture of an accepted format, or it is damaged.
    """
    image = _grayscale(_decode(data))
    for candidate in _passes(image):
        found = zxingcpp.read_barcodes(candidate, formats=_QR, text_mode=zxingcpp.TextMode.Plain)
        if found:
            return [barcode.text for barcode in found]
    return []


def certificate_text(texts: list[str]) -> str | None:
    """The text to verify among a picture's QR texts: the first ``HC1:`` one, else the first.

    Returns:
        None when there is no text at all.
    """
    return next((text for text in texts if text.startswith(PREFIX)), texts[0] if texts else None)


def _decode(data: bytes) -> Image.Image:
    """Open the picture, check its size from the header, then decode it.

    Raises:
        ImageTooLarge: Too many pixels.
        NotAnImage: Not an accepted format, or damaged.
    """
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge("the picture has too many pixels") from None
    except _DECODE_ERRORS:
        raise NotAnImage("not a PNG, JPEG or WebP picture") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageTooLarge(f"{width}x{height} pixels is more than {MAX_PIXELS}")
    # JPEG only (others ignore it): decode at 1/2, 1/4 or 1/8 scale, straight to grey.
    image.draft("L", _fit(image.size, 2 * WORKING_SIDE))
    try:
        image.load()
    except _DECODE_ERRORS:
        raise NotAnImage("the picture is damaged or incomplete") from None
    return image


def _grayscale(image: Image.Image) -> Image.Image:
    """The picture in 8-bit grey; a transparent background becomes white, as on paper."""
    if image.has_transparency_data:
        grey, alpha = image.convert("LA").split()
        return Image.composite(grey, Image.new("L", image.size, 255), alpha)
    return image if image.mode == "L" else image.convert("L")


def _passes(image: Image.Image) -> Iterator[Image.Image]:
    """The picture shrunk to `WORKING_SIDE` if larger, then as it is."""
    if max(image.size) > WORKING_SIDE:
        yield image.resize(_fit(image.size, WORKING_SIDE), Image.Resampling.BOX)
    yield image


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` scaled down so that its longer side is at most `side` (never scaled up)."""
    width, height = size
    scale = min(1.0, side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))
