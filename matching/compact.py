"""Compact candidate pools: columns and word ids, no text, mergeable.

A caller that keeps a whole directory in memory (one pool per server process, kept exact as
providers change) cannot afford every candidate's text and objects. A :class:`CompactPool` keeps
only the :class:`~matching.columns.Columns` (numeric columns and code pairs of the providers and of
their services, some in narrower dtypes), the names packed in one buffer (:class:`PackedNames`) and a
:class:`~matching.wordscan.WordIndex` of the text (distinct normalised word ids per service and per
organisation), built when the pool is made. :func:`build_compact` makes one from candidates, :meth:`CompactPool.of`
from a full :class:`~matching.pool.CandidatePool`; :func:`concat` and :func:`take_rows` merge such
pools and select rows from them without going back to the candidates, and :func:`replace_rows`
replaces changed providers (drops their rows, appends a pool built from their new versions).

A compact pool never changes once made (every function here returns a new one), so rankings may
read it from several threads at once.

Ranking a compact pool works like ranking any pool; explanations then need the full
:class:`~matching.models.Candidate` of each provider shown, supplied by the caller
(:func:`matching.ranking.shortlist` then :meth:`Shortlist.explain`). Ids inside a merged pool
(pathway, cohort bits, sector, code and word ids) differ from a freshly built pool's, but
nothing in a ranking depends on them: the results are identical (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from types import MappingProxyType
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .columns import (
    Columns,
    Pairs,
    ServiceColumns,
    derived_service_columns,
    gather,
    provider_area_mask,
    provider_ceilings,
    read_only,
)
from .models import Candidate
from .pool import CandidatePool, OverColumns, build_pool, text_units
from .wordscan import Groups, SimilarityMemo, TextMatch, WordIndex

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

    def prefix_keys(self, rows: Int64Array) -> npt.NDArray[np.uint64]:
        """The first 8 bytes of each name ``rows`` as a big-endian number (zero-padded): a name whose key is
        smaller sorts first (UTF-8 byte order is code point order); equal keys need the whole names."""
        buf = np.frombuffer(self.data, dtype=np.uint8)
        starts = self.offsets[rows].astype(np.int64, copy=False)
        lengths = self.offsets[rows + 1] - starts
        at = np.arange(8)
        reads = np.minimum(starts[:, None] + at, max(len(buf) - 1, 0))  # past a name's end: masked below
        first = np.where(at < lengths[:, None], buf[reads] if len(buf) else 0, 0).astype(np.uint8)  # (rows, 8)
        return np.ascontiguousarray(first).view(">u8").reshape(-1).astype(np.uint64)

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


def _small_int_dtype(values: npt.NDArray[np.signedinteger[Any]]) -> Any:
    """The narrowest of int8/16/32/64 holding ``values``."""
    lo, hi = (int(values.min()), int(values.max())) if len(values) else (0, 0)
    return next(t for t in (np.int8, np.int16, np.int32, np.int64) if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max)


@dataclass(frozen=True, slots=True, eq=False)
class CompactPool(OverColumns):
    """Candidates as columns, packed names and a word index of their text: no candidate objects, no text."""

    columns: Columns
    names: PackedNames
    words: WordIndex
    """Distinct normalised words of each text unit (see :func:`matching.pool.text_units`): every service
    row's description and outcomes records, then every candidate's resources text."""
    similar: SimilarityMemo = dc_field(default_factory=dict, compare=False, repr=False)
    """Each query word's similar words in ``words.vocabulary``, once computed (the vocabulary never changes; a
    new pool starts with an empty memo)."""
    withdrawn: npt.NDArray[np.bool_] | None = dc_field(default=None, compare=False, repr=False)
    """Rows no longer in the directory (:func:`withdraw`: their providers changed or left since the pool was made),
    or ``None``. Their columns stay, shared with the pool they were withdrawn from; only a directory ranking
    (``shortlist(..., directory=True)``) reads such a pool, and it passes over them as if they were not there."""

    @property
    def live_count(self) -> int:
        """Rows in the directory: every row, less those withdrawn."""
        return len(self) - (0 if self.withdrawn is None else int(np.count_nonzero(self.withdrawn)))

    def live_rows(self) -> Int64Array | None:
        """The rows not withdrawn, ascending (``None``: every row)."""
        return None if self.withdrawn is None else np.flatnonzero(~self.withdrawn)

    @property
    def by_name(self) -> None:
        """A compact pool keeps no name order (ranking reads the names it needs)."""
        return None

    @property
    def name_rank(self) -> None:
        return None

    def text_matches(
        self, idx: Int64Array, services: Int64Array, service_pos: Int64Array, query: Sequence[str]
    ) -> FloatArray:
        """See :meth:`matching.pool.Pool.text_matches`."""
        units, owner = text_units(len(self.columns.services), idx, services, service_pos)
        return self.words.best_matches(units, query, owner=owner, n=len(idx))

    def service_text_matches(
        self, services: Int64Array, service_pos: Int64Array, m: int, query: Sequence[str], groups: Groups
    ) -> TextMatch:
        """See :meth:`matching.pool.Pool.service_text_matches`."""
        return self.words.text_matches(
            services.astype(np.int64, copy=False),
            query,
            groups,
            service_pos.astype(np.int64, copy=False),
            m,
            self.similar,
        )

    @classmethod
    def of(cls, pool: CandidatePool) -> CompactPool:
        """``pool`` without its candidates' objects and text (its word index is built first, if need be)."""
        index = pool.word_index() if pool.text_index is not None else pool.index_text()
        index = index._replace(words=index.words.astype(_word_dtype(len(index.vocabulary))))
        return _narrow_offsets(cls(columns=_narrow(pool.columns), names=PackedNames.of(pool.names), words=index))


