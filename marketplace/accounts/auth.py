"""Authentication and authorisation at the HTTP edge, as Litestar guards.

`authentication` (middleware on every route that may act for someone) turns the API key into a `Caller` and
leaves it in the request's scope; `allow(...)` guards admit roles, and a provider key only for the provider the path
names. An auditor key reads what an admin or a commissioner may read, and nothing else: every operation that changes
something refuses it (`auditors_only_read`, on every route). Every 401 and 403 is recorded in the audit log
(`audit_denials`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from marketplace import audit
from marketplace.accounts import service
from marketplace.context import Context
from marketplace.errors import Forbidden, TooManyRequests, Unauthorized
from marketplace.http import READS, actor_of, caller_of, set_caller
from marketplace.types import ANONYMOUS, Actor, Caller

log = logging.getLogger(__name__)

Connection = ASGIConnection[Any, Any, Any, Any]
Guard = Callable[[Connection, BaseRouteHandler], Awaitable[None]]


def authentication(app: ASGIApp) -> ASGIApp:
    """Middleware (before the guards): a request with `Authorization: Bearer <key>` acts as the key's caller; one
    without is anonymous. A middleware rather than a guard: Litestar copies the route handler for every guard call."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
            if header is not None:
                state = scope["app"].state
                ctx: Context = state.ctx
                set_caller(scope, await authenticate_unless_refused_too_often(scope, ctx, header.decode("latin-1")))
        await app(scope, receive, send)

    return middleware


READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})
"""The methods that change nothing."""
AUDITOR_READS = ("admin", "commissioner")
"""An auditor reads what these roles may read."""
AUDITOR_WRITES = "the auditor role only reads: it may not change anything"


def _method(connection: Connection) -> str:
    return str(connection.scope.get("method", "GET"))


def changes_something(method: str, handler: BaseRouteHandler) -> bool:
    """Whether an operation (its method, its route handler) may change something: the auditor may not send it."""
    return method.upper() not in READ_ONLY and not handler.opt.get(READS, False)


def admit(
    caller: Caller,
    roles: tuple[str, ...],
    *,
    own_provider: bool = False,
    provider_id: int | None = None,
    reading: bool = False,
) -> None:
    """Allow the named roles, and a provider key for its own provider when `own_provider`; when `reading` (the
    operation changes nothing), an auditor key too wherever an admin or a commissioner is allowed."""
    if caller.is_anonymous:
        raise Unauthorized("this needs an API key: send 'Authorization: Bearer <key>'")
    if own_provider and caller.role == "provider":
        if caller.provider_id == provider_id:
            return
        raise Forbidden("a provider key may act only on its own provider", caller=caller, provider_id=provider_id)
    if caller.role == "auditor" and not reading:
        raise Forbidden(AUDITOR_WRITES, caller=caller, provider_id=provider_id)
    if caller.role == "auditor" and any(r in roles for r in AUDITOR_READS):
        return
    if caller.role not in roles:
        auditor = reading and any(r in roles for r in AUDITOR_READS)  # it reads what these may read
        allowed = [*roles, *(["auditor"] if auditor else []), *(["provider (own profile)"] if own_provider else [])]
        raise Forbidden(
            f"the {caller.role} role may not do this; allowed: {', '.join(allowed)}",
            caller=caller,
            provider_id=provider_id,
            allowed_roles=allowed,
        )


@dataclass(frozen=True)
class Allow:
    """A guard admitting `roles`; with `own_provider`, also a provider key acting on the path's provider. Which
    roles an operation admits can be read off its guards (the schemathesis tests do)."""

    roles: tuple[str, ...]
    own_provider: bool = False

    async def __call__(self, connection: Connection, handler: BaseRouteHandler) -> None:
        provider_id = connection.path_params.get("provider_id")
        reading = not changes_something(_method(connection), handler)
        caller = caller_of(connection.scope)
        admit(caller, self.roles, own_provider=self.own_provider, provider_id=provider_id, reading=reading)

    def admits(self, role: str, method: str = "GET") -> bool:
        """Whether a key of `role` may pass (a provider key: for its own provider, when that is what is allowed;
        an auditor's: to read, where an admin or a commissioner may)."""
        if role == "auditor":
            return method.upper() in READ_ONLY and any(r in self.roles for r in AUDITOR_READS)
        return role in self.roles or (self.own_provider and role == "provider")


def allow(*roles: str, own_provider: bool = False) -> Allow:
    """A guard admitting `roles`; with `own_provider`, also a provider key acting on the path's provider."""
    return Allow(roles, own_provider)


STAFF = ("admin", "commissioner")
staff = allow(*STAFF)
admin = allow("admin")


