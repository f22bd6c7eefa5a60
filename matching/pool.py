"""Columnar, need-independent representation of a set of candidates.

Building a :class:`CandidatePool` costs one pass over the Python objects; ranking
against a pool is then pure numpy / rapidfuzz work. Build a pool once per
marketplace snapshot and rank many needs against it. ``rank`` also accepts a
plain sequence of candidates and builds the pool itself.

Variable-length attributes (coverage areas, premises, accreditations, text
words) are stored as flat ``(owner, item)`` pairs sorted by owner.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from itertools import chain
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .errors import InvalidCandidate
from .models import Candidate
from .vocab import COHORT_BIT, PATHWAY_INDEX, PATHWAYS, SECTOR_INDEX, SOCIAL_VALUE_ACCREDITATIONS, cohort_mask
from .wordindex import index_words

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Pairs:
    """Flat variable-length attribute: ``item[k]`` belongs to candidate ``owner[k]``.

    ``owner`` is ascending and candidate ``i`` owns ``item[offsets[i]:offsets[i + 1]]``.
    """

    owner: IntArray
    item: IntArray
    offsets: npt.NDArray[np.int64]

    def of(self, i: int) -> list[int]:
        """Items of candidate ``i``."""
        items: list[int] = self.item[self.offsets[i] : self.offsets[i + 1]].tolist()
        return items

    def gather(self, idx: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Positions into ``item`` of the candidates ``idx`` and, for each, its index within ``idx``."""
        starts = self.offsets[idx]
        lengths = self.offsets[idx + 1] - starts
        total = int(lengths.sum())
        which = np.repeat(np.arange(len(idx), dtype=np.int64), lengths)
        shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths) if len(idx) else starts
        return np.arange(total, dtype=np.int64) + shift, which


