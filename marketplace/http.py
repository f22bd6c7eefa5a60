"""What every room shares at the HTTP edge: the error body and the one exception-handler table, request
ids, the per-request connection and caller, strict query parameters, and the OpenAPI error entries.
Imports no room."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import Annotated, Any, Literal, Protocol, TypedDict, TypeVar
from urllib.parse import unquote_to_bytes

import asyncpg
import msgspec
from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, SecurityRequirement
from litestar.params import HeaderParameter, Parameter, ParameterKwarg, QueryParameter
from litestar.types import ASGIApp, ExceptionHandlersMap, Guard, Message, Receive, Scope, Send
from litestar.utils.signature import ParsedSignature

from marketplace import messages
from marketplace.concurrency import etag, require_if_match
from marketplace.context import Context
from marketplace.db import Connection, pooled
from marketplace.errors import (
    Conflict,
    DatabaseUnavailable,
    DomainError,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotAcceptable,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    UriTooLong,
)
from marketplace.types import ANONYMOUS, Actor, Caller

log = logging.getLogger("marketplace")


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every 4xx/5xx response: the status, a machine-readable error code, a sentence, and per-field problems (always
    there: `[]` when the error is about no field)."""

    status: int
    error: str
    message: str
    errors: list[FieldProblem]
    current_version: int | None = None  # with 412: the version to fetch before trying again
    current_etag: str | None = None


STATUS_BY_ERROR: dict[type[DomainError], int] = {
    InvalidInput: 400,
    Unprocessable: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    PreconditionRequired: 428,
    TooManyRequests: 429,
    UnsupportedMediaType: 415,
    NotAcceptable: 406,
    UriTooLong: 414,
    DatabaseUnavailable: 503,
}


MAX_PROBLEMS = 10
"""An error body names at most this many problems (the first ones) and says how many more there were."""
MAX_ALLOWED = 50
"""... and lists at most this many allowed values for each."""


def _capped(problems: list[FieldProblem]) -> list[FieldProblem]:
    return [
        msgspec.structs.replace(p, allowed=p.allowed[:MAX_ALLOWED]) if p.allowed and len(p.allowed) > MAX_ALLOWED else p
        for p in problems[:MAX_PROBLEMS]
    ]


def _summary(problems: list[FieldProblem], fallback: str) -> str:
    shown = "; ".join(f"{p.field}: {p.problem}" for p in problems[:MAX_PROBLEMS]) or fallback
    more = len(problems) - MAX_PROBLEMS
    return shown + (f"; and {more} more" if more > 0 else "")


def error_response(
    status: int,
    body: ErrorBody | None = None,
    *,
    error: str = "",
    message: str = "",
    problems: Iterable[FieldProblem] = (),
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    body = body or ErrorBody(status=status, error=error, message=message, errors=_capped(list(problems)))
    body.errors = _capped(body.errors)
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def status_of(exc: DomainError) -> int:
    """The HTTP status a domain error is answered with (STATUS_BY_ERROR; any other is a 400)."""
    return next((s for t, s in STATUS_BY_ERROR.items() if isinstance(exc, t)), 400)


def _domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[ErrorBody]:
    status = status_of(exc)
    message = _summary(exc.problems, exc.message) if len(exc.problems) > MAX_PROBLEMS else exc.message
    body = ErrorBody(status=status, error=exc.code, message=message, errors=exc.problems)
    headers = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="provision"'
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, DatabaseUnavailable):
        headers["Retry-After"] = "5"
    if isinstance(exc, PreconditionFailed):
        body.current_version, body.current_etag = exc.current_version, etag(exc.current_version)
    return error_response(status, body, headers=headers or None)


