"""The national schedule as frozen data, read from `schedule_vn.json` and validated once.

Every figure in the file is either sourced (`"sources"`: keys of the file's `sources` table, each
a title, an address and the exact passage) or marked `"unknown"` with what was searched; an
unknown figure still carries the value the engine assumes, and `Schedule.unknown_figures()` lists
them. Vietnamese names are data (medical names as the vaccination card prints them), not
gettext entries; English names sit beside them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot.domain.immunisation.durations import Duration

SCHEDULE_FILE = Path(__file__).with_name("schedule_vn.json")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# Birth dates on which durations are compared, month ends and a leap day included, so that
# "P1M" against "P28D" is judged on the days where the month rule bites.
_REFERENCE_BIRTHS = (
    date(2024, 1, 31),
    date(2024, 2, 29),
    date(2023, 3, 31),
    date(2023, 12, 31),
    date(2025, 6, 15),
)
_DOSE_KEYS = frozenset(
    {
        "number",
        "name_vi",
        "name_en",
        "recommended_age",
        "recommended_interval",
        "min_age",
        "min_interval",
        "max_age",
    }
)
_VACCINE_KEYS = frozenset(
    {"code", "name_vi", "name_en", "live_injected", "note", "note_sources", "doses"}
)
_FIGURE_FIELDS = ("recommended_age", "min_age", "min_interval", "recommended_interval", "max_age")


class ScheduleError(ValueError):
    """The schedule file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Source:
    """Where figures come from: a title, an address and the exact passage relied on."""

    key: str
    title: str
    url: str
    quote: str


@dataclass(frozen=True)
class Figure:
    """An age or an interval with its provenance.

    `sources` names the passages that give it; when none was found, `sources` is empty and
    `unknown` says what was searched and why `value` was assumed.
    """

    value: Duration
    sources: tuple[str, ...] = ()
    unknown: str | None = None


@dataclass(frozen=True)
class Dose:
    """One dose of a vaccine series, with its ages and intervals.

    `min_interval` and `recommended_interval` run from the previous dose of the same series
    (None for dose 1). `max_age`: from the day the child reaches it, the dose is no longer
    indicated.
    """

    vaccine: str
    number: int
    name_vi: str
    name_en: str
    recommended_age: Figure
    min_age: Figure
    min_interval: Figure | None = None
    recommended_interval: Figure | None = None
    max_age: Figure | None = None

    def name(self, locale: str) -> str:
        """The dose's name in `locale` (`vi`, or English for anything else)."""
        return self.name_vi if locale == "vi" else self.name_en


@dataclass(frozen=True)
class Vaccine:
    """A vaccine series of the schedule; `live_injected` vaccines keep 28 days from each other."""

    code: str
    name_vi: str
    name_en: str
    live_injected: bool
    doses: tuple[Dose, ...]
    note: str = ""  # for staff: a caveat, sourced by `note_sources`
    note_sources: tuple[str, ...] = ()

    def name(self, locale: str) -> str:
        """The vaccine's name in `locale` (`vi`, or English for anything else)."""
        return self.name_vi if locale == "vi" else self.name_en


@dataclass(frozen=True)
class Rules:
    """Figures the engine applies to every vaccine.

    `validity_grace`: a dose this much before a minimum age or interval still counts.
    `overdue_after`: a dose is overdue once this much past the day it was due.
    `live_spacing`: two different live injected vaccines are given together or this far apart.
    """

    validity_grace: Figure
    overdue_after: Figure
    live_spacing: Figure


@dataclass(frozen=True)
class Schedule:
    """The whole schedule: its legal basis, rules, vaccines (in card order) and sources."""

    name: str
    legal_basis: str
    in_force_from: date
    status_note: str
    rules: Rules
    vaccines: tuple[Vaccine, ...]
    sources: Mapping[str, Source]

    def vaccine(self, code: str) -> Vaccine:
        """The vaccine with `code`.

        Raises:
            KeyError: no such vaccine in the schedule.
        """
        for vaccine in self.vaccines:
            if vaccine.code == code:
                return vaccine
        raise KeyError(code)

    def unknown_figures(self) -> Iterator[tuple[str, Figure]]:
        """Every figure no source gave, labelled `vaccine dose N field`, with its assumption."""
        for vaccine in self.vaccines:
            for dose in vaccine.doses:
                for field in _FIGURE_FIELDS:
                    figure = getattr(dose, field)
                    if figure is not None and figure.unknown is not None:
                        yield f"{vaccine.code} dose {dose.number} {field}", figure