@dataclass(frozen=True, slots=True, eq=False)
class CandidatePool:
    """Candidates as numpy columns; pathway-indexed arrays have shape ``(len(PATHWAYS), n)``."""

    areas: AreaTree
    candidates: tuple[Candidate, ...]
    names: tuple[str, ...]
    provider_id: npt.NDArray[np.int64]
    name_rank: npt.NDArray[np.int64]
    """Position of each candidate when sorted by ``(name, provider_id)``: the tie-break key."""
    by_name: npt.NDArray[np.int64]
    """Candidate indices in ``(name, provider_id)`` order (inverse of ``name_rank``)."""
    sector: npt.NDArray[np.int8]
    offered: npt.NDArray[np.bool_]
    cohort_mask: npt.NDArray[np.uint8]
    years: FloatArray
    outcomes: npt.NDArray[np.bool_]
    capacity: FloatArray
    income: FloatArray
    reserves: FloatArray
    founded_year: FloatArray
    confirmed_ordinal: FloatArray
    volunteers: FloatArray
    match_funding: FloatArray
    partner_count: FloatArray
    funding_source_count: FloatArray
    social_value_count: FloatArray
    quality_accreditation_count: FloatArray
    coverage: Pairs
    """Area node indices covered, reduced to an antichain (no code nested in another)."""
    premises: Pairs
    accreditations: Pairs
    accreditation_ids: Mapping[str, int]
    words: Pairs
    vocabulary: tuple[str, ...]
    """Normalised words of expertise descriptions + resources text."""

    def __len__(self) -> int:
        return len(self.candidates)

    @classmethod
    def build(cls, candidates: Iterable[Candidate], areas: AreaTree) -> CandidatePool:
        """Validate candidates and lay them out as columns.

        Work is done field by field with C-level iteration where possible and
        caches for repeated tuples (coverage lists, accreditation sets, cohort
        lists), so the per-candidate Python overhead is a few microseconds.
        """
        cands = tuple(candidates)
        n = len(cands)
        names = tuple(c.name for c in cands)
        pids = np.fromiter((c.provider_id for c in cands), dtype=np.int64, count=n)
        uniq, counts = np.unique(pids, return_counts=True)
        if len(uniq) != n:
            raise InvalidCandidate(int(uniq[counts > 1][0]), "provider_id", "duplicate provider_id")

        sector_codes = [c.sector for c in cands]
        for i, code in enumerate(sector_codes):
            if code not in SECTOR_INDEX:
                raise InvalidCandidate(int(pids[i]), "sector", f"unknown sector {code!r}")
        sector = np.fromiter(map(SECTOR_INDEX.__getitem__, sector_codes), dtype=np.int8, count=n)

        offered, cohort, years, outcomes = _expertise_columns(cands, pids)
        texts = [" ".join([*(e.description for e in c.expertise), c.resources_text]) for c in cands]
        w_owner, w_item, vocabulary = index_words(texts)

        area_cache: dict[tuple[str, ...], tuple[int, ...]] = {}
        coverage = _area_pairs((c.coverage for c in cands), areas, area_cache)
        premises = _area_pairs((c.premises_areas for c in cands), areas, area_cache)
        accreditations, acc_ids, qual_count, sv_acc = _accreditation_columns(cands)
        sv_count = np.fromiter(
            (len(set(c.social_value) | extra) for c, extra in zip(cands, sv_acc, strict=True)),
            dtype=np.float64,
            count=n,
        )

        capacity = _floats((c.capacity for c in cands), n)
        income = _floats((c.annual_income for c in cands), n)
        volunteers = np.nan_to_num(_floats((c.volunteers for c in cands), n), nan=0.0)  # missing -> none
        match_funding = np.nan_to_num(_floats((c.match_funding_per_year for c in cands), n), nan=0.0)
        for field, col in (
            ("capacity", capacity),
            ("annual_income", income),
            ("volunteers", volunteers),
            ("match_funding_per_year", match_funding),
        ):
            bad = np.flatnonzero(col < 0)
            if len(bad):
                raise InvalidCandidate(int(pids[bad[0]]), field, "must not be negative")

        by_name = np.asarray(sorted(np.argsort(pids, kind="stable").tolist(), key=names.__getitem__), dtype=np.int64)
        name_rank = np.empty(n, dtype=np.int64)
        name_rank[by_name] = np.arange(n, dtype=np.int64)

        arrays: dict[str, np.ndarray] = dict(
            provider_id=pids,
            name_rank=name_rank,
            by_name=by_name,
            sector=sector,
            offered=offered,
            cohort_mask=cohort,
            years=years,
            outcomes=outcomes,
            capacity=capacity,
            income=income,
            reserves=_floats((c.reserves_months for c in cands), n),
            founded_year=_floats((c.founded_year for c in cands), n),
            confirmed_ordinal=_floats((_ordinal(c.last_confirmed) for c in cands), n),
            volunteers=volunteers,
            match_funding=match_funding,
            partner_count=_distinct_counts((c.partner_organisations for c in cands), n),
            funding_source_count=_distinct_counts((c.funding_sources for c in cands), n),
            social_value_count=sv_count,
            quality_accreditation_count=qual_count,
        )
        for a in arrays.values():
            a.flags.writeable = False
        return cls(
            areas=areas,
            candidates=cands,
            names=names,
            coverage=coverage,
            premises=premises,
            accreditations=accreditations,
            accreditation_ids=MappingProxyType(acc_ids),
            words=_frozen_pairs(w_owner.astype(np.int32), w_item, n),
            vocabulary=vocabulary,
            **arrays,
        )


