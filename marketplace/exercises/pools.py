"""Ranking the published directory for a need, from a per-process compact pool kept exact with
marketplace.changes. Every match run (HTTP, the command line, reports) ranks here.

`MatchPools` (one per process) holds every published provider as a compact candidate pool (matching's
numeric columns, code pairs, names and the word ids of their text; no text and no per-provider objects),
loaded under one PostgreSQL snapshot. Each ranking first asks which providers were written since that
snapshot (`changed_since`, one indexed query) and replaces just those, so the pool always equals what
fetching the directory afresh would give. A changed provider's rows are withdrawn from the pool as loaded
(`matching.compact.withdraw`: its columns stay as they are, so the pages a worker shares with the serving process
it was forked from, and a helper with its worker, stay shared) and its published version goes in a small pool of
the changed providers (`extra`), ranked beside the others; past `EXTRA_KEPT` providers there, the pools are rebuilt
without the withdrawn rows. A ranking then holds no connection while it ranks:

1. sync the pool (a short read-only REPEATABLE READ transaction: the changes and the changed providers
   under one snapshot);
2. rank the whole directory on the pool, in a thread (`matching.shortlist(..., directory=True)`: providers
   not offering the pathway or covering none of the areas are only counted, the rest assessed);
3. fetch the full profiles of the `limit` providers shown (their text, for the explanations), checking in
   the same snapshot that none of them changed since the pool's snapshot (if one did: sync and rank again);
4. explain them, in a thread: the first `FIRST_PART` while the others' profiles are read (step 3 in two
   parts, each checked), so PostgreSQL builds those on the other core meanwhile.

A directory of at least `split_from` providers (`Settings.match_split_from`) is kept in two parts
(`matching.parts`), and a helper process the worker forks (`exercises.helper`) ranks part 1 while the worker ranks
part 0: steps 2 and 4 then take both cores, and the parts' shortlists are merged into the whole's ranking (the same,
byte for byte). A run finding the helper busy shortlists part 0, then waits its turn; when the helper
failed or died, the worker ranks both parts itself.

At most `slots` rankings per process are in steps 1-4 at once (the others wait without a connection), which
bounds the memory and the connections match runs take. Storing a run is the caller's (exercises.service).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import msgspec

import matching
from marketplace import changes, memory
from marketplace.db import Connection, Pool, pooled, read_only
from marketplace.exercises import queries
from marketplace.exercises.helper import Delta, Helper, HelperFailed, beside
from marketplace.exercises.helper import Explain as HelperExplain
from marketplace.exercises.helper import Shortlist as HelperShortlist
from marketplace.settings import Settings
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

HELPER_PAUSE = 30.0
"""Seconds after a helper could not be forked before the worker tries again (meanwhile it ranks alone)."""
DELTAS_KEPT = 5_000
"""Changed providers kept for the helper (it takes them in on its next ranking); past this, the helper is dropped
and a fresh one forked, holding the worker's parts as they are then."""
EXTRA_KEPT = 5_000
"""Rows withdrawn from the parts and changed providers ranked from the pool of their own (`MatchPools.extra`), each
counted; past this, the parts are rebuilt with the changed providers in and the withdrawn rows out (the helper
forked afresh): ranking a large extra pool costs what its rows cost in any part, but every withdrawn row is still
read by each ranking's screening, and a provider unpublished leaves only a withdrawn row."""

log = logging.getLogger(__name__)
T = TypeVar("T")
Done = tuple[matching.Ranking, dict[int, matching.Candidate], matching.DirectoryCounts]
"""A ranked directory: the ranking, the shown providers' profiles, the counts over the directory."""
Shortlisted = tuple[list[matching.Shortlist], list[matching.parts.Part]]
"""Parts shortlisted (`_shortlisted`): their shortlists, and each as a part to merge."""


class _Alone:
    """What `MatchPools._with_helper` gives when the helper failed: rank both parts in the worker."""


ALONE = _Alone()
_candidates = msgspec.json.Decoder(list[matching.Candidate])


