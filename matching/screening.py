"""Hard filters (exclusions), vectorised: which services qualify a provider for a need.

A provider qualifies for a need through its **qualifying services**: its (active) services in the
need's pathway whose age range overlaps the need's (when the need states one; open ends are open) and
which serve the need's people (when the need is for men or women only: them, or both). Every check is
evaluated independently, so an excluded candidate lists every reason it fails:

* ``pathway_not_offered`` - no service in the need's pathway;
* ``age_range_not_served`` - services in the pathway, none for the need's ages (among those serving the
  need's men or women, if it says);
* ``gender_not_served`` - services in the pathway, none for the need's men or women (among those serving
  the need's ages, if it says); when some serve the ages and others the men or women but none both, both
  reasons are given;
* ``no_area_coverage`` - the qualifying services cover none of the need's areas (a provider with no
  qualifying service: its services in the pathway, or with none, all its services, cover none); when the need
  gives ``area_volumes``, none of the areas its expected service users are in (covering only areas of the need
  where none are expected reaches none of them: :func:`~matching.coverage.reach_mask`);
* ``missing_accreditation`` - lacks one or more required accreditations (named): neither the organisation
  nor a qualifying service holds them;
* ``insufficient_experience`` - the qualifying service with the most years has fewer than the minimum.

Two entry points compute the same :class:`Screening`: :func:`screen` over the
:class:`~matching.columns.Columns` of a pool, and :func:`screen_candidates` straight from
a sequence of :class:`Candidate` objects, reading only the fields the checks
need (provider id, the services' pathway, ages, gender, years and areas, accreditations).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import attrgetter, eq
from typing import Any

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .columns import (
    Columns,
    ServiceColumns,
    area_words,
    check_pathways,
    field_tuples,
    lengths,
    provider_ids,
    service_rows,
    service_years,
    take,
    whom_served,
)
from .coverage import reach_mask, touch_mask
from .models import Candidate
from .needs import CompiledNeed
from .results import Exclusion, ExclusionReason
from .vocab import (
    EXCL_ACCREDITATION,
    EXCL_AGE,
    EXCL_AREA,
    EXCL_EXPERIENCE,
    EXCL_GENDER,
    EXCL_PATHWAY,
    EXCLUSION_CODES,
    GENDERS,
    age_phrase,
    pathway_name,
)

_BIT_PATHWAY = 1
_BIT_AGE = 2
_BIT_GENDER = 4
_BIT_AREA = 8
_BIT_ACCREDITATION = 16
_BIT_EXPERIENCE = 32
_BITS = (_BIT_PATHWAY, _BIT_AGE, _BIT_GENDER, _BIT_AREA, _BIT_ACCREDITATION, _BIT_EXPERIENCE)
"""One bit per exclusion code, in :data:`~matching.vocab.EXCLUSION_CODES` order."""
_BIT_OUTSIDE = 64
"""Set alone on a directory member that is only counted, not assessed (see ``ranking.shortlist(directory=True)``)."""
_LISTED = sum(_BITS)
_BIT_WIDTH = 7

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
NamesOf = Callable[[list[int]], list[str]]
"""Names of the candidates at the given indices."""


@dataclass(frozen=True, slots=True, eq=False)
class Screening:
    eligible: Int64Array
    """Indices of candidates passing every hard filter, ascending."""
    fail_bits: npt.NDArray[np.uint8]
    """The exclusion bits of every candidate (one per code, in :data:`~matching.vocab.EXCLUSION_CODES` order)."""
    missing_mask: Int64Array
    """Bit j set when required accreditation j is missing."""
    years: FloatArray
    """Most years of experience of a qualifying service, for every candidate (0 without one)."""
    qualifying: Int64Array
    """The qualifying service rows (ascending, so grouped by candidate)."""
    touching: BoolArray
    """Whether each qualifying service row covers (some of) one of the need's areas."""
    scope: BoolArray
    """Candidates with a service in the pathway that covers an area in, above or below the need's areas
    (those a directory ranking assesses)."""
    assessed: Int64Array | None = None
    """The candidates whose exclusion bits may be set (ascending; ``None``: any): the others' bits are
    :data:`_BIT_OUTSIDE` or none, so counting and listing the excluded reads only these."""

    def listed(self) -> Int64Array:
        """The candidates excluded (by one of the checks, not set aside as outside the scope), ascending."""
        if self.assessed is None:
            return np.flatnonzero(self.fail_bits & _LISTED)
        listed: Int64Array = self.assessed[(self.fail_bits[self.assessed] & _LISTED) != 0]
        return listed

    def outside_directory_scope(self) -> tuple[Screening, int, dict[str, int]]:
        """(this screening with only the candidates in :attr:`scope` assessed, how many were not, how many of
        those not assessed do not offer the pathway / cover none of the areas by code).

        The others keep only :data:`_BIT_OUTSIDE`: they are neither counted by reason nor listed. Every one
        of them fails the pathway or the area check (an area it covers with a service in the pathway would
        put it in scope), so the two counts account for all of them. This is the definition;
        :func:`screen_directory` computes the same without screening the candidates outside the scope (tested).
        """
        bits = self.fail_bits
        outside = ~self.scope
        found = _bit_counts(bits[outside])
        by_reason = {EXCL_PATHWAY: found[_BIT_PATHWAY], EXCL_AREA: found[_BIT_AREA]}
        scoped = Screening(
            eligible=self.eligible,
            fail_bits=np.where(outside, np.uint8(_BIT_OUTSIDE), bits),
            missing_mask=self.missing_mask,
            years=self.years,
            qualifying=self.qualifying,
            touching=self.touching,
            scope=self.scope,
        )
        return scoped, int(np.count_nonzero(outside)), by_reason

    def counts(self) -> dict[str, int]:
        """Candidates failing each check, by exclusion code (a candidate may count under several)."""
        found = _bit_counts(self.fail_bits if self.assessed is None else self.fail_bits[self.assessed])
        return {code: found[bit] for code, bit in zip(EXCLUSION_CODES, _BITS, strict=True)}


