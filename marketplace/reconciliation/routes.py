"""The reconciliation service for OpenRefine under /reconcile (W3C Entity Reconciliation API 0.2): anonymous, the
published directory only, readable from any web page (`cors_before_send`: `Access-Control-Allow-Origin: *` and the
preflight's methods and headers on every response under /reconcile, errors included).

- `GET /reconcile`: the manifest; with `queries=<JSON batch>` the results (as OpenRefine sends small batches);
- `POST /reconcile`, form-encoded `queries=<JSON batch>` (the one body this API takes that is not JSON:
  `marketplace.http.FORM_PATHS`);
- `callback=<name>` on a GET answers JSONP (`name(...)`, application/javascript), as OpenRefine's older clients
  ask; the name must be a plain JavaScript identifier path (`jQuery1234_5678`, `a.b`);
- `/reconcile/preview?id=` an HTML fragment, `/reconcile/suggest/{entity,type,property}?prefix=` suggestions, each
  paged alike: `cursor` (the spec's: how many to skip) and `limit` (how many at most, 10 unless given).

A malformed or schema-invalid `queries` is a 422 naming the field (`queries.q3.limit`): the OpenAPI document can
only say it is a string. Its bytes are read as UTF-8 (percent-encoded or not): bytes that are not are a 400 naming
`queries` (in a form body `service.queries_as_sent`, in a query string `marketplace.http.strict_requests`, as every
query parameter)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, Parameter, QueryParameter

from marketplace.http import READS, Conn, Ctx, ErrorBody, Id, base_url, errors_doc, public_cors
from marketplace.reconciliation import service
from marketplace.reconciliation.models import (
    EntitySuggestions,
    Manifest,
    PropertySuggestions,
    QueryResult,
    TypeSuggestions,
)
from marketplace.types import plain

PREFIX = service.PREFIX
TAGS = ["reconciliation (OpenRefine)"]
JAVASCRIPT = "application/javascript"
CALLBACK_PATTERN = plain(
    r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}(\.[A-Za-z_$][A-Za-z0-9_$]{0,63}){0,3}$",
    "must be a plain JavaScript function name: letters, digits, _ or $ (not starting with a digit), up to 64 "
    "characters, at most four such names joined by dots, e.g. jQuery1234_5678",
    "jQuery1234_5678",
)
EXTRA_MEDIA_TYPES = {
    PREFIX: [JAVASCRIPT],
    f"{PREFIX}/suggest/entity": [JAVASCRIPT],
    f"{PREFIX}/suggest/type": [JAVASCRIPT],
    f"{PREFIX}/suggest/property": [JAVASCRIPT],
}
"""JSONP answers, added to the OpenAPI document (see marketplace.openapi)."""

Queries = Annotated[
    str | None,
    Parameter(
        max_length=2000,
        description='A query batch (JSON), e.g. {"q0": {"query": "Severn Housing Trust", "limit": 3}}; POST larger '
        "batches",
    ),
]
Callback = Annotated[
    str | None, Parameter(pattern=CALLBACK_PATTERN, max_length=259, description="JSONP: answer as callback(...)")
]
CacheBuster = Annotated[
    str | None, QueryParameter(name="_", max_length=100, description="Ignored (jQuery's cache buster with JSONP)")
]
Prefix = Annotated[str, Parameter(max_length=200, description="What the user has typed so far")]
SuggestType = Annotated[str | None, Parameter(max_length=100, description="Ignored: there is one type")]
TypeStrict = Annotated[str | None, Parameter(max_length=10, description="Ignored: there is one type")]
Cursor = Annotated[
    int, Parameter(ge=0, le=10_000, description="How many suggestions to skip (the spec's paging: fetch more)")
]
SuggestLimit = Annotated[int, Parameter(ge=1, le=50, description="How many suggestions at most")]


class ReconcileForm(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /reconcile, form-encoded: `queries=<JSON batch>`."""

    queries: Annotated[str, msgspec.Meta(max_length=2_000_000)]


def _answer(value: object, callback: str | None) -> Response[Any]:
    if callback is None:
        return Response(value, media_type=MediaType.JSON)
    # JSONP: the name is a checked identifier path; the JSON inside cannot close the call (no raw U+2028/9 either)
    body = msgspec.json.encode(value).replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")
    return Response(
        b"/**/" + callback.encode() + b"(" + body + b");",
        media_type=JAVASCRIPT,
        headers={"X-Content-Type-Options": "nosniff"},
    )


