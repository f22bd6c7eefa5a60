"""The market-engagement report: its shape (computed by marketplace.reports.build)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec

import matching
from marketplace.engagement.models import MarketResponse
from marketplace.exercises.models import ExerciseSummary, NeedEligibility
from marketplace.formatting import ages, and_list, lower_code

NO_MARKET, LIMITED_MARKET, COMPETITIVE_MARKET = "no_market", "limited_market", "competitive_market"
VCSE_SECTORS = ("third_sector", "co_operative", "social_enterprise")


class Thresholds(msgspec.Struct):
    suitable_score: float
    """A provider is suitably experienced when its total score is at least this."""
    limited_market_max: int = 2
    """1 to this many suitable providers is a limited market; 0 is no market; more is competitive."""
    stale_after_months: int = 12


SUITABLE_SCORE = matching.SUITABLE_SCORE
"""The default threshold: a provider whose total score is at least this is suitably experienced (a report request
may choose another, 0-1)."""
NOTES_PER_CANDIDATE = 3
"""At most this many strengths and weaknesses of a top candidate are shown (the core's first ones)."""


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
    summary: str = ""
    """The core's plain-English sentence for this criterion (empty for runs made before algorithm 2026.12-1)."""
    weight_percent: float = -1.0
    """The weight as a percentage of the score (``weight`` times 100, one decimal)."""

    def __post_init__(self) -> None:
        if self.weight_percent < 0:
            self.weight_percent = round(self.weight * 100, 1)


class Headline(msgspec.Struct):
    """A top candidate for a need, with what it is strong and weak on, as the matching core decided
    (``matching.ScoredCandidate.strengths``/``weaknesses``; thresholds ``matching.explain.STRENGTH_MIN_SCORE`` and
    ``WEAKNESS_BELOW``, see METHOD.md).

    ``strengths``: the core's first 3 strengths: weighted criteria scoring at least ``STRENGTH_MIN_SCORE``, largest
    contribution first, so a criterion that scored poorly is never a strength however heavily it is weighted.
    ``weaknesses``: the core's first 3 weaknesses, listed apart: weighted criteria scoring below ``WEAKNESS_BELOW``,
    lowest score first. A criterion between the two is neither; a criterion is never both.
    """

    provider_id: int
    name: str
    sector: str
    total: float
    """The total as the run recorded it, unrounded (compared with the threshold as it is: rounded to 4 places, a total
    of 0.69996 read as 0.7 and reached a threshold of 0.7 it is below)."""
    strengths: list[CriterionNote]
    weaknesses: list[CriterionNote]


class CapacityCoverage(msgspec.Struct):
    volume: int
    suitable_capacity: float
    """Service users a year the suitable providers say they can take on for this need: what their qualifying
    services covering its areas state, each service's share for the need (by the people of its areas who live in
    the need's, where it covers more than the need), added up (unknown capacities count 0)."""
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


def _no_market_measure() -> matching.Concentration:
    return matching.concentration({})


class FieldChange(msgspec.Struct):
    """One field of a need that differs between the run's copy of the need and the need now (or `weights_percent`,
    the weights it is matched with, or `algorithm_version`, the matching method's version)."""

    field: str
    in_run: Any
    """The value the run was made from."""
    now: Any
    """The need's value now."""
    in_run_text: str = ""
    """`in_run` as a person reads it (areas by name, lists joined, "none")."""
    now_text: str = ""
    """`now` as a person reads it."""


class RunStaleness(msgspec.Struct):
    """Why a need's newest stored run no longer describes the need: it was edited after the run was made, or the
    weights it would be matched with now differ from the run's (a ``weights_percent`` change: the exercise's default
    weights or the need's overrides were changed)."""

    run_need_version: int
    """The need's version the run was made from."""
    need_version: int
    """The need's version now."""
    need_updated_at: dt.datetime
    """When the need was last changed."""
    changes: list[FieldChange]
    """The fields that differ (empty when the need was saved again with the same values)."""
    refresh: str
    """How to bring the run up to date."""


class ChangedProvider(msgspec.Struct):
    """A provider whose profile (or one of its services) was written after a need's run was made."""

    provider_id: int
    name: str
    """Its name now."""
    status: str
    """``published``, ``archived`` or ``pending``, now."""
    ranked: bool
    """Whether the run ranked it (else it is published now with a service in the need's pathway: it could enter)."""


class ProvidersChanged(msgspec.Struct):
    """Providers that changed after a need's run was made and could change what it says: those it ranked, and those
    published now with a service in the need's pathway. The run's figures are as the directory was then; matching
    again tells whether the changes matter."""

    count: int
    ranked: int
    """How many of them the run ranked."""
    providers: list[ChangedProvider]
    """The first ``PROVIDERS_CHANGED_LISTED`` of them, those ranked first, then by name."""
    refresh: str
    """How to bring the run up to date."""


PROVIDERS_CHANGED_LISTED = 20


class SuitableProvider(msgspec.Struct, gc=False):  # thousands per report, no cycles: untracked by the GC
    """A ranked provider as the CSV lists it: every suitable one, and the top candidates even below the threshold.
    Kept small (no evidence text): a need can have hundreds of suitable providers."""

    rank: int
    provider_id: int
    name: str
    sector: str
    total: float
    meets_threshold: bool
    capacity: float | None
    """Service users a year its qualifying services covering the need's areas state (None: not stated)."""
    service_ids: tuple[int, ...]
    """Its qualifying services for the need."""
    scores: dict[str, float]
    """Every criterion's score, 0..1, as the run recorded it, by criterion code (``Method.criteria``); the evidence
    is in the match run (``match_run_id``), and for the top candidates in ``top_candidates``."""


class AreaVolume(msgspec.Struct):
    """One area of a need's `area_volumes`: the service users a year the commissioner expects there."""

    area: str
    area_name: str
    volume: int


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
    """The normalised weights the need's run used (sum 1)."""
    market: matching.Concentration = msgspec.field(default_factory=_no_market_measure)
    """Concentration of the suitable providers' capacity for the need (HHI, largest share, band)."""
    stale_run: RunStaleness | None = None
    """Set when the need was changed after its run was made: the figures describe the need as it was."""
    providers_changed: ProvidersChanged | None = None
    """Set when providers the run ranked, or that could now enter it, changed after it was made: the figures
    describe the directory as it was then."""
    providers: list[SuitableProvider] = []
    """Every suitable provider, best first, with the top candidates below the threshold too."""
    weights_percent: dict[str, float] = {}
    """The percentage of the score each criterion counted for in the need's run (``weights`` times 100)."""

    def __post_init__(self) -> None:
        if not self.weights_percent:
            self.weights_percent = matching.shown_percentages(self.weights)

    eligibility: NeedEligibility = msgspec.field(default_factory=NeedEligibility)
    """Whom the need is for, when it narrows that by age or gender (as its run matched it)."""
    area_volumes: list[AreaVolume] | None = None
    """The service users a year the commissioner expects per area (the need's `area_volumes`, by area code), as its
    run matched it: coverage weighed the areas by these instead of by population. None: not given."""

    cohort_names: list[str] = []
    """The cohorts' names in the taxonomy, in `cohorts`' order (empty in a report stored before they were kept)."""

    @property
    def whom(self) -> str:
        """Whom the need is for, in words: "adults and care leavers", "women aged 18 and over", "everyone"; by the
        cohorts' names ("children and young people (aged 10 to 17)", never "CYP") when the report has them."""
        return for_whom(self.cohorts, self.eligibility, names=self.cohort_names)


class Cell(msgspec.Struct):
    need_id: int
    pathway: str
    area: str
    area_name: str
    suitable: int
    verdict: str
    providers: list[str]
    market: matching.Concentration = msgspec.field(default_factory=_no_market_measure)
    """Concentration of the suitable capacity in this area: each covering provider's capacity for the need spread
    over the need's areas its services cover by their people."""
    expected_service_users: float | None = None
    """Service users a year the need expects here: its per-area volumes (each spread over its local areas by
    people), else its annual volume shared by people (1 decimal)."""
    capacity_shortfall: bool | None = None
    """Whether the suitable capacity here is below the service users expected (null: no suitable provider here
    states a capacity)."""


class DepthGrid(msgspec.Struct):
    pathways: list[str]
    areas: list[str]
    area_names: list[str]
    cells: list[Cell]
    """One per (need, leaf area of the need): suitable providers covering that area."""


class Totals(msgspec.Struct):
    annual_budget: int
    suitable_providers: int
    """Providers suitable for at least one need, each once."""
    suitable_match_funding_per_year: float
    """What those providers declare, each provider once however many needs it suits (a need's own figure counts
    every provider suitable for it, so the needs' figures add up to more when a provider suits several)."""
    suitable_volunteers: int
    """As `suitable_match_funding_per_year`: each provider once."""
    needs_by_verdict: dict[str, int]
    cells_by_verdict: dict[str, int]


class HhiBand(msgspec.Struct):
    band: str
    """``unconcentrated``, ``moderately_concentrated`` or ``highly_concentrated``."""
    rule: str
    """e.g. "HHI below 1,500"."""


class Method(msgspec.Struct):
    criteria: list[str]
    thresholds: Thresholds
    verdicts: str
    algorithm_versions: list[str]
    match_run_ids: list[int]
    data_snapshot_from: dt.datetime | None
    data_snapshot_to: dt.datetime | None
    notes: list[str]
    market_measures: str = ""
    """How the HHI and the largest share are computed, and the bands with their source."""
    hhi_bands: list[HhiBand] = []
    """The concentration bands, least concentrated first."""


class NotMatched(msgspec.Struct):
    """A need of the exercise the report has no usable stored run for: it is left out of every figure."""

    need_id: int
    title: str
    pathway: str
    reason: str
    """``never_matched`` or ``short_list_only`` (its newest run ranked too few providers to count the market)."""
    detail: str
    pathway_name: str = ""
    """The pathway's name (empty in a report stored before it was kept)."""


class Freshness(msgspec.Struct):
    """Whether the report's runs still describe the exercise's needs, and how to refresh them."""

    current: bool
    """Every need has a stored run made from the need as it is now, and no provider it ranked or that could now
    enter it has changed since."""
    not_matched: list[NotMatched]
    stale_need_ids: list[int]
    """Needs changed after their run was made (each need's ``stale_run`` says what changed)."""
    refresh: str
    providers_changed_need_ids: list[int] = []
    """Needs whose run's providers changed after it was made (each need's ``providers_changed`` says which)."""


class Frozen(msgspec.Struct):
    """Set on a frozen report: stored once, its bytes returned unchanged by GET /reports/{id}."""

    report_id: int
    url: str


class FrozenReportSummary(msgspec.Struct):
    """A frozen report: what it was made from; GET its `urls` for the stored bytes."""

    id: int
    exercise_id: int
    created_at: dt.datetime
    created_by: int | None
    match_run_ids: list[int]
    suitable_threshold: float
    data_snapshot_at: dt.datetime | None
    """When the newest of its match runs was made: the directory as the report read it."""
    generated_at: dt.datetime
    urls: dict[str, str]
    """Format -> the URL returning its stored bytes."""


class Report(msgspec.Struct):
    exercise: ExerciseSummary
    generated_at: dt.datetime
    needs: list[NeedReport]
    grid: DepthGrid
    partnerships: matching.PartnershipPlan
    totals: Totals
    stale_warning: list[StaleProvider]
    method: Method
    freshness: Freshness | None = None
    frozen: Frozen | None = None
    market_response: MarketResponse | None = None
    """What providers answered when the exercise was published for engagement (engagement.service.market_response);
    None when it was not."""


AGES_IN_NAME = re.compile(r"\s*\(\d+\s*(?:-|–|to)\s*\d+\)$")
"""A cohort name's own age range at its end: "Children and young people (10-17)"."""


def cohort_words(name: str, *, ages_said: bool) -> str:
    """A cohort's name for use mid-sentence: lower case but an acronym ("children and young people (10-17)"), its own
    age range left out when the sentence states the ages."""
    if ages_said:
        name = AGES_IN_NAME.sub("", name)
    first = name.split(" ", 1)[0]
    return name if first.isupper() and len(first) > 1 else name[:1].lower() + name[1:]


def for_whom(cohorts: list[str], eligibility: NeedEligibility, *, names: list[str] | None = None) -> str:
    """A need's people in words: its cohorts ("adults and care leavers", or everyone), narrowed by gender and age
    ("women", "aged 18 to 25", "aged 18 and over", "aged up to 17"). `names`: the cohorts' names in the taxonomy, in
    `cohorts`' order, said instead of their codes."""
    e = eligibility
    ages_said = e.min_age is not None or e.max_age is not None
    if names and len(names) == len(cohorts):
        people = and_list([cohort_words(n, ages_said=ages_said) for n in names])
    else:
        people = and_list([lower_code(c) for c in cohorts])
    gender = {"women": "women", "men": "men"}.get(e.gender, "")
    if gender and people == gender:  # "women (aged 16 to 25)", not "women (women aged 16 to 25)"; but
        gender = ""  # "children and young people and women (women aged 12 to 17)": for women only, said
    age = f"aged {ages(e.min_age, e.max_age)}" if ages_said else ""
    narrowed = " ".join(x for x in (gender or ("people" if age and not people else ""), age) if x)
    if people and narrowed:
        return f"{people} ({narrowed})"
    return people or narrowed or "everyone"
