"""Provider profile types: the API validates with them and the seed loader decodes with them."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from marketplace.accounts.models import NewApiKey
from marketplace.errors import FieldProblem
from marketplace.taxonomy.checks import check_code, not_after
from marketplace.taxonomy.models import DesiredOutcomeCode, LegalForm, Taxonomy
from marketplace.types import (
    NAME,
    TEXT,
    AreaCode,
    CohortCode,
    Count,
    Email,
    LongText,
    Money,
    Name,
    Page,
    PathwayCode,
    Phone,
    ShortText,
    Slug,
    Strict,
    Url,
    Year,
    decimal_places,
    merge,
    nested_areas,
    nfc,
    plain,
    project,
    rounded,
    trimmed,
)

# org-id.guide identifiers: list prefix + the register's own number, format-checked per scheme.
ORG_ID_PATTERNS: dict[str, str] = {
    "GB-CHC": r"^GB-CHC-[0-9]{6,7}(-[0-9]{1,2})?$",  # Charity Commission for England and Wales
    "GB-COH": r"^GB-COH-([0-9]{8}|(SC|NI|OC|SO|IP|RS)[0-9]{6})$",  # Companies House
    "GB-MPR": r"^GB-MPR-(IP|RS)?[0-9]{3,6}R?$",  # FCA Mutuals Public Register
    "GB-SC": r"^GB-SC-SC[0-9]{6}$",  # OSCR (Scotland)
    "GB-NIC": r"^GB-NIC-[0-9]{6}$",  # Charity Commission for Northern Ireland
    "GB-GOR": r"^GB-GOR-[A-Z]{2}[0-9]{1,4}$",  # UK government organisation register
    "GB-LAE": r"^GB-LAE-[A-Z]{3,4}$",  # Local authorities in England
    "GB-NHS": r"^GB-NHS-[A-Z0-9]{3,5}$",  # NHS organisations (ODS code)
}
ORG_ID_EXAMPLES = {
    "GB-CHC": "GB-CHC-1234567",
    "GB-COH": "GB-COH-01234567",
    "GB-MPR": "GB-MPR-12345R",
    "GB-SC": "GB-SC-SC012345",
    "GB-NIC": "GB-NIC-100123",
    "GB-GOR": "GB-GOR-PB123",
    "GB-LAE": "GB-LAE-HEF",
    "GB-NHS": "GB-NHS-RLQ",
}
"""An identifier of each scheme, for the message a malformed one gets (tests check each fits its pattern)."""
OrgId = Annotated[
    str,
    Meta(
        pattern=plain(
            r"^GB-(CHC|COH|MPR|SC|NIC|GOR|LAE|NHS)-[A-Z0-9-]{2,20}$",
            "use the form GB-CHC-1234567: an org-id.guide list (GB-CHC charities, GB-COH companies, GB-MPR mutuals, "
            "GB-SC, GB-NIC, GB-GOR, GB-LAE, GB-NHS), a dash and the register's number",
            "GB-CHC-1234567",
        ),
        description="org-id.guide identifier, e.g. GB-CHC-1234567, GB-COH-01234567, GB-MPR-12345R",
        examples=["GB-CHC-1234567"],
    ),
]

Description = Annotated[str, Meta(min_length=1, max_length=4000, pattern=TEXT)]
NAME_LEAST = 2
OrgName = Annotated[str, Meta(min_length=NAME_LEAST, max_length=200, pattern=NAME)]
TOO_SHORT = (
    f"must be at least {NAME_LEAST} characters long, not counting spaces at its ends and invisible characters "
    "(which are not kept)"
)


class Contact(Strict):
    name: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None


UNORDERED = "their order means nothing: the same {} in another order are no change (kept in the order held)"
"""What a set-like list's description says of its order (`as_held`, `service_as_held`)."""


def _set_of(kind: str, kept: str, *, max_length: int, min_length: int | None = None) -> Meta:
    """The `Meta` of a set-like list of codes (`kind`, stored in the order `kept` says), its order no part of it."""
    said = f"The {kind}, each once, kept {kept}; " + UNORDERED.format(kind.split(" (")[0])
    return Meta(min_length=min_length, max_length=max_length, description=said)


# --- services ----------------------------------------------------------------------------------------
# What a provider offers, one pathway each: where, for whom, how many and at what cost (Open Referral HSDS:
# an organisation has services, each with its own service areas, eligibility, capacity and cost options).

Gender = Literal["men", "women", "both"]
DeliveryMode = Literal["in_person", "outreach", "remote", "residential"]
Complexity = Literal["low", "medium", "high"]
CostUnit = Literal["per_service_user", "per_place_per_year", "per_hour", "per_session"]
EvidenceSource = Literal["self_declared", "independently_evaluated", "commissioner_reported"]
ServiceStatus = Literal["active", "inactive"]
Age = Annotated[int, Meta(ge=0, le=120)]
Reference = Annotated[str, Meta(min_length=1, max_length=300, pattern=TEXT)]
DesiredOutcomes = Annotated[
    list[DesiredOutcomeCode], _set_of("desired outcomes", "in the order first given", max_length=10)
]
Cohorts = Annotated[list[CohortCode], _set_of("cohorts", "in the taxonomy's order", min_length=1, max_length=10)]
Areas = Annotated[
    list[AreaCode],
    _set_of("areas (ONS GSS codes; an area covers everything below it)", "by code", min_length=1, max_length=200),
]
DeliveryModes = Annotated[list[DeliveryMode], _set_of("delivery modes", "in the order first given", max_length=4)]
ComplexityLevels = Annotated[list[Complexity], _set_of("complexity levels", "in the order first given", max_length=3)]
Accreditations = Annotated[list[Slug], _set_of("accreditations", "by code", max_length=30)]
SocialValue = Annotated[list[Slug], _set_of("social value commitments", "by code", max_length=30)]
OrgIds = Annotated[list[OrgId], _set_of("identifiers", "by code", max_length=10)]


