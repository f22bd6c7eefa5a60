"""Joining the marketplace, API keys, and the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromQuery, JSONBody, Parameter

from marketplace.accounts import queries
from marketplace.accounts.models import Actor, ApiKey, AuditPage, Caller, KeyRequest, NewApiKey
from marketplace.auth import ActorDep, CallerDep, require
from marketplace.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unprocessable
from marketplace.http import NEEDS_KEY, Conn, errors_doc
from marketplace.providers import queries as provider_queries
from marketplace.providers.models import Provider, ProviderProfile, normalised, profile_problems

KeyId = Annotated[int, Parameter(ge=1, le=999_999_999_999, description="API key id")]


class Registration(msgspec.Struct):
    """A new pending profile and its provider key (shown this once)."""

    provider: Provider
    api_key: NewApiKey


@post("/registrations", summary="Join the marketplace", status_code=201, tags=["accounts"],
      responses=errors_doc(400, 409, 422, 429, 503),
      description="Creates a `pending` profile (invisible to anonymous search until an admin publishes it) and a "
      "provider API key bound to it, returned once. Rate-limited per client.")
async def register(request: Request, data: JSONBody[ProviderProfile], conn: Conn, state: State, actor: ActorDep) -> Response[Registration]:
    now = dt.datetime.now(dt.timezone.utc)
    data = normalised(data)
    problems = profile_problems(data, state.taxonomy, year=now.year)
    if problems:
        raise Unprocessable.from_problems(problems)
    client = request.client.host if request.client else "unknown"
    async with conn.transaction():
        recent = await queries.count_recent_registrations(conn, client, state.settings.registration_window)
        if recent >= state.settings.registration_limit:
            raise TooManyRequests(
                f"at most {state.settings.registration_limit} registrations per client per "
                f"{int(state.settings.registration_window.total_seconds() // 60)} minutes",
                extra={"retry_after": int(state.settings.registration_window.total_seconds())},
            )
        await queries.record_registration(conn, client)
        taken = await provider_queries.identifiers_taken(conn, data.identifiers, None)
        if taken:
            raise Conflict(f"identifiers: {taken[0]} is already registered to another provider")
        provider_id = await provider_queries.insert_provider(conn, data, status="pending", last_confirmed_at=now)
        new_key = await queries.create_key(conn, state.secret, role="provider", name=f"registration: {data.name}"[:200],
                                           provider_id=provider_id, created_by=None)
        await queries.insert_history(conn, provider_id=provider_id, version=1, action="create",
                                     changes=[("profile", None, msgspec.to_builtins(data))], actor=actor)
        await queries.insert_audit(conn, actor=actor, status=201, outcome="write", provider_id=provider_id,
                                   detail=f"registered; provider key {new_key.api_key.id}")
        provider = await provider_queries.fetch_provider(conn, provider_id, now=now, statuses=("pending",))
    assert provider is not None
    return Response(Registration(provider=provider, api_key=new_key), headers={"ETag": f'"v{provider.version}"'})


@post("/keys", summary="Create an API key (admin)", status_code=201, tags=["accounts"], responses=errors_doc(400, 401, 403, 404, 503), security=NEEDS_KEY,
      description="The key is in the response this once; only its HMAC is stored.")
async def create_key(data: JSONBody[KeyRequest], conn: Conn, state: State, actor: ActorDep) -> NewApiKey:
    require(actor.caller, "admin")
    role = type(data).__struct_config__.tag
    provider_id = getattr(data, "provider_id", None)
    async with conn.transaction():
        made = await queries.create_key(conn, state.secret, role=role, name=data.name, provider_id=provider_id,
                                        created_by=actor.caller.key_id)
        await queries.insert_audit(conn, actor=actor, status=201, outcome="write", provider_id=provider_id,
                                   detail=f"created {role} key {made.api_key.id}")
    return made


@get("/keys", summary="List API keys (admin)", tags=["accounts"], responses=errors_doc(401, 403, 503), security=NEEDS_KEY)
async def list_keys(conn: Conn, caller: CallerDep) -> list[ApiKey]:
    require(caller, "admin")
    return await queries.list_keys(conn)


@post("/keys/{key_id:int}/revoke", summary="Revoke an API key (admin)", status_code=200, tags=["accounts"],
      responses=errors_doc(400, 401, 403, 404, 503), security=NEEDS_KEY, description="Takes effect at once.")
async def revoke_key(key_id: KeyId, conn: Conn, actor: ActorDep) -> ApiKey:
    require(actor.caller, "admin")
    async with conn.transaction():
        key = await queries.revoke_key(conn, key_id)
        if key is None:
            raise NotFound(f"API key {key_id} not found")
        await queries.insert_audit(conn, actor=actor, status=200, outcome="write", provider_id=key.provider_id,
                                   detail=f"revoked key {key_id}")
    return key


@get("/audit", summary="The audit log (admin): every write and every denied attempt", tags=["accounts"],
     responses=errors_doc(400, 401, 403, 503), security=NEEDS_KEY)
async def audit_log(
    conn: Conn,
    caller: CallerDep,
    key_id: Annotated[int | None, Parameter(ge=1, le=999_999_999_999)] = None,
    provider_id: Annotated[int | None, Parameter(ge=1, le=999_999_999_999)] = None,
    outcome: FromQuery[Literal["write", "denied"] | None] = None,
    since: Annotated[str | None, Parameter(schema_extra={"format": "date-time"}, max_length=40,
                                           description="RFC 3339 time with a zone, inclusive")] = None,
    until: Annotated[str | None, Parameter(schema_extra={"format": "date-time"}, max_length=40,
                                           description="RFC 3339 time with a zone, exclusive")] = None,
    page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Parameter(ge=1, le=100)] = 50,
) -> AuditPage:
    require(caller, "admin")
    times = {}
    for name, value in (("since", since), ("until", until)):
        try:
            times[name] = None if value is None else dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput.field(name, f"not an RFC 3339 time: {exc}") from None
        if times[name] is not None and times[name].tzinfo is None:
            raise InvalidInput.field(name, "give a time zone, e.g. 2026-11-22T09:00:00Z")
    total, items = await queries.audit_page(conn, key_id=key_id, provider_id=provider_id, outcome=outcome,
                                            since=times["since"], until=times["until"], limit=per_page,
                                            offset=(page - 1) * per_page)
    return AuditPage(total=total, page=page, per_page=per_page, items=items)


ROUTES = [register, create_key, list_keys, revoke_key, audit_log]