def _bit_counts(bits: npt.NDArray[np.uint8]) -> dict[int, int]:
    """How many of ``bits`` have each exclusion bit set (one pass: a histogram of the 256 byte values)."""
    histogram = np.bincount(bits, minlength=256)
    values = np.arange(256)
    return {bit: int(histogram[(values & bit) != 0].sum()) for bit in _BITS}


@dataclass(frozen=True, slots=True, eq=False)
class _Services:
    """What the checks read of the services (from columns or from candidate objects)."""

    owner: Int64Array
    """Candidate of every service row, ascending."""
    touches: BoolArray
    """Every service row: covers (some of) one of the need's areas."""
    any_touches: BoolArray
    """Every candidate: one of its services covers (some of) one of the need's areas."""
    in_pathway: Int64Array
    """Service rows in the need's pathway, ascending."""
    min_age: FloatArray
    max_age: FloatArray
    gender: npt.NDArray[np.uint8]
    years: FloatArray
    """The four: of the rows ``in_pathway``."""
    held: Int64Array | None
    """Of the rows ``in_pathway``: bit j set when the service holds required accreditation j (``None``: no
    accreditation is required)."""
    reaches: BoolArray | None = None
    """Every service row: covers (some of) the areas the need's expected service users are in (``None``: as
    ``touches``, a need without ``area_volumes``); the area check reads these."""
    any_reaches: BoolArray | None = None
    """Every candidate: one of its services reaches them (``None``: as ``any_touches``)."""