def load_schedule(path: Path = SCHEDULE_FILE) -> Schedule:
    """Read and validate the schedule file (once per path; call it at start-up).

    Raises:
        ScheduleError: the file is missing, not JSON, or breaks a rule; the message names the
            entry.
    """
    return _load(path.resolve())


@cache
def _load(path: Path) -> Schedule:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ScheduleError(f"{path.name}: cannot be read: {error}") from None
    return parse_schedule(raw, origin=path.name)


def parse_schedule(raw: Any, *, origin: str = "schedule") -> Schedule:
    """Build a `Schedule` from parsed JSON, checking every rule of the format.

    Raises:
        ScheduleError: the first broken rule, naming `origin` and the entry.
    """
    top = _Reader(origin)
    data = top.mapping(raw, "the file")
    sources = _sources(top, data.get("sources"))
    checker = _Reader(origin, frozenset(sources))
    try:
        in_force = date.fromisoformat(checker.text(data.get("in_force_from"), "in_force_from"))
    except ValueError:
        raise checker.error("in_force_from", "must be a date such as 2024-08-01") from None
    checker.source_list(data.get("in_force_source"), "in_force_source")
    rules = checker.mapping(data.get("rules"), "rules")
    raw_vaccines = data.get("vaccines")
    if not isinstance(raw_vaccines, list) or not raw_vaccines:
        raise checker.error("vaccines", "must be a non-empty list")
    vaccines = tuple(_vaccine(checker, item, i) for i, item in enumerate(raw_vaccines, 1))
    codes = [v.code for v in vaccines]
    if len(set(codes)) != len(codes):
        duplicate = next(code for code in codes if codes.count(code) > 1)
        raise checker.error(f"vaccine {duplicate!r}", "appears twice")
    return Schedule(
        name=checker.text(data.get("schedule"), "schedule"),
        legal_basis=checker.text(data.get("legal_basis"), "legal_basis"),
        in_force_from=in_force,
        status_note=str(data.get("status_note", "")),
        rules=Rules(
            validity_grace=checker.figure(rules.get("validity_grace"), "rules validity_grace"),
            overdue_after=checker.figure(rules.get("overdue_after"), "rules overdue_after"),
            live_spacing=checker.figure(rules.get("live_spacing"), "rules live_spacing"),
        ),
        vaccines=vaccines,
        sources=MappingProxyType(sources),
    )


def _sources(reader: _Reader, raw: Any) -> dict[str, Source]:
    table = reader.mapping(raw, "sources")
    if not table:
        raise reader.error("sources", "must not be empty")
    sources = {}
    for key, value in table.items():
        entry = reader.mapping(value, f"source {key!r}")
        sources[key] = Source(
            key=key,
            title=reader.text(entry.get("title"), f"source {key!r} title"),
            url=reader.text(entry.get("url"), f"source {key!r} url"),
            quote=reader.text(entry.get("quote"), f"source {key!r} quote"),
        )
    return sources


def _vaccine(reader: _Reader, raw: Any, position: int) -> Vaccine:
    item = reader.mapping(raw, f"vaccine #{position}")
    code = item.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise reader.error(f"vaccine #{position}", "needs a code of lowercase letters and _")
    where = f"vaccine {code!r}"
    reader.known_keys(item, _VACCINE_KEYS, where)
    live = item.get("live_injected")
    if not isinstance(live, bool):
        raise reader.error(where, "live_injected must be true or false")
    raw_doses = item.get("doses")
    if not isinstance(raw_doses, list) or not raw_doses:
        raise reader.error(where, "needs a non-empty list of doses")
    doses = tuple(_dose(reader, code, dose, i) for i, dose in enumerate(raw_doses, 1))
    note = item.get("note")
    note_sources: tuple[str, ...] = ()
    if note is not None:
        note = reader.text(note, f"{where} note")
        note_sources = reader.source_list(item.get("note_sources"), f"{where} note_sources")
    return Vaccine(
        code=code,
        name_vi=reader.text(item.get("name_vi"), f"{where} name_vi"),
        name_en=reader.text(item.get("name_en"), f"{where} name_en"),
        live_injected=live,
        doses=doses,
        note=note or "",
        note_sources=note_sources,
    )


