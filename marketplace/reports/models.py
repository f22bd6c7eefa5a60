"""The market-engagement report: its shape (computed by marketplace.reports.build)."""

from __future__ import annotations

import datetime as dt

import msgspec

import matching
from marketplace.exercises.models import ExerciseSummary

NO_MARKET, LIMITED_MARKET, COMPETITIVE_MARKET = "no_market", "limited_market", "competitive_market"
VCSE_SECTORS = ("third_sector", "co_operative", "social_enterprise")


class Thresholds(msgspec.Struct):
    suitable_score: float
    """A provider is suitably experienced when its total score is at least this."""
    limited_market_max: int = 2
    """1 to this many suitable providers is a limited market; 0 is no market; more is competitive."""
    stale_after_months: int = 12


STRENGTH_MIN_SCORE = 0.5
"""A criterion scoring at least this (out of 1) can be a strength; below it, with a weight, it is a weakness."""
NOTES_PER_CANDIDATE = 3


class CriterionNote(msgspec.Struct):
    """One criterion of a candidate's score, as the match run recorded it."""

    criterion: str
    """The criterion's code, e.g. ``pathway_fit`` (see ``Method.criteria``)."""
    score: float
    """The candidate's score on this criterion, 0..1, as the run recorded it (not rounded)."""
    weight: float
    """The criterion's normalised weight in the need's match (weights sum to 1)."""
    contribution: float
    """``weight * score``: what the criterion adds to the candidate's total."""
    evidence: list[str]
    """The run's evidence lines for this criterion, in the order the matcher wrote them."""


class Headline(msgspec.Struct):
    """A top candidate for a need, with what it is strong and weak on.

    ``strengths``: up to 3 criteria with a weight above 0 scoring at least :data:`STRENGTH_MIN_SCORE`, largest
    contribution first (ties by criterion code), so a criterion that scored poorly is never a strength however
    heavily it is weighted.
    ``weaknesses``: up to 3 criteria with a weight above 0 scoring below :data:`STRENGTH_MIN_SCORE`, lowest score
    first (ties: heavier weight first, then criterion code). A criterion is never both.
    """

    provider_id: int
    name: str
    sector: str
    total: float
    strengths: list[CriterionNote]
    weaknesses: list[CriterionNote]


class CapacityCoverage(msgspec.Struct):
    volume: int
    suitable_capacity: float
    """Service users a year the suitable providers say they can take on for this need: what their qualifying
    services covering its areas state, added up (unknown capacities count 0)."""
    coverage_ratio: float | None
    largest_provider: str | None
    largest_share: float | None
    """The largest suitable provider's share of suitable capacity (concentration)."""
    unknown_capacity: int


class AddedValue(msgspec.Struct):
    match_funding_per_year: float
    volunteers: int
    providers_with_premises_in_area: int


class StaleProvider(msgspec.Struct):
    provider_id: int
    name: str
    last_confirmed: dt.date | None
    months_since_confirmed: float | None


class NeedReport(msgspec.Struct):
    need_id: int
    title: str
    pathway: str
    pathway_name: str
    areas: list[str]
    area_names: list[str]
    cohorts: list[str]
    annual_volume: int
    annual_budget: int
    contract_years: float
    match_run_id: int
    run_at: dt.datetime | None
    directory_size: int
    eligible: int
    suitable: int
    verdict: str
    suitable_by_sector: dict[str, int]
    suitable_by_legal_form: dict[str, int]
    suitable_vcse: int
    """Suitable providers from the third sector, co-operatives and social enterprises."""
    top_candidates: list[Headline]
    excluded_by_reason: dict[str, int]
    capacity: CapacityCoverage
    added_value: AddedValue
    stale_suitable: list[StaleProvider]
    weights: dict[str, float]


class Cell(msgspec.Struct):
    need_id: int
    pathway: str
    area: str
    area_name: str
    suitable: int
    verdict: str
    providers: list[str]


class DepthGrid(msgspec.Struct):
    pathways: list[str]
    areas: list[str]
    area_names: list[str]
    cells: list[Cell]
    """One per (need, leaf area of the need): suitable providers covering that area."""


class Totals(msgspec.Struct):
    annual_budget: int
    suitable_match_funding_per_year: float
    suitable_volunteers: int
    needs_by_verdict: dict[str, int]
    cells_by_verdict: dict[str, int]


class Method(msgspec.Struct):
    criteria: list[str]
    thresholds: Thresholds
    verdicts: str
    algorithm_versions: list[str]
    match_run_ids: list[int]
    data_snapshot_from: dt.datetime | None
    data_snapshot_to: dt.datetime | None
    notes: list[str]


class Report(msgspec.Struct):
    exercise: ExerciseSummary
    generated_at: dt.datetime
    needs: list[NeedReport]
    grid: DepthGrid
    partnerships: matching.PartnershipPlan
    totals: Totals
    stale_warning: list[StaleProvider]
    method: Method