def _qualify(cn: CompiledNeed, n: int, svc: _Services, have: Int64Array) -> Screening:
    """The checks, combined (``have``: bit j set when the organisation holds required accreditation j).

    Whole-array operations over the candidates (bits set with ``where=``, no boolean fancy indexing) and over
    the service rows of the pathway only: a few milliseconds at 200,000 candidates.
    """
    owner, in_p = svc.owner, svc.in_pathway
    p_owner = owner[in_p]
    ok: BoolArray | None = None
    age_ok = gender_ok = None
    if cn.has_ages:
        age_ok = (svc.min_age <= cn.max_age) & (svc.max_age >= cn.min_age)
        ok = age_ok
    if cn.gender:
        gender_ok = (svc.gender == 0) | (svc.gender == cn.gender)
        ok = gender_ok if ok is None else ok & gender_ok
    qualifying, q_owner = (in_p, p_owner) if ok is None else (in_p[ok], p_owner[ok])

    def some(owners: Int64Array) -> BoolArray:
        out = np.zeros(n, dtype=np.bool_)
        out[owners] = True
        return out

    bits = np.zeros(n, dtype=np.uint8)  # every bit fits a byte; int64 once complete

    def flag(bit: int, where: BoolArray) -> None:
        np.bitwise_or(bits, where.view(np.uint8) << np.uint8(bit.bit_length() - 1), out=bits)

    offered = some(p_owner)
    has_q = offered if ok is None else some(q_owner)
    flag(_BIT_PATHWAY, ~offered)
    if ok is not None:
        ages = offered if age_ok is None else some(p_owner[age_ok])
        people = offered if gender_ok is None else some(p_owner[gender_ok])
        lacking = offered & ~has_q
        flag(_BIT_AGE, lacking & (~ages | people))
        flag(_BIT_GENDER, lacking & (~people | ages))
    touches = svc.touches
    touching = touches[qualifying]
    scope = some(p_owner[touches[in_p]])
    if svc.reaches is None or svc.any_reaches is None:
        reaching, reach_scope, any_reaches = touching, scope, svc.any_touches
    else:  # area_volumes: the services must reach the areas the need's service users are in
        reaching, reach_scope, any_reaches = svc.reaches[qualifying], some(p_owner[svc.reaches[in_p]]), svc.any_reaches
    covered = some(q_owner[reaching]) if ok is not None else reach_scope.copy()
    covered |= ~has_q & reach_scope  # a provider with services in the pathway, none qualifying: those count
    covered |= ~offered & any_reaches  # with none in the pathway: all its services
    flag(_BIT_AREA, ~covered)
    if cn.required:
        have = have.copy()
        if svc.held is not None:
            held = svc.held if ok is None else svc.held[ok]
            some_held = np.flatnonzero(held)
            np.bitwise_or.at(have, q_owner[some_held], held[some_held])
        missing = ~have & ((1 << len(cn.required)) - 1)
        flag(_BIT_ACCREDITATION, missing != 0)
    else:
        missing = np.zeros(n, dtype=np.int64)
    years = np.zeros(n)
    if len(qualifying):  # qualifying rows are grouped by candidate: the most years of each group
        starts = np.flatnonzero(np.concatenate(([True], q_owner[1:] != q_owner[:-1])))
        years[q_owner[starts]] = np.maximum.reduceat(svc.years if ok is None else svc.years[ok], starts)
    if cn.need.min_years_experience > 0:
        flag(_BIT_EXPERIENCE, years < cn.need.min_years_experience)
    return Screening(
        eligible=np.flatnonzero(bits == 0),
        fail_bits=bits,
        missing_mask=missing,
        years=years,
        qualifying=qualifying,
        touching=touching,
        scope=scope,
    )