def spend_budget(state: State, caller: Caller, client: str = "") -> None:
    """Count one expensive operation (a match run, a partnership proposal, a report, an export) against the caller's
    key: at most `expensive_limit` a minute per key in this worker (marketplace.throttle), else 429 with Retry-After.
    A caller without a key (only an export is open to one) is counted by its address, `client` (Actor.client), at most
    `anonymous_expensive_limit` a minute: leaving the key out does not get round its limit.

    Called by the operation's handler once the request has been read and found valid (its body, query and Accept:
    the framework reads them after the guards, so a guard would charge first), and before the work: a request refused
    as malformed spent one of the key's runs, and a client's mistakes could use up its minute. The budget is for the
    work it guards (ranking the directory, making a report), which a refused request never reaches; what such a
    request costs (a key looked up, a body of bounded size decoded) is what any other request costs, and is no more
    limited for them: a stream of bad requests at an expensive address is a stream of cheap ones."""
    now = state.ctx.clock.now()
    if caller.key_id is None:
        if (wait := state.budget.take_anonymous(client, now)) is not None:
            raise TooManyRequests(
                f"this address has made {state.budget.anonymous_limit} exports without an API key this minute: try "
                f"again in {wait} s (with a key, the key's own limit applies)",
                retry_after=wait,
            )
        return
    if (wait := state.budget.take(caller.key_id, now)) is not None:
        raise TooManyRequests(
            f"this key has made {state.budget.limit} match runs, partnership proposals, reports or exports this "
            f"minute: try again in {wait} s",
            retry_after=wait,
        )


async def staff_beyond_published(connection: Connection, handler: BaseRouteHandler) -> None:
    """Only staff (and auditors) may ask for profiles other than published ones (`?status=pending`)."""
    if connection.query_params.get("status", "published") != "published":
        reading = not changes_something(_method(connection), handler)
        admit(caller_of(connection.scope), STAFF, reading=reading)


async def auditors_only_read(connection: Connection, handler: BaseRouteHandler) -> None:
    """A guard on every route: an auditor key may not send an operation that changes something (403), whoever
    else may (a registration, which anyone may send, included)."""
    caller = caller_of(connection.scope)
    if caller.role == "auditor" and changes_something(_method(connection), handler):
        raise Forbidden(AUDITOR_WRITES, caller=caller)


async def authenticate_unless_refused_too_often(scope: Scope, ctx: Context, authorization: str) -> Caller:
    """The caller the key names. A client past the limit of denied requests this minute is refused any key but a
    valid one until the minute ends (`refused_too_often`)."""
    try:
        return await service.authenticate(scope["app"].state.pool, ctx.secret, authorization)
    except Unauthorized as refused:
        if (locked := await refused_too_often(scope, refused)) is not None:
            raise locked from None
        raise


async def refused_too_often(scope: Scope, refused: Unauthorized) -> TooManyRequests | None:
    """When the client is past the limit of denied requests this minute, the 429 to answer instead of `refused` (a
    key that is not a valid one), counted with its denials; else None. Guessing keys gets nowhere, while a valid key
    from the same address (a colleague's, behind the same proxy or in the same office) still works: nobody can lock
    others out by sending bad keys."""
    state = scope["app"].state
    now = state.ctx.clock.now()
    actor = msgspec.structs.replace(actor_of(scope), caller=refused.caller or ANONYMOUS)
    if (wait := state.denials.wait(actor.client, now)) is None:
        return None
    message = f"too many denied requests from this client: try again in {wait} s"
    await _count_denial(state, actor, 429, None, message)
    return TooManyRequests(message, retry_after=wait)


async def audit_denials(exc: Exception, scope: Scope) -> None:
    """after_exception hook: every 401 and 403 is counted (`_count_denial`)."""
    if not isinstance(exc, (Unauthorized, Forbidden)):
        return
    caller = exc.caller or ANONYMOUS
    actor = msgspec.structs.replace(actor_of(scope), caller=caller)
    status = 401 if isinstance(exc, Unauthorized) else 403
    await _count_denial(scope["app"].state, actor, status, getattr(exc, "provider_id", None), exc.message)


async def _count_denial(state: State, actor: Actor, status: int, provider_id: int | None, detail: str) -> None:
    """A client's first denial with this status in a minute goes into the audit log at once; the rest are counted
    and recorded as one row when the minute is over (`audit.Denials`)."""
    if not state.denials.note(actor, status, state.ctx.clock.now(), provider_id):
        return
    try:
        await audit.record(state.pool, actor, status=status, outcome="denied", provider_id=provider_id, detail=detail)
    except Exception:
        log.exception("could not record a denied request in the audit log")  # the denial stands regardless
