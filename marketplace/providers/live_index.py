"""This process's search index, kept exact against the database.

The index (`index.SearchIndex`) is loaded once under one snapshot, then every search asks the database, in
the same statement that reads the page's rows, whether any provider was written since the index's snapshot
(marketplace.changes); if so the index takes those in and the search runs again."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from marketplace import changes, memory
from marketplace.db import Connection, Pool, read_only
from marketplace.providers import queries
from marketplace.providers.index import Hits, IndexBuilder, SearchIndex
from marketplace.providers.models import ProviderSummary

CATCH_UP_ROUNDS = 3


class LiveIndex:
    """This process's search index and the snapshot it reflects; `page` keeps it exact."""

    def __init__(self, index: SearchIndex, snapshot: str) -> None:
        self.index = index
        self.snapshot = snapshot
        self._lock = asyncio.Lock()

    @classmethod
    async def load(cls, pool: Pool, *, batch: int = 5000) -> LiveIndex:
        async with pool.acquire() as conn, read_only(conn):
            snapshot = await changes.current_snapshot(conn)  # the transaction's: every batch sees the same
            builder = IndexBuilder()
            last = 0
            while rows := await queries.index_rows(conn, after=last, batch=batch):
                last = rows[-1].id
                builder.add(rows)
        index = builder.finish()
        memory.trim()
        return cls(index, snapshot)

    async def catch_up(self, conn: Connection) -> None:
        """Take in every provider written since the snapshot."""
        async with self._lock:
            self.snapshot, rows = await queries.index_rows_changed(conn, self.snapshot)
            self.index.apply(rows)

    async def page(
        self, conn: Connection, search: Callable[[SearchIndex], Hits], now: dt.datetime
    ) -> tuple[Hits, list[ProviderSummary]]:
        """Run `search` on the index and read its page's rows; when the directory changed meanwhile, catch up
        and run it again, so the answer is what the database holds now. Under a stream of writes this stops
        after a few rounds and answers as of the last snapshot taken in (the rows themselves are current)."""
        for attempt in range(CATCH_UP_ROUNDS + 1):
            hits = search(self.index)
            snapshot = self.snapshot
            changed, summaries = await queries.page_rows(conn, snapshot, hits.ids, now)
            if not changed or attempt == CATCH_UP_ROUNDS:
                break
            if self.snapshot == snapshot:
                await self.catch_up(conn)
        by_id = {s.id: s for s in summaries}
        relevance = dict(zip(hits.ids, hits.relevance, strict=True)) if hits.relevance is not None else {}
        matched = dict(zip(hits.ids, hits.matched, strict=True)) if hits.matched is not None else {}
        items = []
        for i in hits.ids:
            if (item := by_id.get(i)) is not None:  # always, unless the last round still saw changes
                item.relevance = relevance.get(i)
                if i in matched:
                    wanted = set(matched[i])
                    item.matched_services = [x for x in item.matched_services if x.id in wanted]
                items.append(item)
        return hits, items
