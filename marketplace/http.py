"""What every room shares at the HTTP edge: the error body, the one exception_handlers table,
the per-request connection, and strict query parameters."""

from __future__ import annotations

import logging
import re
from typing import Any
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import asynccontextmanager

import asyncpg
import msgspec
from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi.spec import Example
from litestar.openapi.datastructures import ResponseSpec

from marketplace.providers.models import MARKETPLACE_FIELDS
from marketplace.errors import (
    Conflict,
    DatabaseUnavailable,
    DomainError,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)

log = logging.getLogger("marketplace")


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every 4xx/5xx response: the status, a machine-readable error code, a sentence, and per-field problems."""

    status: int
    error: str
    message: str
    errors: list[FieldProblem] = []
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
    DatabaseUnavailable: 503,
}


def error_response(status: int, error: str, message: str, problems: Iterable[FieldProblem] = (), headers: dict | None = None,
                   **extra: object) -> Response:
    return Response(
        ErrorBody(status=status, error=error, message=message, errors=list(problems), **extra),  # type: ignore[arg-type]
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _domain_error(_: Request, exc: DomainError) -> Response:
    status = next((s for t, s in STATUS_BY_ERROR.items() if isinstance(exc, t)), 400)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="provision"'
    if "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    extra = {k: exc.extra[k] for k in ("current_version", "current_etag") if k in exc.extra}
    return error_response(status, exc.code, exc.message, exc.problems, headers=headers or None, **extra)


def _validation_error(_: Request, exc: ValidationException) -> Response:
    problems = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        key = str(item.get("key") or "")
        if key in ("data", "body"):
            key = ""
        if "- at `$" in message:  # a message that still carries msgspec's path
            message, _, path = message.partition(" - at `$")
            key = path.rstrip("`").lstrip(".") or key
        unknown = re.match(r"Object contains unknown field `(.+)`", message)
        if unknown:
            name = unknown.group(1)
            key = f"{key}.{name}" if key else name
            message = ("set by the marketplace; it cannot be changed through a profile" if name in MARKETPLACE_FIELDS
                       else "unknown field")
        problems.append(FieldProblem(field=key or "body", problem=message))
    message = "; ".join(f"{p.field}: {p.problem}" for p in problems) or (exc.detail or "invalid request")
    return error_response(400, "invalid_input", message, problems)


def _http_error(_: Request, exc: HTTPException) -> Response:
    error = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
             413: "payload_too_large", 415: "unsupported_media_type", 429: "too_many_requests"}.get(exc.status_code, "http_error")
    if exc.status_code >= 500:
        error = "server_error"
    problems = []
    if exc.status_code == 400:  # e.g. a body that is not JSON at all
        error = "invalid_input"
        problems = [FieldProblem(field="body", problem=str(exc.detail))]
    return error_response(exc.status_code, error, str(exc.detail), problems, headers=exc.headers)


def _database_down(_: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %r", exc)
    return error_response(503, "database_unavailable", "the database is not reachable; try again shortly")


def _constraint(_: Request, exc: asyncpg.IntegrityConstraintViolationError) -> Response:
    # A safety net: input is checked before it is written, so this means two requests raced.
    detail = getattr(exc, "constraint_name", None) or type(exc).__name__
    return error_response(409, "conflict", f"the change conflicts with existing data ({detail})")


def _bad_data(_: Request, exc: asyncpg.DataError) -> Response:
    # A safety net: values are checked before they reach the database.
    return error_response(400, "invalid_input", f"a value the database cannot store: {exc}")


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "server_error", "an unexpected error occurred; it has been logged")


EXCEPTION_HANDLERS = {
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    asyncpg.IntegrityConstraintViolationError: _constraint,
    asyncpg.DataError: _bad_data,
    asyncpg.PostgresConnectionError: _database_down,
    asyncpg.CannotConnectNowError: _database_down,
    asyncpg.exceptions.OperatorInterventionError: _database_down,
    asyncpg.exceptions.InvalidCatalogNameError: _database_down,
    asyncpg.InterfaceError: _database_down,
    ConnectionError: _database_down,
    OSError: _database_down,
    Exception: _unexpected,
}


# A handler parameter `conn: Conn` gets a pooled connection for the request.
Conn = NamedDependency[asyncpg.Connection]


@asynccontextmanager
async def pooled(state: State) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection; DatabaseUnavailable (503) when none can be had."""
    try:
        conn_cm = state.pool.acquire(timeout=5)
        conn = await conn_cm.__aenter__()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        # whatever stops us getting a connection (server down, database dropped, pool exhausted)
        raise DatabaseUnavailable("the database is not reachable; try again shortly") from exc
    try:
        yield conn
    finally:
        await conn_cm.__aexit__(None, None, None)


