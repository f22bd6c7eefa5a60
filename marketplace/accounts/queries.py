"""SQL for API keys and registration attempts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg

from marketplace.accounts.models import ApiKey, Change, FieldChange
from marketplace.db import Connection, Pool, one

KEY_COLUMNS = "id, name, role, provider_id, hint, created_at, last_used_at, revoked_at"


async def insert_key(
    conn: Connection, *, name: str, role: str, provider_id: int | None, digest: bytes, hint: str, created_by: int | None
) -> ApiKey:
    row = await one(
        conn,
        f"""insert into api_key (name, role, provider_id, key_hash, hint, created_by)
            values ($1, $2, $3, $4, $5, $6) returning {KEY_COLUMNS}""",
        name,
        role,
        provider_id,
        digest,
        hint,
        created_by,
    )
    return ApiKey(**dict(row))


async def key_by_hash(conn: Connection | Pool, digest: bytes) -> asyncpg.Record | None:
    """The key with this hash, marking it used (at most once a minute, to spare writes)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """
        with k as (select id, role, provider_id, name, key_hash, revoked_at, last_used_at
                   from api_key where key_hash = $1),
        touched as (
            update api_key set last_used_at = now()
            where id = (select id from k where revoked_at is null)
              and (last_used_at is null or last_used_at < now() - interval '1 minute')
        )
        select id, role, provider_id, name, key_hash, revoked_at from k
        """,
        digest,
    )
    return row


async def key_by_id(conn: Connection | Pool, key_id: int) -> asyncpg.Record | None:
    """The key with this id (not its hash): who a console session acts for."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "select id, role, provider_id, name, revoked_at from api_key where id = $1", key_id
    )
    return row


async def list_keys(conn: Connection) -> list[ApiKey]:
    return [ApiKey(**dict(r)) for r in await conn.fetch(f"select {KEY_COLUMNS} from api_key order by id")]


async def lock_key(conn: Connection, key_id: int) -> ApiKey | None:
    """The key, locked to the end of the caller's transaction; None when there is none."""
    row = await conn.fetchrow(f"select {KEY_COLUMNS} from api_key where id = $1 for update", key_id)
    return None if row is None else ApiKey(**dict(row))


async def revoke_key(conn: Connection, key_id: int, at: dt.datetime) -> ApiKey:
    row = await conn.fetchrow(f"update api_key set revoked_at = $2 where id = $1 returning {KEY_COLUMNS}", key_id, at)
    assert row is not None
    return ApiKey(**dict(row))


async def provider_exists(conn: Connection, provider_id: int) -> bool:
    found: bool = await conn.fetchval("select exists(select 1 from provider where id = $1)", provider_id)
    return found


REGISTRATION_LOCK = 0x5245_4749  # "REGI": one client's registrations are counted one at a time


async def lock_registrations(conn: Connection, client: str) -> None:
    """Until the transaction ends, no other registration from `client` can be counted (so the limit is exact)."""
    await conn.execute("select pg_advisory_xact_lock($1, hashtext($2))", REGISTRATION_LOCK, client)


async def count_recent_registrations(conn: Connection, client: str, window: dt.timedelta) -> int:
    count: int = await conn.fetchval(
        "select count(*) from registration_attempt where client = $1 and at > now() - $2::interval", client, window
    )
    return count


async def record_registration(conn: Connection, client: str) -> None:
    await conn.execute("insert into registration_attempt (client) values ($1)", client)


# --- the change history ----------------------------------------------------------------------------------------

CHANGE_FILTERS = (
    ("record_table", "text"),
    ("record_id", "text"),
    ("key_id", "bigint"),
    ("at >=", "timestamptz"),
    ("at <", "timestamptz"),
)
"""The history's filters, in the order `change_page` takes them: a column (and its comparison) and its type."""


async def change_page(
    conn: Connection, filters: tuple[object, ...], *, limit: int, offset: int
) -> tuple[int, list[Change]]:
    """The changes matching `filters` (one value or None per CHANGE_FILTERS), newest first, and how many there are.
    Only the filters given are in the query, so each is answered from its index."""
    where, args = ["true"], []
    for (column, typ), value in zip(CHANGE_FILTERS, filters, strict=True):
        if value is not None:
            args.append(value)
            where.append(f"{column if ' ' in column else column + ' ='} ${len(args)}::{typ}")
    condition = " and ".join(where)
    total: int = await conn.fetchval(f"select count(*) from change_history where {condition}", *args)
    rows = await conn.fetch(
        f"""select id, at, record_table, record_id, table_name, operation, key_id, role, request_id,
                   before::text as before, after::text as after
              from change_history where {condition}
             order by id desc limit ${len(args) + 1} offset ${len(args) + 2}""",
        *args,
        limit,
        offset,
    )
    return total, [_change(r) for r in rows]


def _change(r: asyncpg.Record) -> Change:
    before, after = _load(r["before"]) or {}, _load(r["after"]) or {}
    return Change(
        id=r["id"],
        at=r["at"],
        table=r["record_table"],
        record_id=r["record_id"],
        part=None if r["table_name"] == r["record_table"] else r["table_name"],
        operation=r["operation"],
        key_id=r["key_id"],
        role=r["role"],
        request_id=r["request_id"],
        changes=[FieldChange(field=f, before=before.get(f), after=after.get(f)) for f in sorted({*before, *after})],
    )


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
