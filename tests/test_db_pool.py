"""The connection pool skips asyncpg's per-release session reset (marketplace.db.keep_session): nothing of ours
leaves session state on a pooled connection, and a transaction left open is still rolled back."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg
import pytest
from conftest import app_settings
from litestar.testing import AsyncTestClient

from marketplace import audit, db
from marketplace.app import create_app
from marketplace.types import Actor, Caller

ROOT = Path(__file__).resolve().parent.parent
SESSION_STATE = re.compile(
    r"""["']\s*(set\s+(?!local\b)[a-z_.]+\s*(=|to\b)|set\s+session\b|listen\b|declare\b)|pg_advisory_lock\(""",
    re.IGNORECASE,
)
"""A statement that leaves state on the session: a session-level setting, a LISTEN, a cursor, an advisory lock
held beyond its transaction (`pg_advisory_xact_lock` ends with the transaction)."""
SESSION_LOCKS = {"marketplace/migrate.py", "marketplace/app.py"}
"""The two session-level locks: migrations (on their own connection) and the workers' start-up lock (released in a
`finally` before the connection goes back to the pool)."""


def test_no_code_leaves_session_state_on_a_pooled_connection() -> None:
    found = {}
    for path in sorted((ROOT / "marketplace").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        hits = [m.group(0) for m in SESSION_STATE.finditer(path.read_text(encoding="utf-8"))]
        if name in SESSION_LOCKS:
            hits = [h for h in hits if h != "pg_advisory_lock("]
        if hits:
            found[name] = hits
    assert found == {}
    assert SESSION_STATE.search('await conn.execute("set statement_timeout = 5")')  # the check can fail
    assert SESSION_STATE.search("select pg_advisory_lock($1)")
    assert not SESSION_STATE.search('"update provider set name = $1"')
    assert not SESSION_STATE.search('"set local statement_timeout = 5"')


async def test_a_transaction_left_open_is_rolled_back_before_the_connection_is_reused(read_db: str) -> None:
    settings = app_settings(read_db, pool_min_size=1, pool_max_size=1)
    pool = await db.create_pool(settings.database_url, settings)
    try:
        async with pool.acquire() as conn:
            pid = conn.get_server_pid()
            await conn.execute("begin")  # as a request cancelled inside its transaction leaves it
            await conn.execute("set local statement_timeout = 1234")
            assert conn.is_in_transaction()
        async with pool.acquire() as conn:
            assert conn.get_server_pid() == pid  # one connection: the same one, handed out again
            assert not conn.is_in_transaction()
            assert await conn.fetchval("show statement_timeout") != "1234ms"
    finally:
        await pool.close()


async def test_who_acted_is_not_handed_on_with_a_pooled_connection(read_db: str) -> None:
    """audit.record says who is acting for the change history's triggers in transaction-local settings: the next
    user of the connection (another request) starts with none."""
    settings = app_settings(read_db, pool_min_size=1, pool_max_size=1)
    pool = await db.create_pool(settings.database_url, settings)
    actor = Actor(caller=Caller(role="admin"), request_id="req-1", method="POST", path="/keys")
    try:
        async with pool.acquire() as conn, conn.transaction():
            await audit.acting(conn, actor)
            assert await conn.fetchval("select current_setting('marketplace.role', true)") == "admin"
        async with pool.acquire() as conn:
            assert await conn.fetchval("select current_setting('marketplace.role', true)") in (None, "")
            assert await conn.fetchval("select current_setting('marketplace.request_id', true)") in (None, "")
    finally:
        await pool.close()


async def test_a_worker_starting_while_the_database_restarts_waits_for_it(read_db: str, monkeypatch) -> None:
    """A worker respawned while PostgreSQL restarts found "the database system is shutting down", failed to start,
    and granian took that for a crash loop and stopped the whole server (bench/chaos.py): it waits instead."""
    real = asyncpg.create_pool
    refused: list[str] = []

    async def restarting(*args, **kwargs):
        if len(refused) < 2:
            refused.append("refused")
            raise asyncpg.CannotConnectNowError("the database system is shutting down")
        return await real(*args, **kwargs)

    monkeypatch.setattr(asyncpg, "create_pool", restarting)
    async with AsyncTestClient(app=create_app(app_settings(read_db))) as client:
        assert (await client.get("/ready")).status_code == 200
    assert len(refused) == 2  # refused twice, then started
    refused.clear()
    settings = app_settings(read_db)
    with pytest.raises(asyncpg.CannotConnectNowError):  # without patience (the command line), at once
        await db.create_pool(settings.database_url, settings)
    assert len(refused) == 1