async def provide_conn(state: State, caller: NamedDependency[Any]) -> AsyncGenerator[asyncpg.Connection, None]:
    """One pooled connection per request that needs the database.

    It depends on `caller` so that authentication resolves (and may refuse) before a connection is taken:
    Litestar (2.x) does not close generator dependencies already started when a sibling dependency raises,
    so a 401 raised after the acquire would strand the connection."""
    async with pooled(state) as conn:
        yield conn


NOT_QUERY = {"request", "state", "conn", "caller", "actor", "data", "headers", "scope", "if_match"}  # not query parameters


# (handler function, paths) -> its query parameters: one entry per route. Not keyed by the handler object:
# Litestar passes guards a fresh copy of the handler on every request, so a cache keyed by it grew by one
# handler per request (a memory leak of ~1 KB a request, found by the benchmark's RSS figures).
_DECLARED: dict[tuple[object, tuple[str, ...]], tuple[frozenset[str], frozenset[str]]] = {}


def query_parameters(handler: BaseRouteHandler) -> tuple[frozenset[str], frozenset[str]]:
    """The query parameters a handler declares (its signature less path parameters, body and dependencies),
    and which of them are integers."""
    key = (handler.fn, tuple(handler.paths))
    found = _DECLARED.get(key)
    if found is None:
        found = _DECLARED[key] = _declared_query_parameters(handler)
    return found


def _declared_query_parameters(handler: BaseRouteHandler) -> tuple[frozenset[str], frozenset[str]]:
    names, integers = set(), set()
    for name, param in handler.parsed_fn_signature.parameters.items():
        if name in NOT_QUERY or any(f"{{{name}:" in path for path in handler.paths):
            continue
        query_name = getattr(param.kwarg_definition, "query", None) or name
        names.add(query_name)
        if (param.is_subclass_of(int) or (param.is_optional and param.has_inner_subclass_of(int))) and not param.is_subclass_of(bool):
            integers.add(query_name)
    return frozenset(names), frozenset(integers)


DIGITS = re.compile(r"[0-9]{1,15}")


async def reject_unknown_params(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard for every route: a query parameter the operation does not know is a 400, not silently ignored
    (a misspelt filter must not return the unfiltered directory); an integer is written in digits
    (not `null`, `1e3` or ` 1`, which the framework would otherwise coerce)."""
    allowed, integers = query_parameters(handler)
    unknown = sorted(set(connection.query_params) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown query parameter {unknown[0]!r}",
            problems=[FieldProblem(field=u, problem="unknown query parameter", allowed=sorted(allowed)) for u in unknown],
        )
    for name in integers & set(connection.query_params):
        for value in connection.query_params.getall(name):
            if not DIGITS.fullmatch(value):
                raise InvalidInput.field(name, f"expected a whole number written in digits, not {value!r}")


# OpenAPI `security` of operations that need an API key (public ones also accept none).
NEEDS_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]


def errors_doc(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error responses an operation can give, all with ErrorBody."""
    descriptions = {
        400: "Invalid input: `errors` names each field and its problem",
        401: "Missing or invalid API key",
        403: "The key's role may not do this",
        404: "No such resource",
        409: "Conflicts with existing data",
        422: "Well-formed, but breaks a rule: `errors` names each field, the allowed values and a suggestion",
        412: "The If-Match ETag is stale; the body gives the current version",
        429: "Too many requests from this client; see Retry-After",
        428: "If-Match is required",
        503: "The database is not reachable",
    }
    statuses = tuple(sorted({*statuses, 401, 503}))  # any request may carry a bad key, or find the database down
    return {
        s: ResponseSpec(
            data_container=ErrorBody,
            description=descriptions.get(s, "Error"),
            examples=[Example(value={"status": s, "error": "invalid_input", "message": "per_page: must be at most 100",
                                     "errors": [{"field": "per_page", "problem": "must be at most 100"}]})] if s == 400 else None,
        )
        for s in statuses
    }


ETAG_RE = re.compile(r'\s*(?:W/)?"v(\d{1,9})"\s*')


def etag(version: int) -> str:
    return f'"v{version}"'


def check_if_match(if_match: str | None, current: int | None = None) -> int:
    """Optimistic concurrency: the version If-Match names (428 without one). With `current`, a version that is
    not it is a 412 carrying the current one; an ETag we never issued matches no version (RFC 9110, 13.1.1)."""
    if if_match is None:
        raise PreconditionRequired("this change needs an If-Match header with the current ETag (from the GET)")
    m = ETAG_RE.fullmatch(if_match)
    expected = int(m.group(1)) if m else 0
    if current is not None and expected != current:
        raise PreconditionFailed(
            f"If-Match {if_match} is not the current ETag {etag(current)}: fetch it again and reapply your change",
            extra={"current_version": current, "current_etag": etag(current)},
        )
    return expected


__all__ = ["EXCEPTION_HANDLERS", "ErrorBody", "NotFoundException", "errors_doc", "provide_conn", "reject_unknown_params"]
