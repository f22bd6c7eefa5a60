"""Ranking the published directory for a need, from a per-process compact pool kept exact with
marketplace.changes. Every match run (HTTP, the command line, reports) ranks here.

`MatchPools` (one per process) holds every published provider as a compact candidate pool (matching's
numeric columns, code pairs, names and the word ids of their text; no text and no per-provider objects),
loaded under one PostgreSQL snapshot. Each ranking first asks which providers were written since that
snapshot (`changed_since`, one indexed query) and replaces just those, so the pool always equals what
fetching the directory afresh would give. A ranking then holds no connection while it ranks:

1. sync the pool (a short read-only REPEATABLE READ transaction: the changes and the changed providers
   under one snapshot);
2. rank the whole directory on the pool, in a thread (`matching.shortlist(..., directory=True)`: providers
   not offering the pathway or covering none of the areas are only counted, the rest assessed);
3. fetch the full profiles of the `limit` providers shown (their text, for the explanations), checking in
   the same snapshot that none of them changed since the pool's snapshot (if one did: sync and rank again);
4. explain them, in a thread: the first `FIRST_PART` while the others' profiles are read (step 3 in two
   parts, each checked), so PostgreSQL builds those on the other core meanwhile.

At most `slots` rankings per process are in steps 1-4 at once (the others wait without a connection), which
bounds the memory and the connections match runs take. Storing a run is the caller's (exercises.service).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

import matching
from marketplace import changes, memory
from marketplace.db import Connection, Pool, pooled, read_only
from marketplace.exercises import queries
from marketplace.taxonomy.models import matching_thesaurus

LOAD_CHUNK = 10_000
"""Providers per statement (and per compact pool part) when the pool is first loaded."""
FIRST_PART = 10
"""Providers explained while the others' details are read."""
RETRIES = 3
"""Times a run is ranked again because a shown provider changed meanwhile, before it holds one snapshot throughout."""
DETAILS_KEPT = 1_000
"""Full profiles of ranked providers kept per process, the least recently shown given up first: a profile shown
again, not written since (the same changed_xid), is not built and decoded again (step 3). 1,000 hold about 7.5 MiB
(2,000 of the benchmark's generated profiles, decoded: 15.2 MiB), the top 50 of 20 needs."""

_candidates = msgspec.json.Decoder(list[matching.Candidate])


class _Read(msgspec.Struct, frozen=True):
    xid: str
    """The transaction that last wrote the provider (its changed_xid), when it was read."""
    candidate: matching.Candidate


_read = msgspec.json.Decoder(list[_Read])


@dataclass(frozen=True, slots=True)
class Ranked:
    """A need ranked against the whole published directory."""

    ranking: matching.Ranking
    directory: matching.DirectoryCounts
    details: dict[int, matching.Candidate]
    """The full profile of each ranked provider, as ranked."""
    snapshot: str
    """The PostgreSQL snapshot the ranked directory is exact for (marketplace.changes)."""


