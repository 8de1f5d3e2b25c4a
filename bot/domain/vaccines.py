"""Vaccine products licensed in Vietnam and the rules for the next dose, kept as data.

Intervals are the label minimums the Ministry of Health applied in 2021-22
(reference/vietnam-domain.md §6): AstraZeneca 8 weeks (8-12), Comirnaty 3 weeks, Spikevax
4 weeks, Vero Cell / Hayat-Vax 3 weeks, Sputnik V 3 weeks (component II after I), Abdala
14 days between each of 3 doses, Janssen one dose. A booster comes at least 3 months after the
last dose (MoH, March 2022). Mixing: AstraZeneca may be followed by an mRNA vaccine, Comirnaty
and Spikevax by each other; inactivated vaccines, Sputnik V and Abdala only by themselves in the
primary series; any booster product after a completed series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class DccCodes:
    """How a product is coded in a vaccination certificate (EU DCC value sets).

    Per `vaccine-encoding-instructions.json` of the value sets: `vp` vaccine type (SNOMED CT),
    `mp` medicinal product, `ma` marketing-authorisation holder or manufacturer.
    """

    vp: str
    mp: str
    ma: str


@dataclass(frozen=True)
class Product:
    """A vaccine product: how many primary doses and how far apart, and its DCC codes."""

    key: str
    label: str  # the product's own name, shown as is in every language
    primary_doses: int
    interval_days: int  # minimum days between primary doses
    primary_mix: frozenset[str]  # products allowed for the next primary dose (itself included)
    dcc: DccCodes


MRNA, VECTOR, INACTIVATED, COVID19_VACCINE = (
    "1119349007",
    "29061000087103",
    "1157024006",
    "28531000087107",
)


def _product(key: str, label: str, doses: int, days: int, dcc: DccCodes, *mix: str) -> Product:
    return Product(key, label, doses, days, frozenset((key, *mix)), dcc)


PRODUCTS: dict[str, Product] = {
    p.key: p
    for p in (
        _product(
            "astrazeneca",
            "AstraZeneca (Vaxzevria)",
            2,
            56,
            DccCodes(VECTOR, "EU/1/21/1529", "ORG-100001699"),
            "pfizer",
            "moderna",
        ),
        _product(
            "pfizer",
            "Pfizer-BioNTech (Comirnaty)",
            2,
            21,
            DccCodes(MRNA, "EU/1/20/1528", "ORG-100030215"),
            "moderna",
        ),
        _product(
            "moderna",
            "Moderna (Spikevax)",
            2,
            28,
            DccCodes(MRNA, "EU/1/20/1507", "ORG-100031184"),
            "pfizer",
        ),
        _product(
            "verocell",
            "Sinopharm (Vero Cell)",
            2,
            21,
            DccCodes(INACTIVATED, "BBIBP-CorV", "ORG-100020693"),
            "hayatvax",
        ),
        _product(
            "hayatvax",
            "Hayat-Vax",
            2,
            21,
            DccCodes(INACTIVATED, "Hayat-Vax", "ORG-100023050"),
            "verocell",
        ),
        _product(
            "sputnikv",
            "Sputnik V",
            2,
            21,
            DccCodes(VECTOR, "Sputnik-V", "Gamaleya-Research-Institute"),
        ),
        _product("abdala", "Abdala", 3, 14, DccCodes(COVID19_VACCINE, "Abdala", "CIGB")),
        _product("janssen", "Janssen", 1, 0, DccCodes(VECTOR, "EU/1/20/1525", "ORG-100001417")),
    )
}
BY_DCC_PRODUCT = {p.dcc.mp: p for p in PRODUCTS.values()}  # a certificate's `mp` -> product
BOOSTER_AFTER_DAYS = 90
BOOSTER_PRODUCTS = frozenset({"pfizer", "moderna", "astrazeneca"})
BOOSTERS = 2  # at most two booster doses after the primary series


@dataclass(frozen=True)
class Given:
    """A dose already given (what the rules need of a vaccination record)."""

    product: str
    given_on: date


@dataclass(frozen=True)
class NextDose:
    """What a person may book next: dose number, from when, with which products.

    `number` is None when the schedule is complete (no further dose is offered).
    """

    number: int | None
    earliest: date
    products: frozenset[str]
    booster: bool = False


def next_dose(history: Sequence[Given], *, today: date) -> NextDose:
    """The next dose after `history` (in dose order), per the rules above."""
    if not history:
        return NextDose(1, today, frozenset(PRODUCTS))
    first = PRODUCTS.get(history[0].product)
    last = history[-1]
    primary = first.primary_doses if first else 2
    number = len(history) + 1
    if number > primary + BOOSTERS:
        return NextDose(None, today, frozenset())
    if number <= primary and first is not None:
        earliest = last.given_on + timedelta(days=first.interval_days)
        return NextDose(number, max(earliest, today), first.primary_mix)
    earliest = last.given_on + timedelta(days=BOOSTER_AFTER_DAYS)
    return NextDose(number, max(earliest, today), BOOSTER_PRODUCTS, booster=True)


def allowed(product: str, history: Sequence[Given], *, today: date) -> bool:
    """Whether `product` may be given as the next dose today."""
    upcoming = next_dose(history, today=today)
    return (
        upcoming.number is not None and upcoming.earliest <= today and product in upcoming.products
    )


def series_total(first_product: str, dose_number: int) -> int:
    """The ``sd`` (doses in the series) of a certificate for dose `dose_number`.

    The primary series' length for its doses; for a booster, EU practice (eHN guidelines,
    November 2021): after a one-dose primary series the booster is 2/1, otherwise it counts
    as complete, 3/3, 4/4.
    """
    primary = PRODUCTS[first_product].primary_doses if first_product in PRODUCTS else 2
    if dose_number <= primary:
        return primary
    return 1 if primary == 1 else dose_number
