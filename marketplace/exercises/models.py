"""Commissioning exercises, needs (lots), match runs and partnership runs."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

import matching
from marketplace.errors import FieldProblem
from marketplace.taxonomy.checks import check_code
from marketplace.taxonomy.models import DesiredOutcomeCode, Taxonomy
from marketplace.types import (
    TEXT,
    AreaCode,
    CohortCode,
    Page,
    PathwayCode,
    Slug,
    Strict,
    Title,
    decimal_places,
    nested_areas,
)
from matching.needs import compile_need
from matching.weights import PERCENT_TOLERANCE, describe_percentages, effective_weights

Text = Annotated[str, Meta(max_length=4000, pattern=TEXT)]
Percent = Annotated[float, Meta(ge=0, le=100)]
ExerciseStatus = Annotated[
    Literal["draft", "engagement_open", "closed"],
    Meta(
        description="Follows the exercise's publication: draft until published, engagement_open only by publishing "
        "(POST /exercises/{id}/publish), never draft again once published, closed no sooner than its deadline "
        "(409 before; a draft may be closed, given up)."
    ),
]


WEIGHTS_RULE = (
    "Weights are percentages of the score, as procurement evaluation criteria are published: the object is the whole "
    "table, each criterion's percentage (0-100), criteria left out count 0, and the percentages must sum to 100 "
    "(within 0.01), else 422 with the percentages the numbers given would come to. An empty object (or none) means "
    "not given: the next in line applies (a match request's weights, else the need's `weight_overrides`, else the "
    "exercise's `default_weights`, else the defaults: " + describe_percentages(matching.DEFAULT_WEIGHTS) + "). "
    "A need without local priorities cannot be scored on them: that criterion's percentage is shared among the "
    "others in proportion, and every run shows the percentages actually used (`weights_percent`)."
)


class _CriteriaWeights(Strict, omit_defaults=True):
    __doc__ = WEIGHTS_RULE

    def given(self) -> dict[str, float]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not UNSET}

    def table(self) -> matching.Weights | None:
        """The weights these percentages stand for (None when none are given); `matching.InvalidWeights` (field
        "*") when they do not sum to 100, its message showing the percentages they would come to if scaled."""
        return percent_table(self.given())


def percent_table(given: dict[str, float]) -> matching.Weights | None:
    """A whole table of percentages as the core's weights (see `WEIGHTS_RULE`); None when empty."""
    if not given:
        return None
    values = {c: float(given.get(c, 0.0)) for c in matching.CRITERIA}
    total = math.fsum(values.values())
    if abs(total - 100.0) > PERCENT_TOLERANCE:
        scaled = describe_percentages(matching.Weights(**values)) if total > 0 else "nothing to weigh"
        named = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in given.items())
        raise matching.InvalidWeights(
            "*",
            f"percentages must sum to 100 (criteria left out count 0); these ({named}) sum to {total:g}. "
            f"Scaled to 100 they would be: {scaled}. "
            f"The defaults are: {describe_percentages(matching.DEFAULT_WEIGHTS)}",
        )
    return matching.Weights(**values)


def same_weights(a: _CriteriaWeights | None, b: _CriteriaWeights | None) -> bool:
    """Whether two tables say the same weights (`WEIGHTS_RULE`): none given, as null or `{}`, is none given; a
    criterion given 0 is one left out (it counts 0); a percentage is its number (20 and 20.0). A table that does not
    sum to 100 says no weights at all, so is the same as no other."""
    try:
        return percent_table(a.given() if a is not None else {}) == percent_table(b.given() if b is not None else {})
    except matching.InvalidWeights:
        return False


def in_force(
    exercise_default: _CriteriaWeights, need_overrides: _CriteriaWeights | None, request: _CriteriaWeights | None
) -> matching.Weights:
    """The weights a need is matched with: the request's, else the need's overrides, else the exercise's default
    weights, else the core's defaults (each a whole table of percentages; see `WEIGHTS_RULE`)."""
    for given in (request, need_overrides, exercise_default):
        if given is not None and (table := given.table()) is not None:
            return table
    return matching.DEFAULT_WEIGHTS


