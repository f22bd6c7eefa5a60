"""The audit log, in one place: every write (in the transaction that makes it) and every denied attempt.

Every room records its writes with `record`, which also tells the database who is acting (`acting`): the change
history's triggers (schema/0027_change_history.sql) name that caller beside every row the transaction changed.
The log is append-only (schema/0003 and 0009: triggers refuse UPDATE, DELETE and TRUNCATE, and the API's role has
only SELECT and INSERT). It is partitioned by month: the owner keeps partitions made a year ahead
(`ensure_partitions`) and drops months past the retention period (`drop_expired`), recording each drop in the log
itself.

Denied requests are recorded per client (the address a request came from) and minute: the first of each status
and key (or none) at once, the rest counted in the worker (`Denials`) and recorded as one row per status and key
with their number when the minute is over, so a summary names the key and role of every request it counts, the
provider they were aimed at and the methods and paths tried. Past `denial_limit` in a minute, a client's requests
presenting a key that is not a valid one are refused (429) until the minute ends, a valid key still passing
(`accounts.auth.refused_too_often`): the limit counts the client's denials whatever the key. A worker killed
outright loses the count of its current minute (the first denial of each status, key, client and minute is on
record already)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

import asyncpg
import msgspec

from marketplace.db import Connection, Pool
from marketplace.errors import Unauthorized
from marketplace.formatting import plural
from marketplace.types import Actor, Page

Outcome = Literal["write", "denied"]


class AuditEntry(msgspec.Struct):
    id: int
    at: dt.datetime
    request_id: str | None
    """The server's id for the request (its X-Request-ID response header)."""
    client_request_id: str | None
    """The X-Request-ID the client sent, if any."""
    client: str | None
    """The address the request came from."""
    requests: int
    """How many requests this row stands for: 1, or a summary of one client's denied requests in one minute."""
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


INSERT_SQL = """insert into audit_log (request_id, client_request_id, client, key_id, role, method, path, status,
outcome, provider_id, detail, requests) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"""


def _acting(key_id: str, role: str, request_id: str) -> str:
    """A select saying who is acting, from three of its statement's parameters: the settings the change history's
    triggers read. Transaction-local (`set_config(..., true)`): a pooled connection's next transaction has none."""
    return (
        f"select set_config('marketplace.key_id', coalesce({key_id}::bigint::text, ''), true), "
        f"set_config('marketplace.role', {role}::text, true), "
        f"set_config('marketplace.request_id', coalesce({request_id}::text, ''), true)"
    )


ACTING = _acting("$1", "$2", "$3")
RECORD_SQL = f"""insert into audit_log (request_id, client_request_id, client, key_id, role, method, path, status,
outcome, provider_id, detail, requests)
select $1::text, $2::text, $3::text, $4::bigint, $5::text, $6::text, $7::text, $8::int, $9::text, $10::bigint,
$11::text, $12::int from ({_acting("$4", "$5", "$1")}) acting"""
"""An audit row, saying who is acting as it is written (one statement)."""

FILTER_SQL = """($1::bigint is null or key_id = $1) and ($2::bigint is null or provider_id = $2)
and ($3::text is null or outcome = $3) and ($4::timestamptz is null or at >= $4)
and ($5::timestamptz is null or at < $5)"""
COUNT_SQL = f"select count(*) from audit_log where {FILTER_SQL}"
PAGE_SQL = f"""select id, at, request_id, client_request_id, client, requests, key_id, role, method, path, status,
outcome, provider_id, detail from audit_log where {FILTER_SQL} order by at desc, id desc limit $6 offset $7"""


