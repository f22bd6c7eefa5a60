"""Provider directory: search, profiles, joining, and providers keeping their own profile current."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from litestar import MediaType, Request, Response, delete, get, patch, post, put
from litestar.datastructures import ResponseHeader, State
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter

from marketplace.accounts.auth import Allow, admin, allow, staff_beyond_published
from marketplace.concurrency import etag
from marketplace.db import pooled
from marketplace.errors import Unprocessable
from marketplace.http import (
    NEEDS_KEY,
    NO_STORE,
    SERVER_HELD,
    ActorDep,
    Conn,
    Ctx,
    IfMatch,
    PageNumber,
    PerPage,
    RouteDoc,
    caller_of,
    errors_doc,
    sent_if_match,
    versioned,
)
from marketplace.providers import service
from marketplace.providers.filters import SEARCH, DirectorySearch
from marketplace.providers.models import (
    MARKETPLACE_FIELDS,
    AccreditationList,
    ContactPatch,
    Edit,
    EvidenceTarget,
    FinancesPatch,
    HistoryPage,
    MarketplaceAction,
    NewProvider,
    Provider,
    ProviderPatch,
    Registration,
    ResourcesPatch,
    SearchResult,
    Service,
    ServiceIn,
    ServicePatch,
    SocialValueList,
    VerificationIn,
    patched,
    replaced,
    with_part,
)
from marketplace.types import NoBody

Codes = list[str] | None
ProviderId = Annotated[int, Parameter(ge=1, le=999_999_999_999, description="Provider id")]
ServiceId = Annotated[int, Parameter(ge=1, le=999_999_999_999, description="Service id")]
SERVICE_ETAG = [ResponseHeader(name="ETag", description='The service version, e.g. "v3"', documentation_only=True)]
ETAG_HEADER = [ResponseHeader(name="ETag", description='The profile version, e.g. "v3"', documentation_only=True)]


@get(
    "/providers",
    summary="Search the provider directory",
    description=(
        "Returns providers (organisations); filters combine with AND, and several values of one filter are "
        "alternatives (any of them). `status`, `sector`, `legal_form` and `q` apply to the organisation. "
        "`pathway`, `area`, `cohort`, `min_capacity`, `age`, `gender`, `complexity`, `delivery_mode` and "
        "`max_cost` apply to **one active service**, which must meet all of them: `pathway=ACCOM&area=E06000020"
        "&min_capacity=50` finds providers with an accommodation service in Telford for at least 50 people a "
        "year, not one with accommodation elsewhere and another service in Telford. `area` is hierarchy-aware "
        "(Worcestershire finds services in any of its districts and region-wide ones); `age` falls inside the "
        "service's age range (an open end is open); `gender=women` finds services for women or for both "
        "(`men` likewise); `max_cost` compares the service's indicative cost, whatever its unit, and a service "
        "without a cost does not meet it. `accreditation` values are all required, each held by the "
        "organisation or by that same service. A provider with no active service is found only by searches "
        "without service filters. Each result's `matched_services` are its active services that met the "
        "service filters (all of them when there are none). `q` is free text over the name, description and "
        "services, tolerant of typos and accents; sorted by relevance when `q` is given, else by name (see `q` "
        "and `sort` for how relevance ranks). Facets "
        "count providers under the current filters: `pathway` and `area` those with a matched service in that "
        "pathway or area, `sector` those of that sector. Published profiles only, except that commissioners and "
        "admins may ask for `status=pending` or `archived`."
    ),
    responses=errors_doc(400, 401, 403, 422, 503),
    tags=["providers"],
    guards=[staff_beyond_published],
    dependencies=SEARCH,
)
async def search_providers(
    state: State,
    ctx: Ctx,
    conn: Conn,
    search: DirectorySearch,
    page: PageNumber = 1,
    per_page: PerPage = 20,
    facets: Annotated[bool, Parameter(description="Include facet counts")] = True,
) -> SearchResult:
    query = msgspec.structs.replace(search, page=page, per_page=per_page, facets=facets)
    return await service.search(ctx, conn, state.search_index, query)


@get(
    "/providers/{provider_id:int}",
    summary="A provider's full profile",
    description="The `ETag` header carries the profile's version, for `If-Match` on updates. "
    "Anonymous callers see published profiles; a provider also sees its own; commissioners and admins see all.",
    responses=errors_doc(400, 401, 404, 503),
    response_headers=ETAG_HEADER,
    tags=["providers"],
)
async def get_provider(provider_id: ProviderId, request: Request[Any, Any, Any]) -> Response[Provider]:
    # The busiest read: it takes its context, caller and connection straight from the request rather than through
    # the dependency chain (resolving which cost a fifth of this request's time).
    state = request.app.state
    async with pooled(state.pool) as conn:
        body, version = await service.profile_json(state.ctx, conn, caller_of(request.scope), provider_id)
    return Response(body, media_type=MediaType.JSON, headers={"ETag": etag(version)})  # type: ignore[arg-type]


@post(
    "/registrations",
    summary="Join the marketplace",
    status_code=201,
    tags=["accounts"],
    responses=errors_doc(400, 403, 409, 422, 429, 503),
    description="Creates a `pending` profile (invisible to anonymous search until an admin publishes it) and a "
    "provider API key bound to it, returned once. Rate-limited per client. Anyone may join but an auditor's key, "
    "which changes nothing (403).",
)
async def register(
    request: Request[Any, Any, Any], data: JSONBody[NewProvider], ctx: Ctx, conn: Conn, actor: ActorDep
) -> Response[Registration]:
    client = request.client.host if request.client else "unknown"
    made = await service.register(ctx, conn, actor, data, client)
    headers = {"ETag": etag(made.provider.version), "Location": f"/providers/{made.provider.id}", **NO_STORE}
    return Response(made, status_code=201, headers=headers)


# --- changes --------------------------------------------------------------------------------------


class ChangeDoc(RouteDoc):
    responses: dict[int, ResponseSpec]
    response_headers: list[ResponseHeader]
    opt: dict[str, Any]


def _change_doc(etag: list[ResponseHeader], tag: str) -> ChangeDoc:
    """The options of a route that changes a profile or a service (the owner or an admin, with If-Match)."""
    return ChangeDoc(
        responses=errors_doc(400, 401, 403, 404, 409, 412, 422, 428, 503),
        response_headers=etag,
        tags=[tag],
        security=NEEDS_KEY,
        guards=[allow("admin", own_provider=True)],
        opt={SERVER_HELD: MARKETPLACE_FIELDS},
    )


CHANGE = _change_doc(ETAG_HEADER, "profile updates")


async def _change(
    ctx: Ctx, conn: Conn, actor: ActorDep, provider_id: int, if_match: str | None, edit: Edit
) -> Response[Provider]:
    return versioned(await service.change(ctx, conn, actor, provider_id, if_match, edit))


@patch(
    "/providers/{provider_id:int}",
    summary="Update a profile (partial)",
    **CHANGE,
    description="Fields left out stay as they are; `null` clears a field that may be empty; a list replaces the whole "
    "list; contact, resources, capacity and finances change field by field. Needs `If-Match` with the current ETag "
    "(428 without it, 412 when stale). Fields the marketplace holds (status, verification, ids, timestamps) are "
    "refused.",
)
async def patch_provider(
    provider_id: ProviderId,
    data: JSONBody[ProviderPatch],
    ctx: Ctx,
    conn: Conn,
    actor: ActorDep,
    if_match: IfMatch = None,
) -> Response[Provider]:
    return await _change(ctx, conn, actor, provider_id, if_match, patched(data))


L = TypeVar("L", AccreditationList, SocialValueList)


def _put_list(field: Literal["accreditations", "social_value"], body: type[L], summary: str) -> Any:
    """PUT of one of the profile's lists (`body` holds it as `field`), replaced whole under the profile's ETag."""

    async def handler(
        provider_id: ProviderId, data: JSONBody[L], ctx: Ctx, conn: Conn, actor: ActorDep, if_match: IfMatch = None
    ) -> Response[Provider]:
        return await _change(ctx, conn, actor, provider_id, if_match, replaced(**{field: getattr(data, field)}))

    handler.__name__ = handler.__qualname__ = f"put_{field}"
    path = f"/providers/{{provider_id:int}}/{field.replace('_', '-')}"
    return put(path, summary=summary, signature_namespace={"L": body}, **CHANGE)(handler)


put_accreditations = _put_list("accreditations", AccreditationList, "Replace the accreditations")
put_social_value = _put_list("social_value", SocialValueList, "Replace the social-value commitments")


P = TypeVar("P", ResourcesPatch, FinancesPatch, ContactPatch)


def _patch_part(part: Literal["resources", "finances", "contact"], body: type[P], summary: str) -> Any:
    """PATCH of one part of the profile (`body` the part's patch), field by field, under the profile's ETag."""

    async def handler(
        provider_id: ProviderId, data: JSONBody[P], ctx: Ctx, conn: Conn, actor: ActorDep, if_match: IfMatch = None
    ) -> Response[Provider]:
        try:
            return await _change(ctx, conn, actor, provider_id, if_match, with_part(part, data))
        except Unprocessable as exc:  # the profile's rules name `finances.x`: this body's field is `x`
            raise Unprocessable.from_problems(
                [msgspec.structs.replace(p, field=p.field.removeprefix(f"{part}.")) for p in exc.problems]
            ) from None

    handler.__name__ = handler.__qualname__ = f"patch_{part}"
    path = f"/providers/{{provider_id:int}}/{part}"
    return patch(path, summary=summary, signature_namespace={"P": body}, **CHANGE)(handler)


patch_resources = _patch_part(
    "resources", ResourcesPatch, "Update resources (volunteers, premises, match funding, partners)"
)
patch_finances = _patch_part("finances", FinancesPatch, "Update finances")
patch_contact = _patch_part("contact", ContactPatch, "Update the contact")


def _action(
    action: MarketplaceAction, summary: str, *, guard: Allow = admin, tag: str = "administration", description: str = ""
) -> Any:
    """POST /providers/{id}/<action>: a field the marketplace holds changes (service.mark); no body but `{}`."""

    @post(
        f"/providers/{{provider_id:int}}/{action}",
        summary=summary,
        name=f"{action}_provider",
        status_code=200,
        response_headers=ETAG_HEADER,
        responses=errors_doc(400, 401, 403, 404, 409, 503),
        tags=[tag],
        security=NEEDS_KEY,
        guards=[guard],
        description=description or None,
    )
    async def handler(
        request: Request[Any, Any, Any],
        provider_id: ProviderId,
        ctx: Ctx,
        conn: Conn,
        actor: ActorDep,
        data: JSONBody[NoBody | None] = None,
    ) -> Response[Provider]:
        return versioned(await service.mark(ctx, conn, actor, provider_id, action, if_match=sent_if_match(request)))

    return handler


confirm_provider = _action(
    "confirm",
    "Confirm the profile is still accurate",
    guard=allow("admin", own_provider=True),
    tag="profile updates",
    description="Sets last_confirmed_at. Profiles not confirmed for 12 months are flagged `stale`.",
)


@get(
    "/providers/{provider_id:int}/history",
    summary="Every change to a profile, newest first",
    responses=errors_doc(400, 401, 403, 404, 503),
    tags=["profile updates"],
    security=NEEDS_KEY,
    guards=[allow("admin", "commissioner", own_provider=True)],
    description="One entry per changed field (Open Referral HSDS metadata shape). Owner, commissioners and admins.",
)
async def provider_history(
    provider_id: ProviderId, ctx: Ctx, conn: Conn, actor: ActorDep, page: PageNumber = 1, per_page: PerPage = 50
) -> HistoryPage:
    return await service.history(ctx, conn, actor.caller, provider_id, page=page, per_page=per_page)


# --- services ------------------------------------------------------------------------------------------------


SERVICE_CHANGE = _change_doc(SERVICE_ETAG, "services")


@get(
    "/providers/{provider_id:int}/services",
    summary="A provider's services",
    tags=["services"],
    responses=errors_doc(400, 401, 404, 503),
    description="Active and inactive. Visible to whoever may see the profile.",
)
async def list_services(provider_id: ProviderId, ctx: Ctx, conn: Conn, actor: ActorDep) -> list[Service]:
    return await service.list_services(ctx, conn, actor.caller, provider_id)


@get(
    "/providers/{provider_id:int}/services/{service_id:int}",
    summary="One service",
    tags=["services"],
    responses=errors_doc(400, 401, 404, 503),
    response_headers=SERVICE_ETAG,
    description="The `ETag` header carries the service's version, for `If-Match` on PATCH and DELETE.",
)
async def get_service(
    provider_id: ProviderId, service_id: ServiceId, ctx: Ctx, conn: Conn, actor: ActorDep
) -> Response[Service]:
    return versioned(await service.get_service(ctx, conn, actor.caller, provider_id, service_id))


@post(
    "/providers/{provider_id:int}/services",
    summary="Add a service",
    status_code=201,
    **SERVICE_CHANGE,
    description="What the provider offers in one pathway: where, for whom, how many and at what cost. Codes are "
    "checked against the taxonomies (422 naming the field, the allowed codes and a suggestion). If-Match is not "
    "needed; one sent must name the profile's current ETag (412 otherwise), as a new service moves the profile's "
    "version on.",
)
async def add_service(
    request: Request[Any, Any, Any],
    provider_id: ProviderId,
    data: JSONBody[ServiceIn],
    ctx: Ctx,
    conn: Conn,
    actor: ActorDep,
) -> Response[Service]:
    # If-Match is not a declared parameter here (nothing is overwritten, so none is asked for), but one sent holds
    if_match = request.headers.get("if-match")
    made = await service.add_service(ctx, conn, actor, provider_id, data, if_match)
    return versioned(made, 201, location=f"/providers/{provider_id}/services/{made.id}")


@patch(
    "/providers/{provider_id:int}/services/{service_id:int}",
    summary="Update a service (partial)",
    **SERVICE_CHANGE,
    description="Fields left out stay as they are; `null` clears a field that may be empty; a list replaces the "
    "whole list; eligibility and capacity change field by field. Needs `If-Match` with the service's ETag "
    "(428 without it, 412 when stale). An update confirms the service as of now. Changing an outcomes record an "
    "admin verified (any of its fields), or removing a verified accreditation, makes it self-declared again: the "
    "verification ends (recorded in the history) and the service's `verifications` no longer list it.",
)
async def patch_service(
    provider_id: ProviderId,
    service_id: ServiceId,
    data: JSONBody[ServicePatch],
    ctx: Ctx,
    conn: Conn,
    actor: ActorDep,
    if_match: IfMatch = None,
) -> Response[Service]:
    return versioned(await service.change_service(ctx, conn, actor, provider_id, service_id, if_match, data))


@delete(
    "/providers/{provider_id:int}/services/{service_id:int}",
    summary="Remove a service",
    status_code=204,
    **SERVICE_CHANGE,
    description="Needs `If-Match` with the service's ETag. The service's last state stays in "
    "the profile's history. To stop offering it for a while, set its status to inactive instead.",
)
async def delete_service(
    provider_id: ProviderId, service_id: ServiceId, ctx: Ctx, conn: Conn, actor: ActorDep, if_match: IfMatch = None
) -> None:
    await service.remove_service(ctx, conn, actor, provider_id, service_id, if_match)


# --- verified evidence ------------------------------------------------------------------------------------------

AccreditationCode = Annotated[
    str, Parameter(max_length=64, description="Accreditation code (the taxonomy's), e.g. matrix_standard")
]
OutcomeIndex = Annotated[
    int, Parameter(ge=0, le=19, description="The outcomes record's position in the service's list, from 0")
]
VERIFY_DOC = (
    'Admin only. Records that the marketplace has seen the evidence (`seen`, required: e.g. "certificate no. 123 '
    "seen, valid to 2027-03\"), who (the admin's key) and when (the server's clock), in the profile history and the "
    "audit log. Matching counts verified evidence in full and self-declared evidence at a discount "
    '(matching/README.md, "Evidence strength"). A verification is a change to the profile: it needs `If-Match` '
    "with the profile's ETag and moves its version on. It lasts while the thing verified is unchanged: when the "
    "provider edits the outcomes record (any field) or removes the accreditation, it is self-declared again (the "
    "history records the verification ending). Verifying again replaces what was seen."
)
WITHDRAW_DOC = "Admin only. The evidence is self-declared again (404 when it is not verified). Needs `If-Match`."
VERIFY = ChangeDoc(
    responses=errors_doc(400, 401, 403, 404, 412, 422, 428, 503),
    response_headers=ETAG_HEADER,
    tags=["administration"],
    security=NEEDS_KEY,
    guards=[admin],
    opt={},
)


def _accreditation(code: AccreditationCode) -> EvidenceTarget:
    return EvidenceTarget(accreditation=code)


def _service_accreditation(service_id: ServiceId, code: AccreditationCode) -> EvidenceTarget:
    return EvidenceTarget(service_id=service_id, accreditation=code)


def _outcome(service_id: ServiceId, index: OutcomeIndex) -> EvidenceTarget:
    return EvidenceTarget(service_id=service_id, outcome=index)


def _verification(
    path: str, target: Callable[..., EvidenceTarget], name: str, verify: str, withdraw: str
) -> tuple[Any, Any]:
    """The pair of operations on the verification of one kind of evidence at `path` (the target read from the
    path by `target`): POST verifies (`verify`, the summary; the handler is `verify_<name>`), DELETE withdraws."""
    deps = {"target": Provide(target, sync_to_thread=False)}

    async def verify_handler(
        provider_id: ProviderId,
        target: NamedDependency[EvidenceTarget],
        data: JSONBody[VerificationIn],
        ctx: Ctx,
        conn: Conn,
        actor: ActorDep,
        if_match: IfMatch = None,
    ) -> Response[Provider]:
        return versioned(await service.verify_evidence(ctx, conn, actor, provider_id, if_match, target, data.seen))

    async def withdraw_handler(
        provider_id: ProviderId,
        target: NamedDependency[EvidenceTarget],
        ctx: Ctx,
        conn: Conn,
        actor: ActorDep,
        if_match: IfMatch = None,
    ) -> Response[Provider]:
        return versioned(await service.withdraw_verification(ctx, conn, actor, provider_id, if_match, target))

    verify_handler.__name__ = verify_handler.__qualname__ = f"verify_{name}"
    withdraw_handler.__name__ = withdraw_handler.__qualname__ = f"unverify_{name}"
    return (
        post(path, summary=verify, description=VERIFY_DOC, status_code=200, dependencies=deps, **VERIFY)(
            verify_handler
        ),
        delete(path, summary=withdraw, description=WITHDRAW_DOC, status_code=200, dependencies=deps, **VERIFY)(
            withdraw_handler
        ),
    )


VERIFICATIONS = [
    *_verification(
        "/providers/{provider_id:int}/accreditations/{code:str}/verification",
        _accreditation,
        "accreditation",
        "Verify one of the organisation's accreditations (admin)",
        "Withdraw the verification of an accreditation of the organisation's (admin)",
    ),
    *_verification(
        "/providers/{provider_id:int}/services/{service_id:int}/accreditations/{code:str}/verification",
        _service_accreditation,
        "service_accreditation",
        "Verify one of a service's accreditations (admin)",
        "Withdraw the verification of a service's accreditation (admin)",
    ),
    *_verification(
        "/providers/{provider_id:int}/services/{service_id:int}/outcomes/{index:int}/verification",
        _outcome,
        "outcome",
        "Verify one of a service's outcomes records (admin)",
        "Withdraw the verification of a service's outcomes record (admin)",
    ),
]


ROUTES = [
    search_providers,
    get_provider,
    register,
    patch_provider,
    put_accreditations,
    put_social_value,
    patch_resources,
    patch_finances,
    patch_contact,
    confirm_provider,
    _action("publish", "Publish a profile (admin)"),
    _action("archive", "Archive a profile (admin)"),
    _action("verify", "Mark the profile's identifiers verified (admin)"),
    provider_history,
    list_services,
    get_service,
    add_service,
    patch_service,
    delete_service,
    *VERIFICATIONS,
]
