"""Validation of a :class:`Need` and its compiled form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from .areas import AreaTree
from .errors import InvalidNeed
from .models import Need, Priority
from .vocab import GENDERS, is_code

MAX_REQUIRED_ACCREDITATIONS: Final = 32


@dataclass(frozen=True, slots=True, eq=False)
class CompiledNeed:
    need: Need
    pathway: str
    cohorts: tuple[str, ...]
    """The need's distinct cohort codes, in the need's order."""
    area_nodes: tuple[int, ...]
    """Need areas as an antichain of node indices (an area nested in another listed area is dropped)."""
    required: tuple[str, ...]
    min_age: float
    """The need's youngest age (0 when open)."""
    max_age: float
    """The need's oldest age (infinity when open)."""
    gender: int
    """Index in :data:`~matching.vocab.GENDERS` (0, ``both``: anyone)."""
    priorities: tuple[Priority, ...]
    sector_preference: dict[str, float]
    has_sector_preference: bool

    @property
    def cohort_count(self) -> int:
        return len(self.cohorts)

    @property
    def has_ages(self) -> bool:
        return self.min_age > 0 or self.max_age < math.inf


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def compile_need(need: Need, areas: AreaTree) -> CompiledNeed:
    """Validate ``need`` against the area tree; raise :class:`InvalidNeed`.

    Pathway, cohort and sector codes may be any non-empty strings: the core has no
    fixed list of them (a code no candidate uses simply matches nobody).
    """
    if not isinstance(need, Need):
        raise InvalidNeed("*", "expected a Need")
    if not is_code(need.pathway):
        raise InvalidNeed("pathway", f"pathway must be a non-empty code, got {need.pathway!r}")
    for code in need.cohorts:
        if not is_code(code):
            raise InvalidNeed("cohorts", f"cohorts must be non-empty codes, got {code!r}")
    if not need.areas:
        raise InvalidNeed("areas", "at least one area is required")
    for code in need.areas:
        if code not in areas:
            raise InvalidNeed("areas", f"unknown area code {code!r}")
    for field in ("annual_volume", "annual_budget", "contract_years"):
        value = getattr(need, field)
        if not _finite(value) or value <= 0:
            raise InvalidNeed(field, "must be a finite number > 0")
    if not _finite(need.min_years_experience) or need.min_years_experience < 0:
        raise InvalidNeed("min_years_experience", "must be a finite number >= 0")
    for field in ("min_age", "max_age"):
        value = getattr(need, field)
        if value is not None and (not _finite(value) or value < 0):
            raise InvalidNeed(field, "must be None or a finite number >= 0")
    if need.min_age is not None and need.max_age is not None and need.min_age > need.max_age:
        raise InvalidNeed("max_age", "must not be below min_age")
    if need.gender not in GENDERS:
        raise InvalidNeed("gender", f"must be one of {', '.join(GENDERS)}, got {need.gender!r}")
    for pr in need.local_priorities:
        if not isinstance(pr, Priority) or not isinstance(pr.text, str) or not pr.text.strip():
            raise InvalidNeed("local_priorities", "each priority needs non-empty text")
        if not _finite(pr.weight) or pr.weight <= 0:
            raise InvalidNeed("local_priorities", f"priority {pr.text!r} needs a finite weight > 0")
    required = tuple(dict.fromkeys(need.required_accreditations))
    if len(required) > MAX_REQUIRED_ACCREDITATIONS:
        raise InvalidNeed("required_accreditations", f"at most {MAX_REQUIRED_ACCREDITATIONS} may be required")
    pref: dict[str, float] = {}
    for sector, value in need.sector_preference.items():
        if not is_code(sector):
            raise InvalidNeed("sector_preference", f"sectors must be non-empty codes, got {sector!r}")
        if not _finite(value) or not 0.0 <= value <= 1.0:
            raise InvalidNeed("sector_preference", f"preference for {sector!r} must be in [0, 1]")
        pref[sector] = float(value)
    return CompiledNeed(
        need=need,
        pathway=need.pathway,
        cohorts=tuple(dict.fromkeys(need.cohorts)),
        area_nodes=areas.reduce(need.areas),
        required=required,
        min_age=0.0 if need.min_age is None else float(need.min_age),
        max_age=math.inf if need.max_age is None else float(need.max_age),
        gender=GENDERS.index(need.gender),
        priorities=tuple(need.local_priorities),
        sector_preference=pref,
        has_sector_preference=bool(need.sector_preference),
    )
