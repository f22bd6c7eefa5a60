"""Options appraisals: delivery models scored on weighted criteria, with costs and the market evidence."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from marketplace.types import TEXT, LongText, Money, Name, Page, Slug, Strict, Title, plain

DeliveryModel = Literal["in_house", "hosted", "single_prime", "consortium", "lots", "latc", "grant_funding", "custom"]
MODEL_LABELS: dict[str, str] = {
    "in_house": "In-house",
    "hosted": "Hosted by a partner organisation",
    "single_prime": "Outsourced to a single prime",
    "consortium": "Consortium or preferred partner with a supply chain",
    "lots": "Lots by area or pathway",
    "latc": "Local authority trading company",
    "grant_funding": "Grant funding",
    "custom": "Custom",
}
GOES_TO_MARKET: dict[str, bool] = {
    "in_house": False,
    "hosted": False,
    "single_prime": True,
    "consortium": True,
    "lots": True,
    "latc": False,
    "grant_funding": True,
    "custom": False,
}
"""Whether a delivery model buys from the market (a custom option says so itself: `goes_to_market`)."""
CostCategory = Literal["staff", "overheads", "setup_transition", "tupe_pension", "contract_management", "other"]
COST_LABELS: dict[str, str] = {
    "staff": "Staff",
    "overheads": "Overheads",
    "setup_transition": "Set-up and transition (one-off)",
    "tupe_pension": "TUPE and pension liabilities",
    "contract_management": "Contract management",
    "other": "Other",
}
Weight = Annotated[float, Meta(ge=0, le=1000)]
ScoreValue = Annotated[float, Meta(ge=0, le=10)]
Key = Annotated[Slug, Meta(description="A short key the other parts refer to, e.g. `outsource_vcse`")]
Anchor = Annotated[str, Meta(min_length=1, max_length=300, pattern=TEXT)]
NOTE = plain(
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*[^\s\x00-\x1f][^\x00-\x08\x0b\x0c\x0e-\x1f]*$",
    "must be plain text with at least one visible character, e.g. Agreed at moderation: evidence of outcomes is thin",
    "Agreed at moderation: evidence of outcomes is thin",
)


class OptionIn(Strict):
    """A delivery model under appraisal."""

    key: Key
    model: DeliveryModel
    label: Title | None = None
    """Required for a custom option; else defaults to the model's name."""
    partner: Name | None = None
    """The named partner organisation: required for `hosted`."""
    lots_by: Literal["area", "pathway"] | None = None
    description: LongText = ""
    goes_to_market: bool | None = None
    """Whether the option buys from the market; defaults by model (custom: false unless set)."""
    need_ids: Annotated[list[int], Meta(max_length=100)] | None = None
    """The exercise's needs the option would buy (None: all of them)."""


class CriterionIn(Strict):
    key: Key
    name: Title
    weight: Weight
    scale: Literal[5, 10] = 5
    """Scores run from 0 to this."""
    anchors: Annotated[list[Anchor], Meta(max_length=11)] = []
    """What each level means, from 0 up: exactly scale + 1 descriptions when given."""
    description: LongText = ""


class ScoreIn(Strict):
    """One assessor's score of one option on one criterion."""

    option: Key
    criterion: Key
    assessor: Name
    score: ScoreValue
    rationale: LongText = ""


class ModeratedIn(Strict):
    """The agreed score of one option on one criterion after moderation, with its note."""

    option: Key
    criterion: Key
    score: ScoreValue
    note: Annotated[str, Meta(min_length=1, max_length=4000, pattern=NOTE)]


class CostLineIn(Strict):
    option: Key
    year: Annotated[int, Meta(ge=1, le=25, description="Contract year, 1 = the first")]
    category: CostCategory
    amount: Money
    note: LongText = ""


Options = Annotated[list[OptionIn], Meta(max_length=20)]
Criteria = Annotated[list[CriterionIn], Meta(min_length=1, max_length=20)]
Scores = Annotated[list[ScoreIn], Meta(max_length=2000)]
Moderation = Annotated[list[ModeratedIn], Meta(max_length=400)]
Costs = Annotated[list[CostLineIn], Meta(max_length=2000)]
Years = Annotated[int, Meta(ge=1, le=25)]
Rate = Annotated[float, Meta(ge=0, le=0.2, description="Discount rate a year, e.g. 0.035 (Green Book)")]


def _default_anchors(what: str) -> list[str]:
    return [
        f"0 - no evidence of {what}",
        f"1 - serious concerns about {what}",
        f"2 - some concerns about {what}",
        f"3 - acceptable {what}",
        f"4 - good {what}",
        f"5 - excellent {what}, well evidenced",
    ]


