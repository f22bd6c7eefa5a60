"""Match runs from a per-worker cache of the published directory, kept exact with marketplace.changes.

The cache (`MatchPools`, one per app, created on first use as `app.state.match_pools`) holds every
published provider as a compact candidate pool (matching.store: numeric columns, code pairs, names and
the word ids of their text; no text and no per-provider objects), loaded under one PostgreSQL snapshot.
Each match run first asks which providers were written since that snapshot (`changed_since`, one indexed
query) and replaces just those, so the pool always equals what fetching the directory afresh would give.

A run then holds no connection while it ranks:

1. sync the cache (a short read-only REPEATABLE READ transaction: the changes and the changed providers
   under one snapshot);
2. rank the whole directory on the pool, in a thread (`matching.shortlist(..., directory=True)`: providers
   not offering the pathway or covering none of the areas are only counted, the rest assessed);
3. fetch the full profiles of the `limit` providers shown (their text, for the explanations), checking in
   the same snapshot that none of them changed since the pool's snapshot (if one did: sync and rank again);
4. explain them (thread), then store the run and its audit row in one short transaction.

At most `MATCH_SLOTS` runs per worker are in steps 1-4 at once (the others wait without a connection), which
bounds the memory and the connections match runs take.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec
from litestar.datastructures import State

import matching
from marketplace import changes, memory
from marketplace.http import pooled
from marketplace.exercises import queries
from marketplace.exercises.models import MatchRun, MatchRunBody, Need, ProviderFacts

MATCH_SLOTS = 2
"""Match runs in progress per worker at once."""
LOAD_CHUNK = 10_000
"""Providers per statement (and per compact pool part) when the cache is first loaded."""
RETRIES = 3
"""Times a run is ranked again because a shown provider changed meanwhile, before it holds one snapshot throughout."""

# Published providers with ids in ($1, $2], as the core's Candidate.
CHUNK_SQL = f"""
select coalesce(json_agg({queries.CANDIDATE_DOC} order by p.id), '[]')::text
from provider p where p.status = 'published' and p.id > $1 and p.id <= $2
"""
ID_RANGE_SQL = "select coalesce(min(id), 0) - 1 as lo, coalesce(max(id), 0) as hi from provider where status = 'published'"
# The published ones among the providers $1 (the others are unpublished or gone).
BY_IDS_SQL = f"""
select coalesce(json_agg({queries.CANDIDATE_DOC} order by p.id), '[]')::text
from provider p where p.status = 'published' and p.id = any($1::bigint[])
"""

_candidates = msgspec.json.Decoder(list[matching.Candidate])


_trim = memory.trim


def _read_only(conn: asyncpg.Connection) -> Any:
    return conn.transaction(isolation="repeatable_read", readonly=True)


class MatchPools:
    """The published directory as one compact pool, with the snapshot it is exact for."""

    def __init__(self, areas: matching.AreaTree) -> None:
        self.areas = areas
        self.pool: matching.CandidatePool | None = None
        self.snapshot: str | None = None
        self.lock = asyncio.Lock()
        self.slots = asyncio.Semaphore(MATCH_SLOTS)
        self.loads = 0
        self.reloaded = 0
        """Providers reloaded because they changed (for tests and benchmarks)."""
        self.active = 0
        self.peak_active = 0
        """Most match runs in progress at once (for tests: never above MATCH_SLOTS)."""

    async def current(self, state: State) -> tuple[matching.CandidatePool, str]:
        """The pool, exact as of the returned snapshot (which is no older than this call)."""
        async with self.lock:
            async with pooled(state) as conn:
                if self.pool is None or self.snapshot is None:
                    await self._load(conn)
                else:
                    await self._sync(conn)
            assert self.pool is not None and self.snapshot is not None
            return self.pool, self.snapshot

    async def _load(self, conn: asyncpg.Connection) -> None:
        parts = []
        async with _read_only(conn):
            snapshot = await changes.current_snapshot(conn)
            bounds = await conn.fetchrow(ID_RANGE_SQL)
            lo, hi = bounds["lo"], bounds["hi"]
            while lo < hi:
                doc = await conn.fetchval(CHUNK_SQL, lo, lo + LOAD_CHUNK)
                parts.append(await asyncio.to_thread(self._compact, doc))
                lo += LOAD_CHUNK
        self.pool = await asyncio.to_thread(matching.store.concat, parts, self.areas)
        del parts
        await asyncio.to_thread(_trim)
        self.snapshot = snapshot
        self.loads += 1

    def _compact(self, doc: str) -> matching.CandidatePool:
        return matching.store.build_compact(_candidates.decode(doc), self.areas)

    async def _sync(self, conn: asyncpg.Connection) -> None:
        assert self.pool is not None and self.snapshot is not None
        async with _read_only(conn):
            snapshot, ids = await changes.changed_since(conn, self.snapshot)
            doc = await conn.fetchval(BY_IDS_SQL, ids) if ids else None
        if ids:
            fresh = _candidates.decode(doc)
            self.pool = await asyncio.to_thread(matching.store.replace_rows, self.pool, ids, fresh)
            self.reloaded += len(ids)
            await asyncio.to_thread(_trim)
        self.snapshot = snapshot


def match_pools(state: State) -> MatchPools:
    """The app's cache, created on first use."""
    cache = getattr(state, "match_pools", None)
    if cache is None:
        cache = state.match_pools = MatchPools(queries.area_tree(state.taxonomy))
    return cache