def _narrowed_float(values: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.floating[Any]]:
    """``values`` as float32 when that holds every value exactly (NaN and infinities included), else as given."""
    if values.dtype == np.float32:
        return values
    small = values.astype(np.float32)
    return small if np.array_equal(small.astype(np.float64), values, equal_nan=True) else values


def _narrow(columns: Columns) -> Columns:
    """Narrower storage for the widest columns, exactly (read back through the columns' accessors)."""
    svc = columns.services
    n, k = len(columns), len(svc)
    out: dict[str, Any] = {}
    for field in ("min_age", "max_age", "capacity", "years"):
        out[field] = _narrowed_float(getattr(svc, field))
    if svc.cohort_mask.shape[0] == 1:
        out["cohort_mask"] = svc.cohort_mask.astype(_cohort_dtype(len(svc.cohort_ids)))
    out["pathway"] = svc.pathway.astype(_small_int_dtype(svc.pathway))
    out["service_id"] = svc.service_id.astype(_small_int_dtype(svc.service_id))
    if n < 1 << 31:
        out["owner"] = svc.owner.astype(np.int32)
    for field in _SERVICE_PAIRS:
        pairs = getattr(svc, field)
        if pairs.owner.dtype != np.int32 and k < 1 << 31:
            out[field] = Pairs.build(pairs.owner.astype(np.int32), pairs.item.astype(np.int32), k)
    read_only(*(a for a in out.values() if isinstance(a, np.ndarray)))
    ceil = columns.ceilings
    narrow: dict[str, Any] = {
        "services": replace(svc, **out),
        "ceilings": replace(
            ceil,
            capacity=_narrowed_float(ceil.capacity),
            cohorts=ceil.cohorts.astype(out["cohort_mask"].dtype) if "cohort_mask" in out else ceil.cohorts,
        ),
    }
    for field in _ROW_PAIRS:
        pairs = getattr(columns, field)
        if pairs.owner.dtype != np.int32 and n < 1 << 31:
            narrow[field] = Pairs.build(pairs.owner.astype(np.int32), pairs.item.astype(np.int32), n)
    return replace(columns, **narrow)


def _offsets32(offsets: Any) -> Any:
    """Offsets as int32 when they fit (every offset is below 2**31), read-only."""
    if offsets.dtype == np.int32 or (len(offsets) and int(offsets[-1]) >= 1 << 31):
        return offsets
    small = offsets.astype(np.int32)
    small.flags.writeable = False
    return small


def _narrow_offsets(pool: CompactPool) -> CompactPool:
    """``pool`` with every offsets array (of its pairs, services, word index and names) as int32 where they fit:
    a fifth of a compact pool was int64 offsets. Offsets are only indexed and subtracted, so nothing else changes."""
    cols, svc = pool.columns, pool.columns.services

    def pairs(p: Pairs) -> Pairs:
        return Pairs(owner=p.owner, item=p.item, offsets=_offsets32(p.offsets))

    services = replace(
        svc, offsets=_offsets32(svc.offsets), **_fields({field: pairs(getattr(svc, field)) for field in _SERVICE_PAIRS})
    )
    columns = replace(cols, services=services, **_fields({field: pairs(getattr(cols, field)) for field in _ROW_PAIRS}))
    names = PackedNames(pool.names.data, _offsets32(pool.names.offsets))
    return CompactPool(columns=columns, names=names, words=pool.words._replace(offsets=_offsets32(pool.words.offsets)))


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