def weights_now(exercise: Exercise, need: Need) -> dict[str, float] | None:
    """The normalised weights the need would be matched with now (the need's overrides, else the exercise's default
    weights, else the core's defaults; local priorities 0 when it has none); None when they cannot be used."""
    try:
        table = in_force(exercise.default_weights, need.weight_overrides, None)
        return effective_weights(table, None, has_priorities=bool(need.local_priorities)).as_dict()
    except matching.InvalidWeights:
        return None


WEIGHT_TOLERANCE = 1e-6
"""Normalised weights closer than this (a ten-thousandth of a percentage point) are the same weights: the same table
normalised twice may differ by an ulp, and weights rewritten as percentages by schema/0019 by a rounding."""


def weights_changed(in_run: dict[str, float], now: dict[str, float] | None) -> bool:
    if now is None:
        return False
    return any(abs(in_run.get(k, 0.0) - v) > WEIGHT_TOLERANCE for k, v in now.items())


# One optional field per criterion of the matching core's registry, in its order: `CriteriaWeights` as a request
# gives them (percentages, 0-100), `StoredWeights` as a need or exercise holds them (a stored match run's copy of a
# need made before percentages may hold relative weights up to 1000, and must stay readable).
if TYPE_CHECKING:

    class CriteriaWeights(_CriteriaWeights):
        def __getattr__(self, name: str) -> float | UnsetType: ...

    class StoredWeights(_CriteriaWeights):
        def __getattr__(self, name: str) -> float | UnsetType: ...
