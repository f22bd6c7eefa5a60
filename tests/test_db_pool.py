"""The connection pool skips asyncpg's per-release session reset (marketplace.db.keep_session): nothing of ours
leaves session state on a pooled connection, and a transaction left open is still rolled back."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

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


async def test_a_worker_whose_database_restarts_while_it_builds_its_views_starts_again(fresh_db: str) -> None:
    """The chaos run's server stopped, in a full run on a slow machine: its respawned worker had its pool, PostgreSQL
    restarted while the worker built its views ("terminating connection due to administrator command"), the worker
    failed, and granian took that for a crash loop. Here the worker waits for the start-up lock (held on a thread of
    the test's own: the test client blocks this loop while the app starts) when its connections are ended, as a
    restart ends them; it reads everything again and serves."""
    from marketplace.app import STARTUP_LOCK

    database = urlsplit(fresh_db).path.lstrip("/")
    locked, ended, failed = threading.Event(), [], []

    async def hold_then_end() -> None:
        holder = await asyncpg.connect(fresh_db)
        try:
            await holder.execute("select pg_advisory_lock($1)", STARTUP_LOCK)
            locked.set()
            waiting = """select pid from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'
                           and query like '%pg_advisory_lock%' and pid <> pg_backend_pid()"""
            for _ in range(600):  # the worker waits for the lock: it has its pool and has read the taxonomies
                if await holder.fetchval(waiting, database) is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the worker never waited for the start-up lock")
            ended.append(
                await holder.fetchval(
                    """select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity
                        where datname = $1 and pid <> pg_backend_pid()) t""",
                    database,
                )
            )
            await holder.execute("select pg_advisory_unlock($1)", STARTUP_LOCK)
        finally:
            await holder.close()

    def run() -> None:
        try:
            asyncio.run(hold_then_end())
        except BaseException as exc:  # said by the test, below
            failed.append(exc)
            locked.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert locked.wait(30)
    async with AsyncTestClient(app=create_app(app_settings(fresh_db))) as client:
        assert (await client.get("/ready")).status_code == 200
        assert (await client.get("/providers", params={"per_page": 1})).json()["total"] > 0
    thread.join(30)
    assert not failed, failed
    assert ended and ended[0] >= 1  # the worker's connections were ended while it started
