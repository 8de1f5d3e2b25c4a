"""The Zalo channel's translations, without a server: signatures, events, choices, shapes."""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.zalo import oa_api as zalo
from bot.config import ConfigError, Settings
from bot.i18n import TIMEZONE
from bot.messages import Button, ChatRef, Kind, Outgoing
from tests.clock import Clock

APP, OA, SECRET = "3001234567890", "5550001112223", "oa-secret-key"


def signed(event: dict, first: str = APP) -> tuple[bytes, str]:
    raw = json.dumps(event, ensure_ascii=False).encode()
    digest = hashlib.sha256(first.encode() + raw + event["timestamp"].encode() + SECRET.encode())
    return raw, "mac=" + digest.hexdigest()


def text_event(text: str, msg_id: str = "m1", user: str = "8001234567890123456") -> dict:
    return {
        "app_id": APP,
        "event_name": "user_send_text",
        "timestamp": "1764751200000",
        "sender": {"id": user},
        "recipient": {"id": OA},
        "message": {"text": text, "msg_id": msg_id},
    }


def test_signature_with_app_id_or_oa_id_and_nothing_else() -> None:
    event = text_event("xin chào")
    raw, mac = signed(event)
    by_app = zalo.Signed("app_id", event["timestamp"])
    assert zalo.signature_matches(raw, mac, app_id=APP, oa_id=OA, secret=SECRET) == by_app
    raw, mac = signed(event, OA)
    by_oa = zalo.Signed("oa_id", event["timestamp"])
    assert zalo.signature_matches(raw, mac, app_id=APP, oa_id=OA, secret=SECRET) == by_oa
    assert zalo.signature_matches(raw, mac, app_id=APP, oa_id=None, secret=SECRET) is None
    assert zalo.signature_matches(raw, None, app_id=APP, oa_id=OA, secret=SECRET) is None
    assert zalo.signature_matches(raw, "mac=00", app_id=APP, oa_id=OA, secret=SECRET) is None
    tampered = raw.replace("xin chào".encode(), b"xin chao")
    assert zalo.signature_matches(tampered, mac, app_id=APP, oa_id=OA, secret=SECRET) is None
    assert zalo.signature_matches(b"not json", mac, app_id=APP, oa_id=OA, secret=SECRET) is None
    assert zalo.signature_matches(b"[1]", mac, app_id=APP, oa_id=OA, secret=SECRET) is None


def mac_of(raw: bytes, timestamp: str) -> str:
    return (
        "mac="
        + hashlib.sha256(APP.encode() + raw + timestamp.encode() + SECRET.encode()).hexdigest()
    )


def test_the_signature_is_checked_on_the_raw_bytes_before_any_parsing() -> None:
    check = functools.partial(zalo.signature_matches, app_id=APP, oa_id=OA, secret=SECRET)
    # Nothing unsigned is parsed: 10,000 nested brackets are just bytes that are not signed.
    deep = b'{"timestamp": "1", "a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    assert check(deep, "mac=00") is None
    assert check(deep, mac_of(deep, "1")) == zalo.Signed("app_id", "1")
    # The timestamp is found as written, a string or a number, after other fields...
    number = b'{"event_name": "follow", "timestamp" : 1764751200000}'
    assert check(number, mac_of(number, "1764751200000")) == zalo.Signed("app_id", "1764751200000")
    # ...and among a few others (say in an attachment), but not after many decoys.
    nested = b'{"message": {"timestamp": "5"}, "timestamp": "1764751200000"}'
    assert check(nested, mac_of(nested, "1764751200000")) is not None
    decoys = b"".join(b'"timestamp": "%d", ' % n for n in range(zalo.TIMESTAMP_CANDIDATES))
    hidden = b"{" + decoys + b'"timestamp": "1764751200000"}'
    assert check(hidden, mac_of(hidden, "1764751200000")) is None
    # Text a citizen wrote cannot pose as the field: its quotes are escaped.
    typed = json.dumps({"message": {"text": '"timestamp": "7"'}}).encode()
    assert check(typed, mac_of(typed, "7")) is None


def test_an_events_skew_is_its_distance_from_our_clock() -> None:
    now = datetime(2025, 12, 3, 8, 40, tzinfo=UTC)
    stamp = str(int(now.timestamp() * 1000))
    assert zalo.event_skew(stamp, now) == timedelta()
    assert zalo.event_skew(stamp, now + timedelta(minutes=6)) == timedelta(minutes=-6)
    assert zalo.event_skew("9" * 16, now) > timedelta(days=100 * 365)  # no overflow
    assert zalo.event_skew("0", now) < -timedelta(days=50 * 365)


