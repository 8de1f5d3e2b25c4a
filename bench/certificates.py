"""Certificates: signing, rendering the QR picture, and sending it first by upload, then by id.

A vaccination certificate costs three things, measured here in one run, each against a
baseline measured in the same run (the machine is shared and noisy, so the ratios are the
figures to compare, not the absolute times):
  signing   `vaccination_payload` (a Vietnamese name with diacritics, a fresh UVCI) and
            `sign_hc1` with a signer from `create_dsc()`: CWT claims, COSE_Sign1 (ES256),
            zlib, base45, "HC1:". Baseline: a bare ECDSA P-256 `key.sign` (SHA-256) over as
            many bytes as the certificate's CBOR claims. Blocks of each, interleaved; the
            median block rate is reported. A step-by-step breakdown of the pipeline follows.
  rendering `certificate_png(hc1)`: a QR symbol at error correction Q as a PNG, pure Python
            (qrcode + pypng). Baseline: `qr_png` of a booking code (7 characters,
            correction M). Calls interleaved one by one; median and mean ms per render.
  sending   through our real `TelegramChannel` to the Bot API emulator
            (tests/fakes/telegram_api.py, real HTTP, in this process):
              first   render a distinct certificate, then `send` an `Outgoing` with the PNG
                      bytes (a multipart upload); `Sent.file_id` is the platform's id of it;
              cached  `send` the same photo again with `image_file_id` (no render, no
                      upload; the PNG rides along only for the fall-back, as in `photo_of`);
              text    a plain `sendMessage` of the caption, the cheapest message there is.
            Interleaved (the order rotates every round), median and mean ms of each.
Rendering is the expensive step (tens of milliseconds of pure Python per certificate, much
more than signing or any send), which is why the service renders a certificate once, when it
is issued (`bot.workers.renderer.Renderer`), stores the picture and remembers the
platform's file id: every later view (/chungnhan, "My certificates") is a cached send, never a
render. The JSON line's `first_send_ms` and `cached_send_ms` are medians; `first_vs_cached`
is what a view would cost if it rendered and uploaded each time, relative to what it costs.
Usage: python -m bench.certificates [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bot.channels.telegram.bot_api import TelegramChannel
from bot.config import DEFAULT_DCC_ISSUER
from bot.domain.booking import new_code
from bot.domain.certificate_issuing import image_key
from bot.domain.certificate_wording import caption
from bot.domain.dcc.codec import PREFIX, CwtClaims, b45encode, compress
from bot.domain.dcc.cose import kid_of, sign_es256
from bot.domain.dcc.issue import sign_hc1, uvci, vaccination_payload
from bot.domain.dcc.keys import DEFAULT_COUNTRY, Signer, create_dsc
from bot.domain.qr_image import certificate_png, qr_png
from bot.domain.vaccines import PRODUCTS
from bot.i18n import use_locale
from bot.messages import ChatRef, Outgoing
from storage.models import Certificate
from tests.fakes.telegram_api import TelegramEmulator

TOKEN = "123456:BENCH-token"
CHAT_BASE = 20_000_000
VALIDITY = timedelta(days=365)
FAMILIES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
            "Đỗ", "Hồ", "Ngô", "Dương", "Lý")  # fmt: skip
MIDDLES = ("Thị", "Văn", "Hữu", "Đức", "Ngọc", "Minh", "Thanh", "Quốc", "Thị Thu", "Xuân")
GIVENS = ("Đào", "An", "Bình", "Hương", "Phượng", "Dũng", "Tuấn", "Ánh", "Nguyệt", "Thủy",
          "Khải", "Lộc", "Yến", "Trường", "Quỳnh", "Giang", "Hải", "Oanh")  # fmt: skip
PRODUCT_KEYS = ("pfizer", "astrazeneca", "moderna", "verocell")


@dataclass(frozen=True)
class Settings:
    sign_rounds: int
    sign_block: int
    breakdown: int
    renders: int
    sends: int
    warmup: int


FULL = Settings(sign_rounds=9, sign_block=400, breakdown=1000, renders=150, sends=200, warmup=5)
QUICK = Settings(sign_rounds=3, sign_block=100, breakdown=200, renders=20, sends=30, warmup=3)


@dataclass(frozen=True)
class Times:
    """Durations of one kind of operation, in milliseconds."""

    ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.ms)

    @property
    def p90(self) -> float:
        ordered = sorted(self.ms)
        return ordered[int(0.9 * (len(ordered) - 1))]

    def line(self, label: str) -> str:
        return (
            f"  {label:<30}median {self.median:8.2f} ms  mean {self.mean:8.2f} ms  "
            f"p90 {self.p90:8.2f} ms  (n={len(self.ms)})"
        )


# -- what is signed -------------------------------------------------------------------------


def person(i: int) -> tuple[str, str, date]:
    """A Vietnamese family name, given names with diacritics, and a date of birth."""
    family = FAMILIES[i % len(FAMILIES)]
    given = f"{MIDDLES[(i // 3) % len(MIDDLES)]} {GIVENS[(i // 7) % len(GIVENS)]}"
    return family, given, date(1950, 1, 1) + timedelta(days=(i * 97) % 25_000)


def payload(i: int) -> dict[str, Any]:
    """The DCC payload of the i-th certificate (dose 1-3, one of four products)."""
    family, given, dob = person(i)
    product = PRODUCTS[PRODUCT_KEYS[i % len(PRODUCT_KEYS)]]
    dose = 1 + i % 3
    return vaccination_payload(
        family_name=family,
        given_name=given,
        dob=dob,
        vaccine_type=product.dcc.vp,
        product=product.dcc.mp,
        manufacturer=product.dcc.ma,
        dose_number=dose,
        total_doses=max(dose, product.primary_doses),
        vaccinated_on=date(2021, 9, 1) + timedelta(days=(i * 13) % 600),
        issuer=DEFAULT_DCC_ISSUER,
        certificate_id=uvci(country=DEFAULT_COUNTRY),
        country=DEFAULT_COUNTRY,
    )


def sign(signer: Signer, i: int, now: datetime) -> str:
    """Issue the i-th certificate: payload and signature, as `issue_for_dose` does."""
    return sign_hc1(payload(i), signer.key, signer.cert, DEFAULT_COUNTRY, now, now + VALIDITY)


def claims_bytes(i: int, now: datetime) -> bytes:
    """The CBOR of the i-th certificate's CWT claims (what the signature covers, nearly)."""
    return CwtClaims(
        hcert=payload(i),
        iss=DEFAULT_COUNTRY,
        iat=int(now.timestamp()),
        exp=int((now + VALIDITY).timestamp()),
    ).encode()


