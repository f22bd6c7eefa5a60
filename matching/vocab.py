"""Fixed vocabularies shared by the matching core (immutable constants only)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

PATHWAYS: Final[tuple[str, ...]] = (
    "ACCOM",
    "ETE",
    "HEALTH",
    "DRUGS",
    "FINANCE",
    "FAMILIES",
    "ATB",
    "WOMEN_ABUSE",
    "WOMEN_SEXWORK",
    "RJ_VICTIMS",
    "YOUTH_DIVERSION",
)

PATHWAY_LABELS: Final = MappingProxyType(
    {
        "ACCOM": "Accommodation",
        "ETE": "Education, training and employment",
        "HEALTH": "Health",
        "DRUGS": "Drugs and alcohol",
        "FINANCE": "Finance, benefit and debt",
        "FAMILIES": "Children and families",
        "ATB": "Attitudes, thinking and behaviour",
        "WOMEN_ABUSE": "Women who have experienced abuse",
        "WOMEN_SEXWORK": "Women involved in sex work",
        "RJ_VICTIMS": "Restorative justice and victims",
        "YOUTH_DIVERSION": "Youth diversion",
    }
)

COHORTS: Final[tuple[str, ...]] = (
    "ADULTS",
    "YOUNG_ADULTS",
    "CYP",
    "WOMEN",
    "FAMILIES",
    "VICTIMS",
    "CARE_LEAVERS",
)

SECTORS: Final[tuple[str, ...]] = (
    "third_sector",
    "co_operative",
    "social_enterprise",
    "private",
    "public",
)

CRITERIA: Final[tuple[str, ...]] = (
    "pathway_fit",
    "coverage",
    "capacity",
    "financial_viability",
    "quality",
    "local_priorities",
    "added_value",
    "social_value",
    "sustainability",
)

# Accreditations that evidence social value rather than service quality. Every
# other accreditation code counts towards the quality criterion (open vocabulary).
SOCIAL_VALUE_ACCREDITATIONS: Final[frozenset[str]] = frozenset(
    {
        "living_wage_employer",
        "disability_confident",
        "good_work_standard",
        "b_corp",
        "social_enterprise_mark",
        "buy_social_corporate_challenge",
    }
)

# Exclusion (hard filter) reason codes, in reporting order.
EXCL_PATHWAY: Final = "pathway_not_offered"
EXCL_AREA: Final = "no_area_coverage"
EXCL_ACCREDITATION: Final = "missing_accreditation"
EXCL_EXPERIENCE: Final = "insufficient_experience"
EXCLUSION_CODES: Final[tuple[str, ...]] = (EXCL_PATHWAY, EXCL_AREA, EXCL_ACCREDITATION, EXCL_EXPERIENCE)

PATHWAY_INDEX: Final = MappingProxyType({code: i for i, code in enumerate(PATHWAYS)})
COHORT_BIT: Final = MappingProxyType({code: 1 << i for i, code in enumerate(COHORTS)})
SECTOR_INDEX: Final = MappingProxyType({code: i for i, code in enumerate(SECTORS)})


def cohort_mask(cohorts: tuple[str, ...] | list[str]) -> int:
    """Bit mask of cohort codes (unknown codes raise ``KeyError``)."""
    mask = 0
    for code in cohorts:
        mask |= COHORT_BIT[code]
    return mask


def cohorts_in(mask: int) -> tuple[str, ...]:
    """Cohort codes present in a bit mask, in vocabulary order."""
    return tuple(code for code in COHORTS if mask & COHORT_BIT[code])