def default_criteria() -> list[CriterionIn]:
    """The four criteria of the youth-justice board's appraisal, equally weighted, scored 0-5."""
    return [
        CriterionIn(key=k, name=n, weight=1, scale=5, anchors=_default_anchors(n.lower()))
        for k, n in (
            ("financial_viability", "Financial viability"),
            ("performance_impact", "Performance impact"),
            ("quality", "Quality"),
            ("sustainability", "Sustainability"),
        )
    ]


class AppraisalIn(Strict):
    title: Title
    description: LongText = ""
    exercise_id: Annotated[int, Meta(ge=1, le=999_999_999_999)] | None = None
    """The exercise whose market evidence the appraisal draws in (None: standing alone)."""
    years: Years = 3
    discount_rate: Rate = 0.035
    annual_budget: Money | None = None
    options: Options = []
    criteria: Criteria = msgspec.field(default_factory=default_criteria)
    scores: Scores = []
    moderation: Moderation = []
    costs: Costs = []

    def __post_init__(self) -> None:
        if self.discount_rate == 0:  # -0.0, which the range lets through, is 0: never stored, shown or reported as -0
            self.discount_rate = 0.0


class AppraisalPatch(Strict):
    title: Title | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    years: Years | UnsetType = UNSET
    discount_rate: Rate | UnsetType = UNSET
    annual_budget: Money | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        if not isinstance(self.discount_rate, UnsetType) and self.discount_rate == 0:  # -0.0 is 0, as in AppraisalIn
            self.discount_rate = 0.0


class DecisionIn(Strict):
    option: Key
    """The chosen option's key."""
    decided_by: Title
    """Who decided, e.g. "Youth justice management board, 12 March 2027"."""
    reasons: LongText = ""
    """Required when the chosen option is not the preferred option (`Results.preferred`: with a budget, the top
    weighted score among the options known to be affordable; without, the top), e.g. when it is over budget or has
    no costs entered, and when the exercise's market engagement is still open; then at least 3 words and 15
    characters (`service.REASONS_RULE`), e.g. "YJMB minute 2027/14"."""


# --- what the API returns ---------------------------------------------------------------------------------


class Spread(msgspec.Struct):
    # also what the arithmetic (calc.spreads) returns, unrounded; so are OptionResult (calc.appraise, named by
    # its key until the service labels it), WeightRange (calc.weight_range) and CostSwitch (calc.cost_switch)
    option: str
    criterion: str
    assessors: int
    low: float
    high: float
    mean: float
    range: float
    moderated: float | None
    used: float
    """The score used: the moderated one, else the assessors' mean (on the criterion's scale)."""


class OptionResult(msgspec.Struct):
    option: str
    label: str
    rank: int | None
    weighted_score: float | None
    """0-1: the sum of share x normalised score (None while a weighted criterion has no score)."""
    contributions: dict[str, float]
    values: dict[str, float]
    """Criterion -> normalised score 0-1."""
    missing: list[str]
    annual_costs: list[float]
    costs_by_category: dict[str, float]
    net_present_cost: float | None
    affordable: bool | None
    """Net present cost within the budget's present value (None: no budget, or no costs entered: not known)."""
    headroom: float | None
    years_over_budget: list[int] = []
    """Contract years (1 = the first) whose cost is above the annual budget: flagged, whatever `affordable` says
    (affordability is judged on the term's present value)."""


class WeightRange(msgspec.Struct):
    criterion: str
    share: float
    """The criterion's share now (normalised weight)."""
    low: float
    high: float
    """The shares between which the preferred option stays preferred."""
    low_switches_to: str | None
    """The option preferred just below `low`; when `low` is 0, the option tying there that the tie-breaks put first
    (a lower net present cost), preferred at 0 itself; None: nothing switches."""
    high_switches_to: str | None
    """As `low_switches_to`, above `high` (at 1 itself when `high` is 1)."""
    low_weight: float | None
    """`low` as a raw weight, the other criteria's raw weights unchanged."""
    high_weight: float | None
    """`high` as a raw weight (None when `high` is 1: no finite weight)."""


class CostSwitch(msgspec.Struct):
    increase: float | None
    increase_switches_to: str | None
    decrease: float | None
    decrease_option: str | None
    note: str


class Results(msgspec.Struct):
    shares: dict[str, float]
    options: list[OptionResult]
    ranking: list[str]
    top: str | None
    """The top weighted score."""
    preferred: str | None
    """The top weighted score among the options known to be affordable (with a budget: an option with no costs
    entered is not), else the top."""
    budget_present_value: float | None
    spreads: list[Spread]
    sensitivity: list[WeightRange]
    cost_switch: CostSwitch
    method: list[str]


