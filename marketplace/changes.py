"""Which providers changed since a snapshot, so that per-process views of the directory stay exact.

A process that keeps a view of the directory in memory (the search index, matching's candidate pools)
loads it under a PostgreSQL snapshot and remembers the snapshot's text (`pg_current_snapshot()`). Later,
one indexed query names every provider written by a transaction that snapshot could not see
(schema/0005_change_tracking.sql). Committed-late transactions are found too: visibility decides, not
commit order. Nothing is cached here; callers keep their own snapshot.
"""

from __future__ import annotations

from marketplace.db import Connection

SNAPSHOT_SQL = "select pg_current_snapshot()::text"


def written_since(snapshot: str, *, by_id: bool = False) -> str:
    """SQL: "provider p was written since the snapshot `snapshot`" (an SQL expression giving a snapshot's text,
    such as a parameter or a column). The first condition lets the index on changed_xid find the candidates, the
    second decides (a transaction older than the snapshot's xmin is visible in it). `by_id`: for providers a
    statement picks by id, only the deciding condition: with the range condition on a parameter PostgreSQL plans
    the statement afresh on every call (measured: 0.8 ms of planning for ten profiles' details), without it it
    keeps one generic plan."""
    decides = f"not pg_visible_in_snapshot(p.changed_xid, {snapshot}::text::pg_snapshot)"
    return decides if by_id else f"p.changed_xid >= pg_snapshot_xmin({snapshot}::text::pg_snapshot)\n    and {decides}"


WRITTEN_SINCE_1 = written_since("$1")
"""Written since the snapshot in parameter $1; other statements embed it as it is."""

# The ids written since snapshot $1 and the statement's own snapshot, taken together.
CHANGED_SQL = f"""
select pg_current_snapshot()::text as snapshot,
       array(select p.id from provider p where {WRITTEN_SINCE_1} order by p.id) as ids
"""


async def current_snapshot(conn: Connection) -> str:
    snapshot: str = await conn.fetchval(SNAPSHOT_SQL)
    return snapshot


async def changed_since(conn: Connection, snapshot: str) -> tuple[str, list[int]]:
    """(a newer snapshot, the providers written since `snapshot` and visible in the newer one)."""
    row = await conn.fetchrow(CHANGED_SQL, snapshot)
    assert row is not None
    return row["snapshot"], list(row["ids"])
