"""Which screening questions apply to a person, and what a "yes" means for the booking.

Pure rules over the questions of bot.domain.form_lists.SCREENING; sources in docs/safety.md.

- Pregnancy and breastfeeding are asked only of women aged 12 to 55. 12 is the youngest age
  the vaccination this bot books was offered at (Ministry of Health, 12–17-year-olds, 2021);
  55 is above the age at which nearly every woman has passed menopause (WHO counts women of
  reproductive age as 15–49; the bounds are widened on both sides so that nobody who could be
  pregnant is left unasked).
- A "yes" to a current acute illness, to high-dose corticosteroids or immunosuppressants in
  the last 14 days, or to another vaccine in the last 14 days postpones the vaccination
  (Decision 3445/QĐ-BYT, 2021: "trì hoãn tiêm chủng"): no appointment is made.
- A "yes" to a previous severe allergic reaction (anaphylaxis) means vaccination at a hospital,
  where it can be treated (same decision: "chuyển tiêm chủng và theo dõi tại bệnh viện"): the
  sites this bot books are not, so no appointment is made here either.
- Any other "yes" or "not sure" keeps the booking, marked for a closer check at the site.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from bot.domain.form_lists import ANSWER_YES, SCREENING
from bot.i18n import N_

PREGNANCY_AGES = (12, 55)
PREGNANCY_KEYS = frozenset({"pregnant"})


class Outcome(StrEnum):
    """What a screening answer means for the booking."""

    POSTPONE = "postpone"
    HOSPITAL = "hospital"


# key -> (outcome, what it means, in the citizen's words)
MEANING: dict[str, tuple[Outcome, str]] = {
    "acute": (
        Outcome.POSTPONE,
        N_(
            "Vaccination is postponed while {name} is ill: please book again once {name} has "
            "fully recovered."
        ),
    ),
    "drugs": (
        Outcome.POSTPONE,
        N_(
            "Vaccination is postponed until at least 14 days after the last dose of these "
            "medicines. Please ask the treating doctor, then book again."
        ),
    ),
    "other_vaccine": (
        Outcome.POSTPONE,
        N_("Vaccination is postponed until 14 days after the other vaccine. Please book then."),
    ),
    "anaphylaxis": (
        Outcome.HOSPITAL,
        N_(
            "After a severe allergic reaction, {name} should be vaccinated at a hospital, "
            "where the staff can treat a reaction at once. Please ask a hospital's "
            "vaccination clinic or your doctor; no appointment is made here."
        ),
    ),
}


def age_on(birth: date, day: date) -> int:
    """Age in whole years on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def applies(key: str, *, gender: str | None, birth: date | None, today: date) -> bool:
    """Whether a screening question is asked of this person (unknown sex or age: asked)."""
    if key not in PREGNANCY_KEYS:
        return True
    if gender == "male":
        return False
    if birth is None:
        return True
    low, high = PREGNANCY_AGES
    return low <= age_on(birth, today) <= high


def questions(*, gender: str | None, birth: date | None, today: date) -> list[tuple[str, str]]:
    """The screening questions for this person, in order."""
    return [
        (key, text)
        for key, text in SCREENING
        if applies(key, gender=gender, birth=birth, today=today)
    ]


def deferring(answers: dict[str, str]) -> str | None:
    """The first "yes" that stops the booking (postpone, or a hospital), if any."""
    for key, _text in SCREENING:
        if answers.get(key) == ANSWER_YES and key in MEANING:
            return key
    return None
