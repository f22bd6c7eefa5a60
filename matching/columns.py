"""Candidates as columns: the numeric and code columns shared by every kind of pool.

Building :class:`Columns` reads every field of every candidate once, field by field with
C-level iteration (``map``/``attrgetter``/``np.fromiter``) and numpy, so the Python work per
candidate is a few small steps. A full pool (:class:`matching.pool.CandidatePool`) adds the
candidates themselves, their text and their name order; a compact pool
(:class:`matching.compact.CompactPool`) adds packed names and a word index of the text.

Vocabularies are per build: the pathway, cohort, sector and accreditation / social value codes
are collected from the candidates themselves, so new codes in the data never need a code change
here.

Variable-length attributes (coverage areas, premises, accreditations, social value commitments)
are stored as flat ``(owner, item)`` pairs sorted by owner.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain, repeat
from operator import attrgetter, eq
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .errors import InvalidCandidate
from .models import Candidate, Expertise
from .vocab import is_code

Int64Array = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.signedinteger[Any]]
"""Row or id indices: int64, or int32 where a compact pool narrows them."""
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class Pairs:
    """Flat variable-length attribute: ``item[k]`` belongs to candidate ``owner[k]``.

    ``owner`` is ascending and candidate ``i`` owns ``item[offsets[i]:offsets[i + 1]]``.
    """

    owner: IndexArray
    item: IndexArray
    offsets: Int64Array

    def of(self, i: int) -> list[int]:
        """Items of candidate ``i``."""
        items: list[int] = self.item[self.offsets[i] : self.offsets[i + 1]].tolist()
        return items

    def gather(self, idx: Int64Array) -> tuple[Int64Array, Int64Array]:
        """Positions into ``item`` of the candidates ``idx`` and, for each, its index within ``idx``."""
        starts = self.offsets[idx]
        lengths = self.offsets[idx + 1] - starts
        total = int(lengths.sum())
        which = np.repeat(np.arange(len(idx), dtype=np.int64), lengths)
        shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths) if len(idx) else starts
        return np.arange(total, dtype=np.int64) + shift, which

    @classmethod
    def build(cls, owner: IndexArray, item: IndexArray, n: int) -> Pairs:
        """From pairs already sorted by owner."""
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
        for a in (owner, item, offsets):
            a.flags.writeable = False
        return cls(owner=owner, item=item, offsets=offsets)


@dataclass(frozen=True, slots=True, eq=False)
class Columns:
    """The numeric and code columns of a set of candidates, one entry per candidate (row).

    Pathway-indexed arrays have one row per pathway code found in the candidates' expertise
    (``pathway_ids`` maps code -> row); cohort masks are unsigned words, shape ``(words, pathways,
    n)``, bit ``k`` standing for the cohort with id ``k`` in ``cohort_ids``. A compact pool may keep
    some columns in narrower dtypes (``years`` as float32, one cohort word as uint8/16/32, pairs as
    int32); the accessors below read them back exactly.
    """

    areas: AreaTree
    """The area tree the coverage and premises node indices refer to."""
    provider_id: Int64Array
    pathway_ids: Mapping[str, int]
    offered: BoolArray
    years: npt.NDArray[np.floating[Any]]
    outcomes: BoolArray
    cohort_ids: Mapping[str, int]
    cohort_mask: npt.NDArray[np.unsignedinteger[Any]]
    sector_ids: Mapping[str, int]
    sector: Int64Array
    capacity: FloatArray
    income: FloatArray
    reserves: FloatArray
    founded_year: FloatArray
    confirmed_ordinal: FloatArray
    volunteers: FloatArray
    match_funding: FloatArray
    partner_count: FloatArray
    funding_source_count: FloatArray
    coverage: Pairs
    """Area node indices covered, reduced to an antichain (no code nested in another), ascending."""
    premises: Pairs
    """Premises area node indices, same layout as ``coverage``."""
    code_ids: Mapping[str, int]
    """Accreditation and social value codes -> id (one id space, so the two can be unioned)."""
    accreditations: Pairs
    """Distinct accreditation code ids per candidate."""
    social_value: Pairs
    """Distinct social value code ids per candidate."""

    def __len__(self) -> int:
        return len(self.provider_id)

    # -- per-need views ------------------------------------------------------
    def offered_in(self, code: str) -> BoolArray:
        p = self.pathway_ids.get(code)
        return self.offered[p] if p is not None else np.zeros(len(self), dtype=np.bool_)

    def years_in(self, code: str) -> FloatArray:
        p = self.pathway_ids.get(code)
        return self.years[p].astype(np.float64, copy=False) if p is not None else np.zeros(len(self))

    def outcomes_in(self, code: str) -> BoolArray:
        p = self.pathway_ids.get(code)
        return self.outcomes[p] if p is not None else np.zeros(len(self), dtype=np.bool_)

    def cohorts_in(self, code: str) -> npt.NDArray[np.uint64]:
        """Cohort mask words of every candidate in pathway ``code``, shape ``(words, n)``."""
        p = self.pathway_ids.get(code)
        if p is None:
            return np.zeros((self.cohort_mask.shape[0], len(self)), dtype=np.uint64)
        return self.cohort_mask[:, p, :].astype(np.uint64, copy=False)

    def cohort_words(self, codes: Iterable[str]) -> npt.NDArray[np.uint64]:
        """Mask words (shape ``(words,)``) of the cohort codes known to these columns (others are ignored)."""
        out = np.zeros(self.cohort_mask.shape[0], dtype=np.uint64)
        for code in codes:
            k = self.cohort_ids.get(code)
            if k is not None:
                out[k >> 6] |= np.uint64(1 << (k & 63))
        return out


# -- building --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Screened:
    """Provider ids and expertise lines, read (and validated) from the candidates being laid out."""

    pids: Int64Array
    lines: list[Expertise]
    line_owner: Int64Array
    paths: list[str]


def build_columns(
    cands: Sequence[Candidate], areas: AreaTree, *, pathway: str | None, screened: Screened | None = None
) -> tuple[Columns, Screened]:
    """Validate ``cands`` and lay them out as :class:`Columns`; also returns the expertise lines read.

    ``pathway``: when given, only expertise lines of that pathway get pathway columns (years,
    cohorts, outcomes evidence), which is all a single need uses; ``None`` indexes every pathway.
    ``screened``: provider ids and expertise lines already read (and validated) by screening.

    Raises :class:`InvalidCandidate` for a duplicate ``provider_id``, a pathway, cohort or sector
    that is not a non-empty string, negative years of experience, capacity, income, volunteers or
    match funding.
    """
    n = len(cands)
    pids = provider_ids(cands) if screened is None else screened.pids

    sector_codes = list(map(attrgetter("sector"), cands))
    sector_ids = _code_ids(sector_codes, "sector", pids, None)
    sector = np.fromiter(map(sector_ids.__getitem__, sector_codes), dtype=np.int64, count=n)

    if screened is None:
        lines, line_owner = expertise_lines(cands)
        paths = list(map(attrgetter("pathway"), lines))
        check_pathways(paths, line_owner, pids)
        screened = Screened(pids, lines, line_owner, paths)
    ex = _expertise_columns(screened.lines, screened.line_owner, screened.paths, pids, n, pathway)

    coverage = area_pairs(field_tuples(cands, "coverage"), areas)
    premises = area_pairs(field_tuples(cands, "premises_areas"), areas)
    acc_lists = field_tuples(cands, "accreditations")
    sv_lists = field_tuples(cands, "social_value")
    code_ids: dict[Any, int] = {}
    accreditations = _code_pairs(acc_lists, code_ids)
    social_value = _code_pairs(sv_lists, code_ids)

    capacity = floats(cands, "capacity")
    income = floats(cands, "annual_income")
    volunteers = np.nan_to_num(floats(cands, "volunteers"), nan=0.0)  # missing -> none
    match_funding = np.nan_to_num(floats(cands, "match_funding_per_year"), nan=0.0)
    for field, col in (
        ("capacity", capacity),
        ("annual_income", income),
        ("volunteers", volunteers),
        ("match_funding_per_year", match_funding),
    ):
        bad = np.flatnonzero(col < 0)
        if len(bad):
            raise InvalidCandidate(int(pids[bad[0]]), field, "must not be negative")

    confirmed = list(map(attrgetter("last_confirmed"), cands))
    ordinals = (
        [None if d is None else d.toordinal() for d in confirmed]
        if None in confirmed
        else list(map(date.toordinal, confirmed))
    )
    arrays: dict[str, np.ndarray] = {
        "provider_id": pids,
        "offered": ex.offered,
        "years": ex.years,
        "outcomes": ex.outcomes,
        "cohort_mask": ex.cohort_mask,
        "sector": sector,
        "capacity": capacity,
        "income": income,
        "reserves": floats(cands, "reserves_months"),
        "founded_year": floats(cands, "founded_year"),
        "confirmed_ordinal": _floats_of(ordinals, n),
        "volunteers": volunteers,
        "match_funding": match_funding,
        "partner_count": distinct_counts(field_tuples(cands, "partner_organisations")),
        "funding_source_count": distinct_counts(field_tuples(cands, "funding_sources")),
    }
    read_only(*arrays.values())
    columns = Columns(
        areas=areas,
        pathway_ids=MappingProxyType(ex.pathway_ids),
        cohort_ids=MappingProxyType(ex.cohort_ids),
        sector_ids=MappingProxyType(sector_ids),
        coverage=coverage,
        premises=premises,
        code_ids=MappingProxyType(code_ids),
        accreditations=accreditations,
        social_value=social_value,
        **arrays,
    )
    return columns, screened


def read_only(*arrays: np.ndarray | None) -> None:
    """Mark arrays read-only (columns are shared between rankings running in threads)."""
    for a in arrays:
        if a is not None:
            a.flags.writeable = False


def provider_ids(cands: Sequence[Candidate]) -> Int64Array:
    """``provider_id`` column; raises :class:`InvalidCandidate` on a duplicate."""
    pids = np.fromiter(map(attrgetter("provider_id"), cands), dtype=np.int64, count=len(cands))
    ordered = np.sort(pids)
    dup = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(dup):
        raise InvalidCandidate(int(ordered[dup[0]]), "provider_id", "duplicate provider_id")
    return pids


def expertise_lines(cands: Sequence[Candidate]) -> tuple[list[Expertise], Int64Array]:
    """Every expertise line, candidate by candidate, with the index of its candidate."""
    per, counts = lengths(field_tuples(cands, "expertise"))
    return list(chain.from_iterable(per)), np.repeat(np.arange(len(per), dtype=np.int64), counts)


def check_pathways(paths: list[str], line_owner: Int64Array, pids: Int64Array) -> None:
    """Every pathway code is a non-empty string (raises :class:`InvalidCandidate`)."""
    _code_ids(paths, "expertise.pathway", pids, line_owner)


def line_years(lines: Sequence[Expertise], line_owner: Int64Array, pids: Int64Array) -> FloatArray:
    """``years_experience`` of each line; raises :class:`InvalidCandidate` unless finite and >= 0."""
    years = np.fromiter(map(attrgetter("years_experience"), lines), dtype=np.float64, count=len(lines))
    bad = np.flatnonzero(~(years >= 0) | np.isinf(years))
    if len(bad):
        k = int(bad[0])
        raise InvalidCandidate(int(pids[line_owner[k]]), "expertise.years_experience", "must be a finite number >= 0")
    return years


@dataclass(frozen=True, slots=True, eq=False)
class _ExpertiseColumns:
    pathway_ids: dict[str, int]
    offered: npt.NDArray[np.bool_]
    years: FloatArray
    outcomes: npt.NDArray[np.bool_]
    cohort_ids: dict[str, int]
    cohort_mask: npt.NDArray[np.uint64]


def _expertise_columns(
    lines: list[Expertise], line_owner: Int64Array, paths: list[str], pids: Int64Array, n: int, pathway: str | None
) -> _ExpertiseColumns:
    """Pathway-major arrays: offered, max years, outcomes evidence present, cohort mask words."""
    if pathway is None:
        pathway_ids = {code: k for k, code in enumerate(dict.fromkeys(paths))}
        row = np.fromiter(map(pathway_ids.__getitem__, paths), dtype=np.int64, count=len(paths))
        sel = np.arange(len(paths), dtype=np.int64)
    else:
        sel = np.flatnonzero(np.fromiter(map(eq, paths, repeat(pathway)), dtype=np.bool_, count=len(paths)))
        pathway_ids = {pathway: 0} if len(sel) else {}
        row = np.zeros(len(sel), dtype=np.int64)
    chosen = lines if len(sel) == len(lines) else list(map(lines.__getitem__, sel.tolist()))
    owner = line_owner[sel]
    k = len(chosen)

    years_in = line_years(chosen, owner, pids)
    cohort_lists = _hashable(field_tuples(chosen, "cohorts"))
    distinct = dict.fromkeys(cohort_lists)
    cohort_ids: dict[str, int] = {}
    key_masks: list[int] = []
    for key_no, key in enumerate(distinct):
        mask = 0
        for code in key:
            if not is_code(code):
                pos = cohort_lists.index(key)
                raise InvalidCandidate(
                    int(pids[owner[pos]]), "expertise.cohorts", f"cohorts must be non-empty codes, got {code!r}"
                )
            mask |= 1 << cohort_ids.setdefault(code, len(cohort_ids))
        key_masks.append(mask)
        distinct[key] = key_no
    words = max(1, (len(cohort_ids) + 63) // 64)
    table = np.array(
        [[(m >> (64 * w)) & 0xFFFFFFFFFFFFFFFF for w in range(words)] for m in key_masks] or [[0] * words],
        dtype=np.uint64,
    )
    key_of_line = np.fromiter(map(distinct.__getitem__, cohort_lists), dtype=np.int64, count=k)

    P = len(pathway_ids)
    offered = np.zeros((P, n), dtype=np.bool_)
    years = np.zeros((P, n), dtype=np.float64)
    outcomes = np.zeros((P, n), dtype=np.bool_)
    cohort = np.zeros((words, P, n), dtype=np.uint64)
    if k:
        flat = row * n + owner
        offered.reshape(-1)[flat] = True
        np.maximum.at(years.reshape(-1), flat, years_in)
        for w in range(words):
            np.bitwise_or.at(cohort[w].reshape(-1), flat, table[key_of_line, w])
        evidence = list(map(attrgetter("outcomes_evidence"), chosen))
        has = np.fromiter(map(bool, evidence), dtype=np.bool_, count=k)
        some = np.flatnonzero(has)
        if len(some):
            blank = np.fromiter(map(str.isspace, map(evidence.__getitem__, some.tolist())), np.bool_, len(some))
            has[some[blank]] = False
        outcomes.reshape(-1)[flat[has]] = True
    return _ExpertiseColumns(pathway_ids, offered, years, outcomes, cohort_ids, cohort)


def _code_ids(codes: list[Any], field: str, pids: Int64Array, owner: Int64Array | None) -> dict[str, int]:
    """First-seen id of each distinct code; raises :class:`InvalidCandidate` for a non-code."""
    ids: dict[str, int] = {}
    for code in dict.fromkeys(codes):
        if not is_code(code):
            pos = codes.index(code)
            who = pos if owner is None else int(owner[pos])
            raise InvalidCandidate(int(pids[who]), field, f"must be a non-empty code, got {code!r}")
        ids[code] = len(ids)
    return ids


def field_tuples(items: Sequence[Any], field: str) -> list[Sequence[Any]]:
    """A sequence-valued field of every item, as stored (``None`` allowed; see :func:`lengths`)."""
    return list(map(attrgetter(field), items))


def lengths(values: list[Sequence[Any]]) -> tuple[list[Sequence[Any]], Int64Array]:
    """``(values, len of each)``, reading ``None`` as empty (only checked for when present)."""
    try:
        return values, np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    except TypeError:
        values = [() if v is None else v for v in values]
        return values, np.fromiter(map(len, values), dtype=np.int64, count=len(values))


def _hashable(values: list[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """``values`` as tuples (``None`` read as empty), converting only when needed."""
    try:
        dict.fromkeys(values)
    except TypeError:  # a list among them
        return [() if v is None else v if type(v) is tuple else tuple(v) for v in values]
    if None in values:
        return [() if v is None else v for v in values]  # type: ignore[misc]
    return values  # type: ignore[return-value]


def area_pairs(code_lists: list[Sequence[str]], areas: AreaTree) -> Pairs:
    """Area codes per owner as ascending node-index antichains (unknown codes ignored).

    Equivalent to ``areas.reduce(codes)`` for every owner, vectorised: pairs are
    sorted by (owner, node); in pre-order a node lies inside an earlier node of the
    same owner exactly when it starts before the furthest end seen so far.
    """
    n = len(code_lists)
    code_lists, counts = lengths(code_lists)
    node = areas.index_array(chain.from_iterable(code_lists))
    owner = np.repeat(np.arange(n, dtype=np.int64), counts)
    known = node >= 0
    size = len(areas)
    key = np.sort(owner[known] * size + node[known])
    owner, node = np.divmod(key, size)
    if len(key):
        end = node + areas.sizes[node]
        reach = np.maximum.accumulate(owner * (size + 1) + end)
        before = np.concatenate(([-1], reach[:-1])) - owner * (size + 1)  # furthest end so far (same owner)
        keep = before <= node
        owner, node = owner[keep], node[keep]
    return Pairs.build(np.ascontiguousarray(owner), np.ascontiguousarray(node), n)


def _code_pairs(code_lists: list[Sequence[Any]], ids: dict[Any, int]) -> Pairs:
    """Distinct code ids per owner (ids assigned first-seen in ``ids``, shared across calls)."""
    n = len(code_lists)
    code_lists, counts = lengths(code_lists)
    flat = list(chain.from_iterable(code_lists))
    for code in dict.fromkeys(flat):
        ids.setdefault(code, len(ids))
    item = np.fromiter(map(ids.__getitem__, flat), dtype=np.int64, count=len(flat))
    owner = np.repeat(np.arange(n, dtype=np.int64), counts)
    width = max(len(ids), 1)
    key = sorted_distinct(owner * width + item)
    owner, item = np.divmod(key, width)
    return Pairs.build(np.ascontiguousarray(owner), np.ascontiguousarray(item), n)


def distinct_counts(lists: list[Sequence[str]]) -> FloatArray:
    """Number of distinct non-blank entries per candidate (case-insensitive, surrounding spaces ignored).

    The same as ``len({s.strip().casefold() for s in xs} - {""})`` per candidate.
    Distinctness only matters within a candidate, so instead of a dictionary of every
    string, each entry is compared with the entries before it in the same list: by hash
    first (vectorised, one pass per position), then by string for equal hashes.
    Candidates with long lists are counted with a set.
    """
    n = len(lists)
    lists, counts = lengths(lists)
    out = np.zeros(n)
    if not n or not counts.any():
        return out
    big = np.flatnonzero(counts > _SHORT_LIST)
    for i in big.tolist():
        out[i] = len({s.strip().casefold() for s in lists[i]} - {""})
    if len(big):
        lists = [() if c > _SHORT_LIST else xs for xs, c in zip(lists, counts.tolist(), strict=True)]
        counts[big] = 0
    folded = list(map(str.casefold, map(str.strip, chain.from_iterable(lists))))
    total = len(folded)
    if not total:
        return out
    owner = np.repeat(np.arange(n, dtype=np.int64), counts)
    position = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    h = np.fromiter(map(hash, folded), dtype=np.int64, count=total)
    keep = np.fromiter(map(bool, folded), dtype=np.bool_, count=total)  # blank -> False
    for d in range(1, int(counts.max())):
        later = np.flatnonzero(position >= d)
        same = later[h[later] == h[later - d]]
        if len(same):
            equal = [k for k in same.tolist() if folded[k] == folded[k - d]]
            keep[equal] = False  # repeats an earlier entry of the same list
    out += np.bincount(owner[keep], minlength=n)
    return out


_SHORT_LIST: Final = 16


def sorted_distinct(values: Int64Array) -> Int64Array:
    """``np.unique(values)`` for integers, via a plain sort (faster for these sizes)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def floats(items: Sequence[Any], field: str) -> FloatArray:
    """A numeric field of every item as float64 (``None`` -> NaN)."""
    return _floats_of(list(map(attrgetter(field), items)), len(items))


def _floats_of(values: list[Any], n: int) -> FloatArray:
    try:
        return np.fromiter(values, dtype=np.float64, count=n)
    except TypeError:  # None (unknown) among the values
        return np.fromiter((math.nan if v is None else v for v in values), dtype=np.float64, count=n)


def take(items: Sequence[Any], idx: Int64Array) -> list[Any]:
    """``[items[i] for i in idx]`` at C speed."""
    getter: Callable[[int], Any] = items.__getitem__
    return list(map(getter, idx.tolist()))