else:
    CriteriaWeights = msgspec.defstruct(
        "CriteriaWeights",
        [(c, Percent | UnsetType, UNSET) for c in matching.CRITERIA],
        bases=(_CriteriaWeights,),
        module=__name__,
        namespace={"__doc__": _CriteriaWeights.__doc__},
        forbid_unknown_fields=True,
        omit_defaults=True,
    )
    StoredWeights = msgspec.defstruct(
        "StoredWeights",
        [(c, float | UnsetType, UNSET) for c in matching.CRITERIA],
        bases=(_CriteriaWeights,),
        module=__name__,
        namespace={
            "__doc__": _CriteriaWeights.__doc__ + " (As stored: weights set before percentages, in the "
            "copy of a need kept by an older match run, were relative weights.)"
        },
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


MAX_LOCAL_PRIORITIES = 20
"""The most local priorities a need may have."""


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
CONTRACT_YEARS_PLACES = 1
"""Contract years are stored to a tenth of a year (schema/0004: numeric(4, 1)): more decimal places are refused
(422, `need_too_precise`: a rule no JSON Schema states reliably of a float), never rounded, since they multiply the
budget into the contract's value (1.04 would be 1.0)."""
ContractYears = Annotated[
    float,
    Meta(ge=0.1, le=25, description=f"Years, to a tenth of a year: at most {CONTRACT_YEARS_PLACES} decimal place"),
]
MAX_NEEDS = 100
"""The most needs an exercise may have. A probation region commissions its resettlement pathways (about nine) across
its delivery areas (about ten), and one need may cover several areas: a real exercise has tens of needs at most.
Each need is a match run in POST /exercises/{id}/match and a section of the report, all for one request: 300 needs
took 12 s to match on the demo's 124 providers, and far longer on a national directory."""
MAX_AREA_VOLUMES = 200
"""The most areas a need's `area_volumes` may name (its areas, or areas inside them: more than its 50 areas)."""
AREA_VOLUMES_RULE = (
    "Expected service users a year per area, when the commissioner knows where they are: area code -> whole number "
    "(1 or more, as annual_volume). Codes are the need's areas or areas within them, none within another (a "
    "county's volume covers its districts), and the volumes add up to annual_volume: they say where the need's "
    "service users are, not a second figure (422 otherwise, naming the code, `area_volumes.E06000020`, or for the "
    "sum `area_volumes`). Coverage then weighs each area by these instead of by its population: each area's volume "
    "is spread over its local areas by population, and local areas of the need under no code given count 0; a "
    "provider whose services reach none of the areas holding service users is excluded (`no_area_coverage`). Null "
    "or left out: none (coverage by population); `{}` is refused (send null for none)."
)
AreaVolumes = Annotated[
    dict[AreaCode, Volume], Meta(min_length=1, max_length=MAX_AREA_VOLUMES, description=AREA_VOLUMES_RULE)
]
"""A need's `area_volumes` (see `AREA_VOLUMES_RULE`)."""


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
    local_priorities: Annotated[list[LocalPriority], Meta(max_length=MAX_LOCAL_PRIORITIES)] = []
    sector_preference: SectorPreference = msgspec.field(default_factory=SectorPreference)
    weight_overrides: CriteriaWeights | None = None
    eligibility: NeedEligibility = msgspec.field(default_factory=NeedEligibility)
    desired_outcomes: Annotated[list[DesiredOutcomeCode], Meta(max_length=10)] = []
    """Desired outcomes of the need's pathway (GET /desired-outcomes?pathway=), matched against the qualifying
    services' outcomes records that name them (part of the quality criterion's outcomes evidence)."""
    area_volumes: AreaVolumes | None = None
    """Expected service users a year per area (`AREA_VOLUMES_RULE`); null: none, coverage by population."""


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
    local_priorities: Annotated[list[LocalPriority], Meta(max_length=MAX_LOCAL_PRIORITIES)] | UnsetType = UNSET
    sector_preference: SectorPreference | UnsetType = UNSET
    weight_overrides: CriteriaWeights | UnsetType | None = UNSET
    eligibility: NeedEligibility | UnsetType = UNSET
    desired_outcomes: Annotated[list[DesiredOutcomeCode], Meta(max_length=10)] | UnsetType = UNSET
    area_volumes: AreaVolumes | UnsetType | None = UNSET
    """The whole table, replacing the one there was; null clears it (coverage by population again)."""


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
    weight_overrides: StoredWeights | None
    eligibility: NeedEligibility
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    desired_outcomes: list[str] = []
    area_volumes: dict[str, int] | None = None
    """Expected service users a year per area, by area code (null: none; coverage by population)."""


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
    default_weights: StoredWeights
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
    found += need_too_precise(n, prefix)
    found += nested_area_problems(n, tax, prefix)
    found += area_volume_problems(n, tax, prefix)
    return [p for p in found if p is not None]


def nested_area_problems(n: NeedIn, tax: Taxonomy, prefix: str = "") -> list[FieldProblem]:
    """An area of a need given twice, or within another of its areas (a district and its county), named as sent
    (`areas[1]`): the wider one covers it already, so listing both would count its people twice (as `area_volumes`
    refuses too)."""
    names = tax.codes("areas")

    def named(code: str) -> str:
        return f"{names[code]} ({code})" if names.get(code) else code

    found = []
    first: dict[str, int] = {}
    for i, code in enumerate(n.areas):
        if (seen := first.setdefault(code, i)) != i:
            found.append(
                FieldProblem(field=f"{prefix}areas[{i}]", problem=f"{named(code)} is areas[{seen}] too: list it once")
            )
    found += [
        FieldProblem(field=f"{prefix}areas[{i}]", problem=problem)
        for i, problem in nested_areas(n.areas, names, tax.matching_areas, "the need's")
    ]
    return found


def area_volume_problems(n: NeedIn, tax: Taxonomy, prefix: str = "") -> list[FieldProblem]:
    """What is wrong with a need's `area_volumes` (`AREA_VOLUMES_RULE`), each problem naming its code as sent
    (`area_volumes.E06000051`): a code the taxonomy does not know (with a did-you-mean, as for `areas`), one neither
    among the need's areas nor within one, one within another code given; then volumes not adding up to
    `annual_volume` (naming `area_volumes`); then anything else the matching core refuses of them."""
    if n.area_volumes is None:
        return []
    field, names, tree = f"{prefix}area_volumes", tax.codes("areas"), tax.matching_areas
    unknown = [check_code(f"{field}.{code}", code, names, "area") for code in n.area_volumes]
    if found := [p for p in unknown if p is not None]:
        return found

    def named(code: str) -> str:
        return f"{names[code]} ({code})" if names.get(code) else code

    areas = [a for a in dict.fromkeys(n.areas) if a in tree]  # (an unknown area of the need is told apart)
    outside = [
        FieldProblem(
            field=f"{field}.{code}",
            problem=f"{named(code)} is not one of the need's areas ({', '.join(map(named, areas))}) nor within one: "
            "give volumes for the need's areas or areas inside them",
        )
        for code in n.area_volumes
        if areas and not any(tree.is_within(code, a) for a in areas)
    ]
    nested = [
        FieldProblem(
            field=f"{field}.{code}",
            problem=f"{named(code)} is within {named(wider)}, which has a volume too: give a volume for one or the "
            f"other, not both (one for {names.get(wider) or wider} counts the service users of "
            f"{names.get(code) or code} too)",
        )
        for code in n.area_volumes
        for wider in n.area_volumes
        if wider != code and tree.is_within(code, wider)
    ]
    if outside or nested or not areas:
        return outside + nested
    total = sum(n.area_volumes.values())
    if total != n.annual_volume:
        return [
            FieldProblem(
                field=field,
                problem=f"the volumes add up to {total:,} service users a year, but the need's annual_volume is "
                f"{n.annual_volume:,}: they say where its service users are, so give each area's share of the "
                f"{n.annual_volume:,} (an area left out counts none), or change annual_volume with them",
            )
        ]
    try:  # what the matching core would refuse when the need is matched, refused now
        compile_need(
            matching.Need(
                id=0,
                pathway=n.pathway,
                areas=tuple(areas),
                annual_volume=n.annual_volume,
                annual_budget=n.annual_budget,
                area_volumes=dict(n.area_volumes),
            ),
            tree,
        )
    except matching.InvalidNeed as exc:
        if exc.field == "area_volumes":
            return [FieldProblem(field=field, problem=exc.problem)]
    return []


def need_too_precise(n: NeedIn, prefix: str = "") -> list[FieldProblem]:
    """Contract years in finer parts than a tenth of a year (`CONTRACT_YEARS_PLACES`), named as sent."""
    if decimal_places(n.contract_years) <= CONTRACT_YEARS_PLACES:
        return []
    problem = f"at most {CONTRACT_YEARS_PLACES} decimal place (a tenth of a year), not {n.contract_years!r}"
    return [FieldProblem(field=f"{prefix}contract_years", problem=problem)]


class MatchRequest(Strict, omit_defaults=True):
    """Optional body of POST /needs/{id}/match-runs."""

    weights: CriteriaWeights | None = None
    """Percentages for this run only (the whole table, summing to 100); else the need's, the exercise's, the
    defaults."""


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
    """Service users a year for this need: the capacity its qualifying services covering the need's areas state,
    added up, each service covering areas outside the need counting only the share of its people who live in the
    need's (runs made before services: the organisation's whole capacity)."""
    annual_income: float | None
    match_funding_per_year: float
    volunteers: int
    premises_areas: list[str]
    """The areas it has premises in, each once (as matching counts them)."""
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
            premises_areas=list(dict.fromkeys(candidate.premises_areas or ())),  # two buildings in one area: once
            last_confirmed=candidate.last_confirmed,
        )