def screen(cols: Columns, cn: CompiledNeed) -> Screening:
    """Hard filters over a pool's columns."""
    n = len(cols)
    svc = cols.services
    owner = svc.owner
    touch = touch_mask(cols.areas, cn.area_nodes)
    reach = reach_mask(cols.areas, cn, touch)

    def covering(mask: BoolArray) -> tuple[BoolArray, BoolArray]:
        """(per service row: it covers a node of ``mask``; per candidate: one of its services does)."""
        pairs = svc.areas
        rows = np.zeros(len(svc), dtype=np.bool_)
        rows[pairs.owner[np.flatnonzero(mask[pairs.item])]] = True
        anyone = np.zeros(n, dtype=np.bool_)
        anyone[owner[rows]] = True
        return rows, anyone

    touches, any_touches = covering(touch)
    reaches, any_reaches = (None, None) if reach is touch else covering(reach)
    in_p = svc.rows_in(cn.pathway)
    have, held = _accreditations_held(cols, cn, in_p, np.arange(n))
    services = _Services(owner, touches, any_touches, in_p, *_pathway_rows(svc, in_p), held, reaches, any_reaches)
    return _qualify(cn, n, services, have)


def _pathway_rows(
    svc: ServiceColumns, in_p: Int64Array
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.uint8], FloatArray]:
    """(min age, max age, gender, years) of the service rows ``in_p``, ages and years in float64 (a need's bounds
    are compared in float64)."""
    return (
        svc.min_age[in_p].astype(np.float64, copy=False),
        svc.max_age[in_p].astype(np.float64, copy=False),
        svc.gender[in_p],
        svc.years[in_p].astype(np.float64, copy=False),
    )


def _accreditations_held(
    cols: Columns, cn: CompiledNeed, in_p: Int64Array, rows: Int64Array
) -> tuple[Int64Array, Int64Array | None]:
    """(for each candidate of ``rows`` (ascending): bit j set when the organisation holds required accreditation j;
    for each service row ``in_p``: the same for the service, ``None`` when none is required)."""
    have = np.zeros(len(rows), dtype=np.int64)
    if not cn.required:
        return have, None
    held = np.zeros(len(in_p), dtype=np.int64)
    sacc, acc = cols.services.accreditations, cols.accreditations
    for j, code in enumerate(cn.required):
        aid = cols.code_ids.get(code)
        if aid is not None:
            have[_positions(rows, acc.owner[acc.item == aid])] |= 1 << j
            held[_positions(in_p, sacc.owner[sacc.item == aid])] |= 1 << j
    return have, held


def _positions(ordered: Int64Array, values: npt.NDArray[np.signedinteger[Any]]) -> Int64Array:
    """Positions in ``ordered`` (ascending) of those of ``values`` it holds."""
    if not len(ordered):
        return np.zeros(0, dtype=np.int64)
    at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    found: Int64Array = at[ordered[at] == values]
    return found


def covers(mask: npt.NDArray[np.uint64], words: npt.NDArray[np.uint64], rows: Int64Array | None = None) -> BoolArray:
    """Whether each row (of ``rows``; all without) of an area ``mask`` (``(words, rows)``, as
    :attr:`~matching.columns.Columns.area_mask`) has one of the nodes of ``words`` (:func:`area_words`)."""
    out = np.zeros(mask.shape[1] if rows is None else len(rows), dtype=np.bool_)
    for w, word in enumerate(words.tolist()):
        if word:
            here = mask[w] if rows is None else mask[w][rows]
            out |= (here & np.uint64(word)) != 0
    return out


