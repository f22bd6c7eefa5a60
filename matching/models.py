"""Input data types (msgspec frozen Structs).

Sequence fields are tuples so instances are immutable; msgspec decodes JSON
arrays straight into them (``msgspec.convert(row, Candidate)`` works on dicts).
"""

from __future__ import annotations

from datetime import date

import msgspec


class OutcomeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One outcomes record of a service: what outcome, measured how, the figure, over what period, for how
    many people, and who says so. Its words (outcome, measure, note) count as the service's text."""

    outcome: str
    measure: str = ""
    value: float | None = None
    period: str = ""
    people: int | None = None
    source: str = "self_declared"
    """``self_declared``, ``independently_evaluated`` or ``commissioner_reported`` (any string is kept as given)."""
    note: str | None = None
    verified: bool = False
    """An admin has verified this record (seen the evidence); otherwise it is self-declared and counts at a
    discount (:data:`matching.scoring.SELF_DECLARED_FACTOR`). ``source`` is the provider's own word on who measured
    it and does not make a record verified."""
    desired_outcomes: tuple[str, ...] = ()
    """The desired outcome codes (a need's ``desired_outcomes``) this record evidences, as the provider says."""


class Service(msgspec.Struct, frozen=True, kw_only=True):
    """One service of a provider: a pathway delivered to some people in some areas.

    Only a provider's active services are given to the core. ``min_age`` / ``max_age``: whom it serves (an open
    end is ``None``); ``gender``: ``"men"``, ``"women"`` or ``"both"``. ``delivery_modes``,
    ``complexity_levels`` and the cost are carried for explanations and later criteria; nothing scores them yet.
    """

    service_id: int
    """Unique among the provider's services."""
    pathway: str
    name: str = ""
    cohorts: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    capacity: float | None = None
    """Service users per year (``None``: not stated)."""
    min_age: int | None = None
    max_age: int | None = None
    gender: str = "both"
    years_experience: float = 0.0
    description: str = ""
    outcomes: tuple[OutcomeRecord, ...] = ()
    accreditations: tuple[str, ...] = ()
    verified_accreditations: tuple[str, ...] = ()
    """Those of ``accreditations`` an admin has verified (others are self-declared; codes not in
    ``accreditations`` are ignored)."""
    delivery_modes: tuple[str, ...] = ()
    complexity_levels: tuple[str, ...] = ()
    cost_amount: float | None = None
    cost_unit: str | None = None


class Priority(msgspec.Struct, frozen=True):
    """A commissioner's local priority: free text with a positive weight."""

    text: str
    weight: float = 1.0


class DesiredOutcome(msgspec.Struct, frozen=True):
    """An outcome the commissioner wants a service to achieve (a code of a shared vocabulary, and its words)."""

    code: str
    name: str = ""


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
    desired_outcomes: tuple[DesiredOutcome, ...] = ()
    """Outcomes the commissioner wants; matched against the qualifying services' outcomes records that name them
    (part of the quality criterion's outcomes evidence)."""
    sector_preference: dict[str, float] = {}
    """How much the commissioner prefers each sector, each in [0, 1]; missing sectors count 0."""
    weight_overrides: dict[str, float] | None = None
    """Per-criterion weights replacing the caller's weights for this need."""
    min_age: float | None = None
    """Whom the need is for: ages ``min_age`` to ``max_age`` (either end open when ``None``)."""
    max_age: float | None = None
    gender: str = "both"
    """``"men"`` or ``"women"``: the need is for them only (a service must serve them, or both); ``"both"``: anyone."""
    area_volumes: dict[str, float] | None = None
    """The commissioner's expected service users per year by area (codes among or within the need's areas, none
    inside another): when given, coverage is the share of these people the provider covers instead of the
    share of the population (an area's volume is spread over its local areas by population; local areas of
    the need under no given code count 0)."""


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """A provider organisation as seen by the matching core: the organisation and its active services."""

    provider_id: int
    name: str
    sector: str
    legal_form: str = ""
    founded_year: int | None = None
    services: tuple[Service, ...] = ()
    """The provider's active services (a provider qualifies for a need through them)."""
    annual_income: float | None = None
    reserves_months: float | None = None
    accreditations: tuple[str, ...] = ()
    verified_accreditations: tuple[str, ...] = ()
    """Those of the organisation's ``accreditations`` an admin has verified (others are self-declared)."""
    volunteers: int = 0
    premises_areas: tuple[str, ...] = ()
    match_funding_per_year: float = 0.0
    funding_sources: tuple[str, ...] = ()
    partner_organisations: tuple[str, ...] = ()
    social_value: tuple[str, ...] = ()
    resources_text: str = ""
    last_confirmed: date | None = None
