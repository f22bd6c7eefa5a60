"""Open Referral UK (HSDS 3.0) read API under /hsds: anonymous, the published directory only, readable from any web
page (`Access-Control-Allow-Origin: *` on every response under /hsds, errors included: `cors_before_send`).

Query parameters are strict, as everywhere: those HSDS defines that we serve are `page`, `per_page`, `search`,
`organization_id`, `taxonomy_term_id`, `modified_after`, `taxonomy_id` (on terms) and `format=json`; the others
(`full`, `minimal`, `postcode`, `proximity`, ...) are refused with a 400 naming them, not ignored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter, PathParameter
from litestar.types import AnyCallable

from marketplace.accounts.auth import spend_budget, staff_beyond_published
from marketplace.http import Conn, Ctx, PageNumber, PerPage, actor_of, base_url, errors_doc, public_cors
from marketplace.providers.filters import SEARCH, DirectorySearch
from marketplace.standards import service
from marketplace.standards.models import (
    HsdsApiDetails,
    HsdsOrganization,
    HsdsOrganizationPage,
    HsdsService,
    HsdsServicePage,
    HsdsTaxonomyPage,
    HsdsTaxonomyTerm,
    HsdsTaxonomyTermPage,
    HsdsTaxonomyWithTerms,
)

PREFIX = "/hsds"
TAGS = ["open referral (HSDS 3.0 / ORUK)"]
DEFAULT_PER_PAGE = 50

Search = Annotated[
    str | None, Parameter(max_length=200, description="Words that must all appear (case and accents folded)")
]
UuidParam = Annotated[str | None, Parameter(max_length=36, schema_extra={"format": "uuid"})]
Format = Annotated[Literal["json"] | None, Parameter(description="Only json (HSDS's default) is served")]
ModifiedAfter = Annotated[
    str | None,
    Parameter(
        max_length=40,
        schema_extra={"format": "date-time"},
        description="Services changed on or after this ISO 8601 date-time (UTC when no offset is given)",
    ),
]


PathId = Annotated[str, PathParameter(description="A UUID (anything else names nothing: 404)")]


cors_before_send = public_cors(PREFIX)
"""Every response under /hsds may be read by any origin: the data is public, and no credential is involved."""


def _hsds(path: str, summary: str, *statuses: int) -> Callable[[AnyCallable], HTTPRouteHandler]:
    """A read of the Open Referral API: tagged as every one of them is, with the errors it may answer."""
    return get(path, summary=summary, tags=TAGS, responses=errors_doc(*statuses))


@_hsds(PREFIX, "About this Open Referral API", 400)
async def hsds_root(request: Request[Any, Any, Any], format: Format = None) -> HsdsApiDetails:
    return service.api_details(base_url(request))


@_hsds(f"{PREFIX}/services", "Services of published providers, paged (HSDS 3.0)", 400, 503)
async def hsds_services(
    ctx: Ctx,
    conn: Conn,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    search: Search = None,
    organization_id: UuidParam = None,
    taxonomy_term_id: UuidParam = None,
    modified_after: ModifiedAfter = None,
    format: Format = None,
) -> HsdsServicePage:
    return await service.list_services(
        conn,
        ctx.taxonomy,
        page=page,
        per_page=per_page,
        search=search,
        organization_id=organization_id,
        taxonomy_term_id=taxonomy_term_id,
        modified_after=modified_after,
    )


@_hsds(f"{PREFIX}/services/{{service_id:str}}", "A service, fully nested (HSDS 3.0)", 404, 503)
async def hsds_service(request: Request[Any, Any, Any], ctx: Ctx, conn: Conn, service_id: PathId) -> HsdsService:
    return await service.get_service(conn, ctx.taxonomy, base_url(request), service_id)


@_hsds(f"{PREFIX}/organizations", "Published organizations, paged (HSDS 3.0)", 400, 503)
async def hsds_organizations(
    request: Request[Any, Any, Any],
    ctx: Ctx,
    conn: Conn,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    search: Search = None,
    format: Format = None,
) -> HsdsOrganizationPage:
    return await service.list_organizations(
        conn, ctx.taxonomy, base_url(request), page=page, per_page=per_page, search=search
    )


@_hsds(
    f"{PREFIX}/organizations/{{organization_id:str}}",
    "An organization with its identifiers, contacts and services (HSDS 3.0)",
    404,
    503,
)
async def hsds_organization(
    request: Request[Any, Any, Any], ctx: Ctx, conn: Conn, organization_id: PathId
) -> HsdsOrganization:
    return await service.get_organization(conn, ctx.taxonomy, base_url(request), organization_id)


@_hsds(f"{PREFIX}/taxonomies", "The taxonomies services are classified by", 400)
async def hsds_taxonomies(
    request: Request[Any, Any, Any], page: PageNumber = 1, per_page: PerPage = DEFAULT_PER_PAGE, format: Format = None
) -> HsdsTaxonomyPage:
    return service.list_taxonomies(base_url(request), page=page, per_page=per_page)


@_hsds(f"{PREFIX}/taxonomies/{{taxonomy:str}}", "A taxonomy with its terms", 404)
async def hsds_taxonomy(request: Request[Any, Any, Any], ctx: Ctx, taxonomy: PathId) -> HsdsTaxonomyWithTerms:
    return service.get_taxonomy(ctx.taxonomy, base_url(request), taxonomy)


@_hsds(f"{PREFIX}/taxonomy_terms", "Taxonomy terms, paged", 400)
async def hsds_taxonomy_terms(
    ctx: Ctx,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    taxonomy_id: UuidParam = None,
    format: Format = None,
) -> HsdsTaxonomyTermPage:
    return service.list_taxonomy_terms(ctx.taxonomy, page=page, per_page=per_page, taxonomy=taxonomy_id)


@_hsds(f"{PREFIX}/taxonomy_terms/{{term:str}}", "A taxonomy term", 404)
async def hsds_taxonomy_term(ctx: Ctx, term: PathId) -> HsdsTaxonomyTerm:
    return service.get_taxonomy_term(ctx.taxonomy, term)


# --- GET /providers/export: the current search as files --------------------------------------------------

EXPORT_PATH = "/providers/export"
EXPORT_MEDIA_TYPES = {EXPORT_PATH: ["text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]}
"""The export's representations besides the zip (added to the OpenAPI document, see marketplace.openapi)."""


