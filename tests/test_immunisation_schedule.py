"""The national schedule file: what it encodes, that every figure is sourced, and broken files."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.domain.immunisation.durations import Duration, add_months, completed_months
from bot.domain.immunisation.schedule import (
    SCHEDULE_FILE,
    ScheduleError,
    load_schedule,
    parse_schedule,
)

SHIPPED: dict[str, Any] = json.loads(SCHEDULE_FILE.read_text(encoding="utf-8"))

# The schedule as encoded (Circular 10/2024/TT-BYT ages; WHO minimums): vaccine, dose,
# recommended age, minimum age, minimum interval from the previous dose, maximum age.
TABLE = [
    ("hepb_birth", 1, "P0D", "P0D", None, "P2M"),
    ("bcg", 1, "P0D", "P0D", None, None),
    ("dtp", 1, "P2M", "P6W", None, "P7Y"),
    ("dtp", 2, "P3M", "P6W", "P28D", "P7Y"),
    ("dtp", 3, "P4M", "P6W", "P28D", "P7Y"),
    ("dtp", 4, "P18M", "P12M", "P6M", "P7Y"),
    ("opv", 1, "P2M", "P6W", None, None),
    ("opv", 2, "P3M", "P6W", "P28D", None),
    ("opv", 3, "P4M", "P6W", "P28D", None),
    ("ipv", 1, "P5M", "P14W", None, None),
    ("ipv", 2, "P9M", "P14W", "P4M", None),
    ("rota", 1, "P2M", "P6W", None, "P24M"),
    ("rota", 2, "P3M", "P6W", "P28D", "P24M"),
    ("measles", 1, "P9M", "P9M", None, None),
    ("measles", 2, "P18M", "P15M", "P28D", None),
    ("je", 1, "P12M", "P12M", None, None),
    ("je", 2, "P12M2W", "P12M", "P1W", None),
    ("je", 3, "P24M2W", "P12M", "P1Y", None),
    ("td", 1, "P7Y", "P7Y", None, None),
]


def test_the_shipped_schedule_encodes_the_circular() -> None:
    schedule = load_schedule()
    encoded = [
        (
            dose.vaccine,
            dose.number,
            str(dose.recommended_age.value),
            str(dose.min_age.value),
            dose.min_interval and str(dose.min_interval.value),
            dose.max_age and str(dose.max_age.value),
        )
        for vaccine in schedule.vaccines
        for dose in vaccine.doses
    ]
    assert encoded == TABLE
    assert schedule.in_force_from == date(2024, 8, 1)
    assert "10/2024/TT-BYT" in schedule.legal_basis
    rules = schedule.rules
    assert [str(rules.validity_grace.value), str(rules.overdue_after.value)] == ["P4D", "P1M"]
    assert str(rules.live_spacing.value) == "P28D"
    assert schedule.vaccine("measles").live_injected
    assert not schedule.vaccine("opv").live_injected  # oral: WHO's exception to the 4-week rule
    assert schedule.vaccine("dtp").doses[0].name("vi") == "5 trong 1 (DPT-VGB-Hib) mũi 1"
    assert schedule.vaccine("dtp").doses[0].name("en") == "Pentavalent (DTP-HepB-Hib) dose 1"


def test_every_figure_is_sourced_or_reported_unknown() -> None:
    schedule = load_schedule()
    cited: set[str] = set()
    for vaccine in schedule.vaccines:
        for dose in vaccine.doses:
            for figure in (
                dose.recommended_age,
                dose.min_age,
                dose.min_interval,
                dose.recommended_interval,
                dose.max_age,
            ):
                if figure is not None:
                    assert figure.sources or figure.unknown
                    cited.update(figure.sources)
    for figure in vars(schedule.rules).values():
        cited.update(figure.sources)
    for vaccine in schedule.vaccines:
        cited.update(vaccine.note_sources)
    cited.update(SHIPPED["in_force_source"] + SHIPPED["status_sources"])
    assert cited == set(schedule.sources), "every source is used and every use has a source"
    assert all(s.title and s.url and s.quote for s in schedule.sources.values())
    assert [label for label, _ in schedule.unknown_figures()] == [
        "rota dose 2 recommended_age",
        "rota dose 2 recommended_interval",
        "je dose 3 min_interval",
    ]
    assert all("Searched" in str(figure.unknown) for _, figure in schedule.unknown_figures())


def test_sources_md_lists_every_source_of_the_file() -> None:
    listed = (SCHEDULE_FILE.parent / "SOURCES.md").read_text(encoding="utf-8")
    assert [key for key in SHIPPED["sources"] if f"`{key}`" not in listed] == []


def _dose(data: dict[str, Any], code: str, number: int) -> dict[str, Any]:
    vaccine = next(v for v in data["vaccines"] if v["code"] == code)
    dose: dict[str, Any] = vaccine["doses"][number - 1]
    return dose


def _renumber(data: dict[str, Any]) -> None:
    _dose(data, "dtp", 2)["number"] = 3


def _negative_interval(data: dict[str, Any]) -> None:
    _dose(data, "dtp", 2)["min_interval"]["value"] = "P-28D"


def _min_age_after_recommended(data: dict[str, Any]) -> None:
    _dose(data, "measles", 1)["min_age"]["value"] = "P10M"


def _unsourced(data: dict[str, Any]) -> None:
    del _dose(data, "opv", 1)["min_age"]["sources"]


def _unknown_source(data: dict[str, Any]) -> None:
    _dose(data, "ipv", 1)["min_age"]["sources"] = ["who-polio", "a-blog"]


def _sourced_and_unknown(data: dict[str, Any]) -> None:
    _dose(data, "bcg", 1)["min_age"]["unknown"] = "searched nothing"


def _interval_on_dose_1(data: dict[str, Any]) -> None:
    _dose(data, "je", 1)["min_interval"] = {"value": "P7D", "sources": ["je-interval"]}


def _no_interval_on_dose_2(data: dict[str, Any]) -> None:
    del _dose(data, "je", 2)["min_interval"]


def _max_before_recommended(data: dict[str, Any]) -> None:
    _dose(data, "rota", 2)["max_age"]["value"] = "P2M"


def _interval_over_usual(data: dict[str, Any]) -> None:
    _dose(data, "dtp", 3)["min_interval"]["value"] = "P5W"


def _duplicate_vaccine(data: dict[str, Any]) -> None:
    data["vaccines"].append(copy.deepcopy(data["vaccines"][0]))


def _typo(data: dict[str, Any]) -> None:
    _dose(data, "dtp", 4)["min_intreval"] = _dose(data, "dtp", 4).pop("min_interval")


def _empty_name(data: dict[str, Any]) -> None:
    _dose(data, "td", 1)["name_vi"] = " "


def _no_rules(data: dict[str, Any]) -> None:
    del data["rules"]["overdue_after"]


def _source_without_quote(data: dict[str, Any]) -> None:
    del data["sources"]["who-rota"]["quote"]


def _unsourced_note(data: dict[str, Any]) -> None:
    del next(v for v in data["vaccines"] if v["code"] == "bcg")["note_sources"]


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_renumber, "vaccine 'dtp' dose 3: doses must be numbered 1..n in order; expected 2"),
        (_negative_interval, "vaccine 'dtp' dose 2 min_interval: 'P-28D' is not a duration"),
        (_min_age_after_recommended, "vaccine 'measles' dose 1: min_age P10M is later than"),
        (_unsourced, "vaccine 'opv' dose 1 min_age: needs its sources, or 'unknown'"),
        (_unknown_source, "vaccine 'ipv' dose 1 min_age sources: cites unknown source(s) a-blog"),
        (_sourced_and_unknown, "vaccine 'bcg' dose 1 min_age: needs its sources"),
        (_interval_on_dose_1, "vaccine 'je' dose 1: dose 1 has no interval"),
        (_no_interval_on_dose_2, "vaccine 'je' dose 2: needs min_interval"),
        (_max_before_recommended, "vaccine 'rota' dose 2: max_age P2M is not after"),
        (_interval_over_usual, "vaccine 'dtp' dose 3: min_interval P5W is longer than"),
        (_duplicate_vaccine, "vaccine 'hepb_birth': appears twice"),
        (_typo, "vaccine 'dtp' dose 4: unknown field(s) min_intreval"),
        (_empty_name, "vaccine 'td' dose 1 name_vi: must be a non-empty text"),
        (_no_rules, "rules overdue_after: must be an object"),
        (_source_without_quote, "source 'who-rota' quote: must be a non-empty text"),
        (_unsourced_note, "vaccine 'bcg' note_sources: needs a non-empty list of source keys"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else "",
)
def test_a_broken_schedule_is_refused_naming_the_entry(breakage: Any, message: str) -> None:
    data = copy.deepcopy(SHIPPED)
    breakage(data)
    with pytest.raises(ScheduleError) as refused:
        parse_schedule(data, origin="broken.json")
    assert str(refused.value).startswith("broken.json: ")
    assert message in str(refused.value)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "schedule.json"
    broken.write_text("{ not json", encoding="utf-8")
    with pytest.raises(ScheduleError, match=r"^schedule\.json: cannot be read"):
        load_schedule(broken)
    with pytest.raises(ScheduleError, match="cannot be read"):
        load_schedule(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P0D", Duration()),
        ("P6W", Duration(weeks=6)),
        ("P1Y6M", Duration(years=1, months=6)),
        ("P12M2W", Duration(months=12, weeks=2)),
        ("P28D", Duration(days=28)),
    ],
)
def test_durations_read_and_print_back(text: str, expected: Duration) -> None:
    assert Duration.parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["P", "2M", "P-1D", "P1.5M", "PT12H", "P1D2M", ""])
def test_durations_refuse_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        Duration.parse(text)


@pytest.mark.parametrize(
    ("born", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # month end, leap year
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 2, date(2024, 3, 31)),  # the day comes back when it exists
        (date(2024, 1, 31), 3, date(2024, 4, 30)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # leap-day birth, first birthday
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 2, 29), 2, date(2024, 4, 29)),
        (date(2024, 11, 30), 2, date(2025, 1, 30)),  # across a year
    ],
)
def test_month_arithmetic_clamps_to_the_month_end(born: date, months: int, expected: date) -> None:
    assert add_months(born, months) == expected
    assert completed_months(born, expected) == months
    assert completed_months(born, date.fromordinal(expected.toordinal() - 1)) == months - 1
