"""Signed certificates in the chat, over the Telegram emulator.

A dose recorded → a vaccination certificate photo (rendered once); /chungnhan lists and re-sends
by file id; expiry → renewal with a new UVCI; revocation; a negative result → a test
certificate on request; photos of certificates (valid, forged, unknown signer, revoked) and of
other things sent to the bot.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import random
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Service, build_service, running
from bot.config import DEFAULT_DCC_ISSUER, ConfigError, Settings
from bot.domain import certificate_issuing as certificates
from bot.domain import results
from bot.domain.dcc import DccInvalid, Problem
from bot.domain.dcc.codec import PREFIX, b45decode, b45encode, compress, decompress
from bot.domain.dcc.issue import sign_hc1, uvci_is_valid
from bot.domain.dcc.keys import create_dsc
from bot.domain.dcc.qr_reader import read_qr_texts
from bot.domain.dcc.trust import VALUE_SETS_DIR
from bot.domain.doses import DoseEntry, record_dose
from bot.domain.qr_image import certificate_png, qr_png
from bot.domain.vaccines import PRODUCTS, series_total
from bot.i18n import TIMEZONE, format_day, local_day, use_locale
from bot.workers.renderer import Renderer
from storage import accounts, people
from storage.models import (
    Certificate,
    MediaFile,
    OutboxMessage,
    Person,
    Sample,
    SampleMember,
    Site,
    Vaccination,
)
from tests.chat import Message, consent, labels, press, say, say_all
from tests.conftest import Clock
from tests.dcc_data import DATA
from tests.fakes.telegram_api import TelegramEmulator
from tests.quiet import quiet

CHAT = 601
UVCI = re.compile(r"^URN:UVCI:01:VN:[A-Z0-9]{26}#[A-Z0-9/:]$")


@pytest.fixture
async def service(telegram_settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    settings = replace(telegram_settings, chat_rate_per_s=100.0, chat_burst=100)
    svc = build_service(settings, clock=clock)
    async with running(svc):
        yield svc


async def register(
    service: Service,
    chat: int | str,
    name: str,
    born: date = date(1990, 1, 2),
    number: str = "",
    *,
    channel: str = "telegram",
) -> int:
    """A person on the chat's account, as the registration form leaves them."""
    number = number or f"0790900{random.randrange(10**5):05d}"
    protector = service.protector
    async with service.db.session_scope() as session:
        loaded = await accounts.load_chat(session, channel=channel, chat_id=str(chat))
        assert loaded is not None
        person = await people.add_person(
            session,
            Person(
                account_id=loaded[0].id,
                full_name=name,
                birth_date=born,
                gender="female",
                id_sealed=protector.seal(number),
                id_index=protector.blind_index("id", number),
                province_code=79,
                ward_code=26743,
                divisions_version="test",
                priority_group="",
                created_at=service.clock(),
            ),
        )
        return person.id


async def without_account(session: AsyncSession, name: str) -> int:
    """A person on no account (as after an erasure): their certificates go to nobody."""
    person = Person(
        full_name=name,
        birth_date=date(1980, 3, 4),
        gender="male",
        id_sealed=b"x",
        id_index=f"index-{name}",
        province_code=79,
        ward_code=26743,
        divisions_version="test",
        priority_group="",
    )
    session.add(person)
    await session.flush()
    return person.id


async def give_dose(
    service: Service, person_id: int, number: int = 1, product: str = "pfizer"
) -> None:
    async with service.db.session_scope() as session:
        person = await session.get(Person, person_id)
        assert person is not None
        given = service.clock().astimezone(TIMEZONE).date()
        await record_dose(
            session,
            DoseEntry(person, number, product, f"LOT{number}", given, None),
            source="chat",
            actor="test",
            staff_id=None,
            site_name=None,
            authority=service.authority,
            now=service.clock(),
        )
    service.renderer.wake()


def photos(emulator: TelegramEmulator, chat: int = CHAT) -> list[Message]:
    return [m for m in emulator.sent(chat) if m["method"] == "sendPhoto"]