READS = "reads"
"""A route's `opt` key: True on an operation that changes nothing though its method could (the reconciliation
queries, POSTed as a form), so that a read-only key (an auditor's) may send it."""
SERVER_HELD = "server_held_fields"
"""A route's `opt` key: body field names the marketplace holds, refused with a message that says so."""


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    held: frozenset[str] = request.route_handler.opt.get(SERVER_HELD, frozenset())
    problems = []
    body: Any = ...  # decoded once, when a problem needs the value it is about
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        key = str(item.get("key") or "")
        in_query = item.get("source") == "query" and key in request.query_params
        if key == "data" and message == "'data'":  # the framework's word for no body at all (a KeyError)
            if not _body_required(request):  # said beside another problem: no body is no problem here
                continue
            problems.append(FieldProblem(field="body", problem=NO_BODY))
            continue
        if key in ("data", "body"):
            key = ""
        key_of = None  # the object field whose key (not a value) the problem is with
        if keyed := _AT_KEY.match(message):  # an object's key: the decoder names the object, not the key
            body = messages.decoded(_body_read(request)) if body is ... else body
            key_of = keyed.group("path").lstrip(".")
            found = _entry_key(request, body, key_of, message)
            message, key = keyed.group("said"), key_of if found is None else f"{key_of}.{found}"
        elif "- at `$" in message:  # a message that still carries msgspec's path
            said, _, path = message.partition(" - at `$")
            key = path.rstrip("`").lstrip(".") or key
            if "[...]" in key:  # an object's entry: the decoder names no key
                body = messages.decoded(_body_read(request)) if body is ... else body
                within, _, rest = key.partition("[...]")
                found = _entry_key(request, body, within, message)
                key = key if found is None else f"{within}.{found}{rest}"
            message = said
        missing = re.match(r"Object missing required field `(.+)`", message)
        if missing:
            key = f"{key}.{missing.group(1)}" if key else missing.group(1)
            message = "required"
        unknown = re.match(r"Object contains unknown field `(.*)`", message)
        suggestion = None
        if unknown:
            name = unknown.group(1)
            known = [] if in_query else messages.fields_at(_body_type(request), key)
            kinds = None if in_query else messages.kinds_at(_body_type(request), key)
            taking: list[str] = []
            if kinds is not None:  # one of a tagged union's kinds: its own fields (a key request's, by its role)
                body = messages.decoded(_body_read(request)) if body is ... else body
                tag, fields_of = kinds
                given = messages.value_at(body, f"{key}.{tag}" if key else tag)
                known = fields_of.get(given, known) if isinstance(given, str) else known
                taking = [kind for kind, fields in fields_of.items() if name in fields]
            if not name:  # `{"": ...}`: said of the object holding it
                message = 'a field with an empty name ("") is not one this object has'
            elif name in held:
                message = "set by the marketplace; it cannot be changed through a profile"
            elif kinds is not None and taking:  # a field another kind takes (a non-provider key's provider_id)
                message = f"taken only with {kinds[0]} {' or '.join(taking)}"
                message += f", not with {kinds[0]} {given}" if isinstance(given, str) else ""
            else:  # the object's own fields, the one most like it suggested ("qualty": quality)
                suggestion = messages.closest_field(name, known)
                message = "unknown field" + (f"; did you mean {suggestion}?" if suggestion else "")
            key = f"{key}.{name}" if key and name else key or name
        if missing or unknown:
            problems.append(FieldProblem(field=key or "body", problem=message, suggestion=suggestion))
            continue
        bounds = None
        if in_query:
            value, declared, path = request.query_params.get(key), _query_type(request, key), ""
            bounds = _query_bounds(request, key)
        else:
            body = messages.decoded(_body_read(request)) if body is ... else body
            value, declared, path = messages.value_at(body, key), _body_type(request), key
            if key_of is not None:  # the key itself is the value the problem is about
                value = key.removeprefix(f"{key_of}.") if key != key_of else None
        ctx = getattr(request.app.state, "ctx", None)
        taxonomy = ctx.taxonomy if isinstance(ctx, Context) else None
        problems.append(
            messages.problem(
                key or "body",
                message,
                value=value,
                declared=declared,
                path=path,
                taxonomy=taxonomy,
                bounds=bounds,
                key_of=key_of.rpartition(".")[2] if key_of is not None else None,
            )
        )
    absent = re.match(r"Missing required (?:query|header|cookie) parameter '(.+?)'", exc.detail or "")
    if absent and not problems:  # the framework says so in its message alone
        problems.append(FieldProblem(field=absent.group(1), problem="required"))
    message = _summary(problems, exc.detail or "invalid request")
    return error_response(400, error="invalid_input", message=message, problems=problems)


_AT_KEY = re.compile(r"(?P<said>.+?) - at `key` in `\$(?P<path>[^`]*)`$", re.S)
"""The decoder's words for a problem with an object's key (`- at `key` in `$.area_volumes``)."""


def _entry_key(request: Request[Any, Any, Any], body: Any, within: str, said: str) -> str | None:
    """The key of the entry of the body's object at `within` (`area_volumes`) that the decoder's words `said` (its
    whole message) are about: it names no key for an object's entry (`$.area_volumes[...]`) or an object's key
    (`key` in `$.area_volumes`), so each entry is read alone, in order, as the body is, until one is told the same
    words. None when none is (or the body is not at hand)."""
    declared, entries = _body_type(request), messages.value_at(body, within)
    if declared is None or not isinstance(entries, dict):
        return None
    for k, v in entries.items():  # the body with that one entry, told every problem (`_every_problem`), as it was
        if said in _every_problem(_whole_numbers(_replaced(body, messages.steps(within), {k: v})), declared):
            return str(k)
    return None


def _replaced(document: Any, path: list[str | int], value: Any) -> Any:
    """`document` with `value` at `path` (steps, as `messages.steps` gives them), copied along the way."""
    if not path:
        return value
    step, *rest = path
    copy: Any = list(document) if isinstance(document, list) else dict(document)
    copy[step] = _replaced(document[step], rest, value)
    return copy


GIVEN_TWICE = "given twice in one object: which one is meant cannot be told, so neither is read; send it once"
"""What a key given twice in a JSON object is told (every JSON body; reconciliation's query batches)."""


class StrictRequest(Request[Any, Any, Any]):
    """A request whose JSON body is read as the JSON it is. The framework converts a body to the handler's type
    leniently (text to numbers and booleans: `"founded_year": "1999"` became 1999), which hides a client's mistake and
    stores it as if it were right. The body is first converted strictly to the declared type; a value of the wrong
    type is the same 400, naming the field, as any other problem with it. A number with no fraction (`1999.0`) is a
    whole number, as JSON Schema (so the OpenAPI document) says."""

    async def json(self) -> Any:
        value = await super().json()
        if (twice := key_given_twice(await self.body())) is not None:
            raise InvalidInput.from_problems([FieldProblem(field=twice, problem=GIVEN_TWICE)])
        declared = _body_type(self)
        if declared is None or value is None:
            return value
        value = _whole_numbers(value)  # read on as ints too (a field of the values 5 or 10 takes 10.0)
        try:
            msgspec.convert(value, declared, strict=True)
        except msgspec.ValidationError as exc:
            said = _every_problem(value, declared) or [str(exc)]
            raise ValidationException(
                detail="invalid request body", extra=[{"message": m, "key": "data", "source": "body"} for m in said]
            ) from None
        return value


