"""Provider directory: search, profiles, and providers keeping their own profile current."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Annotated, Literal

import msgspec
from litestar import MediaType, Request, Response, delete, get, patch, post, put
from litestar.datastructures import ResponseHeader, State
from litestar.params import HeaderParameter, JSONBody, Parameter

from marketplace.accounts import queries as account_queries
from marketplace.accounts.models import Actor, Caller, HistoryPage
from marketplace.auth import ActorDep, CallerDep, require
from marketplace.errors import (
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    Unprocessable,
)
from marketplace.http import NEEDS_KEY, Conn, check_if_match, errors_doc, etag
from marketplace.providers import queries
from marketplace.providers.index import Filters, Hits, SearchIndex
from marketplace.providers.models import (
    STATUSES,
    CapacityPatch,
    AccreditationList,
    ContactPatch,
    CoverageList,
    Expertise,
    ExpertiseDetail,
    FacetCount,
    Facets,
    FinancesPatch,
    Provider,
    ProviderPatch,
    ProviderProfile,
    ResourcesPatch,
    SearchResult,
    SocialValueList,
    apply_patch,
    changed_fields,
    normalised,
    profile_of,
    profile_problems,
)
from marketplace.taxonomy.checks import check_code
from marketplace.taxonomy.models import Taxonomy

PUBLIC_STATUSES = ("published",)
Codes = list[str] | None
ProviderId = Annotated[int, Parameter(ge=1, le=999_999_999_999, description="Provider id")]
PathwayParam = Annotated[str, Parameter(pattern=r"^[A-Z][A-Z_]{1,31}$", description="Pathway code; see GET /pathways")]
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False,
                                                description='The ETag from GET /providers/{id}, e.g. "v3"; required')]
ETAG_HEADER = [ResponseHeader(name="ETag", description='The profile version, e.g. "v3"', documentation_only=True)]


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def etag_for(provider: Provider) -> str:
    return etag(provider.version)


def visible_statuses(caller: CallerDep) -> tuple[str, ...]:
    """Commissioners and admins see every profile; others see published ones (and a provider its own)."""
    return STATUSES if caller.role in ("admin", "commissioner") else PUBLIC_STATUSES


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
        "Facet counts (pathway, area, sector) are computed under the current filters. Published profiles only, "
        "except that commissioners and admins may ask for `status=pending` or `archived`."
    ),
    responses=errors_doc(400, 401, 403, 503),
    tags=["providers"],
)
async def search_providers(
    request: Request,
    state: State,
    conn: Conn,
    caller: CallerDep,
    pathway: Annotated[Codes, Parameter(description="Pathway code(s), e.g. ACCOM; see GET /pathways")] = None,
    area: Annotated[Codes, Parameter(description="ONS GSS area code(s); see GET /areas")] = None,
    cohort: Annotated[Codes, Parameter(description="Cohort code(s); see GET /cohorts")] = None,
    sector: Annotated[Codes, Parameter(description="Sector code(s); see GET /sectors")] = None,
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
    status: Annotated[Literal["published", "pending", "archived"], Parameter(description="Commissioners and admins only, for other than published")] = "published",
) -> SearchResult:
    if status != "published":
        require(caller, "admin", "commissioner")
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

    live: queries.LiveIndex = state.search_index
    filters = Filters(
        status=status,
        pathway=pathway or (),
        area=area or (),
        cohort=cohort or (),
        sector=sector or (),
        legal_form=legal_form or (),
        accreditation=accreditation or (),
        min_capacity=min_capacity,
    )
    text_given = bool(q and q.strip())
    interpreted: list[list[str]] | None = None

    def search(index: SearchIndex) -> Hits:
        nonlocal interpreted
        groups = None
        if text_given:
            groups = interpreted = [words for _, words in index.expand(q or "")]
            if any(not words for words in groups):  # a word nothing in the directory resembles: nothing matches
                return Hits(total=0, ids=[], relevance=None, facets={} if facets else None)
        return index.search(
            filters, groups=groups, by_relevance=text_given and sort != "name",
            offset=(page - 1) * per_page, limit=per_page, facets=facets,
        )

    hits, items = await live.page(conn, search)
    return SearchResult(
        total=hits.total,
        page=page,
        per_page=per_page,
        pages=math.ceil(hits.total / per_page),
        items=items,
        facets=_facets(tax, hits.facets) if hits.facets is not None else None,
        interpreted_query=interpreted,
    )


def _facets(tax: Taxonomy, counts: dict[str, dict[str, int]]) -> Facets:
    def listed(kind: str, facet: str) -> list[FacetCount]:
        return [FacetCount(code=c, name=n, count=counts.get(facet, {}).get(c, 0)) for c, n in tax.codes(kind).items()]

    return Facets(pathway=listed("pathways", "pathway"), area=listed("areas", "area"), sector=listed("sectors", "sector"))


async def _visible_provider(conn: Conn, provider_id: int, caller: CallerDep) -> Provider:
    provider = await queries.fetch_provider(
        conn, provider_id, now=now(), statuses=visible_statuses(caller), own=caller.provider_id
    )
    if provider is None:
        raise NotFound(f"provider {provider_id} not found")
    return provider


@get(
    "/providers/{provider_id:int}",
    summary="A provider's full profile",
    description="The `ETag` header carries the profile's version, for `If-Match` on updates. "
    "Anonymous callers see published profiles; a provider also sees its own; commissioners and admins see all.",
    responses=errors_doc(400, 401, 404, 503),
    response_headers=ETAG_HEADER,
    tags=["providers"],
)
async def get_provider(provider_id: ProviderId, conn: Conn, caller: CallerDep) -> Response[Provider]:
    got = await queries.fetch_provider_json(
        conn, provider_id, now=now(), statuses=visible_statuses(caller), own=caller.provider_id
    )
    if got is None:
        raise NotFound(f"provider {provider_id} not found")
    body, version = got
    return Response(body, media_type=MediaType.JSON, headers={"ETag": etag(version)})


# --- changes --------------------------------------------------------------------------------------


async def save_change(
    conn: Conn, state: State, actor: ActorDep, provider_id: int, if_match: str | None,
    build: Callable[[ProviderProfile], ProviderProfile],
) -> Response[Provider]:
    """The one way a profile changes: owner or admin, If-Match against the current version, every rule
    checked, and the new version, one history row per changed field and an audit row in one transaction."""
    require(actor.caller, "admin", "own_provider", provider_id=provider_id)
    check_if_match(if_match)
    async with conn.transaction():
        locked = await queries.lock_provider(conn, provider_id)
        if locked is None:
            raise NotFound(f"provider {provider_id} not found")
        check_if_match(if_match, locked["version"])
        current = await queries.fetch_provider(conn, provider_id, now=now(), statuses=STATUSES)
        assert current is not None  # locked above
        before = profile_of(current)
        after = normalised(build(before))
        problems = profile_problems(after, state.taxonomy, year=now().year)
        if problems:
            raise Unprocessable.from_problems(problems)
        changes = changed_fields(before, after)
        if not changes:
            return Response(current, headers={"ETag": etag_for(current)})
        if locked["verified_at"] is not None and any(f == "identifiers" for f, _, _ in changes) and actor.caller.role != "admin":
            raise Forbidden("identifiers: verified by the marketplace; ask an admin to change them",
                            problems=[FieldProblem(field="identifiers", problem="verified identifiers cannot be changed by the provider")],
                            extra={"caller": actor.caller, "provider_id": provider_id})
        taken = await queries.identifiers_taken(conn, after.identifiers, provider_id)
        if taken:
            raise Conflict(f"identifiers: {taken[0]} is already registered to another provider",
                           problems=[FieldProblem(field="identifiers", problem=f"{taken[0]} is already registered")])
        version = await queries.update_provider_row(conn, provider_id, after)
        parts = {queries.PART_OF_FIELD[f.split("[")[0]] for f, _, _ in changes if f.split("[")[0] in queries.PART_OF_FIELD}
        await queries.write_parts(conn, provider_id, after, only=parts)
        await queries.refresh_search(conn, [provider_id])
        await account_queries.insert_history(conn, provider_id=provider_id, version=version, action="update",
                                             changes=changes, actor=actor)
        await account_queries.insert_audit(conn, actor=actor, status=200, outcome="write", provider_id=provider_id,
                                           detail="changed " + ", ".join(f for f, _, _ in changes))
        updated = await queries.fetch_provider(conn, provider_id, now=now(), statuses=STATUSES)
    assert updated is not None
    return Response(updated, headers={"ETag": etag_for(updated)})


CHANGE_ERRORS = errors_doc(400, 401, 403, 404, 409, 412, 422, 428, 503)
CHANGE_DOC = dict(responses=CHANGE_ERRORS, response_headers=ETAG_HEADER, tags=["profile updates"], security=NEEDS_KEY)


@patch("/providers/{provider_id:int}", summary="Update a profile (partial)", **CHANGE_DOC,
       description="Fields left out stay as they are; `null` clears a field that may be empty; a list replaces the whole "
       "list; contact, resources, capacity and finances change field by field. Needs `If-Match` with the current ETag "
       "(428 without it, 412 when stale). Fields the marketplace holds (status, verification, ids, timestamps) are refused.")
async def patch_provider(provider_id: ProviderId, data: JSONBody[ProviderPatch], conn: Conn, state: State, actor: ActorDep,
                         if_match: IfMatch = None) -> Response[Provider]:
    return await save_change(conn, state, actor, provider_id, if_match, lambda p: apply_patch(p, data))


@put("/providers/{provider_id:int}/expertise/{pathway:str}", summary="Add or replace expertise in one pathway", **CHANGE_DOC)
async def put_expertise(provider_id: ProviderId, pathway: PathwayParam, data: JSONBody[ExpertiseDetail], conn: Conn, state: State,
                        actor: ActorDep, if_match: IfMatch = None) -> Response[Provider]:
    entry = Expertise(pathway=pathway, **msgspec.structs.asdict(data))

    def build(p: ProviderProfile) -> ProviderProfile:
        others = [e for e in p.expertise if e.pathway != pathway]
        position = next((i for i, e in enumerate(p.expertise) if e.pathway == pathway), len(others))
        return msgspec.structs.replace(p, expertise=[*others[:position], entry, *others[position:]])

    return await save_change(conn, state, actor, provider_id, if_match, build)


@delete("/providers/{provider_id:int}/expertise/{pathway:str}", summary="Stop offering a pathway", status_code=200, **CHANGE_DOC)
async def delete_expertise(provider_id: ProviderId, pathway: PathwayParam, conn: Conn, state: State, actor: ActorDep,
                           if_match: IfMatch = None) -> Response[Provider]:
    def build(p: ProviderProfile) -> ProviderProfile:
        if not any(e.pathway == pathway for e in p.expertise):
            raise NotFound(f"provider {provider_id} has no expertise in {pathway!r}")
        return msgspec.structs.replace(p, expertise=[e for e in p.expertise if e.pathway != pathway])

    return await save_change(conn, state, actor, provider_id, if_match, build)


@put("/providers/{provider_id:int}/coverage", summary="Replace the areas covered", **CHANGE_DOC)
async def put_coverage(provider_id: ProviderId, data: JSONBody[CoverageList], conn: Conn, state: State, actor: ActorDep,
                       if_match: IfMatch = None) -> Response[Provider]:
    return await save_change(conn, state, actor, provider_id, if_match, lambda p: msgspec.structs.replace(p, coverage=data.coverage))


@put("/providers/{provider_id:int}/accreditations", summary="Replace the accreditations", **CHANGE_DOC)
async def put_accreditations(provider_id: ProviderId, data: JSONBody[AccreditationList], conn: Conn, state: State, actor: ActorDep,
                             if_match: IfMatch = None) -> Response[Provider]:
    return await save_change(conn, state, actor, provider_id, if_match,
                             lambda p: msgspec.structs.replace(p, accreditations=data.accreditations))


@put("/providers/{provider_id:int}/social-value", summary="Replace the social-value commitments", **CHANGE_DOC)
async def put_social_value(provider_id: ProviderId, data: JSONBody[SocialValueList], conn: Conn, state: State, actor: ActorDep,
                           if_match: IfMatch = None) -> Response[Provider]:
    return await save_change(conn, state, actor, provider_id, if_match,
                             lambda p: msgspec.structs.replace(p, social_value=data.social_value))


def _patch_part(field: str, part: msgspec.Struct) -> Callable[[ProviderProfile], ProviderProfile]:
    return lambda p: apply_patch(p, ProviderPatch(**{field: part}))


@patch("/providers/{provider_id:int}/resources", summary="Update resources (volunteers, premises, match funding, partners)", **CHANGE_DOC)
async def patch_resources(provider_id: ProviderId, data: JSONBody[ResourcesPatch], conn: Conn, state: State, actor: ActorDep,
                          if_match: IfMatch = None) -> Response[Provider]:
    return await save_change(conn, state, actor, provider_id, if_match, _patch_part("resources", data))


@patch("/providers/{provider_id:int}/capacity", summary="Update capacity", **CHANGE_DOC)
async def patch_capacity(provider_id: ProviderId, data: JSONBody[CapacityPatch], conn: Conn, state: State, actor: ActorDep,
                         if_match: IfMatch = None) -> Response[Provider]:
    return await save_change(conn, state, actor, provider_id, if_match, _patch_part("capacity", data))


@patch("/providers/{provider_id:int}/finances", summary="Update finances", **CHANGE_DOC)
async def patch_finances(provider_id: ProviderId, data: JSONBody[FinancesPatch], conn: Conn, state: State, actor: ActorDep,
                         if_match: IfMatch = None) -> Response[Provider]:
    return await save_change(conn, state, actor, provider_id, if_match, _patch_part("finances", data))


@patch("/providers/{provider_id:int}/contact", summary="Update the contact", **CHANGE_DOC)
async def patch_contact(provider_id: ProviderId, data: JSONBody[ContactPatch], conn: Conn, state: State, actor: ActorDep,
                        if_match: IfMatch = None) -> Response[Provider]:
    return await save_change(conn, state, actor, provider_id, if_match, _patch_part("contact", data))


@post("/providers/{provider_id:int}/confirm", summary="Confirm the profile is still accurate", status_code=200,
      responses=errors_doc(400, 401, 403, 404, 503), tags=["profile updates"], security=NEEDS_KEY,
      description="Sets last_confirmed_at. Profiles not confirmed for 12 months are flagged `stale`.")
async def confirm_provider(provider_id: ProviderId, conn: Conn, actor: ActorDep) -> Provider:
    require(actor.caller, "admin", "own_provider", provider_id=provider_id)
    return await _marketplace_action(conn, actor, provider_id, "confirm")


async def _marketplace_action(conn: Conn, actor: ActorDep, provider_id: int, action: str) -> Provider:
    """confirm, publish, archive or verify: a marketplace-held field changes, with history and audit."""
    async with conn.transaction():
        locked = await queries.lock_provider(conn, provider_id)
        if locked is None:
            raise NotFound(f"provider {provider_id} not found")
        if action == "confirm":
            field, before, after = "last_confirmed_at", locked["last_confirmed_at"], await queries.set_confirmed(conn, provider_id)
        elif action == "verify":
            field, before, after = "verified_at", locked["verified_at"], await queries.set_verified(conn, provider_id)
        else:
            field, before, after = "status", locked["status"], {"publish": "published", "archive": "archived"}[action]
            if before == after:  # already so: nothing to do, nothing to record
                provider = await queries.fetch_provider(conn, provider_id, now=now(), statuses=STATUSES)
                assert provider is not None
                return provider
            await queries.set_status(conn, provider_id, after)
        await account_queries.insert_history(conn, provider_id=provider_id, version=locked["version"], action=action,
                                             changes=[(field, before, after)], actor=actor)
        await account_queries.insert_audit(conn, actor=actor, status=200, outcome="write", provider_id=provider_id, detail=action)
        provider = await queries.fetch_provider(conn, provider_id, now=now(), statuses=STATUSES)
    assert provider is not None
    return provider


def _admin_action(action: str, summary: str):
    @post(f"/providers/{{provider_id:int}}/{action}", summary=summary, name=f"{action}_provider", status_code=200,
          responses=errors_doc(400, 401, 403, 404, 503), tags=["administration"], security=NEEDS_KEY)
    async def handler(provider_id: ProviderId, conn: Conn, actor: ActorDep) -> Provider:
        require(actor.caller, "admin")
        return await _marketplace_action(conn, actor, provider_id, action)

    return handler


@get("/providers/{provider_id:int}/history", summary="Every change to a profile, newest first",
     responses=errors_doc(400, 401, 403, 404, 503), tags=["profile updates"], security=NEEDS_KEY,
     description="One entry per changed field (Open Referral HSDS metadata shape). Owner, commissioners and admins.")
async def provider_history(provider_id: ProviderId, conn: Conn, caller: CallerDep,
                           page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
                           per_page: Annotated[int, Parameter(ge=1, le=100)] = 50) -> HistoryPage:
    require(caller, "admin", "commissioner", "own_provider", provider_id=provider_id)
    await _visible_provider(conn, provider_id, caller)
    total, items = await account_queries.history_page(conn, provider_id, limit=per_page, offset=(page - 1) * per_page)
    return HistoryPage(total=total, page=page, per_page=per_page, items=items)


ROUTES = [
    search_providers,
    get_provider,
    patch_provider,
    put_expertise,
    delete_expertise,
    put_coverage,
    put_accreditations,
    put_social_value,
    patch_resources,
    patch_capacity,
    patch_finances,
    patch_contact,
    confirm_provider,
    _admin_action("publish", "Publish a profile (admin)"),
    _admin_action("archive", "Archive a profile (admin)"),
    _admin_action("verify", "Mark the profile's identifiers verified (admin)"),
    provider_history,
]
