"""Reading QR codes from pictures: the EU test suite's codes, Vietnam's sample, what is refused."""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from bot.domain.dcc.qr_reader import (
    MAX_PIXELS,
    ImageTooLarge,
    NotAnImage,
    certificate_text,
    read_qr_texts,
)
from bot.domain.qr_image import certificate_png, qr_png
from tests.dcc_data import DATA

VN_SAMPLE = DATA / "dcc-quality-assurance" / "VN" / "1.3.0" / "VAC_VN.png"
PICTURES = sorted(
    path
    for path in DATA.rglob("*.json")
    if "2DCode" in path.parts and "2DCODE" in json.loads(path.read_text(encoding="utf-8"))
)
TEXT = "HC1:" + "6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N" * 12


def _case(path: Path) -> tuple[bytes, str | None, bool | None]:
    case = json.loads(path.read_text(encoding="utf-8"))
    expected = case.get("EXPECTEDRESULTS", {}).get("EXPECTEDPICTUREDECODE")
    return base64.b64decode(case["2DCODE"]), case.get("PREFIX"), expected


def _encoded(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` grey pixels but holds (almost) no data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


def test_the_suite_has_pictures() -> None:
    assert len(PICTURES) > 70


@pytest.mark.parametrize("path", PICTURES, ids=lambda path: str(path.relative_to(DATA)))
def test_eu_test_suite_pictures_read_as_their_prefix_text(path: Path) -> None:
    picture, prefix, expected = _case(path)
    if expected is False:  # the broken-QR case: not even a picture
        with pytest.raises(NotAnImage):
            read_qr_texts(picture)
    else:
        assert read_qr_texts(picture) == [prefix]


def test_vietnam_sample_reads_as_a_certificate_text() -> None:
    texts = read_qr_texts(VN_SAMPLE.read_bytes())  # a JPEG, whatever its name says
    assert len(texts) == 1 and texts[0].startswith("HC1:NCF")
    assert certificate_text(texts) == texts[0]


@pytest.mark.parametrize("format", ["PNG", "JPEG", "WEBP"])
def test_our_own_certificate_picture_reads_back_in_each_format(format: str) -> None:
    picture = Image.open(io.BytesIO(certificate_png(TEXT))).convert("RGB")
    assert read_qr_texts(_encoded(picture, format, quality=90)) == [TEXT]


def test_a_small_code_in_a_large_photo_is_found() -> None:
    """Like a phone photo of a screen: the code is a tenth of the frame, rotated, on grey."""
    code = Image.open(io.BytesIO(certificate_png(TEXT))).convert("L").resize((560, 560))
    photo = Image.new("L", (6000, 4500), 150)
    photo.paste(code, (2500, 1800))
    photo = photo.rotate(8, fillcolor=150)
    assert read_qr_texts(_encoded(photo, "JPEG", quality=85)) == [TEXT]


def test_a_transparent_background_reads_as_paper() -> None:
    code = Image.open(io.BytesIO(certificate_png(TEXT))).convert("L")
    clear = Image.new("LA", code.size, (0, 0))  # transparent black everywhere...
    clear.putalpha(code.point(lambda value: 255 - value))  # ...opaque where the modules are
    assert read_qr_texts(_encoded(clear, "PNG")) == [TEXT]


def test_every_code_of_a_picture_is_read_and_the_certificate_comes_first() -> None:
    booking, certificate = (
        Image.open(io.BytesIO(png)).convert("L") for png in (qr_png("BK-7Q2M"), qr_png(TEXT))
    )
    sheet = Image.new("L", (booking.width + certificate.width + 40, certificate.height), 255)
    sheet.paste(booking, (0, 0))
    sheet.paste(certificate, (booking.width + 40, 0))
    texts = read_qr_texts(_encoded(sheet, "PNG"))
    assert sorted(texts) == sorted(["BK-7Q2M", TEXT])
    assert certificate_text(texts) == TEXT
    assert certificate_text(["BK-7Q2M"]) == "BK-7Q2M"
    assert certificate_text([]) is None


def test_noise_has_no_code() -> None:
    rng = random.Random(7)
    noise = Image.frombytes("L", (400, 300), bytes(rng.randrange(256) for _ in range(400 * 300)))
    ImageDraw.Draw(noise).rectangle((50, 50, 120, 120), fill=0)
    assert read_qr_texts(_encoded(noise, "PNG")) == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!",  # a format not accepted
    ],
    ids=["empty", "text", "pdf", "gif"],
)
def test_what_is_not_a_picture_is_refused(data: bytes) -> None:
    with pytest.raises(NotAnImage) as refused:
        read_qr_texts(data)
    assert not isinstance(refused.value, ImageTooLarge)


def test_a_truncated_picture_is_refused() -> None:
    picture = certificate_png(TEXT)
    with pytest.raises(NotAnImage):
        read_qr_texts(picture[: len(picture) // 2])


@pytest.mark.parametrize(
    ("width", "height"),
    [(8_000, 7_000), (10_000, 10_000), (50_000, 50_000)],
    ids=["over-our-cap", "over-pillow-warning", "over-pillow-error"],
)
def test_a_decompression_bomb_is_refused_from_its_header(width: int, height: int) -> None:
    assert width * height > MAX_PIXELS
    with pytest.raises(ImageTooLarge):
        read_qr_texts(_png_header(width, height))
