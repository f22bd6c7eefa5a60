"""Market engagement: the public notice (UK2-style), its questions, providers' responses, clarifications, the
market-response figures the report and the options appraisal read, and the OCDS release package."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from marketplace.exercises.models import NeedEligibility
from marketplace.formatting import and_list, number_words
from marketplace.types import PROSE, TEXT, AreaCode, Money, Name, Page, Strict, Title, plain

BudgetVisibility = Literal["shown", "range", "hidden"]
QuestionKind = Literal["text", "yes_no", "number", "single_choice", "multiple_choice"]
Intent = Literal["lead", "partner", "either", "not_interested"]
INTERESTED = ("lead", "partner", "either")
Barrier = Literal["contract_size", "tupe", "payment_by_results", "insurance", "timescale", "geography"]
BARRIERS: tuple[str, ...] = ("contract_size", "tupe", "payment_by_results", "insurance", "timescale", "geography")
ResponseStatus = Literal["submitted", "withdrawn"]
EngagementState = Literal["not_yet_open", "open", "closed"]

QuestionText = Annotated[str, Meta(min_length=1, max_length=1000, pattern=PROSE)]
Choice = Annotated[str, Meta(min_length=1, max_length=200, pattern=TEXT)]
ClarificationText = Annotated[str, Meta(min_length=1, max_length=4000, pattern=PROSE)]
Ident = Annotated[int, Meta(ge=1, le=999_999_999_999)]

DEADLINE_RULE = (
    "Deadlines are in Europe/London time: responses and clarification questions are accepted from the start of "
    "`opens_on` until the end of `closes_on` (midnight at the end of that day, UK time); after that a response is "
    "read-only and a late change is refused (409)."
)


# --- publishing and questions ------------------------------------------------------------------------


class PublishIn(Strict):
    """POST /exercises/{id}/publish: open the exercise for engagement (If-Match: the exercise's ETag)."""

    budget_visibility: BudgetVisibility = "hidden"
    """How much of each need's annual budget the public notice shows: the figure, a range (the fixed band the figure
    is in, engagement.service.BUDGET_BANDS: £150,000 to £250,000), or nothing."""


QuestionNumber = Annotated[float, Meta(ge=-1e12, le=1e12)]
"""A number question's bound (as far as an answer may go either way: engagement.service.ANSWER_MAX_NUMBER)."""


class QuestionIn(Strict):
    """A question the exercise asks every responding provider."""

    kind: QuestionKind
    text: QuestionText
    required: bool = False
    word_limit: Annotated[int, Meta(ge=1, le=5000)] | None = None
    """For `text` questions: the most words an answer may have (default 500)."""
    choices: Annotated[list[Choice], Meta(max_length=30)] = []
    """For `single_choice` and `multiple_choice` questions: the values an answer may take (at least two)."""
    minimum: QuestionNumber | None = None
    """For `number` questions: the least an answer may be (none: -1e12)."""
    maximum: QuestionNumber | None = None
    """For `number` questions: the most an answer may be (none: 1e12); not below `minimum`."""
    whole_number: bool = False
    """For `number` questions: answers must be whole numbers (staff, places, years)."""


class QuestionMove(Strict):
    """POST /exercises/{id}/questions/{question_id}/move: where the question goes among the exercise's questions."""

    position: Ident
    """Its place, 1 for the first question: the others keep their order around it (beyond the last: 422)."""
    from_position: Ident | None = None
    """The place it was shown at, when the move was chosen from a list of the questions (a console's *Move up*):
    refused (409), nothing moved, unless it is at that place now, so that a list someone has changed since is not
    acted on. None: wherever it is."""


class Question(msgspec.Struct):
    id: int
    exercise_id: int
    position: int
    kind: str
    text: str
    required: bool
    word_limit: int | None
    choices: list[str]
    minimum: float | None
    maximum: float | None
    whole_number: bool
    version: int
    """Sent as the ETag of PUT /exercises/{id}/questions/{question_id}: its If-Match."""

    @property
    def number_rule(self) -> str:
        """What a number question takes, in words ("a whole number from 0 to 50"), for messages, the notice and
        the form."""
        return number_words(whole=self.whole_number, least=self.minimum, most=self.maximum)


DEFAULT_WORD_LIMIT = 500


class BudgetShown(msgspec.Struct, omit_defaults=True):
    """A need's annual budget as the notice shows it: the amount, a range, or neither (hidden)."""

    visibility: str
    amount: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    per_service_user: int | None = None
    """The amount over the annual volume, when the budget is shown (a range's band would give no figure per head)."""


class DesiredOutcomeShown(msgspec.Struct):
    code: str
    name: str


class NoticeScreening(msgspec.Struct):
    """A need's screening, as it stands when the notice is read: whom the need is for (ages, gender), the years'
    experience in the pathway and the accreditations a provider's services need. Unlike the rest of the notice these
    are the commissioner's evaluation settings and may still change after publishing (each change is audited)."""

    eligibility: NeedEligibility = msgspec.field(default_factory=NeedEligibility)
    min_years_experience: int = 0
    """Years' experience in the need's pathway required (0: none)."""
    required_accreditations: list[str] = []
    """Accreditation codes required (the taxonomy's `accreditations`)."""
    required_accreditation_names: list[str] = []
    """Their names, in the same order."""


class NoticeNeed(msgspec.Struct):
    id: int
    title: str
    pathway: str
    pathway_name: str
    areas: list[str]
    area_names: list[str]
    annual_volume: int
    contract_years: float
    cohorts: list[str]
    budget: BudgetShown
    desired_outcomes: list[DesiredOutcomeShown] = []
    """What the commissioner wants the service to achieve (the pathway's desired outcomes vocabulary)."""
    cohort_names: list[str] = []
    """The cohorts' names in the taxonomy, in `cohorts`' order."""
    screening: NoticeScreening = msgspec.field(default_factory=NoticeScreening)
    """What a provider's services must meet for the need to consider them, as the commissioner screens it now."""


class PublicClarification(msgspec.Struct):
    """A clarification as everyone reads it: the question (as published) and the answer, never who asked."""

    id: int
    question: str
    answer: str
    answered_at: dt.datetime


class Notice(msgspec.Struct):
    """The public part of an exercise open for engagement (a UK2-style preliminary market engagement notice)."""

    exercise_id: int
    title: str
    description: str
    commissioning_body: str
    opens_on: dt.date
    closes_on: dt.date
    deadline: dt.datetime
    """The instant responses close: the end of `closes_on` in Europe/London, given with its UTC offset."""
    deadline_rule: str
    state: str
    """``not_yet_open``, ``open`` or ``closed``."""
    published_at: dt.datetime
    needs: list[NoticeNeed]
    questions: list[Question]
    clarifications: list[PublicClarification]


class Publication(msgspec.Struct):
    exercise_id: int
    budget_visibility: str
    published_at: dt.datetime
    published_by: int | None


class NoticeRevision(msgspec.Struct, frozen=True):
    """A move of a published notice's closing date (later: the one change publishing allows)."""

    at: dt.datetime
    """When, by the app's clock (the exercise's `notice_revised_at` then)."""
    before: dt.date
    after: dt.date


# --- responses --------------------------------------------------------------------------------------


class AreaCapacity(Strict):
    area: AreaCode
    service_users_per_year: Annotated[int, Meta(ge=0, le=10_000_000)]


class Partner(Strict, omit_defaults=True):
    """A proposed partner: a directory provider by id, or an organisation outside the directory by name."""

    provider_id: Ident | None = None
    name: Name | None = None


class NeedResponse(Strict, omit_defaults=True):
    """A provider's answer for one need."""

    need_id: Ident
    intent: Intent
    service_ids: Annotated[list[Ident], Meta(max_length=50)] = []
    """The provider's own services it would deliver with (at least one unless not interested)."""
    capacity: Annotated[list[AreaCapacity], Meta(max_length=50)] = []
    """Service users a year it could take, per area (within the need's areas)."""
    unit_cost: Annotated[Money, Meta(description="Indicative pounds per service user")] | None = None
    partners: Annotated[list[Partner], Meta(max_length=20)] = []
    barriers: Annotated[list[Barrier], Meta(max_length=6)] = []
    barriers_text: Annotated[str, Meta(max_length=4000, pattern=TEXT)] = ""


AnswerValue = str | bool | float | list[Choice]


class Answer(Strict):
    question_id: Ident
    value: AnswerValue
    """Text for `text` (at most 20,000 characters, no control characters) and `single_choice`, true/false for
    `yes_no`, a number for `number` (between -1e12 and 1e12), a list of choices for `multiple_choice`. Checked
    against the question when the response is saved (422 naming `answers[n].value`)."""


class ResponseIn(Strict):
    """A provider's response to an exercise (the whole response: each submission replaces the last)."""

    needs: Annotated[list[NeedResponse], Meta(min_length=1, max_length=50)]
    answers: Annotated[list[Answer], Meta(max_length=100)] = []


class Response(msgspec.Struct):
    """A provider's response as it now stands (its newest revision)."""

    exercise_id: int
    provider_id: int
    provider_name: str
    status: str
    revision: int
    submitted_at: dt.datetime
    """When what the response says was submitted (for a withdrawn response, the submission it withdrew)."""
    withdrawn_at: dt.datetime | None
    """When it was withdrawn; null unless `status` is withdrawn."""
    needs: list[NeedResponse]
    answers: list[Answer]

    @property
    def saved_at(self) -> dt.datetime:
        """When this revision was made: its withdrawal or its submission."""
        return self.withdrawn_at or self.submitted_at


class ResponseRevision(Response):
    snapshot: dict[str, Any]
    """The provider's profile with its services when this revision was submitted."""
    recorded_at: dt.datetime | None = None
    """When the database stored this revision, by its own clock, which no client can set (`submitted_at` and
    `withdrawn_at` are the application's); null for revisions stored before it kept one (schema/0031)."""


class ResponsePage(Page[Response]):
    pass


# --- clarifications ---------------------------------------------------------------------------------


class ClarificationIn(Strict):
    question: ClarificationText


class AnswerIn(Strict):
    answer: ClarificationText
    published_question: ClarificationText
    """The question as published to everyone beside the answer, word for word: reworded to leave out anything that
    identifies who asked (their name, staff, places), or the question as asked when nothing in it does. Required, so
    that what is published is always a text the commissioner wrote or chose (a question was once published as asked,
    with the asking provider's name in it, whenever the commissioner left this out)."""


class Clarification(msgspec.Struct):
    """A clarification as its asker and the commissioners see it."""

    id: int
    exercise_id: int
    provider_id: int | None
    """Who asked: shown to commissioners and to the asker only."""
    question: str
    asked_at: dt.datetime
    published_question: str | None
    answer: str | None
    answered_at: dt.datetime | None


# --- finding ----------------------------------------------------------------------------------------


class OpenExercise(msgspec.Struct):
    exercise_id: int
    title: str
    commissioning_body: str
    published_at: dt.datetime
    closes_on: dt.date
    deadline: dt.datetime
    need_ids: list[int]
    """Its needs in a pathway of one of the provider's active services, in an area that service covers."""
    service_ids: list[int]
    """The provider's services that match one of those needs."""
    responded: bool
    """Whether the provider's response to the exercise stands (submitted and not withdrawn)."""
    response_status: ResponseStatus | None
    """The provider's own response's status now: null when it has not responded, `submitted` when its response
    stands (as `responded`), `withdrawn` when it withdrew it (it can read it, and submit it again until the
    deadline)."""


# --- market response (the report's section, and what the options appraisal reads) --------------------


class CostRange(msgspec.Struct):
    responses: int
    """Responses stating an indicative unit cost."""
    minimum: float | None
    median: float | None
    maximum: float | None
    budget_per_service_user: float
    """The need's annual budget over its annual volume."""
    median_to_budget: float | None
    """The median over the budget per service user (above 1: dearer than the budget allows)."""


class CellResponse(msgspec.Struct):
    area: str
    area_name: str
    responses: int
    """Interested responses offering capacity in this area (directly, or in an area containing it)."""
    offered_capacity: int
    """Service users a year offered here: capacity offered for a larger area is spread over its areas by population
    (as the grid spreads the service users it expects; evenly without population figures), and the areas' figures
    rounded so that they add up to the need's (largest remainder: an even 675 over six areas is three 113 and three
    112, not six 112)."""


class ConsortiumPartner(msgspec.Struct):
    name: str
    """A directory partner's name in the directory, an outside one's as the response gave it."""
    provider_id: int | None = None
    """The directory's id of a partner in it (None: outside the directory)."""


class Consortium(msgspec.Struct):
    """A partnership the responses declare: one per set of organisations, however many of its members' responses
    declare it (each names the others), led by the member whose response says it would lead."""

    lead_provider_id: int
    lead_name: str
    partners: list[str]
    """Directory partners as "name (provider N)", outside ones by their name."""
    members: list[ConsortiumPartner] = []
    """The partners again, each by its name with its directory id apart: what a reader is shown (the names; empty in
    a report stored before they were kept)."""
    declared_by: list[int] = []
    """The members whose responses declare it (empty in a report stored before they were kept: its lead's)."""
    lead_declared: bool = True
    """Whether the lead's response says it would lead (`lead`, or `either` when no member says `lead`); false when
    every declaring member said `partner`: the lead is then only the first to declare it."""

    @property
    def partner_names(self) -> list[str]:
        """The partners by name, as a reader reads them (no ids)."""
        return [m.name for m in self.members] if self.members else self.partners

    @property
    def notes(self) -> list[str]:
        """What a reader is told of it besides its members: declared by more than one of them; no lead declared."""
        notes = []
        if len(self.declared_by) > 1:
            notes.append("declared by both" if len(self.declared_by) == 2 else f"declared by {len(self.declared_by)}")
        if not self.lead_declared:
            notes.append(f"no member said it would lead; {self.lead_name} declared it as a partner")
        return notes

    @property
    def in_words(self) -> str:
        """ "Kingfisher Trust with Meadowsweet (declared by both)": what the report's page says of it."""
        notes = self.notes
        return f"{self.lead_name} with {and_list(self.partner_names)}" + (f" ({'; '.join(notes)})" if notes else "")


class NonResponder(msgspec.Struct):
    provider_id: int
    name: str
    score: float


class NeedMarketResponse(msgspec.Struct):
    need_id: int
    title: str
    pathway: str
    annual_volume: int
    annual_budget: int
    responses: int
    """Interested responses (lead, partner or either)."""
    not_interested: int
    intent: dict[str, int]
    offered_capacity: int
    capacity_to_volume: float | None
    costs: CostRange
    cells: list[CellResponse]
    consortia: list[Consortium]
    barriers: dict[str, int]
    barrier_notes: list[str]
    suitable_non_responders: list[NonResponder]
    """Providers the newest stored match run found suitable (score at or above the threshold) that have not
    responded (None known when the need has no stored run)."""
    match_run_id: int | None


class NotCounted(msgspec.Struct):
    """A submitted response left out of the market-response figures: its provider is not in the directory now."""

    provider_id: int
    name: str
    status: str
    """The provider's status now: archived (out of the directory since it responded) or pending (not yet checked
    and published by an admin)."""
    reason: str
    submitted_at: dt.datetime | None = None
    """When what the response says was submitted (null in reports frozen before this was kept)."""


class AnswerGiven(msgspec.Struct):
    provider_id: int
    name: str
    """The provider's name in the directory."""
    answer: str
    """The answer in words: "yes" or "no", the number, the choices joined by "; ", the text."""


class QuestionSummary(msgspec.Struct):
    """What the counted responses answered to one of the exercise's questions: how many gave each choice (every
    choice listed, 0 included; "yes" and "no" for a yes-or-no question), the least, median and most of the numbers,
    and every answer by provider."""

    question_id: int
    position: int
    text: str
    kind: str
    answered: int
    """Counted responses (from providers in the directory now) that answered it."""
    counts: dict[str, int] = {}
    minimum: float | None = None
    median: float | None = None
    maximum: float | None = None
    answers: list[AnswerGiven] = []


class MarketResponse(msgspec.Struct):
    exercise_id: int
    published: bool
    deadline: dt.datetime | None
    responses: int
    """Current responses, not withdrawn, from providers in the directory (published) now."""
    withdrawn: int
    threshold: float
    needs: list[NeedMarketResponse]
    clarifications: list[PublicClarification]
    not_counted: list[NotCounted] = msgspec.field(default_factory=list)
    """Submitted responses whose providers are not in the directory now (archived since, or pending), each with why:
    listed, and counted in no figure above."""
    questions: list[QuestionSummary] = msgspec.field(default_factory=list)
    """The exercise's questions, in their order, with what the counted responses answered (empty in a report stored
    before the answers were summarised)."""


# --- OCDS -------------------------------------------------------------------------------------------

OcdsPackage = dict[str, Any]
"""An OCDS 1.1 release package (validated in the tests against the official schema and the UK extension)."""


CPV = plain(r"^[0-9]{8}-[0-9]$", "must be a CPV code with its check digit, e.g. 85312000-9", "85312000-9")


class CpvEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One row of seed_data/cpv.json: a pathway's CPV code (with its check digit) and the code's name."""

    pathway: str
    cpv: Annotated[str, Meta(pattern=CPV)]
    name: Title


# --- seed -------------------------------------------------------------------------------------------


class SampleClarification(Strict):
    question: ClarificationText
    answer: ClarificationText
    published_question: ClarificationText


class SampleEngagement(Strict):
    """seed_data/engagement.json: the sample exercise published for engagement, with questions, a clarification
    answered, and responses from the first few providers whose services fit each need (the others stay silent)."""

    exercise_title: Title
    budget_visibility: BudgetVisibility
    questions: Annotated[list[QuestionIn], Meta(max_length=30)]
    clarifications: list[SampleClarification] = []
    respondents_per_need: Annotated[int, Meta(ge=0, le=10)] = 2
    published_days_after_opening: Annotated[int, Meta(ge=0, le=365)] = 0
    responses_days_after_opening: Annotated[int, Meta(ge=0, le=365)] = 14