async def _details(state: State, ids: list[int], snapshot: str) -> tuple[list[matching.Candidate], set[int]]:
    """The full profiles of `ids` now, and which of them changed since `snapshot` (both under one snapshot)."""
    async with pooled(state) as conn, _read_only(conn):
        _, changed = await changes.changed_since(conn, snapshot)
        doc = await conn.fetchval(BY_IDS_SQL, ids) if ids else "[]"
    return _candidates.decode(doc), set(changed) & set(ids)


async def run_and_store(
    state: State,
    need: Need,
    weights: matching.Weights,
    *,
    as_of: dt.date,
    created_by: int | None,
    limit: int,
    excluded_limit: int,
    audit: Callable[[asyncpg.Connection, int], Any],
) -> tuple[MatchRun, bytes]:
    """Rank the current directory for `need`, explain the best `limit`, store the run (and `audit(conn, run_id)`
    in the same transaction). Returns the run and its stored JSON document."""
    cache = match_pools(state)
    core = queries.core_need(need, weights)
    async with cache.slots:
        cache.active += 1
        cache.peak_active = max(cache.peak_active, cache.active)
        try:
            for _ in range(RETRIES + 1):
                pool, snapshot = await cache.current(state)
                short = await asyncio.to_thread(
                    matching.shortlist, core, pool, weights, areas=cache.areas, as_of=as_of, limit=limit,
                    excluded_limit=excluded_limit, directory=True,
                )
                details, changed = await _details(state, list(short.provider_ids), snapshot)
                if not changed:
                    break
            else:  # the shown providers keep changing: rank and read them under one snapshot
                async with cache.lock, pooled(state) as conn, _read_only(conn):
                    snapshot, ids = await changes.changed_since(conn, cache.snapshot or snapshot)
                    pool = cache.pool if cache.pool is not None else pool
                    if ids:
                        fresh = _candidates.decode(await conn.fetchval(BY_IDS_SQL, ids))
                        pool = await asyncio.to_thread(matching.store.replace_rows, pool, ids, fresh)
                        cache.pool, cache.snapshot = pool, snapshot
                    short = await asyncio.to_thread(
                        matching.shortlist, core, pool, weights, areas=cache.areas, as_of=as_of, limit=limit,
                        excluded_limit=excluded_limit, directory=True,
                    )
                    ids = list(short.provider_ids)
                    details = _candidates.decode(await conn.fetchval(BY_IDS_SQL, ids) if ids else "[]")
            body = await asyncio.to_thread(_body, short, details, need, as_of)
            document = msgspec.json.encode(body)
            async with pooled(state) as conn, conn.transaction():
                row = await queries.insert_match_run(
                    conn, need_id=need.id, exercise_id=need.exercise_id, created_by=created_by,
                    algorithm_version=body.algorithm_version, candidate_count=body.candidate_count, document=document,
                )
                await audit(conn, row["id"])
        finally:
            cache.active -= 1
    run = MatchRun(**msgspec.structs.asdict(body), id=row["id"], need_id=need.id, exercise_id=need.exercise_id,
                   created_at=row["created_at"], created_by=created_by)
    return run, document


def _body(short: matching.Shortlist, details: list[matching.Candidate], need: Need, as_of: dt.date) -> MatchRunBody:
    by_id = {c.provider_id: c for c in details}
    ranking = short.explain(by_id)
    counts = short.directory
    assert counts is not None
    facts = [
        ProviderFacts(
            provider_id=c.provider_id, name=c.name, sector=c.sector, legal_form=c.legal_form, capacity=c.capacity,
            annual_income=c.annual_income, match_funding_per_year=c.match_funding_per_year, volunteers=c.volunteers,
            premises_areas=list(c.premises_areas), last_confirmed=c.last_confirmed,
        )
        for c in (by_id[s.provider_id] for s in ranking.scored)
    ]
    return MatchRunBody(
        algorithm_version=ranking.algorithm_version,
        as_of=as_of,
        need=need,
        weights=ranking.weights.as_dict(),
        directory_size=counts.directory_size,
        candidate_count=ranking.candidate_count,
        eligible_count=ranking.eligible_count,
        excluded_count=counts.excluded_count,
        excluded_by_reason={k: v for k, v in sorted(counts.excluded_by_reason.items()) if v},
        ranking=list(ranking.scored),
        excluded=list(ranking.excluded),
        method=queries.METHOD,
        providers=facts,
    )