def test_events_become_incoming_messages() -> None:
    msg = zalo.to_incoming(text_event("dk tiem"))
    assert msg is not None and msg.kind == Kind.TEXT and msg.text == "dk tiem"
    assert msg.chat == ChatRef("zalo", "8001234567890123456") and msg.update_id == "m1"
    command = zalo.to_incoming(text_event("/hotro gấp"))
    assert command is not None and (command.command, command.args) == ("hotro", "gấp")
    follow = {"event_name": "follow", "timestamp": "1", "follower": {"id": "42"}, "oa_id": OA}
    welcome = zalo.to_incoming(follow)
    assert (
        welcome is not None and welcome.command == "start" and welcome.update_id == "follow:42:1"
    )
    info = {
        "event_name": "user_submit_info",
        "timestamp": "2",
        "sender": {"id": "42"},
        "info": {"name": "An", "phone": "84912345678"},
    }
    shared = zalo.to_incoming(info)
    assert shared is not None and shared.kind == Kind.CONTACT
    assert shared.contact is not None and shared.contact.phone == "84912345678"
    assert shared.contact.user_id == "42"
    image = text_event("")
    image["event_name"] = "user_send_image"
    image["message"]["attachments"] = [{"type": "image", "payload": {"url": "https://x/a.jpg"}}]
    photo = zalo.to_incoming(image)
    assert (
        photo is not None and photo.kind == Kind.PHOTO and photo.photo_file_id == "https://x/a.jpg"
    )
    where = text_event("")
    where["event_name"] = "user_send_location"
    located = zalo.to_incoming(where)
    assert located is not None and located.kind == Kind.OTHER
    assert zalo.to_incoming({"event_name": "user_seen_message", "timestamp": "3"}) is None
    receipt = {"event_name": "user_received_message", "sender": {"id": OA}, "timestamp": "4"}
    assert zalo.to_incoming(receipt) is None  # receipts are not the citizen writing
    long_id = text_event("x", msg_id="m" * 200)
    assert len(zalo.event_key(long_id)) <= 64 and zalo.event_key(long_id) != zalo.event_key(
        text_event("x", msg_id="m" * 199)
    )
    assert zalo.to_incoming({"event_name": "oa_send_text", "sender": {"id": OA}}) is None
    assert zalo.to_incoming({"event_name": "user_send_text", "sender": "garbage"}) is None


def test_typed_choices_map_to_buttons() -> None:
    few = [Button("Đặt lịch tiêm", "menu:register"), Button("Kết quả", "menu:results")]
    many = [Button(f"Phường {n}", f"ward:{n}") for n in range(1, 8)]
    assert zalo.choice_payload("dat lich tiem", [few]) == "menu:register"
    assert zalo.choice_payload("Kết quả", [[], few]) == "menu:results"  # an older message
    assert zalo.choice_payload("2", [few]) is None  # only lists take numbers
    assert zalo.choice_payload("3", [many]) == "ward:3"
    assert zalo.choice_payload(" 7 ", [many]) == "ward:7"
    assert zalo.choice_payload("8", [many]) is None
    assert zalo.choice_payload("0", [many]) is None
    assert zalo.choice_payload("3", [[], many]) is None  # the list is no longer the latest
    assert zalo.choice_payload("😀", [many]) is None
    assert zalo.choice_payload("③", [many]) is None  # a digit to Unicode, not to int()
    assert zalo.choice_payload("٣", [many]) is None
    assert zalo.choice_payload("something else", [few, many]) is None


