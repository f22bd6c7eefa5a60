"""Commissioning exercises, needs (lots), match runs and partnership runs."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

import matching
from marketplace.errors import FieldProblem
from marketplace.taxonomy.checks import check_code
from marketplace.taxonomy.models import DesiredOutcomeCode, Taxonomy
from marketplace.types import TEXT, AreaCode, CohortCode, Page, PathwayCode, Slug, Strict, Title

Text = Annotated[str, Meta(max_length=4000, pattern=TEXT)]
Weight = Annotated[float, Meta(ge=0, le=1000)]
ExerciseStatus = Literal["draft", "engagement_open", "closed"]


class _CriteriaWeights(Strict, omit_defaults=True):
    """Relative importance of each matching criterion (non-negative, not all zero; normalised when used).
    A criterion left out keeps its default weight."""

    # JSON Schema for what msgspec cannot state: all nine given as zero is refused (400)
    __json_schema_extra__: ClassVar[dict[str, Any]] = {
        "not": {"required": list(matching.CRITERIA), "properties": {c: {"const": 0} for c in matching.CRITERIA}}
    }

    def given(self) -> dict[str, float]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not UNSET}


# One optional field per criterion of the matching core's registry, in its order.
if TYPE_CHECKING:

    class CriteriaWeights(_CriteriaWeights):
        def __getattr__(self, name: str) -> float | UnsetType: ...
else:
    CriteriaWeights = msgspec.defstruct(
        "CriteriaWeights",
        [(c, Weight | UnsetType, UNSET) for c in matching.CRITERIA],
        bases=(_CriteriaWeights,),
        module=__name__,
        namespace={"__doc__": _CriteriaWeights.__doc__},
        forbid_unknown_fields=True,
        omit_defaults=True,
    )


class SectorPreference(Strict, omit_defaults=True):
    """How much the commissioner prefers each sector, 0 (no preference) to 1."""

    third_sector: Annotated[float, Meta(ge=0, le=1)] = 0.0
    co_operative: Annotated[float, Meta(ge=0, le=1)] = 0.0
    social_enterprise: Annotated[float, Meta(ge=0, le=1)] = 0.0
    private: Annotated[float, Meta(ge=0, le=1)] = 0.0
    public: Annotated[float, Meta(ge=0, le=1)] = 0.0


class LocalPriority(Strict):
    text: Annotated[str, Meta(min_length=2, max_length=200, pattern=TEXT)]
    weight: Annotated[float, Meta(gt=0, le=100)] = 1.0


class ExerciseIn(Strict):
    title: Title
    commissioning_body: Title
    description: Text = ""
    status: ExerciseStatus = "draft"
    opens_on: dt.date | None = None
    closes_on: dt.date | None = None
    default_weights: CriteriaWeights = msgspec.field(default_factory=CriteriaWeights)


class ExercisePatch(Strict):
    title: Title | UnsetType = UNSET
    commissioning_body: Title | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    status: ExerciseStatus | UnsetType = UNSET
    opens_on: dt.date | UnsetType | None = UNSET
    closes_on: dt.date | UnsetType | None = UNSET
    default_weights: CriteriaWeights | UnsetType = UNSET


class NeedEligibility(Strict, omit_defaults=True):
    """Whom the need is for, when that narrows it: an age range (either end open), men or women. A service
    qualifies when its own age range overlaps this one and it serves these people (or both men and women)."""

    min_age: Annotated[int, Meta(ge=0, le=120)] | None = None
    max_age: Annotated[int, Meta(ge=0, le=120)] | None = None
    gender: Literal["men", "women", "both"] = "both"


# A need's size: matching weighs capacity against the volume and finances against the budget, so both are at least 1;
# contract years are stored to a tenth of a year.
Volume = Annotated[int, Meta(ge=1, le=10_000_000, description="Service users a year")]
Budget = Annotated[int, Meta(ge=1, le=10_000_000_000, description="Pounds a year")]
ContractYears = Annotated[float, Meta(ge=0.1, le=25)]


class NeedIn(Strict):
    """A lot within an exercise: one pathway, for some cohorts, in some areas."""

    title: Title
    pathway: PathwayCode
    areas: Annotated[list[AreaCode], Meta(min_length=1, max_length=50)]
    annual_volume: Volume
    annual_budget: Budget
    cohorts: Annotated[list[CohortCode], Meta(max_length=10)] = []
    contract_years: ContractYears = 1.0
    required_accreditations: Annotated[list[Slug], Meta(max_length=20)] = []
    min_years_experience: Annotated[int, Meta(ge=0, le=200)] = 0
    local_priorities: Annotated[list[LocalPriority], Meta(max_length=20)] = []
    sector_preference: SectorPreference = msgspec.field(default_factory=SectorPreference)
    weight_overrides: CriteriaWeights | None = None
    eligibility: NeedEligibility = msgspec.field(default_factory=NeedEligibility)
    desired_outcomes: Annotated[list[DesiredOutcomeCode], Meta(max_length=10)] = []
    """Desired outcomes of the need's pathway (GET /desired-outcomes?pathway=), matched against the qualifying
    services' outcomes records that name them (part of the quality criterion's outcomes evidence)."""


class NeedPatch(Strict):
    title: Title | UnsetType = UNSET
    pathway: PathwayCode | UnsetType = UNSET
    areas: Annotated[list[AreaCode], Meta(min_length=1, max_length=50)] | UnsetType = UNSET
    annual_volume: Volume | UnsetType = UNSET
    annual_budget: Budget | UnsetType = UNSET
    cohorts: Annotated[list[CohortCode], Meta(max_length=10)] | UnsetType = UNSET
    contract_years: ContractYears | UnsetType = UNSET
    required_accreditations: Annotated[list[Slug], Meta(max_length=20)] | UnsetType = UNSET
    min_years_experience: Annotated[int, Meta(ge=0, le=200)] | UnsetType = UNSET
    local_priorities: Annotated[list[LocalPriority], Meta(max_length=20)] | UnsetType = UNSET
    sector_preference: SectorPreference | UnsetType = UNSET
    weight_overrides: CriteriaWeights | UnsetType | None = UNSET
    eligibility: NeedEligibility | UnsetType = UNSET
    desired_outcomes: Annotated[list[DesiredOutcomeCode], Meta(max_length=10)] | UnsetType = UNSET


class Need(msgspec.Struct):
    id: int
    exercise_id: int
    title: str
    pathway: str
    areas: list[str]
    annual_volume: int
    annual_budget: int
    cohorts: list[str]
    contract_years: float
    required_accreditations: list[str]
    min_years_experience: int
    local_priorities: list[LocalPriority]
    sector_preference: SectorPreference
    weight_overrides: CriteriaWeights | None
    eligibility: NeedEligibility
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    desired_outcomes: list[str] = []


class ExerciseSummary(msgspec.Struct):
    """What an exercise is, without its settings and needs (a report's heading)."""

    id: int
    title: str
    commissioning_body: str
    description: str
    status: str
    opens_on: dt.date | None
    closes_on: dt.date | None


class Exercise(ExerciseSummary):
    default_weights: CriteriaWeights
    is_sample: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    needs: list[Need] = []


class ExercisePage(Page[Exercise]):
    pass


class SeedExercise(ExerciseIn):
    needs: list[NeedIn] = []


def need_problems(n: NeedIn, tax: Taxonomy, prefix: str = "") -> list[FieldProblem]:
    """Codes in a need that the taxonomies do not know, with the allowed values and a suggestion."""
    found = [check_code(f"{prefix}pathway", n.pathway, tax.codes("pathways"), "pathway")]
    found += [check_code(f"{prefix}areas[{i}]", a, tax.codes("areas"), "area") for i, a in enumerate(n.areas)]
    found += [check_code(f"{prefix}cohorts[{i}]", c, tax.codes("cohorts"), "cohort") for i, c in enumerate(n.cohorts)]
    e = n.eligibility
    if e.min_age is not None and e.max_age is not None and e.min_age > e.max_age:
        found.append(FieldProblem(field=f"{prefix}eligibility.max_age", problem="below the minimum age"))
    found += [
        check_code(f"{prefix}required_accreditations[{i}]", a, tax.codes("accreditations"), "accreditation")
        for i, a in enumerate(n.required_accreditations)
    ]
    found += [
        tax.desired_outcome_problem(f"{prefix}desired_outcomes[{i}]", d, n.pathway)
        for i, d in enumerate(n.desired_outcomes)
    ]
    return [p for p in found if p is not None]


class MatchRequest(Strict, omit_defaults=True):
    """Optional body of POST /needs/{id}/match-runs."""

    weights: CriteriaWeights | None = None


class MatchRunSummary(msgspec.Struct):
    id: int
    need_id: int
    exercise_id: int
    created_at: dt.datetime
    algorithm_version: str
    candidate_count: int


class NeedMatched(msgspec.Struct):
    """One need's run from POST /exercises/{id}/match: stored now, or a stored one given back."""

    need_id: int
    title: str
    match_run_id: int
    reused: bool
    """True when the stored run made from the same inputs over an unchanged directory was given back."""
    created_at: dt.datetime | None
    eligible_count: int
    ranked: int
    """Providers ranked and explained in the run (at most the store limit)."""
    best: str | None
    """The best-ranked provider's name (None when no provider is eligible)."""
    best_total: float | None


class ExerciseMatched(msgspec.Struct):
    """The answer to POST /exercises/{id}/match: every need's run, in the exercise's order."""

    exercise_id: int
    stored: int
    """Runs stored by this call."""
    reused: int
    """Stored runs given back (same inputs, unchanged directory)."""
    needs: list[NeedMatched]


# A stored run is returned exactly as it was stored: its document is the matching core's output
# plus the inputs, so it is typed loosely here and documented in the OpenAPI description.
MatchRunDocument = dict[str, Any]


class ProviderFacts(msgspec.Struct):
    """What the directory said about a ranked provider when the run was made (for reports)."""

    provider_id: int
    name: str
    sector: str
    legal_form: str
    capacity: float | None
    """Service users a year for this need: the summed capacity its qualifying services covering the need's areas
    state (runs made before services: the organisation's whole capacity)."""
    annual_income: float | None
    match_funding_per_year: float
    volunteers: int
    premises_areas: list[str]
    last_confirmed: dt.date | None

    @classmethod
    def of(cls, candidate: matching.Candidate, scored: matching.ScoredCandidate) -> ProviderFacts:
        return cls(
            provider_id=candidate.provider_id,
            name=candidate.name,
            sector=candidate.sector,
            legal_form=candidate.legal_form,
            capacity=scored.capacity,
            annual_income=candidate.annual_income,
            match_funding_per_year=candidate.match_funding_per_year,
            volunteers=candidate.volunteers,
            premises_areas=list(candidate.premises_areas or ()),
            last_confirmed=candidate.last_confirmed,
        )


class MatchRunBody(msgspec.Struct):
    """What a match run saw and decided; stored once and returned unchanged."""

    algorithm_version: str
    as_of: dt.date
    need: Need
    weights: dict[str, float]
    """Normalised weights the ranking used (local_priorities is 0 when the need has none)."""
    directory_size: int
    """Published providers when the run was made."""
    candidate_count: int
    """Providers offering the pathway in or around the need's areas: the ones the core assessed."""
    eligible_count: int
    excluded_count: int
    excluded_by_reason: dict[str, int]
    """Every published provider not eligible, by reason (one provider may fail several checks)."""
    ranking: list[matching.ScoredCandidate]
    """Eligible providers, best first, each criterion explained (stored up to the server's limit)."""
    excluded: list[matching.Exclusion]
    """Assessed providers that failed a hard requirement, with their reasons (stored up to the server's limit)."""
    method: str
    providers: list[ProviderFacts] = []
    """The directory's facts about each ranked provider at the time (same order as the ranking)."""


class MatchRun(MatchRunBody):
    id: int = 0
    need_id: int = 0
    exercise_id: int = 0
    created_at: dt.datetime | None = None
    created_by: int | None = None


class PartnershipRunBody(msgspec.Struct):
    algorithm_version: str
    as_of: dt.date
    match_run_ids: list[int]
    plan: matching.PartnershipPlan


class PartnershipRun(PartnershipRunBody):
    id: int = 0
    exercise_id: int = 0
    created_at: dt.datetime | None = None
    created_by: int | None = None