# -- 1. signing ------------------------------------------------------------------------------


@dataclass
class Signing:
    signs_per_s: float
    bare_per_s: float
    cbor_bytes: int
    hc1_chars: int
    steps_us: dict[str, float]

    @property
    def ratio(self) -> float:
        """How many bare signatures one issued certificate costs."""
        return self.bare_per_s / self.signs_per_s


def measure_signing(signer: Signer, s: Settings, now: datetime) -> Signing:
    cbor = claims_bytes(0, now)
    ecdsa = ec.ECDSA(hashes.SHA256())
    key = signer.key
    for i in range(50):  # warm-up: imports, caches, the first allocations
        sign(signer, i, now)
        key.sign(cbor, ecdsa)
    full_rates, bare_rates = [], []
    n = 0
    for _ in range(s.sign_rounds):  # interleaved blocks: drift in load hits both alike
        t0 = time.perf_counter()
        for _ in range(s.sign_block):
            sign(signer, n, now)
            n += 1
        t1 = time.perf_counter()
        for _ in range(s.sign_block):
            key.sign(cbor, ecdsa)
        t2 = time.perf_counter()
        full_rates.append(s.sign_block / (t1 - t0))
        bare_rates.append(s.sign_block / (t2 - t1))
    hc1 = sign(signer, 0, now)
    return Signing(
        signs_per_s=statistics.median(full_rates),
        bare_per_s=statistics.median(bare_rates),
        cbor_bytes=len(cbor),
        hc1_chars=len(hc1),
        steps_us=breakdown(signer, s.breakdown, now),
    )