def _dose(reader: _Reader, code: str, raw: Any, position: int) -> Dose:
    item = reader.mapping(raw, f"vaccine {code!r} dose #{position}")
    where = f"vaccine {code!r} dose {item.get('number')!r}"
    if item.get("number") != position:
        raise reader.error(where, f"doses must be numbered 1..n in order; expected {position}")
    reader.known_keys(item, _DOSE_KEYS, where)

    def figure(field: str) -> Figure | None:
        value = item.get(field)
        return None if value is None else reader.figure(value, f"{where} {field}")

    recommended, minimum = figure("recommended_age"), figure("min_age")
    if recommended is None or minimum is None:
        raise reader.error(where, "needs recommended_age and min_age")
    interval, recommended_interval = figure("min_interval"), figure("recommended_interval")
    if position == 1 and (interval or recommended_interval):
        raise reader.error(where, "dose 1 has no interval from a previous dose")
    if position > 1 and interval is None:
        raise reader.error(where, "needs min_interval from the previous dose")
    maximum = figure("max_age")
    if not _not_later(minimum.value, recommended.value):
        raise reader.error(
            where, f"min_age {minimum.value} is later than recommended_age {recommended.value}"
        )
    shortest, usual = interval, recommended_interval
    if shortest and usual and not _not_later(shortest.value, usual.value):
        raise reader.error(
            where,
            f"min_interval {shortest.value} is longer than recommended_interval {usual.value}",
        )
    if maximum and _not_later(maximum.value, recommended.value):
        raise reader.error(
            where, f"max_age {maximum.value} is not after recommended_age {recommended.value}"
        )
    return Dose(
        vaccine=code,
        number=position,
        name_vi=reader.text(item.get("name_vi"), f"{where} name_vi"),
        name_en=reader.text(item.get("name_en"), f"{where} name_en"),
        recommended_age=recommended,
        min_age=minimum,
        min_interval=interval,
        recommended_interval=recommended_interval,
        max_age=maximum,
    )


def _not_later(first: Duration, second: Duration) -> bool:
    """Whether `first` never ends after `second`, for births on month ends and a leap day."""
    return all(first.after(born) <= second.after(born) for born in _REFERENCE_BIRTHS)


class _Reader:
    """Type checks that raise a `ScheduleError` naming the file and the entry."""

    def __init__(self, origin: str, sources: frozenset[str] = frozenset()) -> None:
        self.origin = origin
        self.sources = sources

    def error(self, where: str, problem: str) -> ScheduleError:
        return ScheduleError(f"{self.origin}: {where}: {problem}")

    def mapping(self, raw: Any, where: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.error(where, "must be an object")
        return raw

    def text(self, raw: Any, where: str) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise self.error(where, "must be a non-empty text")
        return raw

    def known_keys(self, item: dict[str, Any], allowed: frozenset[str], where: str) -> None:
        unknown = sorted(set(item) - allowed)
        if unknown:
            raise self.error(where, f"unknown field(s) {', '.join(unknown)}")

    def source_list(self, raw: Any, where: str) -> tuple[str, ...]:
        if not isinstance(raw, list) or not raw or not all(isinstance(k, str) for k in raw):
            raise self.error(where, "needs a non-empty list of source keys")
        missing = [key for key in raw if key not in self.sources]
        if missing:
            raise self.error(where, f"cites unknown source(s) {', '.join(missing)}")
        return tuple(raw)

    def figure(self, raw: Any, where: str) -> Figure:
        item = self.mapping(raw, where)
        try:
            value = Duration.parse(self.text(item.get("value"), f"{where} value"))
        except ValueError as error:
            raise self.error(where, str(error)) from None
        has_sources, unknown = "sources" in item, item.get("unknown")
        if has_sources == (unknown is not None):
            raise self.error(
                where, "needs its sources, or 'unknown' with what was searched (not both)"
            )
        if unknown is not None:
            return Figure(value, (), self.text(unknown, f"{where} unknown"))
        return Figure(value, self.source_list(item["sources"], f"{where} sources"))