@dataclass(frozen=True, slots=True, eq=False)
class _Part:
    """The rows ``rows`` (ascending; ``None``: all) of a compact pool, read one column at a time while pools are
    merged, so that merging never holds a selected copy of a whole pool beside the merged one."""

    pool: CompactPool
    rows: Int64Array | None
    service_rows: Int64Array | None
    service_owner: Any
    """The owner of each selected service row, as a row of the selection."""

    @classmethod
    def of(cls, pool: CompactPool, rows: Int64Array | None = None) -> _Part:
        svc = pool.columns.services
        if rows is None:
            return cls(pool, None, None, svc.owner)
        service_rows, owner = gather(svc.offsets, rows, svc.owner)
        return cls(pool, rows, service_rows, owner)

    @property
    def n(self) -> int:
        return len(self.pool) if self.rows is None else len(self.rows)

    @property
    def k(self) -> int:
        return len(self.pool.columns.services) if self.service_rows is None else len(self.service_rows)

    def row(self, field: str) -> Any:
        values = getattr(self.pool.columns, field)
        return values if self.rows is None else values[self.rows]

    def row_pairs(self, field: str) -> Pairs:
        pairs: Pairs = getattr(self.pool.columns, field)
        return pairs if self.rows is None else _take_pairs(pairs, self.rows)

    def service(self, field: str) -> Any:
        values = getattr(self.pool.columns.services, field)
        return values if self.service_rows is None else values[..., self.service_rows]

    def service_pairs(self, field: str) -> Pairs:
        pairs: Pairs = getattr(self.pool.columns.services, field)
        return pairs if self.service_rows is None else _take_pairs(pairs, self.service_rows)

    def names(self) -> PackedNames:
        return self.pool.names if self.rows is None else self.pool.names.take(self.rows)

    def units(self) -> tuple[Any, Any]:
        """Which of the word index's service units and of its candidate units are kept (``None``: all)."""
        if self.rows is None or self.service_rows is None:
            return None, None
        keep_services = np.zeros(len(self.pool.columns.services), dtype=np.bool_)
        keep_services[self.service_rows] = True
        keep_rows = np.zeros(len(self.pool), dtype=np.bool_)
        keep_rows[self.rows] = True
        return keep_services, keep_rows


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


def _cat(arrays: Sequence[np.ndarray]) -> Any:
    """Concatenated, in the widest of their dtypes."""
    return np.concatenate(arrays).astype(np.result_type(*arrays), copy=False)