class MatchPools:
    """The published directory as one compact pool, with the snapshot it is exact for."""

    def __init__(self, pool: Pool, areas: matching.AreaTree, *, slots: int, pathway_names: Mapping[str, str]) -> None:
        self.db = pool
        self.areas = areas
        self.pathway_names = pathway_names
        """Pathway code -> the taxonomy's name, for the explanations' words (as the API and the reports name them)."""
        self.pool: matching.CompactPool | None = None
        self.snapshot: str | None = None
        self.lock = asyncio.Lock()
        self.slots = asyncio.Semaphore(slots)
        self.size = slots
        self.loads = 0
        self.reloaded = 0
        """Providers reloaded because they changed (for tests and benchmarks)."""
        self.active = 0
        self.peak_active = 0
        """Most rankings in progress at once (for tests: never above `slots`)."""
        self.kept: OrderedDict[int, _Read] = OrderedDict()
        """Provider id -> its full profile as last read, and the transaction that had last written it then (at most
        DETAILS_KEPT, the least recently shown first out): used again only while it is still the last to write it."""
        self.details_read = 0
        """Full profiles read from the database for rankings (for tests and benchmarks)."""

    async def current(self) -> tuple[matching.CompactPool, str]:
        """The pool, exact as of the returned snapshot (which is no older than this call)."""
        async with self.lock:
            async with pooled(self.db) as conn:
                if self.pool is None or self.snapshot is None:
                    await self._load(conn)
                else:
                    await self._sync(conn)
            assert self.pool is not None and self.snapshot is not None
            return self.pool, self.snapshot

    async def _load(self, conn: Connection) -> None:
        parts = []
        async with read_only(conn):
            snapshot = await changes.current_snapshot(conn)
            lo, hi = await queries.published_id_range(conn)
            while lo < hi:
                doc = await queries.candidates_between(conn, lo, lo + LOAD_CHUNK)
                parts.append(await asyncio.to_thread(self._compact, doc))
                lo += LOAD_CHUNK
        self.pool = await asyncio.to_thread(matching.compact.concat, parts, self.areas)
        del parts
        await asyncio.to_thread(memory.trim)
        self.snapshot = snapshot
        self.loads += 1

    def _compact(self, doc: str) -> matching.CompactPool:
        return matching.compact.build_compact(_candidates.decode(doc), self.areas)

    async def _sync(self, conn: Connection) -> None:
        """Bring the pool up to date. Usually nothing changed: one statement (its own snapshot) says so; otherwise
        the changed providers are read under the same snapshot as the list of them."""
        assert self.pool is not None and self.snapshot is not None
        snapshot, ids = await changes.changed_since(conn, self.snapshot)
        if ids:
            async with read_only(conn):
                snapshot, ids = await changes.changed_since(conn, self.snapshot)
                doc = await queries.candidates_by_id(conn, ids)
        if ids:
            fresh = await asyncio.to_thread(_candidates.decode, doc)
            self.pool = await asyncio.to_thread(matching.compact.replace_rows, self.pool, ids, fresh)
            self.reloaded += len(ids)
            await asyncio.to_thread(memory.trim)
        self.snapshot = snapshot

    async def _details(self, ids: list[int], snapshot: str) -> tuple[list[matching.Candidate], set[int]]:
        """The full profiles of the published ones among `ids` now, and which of `ids` changed since `snapshot` (both
        under one snapshot). A profile kept from an earlier ranking is used when no transaction has written the
        provider since it was read (its changed_xid the same), else read again; the others are read and kept."""
        mine = {pid: self.kept[pid] for pid in ids if pid in self.kept}  # as they are now: others may change `kept`
        async with pooled(self.db) as conn:
            doc, still, changed = await queries.details_since(conn, ids, snapshot, {p: r.xid for p, r in mine.items()})
        read = await asyncio.to_thread(_read.decode, doc) if doc != "[]" else []
        self.details_read += len(read)
        found = {r.candidate.provider_id: r.candidate for r in read}
        found.update((pid, mine[pid].candidate) for pid in still)
        valid = set(still)
        for pid, r in mine.items():
            if pid not in valid and self.kept.get(pid) is r:  # written since, or no longer published
                del self.kept[pid]
        for r in read:
            self.kept[r.candidate.provider_id] = r
            self.kept.move_to_end(r.candidate.provider_id)
        for pid in still:
            if pid in self.kept:
                self.kept.move_to_end(pid)
        while len(self.kept) > DETAILS_KEPT:
            self.kept.popitem(last=False)
        return [found[pid] for pid in sorted(found)], set(changed)

    async def rank(
        self, need: matching.Need, weights: matching.Weights, *, as_of: dt.date, limit: int, excluded_limit: int
    ) -> Ranked:
        """Rank the current published directory for `need`, explaining the best `limit`."""
        async with self.slots:
            self.active += 1
            self.peak_active = max(self.peak_active, self.active)
            try:
                return await self._rank(need, weights, as_of=as_of, limit=limit, excluded_limit=excluded_limit)
            finally:
                self.active -= 1

    async def _rank(
        self, need: matching.Need, weights: matching.Weights, *, as_of: dt.date, limit: int, excluded_limit: int
    ) -> Ranked:
        def shortlist(pool: matching.CompactPool) -> matching.Shortlist:
            return matching.shortlist(
                need,
                pool,
                weights,
                areas=self.areas,
                as_of=as_of,
                limit=limit,
                excluded_limit=excluded_limit,
                directory=True,
                thesaurus=matching_thesaurus(),
                pathway_names=self.pathway_names,
            )

        for _ in range(RETRIES + 1):
            pool, snapshot = await self.current()
            short = await asyncio.to_thread(shortlist, pool)
            explained = await self._explain(short, snapshot)
            if explained is not None:
                ranking, by_id = explained
                break
        else:  # the shown providers keep changing: rank and read them under one snapshot
            async with self.lock, pooled(self.db) as conn, read_only(conn):
                snapshot, ids = await changes.changed_since(conn, self.snapshot or snapshot)
                pool = self.pool if self.pool is not None else pool
                if ids:
                    fresh = _candidates.decode(await queries.candidates_by_id(conn, ids))
                    pool = await asyncio.to_thread(matching.compact.replace_rows, pool, ids, fresh)
                    self.pool, self.snapshot = pool, snapshot
                short = await asyncio.to_thread(shortlist, pool)
                details = _candidates.decode(await queries.candidates_by_id(conn, list(short.provider_ids)))
            by_id = {c.provider_id: c for c in details}
            ranking = await asyncio.to_thread(short.explain, by_id)
        assert short.directory is not None
        return Ranked(ranking=ranking, directory=short.directory, details=by_id, snapshot=snapshot)

    async def _explain(
        self, short: matching.Shortlist, snapshot: str
    ) -> tuple[matching.Ranking, dict[int, matching.Candidate]] | None:
        """The ranking explained, with the details it read, or None when a shown provider changed since `snapshot`.

        The first `FIRST_PART` providers' details are read (while the excluded providers' records are built, in a
        thread), then the rest's while the first are explained (in a thread): PostgreSQL builds the second part's
        profiles on the other core meanwhile. When every one is kept (`kept`), all are checked in one statement and
        explained at once: there is nothing to build meanwhile."""
        ids = list(short.provider_ids)
        explaining = short.explaining()
        first_part = len(ids) if all(pid in self.kept for pid in ids) else FIRST_PART
        # the excluded providers' records are built while the first details are read
        building = asyncio.ensure_future(asyncio.to_thread(short.exclusions))
        try:
            first, changed = await self._details(ids[:first_part], snapshot)
        finally:
            excluded = await building
        if changed:
            return None
        by_id = {c.provider_id: c for c in first}
        rest = asyncio.ensure_future(self._details(ids[first_part:], snapshot)) if len(ids) > first_part else None
        try:
            scored = list(await asyncio.to_thread(explaining.explain, by_id, 0, min(first_part, len(ids))))
        except BaseException:
            if rest is not None:
                rest.cancel()
                await asyncio.gather(rest, return_exceptions=True)
            raise
        if rest is not None:
            more, changed = await rest
            if changed:
                return None
            by_id.update((c.provider_id, c) for c in more)
            scored += await asyncio.to_thread(explaining.explain, by_id, first_part, len(ids))
        return explaining.ranking(scored, excluded), by_id
