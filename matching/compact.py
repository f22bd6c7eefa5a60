"""Compact candidate pools: columns and word ids, no text, mergeable.

A caller that keeps a whole directory in memory (one pool per server process, kept exact as
providers change) cannot afford every candidate's text and objects. A :class:`CompactPool` keeps
only the :class:`~matching.columns.Columns` (numeric columns and code pairs, some in narrower
dtypes), the names packed in one buffer (:class:`PackedNames`) and a
:class:`~matching.wordscan.WordIndex` of the text (distinct normalised word ids per candidate),
built when the pool is made. :func:`build_compact` makes one from candidates, :meth:`CompactPool.of`
from a full :class:`~matching.pool.CandidatePool`; :func:`concat` and :func:`take_rows` merge such
pools and select rows from them without going back to the candidates, and :func:`replace_rows`
replaces changed providers (drops their rows, appends a pool built from their new versions).

A compact pool never changes once made (every function here returns a new one), so rankings may
read it from several threads at once.

Ranking a compact pool works like ranking any pool; explanations then need the full
:class:`~matching.models.Candidate` of each provider shown, supplied by the caller
(:func:`matching.ranking.shortlist` then :meth:`Shortlist.explain`). Ids inside a merged pool
(pathway rows, cohort bits, sector, code and word ids) differ from a freshly built pool's, but
nothing in a ranking depends on them: the results are identical (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .columns import Columns, Pairs, read_only
from .models import Candidate
from .pool import CandidatePool, OverColumns, build_pool
from .wordscan import WordIndex

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


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

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
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


@dataclass(frozen=True, slots=True, eq=False)
class CompactPool(OverColumns):
    """Candidates as columns, packed names and a word index of their text: no candidate objects, no text."""

    columns: Columns
    names: PackedNames
    words: WordIndex
    """Distinct normalised words of each row's text (expertise descriptions and resources text)."""

    @property
    def by_name(self) -> None:
        """A compact pool keeps no name order (ranking reads the names it needs)."""
        return None

    @property
    def name_rank(self) -> None:
        return None

    def word_matches(self, idx: Int64Array, query: Sequence[str]) -> FloatArray:
        """See :meth:`matching.pool.Pool.word_matches`."""
        return self.words.best_matches(idx, query)

    @classmethod
    def of(cls, pool: CandidatePool) -> CompactPool:
        """``pool`` without its candidates' objects and text (its word index is built first, if need be)."""
        index = pool.word_index() if pool.text_index is not None else pool.index_text()
        index = index._replace(words=index.words.astype(_word_dtype(len(index.vocabulary))))
        return cls(
            columns=replace(pool.columns, **_narrow(pool.columns)), names=PackedNames.of(pool.names), words=index
        )


def _narrow(columns: Columns) -> dict[str, Any]:
    """Narrower storage for the widest columns, exactly (read back through the columns' accessors)."""
    out: dict[str, Any] = {}
    n = len(columns)
    years = columns.years
    if years.dtype != np.float32 and np.array_equal(years.astype(np.float32).astype(np.float64), years):
        out["years"] = years.astype(np.float32)
    if columns.cohort_mask.shape[0] == 1:
        out["cohort_mask"] = columns.cohort_mask.astype(_cohort_dtype(len(columns.cohort_ids)))
    for field in ("coverage", "premises", "accreditations", "social_value"):
        pairs = getattr(columns, field)
        if pairs.owner.dtype != np.int32 and n < 1 << 31:
            out[field] = Pairs.build(pairs.owner.astype(np.int32), pairs.item.astype(np.int32), n)
    read_only(*(a for a in out.values() if isinstance(a, np.ndarray)))
    return out


def build_compact(candidates: Sequence[Candidate], areas: AreaTree) -> CompactPool:
    """``CompactPool.of(CandidatePool.build(candidates, areas))`` without computing the name order.

    Raises :class:`~matching.errors.InvalidCandidate` as :meth:`CandidatePool.build` does.
    """
    return CompactPool.of(build_pool(tuple(candidates), areas, pathway=None, order=False))


def empty(areas: AreaTree) -> CompactPool:
    """A compact pool of no candidates."""
    return build_compact((), areas)


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
    owner, item = np.concatenate(owners), np.concatenate(items)
    if base < 1 << 31:
        return Pairs.build(owner.astype(np.int32, copy=False), item.astype(np.int32, copy=False), base)
    return Pairs.build(owner.astype(np.int64, copy=False), item.astype(np.int64, copy=False), base)