class Eligibility(Strict):
    """Who the service is for: an age range (either end open) and men, women or both."""

    min_age: Age | None = None
    max_age: Age | None = None
    gender: Gender = "both"


class ServiceCapacity(Strict):
    service_users_per_year: Count | None = None
    places_available: Count | None = None
    """Places free now, as of `places_as_of` (both or neither)."""
    places_as_of: dt.date | None = None


COST_PLACES = 2
"""A cost is stored to the penny (schema/0007: numeric(12, 2)): more decimal places are refused (422, `too_precise`
in `service_problems`: a rule no JSON Schema states reliably of a float), never rounded, since a price rounded without
a word is not the price its provider gave."""
OUTCOME_VALUE_PLACES = 4
"""An outcomes record's figure is stored to 4 decimal places (numeric(16, 4)): one with more is rounded to them
(`normalised_service`), so the history, the response and the stored record say the same."""
RESERVES_PLACES = 2
"""Reserves are stored in months to 2 decimal places (numeric(6, 2)): more are rounded to them (`normalised`)."""


class Cost(Strict):
    """An indicative cost: pounds (to the penny) per unit."""

    amount: Annotated[
        float, Meta(ge=0, le=10_000_000, description=f"Pounds, to the penny: at most {COST_PLACES} decimal places")
    ]
    unit: CostUnit


PERIOD_FORMS = (
    "a year (2024), a financial or academic year (2024/25 or 2024-25), a month (March 2025) or a range of these "
    "(April 2024 to March 2025), then, if need be, words saying more (2024/25 academic year, 2023 releases, followed "
    "up to 2025)"
)
"""What an outcomes record's `period` may say (`period_problems`), in the words its errors and its description use."""


class OutcomeRecord(Strict):
    """One outcome the service achieved: what, measured how, the figure, over what period, for how many
    people, said by whom, and where to check it."""

    outcome: ShortText
    measure: ShortText
    period: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=200,
            pattern=TEXT,
            description=f"The period the results are over, ended by today: {PERIOD_FORMS}",
            examples=["2024/25"],
        ),
    ]
    value: (
        Annotated[
            float,
            Meta(
                ge=-1_000_000_000,
                le=1_000_000_000,
                description=f"The figure, kept to {OUTCOME_VALUE_PLACES} decimal places (more are rounded)",
            ),
        ]
        | None
    ) = None
    people: Count | None = None
    source: EvidenceSource = "self_declared"
    reference: Reference | None = None
    """A link or a reference to the report, evaluation or contract return."""
    note: LongText | None = None
    desired_outcomes: DesiredOutcomes = []
    """The desired outcomes (GET /desired-outcomes, of the service's pathway) this record evidences."""


OutcomeRecords = Annotated[
    list[OutcomeRecord],
    Meta(
        max_length=20,
        description="Its outcomes records, in the order given and kept: a record is named by its place "
        "(`outcomes[0]`, as an admin verifies it), so the same records in another order are a change",
    ),
]


class ServiceIn(Strict):
    """A service as the provider describes it: the body of POST /providers/{id}/services."""

    pathway: PathwayCode
    name: Name
    description: Description
    cohorts: Cohorts
    areas: Areas
    """Where it is delivered (ONS GSS codes; an area covers everything below it)."""
    status: ServiceStatus = "active"
    eligibility: Eligibility = msgspec.field(default_factory=Eligibility)
    capacity: ServiceCapacity = msgspec.field(default_factory=ServiceCapacity)
    delivery_modes: DeliveryModes = []
    complexity_levels: ComplexityLevels = []
    cost: Cost | None = None
    years_delivering: Annotated[int, Meta(ge=0, le=200)] = 0
    outcomes: OutcomeRecords = []
    accreditations: Accreditations = []
    """Accreditations of this service (the organisation's own are on the profile)."""


class Verification(msgspec.Struct):
    """An admin has seen the evidence for one accreditation or outcomes record. It lasts while the thing verified
    is unchanged: a provider editing the outcomes record (any field) or removing the accreditation makes it
    self-declared again."""

    subject: str
    """What was verified: `accreditations[iso_9001]` or `outcomes[0]` (of the service, by position)."""
    seen: str
    """What the admin saw, in their words."""
    verified_at: dt.datetime
    accreditation: str | None = None
    outcome: int | None = None
    verified_by: int | None = None
    """The admin's API key id."""
    verified_by_role: str | None = None


class VerificationIn(Strict):
    """The body of a verification: what the admin saw (required), e.g. "certificate no. 123 seen, valid to
    2027-03"."""

    seen: Annotated[str, Meta(max_length=1000, pattern=TEXT)]


class EvidenceTarget(msgspec.Struct, frozen=True):
    """What is verified: an accreditation of the organisation (no service) or of a service, or a service's
    outcomes record (by its position in the service's list)."""

    service_id: int | None = None
    accreditation: str | None = None
    outcome: int | None = None

    @property
    def field(self) -> str:
        """Its name in the profile history: `accreditations[iso_9001]`, `services[12].outcomes[0]`..."""
        where = f"services[{self.service_id}]." if self.service_id is not None else ""
        what = (
            f"accreditations[{self.accreditation}]" if self.accreditation is not None else f"outcomes[{self.outcome}]"
        )
        return where + what


class Service(ServiceIn):
    """A service as the API returns it."""

    id: int = 0
    uuid: str = ""
    """Stable identifier (Open Referral HSDS identifies records by UUID)."""
    version: int = 1
    last_confirmed_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    verifications: list[Verification] = []
    """Its verified accreditations and outcomes records (the others are self-declared)."""


class EligibilityPatch(Strict):
    min_age: Age | UnsetType | None = UNSET
    max_age: Age | UnsetType | None = UNSET
    gender: Gender | UnsetType = UNSET