def _every_problem(value: Any, declared: Any) -> list[str]:
    """The decoder's words for every problem in a body (`messages.failures`), each with its path as the decoder puts
    it (`... - at `$.founded_year``, `... - at `key` in `$.area_volumes``), for `_validation_error` to read as it
    reads the decoder's one: the decoder stops at the first, and a client fixing one field per request would learn of
    the next only by sending again."""
    said = []
    for path, words in messages.failures(value, declared):
        if not path:
            said.append(words)
            continue
        within, at, rest = words.rpartition("`$")  # a problem with an object's key: `- at `key` in `$``
        sep = "" if path.startswith("[") else "."
        said.append(f"{within}`${sep}{path}{rest}" if at else f"{words} - at `${sep}{path}`")
    return said


class _Read(dict[str, Any]):
    """An object as `key_given_twice` reads it: with the path to the first key given twice in it or in an object
    inside it (None: none is)."""

    twice: list[str | int] | None = None


def _twice_within(value: Any) -> list[str | int] | None:
    """The path, from `value`, to the first key given twice in an object it holds (None: none is)."""
    if isinstance(value, _Read):
        return value.twice
    if isinstance(value, list):
        for i, item in enumerate(value):
            if (inner := _twice_within(item)) is not None:
                return [i, *inner]
    return None


def key_given_twice(body: bytes) -> str | None:
    """The first key an object of the JSON `body` holds twice (the decoder keeps the last, silently), named as errors
    name a field (`contact.email`, `area_volumes.E06000020`); None when none is, or when `body` is no JSON the standard
    library reads (the decoder has already said what is wrong with it)."""

    def pairs(items: list[tuple[str, Any]]) -> _Read:
        read, keys = _Read(items), [k for k, _ in items]
        if len(set(keys)) != len(keys):
            read.twice = [next(k for i, k in enumerate(keys) if k in keys[:i])]
        else:
            read.twice = next(([k, *inner] for k, v in items if (inner := _twice_within(v)) is not None), None)
        return read

    try:
        path = _twice_within(json.loads(body, object_pairs_hook=pairs))
    except (ValueError, RecursionError):
        return None
    if path is None:
        return None
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path).lstrip(".")


def _whole_numbers(value: Any) -> Any:
    """`value` with every float that is a whole number as an int (`1e20` too: "at most ..." is then the problem)."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value  # a bound the field has says how large it may be
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    return value


def _body_read(request: Request[Any, Any, Any]) -> bytes | None:
    """The body the framework has read (and failed to decode), if it has read one."""
    body = request._connection_state.body  # the framework keeps it there for the request's life
    return body if isinstance(body, bytes) else None


NO_BODY = "required: this operation takes a JSON body (Content-Type: application/json)"


def _body_required(request: Request[Any, Any, Any]) -> bool:
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    return data is not None and not data.has_default and not data.is_optional


def _body_type(request: Request[Any, Any, Any]) -> Any:
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    return data.annotation if data is not None else None


def _signatures(handler: BaseRouteHandler) -> tuple[ParsedSignature, ...]:
    """The handler's signature, then those of the dependencies it takes: a dependency's own parameters are the
    operation's too (the search's filters, `providers.filters`)."""
    provided = handler.resolve_dependencies()
    used = [provided[n].parsed_fn_signature for n in handler.parsed_fn_signature.parameters if n in provided]
    return (handler.parsed_fn_signature, *used)


def _query_bounds(request: Request[Any, Any, Any], name: str) -> tuple[float | None, float | None]:
    """The least and the most a query parameter may be (its Parameter's `ge`/`le`; None where it has none)."""
    return _bounds_of(request.route_handler, name)


def _bounds_of(handler: BaseRouteHandler, name: str) -> tuple[float | None, float | None]:
    """The least and the most a query parameter of `handler` may be (see `_query_bounds`)."""
    for signature in _signatures(handler):
        for param_name, param in signature.parameters.items():
            kwargs = param.kwarg_definition
            if (getattr(kwargs, "query", None) or param_name) == name:
                return getattr(kwargs, "ge", None), getattr(kwargs, "le", None)
    return None, None


def _query_type(request: Request[Any, Any, Any], name: str) -> Any:
    for signature in _signatures(request.route_handler):
        for param_name, param in signature.parameters.items():
            if (getattr(param.kwarg_definition, "query", None) or param_name) == name:
                return param.annotation
    return None


HTTP_ERRORS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    error = HTTP_ERRORS.get(exc.status_code, "server_error" if exc.status_code >= 500 else "http_error")
    problems = []
    message = str(exc.detail)
    if exc.status_code == 400:  # e.g. a body that is not JSON at all, or not UTF-8: in the API's plain words
        error = "invalid_input"
        unreadable = messages.unreadable_json(message, _body_read(request))
        if unreadable is not None:  # naming the field, or the line and column, where reading stopped
            message, problems = f"{unreadable.field}: {unreadable.problem}", [unreadable]
        else:
            problem = messages.plain_words(message)[0]
            message, problems = f"body: {problem}", [FieldProblem(field="body", problem=problem)]
    if exc.status_code == 404 and message == "Not Found":  # no route: say so, and where the addresses are listed
        message = f"nothing is at {request.url.path} (the API's addresses, with whole-number ids: /schema/swagger)"
    allow = (exc.headers or {}).get("allow")
    if exc.status_code == 405 and allow:  # which methods the address takes (the Allow header says so too)
        taken = ", ".join(m for m in allow.split(", ") if m != "OPTIONS")
        message = f"{request.method} is not one of the methods {request.url.path} takes: {taken}"
    if exc.status_code == 413:  # the framework says only "Request Entity Too Large": say how large it may be
        most = _body_limit(request)
        problem = "is larger than this operation takes" + (f" (at most {most:,} bytes)" if most else "")
        message, problems = f"body: {problem}", [FieldProblem(field="body", problem=problem)]
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, error=error, message=message, problems=problems, headers=headers)


