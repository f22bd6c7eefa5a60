"""Provider profile types: the API validates with them and the seed loader decodes with them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

import msgspec
from msgspec import Meta

from marketplace.errors import FieldProblem
from marketplace.taxonomy.checks import check_code
from marketplace.taxonomy.models import AreaCode, CohortCode, PathwayCode, Slug, Taxonomy

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

Money = Annotated[int, Meta(ge=0, le=10_000_000_000, description="Pounds sterling, whole pounds")]
Count = Annotated[int, Meta(ge=0, le=10_000_000)]
ShortText = Annotated[str, Meta(min_length=1, max_length=200)]
LongText = Annotated[str, Meta(max_length=4000)]
Email = Annotated[str, Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Phone = Annotated[str, Meta(pattern=r"^\+?[0-9 ()-]{6,20}$")]
Url = Annotated[str, Meta(pattern=r"^https?://[^\s]+$", max_length=300)]
Year = Annotated[int, Meta(ge=1600, le=2100)]


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    pass


class Contact(Strict):
    name: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None


class Expertise(Strict):
    pathway: PathwayCode
    cohorts: Annotated[list[CohortCode], Meta(min_length=1, max_length=10)]
    years_experience: Annotated[int, Meta(ge=0, le=200)]
    description: Annotated[str, Meta(min_length=1, max_length=4000)]
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

    name: Annotated[str, Meta(min_length=2, max_length=200)]
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
Status = Annotated[str, Meta(pattern=r"^(pending|published|archived)$")]


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
    relevance: float | None = None


class FacetCount(msgspec.Struct):
    code: str
    name: str
    count: int


class Facets(msgspec.Struct):
    pathway: list[FacetCount]
    area: list[FacetCount]
    sector: list[FacetCount]


class SearchResult(msgspec.Struct):
    total: int
    page: int
    per_page: int
    pages: int
    items: list[ProviderSummary]
    facets: Facets | None = None
    interpreted_query: list[list[str]] | None = None


def profile_problems(profile: ProviderProfile, taxonomy: Taxonomy, *, year: int, prefix: str = "") -> list[FieldProblem]:
    """Checks that need the taxonomies: every code known, identifiers fit their scheme and legal form."""

    areas = taxonomy.codes("areas")
    pathways = taxonomy.codes("pathways")
    cohorts = taxonomy.codes("cohorts")
    found: list[FieldProblem | None] = [check_code(f"{prefix}legal_form", profile.legal_form, taxonomy.codes("legal_forms"), "legal form")]
    legal_form = taxonomy.legal_form(profile.legal_form)
    for i, ident in enumerate(profile.identifiers):
        scheme = "-".join(ident.split("-")[:2])
        pattern = ORG_ID_PATTERNS.get(scheme)
        if pattern is None or not re.match(pattern, ident):
            found.append(FieldProblem(field=f"{prefix}identifiers[{i}]", problem=f"{ident!r} is not a valid {scheme} identifier"))
        elif legal_form and legal_form.identifier_schemes and scheme not in legal_form.identifier_schemes:
            found.append(
                FieldProblem(
                    field=f"{prefix}identifiers[{i}]",
                    problem=f"a {legal_form.name} is not registered under {scheme}",
                    allowed=list(legal_form.identifier_schemes),
                )
            )
    if len(set(profile.identifiers)) != len(profile.identifiers):
        found.append(FieldProblem(field=f"{prefix}identifiers", problem="identifiers repeat"))
    seen_pathways: set[str] = set()
    for i, e in enumerate(profile.expertise):
        found.append(check_code(f"{prefix}expertise[{i}].pathway", e.pathway, pathways, "pathway"))
        if e.pathway in seen_pathways:
            found.append(FieldProblem(field=f"{prefix}expertise[{i}].pathway", problem=f"pathway {e.pathway!r} is listed twice"))
        seen_pathways.add(e.pathway)
        for j, c in enumerate(e.cohorts):
            found.append(check_code(f"{prefix}expertise[{i}].cohorts[{j}]", c, cohorts, "cohort"))
        if profile.founded_year is not None and e.years_experience > year - profile.founded_year + 1:
            found.append(FieldProblem(field=f"{prefix}expertise[{i}].years_experience", problem="more years than the organisation has existed"))
    for i, a in enumerate(profile.coverage):
        found.append(check_code(f"{prefix}coverage[{i}]", a, areas, "area"))
    for i, p in enumerate(profile.resources.premises):
        found.append(check_code(f"{prefix}resources.premises[{i}].area", p.area, areas, "area"))
    for i, a in enumerate(profile.accreditations):
        found.append(check_code(f"{prefix}accreditations[{i}]", a, taxonomy.codes("accreditations"), "accreditation"))
    for i, s in enumerate(profile.social_value):
        found.append(check_code(f"{prefix}social_value[{i}]", s, taxonomy.codes("social_value"), "social value"))
    for name, values in (("coverage", profile.coverage), ("accreditations", profile.accreditations), ("social_value", profile.social_value)):
        if len(set(values)) != len(values):
            found.append(FieldProblem(field=f"{prefix}{name}", problem="values repeat"))
    return [p for p in found if p is not None]
