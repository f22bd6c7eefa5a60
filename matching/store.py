"""Compact candidate pools: columns and word ids, no text, mergeable.

A caller that keeps a whole directory in memory (one pool per server process, kept exact as
providers change) cannot afford every candidate's text and objects. :func:`compact` turns a
reusable :class:`~matching.pool.CandidatePool` into one that keeps only its numeric columns,
its code pairs, its names and a :class:`~matching.wordscan.WordIndex` of its text (distinct
normalised word ids per candidate); :func:`concat` and :func:`take_rows` merge such pools and
select rows from them without going back to the candidates, so the caller can replace changed
providers (drop their rows, append a pool built from their new versions).

Ranking a compact pool works like ranking any pool; explanations then need the full
:class:`~matching.models.Candidate` of each provider shown, supplied by the caller
(:func:`matching.ranking.shortlist` then :meth:`Shortlist.explain`). Ids inside a merged pool
(pathway rows, cohort bits, sector, code and word ids) differ from a freshly built pool's, but
nothing in a ranking depends on them: the results are identical (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .models import Candidate
from .pool import CandidatePool, Pairs, build_pool
from .wordscan import WordIndex

Int64Array = npt.NDArray[np.int64]

_NO_TEXT: tuple[str, ...] = ()


class PackedNames(Sequence[str]):
    """Names as one UTF-8 buffer and offsets: a few bytes each instead of a Python string each."""

    __slots__ = ("data", "offsets")

    def __init__(self, data: bytes, offsets: Int64Array) -> None:
        self.data = data
        self.offsets = offsets

    @classmethod
    def of(cls, names: Sequence[str]) -> PackedNames:
        if isinstance(names, PackedNames):
            return names
        encoded = [name.encode() for name in names]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
        return cls(b"".join(encoded), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.data[self.offsets[i] : self.offsets[i + 1]].decode()

    def take(self, rows: Int64Array) -> PackedNames:
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        data = b"".join(map(self.data.__getitem__, map(slice, starts.tolist(), ends.tolist())))
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(ends - starts, out=offsets[1:])
        return PackedNames(data, offsets)

    @classmethod
    def concat(cls, parts: Sequence[PackedNames]) -> PackedNames:
        offsets = [np.zeros(1, dtype=np.int64)]
        base = 0
        for p in parts:
            offsets.append(p.offsets[1:] + base)
            base += len(p.data)
        return cls(b"".join(p.data for p in parts), np.concatenate(offsets))


def _word_dtype(vocabulary_size: int) -> Any:
    return np.uint16 if vocabulary_size <= 1 << 16 else np.int32


def _cohort_dtype(cohorts: int) -> Any:
    return next((t for t, bits in ((np.uint8, 8), (np.uint16, 16), (np.uint32, 32)) if cohorts <= bits), np.uint64)


def _narrow(pool: CandidatePool) -> dict[str, Any]:
    """Narrower storage for a compact pool's widest columns, exactly (read back through the pool's accessors)."""
    out: dict[str, Any] = {}
    years = pool.years
    if years.dtype != np.float32 and np.array_equal(years.astype(np.float32).astype(np.float64), years):
        out["years"] = years.astype(np.float32)
    if pool.cohort_mask.shape[0] == 1:
        out["cohort_mask"] = pool.cohort_mask.astype(_cohort_dtype(len(pool.cohort_ids)))
    for field in ("coverage", "premises", "accreditations", "social_value"):
        pairs = getattr(pool, field)
        if pairs.owner.dtype != np.int32 and len(pool) < 1 << 31:
            out[field] = Pairs.build(pairs.owner.astype(np.int32), pairs.item.astype(np.int32), len(pool))
    for a in out.values():
        if isinstance(a, np.ndarray):
            a.flags.writeable = False
    return out


def build_compact(candidates: Sequence[Candidate], areas: AreaTree) -> CandidatePool:
    """``compact(CandidatePool.build(candidates, areas))`` without computing the name order."""
    pool = build_pool(tuple(candidates), areas, pathway=None, order=False, reusable=True)
    return compact(pool)


def compact(pool: CandidatePool) -> CandidatePool:
    """The pool without its candidates' objects and text (its word index is built first)."""
    if is_compact(pool):
        return pool
    index = pool.word_index()
    index = index._replace(words=index.words.astype(_word_dtype(len(index.vocabulary))))
    n = len(pool)
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets.flags.writeable = False
    return replace(
        pool,
        **_narrow(pool),
        names=PackedNames.of(pool.names),
        candidates=(),
        descriptions=_NO_TEXT,
        description_offsets=offsets,
        resources=_NO_TEXT,
        by_name=None,
        name_rank=None,
        word_cache={"all": index},
    )


