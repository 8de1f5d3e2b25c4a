"""The public `/verify` page over HTTP: the form, pasted text, photos, refusals and JSON."""

from __future__ import annotations

import html
import io
import json
import re
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from ipaddress import ip_network

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from bot.app import Service
from bot.config import Settings
from bot.domain import certificate_issuing as certificates
from bot.domain import certificate_wording as wording
from bot.domain.dcc import Problem, sign_hc1, uvci, vaccination_payload
from bot.domain.dcc.keys import create_dsc
from bot.domain.qr_image import certificate_png, qr_png
from bot.i18n import use_locale
from bot.web.verify_page import CHECK_BURST, MAX_PHOTO
from storage.models import Certificate
from tests.conftest import Clock
from tests.test_cli_certificates import issue_certificate, tampered
from tests.webchat import content_security_policy


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A proxy on this machine tells the client's address (`TRUSTED_PROXIES=127.0.0.1`)."""
    return replace(settings, trusted_proxies=(ip_network("127.0.0.1"),))


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(svc.web_app)) as test_client:
        yield test_client


@pytest.fixture
async def certificate(svc: Service, clock: Clock) -> Certificate:
    return await issue_certificate(svc.db, svc.protector, svc.authority, now=clock())


def form(text: str = "", photo: bytes = b"", filename: str = "qr.png") -> FormData:
    """What a browser sends from the page: both fields, multipart, the file part maybe empty."""
    data = FormData(default_to_multipart=True)
    data.add_field("text", text)
    data.add_field(
        "photo", photo, filename=filename if photo else "", content_type="application/octet-stream"
    )
    return data


async def summary_of(svc: Service, text: str, clock: Clock, locale: str = "vi") -> str:
    """What the page should say of a valid certificate, as escaped on the page."""
    async with svc.db.read_scope() as session:
        verified = await certificates.check(session, svc.authority, text, now=clock())
    with use_locale(locale):
        return html.escape(wording.summary(verified))


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def problem_of(problem: Problem, locale: str = "vi") -> str:
    with use_locale(locale):
        return html.escape(wording.problem_text(problem))


# --- the form -----------------------------------------------------------------------------------


async def test_the_form_is_vietnamese_and_self_contained(client: TestClient) -> None:
    response = await client.get("/verify")
    page = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    assert '<html lang="vi">' in page and "$" not in page
    assert "<title>Kiểm tra giấy chứng nhận</title>" in page
    assert "Nội dung giấy chứng nhận (HC1:…)" in page and ">Kiểm tra</button>" in page
    assert 'enctype="multipart/form-data"' in page and 'action="/verify"' in page
    assert 'name="text"' in page and 'name="photo" type="file"' in page
    assert 'href="/verify?lang=en">English</a>' in page
    assert "http" not in page  # nothing is loaded from elsewhere
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert 'class="result' not in page


async def test_the_page_runs_no_inline_style_or_script(client: TestClient) -> None:
    # Issue 14 (bench.probes): the same strict policy as /chat; the style sheet is a file.
    response = await client.get("/verify")
    page = await response.text()
    policy = content_security_policy(response.headers)
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert policy["default-src"] == "'none'" and policy["style-src"] == "'self'"
    assert "script-src" not in policy and policy["frame-ancestors"] == "'none'"
    assert "<style" not in page and "<script" not in page
    assert not re.search(r"\s(style|on[a-z]+)=", page)
    (sheet,) = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page)
    css = await client.get(sheet)
    assert (css.status, css.content_type, css.charset) == (200, "text/css", "utf-8")
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    assert ".result" in await css.text()


async def test_the_form_in_english(client: TestClient) -> None:
    page = await (await client.get("/verify?lang=en")).text()
    assert '<html lang="en">' in page and "<title>Check a certificate</title>" in page
    assert 'action="/verify?lang=en"' in page and ">Tiếng Việt</a>" in page
    chat_language = await client.get("/verify", cookies={"chat_lang": "en"})
    assert '<html lang="en">' in await chat_language.text()


# --- checking -----------------------------------------------------------------------------------


async def test_pasted_valid_certificate(
    client: TestClient, svc: Service, clock: Clock, certificate: Certificate
) -> None:
    response = await client.post("/verify", data=form(certificate.hc1))
    page = await response.text()
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert '<section class="result valid" role="status">' in page
    assert "<h2>Giấy chứng nhận hợp lệ</h2>" in page
    assert await summary_of(svc, certificate.hc1, clock) in page
    assert "Nguyễn Văn An" in page