async def wait_photos(emulator: TelegramEmulator, count: int, chat: int = CHAT) -> list[Message]:
    await emulator.wait_until(lambda: len(photos(emulator, chat)) >= count)
    return photos(emulator, chat)


async def cached_file_id(service: Service, other_than: str | None = None) -> str | None:
    """The file id the sender remembered (it writes outcomes just after the send)."""
    await quiet(service)
    async with service.db.read_scope() as session:
        found = await session.scalar(select(MediaFile.file_id))
    return found if found != other_than else None


async def stored(service: Service) -> list[Certificate]:
    async with service.db.read_scope() as session:
        return list((await session.scalars(select(Certificate).order_by(Certificate.id))).all())


async def send_photo(emulator: TelegramEmulator, data: bytes, chat: int = CHAT) -> str:
    before = len(emulator.sent(chat))
    emulator.user_photo(chat, data)
    return str((await emulator.wait_for_sent(chat, before + 1))[-1]["text"])


# ---------------------------------------------------------------- issuing


async def test_a_recorded_dose_brings_a_signed_certificate_photo(
    service: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    await consent(emulator, CHAT)
    person_id = await register(service, CHAT, "Đặng Thị Ánh Nguyệt")
    await give_dose(service, person_id)
    (photo,) = await wait_photos(emulator, 1)
    today = clock().astimezone(TIMEZONE).date()
    with use_locale("vi"):
        given = format_day(today)
        until = format_day((clock() + timedelta(days=365)).astimezone(TIMEZONE).date())
    assert photo["caption"].startswith(
        "Chứng nhận tiêm chủng COVID-19 của Đặng Thị Ánh Nguyệt: mũi 1/2, "
        f"Pfizer-BioNTech (Comirnaty), tiêm ngày {given}. Có giá trị đến {until}."
    )
    assert labels(photo) == ["Giấy chứng nhận của tôi"]

    (certificate,) = await stored(service)
    (text,) = read_qr_texts(photo["photo_bytes"])  # what any phone's reader sees
    assert text == certificate.hc1 and text.startswith("HC1:")
    async with service.db.read_scope() as session:
        verified = await certificates.check(session, service.authority, text, now=clock())
    assert verified.hcert == certificate.payload
    assert verified.hcert["nam"] == {
        "fn": "Đặng",
        "fnt": "DANG",
        "gn": "Thị Ánh Nguyệt",
        "gnt": "THI<ANH<NGUYET",
    }
    assert verified.hcert["dob"] == "1990-01-02" and verified.hcert["ver"] == "1.3.0"
    (entry,) = verified.hcert["v"]
    assert {k: v for k, v in entry.items() if k != "ci"} == {
        "tg": "840539006",
        "vp": "1119349007",
        "mp": "EU/1/20/1528",
        "ma": "ORG-100030215",
        "dn": 1,
        "sd": 2,
        "dt": today.isoformat(),
        "co": "VN",
        "is": DEFAULT_DCC_ISSUER,
    }
    assert (
        UVCI.match(entry["ci"]) and uvci_is_valid(entry["ci"]) and entry["ci"] == certificate.uvci
    )
    assert verified.iss == "VN"
    assert verified.exp is not None and verified.iat is not None
    assert verified.exp - verified.iat == timedelta(days=365)
    der = service.authority.signer.cert.public_bytes(Encoding.DER)
    assert verified.kid == hashlib.sha256(der).digest()[:8]


async def test_relatives_get_their_own_certificates_in_the_account_chat(
    service: Service, emulator: TelegramEmulator
) -> None:
    await consent(emulator, CHAT)
    mother = await register(service, CHAT, "Nguyễn Thị Đào", date(1960, 5, 1))
    son = await register(service, CHAT, "Trần Văn Ơn", date(2001, 7, 9))
    await give_dose(service, mother, 1, "janssen")
    await give_dose(service, son, 1, "verocell")
    sent = await wait_photos(emulator, 2)
    captions = sorted(m["caption"] for m in sent)
    assert "Nguyễn Thị Đào: mũi 1/1, Janssen" in captions[0]
    assert "Trần Văn Ơn: mũi 1/2, Sinopharm (Vero Cell)" in captions[1]
    listed = await say(emulator, CHAT, "/chungnhan")
    assert "Nguyễn Thị Đào: tiêm chủng, mũi 1/1, Janssen" in listed["text"]
    assert "Trần Văn Ơn: tiêm chủng, mũi 1/2, Sinopharm (Vero Cell)" in listed["text"]
    assert labels(listed) == ["Gửi lại: 1", "Gửi lại: 2"]


async def test_sending_again_reuses_the_platforms_file_id(
    service: Service, emulator: TelegramEmulator
) -> None:
    await consent(emulator, CHAT)
    await give_dose(service, await register(service, CHAT, "Lê Văn Tám"))
    (first,) = await wait_photos(emulator, 1)
    assert first["photo_bytes"]  # the first send uploads the picture
    cached = await cached_file_id(service)
    assert cached

    listed = await say(emulator, CHAT, "gcn")  # shorthand for /chungnhan
    again = await press(emulator, CHAT, listed, "Gửi lại: 1")
    assert again["method"] == "sendPhoto" and again["photo_bytes"] is None
    assert again["params"]["photo"] == cached  # by reference: no render, no upload
    assert again["caption"] == first["caption"]
    assert len(await stored(service)) == 1

    # Telegram forgot the id (a new bot token, say): the stored picture is uploaded again.
    async with service.db.session_scope() as session:
        await session.execute(update(MediaFile).values(file_id="no-such-file-id"))
    listed = await say(emulator, CHAT, "/chungnhan")
    again = await press(emulator, CHAT, listed, "Gửi lại: 1")
    assert again["photo_bytes"] == first["photo_bytes"]
    renewed = await cached_file_id(service, other_than="no-such-file-id")
    assert renewed != cached


async def test_an_expired_certificate_is_renewed_with_a_new_uvci(
    service: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    await consent(emulator, CHAT)
    await give_dose(service, await register(service, CHAT, "Phạm Minh Đức"))
    await wait_photos(emulator, 1)
    clock.advance(timedelta(days=364))
    service.renderer.wake()
    await quiet(service, emulator)
    assert len(photos(emulator)) == 1  # not yet expired: nothing happens
    clock.advance(timedelta(days=2))
    # Opening the list renews at once (the hourly sweep may get there first: once either way).
    listed = await say(emulator, CHAT, "/chungnhan")
    assert listed["text"].count("Phạm Minh Đức") == 1 and "hết hạn" not in listed["text"]
    sent = await wait_photos(emulator, 2)
    assert sent[1]["caption"].startswith(
        "Giấy chứng nhận trước đã hết hạn, đây là giấy chứng nhận mới. "
        "Chứng nhận tiêm chủng COVID-19 của Phạm Minh Đức: mũi 1/2"
    )
    old, new = await stored(service)
    assert old.replaced_at is not None and new.replaces_id == old.id
    assert new.uvci != old.uvci and new.expires_at > clock() + timedelta(days=364)
    listed = await say(emulator, CHAT, "/chungnhan")
    assert listed["text"].count("Phạm Minh Đức") == 1 and "còn giá trị đến" in listed["text"]
    async with service.db.read_scope() as session:
        with pytest.raises(DccInvalid) as expired:
            await certificates.check(session, service.authority, old.hc1, now=clock())
        assert expired.value.reason == Problem.EXPIRED
        await certificates.check(session, service.authority, new.hc1, now=clock())
    await quiet(service, emulator)
    assert len(photos(emulator)) == 2  # renewed once, not once per sweep


async def test_a_revoked_certificate_is_reported_revoked(
    service: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    await consent(emulator, CHAT)
    await give_dose(service, await register(service, CHAT, "Hoàng Thị Yến"))
    (photo,) = await wait_photos(emulator, 1)
    (certificate,) = await stored(service)
    async with service.db.session_scope() as session:
        revoked = await certificates.revoke(
            session, certificate.uvci, reason="nhập sai lô vắc xin", actor="cli", now=clock()
        )
        assert revoked is not None
        assert (
            await certificates.revoke(
                session, "URN:UVCI:01:VN:NOPE#A", reason="x", actor="cli", now=clock()
            )
            is None
        )
    async with service.db.read_scope() as session:
        with pytest.raises(DccInvalid) as error:
            await certificates.check(session, service.authority, certificate.hc1, now=clock())
    assert error.value.reason == Problem.REVOKED
    listed = await say(emulator, CHAT, "/chungnhan")
    assert "(đã thu hồi)" in listed["text"] and labels(listed) == []
    verdict = await send_photo(emulator, photo["photo_bytes"])
    assert verdict == ("Giấy chứng nhận này KHÔNG hợp lệ. Giấy chứng nhận đã bị nơi cấp thu hồi.")
    # The old message's button still answers, kindly.
    first = await say(emulator, CHAT, "/chungnhan")
    assert first["text"]
    emulator.press_button(CHAT, f"cert:send:{certificate.id}", message_id=photo["message_id"])
    reply = (await emulator.wait_for_sent(CHAT, len(emulator.sent(CHAT)) + 1))[-1]
    assert reply["text"] == (
        "Giấy chứng nhận này đã bị thu hồi. Bạn vui lòng liên hệ bộ phận hỗ trợ (/hotro)."
    )
    assert "nhập sai" not in reply["text"]  # the staff's reason is not the citizen's to read


# ---------------------------------------------------------------- photos sent to the bot


def _forged(text: str) -> str:
    """The same certificate with one byte of its signature changed."""
    cose = bytearray(decompress(b45decode(text.removeprefix(PREFIX))))
    cose[-5] ^= 0x01
    return PREFIX + b45encode(compress(bytes(cose)))


async def test_photos_of_certificates_and_of_other_things(
    service: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    await consent(emulator, CHAT)
    await give_dose(service, await register(service, CHAT, "Võ Thị Sáu", date(1933, 1, 1)))
    (photo,) = await wait_photos(emulator, 1)
    (certificate,) = await stored(service)

    before = len(emulator.sent(CHAT))
    emulator.user_document(CHAT, photo["photo_bytes"], "chung-nhan.png")  # sent "as a file"
    as_file = (await emulator.wait_for_sent(CHAT, before + 1))[-1]["text"]
    assert as_file.startswith("Giấy chứng nhận HỢP LỆ.")
    before = len(emulator.sent(CHAT))
    emulator.user_document(CHAT, b"%PDF-1.4", "giay-to.pdf")
    pdf = (await emulator.wait_for_sent(CHAT, before + 1))[-1]["text"]
    assert pdf.startswith("Cảm ơn bạn! Hiện tôi chỉ đọc được tin nhắn chữ")
    valid = await send_photo(emulator, photo["photo_bytes"])
    assert valid.startswith("Giấy chứng nhận HỢP LỆ. Họ tên: Võ Thị Sáu. Ngày sinh: 01/01/1933.")
    given = clock().astimezone(TIMEZONE).strftime("%d/%m/%Y")
    assert f"Tiêm chủng, mũi 1/2, ngày {given}." in valid and DEFAULT_DCC_ISSUER in valid

    forged = await send_photo(emulator, certificate_png(_forged(certificate.hc1)))
    assert forged == (
        "Giấy chứng nhận này KHÔNG hợp lệ. Chữ ký không khớp: giấy chứng nhận đã bị sửa đổi "
        "hoặc làm giả."
    )
    stranger = create_dsc(now=datetime(2020, 1, 1, tzinfo=UTC), validity=timedelta(days=9000))
    now = clock()
    unknown = sign_hc1(
        certificate.payload, stranger.key, stranger.cert, "VN", now, now + timedelta(days=30)
    )
    assert "nơi cấp mà dịch vụ này không biết" in await send_photo(
        emulator, certificate_png(unknown)
    )
    assert (await send_photo(emulator, qr_png("https://example.com"))).startswith(
        "Đây không phải chứng nhận COVID kỹ thuật số theo chuẩn EU"
    )
    noise = _noise_png()
    assert (await send_photo(emulator, noise)).startswith("Không tìm thấy mã QR trong ảnh này.")
    assert (await send_photo(emulator, b"%PDF-1.4 not a picture")).startswith(
        "Không mở được tệp này dưới dạng ảnh."
    )
    # Mid-form, a photo is answered and the form keeps its place.
    (asked,) = await say_all(service, emulator, CHAT, "/tracuu")
    verdict = await send_photo(emulator, photo["photo_bytes"])
    assert verdict.endswith(
        "Thông tin bạn đã nhập vẫn được giữ: bạn trả lời câu hỏi gần nhất để tiếp tục."
    )
    assert labels(asked) == ["Theo mã ống", "Theo số định danh"]
    again = await press(emulator, CHAT, asked, "Theo mã ống")
    assert again["text"].startswith("Mã ống in trên phiếu")


def _noise_png() -> bytes:
    from PIL import Image

    rng = random.Random(7)
    image = Image.new("L", (200, 200))
    image.putdata([rng.choice((0, 255)) for _ in range(200 * 200)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def test_damaged_texts_are_refused_with_their_reason(service: Service, clock: Clock) -> None:
    async with service.db.session_scope() as session:
        person_id = await without_account(session, "Bùi Văn Khoa")
    await give_dose(service, person_id)
    (certificate,) = await stored(service)
    text = certificate.hc1
    cases = {
        text[: len(text) // 2]: {Problem.BASE45, Problem.ZLIB},  # truncated
        "HC2:" + text[4:]: {Problem.PREFIX},
        _forged(text): {Problem.SIGNATURE},
        text[:-1] + ("0" if text[-1] != "0" else "1"): {
            Problem.BASE45,
            Problem.ZLIB,
            Problem.COSE,
            Problem.SIGNATURE,
            Problem.CBOR,
        },
    }
    async with service.db.read_scope() as session:
        for damaged, reasons in cases.items():
            with pytest.raises(DccInvalid) as error:
                await certificates.check(session, service.authority, damaged, now=clock())
            assert error.value.reason in reasons
        with pytest.raises(DccInvalid) as early:
            await certificates.check(
                session, service.authority, text, now=clock() - timedelta(hours=1)
            )
        assert early.value.reason == Problem.NOT_YET_VALID


# ---------------------------------------------------------------- test certificates


async def negative_result(service: Service, *person_ids: int, taken_hours_ago: float = 5) -> int:
    """A tube with these people in it (pooled if several), sampled some hours ago, negative."""
    now = service.clock()
    async with service.db.session_scope() as session:
        session.add(
            Site(
                id="BT-PCR",
                name="Trạm Y tế phường Bến Thành",
                address="186 Lê Thánh Tôn",
                province_code=79,
                ward_code=26743,
                active=True,
            )
        )
        await session.flush()
        sample = Sample(
            tube_code="HCM-TUBE-0777",
            site_id="BT-PCR",
            taken_at=now - timedelta(hours=taken_hours_ago),
            pooled=len(person_ids) > 1,
            result_version=0,
        )
        session.add(sample)
        await session.flush()
        for number, person_id in enumerate(person_ids):
            session.add(
                SampleMember(sample_id=sample.id, person_id=person_id, token_id=f"tok-{number}")
            )
        await session.flush()
        await results.record_result(
            session,
            tube_code="HCM-TUBE-0777",
            result=results.NEGATIVE,
            tested_at=now - timedelta(hours=1),
            lab="Viện Pasteur TP.HCM",
            source="test",
            actor="test",
            now=now,
            sites=None,
        )
        return sample.id


async def test_a_negative_result_gives_a_test_certificate_on_request(
    service: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    await consent(emulator, CHAT)
    person_id = await register(service, CHAT, "Ngô Bảo Châu", date(1972, 6, 28))
    before = len(emulator.sent(CHAT))
    await negative_result(service, person_id)
    service.sender.wake()
    notice = (await emulator.wait_for_sent(CHAT, before + 1))[-1]
    assert "ÂM TÍNH" in notice["text"] and "bấm nút bên dưới" in notice["text"]
    assert labels(notice) == ["Nhận chứng nhận xét nghiệm"]

    preparing = await press(emulator, CHAT, notice, "Nhận chứng nhận xét nghiệm")
    assert preparing["text"].startswith("Giấy chứng nhận đang được chuẩn bị")
    (photo,) = await wait_photos(emulator, 1)
    assert photo["caption"].startswith(
        "Chứng nhận xét nghiệm COVID-19 của Ngô Bảo Châu: xét nghiệm PCR ÂM TÍNH"
    )
    (certificate,) = await stored(service)
    (entry,) = certificate.payload["t"]
    assert {k: entry[k] for k in ("tg", "tt", "tr", "tc", "co")} == {
        "tg": "840539006",
        "tt": "LP6464-4",
        "tr": "260415000",
        "tc": "Trạm Y tế phường Bến Thành",
        "co": "VN",
    }
    assert entry["sc"].endswith("Z") and UVCI.match(entry["ci"])
    async with service.db.read_scope() as session:
        verified = await certificates.check(
            session, service.authority, certificate.hc1, now=clock()
        )
    assert verified.entry_type == "t"
    taken = datetime.fromisoformat(entry["sc"].replace("Z", "+00:00"))
    assert abs(certificate.expires_at - (taken + timedelta(hours=72))) < timedelta(seconds=1)

    # Pressed again (the same update twice, or later): the same certificate, by file id.
    again = await press(emulator, CHAT, notice, "Nhận chứng nhận xét nghiệm")
    assert again["method"] == "sendPhoto" and again["photo_bytes"] is None
    assert len(await stored(service)) == 1


async def test_no_test_certificate_for_a_changed_or_old_result(
    service: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    await consent(emulator, CHAT)
    person_id = await register(service, CHAT, "Lý Thường Kiệt")
    before = len(emulator.sent(CHAT))
    sample_id = await negative_result(service, person_id, taken_hours_ago=80)
    service.sender.wake()
    notice = (await emulator.wait_for_sent(CHAT, before + 1))[-1]
    too_old = await press(emulator, CHAT, notice, "Nhận chứng nhận xét nghiệm")
    assert too_old["text"].startswith("Chứng nhận xét nghiệm có giá trị trong 72 giờ")
    async with service.db.session_scope() as session:
        sample = await session.get(Sample, sample_id)
        assert sample is not None
        sample.result = results.POSITIVE
    changed = await press(emulator, CHAT, notice, "Nhận chứng nhận xét nghiệm")
    assert "không còn âm tính" in changed["text"]
    # Someone else's button (a forged payload) gets nothing.
    emulator.press_button(
        CHAT, f"cert:test:{sample_id}:{person_id + 99}", message_id=notice["message_id"]
    )
    reply = (await emulator.wait_for_sent(CHAT, len(emulator.sent(CHAT)) + 1))[-1]
    assert reply["text"] == "Kết quả này không còn trên tài khoản của bạn."
    async with service.db.read_scope() as session:
        assert await session.scalar(select(func.count()).select_from(Certificate)) == 0


# ---------------------------------------------------------------- codes and rendering


def test_every_licensed_vaccine_is_coded_as_the_value_sets_say() -> None:
    instructions = json.loads((VALUE_SETS_DIR / "vaccine-encoding-instructions.json").read_text())[
        "valueSetValues"
    ]
    by_code = {v["vaccine-code"]: v for v in instructions.values()}
    sets = {
        name: json.loads((VALUE_SETS_DIR / f"{name}.json").read_text())["valueSetValues"]
        for name in ("vaccine-prophylaxis", "vaccine-medicinal-product", "vaccine-mah-manf")
    }
    assert len(PRODUCTS) == 8
    for product in PRODUCTS.values():
        codes = product.dcc
        assert codes.mp in by_code, product.key
        assert by_code[codes.mp]["vaccine-manufacturer"] == codes.ma, product.key
        assert codes.vp in by_code[codes.mp]["sct-codes"], product.key
        assert codes.vp in sets["vaccine-prophylaxis"]
        assert codes.mp in sets["vaccine-medicinal-product"]
        assert codes.ma in sets["vaccine-mah-manf"]


@pytest.mark.parametrize(
    ("first", "dose", "total"),
    [("pfizer", 1, 2), ("pfizer", 2, 2), ("pfizer", 3, 3), ("janssen", 1, 1), ("janssen", 2, 1),
     ("abdala", 3, 3), ("astrazeneca", 4, 4)],
)  # fmt: skip
def test_doses_in_series(first: str, dose: int, total: int) -> None:
    assert series_total(first, dose) == total


async def test_a_picture_is_rendered_and_sent_once_even_by_two_workers(
    service: Service, emulator: TelegramEmulator
) -> None:
    await consent(emulator, CHAT)
    person_id = await register(service, CHAT, "Trịnh Công Sơn")
    async with service.db.session_scope() as session:
        person = await session.get(Person, person_id)
        assert person is not None
        dose = DoseEntry(person, 1, "moderna", "L1", local_day(service.clock()), None)
        await record_dose(
            session, dose, source="chat", actor="t", staff_id=None, site_name=None,
            authority=service.authority, now=service.clock(),
        )  # fmt: skip
    second = Renderer(service.db, service.authority, clock=service.clock)
    done = await asyncio.gather(second.render_pending(), service.renderer.render_pending())
    assert sum(done) == 1
    await wait_photos(emulator, 1)
    await quiet(service, emulator)
    assert len(photos(emulator)) == 1


def test_the_shipped_schema_and_value_sets_are_the_test_data_files() -> None:
    shared = DATA
    for name in ("vaccine-medicinal-product.json", "test-type.json", "country-2-codes.json"):
        assert (VALUE_SETS_DIR / name).read_bytes() == (
            shared / "eu-dcc-valuesets" / name
        ).read_bytes()
    assert (VALUE_SETS_DIR.parent / "LICENSE").is_file()
    assert (VALUE_SETS_DIR.parent / "NOTICE").is_file()


async def test_everyone_in_a_pooled_tube_gets_their_own_test_certificate(
    service: Service, emulator: TelegramEmulator
) -> None:
    other = CHAT + 1
    await consent(emulator, CHAT)
    await consent(emulator, other)
    first = await register(service, CHAT, "Nguyễn Văn An")
    second = await register(service, other, "Trần Thị Bình")
    sizes = {chat: len(emulator.sent(chat)) for chat in (CHAT, other)}
    await negative_result(service, first, second)
    service.sender.wake()
    notices = {chat: (await emulator.wait_for_sent(chat, sizes[chat] + 1))[-1] for chat in sizes}
    for chat in (CHAT, other):
        await press(emulator, chat, notices[chat], "Nhận chứng nhận xét nghiệm")
    (mine,) = await wait_photos(emulator, 1, CHAT)
    (theirs,) = await wait_photos(emulator, 1, other)
    assert "của Nguyễn Văn An" in mine["caption"] and "của Trần Thị Bình" in theirs["caption"]
    assert len(await stored(service)) == 2
    # An account cannot ask for the other person's certificate with a made-up button.
    emulator.press_button(CHAT, f"cert:test:{1}:{second}", message_id=notices[CHAT]["message_id"])
    reply = (await emulator.wait_for_sent(CHAT, len(emulator.sent(CHAT)) + 1))[-1]
    assert reply["text"] == "Kết quả này không còn trên tài khoản của bạn."


async def test_a_revoked_test_certificate_is_not_sent_again(
    service: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    await consent(emulator, CHAT)
    person_id = await register(service, CHAT, "Đinh Tiên Hoàng")
    before = len(emulator.sent(CHAT))
    await negative_result(service, person_id)
    service.sender.wake()
    notice = (await emulator.wait_for_sent(CHAT, before + 1))[-1]
    await press(emulator, CHAT, notice, "Nhận chứng nhận xét nghiệm")
    await wait_photos(emulator, 1)
    (certificate,) = await stored(service)
    async with service.db.session_scope() as session:
        await certificates.revoke(
            session, certificate.uvci, reason="mẫu bị nhầm", actor="cli", now=clock()
        )
    again = await press(emulator, CHAT, notice, "Nhận chứng nhận xét nghiệm")
    assert again["method"] == "sendMessage" and "đã bị thu hồi" in again["text"]
    assert len(photos(emulator)) == 1


async def test_certificate_photos_are_bulk_sends(
    service: Service, emulator: TelegramEmulator
) -> None:
    await consent(emulator, CHAT)
    await give_dose(service, await register(service, CHAT, "Mạc Đĩnh Chi"))
    await wait_photos(emulator, 1)
    async with service.db.read_scope() as session:
        rows = (await session.execute(select(OutboxMessage.body, OutboxMessage.bulk))).all()
    (bulk,) = [is_bulk for body, is_bulk in rows if body.get("image_key")]
    assert bulk  # a wave of certificates is paced like any notice (Telegram: 30/s)


async def test_only_the_latest_dose_is_renewed(
    service: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    await consent(emulator, CHAT)
    person_id = await register(service, CHAT, "Tôn Đức Thắng")
    await give_dose(service, person_id, 1, "pfizer")
    await give_dose(service, person_id, 2, "pfizer")
    await wait_photos(emulator, 2)
    clock.advance(timedelta(days=400))
    listed = await say(emulator, CHAT, "/chungnhan")
    assert "mũi 1/2" in listed["text"] and "mũi 2/2" in listed["text"]
    sent = await wait_photos(emulator, 3)
    assert "mũi 2/2" in sent[2]["caption"]
    await quiet(service, emulator)
    assert len(photos(emulator)) == 3  # dose 1's certificate was superseded by dose 2's
    kinds = [(c.subject, c.replaced_at is None) for c in await stored(service)]
    assert sorted(kinds) == sorted(
        [(kinds[0][0], True), (kinds[1][0], False), (kinds[1][0], True)]
    )


async def test_boosters_read_as_boosters_in_the_caption(
    service: Service, emulator: TelegramEmulator
) -> None:
    await consent(emulator, CHAT)
    person_id = await register(service, CHAT, "Phan Bội Châu")
    await give_dose(service, person_id, 1, "janssen")
    await give_dose(service, person_id, 2, "pfizer")
    first, booster = await wait_photos(emulator, 2)
    assert ": mũi 1/1, Janssen" in first["caption"]
    assert ": mũi nhắc lại (mũi 2), Pfizer-BioNTech (Comirnaty)" in booster["caption"]
    last = (await stored(service))[-1]
    assert (last.payload["v"][0]["dn"], last.payload["v"][0]["sd"]) == (2, 1)


async def test_an_expired_signer_stops_issuing_but_not_the_dose(
    settings: Settings, clock: Clock
) -> None:
    from bot.domain.dcc.keys import create_csca, write_signer

    short = create_dsc(
        csca=create_csca(now=clock() - timedelta(days=30)),
        now=clock() - timedelta(days=30),
        validity=timedelta(days=40),
    )
    write_signer(short, settings.dcc_key_path, settings.dcc_cert_path)
    svc = build_service(settings, clock=clock)
    await svc.db.migrate()
    try:
        async with svc.db.session_scope() as session:
            await without_account(session, "Hồ Xuân Hương")
        clock.advance(timedelta(days=20))  # the signer has expired
        async with svc.db.session_scope() as session:
            person = await session.scalar(select(Person))
            assert person is not None
            recorded = await record_dose(
                session,
                DoseEntry(person, 1, "pfizer", "L1", local_day(clock()), None),
                source="chat", actor="t", staff_id=None, site_name=None,
                authority=svc.authority, now=clock(),
            )  # fmt: skip
        assert recorded
        async with svc.db.read_scope() as session:
            assert await session.scalar(select(func.count()).select_from(Vaccination)) == 1
            assert await session.scalar(select(func.count()).select_from(Certificate)) == 0
    finally:
        await svc.db.dispose()
    # Starting with a signer that has expired is refused outright, naming what to do.
    expired = create_dsc(now=clock() - timedelta(days=60), validity=timedelta(days=30))
    write_signer(expired, settings.dcc_key_path, settings.dcc_cert_path)
    with pytest.raises(ConfigError, match=r"expired on .* keys init"):
        build_service(settings, clock=clock)