class ServiceCapacityPatch(Strict):
    service_users_per_year: Count | UnsetType | None = UNSET
    places_available: Count | UnsetType | None = UNSET
    places_as_of: dt.date | UnsetType | None = UNSET


class ServicePatch(Strict):
    """PATCH /providers/{id}/services/{service_id}: fields left out stay, null clears, a list replaces the list;
    eligibility and capacity change field by field."""

    pathway: PathwayCode | UnsetType = UNSET
    name: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    cohorts: Cohorts | UnsetType = UNSET
    areas: Areas | UnsetType = UNSET
    status: ServiceStatus | UnsetType = UNSET
    eligibility: EligibilityPatch | UnsetType = UNSET
    capacity: ServiceCapacityPatch | UnsetType = UNSET
    delivery_modes: DeliveryModes | UnsetType = UNSET
    complexity_levels: ComplexityLevels | UnsetType = UNSET
    cost: Cost | UnsetType | None = UNSET
    years_delivering: Annotated[int, Meta(ge=0, le=200)] | UnsetType = UNSET
    outcomes: OutcomeRecords | UnsetType = UNSET
    accreditations: Accreditations | UnsetType = UNSET


# --- the organisation -------------------------------------------------------------------------------


class Premises(Strict):
    area: AreaCode
    description: ShortText


PremisesList = Annotated[
    list[Premises],
    Meta(
        max_length=50,
        description="The places it works from, each once (one area and description, whatever its case); "
        + UNORDERED.format("places"),
    ),
]
FundingSources = Annotated[
    list[ShortText],
    Meta(
        max_length=30,
        description="Where its money comes from besides match funding, each once (as first written, whatever its "
        "case); " + UNORDERED.format("sources") + ": none is read as the main one",
    ),
]
PartnerOrganisations = Annotated[
    list[ShortText],
    Meta(
        max_length=50,
        description="Organisations it works with, each once (as first written, whatever its case); "
        + UNORDERED.format("partners"),
    ),
]


class Resources(Strict):
    volunteers: Count = 0
    premises: PremisesList = []
    match_funding_per_year: Money = 0
    other_funding_sources: FundingSources = []
    partner_organisations: PartnerOrganisations = []


AccountsScrutiny = Literal["audited", "independently_examined", "unscrutinised"]


ReservesMonths = Annotated[
    float,
    Meta(ge=0, le=600, description=f"Months of spending, kept to {RESERVES_PLACES} decimal places (more are rounded)"),
]


class Finances(Strict):
    annual_income: Money | None = None
    reserves_months: ReservesMonths | None = None
    accounts_year_end: dt.date | None = None
    """The end of the financial year of the latest accounts."""
    accounts_scrutiny: AccountsScrutiny | None = None
    """Whether those accounts were audited or independently examined."""


MAX_NEW_SERVICES = 50
"""Services a new provider may bring with it (a registration, an imported organisation)."""


class ProviderProfile(Strict):
    """What an organisation says about itself (its services apart): what PATCH /providers/{id} changes."""

    name: OrgName
    legal_form: Slug
    identifiers: OrgIds = []
    description: LongText = ""
    website: Url | None = None
    founded_year: Year | None = None
    contact: Contact = msgspec.field(default_factory=Contact)
    resources: Resources = msgspec.field(default_factory=Resources)
    finances: Finances = msgspec.field(default_factory=Finances)
    accreditations: Accreditations = []
    social_value: SocialValue = []


STATUSES = ("pending", "published", "archived")
PUBLIC_STATUSES = ("published",)
Status = Annotated[
    str,
    Meta(
        pattern=plain(
            r"^(pending|published|archived)$", "must be pending, published or archived, e.g. published", "published"
        )
    ),
]
MarketplaceAction = Literal["confirm", "publish", "archive", "verify"]


class NewProvider(ProviderProfile):
    """The body of a registration: the profile and the services it starts with."""

    services: Annotated[list[ServiceIn], Meta(max_length=MAX_NEW_SERVICES)] = []


class SeedVerification(Strict):
    """A demo verification (made by the seed as an admin): the organisation's accreditation, a service's
    accreditation or a service's outcomes record (`service`: its index in the record's services)."""

    seen: Annotated[str, Meta(min_length=1, max_length=1000, pattern=TEXT)]
    accreditation: Slug | None = None
    service: Annotated[int, Meta(ge=0)] | None = None
    outcome: Annotated[int, Meta(ge=0)] | None = None


class SeedProvider(NewProvider):
    """A demo record: a new provider plus the marketplace-held fields a seed may set."""

    status: Status = "published"
    last_confirmed_on: dt.date | None = None
    verifications: list[SeedVerification] = []


def seed_verification_problems(p: SeedProvider) -> list[FieldProblem]:
    """A demo verification must name something the record holds."""
    out = []
    for i, v in enumerate(p.verifications):
        field = f"verifications[{i}]"
        service = p.services[v.service] if v.service is not None and v.service < len(p.services) else None
        if v.service is not None and service is None:
            out.append(FieldProblem(field=f"{field}.service", problem="no such service in this record"))
        elif (v.accreditation is None) == (v.outcome is None):
            out.append(FieldProblem(field=field, problem="name an accreditation or an outcomes record"))
        elif v.outcome is not None and (service is None or v.outcome >= len(service.outcomes)):
            out.append(FieldProblem(field=f"{field}.outcome", problem="no such outcomes record in the service"))
        elif v.accreditation is not None and v.accreditation not in (
            service.accreditations if service is not None else p.accreditations
        ):
            out.append(FieldProblem(field=f"{field}.accreditation", problem="not held"))
    return out


