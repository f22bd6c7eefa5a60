"""Use cases of the Open Referral UK (HSDS 3.0) read API: the published directory mapped onto HSDS records.

The mapping: a provider is an organization (its org-ids are `organization_identifiers`, its contact `contacts` and
`phones`, its other funding sources `funding`); each active service of a published provider is a service (its
eligibility → `minimum_age`/`maximum_age`/`eligibility_description`, cost → `cost_options`, areas → `service_areas`
with the ONS GSS URI, last confirmed → `assured_date`); the pathway and the cohorts are taxonomy terms of two
taxonomies, attached through `attributes`.

Ids are stable UUIDs: services and providers have their own (columns `uuid`); taxonomies, terms and the records
nested in a service or organization are uuid5s of a fixed namespace and what they stand for, so they never change
while what they stand for stays."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from marketplace.context import Context
from marketplace.db import Connection
from marketplace.errors import InvalidInput, NotFound
from marketplace.providers import service as providers
from marketplace.providers.live_index import LiveIndex
from marketplace.providers.models import SearchQuery
from marketplace.sheets import XLSX_MEDIA
from marketplace.standards import queries, tabular
from marketplace.standards.models import (
    HsdsApiDetails,
    HsdsAttribute,
    HsdsContact,
    HsdsCostOption,
    HsdsFunding,
    HsdsOrganization,
    HsdsOrganizationBrief,
    HsdsOrganizationIdentifier,
    HsdsOrganizationPage,
    HsdsPhone,
    HsdsService,
    HsdsServiceArea,
    HsdsServiceBrief,
    HsdsServicePage,
    HsdsTaxonomy,
    HsdsTaxonomyPage,
    HsdsTaxonomyTerm,
    HsdsTaxonomyTermPage,
    HsdsTaxonomyWithTerms,
)
from marketplace.taxonomy.models import Taxonomy as Taxonomies

VERSION = "HSDS-UK-3.0"
PROFILE = "https://openreferraluk.org/specifications/3.0/"
NAMESPACE = uuid.UUID("6f1c3a52-8d0e-5b7a-9c41-2e6d7f80a915")
"""Fixed for good: every derived id is uuid5(NAMESPACE, what it stands for)."""
GSS_URI = "http://statistics.data.gov.uk/id/statistical-geography/"
MAX_WORDS = 10

IDENTIFIER_TYPES = {
    "GB-CHC": "Charity number (Charity Commission for England and Wales)",
    "GB-SC": "Scottish charity number (OSCR)",
    "GB-NIC": "Northern Ireland charity number",
    "GB-COH": "Company number (Companies House)",
    "GB-MPR": "Mutuals Public Register number (FCA)",
    "GB-GOR": "Government organisation register",
    "GB-LAE": "Local authority (England)",
    "GB-NHS": "NHS organisation code",
}
COST_UNITS = {
    "per_service_user": "per service user",
    "per_place_per_year": "per place per year",
    "per_hour": "per hour",
    "per_session": "per session",
}
GENDERS = {"men": "Men only.", "women": "Women only."}
TAXONOMIES = {
    "pathways": ("Reducing-reoffending pathways", "The pathway a service works in (one per service)."),
    "cohorts": ("Cohorts of service users", "Groups of people on probation or in youth justice a service is for."),
}
TERM_KIND = {"pathways": "pathway", "cohorts": "cohort"}


def derived_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def taxonomy_id(kind: str) -> str:
    return derived_id("taxonomy", kind)


def term_id(kind: str, code: str) -> str:
    return derived_id("taxonomy", kind, code)


def api_details(base: str) -> HsdsApiDetails:
    return HsdsApiDetails(version=VERSION, profile=PROFILE, openapi_url=f"{base}/schema/openapi.json")


# --- input ------------------------------------------------------------------------------------------


def parse_uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput.field(field, f"expected a UUID, not {value[:60]!r}") from None


def path_uuid(value: str, what: str) -> uuid.UUID:
    """An id in a path: anything that is not a UUID names nothing (404)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"no such {what}") from None


