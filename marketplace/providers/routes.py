"""Provider directory: search and profiles."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from litestar import Request, Response, get
from litestar.datastructures import ResponseHeader, State
from litestar.params import Parameter

from marketplace.errors import FieldProblem, InvalidInput, NotFound
from marketplace.http import Conn, errors_doc, reject_unknown_params
from marketplace.providers import queries
from marketplace.providers.models import Facets, FacetCount, Provider, SearchResult
from marketplace.taxonomy.checks import check_code
from marketplace.taxonomy.models import Taxonomy

PUBLIC_STATUSES = ("published",)

SEARCH_PARAMS = {
    "pathway", "area", "cohort", "sector", "legal_form", "accreditation",
    "min_capacity", "q", "page", "per_page", "facets", "sort",
}

Codes = list[str] | None


def etag_for(provider: Provider) -> str:
    return f'"v{provider.version}"'


def _check_codes(param: str, values: list[str] | None, allowed: dict[str, str], what: str) -> list[FieldProblem]:
    return [p for v in values or () if (p := check_code(param, v, allowed, what)) is not None]


@get(
    "/providers",
    summary="Search the provider directory",
    description=(
        "Filters combine with AND; several values of one filter are alternatives (any of them), except "
        "`accreditation`, where all are required. `area` is hierarchy-aware: Worcestershire finds providers "
        "covering any of its districts and region-wide providers. `q` is free text over name, description and "
        "expertise, tolerant of typos and accents. Sorted by relevance when `q` is given, else by name. "
        "Facet counts (pathway, area, sector) are computed under the current filters."
    ),
    responses=errors_doc(400, 503),
    tags=["providers"],
)
async def search_providers(
    request: Request,
    state: State,
    conn: Conn,
    pathway: Annotated[Codes, Parameter(description="Pathway code(s), e.g. ACCOM; see GET /pathways")] = None,
    area: Annotated[Codes, Parameter(description="ONS GSS area code(s); see GET /areas")] = None,
    cohort: Annotated[Codes, Parameter(description="Cohort code(s); see GET /cohorts")] = None,
    sector: Annotated[Codes, Parameter(description="Sector code(s): third_sector, co_operative, social_enterprise, private, public")] = None,
    legal_form: Annotated[Codes, Parameter(description="Legal form code(s); see GET /legal-forms")] = None,
    accreditation: Annotated[Codes, Parameter(description="Accreditation code(s), all required; see GET /accreditations")] = None,
    min_capacity: Annotated[
        int | None,
        # schema_extra: Litestar leaves a zero minimum out of the schema
        Parameter(ge=0, le=10_000_000, schema_extra={"minimum": 0}, description="At least this many service users a year"),
    ] = None,
    q: Annotated[str | None, Parameter(max_length=200, description="Free text; typos and accents tolerated")] = None,
    page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Parameter(ge=1, le=100)] = 20,
    facets: Annotated[bool, Parameter(description="Include facet counts")] = True,
    sort: Annotated[Literal["relevance", "name"] | None, Parameter(description="relevance (needs q; the default when q is given) or name")] = None,
) -> SearchResult:
    reject_unknown_params(request, SEARCH_PARAMS)
    tax: Taxonomy = state.taxonomy
    problems = [
        *_check_codes("pathway", pathway, tax.codes("pathways"), "pathway"),
        *_check_codes("area", area, tax.codes("areas"), "area"),
        *_check_codes("cohort", cohort, tax.codes("cohorts"), "cohort"),
        *_check_codes("sector", sector, tax.codes("sectors"), "sector"),
        *_check_codes("legal_form", legal_form, tax.codes("legal_forms"), "legal form"),
        *_check_codes("accreditation", accreditation, tax.codes("accreditations"), "accreditation"),
    ]
    if problems:
        raise InvalidInput("; ".join(f"{p.field}: {p.problem}" for p in problems), problems=problems)

    interpreted: list[list[str]] | None = None
    tsquery: str | None = None
    text_given = bool(q and q.strip())
    if text_given:
        expanded = await queries.expand_query(conn, q or "")
        interpreted = [words for _, words in expanded]
        tsquery = queries.to_tsquery_text(expanded)
    where = queries.build_where(
        statuses=PUBLIC_STATUSES,
        pathway=pathway or (),
        area=area or (),
        cohort=cohort or (),
        sector=sector or (),
        legal_form=legal_form or (),
        accreditation=accreditation or (),
        min_capacity=min_capacity,
        tsquery=tsquery,
    )
    if text_given and tsquery is None:
        # A word that matches nothing in the directory, even allowing for typos: nothing can match.
        total, items, counts = 0, [], {"pathway": {}, "area": {}, "sector": {}}
    else:
        by_relevance = tsquery is not None and sort != "name"
        total, items = await queries.search_page(
            conn, where, tsquery=tsquery if by_relevance else None, limit=per_page, offset=(page - 1) * per_page
        )
        counts = await queries.facet_counts(conn, where) if facets else None
    return SearchResult(
        total=total,
        page=page,
        per_page=per_page,
        pages=math.ceil(total / per_page),
        items=items,
        facets=_facets(tax, counts) if facets and counts is not None else None,
        interpreted_query=interpreted,
    )


def _facets(tax: Taxonomy, counts: dict[str, dict[str, int]]) -> Facets:
    def listed(kind: str, facet: str) -> list[FacetCount]:
        return [FacetCount(code=c, name=n, count=counts[facet].get(c, 0)) for c, n in tax.codes(kind).items()]

    return Facets(pathway=listed("pathways", "pathway"), area=listed("areas", "area"), sector=listed("sectors", "sector"))


@get(
    "/providers/{provider_id:int}",
    summary="A provider's full profile",
    description="The `ETag` header carries the profile's version, for `If-Match` on updates.",
    responses=errors_doc(400, 404, 503),
    response_headers=[ResponseHeader(name="ETag", description="The profile version, e.g. \"v3\"", documentation_only=True)],
    tags=["providers"],
)
async def get_provider(
    provider_id: Annotated[int, Parameter(ge=1, le=999_999_999_999)], conn: Conn
) -> Response[Provider]:
    provider = await queries.fetch_provider(conn, provider_id, now=dt.datetime.now(dt.timezone.utc), statuses=PUBLIC_STATUSES)
    if provider is None:
        raise NotFound(f"provider {provider_id} not found")
    return Response(provider, headers={"ETag": etag_for(provider)})


ROUTES = [search_providers, get_provider]