def _concat_services(parts: list[_Part], code_maps: list[Int64Array]) -> ServiceColumns:
    svcs = [p.pool.columns.services for p in parts]
    sizes = [p.k for p in parts]
    k, n = sum(sizes), sum(p.n for p in parts)
    pathway_ids = _union([s.pathway_ids for s in svcs])
    cohort_ids = _union([s.cohort_ids for s in svcs])
    words = max(1, (len(cohort_ids) + 63) // 64)
    cohort_mask: npt.NDArray[np.unsignedinteger[Any]] = np.zeros((words, k), dtype=np.uint64)
    base = 0
    for p, s, size in zip(parts, svcs, sizes, strict=True):
        span = slice(base, base + size)
        mask = p.service("cohort_mask").astype(np.uint64, copy=False)
        for code, bit in s.cohort_ids.items():
            bits = (mask[bit >> 6] >> np.uint64(bit & 63)) & np.uint64(1)
            j = cohort_ids[code]
            cohort_mask[j >> 6, span] |= bits << np.uint64(j & 63)
        base += size
    if words == 1:
        cohort_mask = cohort_mask.astype(_cohort_dtype(len(cohort_ids)))
    owners, first = [], 0
    for p in parts:
        owners.append(p.service_owner.astype(np.int64) + first)
        first += p.n
    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
    pathway = np.concatenate(
        [_lookup(s.pathway_ids, pathway_ids)[p.service("pathway")] for p, s in zip(parts, svcs, strict=True)]
    )
    arrays: dict[str, Any] = {
        "owner": owner.astype(np.int32) if n < 1 << 31 else owner,
        "offsets": offsets,
        "service_id": _cat([p.service("service_id") for p in parts]),
        "pathway": pathway.astype(_small_int_dtype(pathway)),
        "cohort_mask": cohort_mask,
        **{field: _cat([p.service(field) for p in parts]) for field in _SERVICE_VALUES},
    }
    read_only(*arrays.values())
    service_areas = _concat_pairs([(p.service_pairs("areas"), None) for p in parts], sizes)
    return ServiceColumns(
        pathway_ids=MappingProxyType(pathway_ids),
        cohort_ids=MappingProxyType(cohort_ids),
        areas=service_areas,
        **derived_service_columns(pathway, len(pathway_ids), service_areas, parts[0].pool.areas),
        **_fields(
            {
                field: _concat_pairs(
                    [(p.service_pairs(field), m) for p, m in zip(parts, code_maps, strict=True)], sizes
                )
                for field in _SERVICE_CODE_PAIRS
            }
        ),
        **arrays,
    )


_SERVICE_VALUES = ("min_age", "max_age", "gender", "capacity", "years", "outcomes", "outcomes_verified")
"""Service columns copied as they are when pools are merged or rows taken."""
_SERVICE_CODE_PAIRS = ("accreditations", "verified_accreditations", "desired", "desired_verified")
"""Service pairs whose items are code ids (``Columns.code_ids``)."""
_SERVICE_PAIRS = ("areas", *_SERVICE_CODE_PAIRS)
_ROW_CODE_PAIRS = ("accreditations", "verified_accreditations", "social_value")
"""Organisation pairs whose items are code ids."""
_ROW_PAIRS = ("premises", *_ROW_CODE_PAIRS)


def _fields(pairs: dict[str, Pairs]) -> dict[str, Any]:
    """Pairs by field name, as keyword arguments of a columns' constructor."""
    return pairs


_WORDS_CHUNK = 1 << 20
"""Words copied at a time when word indices are merged."""


def _concat_index(parts: Sequence[_Part]) -> WordIndex:
    """The parts' word indices as one: every part's kept service units, then every part's kept candidate units.

    The words and their sentence bits (the largest arrays of a pool) are written straight into the merged
    arrays, part by part: no remapped or selected copy of a part's words is made when its word ids stay the
    same (the first part's always do) and it is taken whole.
    """
    vocabulary: dict[str, int] = {}
    remaps: list[Any] = []
    for p in parts:
        known = p.pool.words.vocabulary
        remap = np.fromiter(
            (vocabulary.setdefault(w, len(vocabulary)) for w in known), dtype=np.int32, count=len(known)
        )
        remaps.append(None if bool(np.all(remap == np.arange(len(remap)))) else remap)
    # the spans of units, in the merged order: (part, first unit, end unit, which of them are kept)
    kept_units = [p.units() for p in parts]
    spans = []
    for section in (0, 1):
        for p, remap, keep in zip(parts, remaps, kept_units, strict=True):
            index, ksvc = p.pool.words, len(p.pool.columns.services)
            lo, hi = (0, ksvc) if section == 0 else (ksvc, len(index.offsets) - 1)
            spans.append((index, remap, lo, hi, keep[section]))
    counts = []
    for index, _, lo, hi, keep in spans:
        unit_counts = np.diff(index.offsets[lo : hi + 1])
        counts.append(unit_counts if keep is None else unit_counts[keep])
    offsets = np.zeros(sum(len(c) for c in counts) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=offsets[1:])
    total = int(offsets[-1])
    words = np.empty(total, dtype=_word_dtype(len(vocabulary)))
    bits = np.empty(total, dtype=np.uint8)
    at = 0
    for index, remap, lo, hi, keep in spans:
        a, b = int(index.offsets[lo]), int(index.offsets[hi])
        kept = None if keep is None else np.repeat(keep, np.diff(index.offsets[lo : hi + 1]))
        for start in range(a, b, _WORDS_CHUNK):  # in chunks: no whole-size temporary copies
            end = min(start + _WORDS_CHUNK, b)
            chosen_words, chosen_bits = index.words[start:end], index.bits[start:end]
            if kept is not None:
                chosen = kept[start - a : end - a]
                chosen_words, chosen_bits = chosen_words[chosen], chosen_bits[chosen]
            size = len(chosen_words)
            words[at : at + size] = chosen_words if remap is None else remap[chosen_words]
            bits[at : at + size] = chosen_bits
            at += size
    return WordIndex(offsets, words, list(vocabulary), bits)


def concat(pools: Sequence[CompactPool | CandidatePool], areas: AreaTree) -> CompactPool:
    """One compact pool holding the rows of ``pools`` in order, less those withdrawn (their provider ids must be
    distinct).

    A full pool among them is made compact first.
    """
    compacts = (p if isinstance(p, CompactPool) else CompactPool.of(p) for p in pools if len(p))
    parts = [p for p in compacts if p.live_count]
    if not parts:
        return empty(areas)
    if len(parts) == 1 and parts[0].withdrawn is None:
        return parts[0]
    for p in parts:
        if p.areas != areas:
            raise ValueError("pools built with different area trees")
    return _merge([_Part.of(p, p.live_rows()) for p in parts], areas)


def _merge(parts: list[_Part], areas: AreaTree) -> CompactPool:
    cols = [p.pool.columns for p in parts]
    sizes = [p.n for p in parts]

    sector_ids = _union([c.sector_ids for c in cols])
    code_ids = _union([c.code_ids for c in cols])
    sector = np.concatenate(
        [_lookup(c.sector_ids, sector_ids)[p.row("sector")] for c, p in zip(cols, parts, strict=True)]
    )
    code_maps = [_lookup(c.code_ids, code_ids) for c in cols]

    arrays: dict[str, Any] = {field: np.concatenate([p.row(field) for p in parts]) for field in _ROW_FIELDS}
    arrays["sector"] = sector
    read_only(*arrays.values())
    services = _concat_services(parts, code_maps)
    code_pairs = {
        field: _concat_pairs([(p.row_pairs(field), m) for p, m in zip(parts, code_maps, strict=True)], sizes)
        for field in _ROW_CODE_PAIRS
    }
    columns = Columns(
        areas=areas,
        sector_ids=MappingProxyType(sector_ids),
        premises=_concat_pairs([(p.row_pairs("premises"), None) for p in parts], sizes),
        code_ids=MappingProxyType(code_ids),
        **_fields(code_pairs),
        services=services,
        area_mask=provider_area_mask(services, sum(sizes)),
        ceilings=provider_ceilings(services, code_pairs["accreditations"], sum(sizes)),
        **arrays,
    )
    return _narrow_offsets(
        CompactPool(columns=columns, names=PackedNames.concat([p.names() for p in parts]), words=_concat_index(parts))
    )


def _take_pairs(pairs: Pairs, rows: Int64Array) -> Pairs:
    positions, which = pairs.gather(rows)
    if len(rows) < 1 << 31:
        return Pairs.build(which.astype(np.int32), pairs.item[positions].astype(np.int32), len(rows))
    return Pairs.build(which, pairs.item[positions], len(rows))


_ROW_FIELDS = (
    "provider_id",
    "income",
    "reserves",
    "founded_year",
    "confirmed_ordinal",
    "volunteers",
    "match_funding",
    "partner_count",
    "funding_source_count",
)
"""Organisation columns copied as they are (``sector`` is remapped)."""


def withdraw(pool: CompactPool, ids: Sequence[int]) -> CompactPool:
    """``pool`` with the rows of the providers ``ids`` (unknown ids ignored) withdrawn: a directory ranking passes
    over them. Every column is the same array as ``pool``'s (only the withdrawn mask is new), so a process that
    forked with ``pool`` keeps sharing its pages, where :func:`replace_rows` would copy them all. The providers'
    new versions go in another pool, ranked beside this one (:mod:`matching.parts`)."""
    hit = np.isin(pool.provider_id, np.asarray(ids, dtype=np.int64))
    if not hit.any():
        return pool
    withdrawn = hit if pool.withdrawn is None else hit | pool.withdrawn
    withdrawn.flags.writeable = False
    return replace(pool, withdrawn=withdrawn)


def take_rows(pool: CompactPool, rows: Int64Array) -> CompactPool:
    """A compact pool of the rows ``rows`` (ascending) of ``pool``, less any withdrawn."""
    taken = np.asarray(rows, dtype=np.int64)
    if pool.withdrawn is not None:
        taken = taken[~pool.withdrawn[taken]]
    return _merge([_Part.of(pool, taken)], pool.areas)


def replace_rows(pool: CompactPool, remove: Sequence[int], add: Sequence[Candidate]) -> CompactPool:
    """``pool`` without the providers ``remove`` (ids; unknown ids ignored) and its withdrawn rows, with ``add``
    appended.

    Raises :class:`~matching.errors.InvalidCandidate` for an invalid or duplicate candidate in ``add``
    (the pool is then unchanged).
    """
    areas = pool.areas
    added = build_compact(add, areas) if add else None
    drop = np.asarray(sorted({*remove, *(c.provider_id for c in add)}), dtype=np.int64)
    gone = np.isin(pool.provider_id, drop) if len(drop) else None
    if pool.withdrawn is not None:  # withdrawn rows are dropped too
        gone = pool.withdrawn if gone is None else gone | pool.withdrawn
    keep = None if gone is None else np.flatnonzero(~gone)
    parts = [_Part.of(pool, None if keep is None or len(keep) == len(pool) else keep)]
    if added is not None and len(added):
        parts.append(_Part.of(added))
    if len(parts) == 1 and parts[0].rows is None:
        return pool
    return _merge(parts, areas)