def breakdown(signer: Signer, count: int, now: datetime) -> dict[str, float]:
    """Median microseconds of each step of the pipeline (`sign_hc1`'s steps called one by one)."""
    steps: dict[str, list[float]] = {
        name: []
        for name in ("uvci+payload", "cwt_cbor", "kid_of", "cose_sign1", "zlib9", "base45")
    }
    iat, exp = int(now.timestamp()), int((now + VALIDITY).timestamp())
    clock = time.perf_counter_ns
    for i in range(count):
        t0 = clock()
        data = payload(i)
        t1 = clock()
        claims = CwtClaims(hcert=data, iss=DEFAULT_COUNTRY, iat=iat, exp=exp).encode()
        t2 = clock()
        kid = kid_of(signer.cert)
        t3 = clock()
        cose = sign_es256(claims, signer.key, kid)
        t4 = clock()
        packed = compress(cose)
        t5 = clock()
        text = PREFIX + b45encode(packed)
        t6 = clock()
        assert text.startswith(PREFIX)
        marks = (t0, t1, t2, t3, t4, t5, t6)
        for name, start, end in zip(steps, marks, marks[1:], strict=False):
            steps[name].append((end - start) / 1000)
    return {name: statistics.median(values) for name, values in steps.items()}


# -- 2. rendering ----------------------------------------------------------------------------


@dataclass
class Rendering:
    certificate: Times
    booking: Times
    certificate_png_bytes: int
    booking_png_bytes: int

    @property
    def renders_per_s(self) -> float:
        return 1000 / self.certificate.median

    @property
    def booking_renders_per_s(self) -> float:
        return 1000 / self.booking.median

    @property
    def ratio(self) -> float:
        """How many booking-code QR renders one certificate render costs."""
        return self.certificate.median / self.booking.median


def timed(render: Callable[[str], bytes], text: str) -> tuple[float, bytes]:
    """Milliseconds one render takes, and the PNG."""
    t0 = time.perf_counter()
    png = render(text)
    return (time.perf_counter() - t0) * 1000, png


def measure_rendering(texts: list[str], s: Settings) -> Rendering:
    codes = [new_code() for _ in texts]
    for text, code in zip(texts[: s.warmup], codes, strict=False):
        certificate_png(text)
        qr_png(code)
    cert_ms, booking_ms = [], []
    cert_size = booking_size = 0
    for text, code in zip(texts, codes, strict=True):  # one of each in turn
        ms, png = timed(certificate_png, text)
        cert_ms.append(ms)
        cert_size = max(cert_size, len(png))
        ms, png = timed(qr_png, code)
        booking_ms.append(ms)
        booking_size = max(booking_size, len(png))
    return Rendering(Times(cert_ms), Times(booking_ms), cert_size, booking_size)


# -- 3. sending ------------------------------------------------------------------------------


@dataclass
class Sending:
    first: Times  # render + upload
    first_render: Times
    first_upload: Times
    cached: Times
    text: Times
    uploads_seen: int
    references_seen: int

    @property
    def ratio(self) -> float:
        """What a send costs with a render and an upload, relative to a send by file id."""
        return self.first.median / self.cached.median


def certificate_row(i: int, hc1: str, data: dict[str, Any], now: datetime) -> Certificate:
    """A certificate as the service stores it (not in any database), for its real caption."""
    return Certificate(
        id=i + 1,
        person_id=i + 1,
        kind="v",
        subject=f"dose:{i + 1}",
        uvci=data["v"][0]["ci"],
        payload=data,
        hc1=hc1,
        status="new",
        issued_at=now,
        expires_at=now + VALIDITY,
    )


