"""The registration form's lists: priority groups (configurable) and screening questions.

Priority groups default to the nine groups of Nghị quyết 21/NQ-CP (26/02/2021). A deployment
can replace them with `PRIORITY_GROUPS_FILE`: a JSON list of
`{"code": "...", "vi": "...", "en": "..."}` (code at most 16 characters; `en` optional).

The screening questions are those of the Ministry of Health's pre-vaccination screening form
for adults (phiếu sàng lọc trước tiêm chủng vắc xin COVID-19, QĐ 2995/QĐ-BYT, 2021), in the
citizen's words. Any "yes" or "not sure" means a doctor must look more closely at the site:
the booking is marked "cần khám sàng lọc kỹ tại điểm tiêm".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.i18n import N_, _, current_locale


@dataclass(frozen=True)
class PriorityGroup:
    """One priority group: a stable code and its label (a catalog message or per language)."""

    code: str
    message: str = ""
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def label(self) -> str:
        """The label in the current language."""
        if self.labels:
            return self.labels.get(current_locale()) or self.labels["vi"]
        return _(self.message)


NQ21_GROUPS = (
    PriorityGroup(
        "nq21-1",
        N_("Frontline workers: health staff, epidemic control teams, army, police"),
    ),
    PriorityGroup("nq21-2", N_("Diplomats; customs and immigration staff")),
    PriorityGroup(
        "nq21-3", N_("Essential services: aviation, transport, tourism, electricity, water")
    ),
    PriorityGroup(
        "nq21-4", N_("Teachers and education staff; administrative staff who meet the public")
    ),
    PriorityGroup("nq21-5", N_("People with chronic diseases; people aged 65 and over")),
    PriorityGroup("nq21-6", N_("Residents of outbreak areas")),
    PriorityGroup("nq21-7", N_("Poor households and social-policy beneficiaries")),
    PriorityGroup("nq21-8", N_("People sent abroad by the State for work or study")),
    PriorityGroup("nq21-9", N_("Others (as decided by the Ministry of Health)")),
)


def priority_groups(path: Path | None) -> tuple[PriorityGroup, ...]:
    """The configured groups (the NQ 21 list when `path` is None).

    Raises:
        ConfigError: the file is not a list of groups with a code and a Vietnamese label.
    """
    return NQ21_GROUPS if path is None else _load_groups(path)


@cache
def _load_groups(path: Path) -> tuple[PriorityGroup, ...]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        groups = tuple(
            PriorityGroup(
                str(item["code"]), labels={k: str(item[k]) for k in ("vi", "en") if k in item}
            )
            for item in raw
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"PRIORITY_GROUPS_FILE cannot be read: {error}") from None
    if not groups or any(not g.code or len(g.code) > 16 or "vi" not in g.labels for g in groups):
        raise ConfigError(
            "PRIORITY_GROUPS_FILE must list groups with a code (1-16 characters) and a vi label"
        )
    return groups


SCREENING = (
    (
        "anaphylaxis",
        N_(
            "Has {name} ever had a severe allergic reaction (anaphylaxis) to a vaccine or "
            "medicine?"
        ),
    ),
    ("covid6m", N_("Has {name} had COVID-19 in the last 6 months?")),
    ("acute", N_("Is {name} ill right now (fever, acute illness)?")),
    (
        "immune",
        N_(
            "Does {name} have a weakened immune system (cancer treatment, no spleen, advanced "
            "liver disease, HIV not under treatment)?"
        ),
    ),
    (
        "drugs",
        N_(
            "Has {name} taken high-dose corticosteroids or immunosuppressants in the last 14 days?"
        ),
    ),
    ("chronic", N_("Does {name} have a chronic disease that is getting worse?")),
    ("pregnant", N_("Is {name} pregnant or breastfeeding?")),
    (
        "bleeding",
        N_("Does {name} have a bleeding disorder or take blood thinners?"),
    ),
    ("other_vaccine", N_("Has {name} had any other vaccine in the last 14 days?")),
)
"""(key, question) in the order they are asked."""

ANSWER_YES, ANSWER_NO, ANSWER_UNSURE = "yes", "no", "unsure"


def needs_screening(answers: dict[str, str]) -> bool:
    """Whether a doctor must look closely at the site: any answer other than a plain no."""
    return any(answer != ANSWER_NO for answer in answers.values())


def group_codes(given: list[str], settings: Settings) -> list[str]:
    """Priority groups by code or by number in the list (unknown ones kept: refused later)."""
    groups = priority_groups(settings.priority_groups_file)
    return [
        groups[int(g) - 1].code if g.isdigit() and 1 <= int(g) <= len(groups) else g for g in given
    ]