class MatchRunBody(msgspec.Struct):
    """What a match run saw and decided; stored once and returned unchanged."""

    algorithm_version: str
    as_of: dt.date
    need: Need
    weights: dict[str, float]
    """Normalised weights the ranking used, summing to 1 (local_priorities is 0 when the need has none)."""
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
    weights_percent: dict[str, float] = {}
    """The percentages of the score each criterion actually counted for (`weights` times 100, one decimal); runs
    stored before percentages show their stored weights so."""

    def __post_init__(self) -> None:
        if not self.weights_percent:
            self.weights_percent = percentages_of(self.weights)


def percentages_of(weights: dict[str, float]) -> dict[str, float]:
    """Normalised weights as percentages, one decimal, adding up to 100.0 (what a run, a report and an explanation
    show: matching.shown_percentages)."""
    return matching.shown_percentages(weights)


class MatchRun(MatchRunBody):
    id: int = 0
    need_id: int = 0
    exercise_id: int = 0
    created_at: dt.datetime | None = None
    created_by: int | None = None


class RunStored(msgspec.Struct):
    """What storing a run adds to its body: `MatchRun`'s own fields, in its order (see `queries.run_json`)."""

    id: int
    need_id: int
    exercise_id: int
    created_at: dt.datetime | None
    created_by: int | None