class Provider(ProviderProfile):
    """A full profile as the API returns it, with its services."""

    services: list[Service] = []
    id: int = 0
    sector: str = ""
    status: str = "pending"
    is_sample: bool = False
    verified_at: dt.datetime | None = None
    stale: bool = False
    version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    last_confirmed_at: dt.datetime | None = None
    to_confirm: list[str] = []
    """What the marketplace asks the provider to check and confirm (cleared by POST .../confirm)."""
    verifications: list[Verification] = []
    """Its own accreditations an admin has verified (its services' verifications are on each service)."""


class ServiceSummary(msgspec.Struct):
    """A service in a search result: one of those that met the search's service filters."""

    id: int
    name: str
    pathway: str
    areas: list[str]
    service_users_per_year: int | None
    cost: Cost | None


class ProviderSummary(msgspec.Struct):
    id: int
    name: str
    legal_form: str
    sector: str
    status: str
    pathways: list[str]
    """The pathways of its active services."""
    coverage: list[str]
    """The areas its active services cover (as given, not expanded)."""
    cohorts: list[str]
    accreditations: list[str]
    """The organisation's accreditations and its active services' (any of them)."""
    is_sample: bool
    stale: bool
    """Not confirmed by the provider for 12 months."""
    matched_services: list[ServiceSummary] = []
    """The active services that met every service filter of the search (all active services when it has none)."""
    relevance: float | None = None


class FacetCount(msgspec.Struct):
    code: str
    name: str
    count: int


class Facets(msgspec.Struct):
    pathway: list[FacetCount]
    area: list[FacetCount]
    sector: list[FacetCount]


SEARCH_GENDERS = ("men", "women")
"""A search's `gender`: services for men (or for both), for women (or for both)."""


class SearchQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A directory search: filters AND together; several values of one filter are alternatives (any of
    them), except accreditations, which are all required. Pathway, area, cohort, capacity, age, gender,
    complexity, delivery mode and cost apply to one service: a provider is found when one of its active services
    meets all of them. Sector, legal form, status and text apply to the organisation; an accreditation may be
    the organisation's or the matching service's."""

    status: Literal["published", "pending", "archived"] = "published"
    pathway: list[str] = []
    area: list[str] = []
    cohort: list[str] = []
    sector: list[str] = []
    legal_form: list[str] = []
    accreditation: list[str] = []
    min_capacity: int | None = None
    age: int | None = None
    gender: str | None = None
    """One of SEARCH_GENDERS (checked by the use case, which names them)."""
    complexity: list[str] = []
    delivery_mode: list[str] = []
    max_cost: float | None = None
    q: str | None = None
    page: int = 1
    per_page: int = 20
    facets: bool = True
    sort: Literal["relevance", "name"] | None = None


class SearchResult(msgspec.Struct):
    total: int
    page: int
    per_page: int
    pages: int
    items: list[ProviderSummary]
    facets: Facets | None = None
    interpreted_query: list[list[str]] | None = None


T = TypeVar("T")


def once(values: list[T]) -> list[T]:
    """Each value once, in first-seen order."""
    return list(dict.fromkeys(values))


def once_said(values: list[str]) -> list[str]:
    """Free text each said once: outer spaces dropped, and a value said again in other letters ("Lottery",
    "lottery ") kept as first written."""
    seen: dict[str, str] = {}
    for v in values:
        text = nfc(v)
        seen.setdefault(text.casefold(), text)
    return list(seen.values())


def _premises_once(premises: list[Premises]) -> list[Premises]:
    """Each place once: the same area and description (as `once_said` compares text) is one place."""
    seen: dict[tuple[str, str], Premises] = {}
    for p in premises:
        seen.setdefault((p.area, nfc(p.description).casefold()), p)
    return list(seen.values())


P = TypeVar("P", bound=ProviderProfile)


def normalised(profile: P) -> P:
    """Set-like lists hold each value once (first occurrence kept); names lose outer spaces; a new provider's
    services are normalised too. (Their order is the one sent until the rules are checked, so that a problem names
    the value where it was sent: `in_stored_order` then puts them in the order they are stored in.)"""
    out = msgspec.structs.replace(
        profile,
        name=nfc(profile.name),
        identifiers=once(profile.identifiers),
        accreditations=once(profile.accreditations),
        social_value=once(profile.social_value),
        finances=msgspec.structs.replace(profile.finances, reserves_months=_kept(profile.finances.reserves_months)),
        resources=msgspec.structs.replace(
            profile.resources,
            premises=_premises_once(profile.resources.premises),
            other_funding_sources=once_said(profile.resources.other_funding_sources),
            partner_organisations=once_said(profile.resources.partner_organisations),
        ),
    )
    if isinstance(out, NewProvider):
        out = msgspec.structs.replace(out, services=[normalised_service(x) for x in out.services])
    return out


S = TypeVar("S", bound=ServiceIn)


def normalised_service(service: S) -> S:
    return msgspec.structs.replace(
        service,
        name=nfc(service.name),
        cohorts=once(service.cohorts),
        areas=once(service.areas),
        delivery_modes=once(service.delivery_modes),
        complexity_levels=once(service.complexity_levels),
        accreditations=once(service.accreditations),
        outcomes=[
            msgspec.structs.replace(
                o,
                outcome=trimmed(o.outcome),
                measure=trimmed(o.measure),
                period=trimmed(o.period),
                reference=_said(o.reference),
                note=_said(o.note),
                desired_outcomes=once(o.desired_outcomes),
                value=None if o.value is None else rounded(o.value, OUTCOME_VALUE_PLACES),
            )
            for o in service.outcomes
        ],
    )


def _said(text: str | None) -> str | None:
    """Optional free text as it is stored: without spaces at its ends (`types.trimmed`), and none when it says
    nothing (`""`, `" "`): what a spreadsheet's cell gives back, where an empty cell is no text (a note stored as
    `"Seen "` or `""` came back from an exported sheet as `"Seen"` and null, a change to a profile left unchanged)."""
    said = None if text is None else trimmed(text)
    return said or None


def _kept(reserves_months: float | None) -> float | None:
    """Reserves as they are stored (`RESERVES_PLACES`)."""
    return None if reserves_months is None else rounded(reserves_months, RESERVES_PLACES)


def too_precise(service: ServiceIn, prefix: str = "") -> list[FieldProblem]:
    """A cost in fractions of a penny (`COST_PLACES`), named as sent (`services[0].cost.amount`)."""
    if service.cost is None or decimal_places(service.cost.amount) <= COST_PLACES:
        return []
    problem = f"at most {COST_PLACES} decimal places (pounds and pence), not {service.cost.amount!r}"
    return [FieldProblem(field=f"{prefix}cost.amount", problem=problem)]


def by_rank(codes: list[str], ranked: Sequence[str]) -> list[str]:
    """`codes` in a taxonomy's order (`ranked`: a service's cohorts are read back `order by sort_order, code`, the
    order `Taxonomy.cohorts` keeps); a code it does not know after those it does."""
    rank = {c: i for i, c in enumerate(ranked)}
    return sorted(codes, key=lambda c: (rank.get(c, len(rank)), c))


def in_stored_order(profile: P, taxonomy: Taxonomy) -> P:
    """A checked profile's codes in the order the profile document reads them back (schema/0023: identifiers,
    accreditations and social value commitments by code), a new provider's services' too: what a change records in
    the history is what is stored, and what it compares with what is held is in the held order."""
    out = msgspec.structs.replace(
        profile,
        identifiers=sorted(profile.identifiers),
        accreditations=sorted(profile.accreditations),
        social_value=sorted(profile.social_value),
    )
    if isinstance(out, NewProvider):
        out = msgspec.structs.replace(out, services=[service_in_stored_order(x, taxonomy) for x in out.services])
    return out


def service_in_stored_order(service: S, taxonomy: Taxonomy) -> S:
    """A checked service's codes in the order the service document reads them back (areas and accreditations by
    code, cohorts in the taxonomy's order); delivery modes, complexity levels and an outcomes record's desired
    outcomes are stored as given."""
    return msgspec.structs.replace(
        service,
        cohorts=by_rank(service.cohorts, list(taxonomy.codes("cohorts"))),
        areas=sorted(service.areas),
        accreditations=sorted(service.accreditations),
    )


PROFILE_SETS = ("identifiers", "accreditations", "social_value")
RESOURCES_SETS = ("premises", "other_funding_sources", "partner_organisations")
SERVICE_SETS = ("cohorts", "areas", "delivery_modes", "complexity_levels", "accreditations")
"""A profile's (its resources' too) and a service's set-like lists: each value once, its order no part of what it
says. Nothing reads a place in them: the profile, the HSDS `funding` rows, the flat sheet and matching (which counts
distinct sources and partners) take them as sets. A service's outcomes records are not one: a record is named by its
place (`outcomes[0]`, as verified), so their order is kept and a reordering is a change."""


def held_order(sent: list[Any], held: list[Any]) -> list[Any]:
    """`held` when `sent` holds the same values (in another order), else `sent`: the same set sent in another order
    is no change, and writes nothing. (Held as stored, not as sorted here: lists stored as given, delivery modes,
    funding sources and the like, keep the order first sent, as a form shows them back; and a database collating
    codes otherwise than by code point keeps its own.) Values are compared as JSON, so premises compare too."""
    encode = msgspec.json.encode
    same = len(sent) == len(held) and set(map(encode, sent)) == set(map(encode, held))
    return held if same else sent


def as_held(after: P, before: P) -> P:
    """`after` with each set-like list (`PROFILE_SETS`, `RESOURCES_SETS`) that holds what `before`'s does as
    `before` holds it: a reordering alone is no change."""
    resources = msgspec.structs.replace(
        after.resources,
        **{f: held_order(getattr(after.resources, f), getattr(before.resources, f)) for f in RESOURCES_SETS},
    )
    return msgspec.structs.replace(
        after, resources=resources, **{f: held_order(getattr(after, f), getattr(before, f)) for f in PROFILE_SETS}
    )


def service_as_held(after: S, before: S) -> S:
    """`after` with each set-like list (`SERVICE_SETS`, and the desired outcomes of an outcomes record in the same
    place) that holds what `before`'s does as `before` holds it: a reordering alone is no change, and an outcomes
    record stays the record verified (its fingerprint reads its desired outcomes in their stored order)."""
    outcomes = [
        msgspec.structs.replace(o, desired_outcomes=held_order(o.desired_outcomes, before.outcomes[j].desired_outcomes))
        if j < len(before.outcomes)
        else o
        for j, o in enumerate(after.outcomes)
    ]
    held = {f: held_order(getattr(after, f), getattr(before, f)) for f in SERVICE_SETS}
    return msgspec.structs.replace(after, **held, outcomes=outcomes)


def profile_problems(
    profile: ProviderProfile, taxonomy: Taxonomy, *, today: dt.date, prefix: str = ""
) -> list[FieldProblem]:
    """Checks that need the taxonomies or the date: every code known, identifiers fit their scheme and legal form, no
    accounts dated after `today`; and a new provider's services (`services[2].areas[0]`)."""
    year = today.year
    areas = taxonomy.codes("areas")
    legal_form = taxonomy.legal_form(profile.legal_form)
    found: list[FieldProblem | None] = [
        check_code(f"{prefix}legal_form", profile.legal_form, taxonomy.codes("legal_forms"), "legal form"),
        *identity_problems(profile.identifiers, legal_form, profile.founded_year, year=year, prefix=prefix),
    ]
    for i, p in enumerate(profile.resources.premises):
        found.append(check_code(f"{prefix}resources.premises[{i}].area", p.area, areas, "area"))
    for i, a in enumerate(profile.accreditations):
        found.append(check_code(f"{prefix}accreditations[{i}]", a, taxonomy.codes("accreditations"), "accreditation"))
    for i, s in enumerate(profile.social_value):
        found.append(check_code(f"{prefix}social_value[{i}]", s, taxonomy.codes("social_value"), "social value"))
    problems = [p for p in found if p is not None]
    if len(profile.name) < NAME_LEAST:  # as stored: without outer spaces and invisible characters (`normalised`)
        problems.append(FieldProblem(field=f"{prefix}name", problem=TOO_SHORT))
    if (mixed := mixed_scripts(profile.name)) is not None:
        problems.append(FieldProblem(field=f"{prefix}name", problem=mixed))
    problems += not_after(today, **{f"{prefix}finances.accounts_year_end": profile.finances.accounts_year_end})
    if isinstance(profile, NewProvider):
        for i, service in enumerate(profile.services):
            problems += service_problems(
                service, taxonomy, founded_year=profile.founded_year, today=today, prefix=f"{prefix}services[{i}]."
            )
    return problems


