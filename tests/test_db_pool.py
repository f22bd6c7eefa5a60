"""The connection pool skips asyncpg's per-release session reset (marketplace.db.keep_session): nothing of ours
leaves session state on a pooled connection, and a transaction left open is still rolled back."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import app_settings

from marketplace import db

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