@get(
    EXPORT_PATH,
    summary="Export the current search: CSV, xlsx or an HSDS tabular data package",
    description=(
        "Every provider the same search (`GET /providers` with the same filters) finds, not a page: `format=csv` or "
        "`xlsx` gives one row per service that met the search's service filters (all active services when there "
        "are none), the provider's columns repeated, a provider without such a service on one row of its own; "
        "every part of a profile that `POST /imports` takes back: lists joined by `; ` (an item holding `;` or `|` "
        'between double quotes, `"Smith; Jones CIC"`), premises as '
        "`E06000019: description`, and each service's outcomes records a column per field per record "
        "(`outcome_1_outcome`, `outcome_1_measure`, ..., as many records as the fullest service has); "
        "`xlsx` keeps numbers as numbers and dates as dates; text a spreadsheet would read as a formula is "
        f"prefixed with `'`. `format=hsds` gives a zip of Open Referral (HSDS 3.0) CSVs with a `datapackage.json` "
        "cut from the official one. The search's `page` and `per_page` may be passed along and are ignored. "
        f"At most {service.EXPORT_CAP:,} rows: a wider search is refused (400) and should be narrowed. Published "
        "profiles only, except that commissioners and admins may ask for `status=pending` "
        "or `archived`. Limited per minute (429 with Retry-After): with an API key, by the key's limit on expensive "
        "requests; without one, by the client address's (`MARKETPLACE_ANONYMOUS_EXPENSIVE_LIMIT`)."
    ),
    responses=errors_doc(400, 401, 403, 422, 429, 503),
    tags=["providers"],
    guards=[staff_beyond_published],
    dependencies=SEARCH,
    media_type="application/zip",
)
async def export_providers(
    request: Request[Any, Any, Any],
    state: State,
    ctx: Ctx,
    conn: Conn,
    format: Annotated[
        Literal["csv", "xlsx", "hsds"], Parameter(description="csv, xlsx or hsds (a zip: the HSDS data package)")
    ],
    search: DirectorySearch,
    page: PageNumber = 1,  # the search's own, passed along: ignored (every hit is exported)
    per_page: PerPage = 20,
) -> Response[bytes]:
    actor = actor_of(request.scope)
    service.check_export(ctx, search)  # a bad code is told before the budget is spent
    spend_budget(state, actor.caller, actor.client)  # once the search is valid: see spend_budget
    made = await service.export_directory(ctx, conn, state.search_index, search, format, base_url(request))
    return Response(
        made.body,
        media_type=made.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{made.filename}"',
            "X-Content-Type-Options": "nosniff",
            "X-Export-Rows": str(made.rows),
        },
    )


ROUTES = [
    export_providers,
    hsds_root,
    hsds_services,
    hsds_service,
    hsds_organizations,
    hsds_organization,
    hsds_taxonomies,
    hsds_taxonomy,
    hsds_taxonomy_terms,
    hsds_taxonomy_term,
]