def mixed_scripts(name: str) -> str | None:
    """What is wrong with a name one of whose words mixes letters of two scripts ("Trusт", a Cyrillic т among Latin
    letters): it reads as another word, as look-alike names are made; None when no word does."""
    for word in name.split():
        scripts = {unicodedata.name(ch, "?").split(" ")[0] for ch in word if ch.isalpha()}
        if len(scripts) > 1:
            listed = " and ".join(sorted(s.title() for s in scripts))
            return f"the word {word!r} mixes {listed} letters, so it reads as a word it is not: write it in one script"
    return None


def identity_problems(
    identifiers: Sequence[str], legal_form: LegalForm | None, founded_year: int | None, *, year: int, prefix: str = ""
) -> list[FieldProblem]:
    """Each identifier in its scheme's own form (`GB-CHC-12` is no charity number) and a scheme `legal_form` is
    registered under (not checked without one), and a founding year not to come. Checkable of these parts alone:
    an import row whose other cells cannot be read is told these beside them (marketplace.imports.parse)."""
    problems = []
    for i, ident in enumerate(identifiers):
        scheme = "-".join(ident.split("-")[:2])
        pattern = ORG_ID_PATTERNS.get(scheme)
        if pattern is None or not re.match(pattern, ident):
            form = ORG_ID_EXAMPLES.get(scheme, ORG_ID_EXAMPLES["GB-CHC"])
            problems.append(
                FieldProblem(
                    field=f"{prefix}identifiers[{i}]",
                    problem=f"{ident!r} is not a valid {scheme} identifier: use the form {form}",
                )
            )
        elif legal_form and legal_form.identifier_schemes and scheme not in legal_form.identifier_schemes:
            problems.append(
                FieldProblem(
                    field=f"{prefix}identifiers[{i}]",
                    problem=f"a {legal_form.name} is not registered under {scheme}",
                    allowed=list(legal_form.identifier_schemes),
                )
            )
    if founded_year is not None and founded_year > year:
        problems.append(FieldProblem(field=f"{prefix}founded_year", problem=f"is after this year ({year})"))
    return problems


def founding_problems(services: Sequence[Service], founded_year: int | None, year: int) -> list[FieldProblem]:
    """A founding year that makes the organisation younger than one of its ``services`` says it has been delivered
    (the rule :func:`service_problems` keeps for each service), told on ``founded_year``, naming the service."""
    if founded_year is None or founded_year > year:  # a year to come is refused as such (profile_problems)
        return []
    return [
        FieldProblem(
            field="founded_year",
            problem=f"an organisation founded in {founded_year} has existed {year - founded_year + 1} year(s), but its "
            f'service "{s.name}" (id {s.id}) says it has been delivered for {s.years_delivering}: change that first',
        )
        for s in services
        if _longer_than_founded(s.years_delivering, founded_year, year)
    ]


def _longer_than_founded(years_delivering: int, founded_year: int | None, year: int) -> bool:
    """More years delivering a service than the organisation has existed (its founding year counts as one)."""
    return founded_year is not None and years_delivering > year - founded_year + 1


_SHARE_MEASURE: Final = re.compile(r"^\s*(%|percent\b|per cent\b|percentage\b|proportion\b|share\b)", re.IGNORECASE)
"""A measure that is a share of the people counted: "% with no further offence within 12 months"."""
_CHANGE_MEASURE: Final = re.compile(r"\b(increase|rise|growth|change|more)\b", re.IGNORECASE)
"""A share that may pass 100 or fall below 0: "% increase in ...", "% change in ..."."""


def outcome_figure_problems(record: OutcomeRecord, prefix: str) -> list[FieldProblem]:
    """Figures an outcomes record cannot have: a share of people (its measure starting "%", "percentage",
    "proportion", not a change) outside 0 to 100, or a record of no one (people 0). A commissioner reads these
    figures as evidence; a tester saved "% of rehab residents completing their placement" at 171 for 0 people."""
    found = []
    if record.people == 0:
        found.append(
            FieldProblem(
                field=f"{prefix}people",
                problem="a record of no one: give how many people the figure is about (at least 1), or leave it out",
            )
        )
    value, measure = record.value, record.measure
    share = _SHARE_MEASURE.match(measure) is not None and _CHANGE_MEASURE.search(measure) is None
    if value is not None and share and not 0 <= value <= 100:
        found.append(
            FieldProblem(
                field=f"{prefix}value",
                problem=f'the measure "{measure}" is a percentage of the people counted, from 0 to 100; got {value:g}',
            )
        )
    return found


