"""The matching core's own vocabulary (immutable constants only).

The criteria are not listed here: each is defined once, in the registry of :mod:`matching.criteria`.

Pathway, cohort and sector codes are *not* listed here: they are data (seed
files / database tables) and may grow at any time. The core treats them as
opaque, non-empty strings and derives the codes it needs from its inputs each
time it lays candidates out as columns (see :mod:`matching.pool`), so a code it
has never seen before simply works.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# Default judgement of which accreditations evidence social value rather than
# service quality: they count towards the social_value criterion, every other
# accreditation code towards quality. Callers may pass their own set to
# ``rank(..., social_value_accreditations=...)``.
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

# Display names used in explanation text when ``rank`` is given no ``pathway_names``.
# Only wording: an unnamed pathway code is shown as the bare code.
DEFAULT_PATHWAY_NAMES: Final = MappingProxyType(
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

# Exclusion (hard filter) reason codes, in reporting order.
EXCL_PATHWAY: Final = "pathway_not_offered"
EXCL_AGE: Final = "age_range_not_served"
EXCL_GENDER: Final = "gender_not_served"
EXCL_AREA: Final = "no_area_coverage"
EXCL_ACCREDITATION: Final = "missing_accreditation"
EXCL_EXPERIENCE: Final = "insufficient_experience"
EXCLUSION_CODES: Final[tuple[str, ...]] = (
    EXCL_PATHWAY,
    EXCL_AGE,
    EXCL_GENDER,
    EXCL_AREA,
    EXCL_ACCREDITATION,
    EXCL_EXPERIENCE,
)

# Whom a service serves, and whom a need is for: men, women or both. The index of each is its code in columns.
GENDERS: Final[tuple[str, ...]] = ("both", "men", "women")


def is_code(value: object) -> bool:
    """A taxonomy code: a string that is not empty or blank (any such string is accepted)."""
    return isinstance(value, str) and bool(value) and not value.isspace()


def pathway_name(code: str, names: Mapping[str, str] | None = None) -> str:
    """Display name of a pathway code, ``""`` when unknown.

    ``names`` maps pathway codes to display names (``None``: :data:`DEFAULT_PATHWAY_NAMES`).
    """
    name = (DEFAULT_PATHWAY_NAMES if names is None else names).get(code)
    return name if isinstance(name, str) else ""


def age_phrase(min_age: float | None, max_age: float | None, word: str = "ages") -> str:
    """``"ages 18 to 25"``, ``"ages 18 and over"``, ``"ages up to 25"`` (``word`` first), or ``""`` for any age."""
    if min_age is None and max_age is None:
        return ""
    if min_age is None:
        return f"{word} up to {max_age:g}"
    if max_age is None:
        return f"{word} {min_age:g} and over"
    return f"{word} {min_age:g} to {max_age:g}"


def pathway_label(code: str, names: Mapping[str, str] | None = None) -> str:
    """``"ACCOM (Accommodation)"`` when a display name is known, else the bare code."""
    name = pathway_name(code, names)
    return f"{code} ({name})" if name else code