def rotations(count: int) -> Iterator[tuple[str, ...]]:
    orders = (
        ("first", "cached", "text"),
        ("cached", "text", "first"),
        ("text", "first", "cached"),
    )
    for i in range(count):
        yield orders[i % len(orders)]


async def measure_sending(signer: Signer, s: Settings, now: datetime) -> Sending:
    total = s.warmup + s.sends
    rows = []
    for i in range(total):
        data = payload(10_000 + i)
        hc1 = sign_hc1(data, signer.key, signer.cert, DEFAULT_COUNTRY, now, now + VALIDITY)
        rows.append(certificate_row(i, hc1, data, now))
    with use_locale("vi"):
        captions = [caption(row) for row in rows]
    timings: dict[str, list[float]] = {
        name: [] for name in ("first", "render", "upload", "cached", "text")
    }
    file_ids: list[str] = []
    pngs: list[bytes] = []

    async with TelegramEmulator(TOKEN) as emu:
        channel = TelegramChannel(token=emu.token, base_url=emu.base_url)
        await channel.start()
        try:

            async def first(i: int, record: bool) -> None:
                chat = ChatRef(channel.name, str(CHAT_BASE + i))
                t0 = time.perf_counter()
                png = certificate_png(rows[i].hc1)
                t1 = time.perf_counter()
                sent = await channel.send(
                    Outgoing(chat=chat, text=captions[i], image=png, image_key=image_key(i + 1))
                )
                t2 = time.perf_counter()
                if sent.file_id is None:
                    raise RuntimeError("the upload gave no file id")
                file_ids.append(sent.file_id)
                pngs.append(png)
                if record:
                    timings["first"].append((t2 - t0) * 1000)
                    timings["render"].append((t1 - t0) * 1000)
                    timings["upload"].append((t2 - t1) * 1000)

            async def cached(i: int, record: bool) -> None:
                j = len(file_ids) - 1  # the latest upload: its file id, its stored picture
                chat = ChatRef(channel.name, str(CHAT_BASE + j))
                message = Outgoing(
                    chat=chat,
                    text=captions[j],
                    image=pngs[j],
                    image_file_id=file_ids[j],
                    image_key=image_key(j + 1),
                )
                t0 = time.perf_counter()
                sent = await channel.send(message)
                t1 = time.perf_counter()
                if sent.file_id is not None:
                    raise RuntimeError("a send by file id uploaded the picture again")
                if record:
                    timings["cached"].append((t1 - t0) * 1000)

            async def text(i: int, record: bool) -> None:
                chat = ChatRef(channel.name, str(CHAT_BASE + i))
                t0 = time.perf_counter()
                await channel.send(Outgoing(chat=chat, text=captions[i]))
                t1 = time.perf_counter()
                if record:
                    timings["text"].append((t1 - t0) * 1000)

            steps = {"first": first, "cached": cached, "text": text}
            await first(0, record=False)  # so that the first round has a file id to reuse
            for i, order in enumerate(rotations(total - 1), start=1):
                for name in order:
                    await steps[name](i, i >= s.warmup)
        finally:
            await channel.stop()
        photos = [
            entry
            for call in range(total)
            for entry in emu.sent(CHAT_BASE + call)
            if entry["method"] == "sendPhoto"
        ]
    return Sending(
        first=Times(timings["first"]),
        first_render=Times(timings["render"]),
        first_upload=Times(timings["upload"]),
        cached=Times(timings["cached"]),
        text=Times(timings["text"]),
        uploads_seen=sum(entry["photo_bytes"] is not None for entry in photos),
        references_seen=sum(entry["photo_bytes"] is None for entry in photos),
    )


