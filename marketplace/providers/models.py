"""Provider profile types: the API validates with them and the seed loader decodes with them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, UnsetType

from marketplace.accounts.models import NewApiKey
from marketplace.errors import FieldProblem, NotFound
from marketplace.taxonomy.checks import check_code
from marketplace.taxonomy.models import Taxonomy
from marketplace.types import (
    NAME,
    AreaCode,
    CohortCode,
    Count,
    Email,
    LongText,
    Money,
    Page,
    PathwayCode,
    Phone,
    ShortText,
    Slug,
    Strict,
    Url,
    Year,
    merge,
    nfc,
    project,
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
OrgId = Annotated[
    str,
    Meta(
        pattern=r"^GB-(CHC|COH|MPR|SC|NIC|GOR|LAE|NHS)-[A-Z0-9-]{2,20}$",
        description="org-id.guide identifier, e.g. GB-CHC-1234567, GB-COH-01234567, GB-MPR-12345R",
        examples=["GB-CHC-1234567"],
    ),
]

Description = Annotated[str, Meta(min_length=1, max_length=4000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
OrgName = Annotated[str, Meta(min_length=2, max_length=200, pattern=NAME)]


class Contact(Strict):
    name: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None


class ExpertiseDetail(Strict):
    """What a provider offers in one pathway (the body of PUT /providers/{id}/expertise/{pathway})."""

    cohorts: Annotated[list[CohortCode], Meta(min_length=1, max_length=10)]
    years_experience: Annotated[int, Meta(ge=0, le=200)]
    description: Description
    outcomes_evidence: LongText | None = None


class Expertise(Strict):
    pathway: PathwayCode
    cohorts: Annotated[list[CohortCode], Meta(min_length=1, max_length=10)]
    years_experience: Annotated[int, Meta(ge=0, le=200)]
    description: Description
    outcomes_evidence: LongText | None = None


class Premises(Strict):
    area: AreaCode
    description: ShortText


class Resources(Strict):
    volunteers: Count = 0
    premises: Annotated[list[Premises], Meta(max_length=50)] = []
    match_funding_per_year: Money = 0
    other_funding_sources: Annotated[list[ShortText], Meta(max_length=30)] = []
    partner_organisations: Annotated[list[ShortText], Meta(max_length=50)] = []


class Capacity(Strict):
    service_users_per_year: Count | None = None


class Finances(Strict):
    annual_income: Money | None = None
    reserves_months: Annotated[float, Meta(ge=0, le=600)] | None = None


class ProviderProfile(Strict):
    """What an organisation says about itself: the body of a registration and of a full profile."""

    name: OrgName
    legal_form: Slug
    identifiers: Annotated[list[OrgId], Meta(max_length=10)] = []
    description: LongText = ""
    website: Url | None = None
    founded_year: Year | None = None
    contact: Contact = msgspec.field(default_factory=Contact)
    expertise: Annotated[list[Expertise], Meta(max_length=20)] = []
    coverage: Annotated[list[AreaCode], Meta(max_length=200)] = []
    resources: Resources = msgspec.field(default_factory=Resources)
    capacity: Capacity = msgspec.field(default_factory=Capacity)
    finances: Finances = msgspec.field(default_factory=Finances)
    accreditations: Annotated[list[Slug], Meta(max_length=30)] = []
    social_value: Annotated[list[Slug], Meta(max_length=30)] = []


STATUSES = ("pending", "published", "archived")
PUBLIC_STATUSES = ("published",)
Status = Annotated[str, Meta(pattern=r"^(pending|published|archived)$")]
MarketplaceAction = Literal["confirm", "publish", "archive", "verify"]


class SeedProvider(ProviderProfile):
    """A demo record: the profile plus the marketplace-held fields a seed may set."""

    status: Status = "published"
    last_confirmed_on: dt.date | None = None


class Provider(ProviderProfile):
    """A full profile as the API returns it."""

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


class ProviderSummary(msgspec.Struct):
    id: int
    name: str
    legal_form: str
    sector: str
    status: str
    pathways: list[str]
    coverage: list[str]
    cohorts: list[str]
    accreditations: list[str]
    capacity: int | None
    is_sample: bool
    stale: bool
    """Not confirmed by the provider for 12 months."""
    relevance: float | None = None


class FacetCount(msgspec.Struct):
    code: str
    name: str
    count: int


class Facets(msgspec.Struct):
    pathway: list[FacetCount]
    area: list[FacetCount]
    sector: list[FacetCount]


class SearchQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A directory search: filters AND together; several values of one filter are alternatives (any of
    them), except accreditations, which are all required."""

    status: Literal["published", "pending", "archived"] = "published"
    pathway: list[str] = []
    area: list[str] = []
    cohort: list[str] = []
    sector: list[str] = []
    legal_form: list[str] = []
    accreditation: list[str] = []
    min_capacity: int | None = None
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