async def record(
    conn: Connection | Pool,
    actor: Actor,
    *,
    status: int,
    detail: str,
    outcome: Outcome = "write",
    provider_id: int | None = None,
) -> None:
    """One audit row: who (key, role, request, client), what (method, path, status, detail), which provider. In a
    transaction (every write records its row in the transaction that makes it), the actor is who the change history
    names for every change the transaction makes, before this row or after (`acting`).

    A write's row first checks that its key is still not revoked, holding the key's row for share until the write
    commits: the key was checked before the transaction began, and a tester revoking a key while it wrote saw three
    writes accepted and logged after the revocation. Now a revocation committed meanwhile refuses the write (401,
    nothing is changed), and one made after waits for the write to commit: the log orders them as they happened."""
    key_id = actor.caller.key_id
    in_a_write = outcome == "write" and not isinstance(conn, asyncpg.Pool) and conn.is_in_transaction()
    if in_a_write and key_id is not None and await conn.fetchval(STILL_VALID_SQL, key_id) is not True:
        raise Unauthorized("this API key was revoked while the request was being made: nothing was changed")
    await conn.execute(RECORD_SQL, *_row(actor, status, outcome, provider_id, detail, 1))


STILL_VALID_SQL = "select revoked_at is null from api_key where id = $1 for share"


async def acting(conn: Connection, actor: Actor) -> None:
    """Tell the database who is acting for the rest of the transaction, without an audit row (`record` does it with
    one): the change history's triggers, which run when the transaction commits, name this caller beside each row
    it changed. Transaction-local: a change made outside a transaction that said so names no one."""
    await conn.execute(ACTING, actor.caller.key_id, actor.caller.role, actor.request_id or None)


def _row(
    actor: Actor, status: int, outcome: str, provider_id: int | None, detail: str, requests: int
) -> tuple[object, ...]:
    return (
        actor.request_id or None,
        actor.client_request_id,
        actor.client or None,
        actor.caller.key_id,
        actor.caller.role,
        actor.method,
        actor.path[:500],
        status,
        outcome,
        provider_id,
        detail[:1000],
        requests,
    )


async def page(conn: Connection, where: AuditFilter, *, page: int, per_page: int) -> AuditPage:
    """Newest first."""
    args = (where.key_id, where.provider_id, where.outcome, where.since, where.until)
    total: int = await conn.fetchval(COUNT_SQL, *args)
    rows = await conn.fetch(PAGE_SQL, *args, per_page, (page - 1) * per_page)
    return AuditPage(total=total, page=page, per_page=per_page, items=[AuditEntry(**dict(r)) for r in rows])


# --- denied requests: per client and minute ------------------------------------------------------


Denied = tuple[int, int | None, str, int | None]
"""What a denial is counted under within its client's minute: the status, the key (None: no usable key) and role
that asked, and the provider it was aimed at (when the path names one), so `/audit?provider_id=` finds them too."""

MOST_TARGETS = 8
"""The distinct method-and-path pairs a summary row names (the rest are counted, not listed)."""


class More(msgspec.Struct):
    """The denied requests counted under one `Denied` beyond its first: how many, the last of them (the summary
    row's key, role and client), and each method and path tried, with how many times."""

    n: int
    last: Actor
    tried: dict[str, int] = {}


class Tally(msgspec.Struct):
    """The denied requests of one client in one minute: the `Denied` already on record (each one's first request is
    recorded at once), and what more of each was counted since."""

    client: str
    recorded: set[Denied] = set()
    more: dict[Denied, More] = {}

    def total(self) -> int:
        return len(self.recorded) + sum(m.n for m in self.more.values())


