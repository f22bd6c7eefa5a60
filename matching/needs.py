"""Validation of a :class:`Need` and its compiled (index-based) form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .errors import InvalidNeed
from .models import Need, Priority
from .vocab import COHORT_BIT, PATHWAY_INDEX, SECTOR_INDEX, SECTORS

MAX_REQUIRED_ACCREDITATIONS: Final = 32


@dataclass(frozen=True, slots=True, eq=False)
class CompiledNeed:
    need: Need
    pathway_index: int
    cohort_mask: int
    cohort_count: int
    area_nodes: tuple[int, ...]
    """Need areas as an antichain of node indices (an area nested in another listed area is dropped)."""
    required: tuple[str, ...]
    priorities: tuple[Priority, ...]
    sector_preference: npt.NDArray[np.float64]
    has_sector_preference: bool


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def compile_need(need: Need, areas: AreaTree) -> CompiledNeed:
    """Validate ``need`` against the vocabularies and area tree; raise :class:`InvalidNeed`."""
    if not isinstance(need, Need):
        raise InvalidNeed("*", "expected a Need")
    p = PATHWAY_INDEX.get(need.pathway)
    if p is None:
        raise InvalidNeed("pathway", f"unknown pathway {need.pathway!r}")
    mask = 0
    for code in need.cohorts:
        bit = COHORT_BIT.get(code)
        if bit is None:
            raise InvalidNeed("cohorts", f"unknown cohort {code!r}")
        mask |= bit
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
    for pr in need.local_priorities:
        if not isinstance(pr, Priority) or not isinstance(pr.text, str) or not pr.text.strip():
            raise InvalidNeed("local_priorities", "each priority needs non-empty text")
        if not _finite(pr.weight) or pr.weight <= 0:
            raise InvalidNeed("local_priorities", f"priority {pr.text!r} needs a finite weight > 0")
    required = tuple(dict.fromkeys(need.required_accreditations))
    if len(required) > MAX_REQUIRED_ACCREDITATIONS:
        raise InvalidNeed("required_accreditations", f"at most {MAX_REQUIRED_ACCREDITATIONS} may be required")
    pref = np.zeros(len(SECTORS))
    for sector, value in need.sector_preference.items():
        s = SECTOR_INDEX.get(sector)
        if s is None:
            raise InvalidNeed("sector_preference", f"unknown sector {sector!r}")
        if not _finite(value) or not 0.0 <= value <= 1.0:
            raise InvalidNeed("sector_preference", f"preference for {sector!r} must be in [0, 1]")
        pref[s] = float(value)
    pref.flags.writeable = False
    return CompiledNeed(
        need=need,
        pathway_index=p,
        cohort_mask=mask,
        cohort_count=bin(mask).count("1"),
        area_nodes=areas.reduce(need.areas),
        required=required,
        priorities=tuple(need.local_priorities),
        sector_preference=pref,
        has_sector_preference=bool(need.sector_preference),
    )