def is_compact(pool: CandidatePool) -> bool:
    return not pool.candidates and pool.word_cache is not None and "all" in pool.word_cache


def empty(areas: AreaTree) -> CandidatePool:
    """A compact pool of no candidates."""
    pool = build_pool((), areas, pathway=None, order=False, reusable=True)
    return replace(pool, names=PackedNames.of(()), word_cache={"all": WordIndex(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), [])})


def _union(maps: Sequence[Any]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for m in maps:
        for code in m:
            out.setdefault(code, len(out))
    return out


def _lookup(old: Any, new: dict[Any, int]) -> Int64Array:
    table = np.zeros(max(len(old), 1), dtype=np.int64)
    for code, k in old.items():
        table[k] = new[code]
    return table


def _concat_pairs(parts: list[tuple[Pairs, Int64Array | None]], sizes: list[int]) -> Pairs:
    owners, items = [], []
    base = 0
    for (pairs, remap), n in zip(parts, sizes, strict=True):
        owners.append(pairs.owner + base)
        items.append(pairs.item if remap is None else remap[pairs.item])
        base += n
    dtype = np.int32 if base < 1 << 31 else np.int64
    owner = np.concatenate(owners).astype(dtype, copy=False)
    item = np.concatenate(items).astype(dtype, copy=False)
    return Pairs.build(owner, item, base)


def _index_of(pool: CandidatePool) -> WordIndex:
    assert pool.word_cache is not None and "all" in pool.word_cache, "a compact pool"
    return pool.word_cache["all"]


def concat(pools: Sequence[CandidatePool], areas: AreaTree) -> CandidatePool:
    """One compact pool holding the rows of ``pools`` in order (their provider ids must be distinct)."""
    pools = [compact(p) for p in pools if len(p)]
    if not pools:
        return empty(areas)
    if len(pools) == 1:
        return pools[0]
    for p in pools:
        if p.areas != areas:
            raise ValueError("pools built with different area trees")
    sizes = [len(p) for p in pools]
    n = sum(sizes)

    pathway_ids = _union([p.pathway_ids for p in pools])
    cohort_ids = _union([p.cohort_ids for p in pools])
    sector_ids = _union([p.sector_ids for p in pools])
    code_ids = _union([p.code_ids for p in pools])
    P = len(pathway_ids)
    words = max(1, (len(cohort_ids) + 63) // 64)
    offered = np.zeros((P, n), dtype=np.bool_)
    years = np.zeros((P, n), dtype=np.result_type(*(p.years.dtype for p in pools)))
    outcomes = np.zeros((P, n), dtype=np.bool_)
    cohort_mask = np.zeros((words, P, n), dtype=np.uint64)
    base = 0
    for p, size in zip(pools, sizes, strict=True):
        cols = slice(base, base + size)
        for code, row in p.pathway_ids.items():
            r = pathway_ids[code]
            offered[r, cols] = p.offered[row]
            years[r, cols] = p.years[row]
            outcomes[r, cols] = p.outcomes[row]
            mask = p.cohort_mask.astype(np.uint64, copy=False)
            for code_c, k in p.cohort_ids.items():
                bits = (mask[k >> 6, row] >> np.uint64(k & 63)) & np.uint64(1)
                if bits.any():
                    j = cohort_ids[code_c]
                    cohort_mask[j >> 6, r, cols] |= bits << np.uint64(j & 63)
        base += size
    if words == 1:
        cohort_mask = cohort_mask.astype(_cohort_dtype(len(cohort_ids)))

    sector = np.concatenate([_lookup(p.sector_ids, sector_ids)[p.sector] for p in pools])
    code_maps = [_lookup(p.code_ids, code_ids) for p in pools]

    vocabulary: dict[str, int] = {}
    word_parts, counts = [], []
    for p in pools:
        index = _index_of(p)
        remap = np.fromiter(
            (vocabulary.setdefault(w, len(vocabulary)) for w in index.vocabulary), dtype=np.int32,
            count=len(index.vocabulary),
        )
        word_parts.append(remap[index.words] if len(index.words) else index.words)
        counts.append(np.diff(index.offsets))
    word_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=word_offsets[1:])
    index = WordIndex(word_offsets, np.concatenate(word_parts).astype(_word_dtype(len(vocabulary))), list(vocabulary))

    def cat(field: str) -> np.ndarray:
        return np.concatenate([getattr(p, field) for p in pools])

    arrays: dict[str, np.ndarray] = dict(
        provider_id=cat("provider_id"),
        offered=offered,
        years=years,
        outcomes=outcomes,
        cohort_mask=cohort_mask,
        sector=sector,
        capacity=cat("capacity"),
        income=cat("income"),
        reserves=cat("reserves"),
        founded_year=cat("founded_year"),
        confirmed_ordinal=cat("confirmed_ordinal"),
        volunteers=cat("volunteers"),
        match_funding=cat("match_funding"),
        partner_count=cat("partner_count"),
        funding_source_count=cat("funding_source_count"),
        description_offsets=np.zeros(n + 1, dtype=np.int64),
    )
    for a in arrays.values():
        a.flags.writeable = False
    return CandidatePool(
        areas=areas,
        candidates=(),
        names=PackedNames.concat([PackedNames.of(p.names) for p in pools]),  # type: ignore[arg-type]
        pathway_ids=MappingProxyType(pathway_ids),
        cohort_ids=MappingProxyType(cohort_ids),
        sector_ids=MappingProxyType(sector_ids),
        coverage=_concat_pairs([(p.coverage, None) for p in pools], sizes),
        premises=_concat_pairs([(p.premises, None) for p in pools], sizes),
        code_ids=MappingProxyType(code_ids),
        accreditations=_concat_pairs([(p.accreditations, m) for p, m in zip(pools, code_maps, strict=True)], sizes),
        social_value=_concat_pairs([(p.social_value, m) for p, m in zip(pools, code_maps, strict=True)], sizes),
        descriptions=_NO_TEXT,
        resources=_NO_TEXT,
        by_name=None,
        name_rank=None,
        word_cache={"all": index},
        **arrays,
    )


def _take_pairs(pairs: Pairs, rows: Int64Array) -> Pairs:
    positions, which = pairs.gather(rows)
    return Pairs.build(which, pairs.item[positions], len(rows))


def take_rows(pool: CandidatePool, rows: Int64Array) -> CandidatePool:
    """A compact pool of the rows ``rows`` (ascending) of a compact pool."""
    if not is_compact(pool):
        pool = compact(pool)
    rows = np.asarray(rows, dtype=np.int64)
    index = _index_of(pool)
    starts = index.offsets[rows]
    counts = index.offsets[rows + 1] - starts
    positions = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    arrays: dict[str, np.ndarray] = {
        field: getattr(pool, field)[rows]
        for field in (
            "provider_id", "sector", "capacity", "income", "reserves", "founded_year", "confirmed_ordinal",
            "volunteers", "match_funding", "partner_count", "funding_source_count",
        )
    }
    arrays.update(
        offered=pool.offered[:, rows],
        years=pool.years[:, rows],
        outcomes=pool.outcomes[:, rows],
        cohort_mask=pool.cohort_mask[:, :, rows],
        description_offsets=np.zeros(len(rows) + 1, dtype=np.int64),
    )
    for a in arrays.values():
        a.flags.writeable = False
    return replace(
        pool,
        names=PackedNames.of(pool.names).take(rows),
        coverage=_take_pairs(pool.coverage, rows),
        premises=_take_pairs(pool.premises, rows),
        accreditations=_take_pairs(pool.accreditations, rows),
        social_value=_take_pairs(pool.social_value, rows),
        word_cache={"all": WordIndex(offsets, index.words[positions], index.vocabulary)},
        **arrays,
    )


def replace_rows(pool: CandidatePool, remove: Sequence[int], add: Sequence[Candidate]) -> CandidatePool:
    """``pool`` without the providers ``remove`` (ids; unknown ids ignored), with ``add`` appended.

    Raises :class:`~matching.errors.InvalidCandidate` for an invalid or duplicate candidate in ``add``
    (the pool is then unchanged).
    """
    areas = pool.areas
    added = build_compact(add, areas) if add else None
    drop = np.asarray(sorted({*remove, *(c.provider_id for c in add)}), dtype=np.int64)
    keep = np.flatnonzero(~np.isin(pool.provider_id, drop)) if len(drop) else None
    kept = pool if keep is None or len(keep) == len(pool) else take_rows(pool, keep)
    return concat([kept, added] if added is not None else [kept], areas)