async def test_pasted_text_in_an_urlencoded_form(
    client: TestClient, svc: Service, clock: Clock, certificate: Certificate
) -> None:
    response = await client.post("/verify?lang=en", data={"text": f"  {certificate.hc1}\n"})
    page = await response.text()
    assert response.status == 200 and '<html lang="en">' in page
    assert await summary_of(svc, certificate.hc1, clock, "en") in page


async def test_forged_certificates_are_not_valid(
    client: TestClient, clock: Clock, certificate: Certificate
) -> None:
    changed = await (await client.post("/verify", data=form(tampered(certificate.hc1)))).text()
    assert '<section class="result invalid" role="status">' in changed
    assert "<h2>Không hợp lệ</h2>" in changed
    assert problem_of(Problem.SIGNATURE) in changed

    stranger = create_dsc(now=clock() - timedelta(days=1))
    payload = vaccination_payload(
        family_name="Nguyễn",
        given_name="Văn An",
        dob="1990-03-01",
        vaccine_type="1119349007",
        product="EU/1/20/1528",
        manufacturer="ORG-100030215",
        dose_number=1,
        total_doses=2,
        vaccinated_on=clock().date(),
        issuer="Someone else",
        certificate_id=uvci(),
    )
    forged = sign_hc1(payload, stranger.key, stranger.cert, "VN", clock(), clock() + timedelta(1))
    unknown = await (await client.post("/verify", data=form(forged))).text()
    assert problem_of(Problem.KID_UNKNOWN) in unknown and "Nguyễn" not in unknown


async def test_a_revoked_certificate_is_not_valid(
    client: TestClient, svc: Service, clock: Clock, certificate: Certificate
) -> None:
    async with svc.db.session_scope() as session:
        await certificates.revoke(
            session, certificate.uvci, reason="issued in error", actor="test", now=clock()
        )
    response = await client.post("/verify?format=json", data=form(certificate.hc1))
    with use_locale("vi"):
        message = wording.problem_text(Problem.REVOKED)
    assert response.status == 200
    assert await response.json() == {"valid": False, "reason": "revoked", "message": message}


async def test_a_photo_of_the_code(
    client: TestClient, svc: Service, clock: Clock, certificate: Certificate
) -> None:
    picture = Image.open(io.BytesIO(certificate_png(certificate.hc1))).convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    expected = await summary_of(svc, certificate.hc1, clock)
    for photo, name in (
        (certificate_png(certificate.hc1), "qr.png"),
        (buffer.getvalue(), "a.jpg"),
    ):
        response = await client.post("/verify", data=form(photo=photo, filename=name))
        page = await response.text()
        assert response.status == 200 and 'class="result valid"' in page
        assert expected in page


async def test_the_name_on_a_certificate_is_escaped(
    client: TestClient, svc: Service, clock: Clock
) -> None:
    certificate = await issue_certificate(
        svc.db, svc.protector, svc.authority, now=clock(), name="Nguyễn <script>alert(1)</script>"
    )
    page = await (await client.post("/verify", data=form(certificate.hc1))).text()
    assert 'class="result valid"' in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("photo", "status", "message"),
    [
        (
            b"%PDF-1.7 not a picture",
            422,
            "Không đọc được tệp này. Vui lòng gửi ảnh chụp hoặc ảnh màn hình (PNG, JPEG hoặc "
            "WebP).",
        ),
        (
            b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!",
            422,
            "Không đọc được tệp này. Vui lòng gửi ảnh chụp hoặc ảnh màn hình (PNG, JPEG hoặc "
            "WebP).",
        ),
        (
            b"",
            400,
            "Vui lòng dán nội dung giấy chứng nhận hoặc chọn ảnh chụp mã QR của giấy chứng nhận.",
        ),
    ],
    ids=["pdf", "gif", "nothing"],
)
async def test_what_cannot_be_checked_is_explained(
    client: TestClient, photo: bytes, status: int, message: str
) -> None:
    response = await client.post("/verify", data=form(photo=photo))
    page = await response.text()
    assert response.status == status
    assert '<section class="result refused" role="status">' in page
    assert "<h2>Không kiểm tra được</h2>" in page and html.escape(message) in page


