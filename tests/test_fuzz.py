"""Property-based tests (Hypothesis) of everything that reads what strangers send.

ID numbers, dates, phone numbers, JSON bodies, Zalo signatures, certificate texts (HC1), button
payloads through the dispatcher and bodies posted to each JSON endpoint: whatever comes in, the
answer is a value or the parser's own refusal, never another exception, an apology or a 500.

Bounded and reproducible in CI: every test runs under `FUZZ` (a fixed number of examples, no
deadline, derandomized, no example database), those through the database under `FUZZ_DB`
(fewer examples). To search longer on a developer's machine, raise `max_examples` and drop
`derandomize`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.app import Service
from bot.channels.zalo.oa_api import signature_matches
from bot.config import Settings
from bot.domain.dcc.codec import B45_ALPHABET, PREFIX, b45encode, cbor_dumps, compress
from bot.domain.dcc.cose import kid_of, sign_es256
from bot.domain.dcc.errors import DccInvalid
from bot.domain.dcc.issue import sign_hc1, uvci, vaccination_payload
from bot.domain.dcc.keys import Signer
from bot.domain.dcc.trust import SCHEMA_PATH, VALUE_SETS_DIR
from bot.domain.dcc.verify import verify
from bot.i18n import TIMEZONE
from bot.vn.dates import InvalidDate, parse_birth_date, parse_send_time
from bot.vn.ids import InvalidId, parse_personal_id
from bot.vn.phone import mask_numbers, normalize_phone
from bot.web.json_body import MAX_DEPTH, BadJson, loads
from storage import staff
from tests.conftest import SIGNER_FROM, Clock, make_signer
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator
from tests.json_endpoints import Endpoints, envelope, every_endpoint
from tests.webchat import APOLOGY, Citizen

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_DB = settings(FUZZ, max_examples=200)

# What people type: digits of several scripts, separators, and anything at all.
DIGITS = "0123456789٠١٢٣٤٥٦٧٨٩０１２３４５６７８９²³"
typed = st.text(alphabet=DIGITS + " .-/+()", max_size=24) | st.text(max_size=40)


def _date_like(day: int, month: int, year: int, separator: str) -> str:
    return f"{day}{separator}{month}{separator}{year}"


date_like = st.builds(
    _date_like,
    st.integers(0, 40),
    st.integers(0, 14),
    st.integers(0, 99_999),
    st.sampled_from(["/", ".", "-", " ", ""]),
)
send_like = st.builds(
    "{}:{:02d} {}/{}{}{}".format,
    st.integers(0, 30),
    st.integers(0, 70),
    st.integers(0, 32),
    st.integers(0, 13),
    st.sampled_from(["", "/2026", "/9999", "/0"]),
    st.sampled_from(["", " mai", " lúc", " ngày"]),
)


# -- Vietnamese parsers ---------------------------------------------------------------------


@FUZZ
@given(text=typed, year=st.integers(1900, 2200))
def test_an_id_number_is_twelve_ascii_digits_or_refused(text: str, year: int) -> None:
    try:
        found = parse_personal_id(text, current_year=year)
    except InvalidId:
        return
    assert re.fullmatch("[0-9]{12}", found.number) and found.birth_year <= year


@FUZZ
@given(text=typed | date_like, today=st.dates(date(1990, 1, 1), date(2200, 12, 31)))
def test_a_birth_date_is_a_past_day_or_refused(text: str, today: date) -> None:
    try:
        born = parse_birth_date(text, today=today)
    except InvalidDate:
        return
    assert born <= today


@FUZZ
@example(text="9:00 29/02", now=datetime(2028, 3, 5, tzinfo=UTC))  # no 29/02 in 2029
@given(
    text=typed | send_like,
    now=st.datetimes(datetime(2000, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)),
)
def test_a_send_time_is_a_moment_or_none(text: str, now: datetime) -> None:
    moment = parse_send_time(text, now=now, tz=TIMEZONE)
    assert moment is None or moment.utcoffset() == timedelta(hours=7)


@FUZZ
@example(text="091٢٣٤٥٦٧٨")
@given(text=typed)
def test_a_phone_number_is_ascii_e164_or_none(text: str) -> None:
    phone = normalize_phone(text)
    assert phone is None or re.fullmatch(r"\+84[0-9]{9}", phone)
    assert len(mask_numbers(text)) <= len(text) + 6


# -- JSON bodies and Zalo signatures --------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20) + 1, 10**20 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=40,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _has_nul(value: Any) -> bool:
    if isinstance(value, dict):
        return any(map(_has_nul, [*value.keys(), *value.values()]))
    if isinstance(value, list):
        return any(map(_has_nul, value))
    return isinstance(value, str) and "\x00" in value


@FUZZ
@given(value=json_values, deeper=st.integers(0, 40))
def test_json_within_the_bounds_reads_as_json_does(value: Any, deeper: int) -> None:
    value = functools.reduce(lambda inner, _: [inner], range(deeper), value)
    raw = json.dumps(value, ensure_ascii=bool(deeper % 2)).encode()
    try:
        read = loads(raw)
    except BadJson:
        assert _depth(value) > MAX_DEPTH or _has_nul(value)
        return
    assert read == json.loads(raw) and _depth(value) <= MAX_DEPTH and not _has_nul(value)


@FUZZ
@given(raw=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v)[:-1].encode()))
def test_any_bytes_are_json_or_refused(raw: bytes) -> None:
    with contextlib.suppress(BadJson):
        loads(raw)


@FUZZ
@given(
    raw=st.binary(max_size=200)
    | st.builds('{{"timestamp": {}}}'.format, st.text()).map(str.encode),
    header=st.none()
    | st.text(max_size=80)
    | st.text(alphabet="0123456789abcdef").map("mac=".__add__),
)
def test_any_webhook_body_is_signed_or_not_without_an_exception(raw: bytes, header: str) -> None:
    assert signature_matches(raw, header, app_id="1", oa_id="2", secret="s") is None


# -- certificates (HC1) ---------------------------------------------------------------------

NOW = SIGNER_FROM + timedelta(days=400)


@functools.cache
def _signer_and_text() -> tuple[Signer, str]:
    """A document signer and one certificate it signed: what mutations start from."""
    signer = make_signer()
    payload = vaccination_payload(
        family_name="Nguyễn",
        given_name="Văn An",
        dob="1990-01-02",
        vaccine_type="J07BX03",
        product="EU/1/20/1528",
        manufacturer="ORG-100030215",
        dose_number=2,
        total_doses=2,
        vaccinated_on=NOW.date() - timedelta(days=30),
        issuer="TEST",
        certificate_id=uvci(),
    )
    text = sign_hc1(
        payload, signer.key, signer.cert, "VN", NOW - timedelta(days=1), NOW + timedelta(days=300)
    )
    return signer, text


def _verify(text: str, signer: Signer) -> None:
    """Verify as the bot does; only a verification failure may be raised."""
    with contextlib.suppress(DccInvalid):
        verify(
            text,
            trusted=[signer.cert],
            now=NOW,
            value_sets_dir=VALUE_SETS_DIR,
            schema_path=SCHEMA_PATH,
        )


@FUZZ
@given(
    text=st.text(max_size=60)
    | st.text(alphabet=B45_ALPHABET, max_size=120).map(PREFIX.__add__)
    | st.binary(max_size=80).map(lambda data: PREFIX + b45encode(compress(data)))
)
def test_any_text_is_a_certificate_or_a_verification_failure(text: str) -> None:
    _verify(text, _signer_and_text()[0])


@FUZZ
@given(data=st.data())
def test_a_mutated_certificate_fails_verification_and_raises_nothing_else(
    data: st.DataObject,
) -> None:
    signer, text = _signer_and_text()
    for _ in range(data.draw(st.integers(1, 3))):
        if len(text) <= len(PREFIX) + 1:
            break
        at = data.draw(st.integers(len(PREFIX), len(text) - 1))
        char = data.draw(st.sampled_from(B45_ALPHABET))
        text = data.draw(
            st.sampled_from(
                [text[:at] + char + text[at + 1 :], text[:at] + char + text[at:], text[:at]]
            )
        )
    _verify(text, signer)


cbor_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=10)
    | st.binary(max_size=10)
)
cbor_values = st.recursive(
    cbor_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4) | st.integers(-5, 5), inner, max_size=3)
    ),
    max_leaves=12,
)


@FUZZ
@example(times={6: 2**63}, field="ver", value="1.3.0")  # issued in the year 292 billion
@example(times={4: float("nan")}, field="ver", value="1.3.0")
@given(
    times=st.fixed_dictionaries({}, optional={4: cbor_scalars, 6: cbor_scalars, 1: cbor_scalars}),
    field=st.sampled_from(["ver", "nam", "dob", "v", "t", "r", "extra"]),
    value=cbor_values,
)
def test_a_well_signed_certificate_with_odd_claims_is_refused_or_read(
    times: dict[int, Any], field: str, value: Any
) -> None:
    """Signed by a trusted key, so the claims themselves are read: times, names, entries."""
    signer, _text = _signer_and_text()
    payload = vaccination_payload(
        family_name="Lê",
        given_name="Tám",
        dob="1980",
        vaccine_type="J07BX03",
        product="EU/1/20/1528",
        manufacturer="ORG-100030215",
        dose_number=1,
        total_doses=2,
        vaccinated_on=NOW.date(),
        issuer="TEST",
        certificate_id=uvci(),
    )
    payload[field] = value
    claims = {1: "VN", 6: int(NOW.timestamp()), 4: int(NOW.timestamp()) + 86400, **times}
    try:
        cose = sign_es256(
            cbor_dumps({**claims, -260: {1: payload}}), signer.key, kid_of(signer.cert)
        )
    except (ValueError, TypeError, OverflowError):  # not encodable: nobody can send it
        return
    _verify(PREFIX + b45encode(compress(cose)), signer)


# -- button payloads through the dispatcher -------------------------------------------------

# Payloads that carry ids, and the others (menus, steps, answers).
ID_PREFIXES = [
    *("appt:coming:", "appt:move:", "appt:cancel:", "appt:qr:", "book:", "cert:send:"),
    *("cert:test:", "cert:test:1:", "camp:book:", "camp:no:", "camp:rep:", "camp:pause:"),
    *("camp:stopok:", "bc:rep:", "bc:stop:", "tk:rate:", "tk:rate:1:", "tk:claim:"),
    *("reg:person:", "reg:site:", "reg:slot:", "reg:prov:", "reg:ward:", "reg:grp:"),
]
OTHER_PREFIXES = [
    *("menu:register", "menu:appointments", "menu:results", "menu:qr", "menu:lookup"),
    *("menu:qr_add", "menu:certificate", "menu:support", "lang:vi", "lang:en", "appt:"),
    *("cert:", "camp:", "tk:end", "link:", "reg:who:self", "reg:who:other", "reg:day:"),
    *("reg:change:", "reg:fix:", "reg:confirm", "reg:phone:account", "dose:yes", "dose:p:"),
    *("cd:d:", "cd:new", "nb:now", "look:id", "consent:yes", "erase:no", "withdraw:no"),
    *("phone:yes", "cancel:yes"),
]
edges = ["0", "1", "2147483647", "2147483648", "99999999999999999999", "²", "٣", "-1", ""]
numbers = (
    st.sampled_from(edges)
    | st.integers(0, 2**70).map(str)
    | st.text(alphabet="0123456789²٣:|-", max_size=12)
)
stamps = st.sampled_from(["", "", "", "1|", "99999999999999999999|", "current"])
payloads = st.one_of(
    st.builds("{}{}{}".format, stamps, st.sampled_from(ID_PREFIXES), numbers),
    st.builds("{}{}{}".format, stamps, st.sampled_from(ID_PREFIXES), numbers),
    st.builds("{}{}{}".format, stamps, st.sampled_from(OTHER_PREFIXES), numbers),
    st.text(min_size=1, max_size=64),
)


@pytest.fixture
async def staff_citizen(svc: Service) -> Citizen:
    """A consenting web chat citizen who is also an administrator (staff buttons answer)."""
    citizen = Citizen(svc, "fuzz-1")
    await citizen.consent()
    async with svc.db.session_scope() as session:
        await staff.add_staff(
            session,
            channel="web",
            user_id="fuzz-1",
            role="admin",
            name="Fuzz",
            wards=[],
            sites=[],
            now=svc.clock(),
        )
    return citizen


@FUZZ_DB
@example(payload="appt:qr:99999999999999999999")
@example(payload="current|reg:person:2147483648")
@given(payload=payloads)
async def test_no_button_payload_makes_a_handler_fail(
    svc: Service, staff_citizen: Citizen, payload: str
) -> None:
    if payload.startswith("current"):  # stamped with the prompt on screen: a step's own
        _account, state, _events = await staff_citizen.state()
        payload = f"{state.prompt if state else 0}|{payload.removeprefix('current')}"
    payload = payload[:64]
    await svc.dispatcher.handle(staff_citizen.incoming(payload=payload))
    texts = [body["text"] for body in await staff_citizen.replies()]
    assert texts and not any(APOLOGY in text for text in texts), payload


# -- bodies posted to every JSON endpoint ---------------------------------------------------


@pytest.fixture
async def served(
    zalo_settings: Settings, emulator: TelegramEmulator, zemu: ZaloEmulator, clock: Clock
) -> AsyncIterator[Endpoints]:
    async with every_endpoint(zalo_settings, emulator, zemu, clock) as endpoints:
        yield endpoints


def _shaped(value: Any, depth: int, extra: str) -> bytes:
    """`value` as JSON text, with `extra` beside it, inside `depth` arrays."""
    text = f"[{json.dumps(value)}, {extra}]" if extra else json.dumps(value)
    return ("[" * depth + text + "]" * depth).encode()


bodies = st.builds(
    _shaped,
    json_values,
    st.integers(0, 3000),
    st.sampled_from(["", "", "9" * 5000, "1" * 21, "1e400", "NaN", '"\\ud800"', '"\\u0000"']),
)


@FUZZ_DB
@given(
    endpoint=st.sampled_from(["chat", "staff", "telegram", "zalo"]),
    body=bodies,
    whole=st.booleans(),
)
async def test_no_json_body_makes_a_500(
    served: Endpoints, clock: Clock, endpoint: str, body: bytes, whole: bool
) -> None:
    posted = body if whole else envelope(endpoint, body, clock)
    status, answer = await served.post[endpoint](posted)
    assert status < 500, answer
    if served.svc.zalo_inbox is not None:
        await served.svc.zalo_inbox.drain_once()