def screen_directory(
    cols: Columns, cn: CompiledNeed, withdrawn: BoolArray | None = None
) -> tuple[Screening, int, dict[str, int]]:
    """``screen(cols, cn).outside_directory_scope()`` (the same three values), computed over the candidates
    offering the need's pathway only: the others are outside the directory's scope, and for them only the
    pathway and area checks are counted, from :attr:`~matching.columns.Columns.area_mask`. At 200,000
    candidates a narrow need's screening then reads a tenth of the directory's rows instead of all of them.

    ``withdrawn`` (per row, or ``None``): rows no longer in the directory (``CompactPool.withdrawn``), passed over
    as if absent: never eligible, listed or counted (the counts returned are over the other rows: what screening a
    pool of those rows alone gives).
    """
    n = len(cols)
    svc = cols.services
    touch = touch_mask(cols.areas, cn.area_nodes)
    in_p = svc.rows_in(cn.pathway)
    if withdrawn is not None:
        in_p = in_p[~withdrawn[svc.owner[in_p]]]
    p_owner = svc.owner[in_p].astype(np.int64, copy=False)
    first = np.concatenate(([True], p_owner[1:] != p_owner[:-1])) if len(in_p) else np.zeros(0, dtype=np.bool_)
    offered = p_owner[first]  # the candidates offering the pathway, ascending
    local = np.cumsum(first) - 1  # each pathway row's candidate, as a position in `offered`
    touch_words = area_words(cols.areas, touch)
    touches = covers(svc.area_mask, touch_words, in_p)  # which pathway rows cover some of the need's areas
    reach = reach_mask(cols.areas, cn, touch)
    reach_words = touch_words if reach is touch else area_words(cols.areas, reach)
    reaches = None if reach is touch else covers(svc.area_mask, reach_words, in_p)  # ... reach its service users
    have, held = _accreditations_held(cols, cn, in_p, offered)
    nobody = np.zeros(len(offered), dtype=np.bool_)  # any_touches: read only for candidates not offering the pathway
    rows = _pathway_rows(svc, in_p)
    services = _Services(local, touches, nobody, np.arange(len(in_p)), *rows, held, reaches, nobody)
    sub = _qualify(cn, len(offered), services, have)
    qualifying = in_p[sub.qualifying]
    # the directory: every candidate outside the scope keeps only _BIT_OUTSIDE
    in_scope = offered[sub.scope]
    fail_bits = np.full(n, _BIT_OUTSIDE, dtype=np.uint8)
    fail_bits[in_scope] = sub.fail_bits[sub.scope]
    scope = np.zeros(n, dtype=np.bool_)
    scope[in_scope] = True

    def spread(values: np.ndarray) -> Any:
        """An offering candidates' column as a directory column (0 for the others)."""
        out = np.zeros(n, dtype=values.dtype)
        out[offered] = values
        return out

    # outside the scope: every candidate not offering the pathway, and those offering it in none of the areas
    # (which fail the area check); of the first, those covering none of the areas (with area_volumes: reaching
    # none of the service users) with any service fail it too
    covering = covers(cols.area_mask, reach_words)
    live = n  # the rows still in the directory
    if withdrawn is not None:
        covering &= ~withdrawn
        live -= int(np.count_nonzero(withdrawn))
    not_offering = live - len(offered)
    covering_not_offering = int(np.count_nonzero(covering)) - int(np.count_nonzero(covering[offered]))
    by_reason = {
        EXCL_PATHWAY: not_offering,
        EXCL_AREA: (len(offered) - len(in_scope)) + not_offering - covering_not_offering,
    }
    screening = Screening(
        eligible=offered[sub.eligible],
        fail_bits=fail_bits,
        missing_mask=spread(sub.missing_mask),
        years=spread(sub.years),
        qualifying=qualifying,
        touching=sub.touching,
        scope=scope,
        assessed=in_scope,
    )
    return screening, live - len(in_scope), by_reason