class CriterionForReport(msgspec.Struct, frozen=True, gc=False):
    """One criterion of a stored ranked provider, as reports read it (see `ReportRun`): its components are skipped
    and its evidence kept as raw JSON, decoded (`evidence_list`) only for the few top candidates a report explains."""

    criterion: str
    weight: float
    score: float
    contribution: float
    evidence: msgspec.Raw
    summary: str = ""

    def evidence_list(self) -> list[str]:
        return msgspec.json.decode(self.evidence, type=list[str])


class RankedForReport(msgspec.Struct, frozen=True, gc=False):
    """A stored ranked provider (`matching.ScoredCandidate`) with only what reports read."""

    rank: int
    provider_id: int
    name: str
    total: float
    criteria: tuple[CriterionForReport, ...]
    covered_areas: tuple[str, ...]
    service_ids: tuple[int, ...] = ()
    capacity: float | None = None
    strengths: tuple[str, ...] = ()
    weaknesses: tuple[str, ...] = ()


class FactsForReport(msgspec.Struct, frozen=True, gc=False):
    """A stored ranked provider's facts (`ProviderFacts`) with only what reports read."""

    provider_id: int
    name: str
    sector: str
    legal_form: str
    capacity: float | None
    match_funding_per_year: float
    volunteers: int
    premises_areas: tuple[str, ...]
    last_confirmed: dt.date | None


class ReportRun(msgspec.Struct):
    """A stored match run as reports read it: the fields of `MatchRun` they use, decoded from the stored document
    (other fields, the exclusions and each criterion's components among them, are skipped unread). Read only:
    never stored, never returned. Its many small parts are frozen and untracked by the garbage collector (gc=False:
    they hold no cycles), so a report's thousands of them do not make the collector walk the whole heap."""

    algorithm_version: str
    as_of: dt.date
    need: Need
    weights: dict[str, float]
    directory_size: int
    eligible_count: int
    excluded_by_reason: dict[str, int]
    ranking: list[RankedForReport]
    providers: list[FactsForReport] = []
    weights_percent: dict[str, float] = {}
    id: int = 0
    need_id: int = 0
    exercise_id: int = 0
    created_at: dt.datetime | None = None
    created_by: int | None = None

    def __post_init__(self) -> None:
        if not self.weights_percent:
            self.weights_percent = percentages_of(self.weights)


class PartnershipRunBody(msgspec.Struct):
    algorithm_version: str
    as_of: dt.date
    match_run_ids: list[int]
    plan: matching.PartnershipPlan
    suitable_score: float | None = None
    """Only providers scoring at least this for a need were proposed for it (as the report counts the market);
    null on runs made before, which proposed any ranked provider."""


class PartnershipRun(PartnershipRunBody):
    id: int = 0
    exercise_id: int = 0
    created_at: dt.datetime | None = None
    created_by: int | None = None