def once(values: list[str]) -> list[str]:
    """Each value once, in first-seen order."""
    return list(dict.fromkeys(values))


P = TypeVar("P", bound=ProviderProfile)


def normalised(profile: P) -> P:
    """Set-like lists hold each value once (first occurrence kept); names lose outer spaces."""
    return msgspec.structs.replace(
        profile,
        name=nfc(profile.name),
        identifiers=once(profile.identifiers),
        coverage=once(profile.coverage),
        accreditations=once(profile.accreditations),
        social_value=once(profile.social_value),
        expertise=[msgspec.structs.replace(e, cohorts=once(e.cohorts)) for e in profile.expertise],
    )


def profile_problems(
    profile: ProviderProfile, taxonomy: Taxonomy, *, year: int, prefix: str = ""
) -> list[FieldProblem]:
    """Checks that need the taxonomies: every code known, identifiers fit their scheme and legal form."""

    areas = taxonomy.codes("areas")
    pathways = taxonomy.codes("pathways")
    cohorts = taxonomy.codes("cohorts")
    found: list[FieldProblem | None] = [
        check_code(f"{prefix}legal_form", profile.legal_form, taxonomy.codes("legal_forms"), "legal form")
    ]
    legal_form = taxonomy.legal_form(profile.legal_form)
    for i, ident in enumerate(profile.identifiers):
        scheme = "-".join(ident.split("-")[:2])
        pattern = ORG_ID_PATTERNS.get(scheme)
        if pattern is None or not re.match(pattern, ident):
            found.append(
                FieldProblem(field=f"{prefix}identifiers[{i}]", problem=f"{ident!r} is not a valid {scheme} identifier")
            )
        elif legal_form and legal_form.identifier_schemes and scheme not in legal_form.identifier_schemes:
            found.append(
                FieldProblem(
                    field=f"{prefix}identifiers[{i}]",
                    problem=f"a {legal_form.name} is not registered under {scheme}",
                    allowed=list(legal_form.identifier_schemes),
                )
            )
    seen_pathways: set[str] = set()
    for i, e in enumerate(profile.expertise):
        found.append(check_code(f"{prefix}expertise[{i}].pathway", e.pathway, pathways, "pathway"))
        if e.pathway in seen_pathways:
            found.append(
                FieldProblem(field=f"{prefix}expertise[{i}].pathway", problem=f"pathway {e.pathway!r} is listed twice")
            )
        seen_pathways.add(e.pathway)
        for j, c in enumerate(e.cohorts):
            found.append(check_code(f"{prefix}expertise[{i}].cohorts[{j}]", c, cohorts, "cohort"))
        if profile.founded_year is not None and e.years_experience > year - profile.founded_year + 1:
            found.append(
                FieldProblem(
                    field=f"{prefix}expertise[{i}].years_experience",
                    problem="more years than the organisation has existed",
                )
            )
    for i, a in enumerate(profile.coverage):
        found.append(check_code(f"{prefix}coverage[{i}]", a, areas, "area"))
    for i, p in enumerate(profile.resources.premises):
        found.append(check_code(f"{prefix}resources.premises[{i}].area", p.area, areas, "area"))
    for i, a in enumerate(profile.accreditations):
        found.append(check_code(f"{prefix}accreditations[{i}]", a, taxonomy.codes("accreditations"), "accreditation"))
    for i, s in enumerate(profile.social_value):
        found.append(check_code(f"{prefix}social_value[{i}]", s, taxonomy.codes("social_value"), "social value"))
    return [p for p in found if p is not None]


# --- changing a profile ---------------------------------------------------------------------------
# PATCH bodies: UNSET (absent) leaves a field alone, null clears a nullable field, a list replaces
# the whole list. Nested objects (contact, resources, capacity, finances) patch field by field.

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
    }
)


class ContactPatch(Strict):
    name: ShortText | UnsetType | None = UNSET
    email: Email | UnsetType | None = UNSET
    phone: Phone | UnsetType | None = UNSET


class ResourcesPatch(Strict):
    volunteers: Count | UnsetType = UNSET
    premises: Annotated[list[Premises], Meta(max_length=50)] | UnsetType = UNSET
    match_funding_per_year: Money | UnsetType = UNSET
    other_funding_sources: Annotated[list[ShortText], Meta(max_length=30)] | UnsetType = UNSET
    partner_organisations: Annotated[list[ShortText], Meta(max_length=50)] | UnsetType = UNSET