def screen_candidates(cands: Sequence[Candidate], cn: CompiledNeed, areas: AreaTree) -> tuple[Screening, Int64Array]:
    """Hard filters straight from candidate objects: (screening, the provider ids read).

    Reads, for every candidate, only ``provider_id``, its services' ``pathway`` and ``areas`` (and, for the
    services in the need's pathway, ``min_age``, ``max_age``, ``gender``, ``years_experience`` and, when the
    need requires some, ``accreditations``) and, when the need requires some, its ``accreditations``;
    validates what it reads. The screening's service rows are positions in the candidates' services, in order.
    """
    n = len(cands)
    pids = provider_ids(cands)
    services, owner = service_rows(cands)
    paths = list(map(attrgetter("pathway"), services))
    check_pathways(paths, owner, pids)
    in_p = np.flatnonzero(np.fromiter(map(eq, paths, repeat(cn.pathway)), dtype=np.bool_, count=len(paths)))
    chosen = take(services, in_p)
    p_owner = owner[in_p]
    min_age, max_age, gender = whom_served(chosen, p_owner, pids)

    # covers some need area: one of its codes is a need area, lies inside one or contains one
    relevant: set[str] = set()
    for a in cn.area_nodes:
        relevant.update(areas.codes[a : a + int(areas.sizes[a])])
        relevant.update(map(areas.code, areas.ancestor_indices(a)))
    area_lists = field_tuples(services, "areas")

    def meeting(codes: set[str]) -> BoolArray:
        """Per service: one of its areas is one of ``codes``."""
        nonlocal area_lists
        try:
            disjoint = np.fromiter(map(codes.isdisjoint, area_lists), dtype=np.bool_, count=len(services))
        except TypeError:  # None among them: covers nothing
            area_lists = lengths(area_lists)[0]
            disjoint = np.fromiter(map(codes.isdisjoint, area_lists), dtype=np.bool_, count=len(services))
        return ~disjoint

    touches = meeting(relevant)
    reaches = None if cn.users_under is None else meeting(set(map(areas.code, np.flatnonzero(cn.users_under).tolist())))
    have = np.zeros(n, dtype=np.int64)
    held: Int64Array | None = None
    if cn.required:
        bit = {code: 1 << j for j, code in enumerate(cn.required)}
        have = _held(field_tuples(cands, "accreditations"), bit)
        held = _held(field_tuples(chosen, "accreditations"), bit)
    years = service_years(chosen, p_owner, pids)

    def per_candidate(rows: BoolArray) -> BoolArray:
        anyone = np.zeros(n, dtype=np.bool_)
        anyone[owner[rows]] = True
        return anyone

    any_reaches = None if reaches is None else per_candidate(reaches)
    svc = _Services(
        owner, touches, per_candidate(touches), in_p, min_age, max_age, gender, years, held, reaches, any_reaches
    )
    return _qualify(cn, n, svc, have), pids


def _held(code_lists: list[Sequence[str]], bit: Mapping[str, int]) -> Int64Array:
    """Per owner: bit j set when it holds required code j."""
    per, counts = lengths(code_lists)
    held = np.fromiter(map(bit.get, chain.from_iterable(per), repeat(0)), dtype=np.int64, count=int(counts.sum()))
    out = np.zeros(len(per), dtype=np.int64)
    np.bitwise_or.at(out, np.repeat(np.arange(len(per)), counts), held)
    return out


def excluded_in_name_order(
    names_of: NamesOf,
    pids: Int64Array,
    screening: Screening,
    limit: int | None,
    by_name: Int64Array | None,
    prefix_keys: Callable[[Int64Array], npt.NDArray[np.uint64]] | None = None,
) -> Int64Array:
    """Indices of excluded candidates ordered by ``(name, provider_id)``, at most ``limit``.

    ``by_name`` (a pool's precomputed name order) makes this a filter; otherwise only the
    excluded candidates' names are read and, with a ``limit``, a heap picks the first ones.
    ``prefix_keys`` (names' first bytes as numbers, ordered as the names are) first drops, with a
    ``limit``, the candidates whose key is above the ``limit``-th smallest: at least ``limit`` others
    sort strictly before each of them.
    """
    bits = screening.fail_bits
    if by_name is not None:
        idx: Int64Array = by_name[(bits[by_name] & _LISTED) != 0]
        return idx if limit is None else idx[:limit]
    excluded = screening.listed()
    excluded = excluded[np.argsort(pids[excluded], kind="stable")]  # provider_id order; the sorts below are stable
    if prefix_keys is not None and limit is not None and 0 < limit < len(excluded):
        keys = prefix_keys(excluded)
        excluded = excluded[keys <= np.partition(keys, limit - 1)[limit - 1]]
    names = names_of(excluded.tolist())
    if limit is not None and limit < len(names):
        chosen = heapq.nsmallest(limit, range(len(names)), key=names.__getitem__)
    else:
        chosen = sorted(range(len(names)), key=names.__getitem__)
    return excluded[np.asarray(chosen, dtype=np.int64)]


