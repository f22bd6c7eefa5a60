"""SQL for keys, history and the audit log."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from marketplace.accounts.models import Actor, ApiKey, AuditEntry, HistoryEntry, NewApiKey, key_hash, key_hint, new_key
from marketplace.errors import InvalidInput, NotFound

KEY_COLUMNS = "id, name, role, provider_id, hint, created_at, last_used_at, revoked_at"


async def insert_key(conn: asyncpg.Connection, *, name: str, role: str, provider_id: int | None, digest: bytes,
                     hint: str, created_by: int | None) -> ApiKey:
    row = await conn.fetchrow(
        f"""insert into api_key (name, role, provider_id, key_hash, hint, created_by)
            values ($1, $2, $3, $4, $5, $6) returning {KEY_COLUMNS}""",
        name, role, provider_id, digest, hint, created_by,
    )
    return ApiKey(**dict(row))


async def key_by_hash(conn: asyncpg.Connection | asyncpg.Pool, digest: bytes) -> asyncpg.Record | None:
    """The key with this hash, marking it used (at most once a minute, to spare writes)."""
    return await conn.fetchrow(
        """
        with k as (select id, role, provider_id, name, key_hash, revoked_at, last_used_at from api_key where key_hash = $1),
        touched as (
            update api_key set last_used_at = now()
            where id = (select id from k where revoked_at is null)
              and (last_used_at is null or last_used_at < now() - interval '1 minute')
        )
        select id, role, provider_id, name, key_hash, revoked_at from k
        """,
        digest,
    )


async def list_keys(conn: asyncpg.Connection) -> list[ApiKey]:
    return [ApiKey(**dict(r)) for r in await conn.fetch(f"select {KEY_COLUMNS} from api_key order by id")]


async def revoke_key(conn: asyncpg.Connection, key_id: int) -> ApiKey | None:
    row = await conn.fetchrow(
        f"""update api_key set revoked_at = coalesce(revoked_at, now()) where id = $1 returning {KEY_COLUMNS}""", key_id
    )
    return None if row is None else ApiKey(**dict(row))


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


async def insert_history(conn: asyncpg.Connection, *, provider_id: int, version: int, action: str,
                         changes: Sequence[tuple[str, Any, Any]], actor: Actor | None) -> None:
    caller = actor.caller if actor else None
    await conn.executemany(
        """insert into profile_history (resource_id, version, last_action_type, field_name, previous_value,
                                        replacement_value, updated_by, updated_by_role, request_id)
           values ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb, $7, $8, $9)""",
        [
            (provider_id, version, action, field, _json(before), _json(after),
             caller.key_id if caller else None, caller.role if caller else "system", actor.request_id if actor else None)
            for field, before, after in changes
        ],
    )


async def history_page(conn: asyncpg.Connection, provider_id: int, *, limit: int, offset: int) -> tuple[int, list[HistoryEntry]]:
    total = await conn.fetchval("select count(*) from profile_history where resource_id = $1", provider_id)
    rows = await conn.fetch(
        """select id, resource_id, resource_type, version, last_action_date, last_action_type, field_name,
                  previous_value::text as previous_value, replacement_value::text as replacement_value,
                  updated_by, updated_by_role, request_id
           from profile_history where resource_id = $1 order by id desc limit $2 offset $3""",
        provider_id, limit, offset,
    )
    return total, [
        HistoryEntry(**{**dict(r), "previous_value": _load(r["previous_value"]), "replacement_value": _load(r["replacement_value"])})
        for r in rows
    ]


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


async def insert_audit(conn: asyncpg.Connection | asyncpg.Pool, *, actor: Actor, status: int, outcome: str,
                       provider_id: int | None = None, detail: str = "") -> None:
    await conn.execute(
        """insert into audit_log (request_id, key_id, role, method, path, status, outcome, provider_id, detail)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        actor.request_id, actor.caller.key_id, actor.caller.role, actor.method, actor.path[:500], status, outcome,
        provider_id, detail[:1000],
    )


async def audit_page(conn: asyncpg.Connection, *, key_id: int | None, provider_id: int | None, outcome: str | None,
                     since: dt.datetime | None, until: dt.datetime | None, limit: int, offset: int) -> tuple[int, list[AuditEntry]]:
    where = """($1::bigint is null or key_id = $1) and ($2::bigint is null or provider_id = $2)
               and ($3::text is null or outcome = $3) and ($4::timestamptz is null or at >= $4)
               and ($5::timestamptz is null or at < $5)"""
    args = (key_id, provider_id, outcome, since, until)
    total = await conn.fetchval(f"select count(*) from audit_log where {where}", *args)  # noqa: S608 - fixed text
    rows = await conn.fetch(
        f"""select id, at, request_id, key_id, role, method, path, status, outcome, provider_id, detail
            from audit_log where {where} order by at desc, id desc limit $6 offset $7""",  # noqa: S608
        *args, limit, offset,
    )
    return total, [AuditEntry(**dict(r)) for r in rows]


async def count_recent_registrations(conn: asyncpg.Connection, client: str, window: dt.timedelta) -> int:
    return await conn.fetchval(
        "select count(*) from registration_attempt where client = $1 and at > now() - $2::interval", client, window
    )


async def record_registration(conn: asyncpg.Connection, client: str) -> None:
    await conn.execute("insert into registration_attempt (client) values ($1)", client)


async def create_key(conn: asyncpg.Connection, secret: bytes, *, role: str, name: str, provider_id: int | None,
                     created_by: int | None) -> NewApiKey:
    """Make a key, store only its HMAC, and return the key itself (the one time it is seen)."""

    if role == "provider":
        if provider_id is None:
            raise InvalidInput.field("provider_id", "a provider key needs the provider it acts for")
        if not await conn.fetchval("select exists(select 1 from provider where id = $1)", provider_id):
            raise NotFound(f"provider {provider_id} not found")
    elif provider_id is not None:
        raise InvalidInput.field("provider_id", f"only provider keys are bound to a provider, not {role} keys")
    key = new_key()
    api_key = await insert_key(conn, name=name, role=role, provider_id=provider_id, digest=key_hash(secret, key),
                               hint=key_hint(key), created_by=created_by)
    return NewApiKey(key=key, api_key=api_key)