def split_from(settings: Settings) -> int | None:
    """`Settings.match_split_from` where this process may use two cores, else None (one part: a helper on the same
    core would only add its messages). Linux only (the helper is forked, and dies with its worker by `prctl`)."""
    if sys.platform != "linux" or len(os.sched_getaffinity(0)) < 2:
        return None
    return settings.match_split_from


class _Read(msgspec.Struct, frozen=True):
    xid: str
    """The transaction that last wrote the provider (its changed_xid), when it was read."""
    candidate: matching.Candidate


_read = msgspec.json.Decoder(list[_Read])


class Held(NamedTuple):
    """What `MatchPools.current` gives: the pools exact as of `snapshot`, at `version`."""

    parts: tuple[matching.CompactPool, ...]
    extra: matching.CompactPool | None
    snapshot: str
    version: int


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
    """The published directory as compact pools (one, or two parts for a large one), with the snapshot they are
    exact for."""

    def __init__(
        self,
        pool: Pool,
        areas: matching.AreaTree,
        *,
        slots: int,
        pathway_names: Mapping[str, str],
        split_from: int | None = None,
        helper: bool = True,
    ) -> None:
        self.db = pool
        self.areas = areas
        self.pathway_names = pathway_names
        """Pathway code -> the taxonomy's name, for the explanations' words (as the API and the reports name them)."""
        self.split_from = split_from
        """A directory of at least this many providers, when loaded, is kept in two parts and ranked with a helper
        process; None: never (the command line, one core)."""
        self.forks_helper = helper
        """Whether a directory in two parts gets a helper process (not in the serving process, which builds the parts
        for its workers and ranks nothing: each worker forks its own)."""
        self.parts: tuple[matching.CompactPool, ...] | None = None
        """The directory as loaded, in one or two parts, with the rows of providers changed since withdrawn."""
        self.extra: matching.CompactPool | None = None
        """The providers changed since the parts were built, as they are published now (None: none)."""
        self.snapshot: str | None = None
        self.version = 0
        """Counts the syncs that changed the parts (the helper's part is brought to the version a ranking uses)."""
        self.helper: Helper | None = None
        self.deltas: list[Delta] = []
        """Part 1's changes the helper has not taken in yet (while there is one)."""
        self.helper_paused_until = 0.0
        self.helper_forks = 0
        self.helper_runs = 0
        """Rankings the helper took part in (for tests and benchmarks)."""
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

    def __len__(self) -> int:
        """Providers in the parts (0 before they are loaded)."""
        return sum(p.live_count for p in (*(self.parts or ()), *_extra(self.extra)))

    async def current(self) -> Held:
        """The parts and the changed providers' pool, exact together as of the returned snapshot (which is no older
        than this call), and their version."""
        async with self.lock:
            async with pooled(self.db) as conn:
                if self.parts is None or self.snapshot is None:
                    await self._load(conn)
                else:
                    await self._sync(conn)
            assert self.parts is not None and self.snapshot is not None
            if len(self.parts) > 1 and self.forks_helper:
                await self._fork_helper(self.parts[1])
            return Held(self.parts, self.extra, self.snapshot, self.version)

    async def _fork_helper(self, part: matching.CompactPool) -> None:
        """A helper for part 1 when there is none (or it went away), unless forking failed a moment ago."""
        if self.helper is not None and self.helper.alive:
            return
        if time.monotonic() < self.helper_paused_until:
            return
        try:
            self.helper = Helper.fork(part, self.version, self._shortlist)
        except OSError as exc:
            log.warning("no helper process for match runs (%s): ranking alone for %.0f s", exc, HELPER_PAUSE)
            self.helper, self.helper_paused_until = None, time.monotonic() + HELPER_PAUSE
            return
        self.deltas.clear()
        self.helper_forks += 1
        log.info(
            "process %d: helper process %d ranks part 1 of the directory (%d of %d providers)",
            os.getpid(),
            self.helper.pid,
            part.live_count,
            len(self),
        )

    def close(self) -> None:
        """End the helper process, if any."""
        if self.helper is not None:
            self.helper.close()
            self.helper = None

    async def _load(self, conn: Connection) -> None:
        dealt = []
        n = 1 if self.split_from is None else 2
        async with read_only(conn):
            snapshot = await changes.current_snapshot(conn)
            lo, hi = await queries.published_id_range(conn)
            while lo < hi:
                doc = await queries.candidates_between(conn, lo, lo + LOAD_CHUNK)
                dealt.append(await asyncio.to_thread(self._compact, doc, n))
                lo += LOAD_CHUNK
        if not dealt:  # no provider published yet
            dealt.append(tuple(matching.compact.empty(self.areas) for _ in range(n)))
        parts = await asyncio.to_thread(matching.parts.gather, dealt, self.areas)
        del dealt
        if len(parts) > 1 and sum(len(p.provider_id) for p in parts) < (self.split_from or 0):
            parts = (await asyncio.to_thread(matching.compact.concat, parts, self.areas),)
        self.parts, self.extra = parts, None
        await asyncio.to_thread(memory.trim)
        self.snapshot = snapshot
        self.loads += 1

    def _compact(self, doc: str, n: int) -> tuple[matching.CompactPool, ...]:
        return matching.parts.deal(_candidates.decode(doc), self.areas, n)

    async def _sync(self, conn: Connection) -> None:
        """Bring the pool up to date. Usually nothing changed: one statement (its own snapshot) says so; otherwise
        the changed providers are read under the same snapshot as the list of them."""
        assert self.parts is not None and self.snapshot is not None
        snapshot, ids = await changes.changed_since(conn, self.snapshot)
        if ids:
            async with read_only(conn):
                snapshot, ids = await changes.changed_since(conn, self.snapshot)
                doc = await queries.candidates_by_id(conn, ids)
        if ids:
            await self._take_in(ids, await asyncio.to_thread(_candidates.decode, doc))
        self.snapshot = snapshot

    def _replaced(
        self,
        parts: tuple[matching.CompactPool, ...],
        extra: matching.CompactPool | None,
        ids: list[int],
        fresh: list[matching.Candidate],
    ) -> tuple[tuple[matching.CompactPool, ...], matching.CompactPool | None, bool]:
        """`parts` with the providers `ids` withdrawn, and `extra` with their new versions `fresh` (the published
        ones) in place of any it held; or, past `EXTRA_KEPT` rows withdrawn and in `extra`, the parts rebuilt with
        `extra`'s providers in the smallest and no row withdrawn (then True)."""
        parts = tuple(matching.compact.withdraw(p, ids) for p in parts)
        if extra is not None:
            extra = matching.compact.replace_rows(extra, ids, fresh)
        elif fresh:
            extra = matching.compact.build_compact(fresh, self.areas)
        if extra is not None and not len(extra):
            extra = None
        withdrawn = sum(len(p) - p.live_count for p in parts)
        if withdrawn + (0 if extra is None else len(extra)) <= EXTRA_KEPT:
            return parts, extra, False
        smallest = min(range(len(parts)), key=lambda k: parts[k].live_count)
        rebuilt = tuple(
            matching.compact.concat([p, *_extra(extra)], self.areas)
            if k == smallest
            else matching.compact.replace_rows(p, [], ())
            for k, p in enumerate(parts)
        )
        return rebuilt, None, True

    async def _take_in(self, ids: list[int], fresh: list[matching.Candidate]) -> None:
        """Take in a sync's changes (`_replaced`): the next version, and the change kept for the helper (which
        withdraws the same rows from its part 1); or, the parts rebuilt, no helper until one is forked with them, and
        the old parts' pages given back to the system."""
        assert self.parts is not None
        self.parts, self.extra, rebuilt = await asyncio.to_thread(self._replaced, self.parts, self.extra, ids, fresh)
        self.version += 1
        self.reloaded += len(ids)
        if rebuilt:  # a helper holding the old part 1 is of no more use
            self.close()
            self.deltas.clear()
            await asyncio.to_thread(memory.trim)
        elif self.helper is not None:
            self.deltas.append(Delta(self.version, ids))
            if sum(len(d.changed) for d in self.deltas) > DELTAS_KEPT:  # forked afresh on the next ranking
                self.close()
                self.deltas.clear()

    def _shortlist(
        self,
        need: matching.Need,
        weights: matching.Weights,
        pool: matching.CompactPool,
        as_of: dt.date,
        limit: int,
        excluded_limit: int,
    ) -> matching.Shortlist:
        """One part (or the whole) shortlisted for `need`, with this directory's options."""
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
            return self._shortlist(need, weights, pool, as_of, limit, excluded_limit)

        for _ in range(RETRIES + 1):
            parts, extra, snapshot, version = await self.current()
            if len(parts) == 1 and extra is None:
                short = await asyncio.to_thread(shortlist, parts[0])
                assert short.directory is not None
                explained = await self._explain(short, snapshot)
                done = None if explained is None else (*explained, short.directory)
            elif len(parts) == 1:
                done = await self._rank_alone((*parts, *_extra(extra)), snapshot, shortlist, limit, excluded_limit)
            else:
                done = await self._rank_parts(
                    parts, extra, snapshot, version, shortlist, need, weights, as_of, limit, excluded_limit
                )
            if done is not None:
                break
        else:  # the shown providers keep changing: rank and read them under one snapshot, without the helper
            async with self.lock, pooled(self.db) as conn, read_only(conn):
                snapshot, ids = await changes.changed_since(conn, self.snapshot or snapshot)
                if ids:
                    await self._take_in(ids, _candidates.decode(await queries.candidates_by_id(conn, ids)))
                    self.snapshot = snapshot
                assert self.parts is not None
                every = (*self.parts, *_extra(self.extra))
                shorts, summaries = await asyncio.to_thread(_shortlisted, shortlist, every)
                merged = matching.parts.merge(summaries, limit, excluded_limit)
                details = _candidates.decode(await queries.candidates_by_id(conn, list(merged.provider_ids)))
            by_id = {c.provider_id: c for c in details}
            ranking = await asyncio.to_thread(_explained, shorts, merged, by_id)
            assert merged.directory is not None
            done = (ranking, by_id, merged.directory)
        ranking, by_id, directory = done
        return Ranked(ranking=ranking, directory=directory, details=by_id, snapshot=snapshot)

    async def _rank_parts(
        self,
        parts: tuple[matching.CompactPool, ...],
        extra: matching.CompactPool | None,
        snapshot: str,
        version: int,
        shortlist: Callable[[matching.CompactPool], matching.Shortlist],
        need: matching.Need,
        weights: matching.Weights,
        as_of: dt.date,
        limit: int,
        excluded_limit: int,
    ) -> Done | None:
        """A directory in two parts ranked (or None when a shown provider changed since `snapshot`): part 1 by the
        helper, part 0 and the changed providers' pool `extra` by this worker; or (the helper died, or is ahead of
        `version`) all by this worker. While another run has the helper, this one shortlists its own, then waits its
        turn: ranking part 1 in the worker as well would take more memory for no more speed (under load both cores
        are busy anyway)."""
        own = (parts[0], *_extra(extra))
        helper = self.helper
        if helper is None or not helper.alive:
            return await self._rank_alone((*own, parts[1]), snapshot, shortlist, limit, excluded_limit)
        ready = None
        if helper.lock.locked():
            ready = await asyncio.to_thread(_shortlisted, shortlist, own)
        async with helper.lock:
            if helper.alive and helper.version <= version:
                deltas = [d for d in self.deltas if helper.version < d.version <= version]
                asked = HelperShortlist(version, deltas, need, weights, as_of, limit, excluded_limit)
                done = await self._with_helper(helper, asked, ready, own, snapshot, shortlist)
                if not isinstance(done, _Alone):
                    return done
        return await self._rank_alone((*own, parts[1]), snapshot, shortlist, limit, excluded_limit, ready)

    async def _with_helper(
        self,
        helper: Helper,
        asked: HelperShortlist,
        ready: Shortlisted | None,
        own: Sequence[matching.CompactPool],
        snapshot: str,
        shortlist: Callable[[matching.CompactPool], matching.Shortlist],
    ) -> Done | _Alone | None:
        """`_rank_parts` with the helper held (the worker's `own` pools: part 0, then any extra): the ranking, None
        (a shown provider changed), or `ALONE` (the helper failed: rank every part in the worker)."""
        shortlisted, theirs = await self._beside(
            helper, asked, (lambda: ready) if ready is not None else (lambda: _shortlisted(shortlist, own))
        )
        self.deltas = [d for d in self.deltas if d.version > helper.version]
        if isinstance(shortlisted, BaseException):
            raise shortlisted
        if isinstance(theirs, HelperFailed):
            log.warning("%s; ranking both parts in the worker", theirs)
            return ALONE
        shorts, summaries = shortlisted
        # the parts merged: the worker's own (part 0, then any extra), then the helper's part 1
        merged = matching.parts.merge([*summaries, theirs.part], asked.limit, asked.excluded_limit)
        found, changed = await self._details(list(merged.provider_ids), snapshot)
        if changed:
            return None
        by_id = {c.provider_id: c for c in found}
        shown = merged.shown(len(shorts))
        request = HelperExplain(list(shown), [by_id[theirs.part.provider_ids[at]] for at, _ in shown])
        mine, remote = await self._beside(
            helper,
            request,
            lambda: [
                x for k, short in enumerate(shorts) for x in short.explaining().explain_at(by_id, merged.shown(k))
            ],
        )
        if isinstance(mine, BaseException):
            raise mine
        if isinstance(remote, HelperFailed):  # its shortlist is lost with it: rank again, alone
            log.warning("%s; ranking both parts in the worker", remote)
            helper.close()
            return ALONE
        self.helper_runs += 1
        by_rank = {s.rank: s for s in (*mine, *remote.scored)}
        scored = [by_rank[r] for r in range(1, len(merged.order) + 1)]
        assert merged.directory is not None
        return shorts[0].explaining().merged(merged, scored), by_id, merged.directory

    @staticmethod
    async def _beside(
        helper: Helper, request: HelperShortlist | HelperExplain, work: Callable[[], T]
    ) -> tuple[Any, Any]:
        """`helper.beside(...)` in a thread; a ranking cancelled meanwhile gives the helper up (its answer would be
        read by no one, and the next request would find the stream out of step)."""
        try:
            return await asyncio.to_thread(beside, helper, request, work)
        except BaseException:
            helper.close()
            raise

    async def _rank_alone(
        self,
        parts: tuple[matching.CompactPool, ...],
        snapshot: str,
        shortlist: Callable[[matching.CompactPool], matching.Shortlist],
        limit: int,
        excluded_limit: int,
        first: Shortlisted | None = None,
    ) -> Done | None:
        """Every part ranked by this worker, one after the other (None when a shown provider changed); `first`: the
        first parts already shortlisted (by a run that waited for a helper it could not use in the end)."""
        if first is None:
            shorts, summaries = await asyncio.to_thread(_shortlisted, shortlist, parts)
        else:
            more, also = await asyncio.to_thread(_shortlisted, shortlist, parts[len(first[0]) :])
            shorts, summaries = first[0] + more, first[1] + also
        merged = matching.parts.merge(summaries, limit, excluded_limit)
        found, changed = await self._details(list(merged.provider_ids), snapshot)
        if changed:
            return None
        by_id = {c.provider_id: c for c in found}
        ranking = await asyncio.to_thread(_explained, shorts, merged, by_id)
        assert merged.directory is not None
        return ranking, by_id, merged.directory

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


def _extra(extra: matching.CompactPool | None) -> tuple[matching.CompactPool, ...]:
    """The changed providers' pool as parts to rank: itself, or none."""
    return () if extra is None else (extra,)


def _shortlisted(
    shortlist: Callable[[matching.CompactPool], matching.Shortlist], parts: Sequence[matching.CompactPool]
) -> Shortlisted:
    """Each of `parts` shortlisted, and as a part to merge."""
    shorts = [shortlist(p) for p in parts]
    return shorts, [s.part() for s in shorts]


def _explained(
    shorts: Sequence[matching.Shortlist], merged: matching.parts.Merged, details: Mapping[int, matching.Candidate]
) -> matching.Ranking:
    """The ranking of parts all shortlisted here: each explains its own shown providers at their ranks."""
    by_rank = {
        s.rank: s for k, short in enumerate(shorts) for s in short.explaining().explain_at(details, merged.shown(k))
    }
    return shorts[0].explaining().merged(merged, [by_rank[r] for r in range(1, len(merged.order) + 1)])
