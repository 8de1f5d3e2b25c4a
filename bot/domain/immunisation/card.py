"""The child's immunisation card as a picture, colour-coded like U-WIN's certificate.

One row per dose of the schedule, in schedule order: a coloured badge with a symbol, the dose's
name, its state in words and its day (given on / due from). Colour is never the only signal:
each state also has its own symbol and its words, and a legend under the table repeats them.
Drawn with Pillow and a TrueType font that has the Vietnamese letters (DejaVu Sans, from the
system's fonts: Debian's `fonts-dejavu-core`); about 0.1 s per card, mostly the PNG encoding.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.domain.immunisation.rules import Assessment, DoseState, DoseStatus, State
from bot.i18n import _, current_locale

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
)
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
WIDTH, MARGIN, ROW, HEADER = 960, 32, 44, 150
INK, MUTED, LINE, PAPER = (33, 37, 41), (108, 117, 125), (222, 226, 230), (255, 255, 255)


@dataclass(frozen=True)
class Look:
    """How one state is drawn: its badge colour, its symbol (for those who do not see colour)."""

    colour: tuple[int, int, int]
    symbol: str


GIVEN = Look((25, 135, 84), "✓")  # green: given by a site
REPORTED = Look((32, 201, 151), "✓?")  # teal: reported by the parent, not confirmed yet
LOOKS = {
    State.DUE: Look((253, 126, 20), "!"),  # orange
    State.OVERDUE: Look((220, 53, 69), "!!"),  # red
    State.UPCOMING: Look((13, 110, 253), "○"),  # blue
    State.NOT_INDICATED: Look((173, 181, 189), "–"),  # grey
}


class FontMissing(RuntimeError):
    """No font with the Vietnamese letters was found (install `fonts-dejavu-core`)."""


@cache
def font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The card's font at `size` pixels.

    Raises:
        FontMissing: DejaVu Sans is in none of `FONT_DIRS`.
    """
    name = BOLD if bold else REGULAR
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return ImageFont.truetype(str(folder / name), size)
    raise FontMissing(name)


def short_day(day: date) -> str:
    """A day as the card writes it: 01/06/2026."""
    return day.strftime("%d/%m/%Y")


def look_of(state: DoseState) -> Look:
    """The badge of a dose's state (a done dose: given by a site, or reported)."""
    if state.state is State.DONE:
        reported = state.record is not None and state.record.status is DoseStatus.REPORTED
        return REPORTED if reported else GIVEN
    return LOOKS[state.state]


def state_words(state: DoseState) -> str:
    """The dose's state and day in words, as on the card's row."""
    if state.state is State.DONE and state.record is not None:
        day = short_day(state.record.given_on)
        if state.record.status is DoseStatus.REPORTED:
            return _("Given {day} (reported, not confirmed)").format(day=day)
        return _("Given {day}").format(day=day)
    day = short_day(state.due_on) if state.due_on else ""
    if state.state is State.OVERDUE:
        return _("Overdue, due since {day}").format(day=day)
    if state.state is State.DUE:
        return _("Due now, since {day}").format(day=day)
    if state.state is State.UPCOMING:
        return _("From {day}").format(day=day)
    return _("No longer given at this age")


def legend() -> list[tuple[Look, str]]:
    """The legend's entries, in the card's order."""
    return [
        (GIVEN, _("given")),
        (REPORTED, _("reported by a parent")),
        (LOOKS[State.DUE], _("due")),
        (LOOKS[State.OVERDUE], _("overdue")),
        (LOOKS[State.UPCOMING], _("next")),
        (LOOKS[State.NOT_INDICATED], _("no longer indicated")),
    ]


def row_top(index: int) -> int:
    """The top of row `index` (0: the first dose) in pixels; tests read badges there."""
    return HEADER + index * ROW


def card_png(name: str, born: date, found: Assessment) -> bytes:
    """The card of the child `name` born on `born`, in the current language, as a PNG.

    Raises:
        FontMissing: the system has no DejaVu Sans.
    """
    height = row_top(len(found.doses)) + 2 * ROW + MARGIN
    image = Image.new("RGB", (WIDTH, height), PAPER)
    draw = ImageDraw.Draw(image)
    _header(draw, name, born, found)
    locale = current_locale()
    for index, state in enumerate(found.doses):
        _row(draw, row_top(index), state, state.dose.name(locale))
    _legend(draw, row_top(len(found.doses)) + ROW // 2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _header(draw: ImageDraw.ImageDraw, name: str, born: date, found: Assessment) -> None:
    draw.text((MARGIN, 24), _("Immunisation card"), fill=MUTED, font=font(22))
    draw.text((MARGIN, 54), name, fill=INK, font=font(34, bold=True))
    facts = _("Born {born} · as of {today}").format(
        born=short_day(born), today=short_day(found.today)
    )
    if found.next_date is not None:
        facts += " · " + _("next dose {day}").format(day=short_day(found.next_date))
    draw.text((MARGIN, 100), facts, fill=MUTED, font=font(20))
    draw.line((MARGIN, HEADER - 8, WIDTH - MARGIN, HEADER - 8), fill=LINE, width=2)


def _badge(draw: ImageDraw.ImageDraw, left: int, top: int, look: Look) -> None:
    box = (left, top + 6, left + 56, top + ROW - 6)
    draw.rounded_rectangle(box, radius=8, fill=look.colour)
    draw.text(
        ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2),
        look.symbol,
        fill=PAPER,
        font=font(20, bold=True),
        anchor="mm",
    )


def _row(draw: ImageDraw.ImageDraw, top: int, state: DoseState, label: str) -> None:
    look = look_of(state)
    _badge(draw, MARGIN, top, look)
    words = state_words(state)
    bold = state.state in (State.DUE, State.OVERDUE)
    room = WIDTH - 2 * MARGIN - 72 - 16 - draw.textlength(words, font=font(19, bold=bold))
    while len(label) > 4 and draw.textlength(label, font=font(20)) > room:
        label = label[:-2].rstrip() + "…"
    draw.text((MARGIN + 72, top + ROW // 2), label, fill=INK, font=font(20), anchor="lm")
    draw.text(
        (WIDTH - MARGIN, top + ROW // 2),
        words,
        fill=look.colour if bold else MUTED,
        font=font(19, bold=bold),
        anchor="rm",
    )
    draw.line((MARGIN, top + ROW, WIDTH - MARGIN, top + ROW), fill=LINE, width=1)


def _legend(draw: ImageDraw.ImageDraw, top: int) -> None:
    left = MARGIN
    for look, words in legend():
        small = font(16)
        badge = (left, top + 10, left + 34, top + ROW - 10)
        draw.rounded_rectangle(badge, radius=6, fill=look.colour)
        draw.text(
            ((badge[0] + badge[2]) // 2, top + ROW // 2),
            look.symbol,
            fill=PAPER,
            font=font(14, bold=True),
            anchor="mm",
        )
        draw.text((left + 40, top + ROW // 2), words, fill=INK, font=small, anchor="lm")
        left += 40 + int(draw.textlength(words, font=small)) + 22
        if left > WIDTH - 160:
            left, top = MARGIN, top + ROW