cors_before_send = public_cors(
    PREFIX,
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type, Accept, X-Requested-With"),
    (b"access-control-max-age", b"86400"),
)
"""Every response under /reconcile may be read by any origin (public data, no credential involved), and a
preflight is answered for the methods and header OpenRefine sends."""


@get(
    PREFIX,
    summary="Reconciliation service manifest, or the results of a query batch (W3C Reconciliation API 0.2)",
    description=service.MATCH_RULE,
    tags=TAGS,
    responses=errors_doc(400, 422, 503),
)
async def reconcile_get(
    request: Request[Any, Any, Any],
    state: State,
    ctx: Ctx,
    conn: Conn,
    queries: Queries = None,
    callback: Callback = None,
    cache_buster: CacheBuster = None,
) -> Response[Manifest | dict[str, QueryResult]]:
    if queries is None:
        return _answer(service.manifest(base_url(request)), callback)
    batch = service.parse_batch(queries)  # its bytes UTF-8, as every query parameter's (marketplace.http)
    return _answer(await service.reconcile(ctx, conn, state.search_index, batch), callback)


@post(
    PREFIX,
    summary="Results of a query batch, form-encoded queries=<JSON> (W3C Reconciliation API 0.2)",
    description=service.MATCH_RULE,
    tags=TAGS,
    status_code=200,
    opt={READS: True},  # queries sent as a form: an auditor may send them too
    responses={
        **errors_doc(400, 422, 503),
        415: ResponseSpec(
            data_container=ErrorBody,
            description="The body must be form-encoded (Content-Type: application/x-www-form-urlencoded)",
        ),
    },
)
async def reconcile_post(
    request: Request[Any, Any, Any],
    state: State,
    ctx: Ctx,
    conn: Conn,
    data: Annotated[ReconcileForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> dict[str, QueryResult]:
    # `data` is the form as the framework reads it (Latin-1): its fields checked; `queries` is read again, as UTF-8
    sent = service.queries_as_sent(await request.body())
    batch = service.parse_batch(data.queries if sent is None else sent)
    return await service.reconcile(ctx, conn, state.search_index, batch)


@get(
    f"{PREFIX}/preview",
    summary="A provider in a few lines of HTML, for OpenRefine's preview",
    tags=TAGS,
    media_type=MediaType.HTML,
    responses=errors_doc(400, 404, 503),
)
async def reconcile_preview(request: Request[Any, Any, Any], ctx: Ctx, conn: Conn, id: Id) -> str:
    return await service.preview(ctx, conn, base_url(request), id)


@get(
    f"{PREFIX}/suggest/entity",
    summary="Published providers whose name holds what was typed (suggest API)",
    tags=TAGS,
    responses=errors_doc(400, 503),
)
async def suggest_entity(
    state: State,
    ctx: Ctx,
    conn: Conn,
    prefix: Prefix,
    cursor: Cursor = 0,
    limit: SuggestLimit = 10,
    type: SuggestType = None,
    type_strict: TypeStrict = None,
    callback: Callback = None,
    cache_buster: CacheBuster = None,
) -> Response[EntitySuggestions]:
    return _answer(await service.suggest_entities(ctx, conn, state.search_index, prefix, limit, cursor), callback)


@get(f"{PREFIX}/suggest/type", summary="The entity types (suggest API)", tags=TAGS, responses=errors_doc(400))
async def suggest_type(
    prefix: Prefix,
    cursor: Cursor = 0,
    limit: SuggestLimit = 10,
    callback: Callback = None,
    cache_buster: CacheBuster = None,
) -> Response[TypeSuggestions]:
    return _answer(service.suggest_types(prefix, limit, cursor), callback)


@get(
    f"{PREFIX}/suggest/property",
    summary="The properties a query may carry (suggest API)",
    tags=TAGS,
    responses=errors_doc(400),
)
async def suggest_property(
    prefix: Prefix,
    cursor: Cursor = 0,
    limit: SuggestLimit = 10,
    type: SuggestType = None,
    callback: Callback = None,
    cache_buster: CacheBuster = None,
) -> Response[PropertySuggestions]:
    return _answer(service.suggest_properties(prefix, limit, cursor), callback)


ROUTES = [reconcile_get, reconcile_post, reconcile_preview, suggest_entity, suggest_type, suggest_property]
