"""SQL for imports: the directory as duplicate-matching sees it, and the stored dry runs and commits."""

from __future__ import annotations

from typing import Any

import asyncpg

from marketplace.db import Connection


async def directory(conn: Connection) -> list[asyncpg.Record]:
    """Every provider (pending and archived too: a duplicate of a pending profile is still a duplicate)."""
    return list(
        await conn.fetch(
            """select p.id, p.name, p.status, p.website,
                      coalesce((select array_agg(i.identifier) from provider_identifier i where i.provider_id = p.id),
                               '{}') as identifiers,
                      p.area_match_codes
               from provider p order by p.id"""
        )
    )


async def insert_run(
    conn: Connection, *, created_by: int | None, filename: str, fmt: str, summary: Any, rows: Any, profiles: Any
) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        """insert into import_run (created_by, filename, format, summary, rows, profiles)
           values ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb) returning id, created_at""",
        created_by,
        filename,
        fmt,
        summary,
        rows,
        profiles,
    )
    assert row is not None
    return row


async def run(conn: Connection, import_id: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "select id, created_at, filename, format, summary, rows, profiles from import_run where id = $1", import_id
    )
    return row


async def lock_commits(conn: Connection) -> None:
    """Held until the transaction ends: commits take turns, one import at a time, so each judges its rows against the
    directory every earlier commit left (two imports of one organisation committed at once cannot both create it)."""
    await conn.execute("select pg_advisory_xact_lock(hashtextextended('import_commit', 0))")


async def commit_of(conn: Connection, import_id: int) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "select import_id, created_at, accepted, results from import_commit where import_id = $1", import_id
    )
    return row


async def insert_commit(
    conn: Connection, *, import_id: int, created_by: int | None, accepted: list[int], results: Any
) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        """insert into import_commit (import_id, created_by, accepted, results) values ($1, $2, $3, $4::jsonb)
           returning import_id, created_at, accepted, results""",
        import_id,
        created_by,
        accepted,
        results,
    )
    assert row is not None
    return row
