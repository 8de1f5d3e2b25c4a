"""The child's card as a picture: a row per dose, colour and symbol and words per state."""

from __future__ import annotations

import io
from datetime import date

from PIL import Image, ImageDraw

from bot.domain.immunisation import card
from bot.domain.immunisation.rules import DoseRecord, DoseStatus, State, assess
from bot.domain.immunisation.schedule import load_schedule
from bot.i18n import use_locale

BORN, TODAY = date(2025, 9, 1), date(2026, 12, 7)
RECORDS = [
    DoseRecord("hepb_birth", 1, date(2025, 9, 1)),  # given by a site
    DoseRecord("bcg", 1, date(2025, 9, 20), DoseStatus.REPORTED),  # reported by the parent
]


def badge_colour(png: bytes, index: int) -> tuple[int, int, int]:
    """The colour at the left edge of row `index`'s badge (clear of its symbol)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixel = image.getpixel((card.MARGIN + 6, card.row_top(index) + card.ROW // 2))
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


def test_each_dose_has_a_row_coloured_by_its_state() -> None:
    found = assess(load_schedule(), BORN, RECORDS, today=TODAY)
    with use_locale("vi"):
        png = card.card_png("Nguyễn Thị Ánh Dương", BORN, found)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width == card.WIDTH
    assert image.height > card.row_top(len(found.doses))
    states = [d.state for d in found.doses]
    assert {State.DONE, State.OVERDUE, State.UPCOMING} <= set(states)
    for index, state in enumerate(found.doses):
        assert badge_colour(png, index) == card.look_of(state).colour, (index, state)
    assert card.look_of(found.doses[0]) is card.GIVEN
    assert card.look_of(found.doses[1]) is card.REPORTED


def test_colour_is_not_the_only_signal() -> None:
    looks = [card.GIVEN, card.REPORTED, *card.LOOKS.values()]
    assert len({look.symbol for look in looks}) == len(looks)
    assert len({look.colour for look in looks}) == len(looks)
    found = assess(load_schedule(), BORN, RECORDS, today=TODAY)
    with use_locale("vi"):
        words = [card.state_words(d) for d in found.doses]
        legend = [text for _look, text in card.legend()]
    assert words[0] == "Đã tiêm 01/09/2025"
    assert words[1] == "Đã tiêm 20/09/2025 (gia đình khai, chưa xác nhận)"
    overdue = next(d for d in found.doses if d.state is State.OVERDUE)
    with use_locale("vi"):
        assert card.state_words(overdue).startswith("Quá hạn, đến hạn từ ")
    with use_locale("en"):
        assert card.state_words(overdue).startswith("Overdue, due since ")
    assert legend == [
        "đã tiêm",
        "gia đình khai",
        "đến hạn",
        "quá hạn",
        "sắp tới",
        "không còn chỉ định",
    ]


def drawn(text: str) -> bytes:
    image = Image.new("L", (40, 40))
    ImageDraw.Draw(image).text((4, 4), text, fill=255, font=card.font(20))
    return image.tobytes()


def test_the_font_draws_every_vietnamese_letter() -> None:
    missing = drawn("\uffff")  # the "no such glyph" box
    letters = "ăâđêôơưĂÂĐÊÔƠƯảãạấầẩẫậếềểễệốồổỗộớờởỡợứừửữựỳỷỹỵ✓○–"
    assert [letter for letter in letters if drawn(letter) in (missing, drawn(""))] == []
    assert drawn("ễ") != drawn("ê") != drawn("e")  # the marks are drawn, not dropped


def test_the_card_changes_when_a_dose_is_recorded() -> None:
    before = assess(load_schedule(), BORN, RECORDS, today=TODAY)
    after = assess(load_schedule(), BORN, [*RECORDS, DoseRecord("dtp", 1, TODAY)], today=TODAY)
    with use_locale("vi"):
        first = card.card_png("Bé An", BORN, before)
        second = card.card_png("Bé An", BORN, after)
    row = next(i for i, d in enumerate(after.doses) if d.dose.vaccine == "dtp")
    assert badge_colour(first, row) == card.LOOKS[State.OVERDUE].colour
    assert badge_colour(second, row) == card.GIVEN.colour