def build_exclusions(
    names_of: NamesOf,
    pids: Int64Array,
    idx: Int64Array,
    cn: CompiledNeed,
    screening: Screening,
    areas: AreaTree,
    pathway_names: Mapping[str, str] | None,
) -> tuple[Exclusion, ...]:
    """Exclusion records for the candidates ``idx`` (already ordered and limited).

    Candidates failing in the same way share one reasons tuple: the distinct
    failure patterns are found with numpy, so building even ~200k records is a
    couple of C-level passes rather than per-candidate Python logic.
    """
    if not len(idx):
        return ()
    b = screening.fail_bits[idx].astype(np.int64)
    miss = screening.missing_mask[idx]
    years = np.where(b & _BIT_EXPERIENCE, screening.years[idx], 0.0)
    year_values, year_code = np.unique(years, return_inverse=True)
    # at most MAX_REQUIRED_ACCREDITATIONS (32) required, so this key fits in int64
    key = ((miss << _BIT_WIDTH) | b) * len(year_values) + year_code.reshape(-1)
    _, first, pattern = np.unique(key, return_index=True, return_inverse=True)
    reasons = [
        _reasons(cn, areas, int(b[k]), int(miss[k]), float(year_values[year_code[k]]), pathway_names)
        for k in first.tolist()
    ]
    return tuple(
        map(
            Exclusion,
            pids[idx].tolist(),
            names_of(idx.tolist()),
            map(reasons.__getitem__, pattern.reshape(-1).tolist()),
        )
    )


def _reasons(
    cn: CompiledNeed, areas: AreaTree, b: int, miss: int, years: float, pathway_names: Mapping[str, str] | None
) -> tuple[ExclusionReason, ...]:
    need = cn.need
    pathway = need.pathway
    out: list[ExclusionReason] = []
    if b & _BIT_PATHWAY:
        name = pathway_name(pathway, pathway_names)
        message = f"does not offer the {pathway} pathway" + (f" ({name})" if name else "")
        out.append(ExclusionReason(EXCL_PATHWAY, message, (pathway,)))
    ages, people = age_phrase(need.min_age, need.max_age), GENDERS[cn.gender]
    if b & _BIT_AGE:
        message = f"none of its {pathway} services serves {ages}" + (f" for {people}" if cn.gender else "")
        out.append(ExclusionReason(EXCL_AGE, message, (_age(need.min_age), _age(need.max_age))))
    if b & _BIT_GENDER:
        aged = age_phrase(need.min_age, need.max_age, "aged")
        message = f"none of its {pathway} services serves {people}" + (f" {aged}" if aged else "")
        out.append(ExclusionReason(EXCL_GENDER, message, (people,)))
    if b & _BIT_AREA:
        where = "the need's areas" if cn.users_under is None else "the areas where the need's service users are"
        message = f"covers none of {where}: " + ", ".join(areas.label(c) for c in cn.user_areas)
        out.append(ExclusionReason(EXCL_AREA, message, cn.user_areas))
    if b & _BIT_ACCREDITATION:
        codes = tuple(code for j, code in enumerate(cn.required) if miss >> j & 1)
        lacks = "lacks the required accreditation: " if len(codes) == 1 else "lacks the required accreditations: "
        out.append(ExclusionReason(EXCL_ACCREDITATION, lacks + ", ".join(codes), codes))
    if b & _BIT_EXPERIENCE:
        out.append(
            ExclusionReason(
                EXCL_EXPERIENCE,
                f"{years:g} years' experience in {pathway}, minimum {need.min_years_experience:g} required",
                (f"{years:g}", f"{need.min_years_experience:g}"),
            )
        )
    return tuple(out)


def _age(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