def parse_modified_after(value: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value.upper())  # RFC 3339 allows a lower-case "t" and "z"
    except ValueError:
        raise InvalidInput.field(
            "modified_after", "expected an ISO 8601 date or date-time, e.g. 2026-01-31T09:00:00Z"
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except OverflowError:  # within a day of the calendar's ends: as good as the end itself
        return (dt.datetime.max if when.year > 1 else dt.datetime.min).replace(tzinfo=dt.UTC)


def search_words(search: str | None) -> list[str]:
    words = (search or "").replace("\x00", " ").split()
    if len(words) > MAX_WORDS:
        raise InvalidInput.field("search", f"at most {MAX_WORDS} words")
    return words


# --- paging -----------------------------------------------------------------------------------------


def page_fields(total: int, page: int, per_page: int, shown: int) -> tuple[int, int, int, int, bool, bool, bool]:
    """HSDS's page fields in order: total_items, total_pages, page_number, size, first_page, last_page, empty."""
    pages = math.ceil(total / per_page)
    return total, pages, page, shown, page == 1, page >= pages, shown == 0


def _offset(page: int, per_page: int) -> int:
    return (page - 1) * per_page


# --- mapping ----------------------------------------------------------------------------------------


def _org_brief(row: asyncpg.Record, tax: Taxonomies, base: str) -> HsdsOrganizationBrief:
    return HsdsOrganizationBrief(
        id=str(row["org_uuid"]),
        name=row["org_name"],
        description=row["org_description"],
        email=row["contact_email"],
        website=row["website"],
        legal_status=tax.codes("legal_forms").get(row["legal_form"]),
        year_incorporated=row["founded_year"],
        uri=f"{base}/providers/{row['provider_id']}",
    )


def _identifiers(row: asyncpg.Record) -> list[HsdsOrganizationIdentifier]:
    org = str(row["org_uuid"])
    out = []
    for identifier in row["identifiers"]:
        scheme_country, scheme_code, number = identifier.split("-", 2)
        scheme = f"{scheme_country}-{scheme_code}"
        out.append(
            HsdsOrganizationIdentifier(
                id=derived_id("organization_identifier", identifier),
                organization_id=org,
                identifier_scheme=scheme,
                identifier_type=IDENTIFIER_TYPES.get(scheme, scheme),
                identifier=number,
            )
        )
    return out


def _contacts(row: asyncpg.Record, owner: str, *, service: bool) -> tuple[list[HsdsContact], list[HsdsPhone]]:
    """The provider's contact as an HSDS contact (with its phone) and the phone on its own, for `owner`."""
    service_id, organization_id = (owner, None) if service else (None, owner)
    contacts: list[HsdsContact] = []
    phones: list[HsdsPhone] = []
    number = row["contact_phone"]
    if row["contact_name"] or row["contact_email"]:
        contact_id = derived_id("contact", owner)
        contact_phones = (
            [HsdsPhone(id=derived_id("contact_phone", owner), number=number, contact_id=contact_id)] if number else []
        )
        contacts.append(
            HsdsContact(
                id=contact_id,
                name=row["contact_name"],
                email=row["contact_email"],
                phones=contact_phones,
                service_id=service_id,
                organization_id=organization_id,
            )
        )
    if number:
        phones.append(
            HsdsPhone(
                id=derived_id("phone", owner),
                number=number,
                description="Main contact",
                service_id=service_id,
                organization_id=organization_id,
            )
        )
    return contacts, phones


def _funding(row: asyncpg.Record) -> list[HsdsFunding]:
    """The provider's other funding sources: the organization's funding (`organization_id`), each source once. They
    are the organisation's, not any one service's, so no service repeats them (a consumer adding up its services'
    funding would count them once per service). Ids: uuid5 of the organization and the source, so the same in
    every answer and in the export's `funding.csv`."""
    org = str(row["org_uuid"])
    found: dict[str, HsdsFunding] = {}
    for source in row["other_funding_sources"]:
        if source.strip():
            fid = derived_id("funding", org, source)
            found.setdefault(fid, HsdsFunding(id=fid, source=source, organization_id=org))
    return list(found.values())


def _eligibility(row: asyncpg.Record, tax: Taxonomies) -> str | None:
    parts = []
    if row["gender"] in GENDERS:
        parts.append(GENDERS[row["gender"]])
    if row["min_age"] is not None or row["max_age"] is not None:
        low, high = row["min_age"], row["max_age"]
        if low is not None and high is not None:
            parts.append(f"Aged {low} to {high}.")
        elif low is not None:
            parts.append(f"Aged {low} or over.")
        else:
            parts.append(f"Aged up to {high}.")
    names = tax.codes("cohorts")
    if row["cohorts"]:
        parts.append("For: " + "; ".join(names.get(c, c) for c in row["cohorts"]) + ".")
    return " ".join(parts) or None


def _fees(row: asyncpg.Record) -> str | None:
    if row["cost_amount"] is None:
        return None
    return f"£{row['cost_amount']:,.2f} {COST_UNITS.get(row['cost_unit'], row['cost_unit'])}"


def _service_brief(row: asyncpg.Record, tax: Taxonomies) -> HsdsServiceBrief:
    confirmed: dt.datetime | None = row["last_confirmed_at"]
    accreditations = tax.codes("accreditations")
    return HsdsServiceBrief(
        id=str(row["uuid"]),
        organization_id=str(row["org_uuid"]),
        name=row["name"],
        description=row["description"],
        status=row["status"],
        email=row["contact_email"],
        eligibility_description=_eligibility(row, tax),
        minimum_age=row["min_age"],
        maximum_age=row["max_age"],
        fees_description=_fees(row),
        accreditations="; ".join(accreditations.get(c, c) for c in row["accreditation_codes"]) or None,
        assured_date=confirmed.astimezone(dt.UTC).date().isoformat() if confirmed else None,
        last_modified=row["modified"].astimezone(dt.UTC).isoformat(),
    )


def term(tax: Taxonomies, kind: str, code: str, *, detail: bool = False) -> HsdsTaxonomyTerm:
    item = next(x for x in getattr(tax, kind) if x.code == code)
    name, _ = TAXONOMIES[kind]
    return HsdsTaxonomyTerm(
        id=term_id(kind, code),
        name=item.name,
        description=item.description,
        code=code,
        taxonomy=name,
        taxonomy_id=taxonomy_id(kind),
        taxonomy_detail=_taxonomy(kind, "") if detail else None,
    )


def _taxonomy(kind: str, base: str) -> HsdsTaxonomy:
    name, description = TAXONOMIES[kind]
    return HsdsTaxonomy(
        id=taxonomy_id(kind), name=name, description=description, uri=f"{base}/{kind}" if base else None, version="1"
    )


def _service(row: asyncpg.Record, tax: Taxonomies, base: str) -> HsdsService:
    brief = _service_brief(row, tax)
    sid = brief.id
    areas = tax.codes("areas")
    contacts, phones = _contacts(row, sid, service=True)
    attributes = [
        HsdsAttribute(
            id=derived_id("attribute", sid, kind, code),
            link_id=sid,
            link_type="service",
            link_entity="service",
            taxonomy_term_id=term_id(kind, code),
            taxonomy_term=term(tax, kind, code),
        )
        for kind, codes in (("pathways", [row["pathway_code"]]), ("cohorts", row["cohorts"]))
        for code in codes
    ]
    costs = []
    if row["cost_amount"] is not None:
        costs.append(
            HsdsCostOption(
                id=derived_id("cost_option", sid),
                service_id=sid,
                option=COST_UNITS.get(row["cost_unit"], row["cost_unit"]),
                currency="GBP",
                amount=float(row["cost_amount"]),
                amount_description=_fees(row),
            )
        )
    return HsdsService(
        **{f: getattr(brief, f) for f in brief.__struct_fields__},
        organization=_org_brief(row, tax, base),
        service_areas=[
            HsdsServiceArea(
                id=derived_id("service_area", sid, code),
                service_id=sid,
                name=areas.get(code, code),
                description=f"{areas.get(code, code)} (ONS GSS code {code}) and every area within it",
                uri=GSS_URI + code,
            )
            for code in row["areas"]
        ],
        cost_options=costs,
        contacts=contacts,
        phones=phones,
        attributes=attributes,
    )


# --- use cases --------------------------------------------------------------------------------------


async def list_services(
    conn: Connection,
    tax: Taxonomies,
    *,
    page: int,
    per_page: int,
    search: str | None = None,
    organization_id: str | None = None,
    taxonomy_term_id: str | None = None,
    modified_after: str | None = None,
) -> HsdsServicePage:
    f = queries.ServiceFilter(words=search_words(search))
    if organization_id is not None:
        f.organization = parse_uuid(organization_id, "organization_id")
    if modified_after is not None:
        f.modified_after = parse_modified_after(modified_after)
    if taxonomy_term_id is not None:
        wanted = str(parse_uuid(taxonomy_term_id, "taxonomy_term_id"))
        found = _term_code(tax, wanted)
        if found is None:  # a term we do not have: no service is classified by it
            return HsdsServicePage(*page_fields(0, page, per_page, 0), [])
        kind, code = found
        if kind == "pathways":
            f.pathway = code
        else:
            f.cohort = code
    total = await queries.count_services(conn, f)
    rows = await queries.services(conn, f, per_page, _offset(page, per_page)) if total else []
    contents = [_service_brief(r, tax) for r in rows]
    return HsdsServicePage(*page_fields(total, page, per_page, len(contents)), contents)


async def get_service(conn: Connection, tax: Taxonomies, base: str, service_id: str) -> HsdsService:
    row = await queries.service(conn, path_uuid(service_id, "service"))
    if row is None:
        raise NotFound("no such service")
    return _service(row, tax, base)


async def list_organizations(
    conn: Connection, tax: Taxonomies, base: str, *, page: int, per_page: int, search: str | None = None
) -> HsdsOrganizationPage:
    words = search_words(search)
    total = await queries.count_organizations(conn, words)
    rows = await queries.organizations(conn, words, per_page, _offset(page, per_page)) if total else []
    contents = [_org_brief(r, tax, base) for r in rows]
    return HsdsOrganizationPage(*page_fields(total, page, per_page, len(contents)), contents)


async def get_organization(conn: Connection, tax: Taxonomies, base: str, organization_id: str) -> HsdsOrganization:
    row = await queries.organization(conn, path_uuid(organization_id, "organization"))
    if row is None:
        raise NotFound("no such organization")
    org = str(row["org_uuid"])
    brief = _org_brief(row, tax, base)
    contacts, phones = _contacts(row, org, service=False)
    services = await queries.services_of(conn, row["provider_id"])
    return HsdsOrganization(
        **{f: getattr(brief, f) for f in brief.__struct_fields__},
        organization_identifiers=_identifiers(row),
        contacts=contacts,
        phones=phones,
        funding=_funding(row),
        services=[_service_brief(s, tax) for s in services],
    )


def _all_terms(tax: Taxonomies, kinds: Sequence[str] = tuple(TAXONOMIES)) -> list[HsdsTaxonomyTerm]:
    return [term(tax, kind, item.code) for kind in kinds for item in getattr(tax, kind)]


def _term_code(tax: Taxonomies, wanted: str) -> tuple[str, str] | None:
    return next(
        ((kind, item.code) for kind in TAXONOMIES for item in getattr(tax, kind) if term_id(kind, item.code) == wanted),
        None,
    )


def list_taxonomies(base: str, *, page: int, per_page: int) -> HsdsTaxonomyPage:
    every = [_taxonomy(kind, base) for kind in TAXONOMIES]
    contents = every[_offset(page, per_page) :][:per_page]
    return HsdsTaxonomyPage(*page_fields(len(every), page, per_page, len(contents)), contents)


def get_taxonomy(tax: Taxonomies, base: str, taxonomy: str) -> HsdsTaxonomyWithTerms:
    wanted = str(path_uuid(taxonomy, "taxonomy"))
    kind = next((k for k in TAXONOMIES if taxonomy_id(k) == wanted), None)
    if kind is None:
        raise NotFound("no such taxonomy")
    found = _taxonomy(kind, base)
    return HsdsTaxonomyWithTerms(
        **{f: getattr(found, f) for f in found.__struct_fields__}, taxonomy_terms=_all_terms(tax, [kind])
    )


def list_taxonomy_terms(
    tax: Taxonomies, *, page: int, per_page: int, taxonomy: str | None = None
) -> HsdsTaxonomyTermPage:
    kinds: Sequence[str] = tuple(TAXONOMIES)
    if taxonomy is not None:
        wanted = str(parse_uuid(taxonomy, "taxonomy_id"))
        kinds = [k for k in TAXONOMIES if taxonomy_id(k) == wanted]
    every = _all_terms(tax, kinds)
    contents = every[_offset(page, per_page) :][:per_page]
    return HsdsTaxonomyTermPage(*page_fields(len(every), page, per_page, len(contents)), contents)


def get_taxonomy_term(tax: Taxonomies, term_uuid: str) -> HsdsTaxonomyTerm:
    found = _term_code(tax, str(path_uuid(term_uuid, "taxonomy term")))
    if found is None:
        raise NotFound("no such taxonomy term")
    return term(tax, *found, detail=True)


# --- export: GET /providers/export ------------------------------------------------------------------------

FLAT_COLUMNS = tabular.FLAT_COLUMNS
"""The flat sheet's columns (imports read sheets with them)."""
OUTCOME_FIELDS, MAX_OUTCOMES = tabular.OUTCOME_FIELDS, tabular.MAX_OUTCOMES
outcome_column, outcome_columns = tabular.outcome_column, tabular.outcome_columns
PREMISES_SEPARATOR = tabular.PREMISES_SEPARATOR
"""How the flat sheet writes a service's outcomes records and the organisation's premises (imports read them)."""
EXPORT_CAP = 50_000
"""At most this many rows (services, or providers without one) in an export; beyond, narrow the search."""
EXPORT_MEDIA = {"csv": "text/csv", "xlsx": XLSX_MEDIA, "hsds": "application/zip"}  # (the framework adds the charset)
EXPORT_SUFFIX = {"csv": "csv", "xlsx": "xlsx", "hsds": "zip"}


class Export(msgspec.Struct, frozen=True):
    body: bytes
    media_type: str
    filename: str
    rows: int


def _too_many(n: int) -> InvalidInput:
    return InvalidInput.field(
        "format", f"the search finds more than {EXPORT_CAP:,} rows ({n:,}): narrow it (pathway, area, q...) to export"
    )


def check_export(ctx: Context, query: SearchQuery) -> None:
    """Refuse an export whose search is bad (its codes, its sort) before anything is spent on it."""
    providers.check_query(ctx, query)


async def export_directory(
    ctx: Context, conn: Connection, live: LiveIndex, query: SearchQuery, fmt: str, base: str
) -> Export:
    """Every hit of the search (not a page), with the services that met its filters (all active services when it
    has no service filter): a flat sheet (CSV or xlsx, one row per service) or the HSDS tabular data package."""
    everything = msgspec.structs.replace(query, page=1, per_page=EXPORT_CAP + 1, facets=False)
    found = await providers.search(ctx, conn, live, everything)
    if found.total > EXPORT_CAP:
        raise _too_many(found.total)
    rows = sum(max(1, len(item.matched_services)) for item in found.items)
    if rows > EXPORT_CAP:
        raise _too_many(rows)
    order = [item.id for item in found.items]
    by_id = {r["provider_id"]: r for r in await queries.export_providers(conn, order)}
    wanted = [s.id for item in found.items for s in item.matched_services]
    services: dict[int, list[asyncpg.Record]] = {}
    for r in await queries.export_services(conn, wanted):
        services.setdefault(r["service_provider_id"], []).append(r)
    ordered = [by_id[i] for i in order if i in by_id]

    made_at = ctx.clock.now()

    def build() -> bytes:  # CPU-bound (tens of thousands of rows): off the event loop
        if fmt == "hsds":
            return tabular.package_zip(_package_tables(ctx.taxonomy, base, ordered, services))
        header, flat = tabular.flat_sheet(ordered, services)
        return tabular.flat_csv(header, flat) if fmt == "csv" else tabular.flat_xlsx(header, flat, made_at)

    body = await asyncio.to_thread(build)
    stamp = ctx.clock.today().isoformat()
    return Export(body, EXPORT_MEDIA[fmt], f"providers-{stamp}.{EXPORT_SUFFIX[fmt]}", rows)


def _package_tables(
    tax: Taxonomies, base: str, orgs: list[asyncpg.Record], services: dict[int, list[asyncpg.Record]]
) -> dict[str, list[msgspec.Struct]]:
    tables: dict[str, list[msgspec.Struct]] = {
        name: [] for name in ("organization", "organization_identifier", "service", "service_area")
    }
    tables |= {"cost_option": [], "attribute": [], "funding": []}
    for org in orgs:
        tables["organization"].append(_org_brief(org, tax, base))
        tables["organization_identifier"].extend(_identifiers(org))
        tables["funding"].extend(_funding(org))
        for row in services.get(org["provider_id"], []):
            hsds = _service(row, tax, base)
            tables["service"].append(_service_brief(row, tax))
            tables["service_area"].extend(hsds.service_areas)
            tables["cost_option"].extend(hsds.cost_options)
            tables["attribute"].extend(hsds.attributes)
    tables["taxonomy_term"] = list(_all_terms(tax))
    tables["taxonomy"] = [_taxonomy(kind, base) for kind in TAXONOMIES]
    return tables
