"""The audit log, in one place: every write (in the transaction that makes it) and every denied attempt.

Every room records its writes with `record`; the log is append-only (schema/0003: triggers refuse
UPDATE, DELETE and TRUNCATE)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from marketplace.db import Connection, Pool
from marketplace.types import Actor, Page

Outcome = Literal["write", "denied"]


class AuditEntry(msgspec.Struct):
    id: int
    at: dt.datetime
    request_id: str | None
    key_id: int | None
    role: str | None
    method: str
    path: str
    status: int
    outcome: str
    provider_id: int | None
    detail: str


class AuditPage(Page[AuditEntry]):
    pass


class AuditFilter(msgspec.Struct, frozen=True):
    key_id: int | None = None
    provider_id: int | None = None
    outcome: Outcome | None = None
    since: dt.datetime | None = None
    """Inclusive."""
    until: dt.datetime | None = None
    """Exclusive."""


INSERT_SQL = """insert into audit_log (request_id, key_id, role, method, path, status, outcome, provider_id, detail)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"""

FILTER_SQL = """($1::bigint is null or key_id = $1) and ($2::bigint is null or provider_id = $2)
and ($3::text is null or outcome = $3) and ($4::timestamptz is null or at >= $4)
and ($5::timestamptz is null or at < $5)"""
COUNT_SQL = f"select count(*) from audit_log where {FILTER_SQL}"
PAGE_SQL = f"""select id, at, request_id, key_id, role, method, path, status, outcome, provider_id, detail
from audit_log where {FILTER_SQL} order by at desc, id desc limit $6 offset $7"""


async def record(
    conn: Connection | Pool,
    actor: Actor,
    *,
    status: int,
    detail: str,
    outcome: Outcome = "write",
    provider_id: int | None = None,
) -> None:
    """One audit row: who (key, role, request), what (method, path, status, detail), which provider."""
    await conn.execute(
        INSERT_SQL,
        actor.request_id,
        actor.caller.key_id,
        actor.caller.role,
        actor.method,
        actor.path[:500],
        status,
        outcome,
        provider_id,
        detail[:1000],
    )


async def page(conn: Connection, where: AuditFilter, *, page: int, per_page: int) -> AuditPage:
    """Newest first."""
    args = (where.key_id, where.provider_id, where.outcome, where.since, where.until)
    total: int = await conn.fetchval(COUNT_SQL, *args)
    rows = await conn.fetch(PAGE_SQL, *args, per_page, (page - 1) * per_page)
    return AuditPage(total=total, page=page, per_page=per_page, items=[AuditEntry(**dict(r)) for r in rows])
