"""SQL for the console's own tables only: sessions and shortlists (schema/0018_console.sql)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from marketplace.db import Connection, Pool


async def insert_session(conn: Connection | Pool, id_hash: bytes, key_id: int, csrf_token: str) -> None:
    await conn.execute(
        "insert into console_session (id_hash, key_id, csrf_token) values ($1, $2, $3)", id_hash, key_id, csrf_token
    )


async def live_session(conn: Connection | Pool, id_hash: bytes, idle: dt.timedelta) -> asyncpg.Record | None:
    """The session with this id hash unless it has been idle longer than `idle` (then it is removed), marking it
    seen (at most once a minute, to spare writes)."""
    await conn.execute(
        "delete from console_session where id_hash = $1 and last_seen_at < now() - $2::interval", id_hash, idle
    )
    row: asyncpg.Record | None = await conn.fetchrow(
        """
        with s as (select id_hash, key_id, csrf_token, last_seen_at from console_session where id_hash = $1),
        touched as (
            update console_session set last_seen_at = now()
            where id_hash = $1 and last_seen_at < now() - interval '1 minute'
        )
        select key_id, csrf_token from s
        """,
        id_hash,
    )
    return row


async def delete_session(conn: Connection | Pool, id_hash: bytes) -> bool:
    done: str = await conn.execute("delete from console_session where id_hash = $1", id_hash)
    return done != "DELETE 0"


async def delete_idle_sessions(conn: Connection | Pool, idle: dt.timedelta) -> None:
    await conn.execute("delete from console_session where last_seen_at < now() - $1::interval", idle)


async def shortlist(conn: Connection, need_id: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """select provider_id, added_by, added_at from console_shortlist
           where need_id = $1 order by added_at, provider_id""",
        need_id,
    )
    return rows


async def add_to_shortlist(conn: Connection, need_id: int, provider_id: int, key_id: int | None) -> bool:
    done: str = await conn.execute(
        """insert into console_shortlist (need_id, provider_id, added_by) values ($1, $2, $3)
           on conflict (need_id, provider_id) do nothing""",
        need_id,
        provider_id,
        key_id,
    )
    return done != "INSERT 0 0"


async def remove_from_shortlist(conn: Connection, need_id: int, provider_id: int) -> bool:
    done: str = await conn.execute(
        "delete from console_shortlist where need_id = $1 and provider_id = $2", need_id, provider_id
    )
    return done != "DELETE 0"