def _expertise_columns(
    cands: tuple[Candidate, ...], pids: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint8], FloatArray, npt.NDArray[np.bool_]]:
    """Pathway-major arrays: offered, cohort mask, max years, outcomes evidence present."""
    n = len(cands)
    counts = np.fromiter(map(len, (c.expertise for c in cands)), dtype=np.int64, count=n)
    owner = np.repeat(np.arange(n), counts)
    lines = list(chain.from_iterable(c.expertise for c in cands))
    k = len(lines)

    def fail(pos: int, field: str, problem: str) -> InvalidCandidate:
        return InvalidCandidate(int(pids[owner[pos]]), field, problem)

    paths = [e.pathway for e in lines]
    unknown = set(paths).difference(PATHWAY_INDEX)
    if unknown:
        pos = next(i for i, code in enumerate(paths) if code in unknown)
        raise fail(pos, "expertise.pathway", f"unknown pathway {paths[pos]!r}")
    cohort_lists = [e.cohorts if type(e.cohorts) is tuple else tuple(e.cohorts) for e in lines]
    masks: dict[tuple[str, ...], int] = {}
    for key in set(cohort_lists):
        bad = [code for code in key if code not in COHORT_BIT]
        if bad:
            raise fail(cohort_lists.index(key), "expertise.cohorts", f"unknown cohort {bad[0]!r}")
        masks[key] = cohort_mask(key)
    years_in = np.fromiter((e.years_experience for e in lines), dtype=np.float64, count=k)
    bad_years = np.flatnonzero(~(years_in >= 0) | np.isinf(years_in))
    if len(bad_years):
        raise fail(int(bad_years[0]), "expertise.years_experience", "must be a finite number >= 0")

    P = len(PATHWAYS)
    offered = np.zeros((P, n), dtype=np.bool_)
    cohort = np.zeros((P, n), dtype=np.uint8)
    years = np.zeros((P, n), dtype=np.float64)
    outcomes = np.zeros((P, n), dtype=np.bool_)
    if k:
        flat = np.fromiter(map(PATHWAY_INDEX.__getitem__, paths), dtype=np.int64, count=k) * n + owner
        offered.reshape(-1)[flat] = True
        np.bitwise_or.at(cohort.reshape(-1), flat, np.fromiter(map(masks.__getitem__, cohort_lists), np.uint8, k))
        np.maximum.at(years.reshape(-1), flat, years_in)
        has = np.fromiter((bool(e.outcomes_evidence and not e.outcomes_evidence.isspace()) for e in lines), np.bool_, k)
        outcomes.reshape(-1)[flat[has]] = True
    return offered, cohort, years, outcomes


def _area_pairs(
    code_lists: Iterable[tuple[str, ...]], areas: AreaTree, cache: dict[tuple[str, ...], tuple[int, ...]]
) -> Pairs:
    """Area codes per candidate as node-index antichains (unknown codes ignored)."""
    nodes: list[tuple[int, ...]] = []
    for codes in code_lists:
        key = codes if type(codes) is tuple else tuple(codes)
        got = cache.get(key)
        if got is None:
            got = cache[key] = areas.reduce(key)
        nodes.append(got)
    return _pairs_from_lists(nodes)


def _accreditation_columns(
    cands: tuple[Candidate, ...],
) -> tuple[Pairs, dict[str, int], FloatArray, list[frozenset[str]]]:
    """Accreditation id pairs, code -> id, quality-accreditation counts, social-value accreditation codes."""
    acc_ids: dict[str, int] = {}
    cache: dict[tuple[str, ...], tuple[tuple[int, ...], int, frozenset[str]]] = {}
    per: list[tuple[tuple[int, ...], int, frozenset[str]]] = []
    for c in cands:
        key = c.accreditations if type(c.accreditations) is tuple else tuple(c.accreditations)
        got = cache.get(key)
        if got is None:
            codes = set(key)
            sv = frozenset(codes & SOCIAL_VALUE_ACCREDITATIONS)
            ids = tuple(sorted(acc_ids.setdefault(code, len(acc_ids)) for code in sorted(codes)))
            got = cache[key] = (ids, len(codes) - len(sv), sv)
        per.append(got)
    pairs = _pairs_from_lists([p[0] for p in per])
    qual = np.fromiter((p[1] for p in per), dtype=np.float64, count=len(per))
    return pairs, acc_ids, qual, [p[2] for p in per]


def _distinct_counts(lists: Iterable[tuple[str, ...]], n: int) -> FloatArray:
    """Number of distinct non-blank entries per candidate (case-insensitive)."""
    return np.fromiter(
        (len({s.strip().casefold() for s in xs} - {""}) if xs else 0 for xs in lists), dtype=np.float64, count=n
    )


def _floats(values: Iterable[float | int | None], n: int) -> FloatArray:
    return np.fromiter((math.nan if v is None else v for v in values), dtype=np.float64, count=n)


def _ordinal(d: date | None) -> int | None:
    return None if d is None else d.toordinal()


def _pairs_from_lists(lists: list[tuple[int, ...]]) -> Pairs:
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    item = np.fromiter(chain.from_iterable(lists), dtype=np.int32, count=int(counts.sum()))
    owner = np.repeat(np.arange(len(lists), dtype=np.int32), counts)
    return _frozen_pairs(owner, item, len(lists))


def _frozen_pairs(owner: IntArray, item: IntArray, n: int) -> Pairs:
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
    for a in (owner, item, offsets):
        a.flags.writeable = False
    return Pairs(owner=owner, item=item, offsets=offsets)