_MONTHS: Final = {
    name: n
    for n, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_WHEN: Final = re.compile(
    r"(?:(?P<month>[A-Za-z]{3,9})\.? +)?(?P<year>[0-9]{4})(?:[/-](?P<next>[0-9]{4}|[0-9]{2}))?(?![0-9])"
)
"""One point of a period: a year, a month of a year (March 2025), or a year into the next (2024/25, 2024-2025)."""
_UNTIL: Final = re.compile(r" *(?:to|until|-|\u2013|\u2014) *", re.IGNORECASE)
"""Between the two ends of a range: `to`, a dash."""
_SAYING_MORE: Final = re.compile(r"(?:,? +|, *)[A-Za-z(]")
"""After the period, words saying more start after a space or a comma, with a letter or a bracket."""


class _Span(msgspec.Struct, frozen=True):
    start: dt.date
    end: dt.date


def _when(m: re.Match[str], academic: bool) -> _Span | None:
    """The days a point of a period covers; None when it is no period (an unknown month, a year not into the next)."""
    year = int(m["year"])
    if not 1900 <= year <= 2199:
        return None
    if m["month"] is not None:
        month = _MONTHS.get(m["month"].lower())
        if month is None or m["next"] is not None:
            return None
        last = (dt.date(year + month // 12, month % 12 + 1, 1)) - dt.timedelta(days=1)
        return _Span(dt.date(year, month, 1), last)
    if m["next"] is None:
        return _Span(dt.date(year, 1, 1), dt.date(year, 12, 31))
    upto = int(m["next"]) if len(m["next"]) == 4 else year // 100 * 100 + int(m["next"])
    if upto == year + 1:  # a financial year (April to March), or an academic year (September to August)
        if academic:
            return _Span(dt.date(year, 9, 1), dt.date(upto, 8, 31))
        return _Span(dt.date(year, 4, 1), dt.date(upto, 3, 31))
    if len(m["next"]) == 4 and year < upto <= 2199:  # years: 2020-2025
        return _Span(dt.date(year, 1, 1), dt.date(upto, 12, 31))
    return None


def period_span(text: str) -> tuple[dt.date, dt.date] | None:
    """The first and last day an outcomes record's `period` covers (`PERIOD_FORMS`), or None when it says no period
    in those forms. A split year is a financial year (April to March), an academic one (September to August) when the
    text says "academic"; a year or month named in the words after it (followed up to 2025) ends the period too."""
    text = text.strip()
    academic = "academic" in text.lower()
    first = _WHEN.match(text)
    if first is None or (span := _when(first, academic)) is None:
        return None
    at = first.end()
    if (until := _UNTIL.match(text, at)) is not None and (second := _WHEN.match(text, until.end())) is not None:
        other = _when(second, academic)
        if other is None or other.start < span.start or other.end < span.end:
            return None
        span, at = _Span(span.start, other.end), second.end()
    rest = text[at:]
    if rest and _SAYING_MORE.match(rest) is None:
        return None
    named = [w for m in _WHEN.finditer(rest) if (w := _when(m, academic)) is not None]
    return span.start, max([span.end, *(w.end for w in named)])


def period_problems(period: str, today: dt.date, field: str) -> list[FieldProblem]:
    """An outcomes record's period that is in none of `PERIOD_FORMS`, or that has not ended by `today` (the app's
    clock): the record reports results over a period that is over."""
    span = period_span(period)
    if span is None:
        return [FieldProblem(field=field, problem=f"{period[:60]!r} is not a period: give {PERIOD_FORMS}")]
    end = span[1]
    if end >= today:
        return [
            FieldProblem(
                field=field,
                problem=f"{period[:60]!r} has not ended yet (it runs to {end.day} {end:%B %Y}; today is "
                f"{today.isoformat()}): an outcomes record gives the results of a period that is over",
            )
        ]
    return []


def service_problems(
    service: ServiceIn, taxonomy: Taxonomy, *, founded_year: int | None, today: dt.date, prefix: str = ""
) -> list[FieldProblem]:
    """What a service says that the rules do not allow: unknown codes (with the allowed ones and a suggestion), an
    area within another of its areas (a district and its county), an age range upside down, places without the date
    they were counted or counted after `today`, more years than the organisation has, an outcomes record's period not
    over or in no form read as one."""
    year = today.year
    found: list[FieldProblem | None] = [
        check_code(f"{prefix}pathway", service.pathway, taxonomy.codes("pathways"), "pathway")
    ]
    found += [
        check_code(f"{prefix}cohorts[{j}]", c, taxonomy.codes("cohorts"), "cohort")
        for j, c in enumerate(service.cohorts)
    ]
    found += [
        check_code(f"{prefix}areas[{j}]", a, taxonomy.codes("areas"), "area") for j, a in enumerate(service.areas)
    ]
    found += [
        FieldProblem(field=f"{prefix}areas[{j}]", problem=problem)
        for j, problem in nested_areas(service.areas, taxonomy.codes("areas"), taxonomy.matching_areas, "the service's")
    ]
    found += [
        check_code(f"{prefix}accreditations[{j}]", a, taxonomy.codes("accreditations"), "accreditation")
        for j, a in enumerate(service.accreditations)
    ]
    first: dict[bytes, int] = {}
    for j, o in enumerate(service.outcomes):
        if (seen := first.setdefault(msgspec.json.encode(o), j)) != j:
            problem = f"the same record as outcomes[{seen}]: give each record once (one verified would verify both)"
            found.append(FieldProblem(field=f"{prefix}outcomes[{j}]", problem=problem))
        for k, code in enumerate(o.desired_outcomes):
            found.append(
                taxonomy.desired_outcome_problem(f"{prefix}outcomes[{j}].desired_outcomes[{k}]", code, service.pathway)
            )
        found += [
            FieldProblem(field=f"{prefix}outcomes[{j}].{name}", problem=f"blank: say the {name}")
            for name, text in (("outcome", o.outcome), ("measure", o.measure))
            if not trimmed(text)
        ]
        found += outcome_figure_problems(o, f"{prefix}outcomes[{j}].")
        found += period_problems(o.period, today, f"{prefix}outcomes[{j}].period")
    e, c = service.eligibility, service.capacity
    if c.service_users_per_year == 0 and c.places_available:
        found.append(
            FieldProblem(
                field=f"{prefix}capacity.places_available",
                problem=f"{c.places_available} place(s) free, but the service takes no one a year "
                "(service_users_per_year 0): correct one of them",
            )
        )
    if e.min_age is not None and e.max_age is not None and e.min_age > e.max_age:
        found.append(FieldProblem(field=f"{prefix}eligibility.max_age", problem="below the minimum age"))
    if (c.places_available is None) != (c.places_as_of is None):
        missing = "places_as_of" if c.places_as_of is None else "places_available"
        found.append(
            FieldProblem(
                field=f"{prefix}capacity.{missing}",
                problem="places available and the date they were counted go together",
            )
        )
    if _longer_than_founded(service.years_delivering, founded_year, year):
        found.append(
            FieldProblem(field=f"{prefix}years_delivering", problem="more years than the organisation has existed")
        )
    found += too_precise(service, prefix)
    return [p for p in found if p is not None] + not_after(today, **{f"{prefix}capacity.places_as_of": c.places_as_of})


# --- changing a profile ---------------------------------------------------------------------------
# PATCH bodies: UNSET (absent) leaves a field alone, null clears a nullable field, a list replaces
# the whole list. Nested objects (contact, resources, finances) patch field by field.

# Fields the marketplace holds: a provider never sets them through a profile body.
MARKETPLACE_FIELDS = frozenset(
    {
        "id",
        "sector",
        "status",
        "is_sample",
        "stale",
        "version",
        "created_at",
        "updated_at",
        "last_confirmed_at",
        "verified",
        "verified_at",
        "to_confirm",
        "verifications",
        "uuid",
        "services",
    }
)


class ContactPatch(Strict):
    name: ShortText | UnsetType | None = UNSET
    email: Email | UnsetType | None = UNSET
    phone: Phone | UnsetType | None = UNSET


class ResourcesPatch(Strict):
    volunteers: Count | UnsetType = UNSET
    premises: PremisesList | UnsetType = UNSET
    match_funding_per_year: Money | UnsetType = UNSET
    other_funding_sources: FundingSources | UnsetType = UNSET
    partner_organisations: PartnerOrganisations | UnsetType = UNSET


class FinancesPatch(Strict):
    annual_income: Money | UnsetType | None = UNSET
    reserves_months: ReservesMonths | UnsetType | None = UNSET
    accounts_year_end: dt.date | UnsetType | None = UNSET
    accounts_scrutiny: AccountsScrutiny | UnsetType | None = UNSET


class ProviderPatch(Strict):
    name: OrgName | UnsetType = UNSET
    legal_form: Slug | UnsetType = UNSET
    identifiers: OrgIds | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    website: Url | UnsetType | None = UNSET
    founded_year: Year | UnsetType | None = UNSET
    contact: ContactPatch | UnsetType = UNSET
    resources: ResourcesPatch | UnsetType = UNSET
    finances: FinancesPatch | UnsetType = UNSET
    accreditations: Accreditations | UnsetType = UNSET
    social_value: SocialValue | UnsetType = UNSET


class AccreditationList(Strict):
    accreditations: Accreditations


class SocialValueList(Strict):
    social_value: SocialValue


def apply_patch(current: ProviderProfile, patch: ProviderPatch) -> ProviderProfile:
    return merge(current, patch)


def profile_of(provider: Provider) -> ProviderProfile:
    """The provider-editable part of a full profile."""
    return project(provider, ProviderProfile)


Edit = Callable[[ProviderProfile], ProviderProfile]
"""A change to a profile: the profile as it is now in, the profile as it should be out."""


def patched(patch: ProviderPatch) -> Edit:
    return lambda profile: apply_patch(profile, patch)


def with_part(field: str, part: msgspec.Struct) -> Edit:
    """A PATCH of one nested part (`resources`, `finances`, `contact`)."""
    return patched(msgspec.structs.replace(ProviderPatch(), **{field: part}))


def replaced(**fields: Any) -> Edit:
    """Whole fields replaced (`accreditations=[...]`)."""
    return lambda profile: msgspec.structs.replace(profile, **fields)


class Registration(msgspec.Struct):
    """A new pending profile and its provider key (shown this once)."""

    provider: Provider
    api_key: NewApiKey


def changed_fields(
    before: msgspec.Struct, after: msgspec.Struct, *, prefix: str = ""
) -> list[tuple[str, object, object]]:
    """One (field path, previous, replacement) per changed field of two records of one type: nested objects per
    field (`resources.volunteers`), lists as a whole; paths under `prefix` (`services[12].`)."""
    out: list[tuple[str, object, object]] = []
    b, a = msgspec.to_builtins(before), msgspec.to_builtins(after)
    for field in type(before).__struct_fields__:
        if isinstance(b[field], dict) and isinstance(a[field], dict):
            out += [
                (f"{prefix}{field}.{sub}", b[field].get(sub), a[field].get(sub))
                for sub in b[field].keys() | a[field].keys()
                if b[field].get(sub) != a[field].get(sub)
            ]
        elif b[field] != a[field]:
            out.append((f"{prefix}{field}", b[field], a[field]))
    return sorted(out, key=lambda c: c[0])


ServiceEdit = Callable[[ServiceIn], ServiceIn]


def service_of(service: Service) -> ServiceIn:
    """The provider-editable part of a service."""
    return project(service, ServiceIn)


class HistoryEntry(msgspec.Struct):
    """One changed field, in the shape of Open Referral HSDS `metadata`."""

    id: int
    resource_id: int
    resource_type: str
    version: int
    last_action_date: dt.datetime
    last_action_type: str
    field_name: str
    previous_value: Any
    replacement_value: Any
    updated_by: int | None
    updated_by_role: str | None
    request_id: str | None


class HistoryPage(Page[HistoryEntry]):
    pass
