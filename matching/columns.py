"""Candidates as columns: the numeric and code columns shared by every kind of pool.

A provider is one row of :class:`Columns` (its organisation: sector, finances, premises, its own
accreditations...) and each of its services is one row of :class:`ServiceColumns` (pathway, cohorts,
whom it serves, capacity, years, outcomes evidence, areas, accreditations), service rows grouped by
provider. A need reads the service rows of its pathway and aggregates what qualifies per provider
with numpy (see :mod:`matching.screening` and :mod:`matching.scoring`).

Building :class:`Columns` reads every field of every candidate and service once, field by field with
C-level iteration (``map``/``attrgetter``/``np.fromiter``) and numpy, so the Python work per
candidate is a few small steps. A full pool (:class:`matching.pool.CandidatePool`) adds the
candidates themselves, their text and their name order; a compact pool
(:class:`matching.compact.CompactPool`) adds packed names and a word index of the text.

Vocabularies are per build: the pathway, cohort, sector and accreditation / social value codes
are collected from the candidates themselves, so new codes in the data never need a code change
here.

Variable-length attributes (service areas, premises, accreditations, social value commitments)
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
from .models import Candidate, Service
from .vocab import GENDERS, is_code

Int64Array = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.signedinteger[Any]]
"""Row or id indices: int64, or int32 where a compact pool narrows them."""
FloatArray = npt.NDArray[np.float64]
FloatingArray = npt.NDArray[np.floating[Any]]
"""float64, or float32 where a compact pool narrows a column that float32 holds exactly."""
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class Pairs:
    """Flat variable-length attribute: ``item[k]`` belongs to owner ``owner[k]`` (a provider or a service row).

    ``owner`` is ascending and owner ``i`` owns ``item[offsets[i]:offsets[i + 1]]``.
    """

    owner: IndexArray
    item: IndexArray
    offsets: Int64Array

    def of(self, i: int) -> list[int]:
        """Items of owner ``i``."""
        items: list[int] = self.item[self.offsets[i] : self.offsets[i + 1]].tolist()
        return items

    def gather(self, idx: Int64Array) -> tuple[Int64Array, Int64Array]:
        """Positions into ``item`` of the owners ``idx`` and, for each, its index within ``idx``."""
        return gather(self.offsets, idx, self.owner)

    @classmethod
    def build(cls, owner: IndexArray, item: IndexArray, n: int) -> Pairs:
        """From pairs already sorted by owner."""
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
        for a in (owner, item, offsets):
            a.flags.writeable = False
        return cls(owner=owner, item=item, offsets=offsets)


def gather(offsets: Int64Array, idx: Int64Array, owner: IndexArray | None = None) -> tuple[Int64Array, Int64Array]:
    """Positions ``offsets[i]:offsets[i + 1]`` of every ``i`` in ``idx``, concatenated, and for each its index
    within ``idx``.

    ``owner`` (the owner of every position, ascending) allows, when ``idx`` is ascending and a large share of
    the owners, one pass over the positions instead (same result, about twice as fast).
    """
    n = len(offsets) - 1
    if owner is not None and len(idx) * 4 > n and bool(np.all(idx[1:] > idx[:-1])):
        pos_of = np.full(n, -1, dtype=np.int64)
        pos_of[idx] = np.arange(len(idx))
        which_all = pos_of[owner]
        positions = np.flatnonzero(which_all >= 0)
        return positions, which_all[positions]
    starts = offsets[idx]
    counts = offsets[idx + 1] - starts
    total = int(counts.sum())
    which = np.repeat(np.arange(len(idx), dtype=np.int64), counts)
    shift = np.repeat(starts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts) if len(idx) else starts
    return np.arange(total, dtype=np.int64) + shift, which


@dataclass(frozen=True, slots=True, eq=False)
class ServiceColumns:
    """The services of a set of candidates, one row per service, grouped by provider.

    Provider row ``i`` owns service rows ``offsets[i]:offsets[i + 1]`` (``owner`` is ascending). Cohort
    masks are unsigned words, shape ``(words, rows)``, bit ``k`` standing for the cohort with id ``k`` in
    ``cohort_ids``. A compact pool may keep some columns in narrower dtypes (float32 where exact, one cohort
    word as uint8/16/32, pairs and small ids as int32 or narrower); the accessors read them back exactly.
    """

    owner: IndexArray
    """Provider row of each service row, ascending."""
    offsets: Int64Array
    service_id: IndexArray
    pathway_ids: Mapping[str, int]
    pathway: IndexArray
    """Pathway id (in ``pathway_ids``) of each service row."""
    cohort_ids: Mapping[str, int]
    cohort_mask: npt.NDArray[np.unsignedinteger[Any]]
    min_age: FloatingArray
    """Youngest age served (0 when open)."""
    max_age: FloatingArray
    """Oldest age served (infinity when open)."""
    gender: npt.NDArray[np.uint8]
    """Index in :data:`~matching.vocab.GENDERS` of whom it serves (0: both)."""
    capacity: FloatingArray
    """Service users a year (NaN: not stated)."""
    years: FloatingArray
    outcomes: BoolArray
    """At least one outcomes record."""
    outcomes_verified: BoolArray
    """At least one verified outcomes record."""
    areas: Pairs
    """Area node indices of each service row, reduced to an antichain (no code nested in another), ascending."""
    accreditations: Pairs
    """Distinct accreditation code ids (in the :class:`Columns`' ``code_ids``) of each service row."""
    verified_accreditations: Pairs
    """Those of ``accreditations`` an admin has verified (code ids; a code not among them is ignored)."""
    desired: Pairs
    """Distinct desired outcome code ids (in ``code_ids``) named by an outcomes record of each service row."""
    desired_verified: Pairs
    """Distinct desired outcome code ids named by a verified outcomes record of each service row."""
    area_mask: npt.NDArray[np.uint64]
    """Shape ``(words, rows)``: bit ``k`` of word ``k >> 6`` set when the service row lists area node ``k`` (in
    ``areas``): whether a service covers some of a set of areas is one AND (see :func:`area_words`)."""
    by_pathway: Int64Array
    """The service rows grouped by pathway id, ascending within each: pathway ``p``'s rows are
    ``by_pathway[pathway_offsets[p]:pathway_offsets[p + 1]]``."""
    pathway_offsets: Int64Array

    def __len__(self) -> int:
        return len(self.owner)

    def rows_in(self, code: str) -> Int64Array:
        """Service rows in pathway ``code``, ascending."""
        p = self.pathway_ids.get(code)
        if p is None:
            return np.zeros(0, dtype=np.int64)
        return self.by_pathway[self.pathway_offsets[p] : self.pathway_offsets[p + 1]]

    def cohorts_of(self, rows: Int64Array) -> npt.NDArray[np.uint64]:
        """Cohort mask words of the service rows ``rows``, shape ``(words, len(rows))``."""
        return self.cohort_mask[:, rows].astype(np.uint64, copy=False)

    def cohort_words(self, codes: Iterable[str]) -> npt.NDArray[np.uint64]:
        """Mask words (shape ``(words,)``) of the cohort codes known to these columns (others are ignored)."""
        out = np.zeros(self.cohort_mask.shape[0], dtype=np.uint64)
        for code in codes:
            k = self.cohort_ids.get(code)
            if k is not None:
                out[k >> 6] |= np.uint64(1 << (k & 63))
        return out


@dataclass(frozen=True, slots=True, eq=False)
class Columns:
    """The numeric and code columns of a set of candidates, one entry per candidate (row), and their services."""

    areas: AreaTree
    """The area tree the area and premises node indices refer to."""
    provider_id: Int64Array
    sector_ids: Mapping[str, int]
    sector: Int64Array
    income: FloatArray
    reserves: FloatArray
    founded_year: FloatArray
    confirmed_ordinal: FloatArray
    volunteers: FloatArray
    match_funding: FloatArray
    partner_count: FloatArray
    funding_source_count: FloatArray
    premises: Pairs
    """Premises area node indices, reduced to an antichain, ascending."""
    code_ids: Mapping[str, int]
    """Accreditation, social value and desired outcome codes -> id (one id space, so the first two can be
    unioned; services' accreditations and their outcomes records' desired outcomes use it too)."""
    accreditations: Pairs
    """Distinct accreditation code ids of each organisation (its services' are in ``services``)."""
    verified_accreditations: Pairs
    """Those of each organisation's accreditations an admin has verified (code ids)."""
    social_value: Pairs
    """Distinct social value code ids per candidate."""
    services: ServiceColumns
    area_mask: npt.NDArray[np.uint64]
    """Shape ``(words, rows)``: bit ``k`` of word ``k >> 6`` set when one of the candidate's service rows lists
    area node ``k`` (as reduced in ``services.areas``): which candidates cover some of a set of areas, one
    pass over the candidates instead of one over every service's areas (see :func:`area_words`)."""
    ceilings: Ceilings
    """What any need could read of each candidate's services at most (see :class:`Ceilings`)."""

    def __len__(self) -> int:
        return len(self.provider_id)


@dataclass(frozen=True, slots=True, eq=False)
class Ceilings:
    """Per candidate, its services' measures taken over every one of its service rows, whatever their pathway,
    ages, gender or areas: at least what its qualifying services give for any need (see
    :func:`matching.scoring.scoring_ceilings`). Derived from the service columns, like the area masks."""

    capacity: FloatingArray
    """Summed stated capacity (NaN: no service states one)."""
    accreditations: npt.NDArray[np.int32]
    """The organisation's accreditations plus each service's, counted in full."""
    outcomes: BoolArray
    """Some service has an outcomes record."""
    outcomes_verified: BoolArray
    """Some service has a verified outcomes record."""
    cohorts: npt.NDArray[np.unsignedinteger[Any]]
    """Shape ``(words, rows)``: the union of the services' cohort masks."""


def area_words(areas: AreaTree, nodes: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint64]:
    """The mask words (shape ``(words,)``, as :attr:`Columns.area_mask`) of the area nodes where ``nodes`` is true."""
    out = np.zeros(max(1, (len(areas) + 63) // 64), dtype=np.uint64)
    for k in np.flatnonzero(nodes).tolist():
        out[k >> 6] |= np.uint64(1 << (k & 63))
    return out


def derived_service_columns(pathway: IndexArray, pathways: int, areas: Pairs, tree: AreaTree) -> dict[str, Any]:
    """The :class:`ServiceColumns` fields derived from others (``area_mask``, ``by_pathway``, ``pathway_offsets``),
    as keyword arguments: every way of making service columns computes them here."""
    k = len(pathway)
    mask = np.zeros((max(1, (len(tree) + 63) // 64), k), dtype=np.uint64)
    node = areas.item.astype(np.int64, copy=False)
    bit = np.left_shift(np.uint64(1), (node & 63).astype(np.uint64))
    for w in range(mask.shape[0]):
        here = (node >> 6) == w
        np.bitwise_or.at(mask[w], areas.owner[here], bit[here])
    offsets = np.zeros(pathways + 1, dtype=np.int64)
    np.cumsum(np.bincount(pathway, minlength=pathways), out=offsets[1:])
    by_pathway = np.argsort(pathway, kind="stable").astype(np.int64)
    read_only(mask, offsets, by_pathway)
    return {"area_mask": mask, "by_pathway": by_pathway, "pathway_offsets": offsets}


def provider_area_mask(svc: ServiceColumns, n: int) -> npt.NDArray[np.uint64]:
    """:attr:`Columns.area_mask` of ``n`` candidates: the union of their service rows' masks."""
    mask = np.zeros((svc.area_mask.shape[0], n), dtype=np.uint64)
    for w in range(mask.shape[0]):
        np.bitwise_or.at(mask[w], svc.owner, svc.area_mask[w])
    mask.flags.writeable = False
    return mask


def provider_ceilings(svc: ServiceColumns, accreditations: Pairs, n: int) -> Ceilings:
    """:attr:`Columns.ceilings` of ``n`` candidates with the organisation ``accreditations`` and services ``svc``."""
    owner = svc.owner
    capacity = svc.capacity.astype(np.float64, copy=False)
    stated = ~np.isnan(capacity)
    stating = owner[stated]
    summed = np.bincount(stating, weights=capacity[stated], minlength=n).astype(np.float64)
    summed[np.bincount(stating, minlength=n) == 0] = np.nan
    counts = np.diff(accreditations.offsets)[:n] + np.bincount(
        owner, weights=np.diff(svc.accreditations.offsets)[: len(owner)], minlength=n
    )
    cohorts = np.zeros((svc.cohort_mask.shape[0], n), dtype=svc.cohort_mask.dtype)
    for w in range(cohorts.shape[0]):
        np.bitwise_or.at(cohorts[w], owner, svc.cohort_mask[w])
    outcomes, verified = (np.bincount(owner, weights=f, minlength=n) > 0 for f in (svc.outcomes, svc.outcomes_verified))
    ceilings = Ceilings(summed, counts.astype(np.int32), outcomes, verified, cohorts)
    read_only(summed, ceilings.accreditations, outcomes, verified, cohorts)
    return ceilings


# -- building --------------------------------------------------------------------


def build_columns(
    cands: Sequence[Candidate], areas: AreaTree, *, pathway: str | None, pids: Int64Array | None = None
) -> tuple[Columns, list[Service]]:
    """Validate ``cands`` and lay them out as :class:`Columns`; also returns the service of each service row.

    ``pathway``: when given, only the services of that pathway become service rows, which is all a
    single need uses; ``None`` keeps every service. ``pids``: the provider ids, already read (and
    checked for duplicates).

    Raises :class:`InvalidCandidate` for a duplicate ``provider_id`` or service id, a pathway, cohort
    or sector that is not a non-empty string, negative years of experience, capacity, income,
    volunteers or match funding, an age that is negative or an age range upside down, a gender other
    than men, women or both.
    """
    n = len(cands)
    pids = provider_ids(cands) if pids is None else pids

    sector_codes = list(map(attrgetter("sector"), cands))
    sector_ids = _code_ids(sector_codes, "sector", pids, None)
    sector = np.fromiter(map(sector_ids.__getitem__, sector_codes), dtype=np.int64, count=n)

    premises = area_pairs(field_tuples(cands, "premises_areas"), areas)
    code_ids: dict[Any, int] = {}
    accreditations = _code_pairs(field_tuples(cands, "accreditations"), code_ids)
    verified_accreditations = _code_pairs(field_tuples(cands, "verified_accreditations"), code_ids)
    social_value = _code_pairs(field_tuples(cands, "social_value"), code_ids)

    services, owner = service_rows(cands)
    paths = list(map(attrgetter("pathway"), services))
    check_pathways(paths, owner, pids)
    if pathway is not None:
        sel = np.flatnonzero(np.fromiter(map(eq, paths, repeat(pathway)), dtype=np.bool_, count=len(paths)))
        if len(sel) < len(services):
            services, owner, paths = take(services, sel), owner[sel], take(paths, sel)
    svc = _service_columns(services, owner, paths, pids, n, areas, code_ids)

    income = floats(cands, "annual_income")
    volunteers = np.nan_to_num(floats(cands, "volunteers"), nan=0.0)  # missing -> none
    match_funding = np.nan_to_num(floats(cands, "match_funding_per_year"), nan=0.0)
    for field, col in (
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
        "sector": sector,
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
        sector_ids=MappingProxyType(sector_ids),
        premises=premises,
        code_ids=MappingProxyType(code_ids),
        accreditations=accreditations,
        verified_accreditations=verified_accreditations,
        social_value=social_value,
        services=svc,
        area_mask=provider_area_mask(svc, n),
        ceilings=provider_ceilings(svc, accreditations, n),
        **arrays,
    )
    return columns, services


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


def service_rows(cands: Sequence[Candidate]) -> tuple[list[Service], Int64Array]:
    """Every service, candidate by candidate, with the index of its candidate."""
    per, counts = lengths(field_tuples(cands, "services"))
    return list(chain.from_iterable(per)), np.repeat(np.arange(len(per), dtype=np.int64), counts)


def check_pathways(paths: list[str], owner: Int64Array, pids: Int64Array) -> None:
    """Every pathway code is a non-empty string (raises :class:`InvalidCandidate`)."""
    _code_ids(paths, "services.pathway", pids, owner)


def service_years(services: Sequence[Service], owner: Int64Array, pids: Int64Array) -> FloatArray:
    """``years_experience`` of each service; raises :class:`InvalidCandidate` unless finite and >= 0."""
    years = np.fromiter(map(attrgetter("years_experience"), services), dtype=np.float64, count=len(services))
    bad = np.flatnonzero(~(years >= 0) | np.isinf(years))
    if len(bad):
        k = int(bad[0])
        raise InvalidCandidate(int(pids[owner[k]]), "services.years_experience", "must be a finite number >= 0")
    return years


_GENDER_CODE: Final = MappingProxyType({g: k for k, g in enumerate(GENDERS)})


def whom_served(
    services: Sequence[Service], owner: Int64Array, pids: Int64Array
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.uint8]]:
    """(youngest age, 0 when open; oldest age, infinity when open; gender code) of each service.

    Raises :class:`InvalidCandidate` for a negative or non-finite age, an age range upside down or a
    gender other than those in :data:`~matching.vocab.GENDERS`.
    """
    k = len(services)
    lo = floats(services, "min_age")
    hi = floats(services, "max_age")
    for field, col in (("services.min_age", lo), ("services.max_age", hi)):
        bad = np.flatnonzero(~np.isnan(col) & ~((col >= 0) & np.isfinite(col)))
        if len(bad):
            raise InvalidCandidate(int(pids[owner[bad[0]]]), field, "must be None or a finite number >= 0")
    lo = np.nan_to_num(lo, nan=0.0)
    hi = np.where(np.isnan(hi), np.inf, hi)
    bad = np.flatnonzero(lo > hi)
    if len(bad):
        raise InvalidCandidate(int(pids[owner[bad[0]]]), "services.max_age", "must not be below min_age")
    codes = np.fromiter(
        map(_GENDER_CODE.get, map(attrgetter("gender"), services), repeat(255)), dtype=np.uint8, count=k
    )
    bad = np.flatnonzero(codes == 255)
    if len(bad):
        got = services[int(bad[0])].gender
        raise InvalidCandidate(
            int(pids[owner[bad[0]]]), "services.gender", f"must be one of {', '.join(GENDERS)}, got {got!r}"
        )
    return lo, hi, codes


def _service_columns(
    services: list[Service],
    owner: Int64Array,
    paths: list[str],
    pids: Int64Array,
    n: int,
    areas: AreaTree,
    code_ids: dict[Any, int],
) -> ServiceColumns:
    k = len(services)
    ids = np.fromiter(map(attrgetter("service_id"), services), dtype=np.int64, count=k)
    if k:
        order = np.lexsort((ids, owner))
        dup = np.flatnonzero((owner[order][1:] == owner[order][:-1]) & (ids[order][1:] == ids[order][:-1]))
        if len(dup):
            raise InvalidCandidate(
                int(pids[owner[order[dup[0]]]]), "services.service_id", "duplicate service_id in one provider"
            )
    pathway_ids = {code: p for p, code in enumerate(dict.fromkeys(paths))}
    pathway = np.fromiter(map(pathway_ids.__getitem__, paths), dtype=np.int64, count=k)
    cohort_ids, cohort_mask = _cohort_masks(services, owner, pids)
    capacity = floats(services, "capacity")
    bad = np.flatnonzero(capacity < 0)
    if len(bad):
        raise InvalidCandidate(int(pids[owner[bad[0]]]), "services.capacity", "must not be negative")
    min_age, max_age, gender = whom_served(services, owner, pids)
    outcomes, verified, desired, desired_verified = _outcomes_evidence(services)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
    arrays: dict[str, Any] = {
        "owner": owner,
        "offsets": offsets,
        "service_id": ids,
        "pathway": pathway,
        "cohort_mask": cohort_mask,
        "min_age": min_age,
        "max_age": max_age,
        "gender": gender,
        "capacity": capacity,
        "years": service_years(services, owner, pids),
        "outcomes": outcomes,
        "outcomes_verified": verified,
    }
    read_only(*arrays.values())
    service_areas = area_pairs(field_tuples(services, "areas"), areas)
    return ServiceColumns(
        pathway_ids=MappingProxyType(pathway_ids),
        cohort_ids=MappingProxyType(cohort_ids),
        areas=service_areas,
        **derived_service_columns(pathway, len(pathway_ids), service_areas, areas),
        accreditations=_code_pairs(field_tuples(services, "accreditations"), code_ids),
        verified_accreditations=_code_pairs(field_tuples(services, "verified_accreditations"), code_ids),
        desired=_code_pairs(desired, code_ids),
        desired_verified=_code_pairs(desired_verified, code_ids),
        **arrays,
    )


def _outcomes_evidence(
    services: list[Service],
) -> tuple[BoolArray, BoolArray, list[Sequence[Any]], list[Sequence[Any]]]:
    """Per service: whether it has outcomes records, whether one is verified, the desired outcome codes its
    records name and those its verified records name. One pass per field over all the records; only the (few)
    records naming desired outcomes are read one by one."""
    k = len(services)
    per, counts = lengths(field_tuples(services, "outcomes"))
    records = list(chain.from_iterable(per))
    owner = np.repeat(np.arange(k, dtype=np.int64), counts)
    flags = np.fromiter(map(attrgetter("verified"), records), dtype=np.bool_, count=len(records))
    verified = np.zeros(k, dtype=np.bool_)
    verified[owner[flags]] = True
    named, named_counts = lengths(field_tuples(records, "desired_outcomes"))
    desired: list[Sequence[Any]] = [()] * k
    desired_verified: list[Sequence[Any]] = [()] * k
    for r in np.flatnonzero(named_counts).tolist():
        s = int(owner[r])
        desired[s] = (*desired[s], *named[r])
        if flags[r]:
            desired_verified[s] = (*desired_verified[s], *named[r])
    return counts > 0, verified, desired, desired_verified


def _cohort_masks(
    services: list[Service], owner: Int64Array, pids: Int64Array
) -> tuple[dict[str, int], npt.NDArray[np.uint64]]:
    """Cohort ids (first seen) and the cohort mask words of each service, shape ``(words, len(services))``."""
    cohort_lists = _hashable(field_tuples(services, "cohorts"))
    distinct = dict.fromkeys(cohort_lists)
    cohort_ids: dict[str, int] = {}
    key_masks: list[int] = []
    for key_no, key in enumerate(distinct):
        mask = 0
        for code in key:
            if not is_code(code):
                pos = cohort_lists.index(key)
                raise InvalidCandidate(
                    int(pids[owner[pos]]), "services.cohorts", f"cohorts must be non-empty codes, got {code!r}"
                )
            mask |= 1 << cohort_ids.setdefault(code, len(cohort_ids))
        key_masks.append(mask)
        distinct[key] = key_no
    words = max(1, (len(cohort_ids) + 63) // 64)
    table = np.array(
        [[(m >> (64 * w)) & 0xFFFFFFFFFFFFFFFF for w in range(words)] for m in key_masks] or [[0] * words],
        dtype=np.uint64,
    )
    key_of = np.fromiter(map(distinct.__getitem__, cohort_lists), dtype=np.int64, count=len(cohort_lists))
    return cohort_ids, np.ascontiguousarray(table[key_of].T)


def service_text(service: Service) -> str:
    """The text of a service that local priorities are matched against: its description and the words
    of its outcomes records (outcome, measure, note)."""
    if not service.outcomes:
        return service.description
    parts = [service.description]
    for r in service.outcomes:
        parts.extend(x for x in (r.outcome, r.measure, r.note) if x)
    return ". ".join(parts)


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

    Equivalent to ``areas.reduce(codes)`` for every owner, vectorised (see :func:`antichains`).
    """
    n = len(code_lists)
    code_lists, counts = lengths(code_lists)
    node = areas.index_array(chain.from_iterable(code_lists))
    owner = np.repeat(np.arange(n, dtype=np.int64), counts)
    known = node >= 0
    owner, node = antichains(owner[known], node[known], areas)
    return Pairs.build(np.ascontiguousarray(owner), np.ascontiguousarray(node), n)


def antichains(owner: Int64Array, node: Int64Array, areas: AreaTree) -> tuple[Int64Array, Int64Array]:
    """``(owner, node)`` pairs sorted by owner then node, each owner's nodes reduced to an antichain.

    Pairs are sorted by (owner, node); in pre-order a node lies inside an earlier node of the
    same owner exactly when it starts before the furthest end seen so far.
    """
    size = len(areas)
    key = sorted_distinct(owner.astype(np.int64, copy=False) * size + node)
    owner, node = np.divmod(key, size)
    if len(key):
        end = node + areas.sizes[node]
        reach = np.maximum.accumulate(owner * (size + 1) + end)
        before = np.concatenate(([-1], reach[:-1])) - owner * (size + 1)  # furthest end so far (same owner)
        keep = before <= node
        owner, node = owner[keep], node[keep]
    return owner, node


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