class Denials:
    """One worker's count of denied requests per client and minute (see the module's docstring). Times are given
    by the caller, so the ledger keeps no clock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.minutes: dict[tuple[str, dt.datetime], Tally] = {}

    @staticmethod
    def minute(now: dt.datetime) -> dt.datetime:
        return now.replace(second=0, microsecond=0)

    def note(self, actor: Actor, status: int, now: dt.datetime, provider_id: int | None = None) -> bool:
        """Count a denied request; True when it is the client's first of its kind (`Denied`) this minute (record
        it)."""
        key = (actor.client, self.minute(now))
        tally = self.minutes.get(key)
        if tally is None:
            tally = self.minutes[key] = Tally(client=actor.client, recorded=set(), more={})
        denied = (status, actor.caller.key_id, actor.caller.role, provider_id)
        if denied not in tally.recorded:
            tally.recorded.add(denied)
            return True
        more = tally.more.setdefault(denied, More(n=0, last=actor, tried={}))
        more.n, more.last = more.n + 1, actor
        attempt = f"{actor.method} {actor.path}"
        if attempt in more.tried or len(more.tried) < MOST_TARGETS:
            more.tried[attempt] = more.tried.get(attempt, 0) + 1
        return False

    def wait(self, client: str, now: dt.datetime) -> int | None:
        """Seconds until `client` may present a credential again, when it is past the limit this minute."""
        tally = self.minutes.get((client, self.minute(now)))
        if tally is None or tally.total() < self.limit:
            return None
        return max(1, 60 - now.second)

    def closed(self, now: dt.datetime | None) -> list[tuple[dt.datetime, Tally]]:
        """Take the tallies of the minutes that are over (all of them when `now` is None) that counted more."""
        current = None if now is None else self.minute(now)
        done = [k for k in self.minutes if current is None or k[1] < current]
        return [(k[1], t) for k in done if (t := self.minutes.pop(k)).more]

    def restore(self, tallies: list[tuple[dt.datetime, Tally]]) -> None:
        """Put back tallies that could not be recorded (the database was away): the next flush tries again."""
        for minute, tally in tallies:
            self.minutes[(tally.client, minute)] = tally


async def record_denials(conn: Connection | Pool, tallies: list[tuple[dt.datetime, Tally]]) -> None:
    """One row per client, minute, status and key for the denied requests counted beyond each one's first."""
    rows = []
    for minute, tally in tallies:
        for denied, more in sorted(
            tally.more.items(), key=lambda item: tuple(x or 0 for x in item[0][:2] + item[0][3:])
        ):
            tried = "; ".join(f"{t} ({k})" if k > 1 else t for t, k in more.tried.items())
            unlisted = more.n - sum(more.tried.values())
            detail = (
                f"{plural(more.n, 'more denied request')} from {tally.client} in the minute from "
                f"{minute:%Y-%m-%d %H:%M} UTC: {tried}" + (f"; and {plural(unlisted, 'other')}" if unlisted else "")
            )
            one = next(iter(more.tried)) if len(more.tried) == 1 and not unlisted else None
            method, _, path = one.partition(" ") if one else ("*", "", "*")
            summary = msgspec.structs.replace(
                more.last, request_id="", client_request_id=None, method=method, path=path
            )
            rows.append(_row(summary, denied[0], "denied", denied[3], detail, more.n))
    if rows:
        await conn.executemany(INSERT_SQL, rows)


# --- retention: monthly partitions ----------------------------------------------------------------

PARTITION_RE = re.compile(r"audit_log_y(\d{4})m(\d{2})")


def add_months(day: dt.date, months: int) -> dt.date:
    """The first of the month `months` after `day`'s month."""
    n = day.year * 12 + day.month - 1 + months
    return dt.date(n // 12, n % 12 + 1, 1)


async def ensure_partitions(conn: Connection, today: dt.date, *, months_ahead: int = 12) -> None:
    """Partitions for this month and the next `months_ahead` (as the owner: the API's role cannot make them)."""
    for i in range(months_ahead + 1):
        await conn.execute("select audit_log_partition($1)", add_months(today, i))


async def drop_expired(conn: Connection, actor: Actor, today: dt.date, *, retention_months: int) -> list[str]:
    """Drop the partitions whose whole month ended more than `retention_months` before this month began (as the
    owner), recording each drop, with its number of rows, in the log. Returns what was dropped."""
    cutoff = add_months(today, -retention_months)
    names = await conn.fetch(
        """select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
            where i.inhparent = 'audit_log'::regclass order by c.relname"""
    )
    dropped: list[str] = []
    for (name,) in names:
        m = PARTITION_RE.fullmatch(name)
        if m is None or add_months(dt.date(int(m.group(1)), int(m.group(2)), 1), 1) > cutoff:
            continue
        async with conn.transaction():
            rows = await conn.fetchval(f'select count(*) from "{name}"')
            await conn.execute(f'drop table "{name}"')
            detail = f"dropped audit partition {name} ({rows} row(s)): past the retention of {retention_months} months"
            await record(conn, actor, status=200, detail=detail)
        dropped.append(name)
    return dropped
