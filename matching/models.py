"""Input data types (msgspec frozen Structs).

Sequence fields are tuples so instances are immutable; msgspec decodes JSON
arrays straight into them (``msgspec.convert(row, Candidate)`` works on dicts).
"""

from __future__ import annotations

from datetime import date

import msgspec


class Expertise(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a provider's expertise: a pathway delivered to some cohorts."""

    pathway: str
    cohorts: tuple[str, ...] = ()
    years_experience: float = 0.0
    description: str = ""
    outcomes_evidence: str | None = None


class Priority(msgspec.Struct, frozen=True):
    """A commissioner's local priority: free text with a positive weight."""

    text: str
    weight: float = 1.0


class Need(msgspec.Struct, frozen=True, kw_only=True):
    """What a commissioner wants to buy (one pathway, some cohorts, some areas)."""

    id: int | str
    pathway: str
    areas: tuple[str, ...]
    annual_volume: float
    """Service users per year."""
    annual_budget: float
    """GBP per year."""
    cohorts: tuple[str, ...] = ()
    contract_years: float = 1.0
    required_accreditations: tuple[str, ...] = ()
    min_years_experience: float = 0.0
    local_priorities: tuple[Priority, ...] = ()
    sector_preference: dict[str, float] = {}
    """How much the commissioner prefers each sector, each in [0, 1]; missing sectors count 0."""
    weight_overrides: dict[str, float] | None = None
    """Per-criterion weights replacing the caller's weights for this need."""


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """A provider organisation as seen by the matching core."""

    provider_id: int
    name: str
    sector: str
    legal_form: str = ""
    founded_year: int | None = None
    expertise: tuple[Expertise, ...] = ()
    coverage: tuple[str, ...] = ()
    capacity: float | None = None
    """Service users per year."""
    annual_income: float | None = None
    reserves_months: float | None = None
    accreditations: tuple[str, ...] = ()
    volunteers: int = 0
    premises_areas: tuple[str, ...] = ()
    match_funding_per_year: float = 0.0
    funding_sources: tuple[str, ...] = ()
    partner_organisations: tuple[str, ...] = ()
    social_value: tuple[str, ...] = ()
    resources_text: str = ""
    last_confirmed: date | None = None