class NeedEvidence(msgspec.Struct):
    """One need of the exercise as the market report saw it, with slots for what market engagement adds."""

    need_id: int
    title: str
    pathway: str
    pathway_name: str
    annual_budget: int
    match_run_id: int
    suitable: int
    verdict: str
    hhi: float | None
    largest_share: float | None
    concentration: str | None
    stale: bool
    responses: int | None = None
    """Market engagement (issue 14): providers that responded interested (as lead, partner or either). None: not
    available."""
    intending_to_bid: int | None = None
    indicative_cost_low: float | None = None
    indicative_cost_high: float | None = None
    consortia: list[str] | None = None
    """Each declared consortium as "lead + partner, partner", by name (the market report's `consortia[].members`
    keep the partners' directory ids)."""
    not_interested: int | None = None
    """Providers that responded not interested (declined). None: not available."""


class OptionMarket(msgspec.Struct):
    option: str
    goes_to_market: bool
    need_ids: list[int]
    no_market_need_ids: list[int]
    """Needs this option would buy that have no market: flagged."""
    limited_market_need_ids: list[int]


class MarketEvidence(msgspec.Struct):
    exercise_id: int
    exercise_title: str
    generated_at: dt.datetime
    match_run_ids: list[int]
    not_matched_need_ids: list[int]
    needs: list[NeedEvidence]
    options: list[OptionMarket]
    market_report_id: int | None = None
    """The frozen market report the decision relied on (set when decided, if every need had a stored run)."""
    engagement: str = "not available"
    """Whether market-engagement figures (responses, intent, indicative costs, consortia) are attached."""


class Decision(msgspec.Struct):
    option: str
    decided_by: str
    reasons: str
    decided_at: dt.datetime
    top: str | None
    preferred: str | None
    results: Results
    market: MarketEvidence | None
    market_report_id: int | None
    match_run_ids: list[int]
    engagement_open_until: dt.datetime | None = None
    """Set when the decision was taken while the exercise's market engagement was still open: its response deadline
    then (responses after the decision are not in the evidence frozen with it). None: it had closed, or the exercise
    was not published for engagement."""
    recorded_by_key: int | None = None
    """The API key that recorded the decision (`decided_by` is who decided, in the caller's words); None for the
    sample's seeded decision and decisions recorded before keys were kept with them."""
    recorded_by_name: str | None = None
    """That key's name when the decision was recorded."""


class Appraisal(msgspec.Struct):
    id: int
    exercise_id: int | None
    title: str
    description: str
    years: int
    discount_rate: float
    annual_budget: int | None
    options: list[OptionIn]
    criteria: list[CriterionIn]
    scores: list[ScoreIn]
    moderation: list[ModeratedIn]
    costs: list[CostLineIn]
    is_sample: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    decided_at: dt.datetime | None
    decision: Decision | None
    results: Results | None = None
    """Computed from the inputs (a decided appraisal: the results as decided)."""
    problems: list[str] = []
    """Why there are no results yet (e.g. every weight zero)."""


class AppraisalSummary(msgspec.Struct):
    id: int
    exercise_id: int | None
    title: str
    version: int
    is_sample: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    decided_at: dt.datetime | None
    chosen_option: str | None
    market_report_id: int | None = None
    """The frozen market report the decision cites as its evidence (frozen with it), if any."""


class AppraisalPage(Page[AppraisalSummary]):
    pass


MarketSource = Literal["frozen_report", "decision", "live", "none"]
"""Where an appraisal report's market evidence comes from: once decided, the market report frozen with the decision
(`frozen_report`), else the evidence the decision stored when no report could be frozen (`decision`), else none
(`none`: nothing was frozen, e.g. the seeded sample, decided before anything was matched; or no exercise); before the
decision, the exercise's stored match runs as they are now (`live`)."""


class AppraisalReport(msgspec.Struct):
    """The appraisal report: the appraisal with its results, and the market evidence beside them. A decided
    appraisal's report reads only what was frozen with the decision, so it is the same, byte for byte, on every
    request in every format."""

    appraisal: Appraisal
    market: MarketEvidence | None
    market_as_decided: bool
    """The appraisal is decided: the evidence is what was frozen with the decision (see `market_source`), never the
    exercise's runs or responses since."""
    generated_at: dt.datetime
    """When the report was made; a decided appraisal's: when it was decided (it shows nothing newer)."""
    market_source: MarketSource = "none"
    market_note: str = ""
    """Where the market evidence comes from, in words, e.g. "Market evidence as frozen with the decision on 3 March
    2027, 09:00 UK time: frozen market report 4 (match runs 1, 2 and 3)."."""


class SeedAppraisal(Strict):
    """seed_data/appraisals.json: a sample appraisal on the seeded exercise (by its title), decided."""

    exercise: Title
    appraisal: AppraisalIn
    decision: DecisionIn | None = None


# --- the sub-resources, each replaced whole (PUT, If-Match: the appraisal's ETag) ------------------------


class OptionsDoc(Strict):
    options: Options


class CriteriaDoc(Strict):
    criteria: Criteria


class ScoresDoc(Strict):
    scores: Scores


class ModerationDoc(Strict):
    moderation: Moderation


class CostsDoc(Strict):
    costs: Costs