# -- the run ---------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (a few seconds)")
    args = parser.parse_args()
    s = QUICK if args.quick else FULL
    started = time.perf_counter()
    now = datetime.now(UTC)
    signer = create_dsc(now=now)

    signing = measure_signing(signer, s, now)
    texts = [sign(signer, 50_000 + i, now) for i in range(s.renders)]
    rendering = measure_rendering(texts, s)
    sending = await measure_sending(signer, s, now)
    elapsed = time.perf_counter() - started

    mode = "quick" if args.quick else "full"
    print(f"certificates bench ({mode} run, {elapsed:.0f} s)")
    print(
        f"signing: {signing.signs_per_s:,.0f} certificates/s (uvci + vaccination_payload + "
        f"sign_hc1), bare ECDSA P-256 over {signing.cbor_bytes} bytes: "
        f"{signing.bare_per_s:,.0f}/s; median of {s.sign_rounds} blocks of {s.sign_block}"
    )
    print(
        f"  ratio {signing.ratio:.1f}x: one issued certificate costs as much as "
        f"{signing.ratio:.1f} bare signatures ({1e6 / signing.signs_per_s:.0f} us vs "
        f"{1e6 / signing.bare_per_s:.0f} us); HC1 text {signing.hc1_chars} characters"
    )
    steps = ", ".join(f"{name} {us:.1f}" for name, us in signing.steps_us.items())
    print(f"  steps (median us, n={s.breakdown}): {steps}")
    print(
        f"rendering: {rendering.renders_per_s:.1f} certificate PNGs/s "
        f"({rendering.certificate_png_bytes:,} bytes, correction Q), "
        f"booking-code PNGs {rendering.booking_renders_per_s:.0f}/s "
        f"({rendering.booking_png_bytes:,} bytes, correction M); ratio {rendering.ratio:.1f}x"
    )
    print(rendering.certificate.line("certificate_png"))
    print(rendering.booking.line("qr_png(booking code)"))
    print(
        f"sending through TelegramChannel to the emulator, {s.sends} of each, interleaved "
        f"({sending.uploads_seen} uploads and {sending.references_seen} sends by file id seen "
        "by the emulator, warm-up included)"
    )
    print(sending.first.line("first (render + upload)"))
    print(sending.first_render.line("  of which render"))
    print(sending.first_upload.line("  of which upload send"))
    print(sending.cached.line("cached (by file id)"))
    print(sending.text.line("text (sendMessage)"))
    print(
        f"  first / cached {sending.ratio:.1f}x (medians); cached / text "
        f"{sending.cached.median / sending.text.median:.2f}x; upload / cached "
        f"{sending.first_upload.median / sending.cached.median:.2f}x"
    )
    summary: dict[str, object] = {
        "bench": "certificates",
        "signs_per_s": round(signing.signs_per_s, 1),
        "renders_per_s": round(rendering.renders_per_s, 2),
        "first_send_ms": round(sending.first.median, 2),
        "cached_send_ms": round(sending.cached.median, 2),
        "bare_signs_per_s": round(signing.bare_per_s, 1),
        "sign_vs_bare_ratio": round(signing.ratio, 2),
        "sign_steps_us": {name: round(us, 1) for name, us in signing.steps_us.items()},
        "cbor_bytes": signing.cbor_bytes,
        "hc1_chars": signing.hc1_chars,
        "render_ms": round(rendering.certificate.median, 2),
        "render_mean_ms": round(rendering.certificate.mean, 2),
        "booking_renders_per_s": round(rendering.booking_renders_per_s, 1),
        "booking_render_ms": round(rendering.booking.median, 3),
        "render_vs_booking_ratio": round(rendering.ratio, 2),
        "certificate_png_bytes": rendering.certificate_png_bytes,
        "first_send_mean_ms": round(sending.first.mean, 2),
        "first_send_render_ms": round(sending.first_render.median, 2),
        "first_send_upload_ms": round(sending.first_upload.median, 2),
        "cached_send_mean_ms": round(sending.cached.mean, 2),
        "text_send_ms": round(sending.text.median, 2),
        "text_send_mean_ms": round(sending.text.mean, 2),
        "first_vs_cached_ratio": round(sending.ratio, 2),
        "cached_vs_text_ratio": round(sending.cached.median / sending.text.median, 2),
        "sends": s.sends,
        "renders": s.renders,
        "quick": args.quick,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