async def test_a_photo_without_a_code(client: TestClient) -> None:
    white = io.BytesIO()
    Image.new("RGB", (640, 480), "white").save(white, "PNG")
    response = await client.post("/verify", data=form(photo=white.getvalue()))
    assert response.status == 422
    assert (
        html.escape(
            "Không tìm thấy mã QR trong ảnh. Vui lòng chụp rõ nét toàn bộ mã, đủ ánh sáng, "
            "hoặc dán nội dung của mã."
        )
        in await response.text()
    )


async def test_a_photo_over_the_limit_is_refused_but_within_it_is_read(
    client: TestClient, certificate: Certificate
) -> None:
    too_big = await client.post(
        "/verify?format=json", data=form(photo=b"\xff" * (MAX_PHOTO + 1), filename="big.jpg")
    )
    assert too_big.status == 413
    assert (await too_big.json())["reason"] == "too_large"
    # A large but allowed upload (more than the 256 KB of other routes): a PNG padded with a
    # private chunk, which readers skip.
    png = certificate_png(certificate.hc1)
    padded = png[:-12] + chunk(b"prIv", b"\0" * (1024 * 1024)) + png[-12:]
    response = await client.post("/verify?format=json", data=form(photo=padded))
    assert response.status == 200 and (await response.json())["valid"] is True


async def test_bodies_other_than_a_photo_keep_the_small_limit(client: TestClient) -> None:
    urlencoded = await client.post("/verify?format=json", data={"text": "x" * (300 * 1024)})
    assert (urlencoded.status, (await urlencoded.json())["reason"]) == (413, "too_large")
    text_too_long = await client.post("/verify?format=json", data={"text": "HC1:" + "A" * 9000})
    assert (text_too_long.status, (await text_too_long.json())["reason"]) == (413, "too_large")


async def test_checks_are_rate_limited_per_client(client: TestClient) -> None:
    first = {"X-Forwarded-For": "203.0.113.7"}
    for _ in range(CHECK_BURST):
        assert (await client.post("/verify", data={"text": "HC1:X"}, headers=first)).status == 200
    refused = await client.post("/verify", data={"text": "HC1:X"}, headers=first)
    assert refused.status == 429
    assert (
        html.escape(
            "Bạn đã kiểm tra quá nhiều lần trong thời gian ngắn. "
            "Vui lòng chờ một phút rồi thử lại."
        )
        in await refused.text()
    )
    other = {"X-Forwarded-For": "203.0.113.7, 198.51.100.20"}  # the proxy appends the client
    assert (await client.post("/verify", data={"text": "HC1:X"}, headers=other)).status == 200


# --- machines -----------------------------------------------------------------------------------


async def test_json_answers(
    client: TestClient, svc: Service, clock: Clock, certificate: Certificate
) -> None:
    accept = {"Accept": "application/json"}
    valid = await client.post("/verify", json={"text": certificate.hc1}, headers=accept)
    answer = await valid.json()
    assert valid.status == 200 and valid.headers["Cache-Control"] == "no-store"
    assert answer["valid"] is True and answer["type"] == "vaccination"
    assert answer["hcert"]["nam"]["fn"] == "Nguyễn"
    assert answer["hcert"]["v"][0]["ci"] == certificate.uvci
    assert html.escape(answer["message"]) == await summary_of(svc, certificate.hc1, clock)

    forged = await client.post("/verify?format=json", data=form(tampered(certificate.hc1)))
    assert (await forged.json())["reason"] == "signature"
    photo = await client.post("/verify?format=json", data=form(photo=qr_png("BK-7Q2M")))
    assert (photo.status, (await photo.json())["reason"]) == (200, "prefix")
    empty = await client.post("/verify", json={"text": 7}, headers=accept)
    assert (empty.status, await empty.json()) == (
        400,
        {
            "valid": False,
            "reason": "empty",
            "message": "Vui lòng dán nội dung giấy chứng nhận hoặc chọn ảnh chụp mã QR của "
            "giấy chứng nhận.",
        },
    )
    broken = await client.post(
        "/verify", data=b"{not json", headers={**accept, "Content-Type": "application/json"}
    )
    assert (broken.status, (await broken.json())["reason"]) == (400, "empty")
    english = await client.post("/verify?format=json&lang=en", data={"text": ""})
    assert (await english.json())["message"] == (
        "Please paste the certificate's text or choose a photo of its QR code."
    )
    assert json.loads(await english.text())  # plain JSON, no HTML


async def test_a_broken_multipart_body_is_refused_kindly(client: TestClient) -> None:
    response = await client.post(
        "/verify?format=json",
        data=b"--elsewhere\r\nnot a part at all",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert (response.status, (await response.json())["reason"]) == (400, "empty")