def channel(**kwargs: object) -> zalo.ZaloChannel:
    class Tokens:
        def current(self) -> str:
            return "t"

        async def refresh(self, stale: str) -> str:
            return "t"

    async def no_phone(chat_id: str) -> str | None:
        return None

    return zalo.ZaloChannel(
        api_base_url="http://127.0.0.1:9",
        business_base_url="http://127.0.0.1:9",
        tokens=Tokens(),
        phone_of=no_phone,
        clock=Clock(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_fit_splits_what_zalo_sends_in_separate_calls() -> None:
    chat = ChatRef("zalo", "1")
    ch = channel()
    ask = Outgoing(chat, "Số điện thoại của bạn?", request_phone="Chia sẻ số điện thoại")
    assert ch.fit(ask) == [ask]  # the card carries the question
    long_ask = Outgoing(chat, "Vì sao cần số điện thoại. " * 30, request_phone="Chia sẻ")
    text, request = ch.fit(long_ask)
    assert (text.text, text.request_phone) == (long_ask.text, None)
    assert (request.text, request.request_phone) == ("", "Chia sẻ")
    picture = Outgoing(chat, "Mã QR", image=b"png", buttons=((Button("OK", "ok"),),))
    image, rest = ch.fit(picture)
    assert image.image == b"png" and not image.buttons and rest.image is None and rest.buttons
    many = tuple((Button(f"Lựa chọn {n}", f"c:{n}"),) for n in range(9))
    parts = ch.fit(Outgoing(chat, "Chữ. " * 500, buttons=many))
    assert len(parts) == 2 and parts[-1].buttons == many and not parts[0].buttons
    assert all(len(p.text) + zalo._list_length(zalo._flat(p)) <= zalo.TEXT_LENGTH for p in parts)
    long = ch.fit(Outgoing(chat, "Câu dài. " * 600))
    assert len(long) == 3 and all(len(p.text) <= zalo.TEXT_LENGTH for p in long)
    assert all(p.text.rstrip().endswith(".") for p in long)  # cut at sentence ends


def test_numbered_list_is_worded_in_the_messages_language() -> None:
    chat = ChatRef("zalo", "1")
    vi = tuple((Button(f"Phường {n}", f"w:{n}"),) for n in range(1, 7))
    body = zalo._text_message(Outgoing(chat, "Bạn ở phường nào?", buttons=vi))
    assert "attachment" not in body
    assert body["text"].splitlines()[2:4] == ["1. Phường 1", "2. Phường 2"]
    assert body["text"].endswith("(1–6).") and "Nhắn" in body["text"]
    en = tuple((Button(f"Ward {n}", f"w:{n}"),) for n in range(1, 7))
    assert zalo._text_message(Outgoing(chat, "Which ward?", buttons=en))["text"].startswith(
        "Which ward?\n\n1. Ward 1"
    )
    few = zalo._text_message(Outgoing(chat, "Chọn", buttons=((Button("Có", "y"),),)))
    action = few["attachment"]["payload"]["buttons"][0]
    assert action == {"title": "Có", "type": "oa.query.show", "payload": "Có"}


@pytest.mark.parametrize(
    ("local", "hours"),
    [
        ((21, 59), None),
        ((22, 0), 8.0),
        ((23, 30), 6.5),
        ((3, 0), 3.0),
        ((6, 0), None),
    ],
)
def test_night_ban_lasts_from_ten_to_six(local: tuple[int, int], hours: float | None) -> None:
    moment = datetime(2026, 12, 3, *local, tzinfo=TIMEZONE)
    assert zalo._at_night(moment) == (hours is not None)
    if hours is not None:
        assert zalo._until_morning(moment) == hours * 3600
    assert zalo._until_morning(datetime(2026, 12, 3, 10, tzinfo=TIMEZONE)) == 20 * 3600


def test_phone_numbers_go_in_international_form() -> None:
    assert zalo._international("0912 345 678") == "84912345678"
    assert zalo._international("+84912345678") == "84912345678"
    assert zalo._international("84912345678") == "84912345678"


def test_settings_turn_zalo_on_only_when_complete() -> None:
    assert not Settings.from_env({}).zalo_enabled
    full = {"ZALO_APP_ID": APP, "ZALO_OA_SECRET_KEY": SECRET, "ZALO_APP_SECRET": "s"}
    assert Settings.from_env(full).zalo_enabled
    with pytest.raises(ConfigError, match="set ZALO_APP_SECRET"):
        Settings.from_env({"ZALO_APP_ID": APP, "ZALO_OA_SECRET_KEY": SECRET})
    with pytest.raises(ConfigError, match="ZALO_APP_ID must be the number"):
        Settings.from_env({**full, "ZALO_APP_ID": "abc"})
    with pytest.raises(ConfigError, match="ZALO_API_BASE_URL must be an http"):
        Settings.from_env({**full, "ZALO_API_BASE_URL": "ftp://x"})
    templates = '{"reminder": {"template_id": 231677, "data": {"customer_name": "name"}}}'
    parsed = Settings.from_env({**full, "ZALO_TEMPLATES": templates}).zalo_templates
    assert parsed == {"reminder": ("231677", {"customer_name": "name"})}
    with pytest.raises(ConfigError, match="'party' is not a kind of notice"):
        Settings.from_env({**full, "ZALO_TEMPLATES": '{"party": {"template_id": "1"}}'})
    with pytest.raises(ConfigError, match="reminder has no salary"):
        Settings.from_env(
            {
                **full,
                "ZALO_TEMPLATES": '{"reminder": {"template_id": "1", "data": {"x": "salary"}}}',
            }
        )
    with pytest.raises(ConfigError, match="ZALO_TEMPLATES must be JSON"):
        Settings.from_env({**full, "ZALO_TEMPLATES": "{not json"})
    assert SECRET not in repr(Settings.from_env(full))