class CapacityPatch(Strict):
    service_users_per_year: Count | UnsetType | None = UNSET


class FinancesPatch(Strict):
    annual_income: Money | UnsetType | None = UNSET
    reserves_months: Annotated[float, Meta(ge=0, le=600)] | UnsetType | None = UNSET


class ProviderPatch(Strict):
    name: OrgName | UnsetType = UNSET
    legal_form: Slug | UnsetType = UNSET
    identifiers: Annotated[list[OrgId], Meta(max_length=10)] | UnsetType = UNSET
    description: LongText | UnsetType = UNSET
    website: Url | UnsetType | None = UNSET
    founded_year: Year | UnsetType | None = UNSET
    contact: ContactPatch | UnsetType = UNSET
    expertise: Annotated[list[Expertise], Meta(max_length=20)] | UnsetType = UNSET
    coverage: Annotated[list[AreaCode], Meta(max_length=200)] | UnsetType = UNSET
    resources: ResourcesPatch | UnsetType = UNSET
    capacity: CapacityPatch | UnsetType = UNSET
    finances: FinancesPatch | UnsetType = UNSET
    accreditations: Annotated[list[Slug], Meta(max_length=30)] | UnsetType = UNSET
    social_value: Annotated[list[Slug], Meta(max_length=30)] | UnsetType = UNSET


class CoverageList(Strict):
    """The whole new list of areas covered."""

    coverage: Annotated[list[AreaCode], Meta(max_length=200)]


class AccreditationList(Strict):
    accreditations: Annotated[list[Slug], Meta(max_length=30)]


class SocialValueList(Strict):
    social_value: Annotated[list[Slug], Meta(max_length=30)]


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
    """A PATCH of one nested part (`resources`, `capacity`, `finances`, `contact`)."""
    return patched(msgspec.structs.replace(ProviderPatch(), **{field: part}))


def replaced(**fields: Any) -> Edit:
    """Whole fields replaced (`coverage=[...]`)."""
    return lambda profile: msgspec.structs.replace(profile, **fields)


def with_expertise(pathway: str, detail: ExpertiseDetail) -> Edit:
    """Expertise in `pathway` added, or replaced where it stands."""
    entry = Expertise(pathway=pathway, **msgspec.structs.asdict(detail))

    def edit(profile: ProviderProfile) -> ProviderProfile:
        others = [e for e in profile.expertise if e.pathway != pathway]
        position = next((i for i, e in enumerate(profile.expertise) if e.pathway == pathway), len(others))
        return msgspec.structs.replace(profile, expertise=[*others[:position], entry, *others[position:]])

    return edit


def without_expertise(provider_id: int, pathway: str) -> Edit:
    """Expertise in `pathway` removed (NotFound when there is none)."""

    def edit(profile: ProviderProfile) -> ProviderProfile:
        if not any(e.pathway == pathway for e in profile.expertise):
            raise NotFound(f"provider {provider_id} has no expertise in {pathway!r}")
        return msgspec.structs.replace(profile, expertise=[e for e in profile.expertise if e.pathway != pathway])

    return edit


class Registration(msgspec.Struct):
    """A new pending profile and its provider key (shown this once)."""

    provider: Provider
    api_key: NewApiKey


def changed_fields(before: ProviderProfile, after: ProviderProfile) -> list[tuple[str, object, object]]:
    """One (field path, previous, replacement) per changed field; expertise is compared per pathway
    (`expertise[ACCOM]`), nested objects per field (`resources.volunteers`), other lists as a whole."""
    out: list[tuple[str, object, object]] = []
    b, a = msgspec.to_builtins(before), msgspec.to_builtins(after)
    for field in ProviderProfile.__struct_fields__:
        if field == "expertise":
            old = {e["pathway"]: e for e in b[field]}
            new = {e["pathway"]: e for e in a[field]}
            out += [
                (f"expertise[{code}]", old.get(code), new.get(code))
                for code in sorted(old.keys() | new.keys())
                if old.get(code) != new.get(code)
            ]
        elif isinstance(b[field], dict):
            out += [
                (f"{field}.{sub}", b[field].get(sub), a[field].get(sub))
                for sub in b[field].keys() | a[field].keys()
                if b[field].get(sub) != a[field].get(sub)
            ]
        elif b[field] != a[field]:
            out.append((field, b[field], a[field]))
    return sorted(out, key=lambda c: c[0])


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