def concat(pools: Sequence[CompactPool | CandidatePool], areas: AreaTree) -> CompactPool:
    """One compact pool holding the rows of ``pools`` in order (their provider ids must be distinct).

    A full pool among them is made compact first.
    """
    parts = [p if isinstance(p, CompactPool) else CompactPool.of(p) for p in pools if len(p)]
    if not parts:
        return empty(areas)
    if len(parts) == 1:
        return parts[0]
    for p in parts:
        if p.areas != areas:
            raise ValueError("pools built with different area trees")
    cols = [p.columns for p in parts]
    sizes = [len(c) for c in cols]
    n = sum(sizes)

    pathway_ids = _union([c.pathway_ids for c in cols])
    cohort_ids = _union([c.cohort_ids for c in cols])
    sector_ids = _union([c.sector_ids for c in cols])
    code_ids = _union([c.code_ids for c in cols])
    P = len(pathway_ids)
    words = max(1, (len(cohort_ids) + 63) // 64)
    offered = np.zeros((P, n), dtype=np.bool_)
    years = np.zeros((P, n), dtype=np.result_type(*(c.years.dtype for c in cols)))
    outcomes = np.zeros((P, n), dtype=np.bool_)
    cohort_mask: npt.NDArray[np.unsignedinteger[Any]] = np.zeros((words, P, n), dtype=np.uint64)
    base = 0
    for c, size in zip(cols, sizes, strict=True):
        span = slice(base, base + size)
        for code, row in c.pathway_ids.items():
            r = pathway_ids[code]
            offered[r, span] = c.offered[row]
            years[r, span] = c.years[row]
            outcomes[r, span] = c.outcomes[row]
            mask = c.cohort_mask.astype(np.uint64, copy=False)
            for code_c, k in c.cohort_ids.items():
                bits = (mask[k >> 6, row] >> np.uint64(k & 63)) & np.uint64(1)
                if bits.any():
                    j = cohort_ids[code_c]
                    cohort_mask[j >> 6, r, span] |= bits << np.uint64(j & 63)
        base += size
    if words == 1:
        cohort_mask = cohort_mask.astype(_cohort_dtype(len(cohort_ids)))

    sector = np.concatenate([_lookup(c.sector_ids, sector_ids)[c.sector] for c in cols])
    code_maps = [_lookup(c.code_ids, code_ids) for c in cols]

    vocabulary: dict[str, int] = {}
    word_parts, counts = [], []
    for p in parts:
        index = p.words
        remap = np.fromiter(
            (vocabulary.setdefault(w, len(vocabulary)) for w in index.vocabulary),
            dtype=np.int32,
            count=len(index.vocabulary),
        )
        word_parts.append(remap[index.words] if len(index.words) else index.words)
        counts.append(np.diff(index.offsets))
    word_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=word_offsets[1:])
    index = WordIndex(word_offsets, np.concatenate(word_parts).astype(_word_dtype(len(vocabulary))), list(vocabulary))

    def cat(field: str) -> Any:
        return np.concatenate([getattr(c, field) for c in cols])

    arrays: dict[str, Any] = {
        "provider_id": cat("provider_id"),
        "offered": offered,
        "years": years,
        "outcomes": outcomes,
        "cohort_mask": cohort_mask,
        "sector": sector,
        "capacity": cat("capacity"),
        "income": cat("income"),
        "reserves": cat("reserves"),
        "founded_year": cat("founded_year"),
        "confirmed_ordinal": cat("confirmed_ordinal"),
        "volunteers": cat("volunteers"),
        "match_funding": cat("match_funding"),
        "partner_count": cat("partner_count"),
        "funding_source_count": cat("funding_source_count"),
    }
    read_only(*arrays.values())
    columns = Columns(
        areas=areas,
        pathway_ids=MappingProxyType(pathway_ids),
        cohort_ids=MappingProxyType(cohort_ids),
        sector_ids=MappingProxyType(sector_ids),
        coverage=_concat_pairs([(c.coverage, None) for c in cols], sizes),
        premises=_concat_pairs([(c.premises, None) for c in cols], sizes),
        code_ids=MappingProxyType(code_ids),
        accreditations=_concat_pairs([(c.accreditations, m) for c, m in zip(cols, code_maps, strict=True)], sizes),
        social_value=_concat_pairs([(c.social_value, m) for c, m in zip(cols, code_maps, strict=True)], sizes),
        **arrays,
    )
    return CompactPool(columns=columns, names=PackedNames.concat([p.names for p in parts]), words=index)


def _take_pairs(pairs: Pairs, rows: Int64Array) -> Pairs:
    positions, which = pairs.gather(rows)
    return Pairs.build(which, pairs.item[positions], len(rows))


_ROW_FIELDS = (
    "provider_id",
    "sector",
    "capacity",
    "income",
    "reserves",
    "founded_year",
    "confirmed_ordinal",
    "volunteers",
    "match_funding",
    "partner_count",
    "funding_source_count",
)


def take_rows(pool: CompactPool, rows: Int64Array) -> CompactPool:
    """A compact pool of the rows ``rows`` (ascending) of ``pool``."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = pool.columns
    index = pool.words
    starts = index.offsets[rows]
    counts = index.offsets[rows + 1] - starts
    positions = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    arrays: dict[str, Any] = {field: getattr(cols, field)[rows] for field in _ROW_FIELDS}
    arrays.update(
        offered=cols.offered[:, rows],
        years=cols.years[:, rows],
        outcomes=cols.outcomes[:, rows],
        cohort_mask=cols.cohort_mask[:, :, rows],
    )
    read_only(*arrays.values())
    columns = replace(
        cols,
        coverage=_take_pairs(cols.coverage, rows),
        premises=_take_pairs(cols.premises, rows),
        accreditations=_take_pairs(cols.accreditations, rows),
        social_value=_take_pairs(cols.social_value, rows),
        **arrays,
    )
    return CompactPool(
        columns=columns, names=pool.names.take(rows), words=WordIndex(offsets, index.words[positions], index.vocabulary)
    )


def replace_rows(pool: CompactPool, remove: Sequence[int], add: Sequence[Candidate]) -> CompactPool:
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