def _body_limit(request: Request[Any, Any, Any]) -> int | None:
    """The most a request's body may be, as its route says (None when there is no route to ask)."""
    handler = request.scope.get("route_handler")
    limit = handler.resolve_request_max_body_size() if isinstance(handler, HTTPRouteHandler) else None
    return limit if isinstance(limit, int) else None


def _database_down(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.warning("database unavailable: %r", exc)
    return error_response(
        503,
        error="database_unavailable",
        message="the database is not reachable; try again shortly",
        headers={"Retry-After": "5"},
    )


def _constraint(_: Request[Any, Any, Any], exc: asyncpg.IntegrityConstraintViolationError) -> Response[ErrorBody]:
    # A safety net: input is checked before it is written, so this means two requests raced.
    detail = getattr(exc, "constraint_name", None) or type(exc).__name__
    return error_response(409, error="conflict", message=f"the change conflicts with existing data ({detail})")


def _bad_data(request: Request[Any, Any, Any], exc: asyncpg.DataError) -> Response[ErrorBody]:
    # A safety net: values are checked before they reach the database. The driver's words stay in the log.
    log.warning("a value the database refused on %s %s: %r", request.method, request.url.path, exc)
    return error_response(400, error="invalid_input", message="a value in the request is out of the range it can take")


def _undecodable(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    # Raised while the body is decoded: bytes that are not UTF-8, or JSON nested deeper than the decoder goes.
    problem = messages.NOT_UTF8 if isinstance(exc, UnicodeDecodeError) else "nested too deeply"
    return error_response(
        400, error="invalid_input", message=f"body: {problem}", problems=[FieldProblem(field="body", problem=problem)]
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, error="server_error", message="an unexpected error occurred; it has been logged")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    asyncpg.IntegrityConstraintViolationError: _constraint,
    asyncpg.DataError: _bad_data,
    UnicodeDecodeError: _undecodable,
    RecursionError: _undecodable,
    asyncpg.exceptions.InternalClientError: _database_down,
    asyncpg.PostgresConnectionError: _database_down,
    asyncpg.CannotConnectNowError: _database_down,
    asyncpg.exceptions.OperatorInterventionError: _database_down,
    asyncpg.exceptions.InvalidCatalogNameError: _database_down,
    asyncpg.InterfaceError: _database_down,
    ConnectionError: _database_down,
    OSError: _database_down,
    Exception: _unexpected,
}


# --- per request: id, context, connection, caller ---------------------------------------------------


def request_id_of(scope: Scope) -> str:
    rid: str = scope.get("state", {}).get("request_id", "")
    return rid


CLIENT_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Give every request an id of the server's own, sent back as X-Request-ID; an X-Request-ID the client sent
    (printable, at most 128 characters) is kept beside it, in the audit log's client_request_id."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        given = dict(scope.get("headers", ())).get(b"x-request-id", b"").decode("latin-1")
        rid = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        state["client_request_id"] = given if CLIENT_REQUEST_ID.fullmatch(given) else None

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        await app(scope, receive, send_with_id)

    return middleware


def base_url(request: Request[Any, Any, Any]) -> str:
    """The address clients reach the API at, without a trailing slash (for links in a body): `MARKETPLACE_BASE_URL`
    when set, else the one this request came to (its Host and scheme)."""
    return (_configured_base_url(request) or str(request.base_url)).rstrip("/")


def served_over_https(request: Request[Any, Any, Any]) -> bool:
    """Whether clients reach the API over HTTPS (a console cookie is then marked Secure): `MARKETPLACE_BASE_URL`'s
    scheme when set (behind a proxy that ends TLS the request itself is plain HTTP), else this request's."""
    configured = _configured_base_url(request)
    return configured.startswith("https://") if configured else request.url.scheme == "https"


def _configured_base_url(request: Request[Any, Any, Any]) -> str | None:
    ctx = getattr(request.app.state, "ctx", None)
    return ctx.settings.base_url if isinstance(ctx, Context) else None


BeforeSend = Callable[[Message, Scope], Awaitable[None]]


def public_cors(prefix: str, *extra: tuple[bytes, bytes]) -> BeforeSend:
    """A before-send hook: every response under `prefix` may be read by any origin (public data, no credential
    involved), with the `extra` headers beside Access-Control-Allow-Origin."""
    headers_added = [(b"access-control-allow-origin", b"*"), *extra]

    async def before_send(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        path: str = scope.get("path", "")
        if path == prefix or path.startswith(prefix + "/"):
            message["headers"] = [*message.get("headers", []), *headers_added]

    return before_send


def head_as_get(app: ASGIApp, *prefixes: str) -> ASGIApp:
    """`app` (the application's router), answering HEAD on a path under `prefixes` as GET would, headers and all,
    without the body (RFC 9110 9.3.2). The framework routes HEAD only to a handler of HEAD alone, which may send no
    body, so a browser's, a link checker's or a monitor's HEAD on a page was a 405. Wraps the router (HEAD is refused
    while routing, before any middleware), so every page under `prefixes` takes it, its errors' pages too."""

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "HEAD" or not under(scope["path"], prefixes):
            await app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await app({**scope, "method": "GET"}, receive, without_body)

    return handler


def raw_bytes_encoded(app: ASGIApp) -> ASGIApp:
    """`app` (the application's router), given a query string whose bytes sent as they are (`?q=café` as typed, not
    percent-encoded) are percent-encoded first: the framework reads a raw byte as Latin-1 (`Ã©`) and a
    percent-encoded one as UTF-8, so both are read as the same text (and one that is not UTF-8 is refused by
    `strict_requests`, naming its parameter). Wraps the router, not a middleware: an address the router refuses (no
    such path, a method it does not take) is answered by an error handler that reads the address, and could not
    decode a raw byte that is not UTF-8 (`GET /nowhere?q=caf\xe9` was a 500)."""

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and _RAW_BYTE.search(query := scope.get("query_string", b"")):
            scope = {**scope, "query_string": _RAW_BYTE.sub(lambda b: b"%%%02X" % b.group()[0], query)}
        await app(scope, receive, send)

    return handler


def under(path: str, prefixes: Iterable[str]) -> bool:
    """Whether `path` is one of `prefixes` or below one."""
    return any(path == p or path.startswith(p + "/") for p in prefixes)


PATH_CHARACTERS = re.compile(rb"[A-Za-z0-9/_.-]*")
BODY_METHODS = {"POST", "PUT", "PATCH"}
HTML_FORM_PATHS = (b"/console/",)
"""Paths whose bodies are HTML forms (the browser console, marketplace.console), not JSON."""


FORM_PATHS = frozenset({"/reconcile"})
"""The paths whose body is form-encoded instead (OpenRefine's reconciliation POST: `queries=<JSON>`)."""


UPLOAD_PATHS = frozenset({"/imports"})
"""The routes that take a file (POST only): their bodies' types are theirs to check (imports.routes says which it
takes, and answers another with a 415 naming them)."""


MAX_QUERY = 32_768
"""The longest query string (as sent, percent-encoded) the API reads: beyond, a 414 naming `query` (a console page
under /console). The server itself refuses an address of 64 KiB or more with a bare 414 before the app sees it
(granian's HTTP library cannot hold a longer one); this limit, half that, makes the answer to a long query one the
client can read. It is above every query the OpenAPI document allows: the longest parameter, GET /reconcile's
`queries` (2,000 characters), is at most 24,000 percent-encoded (a 4-byte character is 12), so a request the schema
calls valid is never refused for its length (at 8 KiB, schemathesis found one that was)."""


def _query_too_long(query: bytes) -> UriTooLong:
    problem = f"is {len(query):,} characters long; at most {MAX_QUERY:,} are read: ask with fewer or shorter parameters"
    return UriTooLong(
        f"the address's query string (after the ?) is too long: {len(query):,} characters, at most {MAX_QUERY:,}",
        problems=[FieldProblem(field="query", problem=problem)],
    )


_RAW_BYTE = re.compile(rb"[\x80-\xff]")
"""A byte of a query string sent as it is, not percent-encoded (`?age=١٢` as typed): the framework reads those as
Latin-1 (`Ù¡Ù¢`) and percent-encoded ones as UTF-8, so they are percent-encoded first, to be read as the same text."""


def _not_utf8(query: bytes) -> list[FieldProblem]:
    """The query parameters whose name or value is not UTF-8 text, each named once (a name by its UTF-8 with its bad
    bytes as \\xNN), each part read as the framework reads it (urllib.parse.parse_qsl: `&` between parameters, `+` a
    space, then percent-decoded): it reads the bytes that are not UTF-8 as U+FFFD (`?q=caf%E9`, é as Latin-1's byte,
    was searched for "caf\\ufffd")."""
    problems: dict[str, FieldProblem] = {}
    for part in query.split(b"&"):
        name, _, value = (unquote_to_bytes(x.replace(b"+", b" ")) for x in part.partition(b"="))
        try:
            field = name.decode()
        except UnicodeDecodeError:
            field = name.decode(errors="backslashreplace")
            problem = f"its name is {messages.not_utf8('query string')}"
            problems.setdefault(field, FieldProblem(field=field, problem=problem))
            continue
        try:
            value.decode()
        except UnicodeDecodeError:
            problems.setdefault(field, FieldProblem(field=field, problem=messages.not_utf8("query string")))
    return list(problems.values())


def _one_line(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[tuple[bytes, bytes]]:
    """`headers` with every line of the list header `name` joined into its first, comma-separated: RFC 9110 (5.3)
    reads several lines of one field as one list, as if written in one line (the framework reads only the first)."""
    listed = [(n, v) for n, v in headers]
    joined = b", ".join(v for n, v in listed if n == name)
    first = next(i for i, (n, _) in enumerate(listed) if n == name)
    return [(n, joined if i == first else v) for i, (n, v) in enumerate(listed) if n != name or i == first]


def strict_requests(app: ASGIApp) -> ASGIApp:
    """Requests are read as written, not as a lenient parser might read them: a path holds only the characters our
    paths are made of (so `/providers/%201` or `/providers/+1` is no path of ours, not provider 1), a query string is
    at most MAX_QUERY long (414) and its parameters' names and values are UTF-8 (400 naming each one that is not; a
    console page's is a page), a body is JSON, said so by its Content-Type (415 otherwise; on FORM_PATHS
    form-encoded instead), and a DELETE has none (400: none reads one)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            query = scope.get("query_string", b"")  # its raw bytes already percent-encoded (`raw_bytes_encoded`)
            raw = (scope.get("raw_path") or scope["path"].encode()).partition(b"?")[0]  # some servers keep the query
            if not PATH_CHARACTERS.fullmatch(raw):
                raise NotFound("no such resource")
            if len(query) > MAX_QUERY:
                raise _query_too_long(query)
            if b"%" in query and (not_utf8 := _not_utf8(query)):  # else read as other text (U+FFFD for each byte)
                raise InvalidInput.from_problems(not_utf8)
            if sum(name == b"if-match" for name, _ in scope["headers"]) > 1:  # one list, however many lines
                scope = {**scope, "headers": _one_line(scope["headers"], b"if-match")}
            headers = dict(scope["headers"])
            has_body = headers.get(b"content-length", b"0") not in (b"0", b"") or b"transfer-encoding" in headers
            if scope["method"] == "DELETE" and has_body:  # no DELETE here reads one: it would be ignored unseen
                raise InvalidInput.field("body", "this operation takes no body: send none")
            if scope["method"] in BODY_METHODS and not raw.startswith(HTML_FORM_PATHS):
                media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
                if scope["path"] in FORM_PATHS:
                    if has_body and media != b"application/x-www-form-urlencoded":
                        raise UnsupportedMediaType(
                            "the body must be form-encoded (Content-Type: application/x-www-form-urlencoded), "
                            f"not {media.decode('latin-1')!r}"
                        )
                elif (
                    has_body
                    and media != b"application/json"
                    and not media.endswith(b"+json")
                    and not (scope["method"] == "POST" and scope["path"] in UPLOAD_PATHS)
                ):
                    raise UnsupportedMediaType(
                        f"the body must be JSON sent as Content-Type: application/json, not {media.decode('latin-1')!r}"
                    )
        await app(scope, receive, send)

    return middleware


CALLER_KEY = "caller"
"""Where authentication (marketplace.accounts.auth) leaves the caller in a request's scope state."""


def caller_of(scope: Scope) -> Caller:
    caller: Caller = scope.get("state", {}).get(CALLER_KEY, ANONYMOUS)
    return caller


def set_caller(scope: Scope, caller: Caller) -> None:
    scope.setdefault("state", {})[CALLER_KEY] = caller


def actor_of(scope: Scope) -> Actor:
    client = scope.get("client")
    return Actor(
        caller=caller_of(scope),
        request_id=request_id_of(scope),
        method=str(scope.get("method", "")),
        path=scope.get("path", ""),
        client=client[0] if client else "",
        client_request_id=scope.get("state", {}).get("client_request_id"),
    )


# The per-request dependencies form one chain, ctx <- actor <- conn: Litestar (2.x) resolves the dependencies of
# one level of the graph together in an anyio task group, which costs more than these cheap dependencies
# themselves (a third of GET /providers/{id}'s time); chained, each level holds one. (So a handler takes
# `actor`, whose `.caller` says who is calling, rather than a separate caller dependency.)


def provide_ctx(state: State) -> Context:
    ctx: Context = state.ctx
    return ctx


def provide_actor(request: Request[Any, Any, Any], ctx: NamedDependency[Context]) -> Actor:
    return actor_of(request.scope)


async def provide_conn(state: State, actor: NamedDependency[Actor]) -> AsyncGenerator[Connection, None]:
    """One pooled connection per request that needs the database (a 503 when none can be had)."""
    async with pooled(state.pool) as conn:
        yield conn


# Handler parameters receive these by name: `conn: Conn`, `ctx: Ctx`, `actor: ActorDep`.
Conn = NamedDependency[asyncpg.Connection]  # a pooled connection; one type for the framework's signature model
Ctx = NamedDependency[Context]
ActorDep = NamedDependency[Actor]


# --- strict query parameters -----------------------------------------------------------------------

NOT_QUERY = {"request", "state", "ctx", "conn", "caller", "actor", "data", "headers", "scope", "if_match"}
"""Handler parameters that are never query parameters."""

# (handler function, paths) -> its query parameters: one entry per route. Not keyed by the handler object:
# Litestar passes guards a fresh copy of the handler on every request, so a cache keyed by it grew by one
# handler per request (a memory leak of ~1 KB a request, found by the benchmark's RSS figures).
_DECLARED: dict[tuple[object, tuple[str, ...]], tuple[frozenset[str], frozenset[str], frozenset[str]]] = {}


def query_parameters(handler: BaseRouteHandler) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The query parameters a handler declares (its signature less path parameters, body and dependencies),
    which of them are integers, and which may be given more than once (lists)."""
    key = (handler.fn, tuple(handler.paths))
    found = _DECLARED.get(key)
    if found is None:
        found = _DECLARED[key] = _declared_query_parameters(handler)
    return found


def _declared_query_parameters(handler: BaseRouteHandler) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    names, integers, lists = set(), set(), set()
    provided = handler.resolve_dependencies()
    for signature in _signatures(handler):
        for name, param in signature.parameters.items():
            if name in NOT_QUERY or name in provided or any(f"{{{name}:" in path for path in handler.paths):
                continue
            kwargs = param.kwarg_definition
            alias = kwargs.name if isinstance(kwargs, QueryParameter) else getattr(kwargs, "query", None)
            query_name = alias or name
            names.add(query_name)
            is_int = param.is_subclass_of(int) or (param.is_optional and param.has_inner_subclass_of(int))
            if is_int and not param.is_subclass_of(bool):
                integers.add(query_name)
            if param.is_non_string_sequence:
                lists.add(query_name)
    return frozenset(names), frozenset(integers), frozenset(lists)


MAX_DIGITS = 15
DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}|-0{{1,{MAX_DIGITS}}}")
"""A query integer as the API reads it: digits (`-0` is 0, and told as 0 is where 0 is too few)."""


async def if_match_first(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A guard for a change that is also counted against a budget (accounts.auth.spend_budget, in its handler): a
    missing or malformed If-Match is refused (428/400) before the request spends any of the key's budget."""
    require_if_match(connection.headers.get("if-match"))


def _not_digits(value: str, least: float | None = None) -> str:
    """What is wrong with a query integer that is not 1 to 15 digits; `least`: the least it may be, when it has a
    bound (a number below it is told so as the framework tells one: `page=-1` as `page=0`, "must be 1 or more")."""
    if re.fullmatch(r"-[0-9]+", value):
        if least is not None:
            return f"must be {least:g} or more"
        return f"must be a whole number of 0 or more, e.g. 40; not {value!r}"
    if re.fullmatch(r"[0-9]+", value):
        return f"is too large: at most {MAX_DIGITS} digits; not {value!r}"
    return f"must be a whole number written in digits, e.g. 40; not {value!r}"


async def reject_unknown_params(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard for every route: a query parameter the operation does not know is a 400, not silently ignored
    (a misspelt filter must not return the unfiltered directory); a single value is given once (`page=1&page=2`
    is a 400, not one of them chosen silently); an integer is written in digits (not `null`, `1e3` or ` 1`, which
    the framework would otherwise coerce)."""
    allowed, integers, lists = query_parameters(handler)
    unknown = sorted(set(connection.query_params) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown query parameter {unknown[0]!r}",
            problems=[
                FieldProblem(field=u, problem="unknown query parameter", allowed=sorted(allowed)) for u in unknown
            ],
        )
    for name in sorted(set(connection.query_params) - lists):
        if len(connection.query_params.getall(name)) > 1:
            raise InvalidInput.field(name, "give it once: it takes one value")
    for name in integers & set(connection.query_params):
        for value in connection.query_params.getall(name):
            if not DIGITS.fullmatch(value):
                raise InvalidInput.field(name, _not_digits(value, _bounds_of(handler, name)[0]))


# --- parameters and OpenAPI entries every room uses ------------------------------------------------

Id = Annotated[int, Parameter(ge=1, le=999_999_999_999)]
PageNumber = Annotated[int, Parameter(ge=1, le=100_000)]
PerPage = Annotated[int, Parameter(ge=1, le=100)]


def from_zero(most: int, description: str | None = None) -> ParameterKwarg:
    """A query parameter from 0 to `most`. schema_extra: Litestar leaves a zero minimum out of the schema."""
    kwarg: ParameterKwarg = Parameter(ge=0, le=most, schema_extra={"minimum": 0}, description=description)
    return kwarg


IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", required=False, description='The ETag from the GET, e.g. "v3"; required'),
]


def sent_if_match(request: Request[Any, Any, Any]) -> str | None:
    """An action that changes no content (confirm, publish, archive, verify) needs no If-Match, so declares none; one
    sent is honoured all the same (RFC 9110, 13.1.1: a server that receives it evaluates it before acting)."""
    return request.headers.get("if-match")


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=Versioned)


def versioned(body: V, status_code: int = 200, *, location: str | None = None) -> Response[V]:
    """`body` with its version as the ETag (the `If-Match` of the next change to it); a 201's `location`, the address
    of what it created (RFC 9110, 15.3.2: without one, a client would take the address it posted to)."""
    headers = {"ETag": etag(body.version)} | ({"Location": location} if location else {})
    return Response(body, status_code=status_code, headers=headers)


NEEDS_KEY: list[SecurityRequirement] = [{"apiKey": []}]
NO_STORE = {"Cache-Control": "no-store"}
"""On a response that carries a new API key: no cache keeps it."""
REPORT_MEDIA = {
    "json": "application/json",
    "csv": "text/csv",
    "html": "text/html",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
"""The formats a report (the market report, an appraisal's) may come in, and their media types."""
REPORT_PREFERENCE = ("json", "html", "csv", "xlsx")
"""Among report formats the client likes equally (`*/*`, `text/*`, the same quality value), the first."""
ReportFormat = Annotated[
    Literal["json", "csv", "html", "xlsx"] | None, Parameter(description="Overrides the Accept header")
]
"""A report's `format` query parameter: a key of REPORT_MEDIA; without it, the Accept header (`negotiate_report`)."""
QUALITY = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")
"""A quality value as RFC 9110 (12.4.2) writes it: 0 to 1, at most three decimals (`.9` is none)."""


def negotiate_report(accept: str | None) -> str:
    """The report format (a key of REPORT_MEDIA) the Accept header prefers, as RFC 9110 (12.5.1) reads it: each
    format's quality is the one of the most specific range naming it (`text/csv` before `text/*` before `*/*`), so
    `text/csv;q=0` refuses CSV whatever a wildcard says; the highest quality wins, ties going to REPORT_PREFERENCE.
    JSON without a header; a range with an unreadable quality value counts for nothing. Nothing acceptable is a 406
    naming the types there are, decided before any work. Every report that negotiates (the market report, a frozen
    one, an appraisal's) reads Accept here."""
    if accept is None or not accept.strip():
        return "json"
    ranges = _media_ranges(accept)
    quality = {fmt: _quality(media, ranges) for fmt, media in REPORT_MEDIA.items()}
    acceptable = [fmt for fmt in REPORT_PREFERENCE if quality[fmt] > 0]
    if not acceptable:
        types = list(REPORT_MEDIA.values())
        problem = (
            f"accepts none of the types a report comes as: {', '.join(types)} (or ask with format=json|csv|html|xlsx)"
        )
        raise NotAcceptable(
            f"Accept: {problem}", problems=[FieldProblem(field="Accept", problem=problem, allowed=types)]
        )
    return max(acceptable, key=lambda fmt: (quality[fmt], -REPORT_PREFERENCE.index(fmt)))


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    """The header's media ranges (lower case) and their quality values (1 unless given); a range with an unreadable
    quality value, or that is no range at all, is left out."""
    ranges = []
    for part in accept.split(","):
        media, *params = (x.strip() for x in part.split(";"))
        q: float | None = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                q = float(value) if QUALITY.fullmatch(value.strip()) else None
        if q is not None and re.fullmatch(r"[^/\s]+/[^/\s]+", media):
            ranges.append((media.lower(), q))
    return ranges


def _quality(media: str, ranges: list[tuple[str, float]]) -> float:
    """`media`'s quality value: that of the most specific range matching it (0 when none does)."""
    kind = media.split("/")[0]
    for wanted in (media, f"{kind}/*", "*/*"):
        found = [q for given, q in ranges if given == wanted]
        if found:
            return max(found)
    return 0.0


REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
"""A report page needs nothing but its own inline styles and is never framed: said as a second safeguard to
escaping."""


def report_response(body: bytes | str, fmt: str, filename: str) -> Response[Any]:
    """A report as `fmt` (a key of REPORT_MEDIA): never sniffed, never kept by a cache (commercially sensitive, and
    made from data that changes); CSV and xlsx as attachments named `filename` with the format's extension; the HTML
    page under REPORT_CSP."""
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    if fmt in ("csv", "xlsx"):
        headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    if fmt == "html":
        headers["Content-Security-Policy"] = REPORT_CSP
    return Response(body, media_type=REPORT_MEDIA[fmt], headers=headers)


"""OpenAPI `security` of operations that need an API key (public ones also accept none)."""


class RouteDoc(TypedDict):
    """Options the handlers of a room share, spread into their decorators (`@get(..., **DOC)`)."""

    tags: list[str]
    security: list[SecurityRequirement]
    guards: list[Guard]


ERROR_DESCRIPTIONS = {
    400: "Invalid input: `errors` names each field and its problem",
    401: "Missing or invalid API key",
    403: "The key's role may not do this (an auditor's key may not change anything)",
    404: "No such resource",
    409: "Conflicts with existing data",
    422: "Well-formed, but breaks a rule: `errors` names each field, the allowed values and a suggestion",
    412: "The If-Match ETag is stale; the body gives the current version",
    429: "Too many requests from this client; see Retry-After",
    406: "None of the representations the Accept header names",
    414: f"The query string is longer than the API reads (at most {MAX_QUERY:,} characters)",
    415: "The body must be JSON (Content-Type: application/json)",
    428: "If-Match is required",
    503: "The database is not reachable",
}


def errors_doc(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error responses an operation can give, all with ErrorBody."""
    example = Example(
        value={
            "status": 400,
            "error": "invalid_input",
            "message": "per_page: must be at most 100",
            "errors": [{"field": "per_page", "problem": "must be at most 100"}],
        }
    )
    return {
        s: ResponseSpec(
            data_container=ErrorBody,
            description=ERROR_DESCRIPTIONS.get(s, "Error"),
            examples=[example] if s == 400 else None,
        )
        # any request may carry a bad key (and, from a client denied too often this minute, be refused unread: 429),
        # have too long a query string (414), or find the database down
        for s in sorted({*statuses, 401, 414, 429, 503})
    }
