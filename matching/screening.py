"""Hard filters (exclusions), vectorised.

Every check is evaluated independently, so an excluded candidate lists every
reason it fails:

* ``pathway_not_offered`` - no expertise line for the need's pathway;
* ``no_area_coverage`` - covers none of the need's leaf areas;
* ``missing_accreditation`` - lacks one or more required accreditations (named);
* ``insufficient_experience`` - fewer years in the pathway than the minimum.

Two entry points compute the same :class:`Screening`: :func:`screen` over the
:class:`~matching.columns.Columns` of a pool, and :func:`screen_candidates` straight from
a sequence of :class:`Candidate` objects, reading only the fields the checks
need (provider id, expertise pathway and years, coverage, accreditations).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import attrgetter, eq

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .columns import (
    Columns,
    Pairs,
    Screened,
    check_pathways,
    expertise_lines,
    field_tuples,
    lengths,
    line_years,
    provider_ids,
    take,
)
from .models import Candidate
from .needs import CompiledNeed
from .results import Exclusion, ExclusionReason
from .vocab import EXCL_ACCREDITATION, EXCL_AREA, EXCL_EXPERIENCE, EXCL_PATHWAY, EXCLUSION_CODES, pathway_name

_BIT_PATHWAY = 1
_BIT_AREA = 2
_BIT_ACCREDITATION = 4
_BIT_EXPERIENCE = 8
_BIT_OUTSIDE = 16
"""Set alone on a directory member that is only counted, not assessed (see ``ranking.shortlist(directory=True)``)."""
_LISTED = _BIT_PATHWAY | _BIT_AREA | _BIT_ACCREDITATION | _BIT_EXPERIENCE

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
NamesOf = Callable[[list[int]], list[str]]
"""Names of the candidates at the given indices."""


@dataclass(frozen=True, slots=True, eq=False)
class Screening:
    eligible: Int64Array
    """Indices of candidates passing every hard filter, ascending."""
    coverage: FloatArray | None
    """Coverage share of every candidate (mean over need areas of the share of leaves covered);
    ``None`` from :func:`screen_candidates`, which only checks that some need area is covered."""
    fail_bits: Int64Array
    missing_mask: Int64Array
    """Bit j set when required accreditation j is missing."""
    years: FloatArray
    """Years of experience of every candidate in the need's pathway."""

    def outside_directory_scope(self) -> tuple[Screening, int, dict[str, int]]:
        """(this screening with only the candidates offering the pathway and covering an area assessed,
        how many were not, how many of all do not offer the pathway / cover none of the areas by code).

        The others keep only :data:`_BIT_OUTSIDE`: they are neither counted by reason nor listed.
        """
        bits = self.fail_bits
        by_reason = {
            EXCL_PATHWAY: int(np.count_nonzero(bits & _BIT_PATHWAY)),
            EXCL_AREA: int(np.count_nonzero(bits & _BIT_AREA)),
        }
        outside = (bits & (_BIT_PATHWAY | _BIT_AREA)) != 0
        scoped = Screening(
            eligible=self.eligible,
            coverage=self.coverage,
            fail_bits=np.where(outside, _BIT_OUTSIDE, bits),
            missing_mask=self.missing_mask,
            years=self.years,
        )
        return scoped, int(np.count_nonzero(outside)), by_reason

    def counts(self) -> dict[str, int]:
        bits = self.fail_bits
        return {
            code: int(np.count_nonzero(bits & bit))
            for code, bit in zip(
                EXCLUSION_CODES, (_BIT_PATHWAY, _BIT_AREA, _BIT_ACCREDITATION, _BIT_EXPERIENCE), strict=True
            )
        }


def coverage_shares(areas: AreaTree, coverage: Pairs, n: int, area_nodes: tuple[int, ...]) -> FloatArray:
    """Mean over need areas of (leaves of the area covered / leaves of the area).

    A covered node inside a need area contributes its own leaf count to that area;
    a covered ancestor-or-self of a need area covers all of it. Candidate coverage
    and need areas are both antichains, so contributions never overlap. Leaf
    counts are added as exact integers, one ``bincount`` per distinct area size,
    which keeps the score exactly monotone in the areas covered.
    """
    sizes, leaves = areas.sizes, areas.leaf_counts
    groups: dict[int, FloatArray] = {}
    for a in area_nodes:
        big_l = int(leaves[a])
        node_weight = groups.setdefault(big_l, np.zeros(len(areas)))
        end = a + int(sizes[a])
        node_weight[a:end] = leaves[a:end]
        for anc in areas.ancestor_indices(a):
            node_weight[anc] += big_l
    total = np.zeros(n)
    for big_l, node_weight in sorted(groups.items()):
        counts = np.bincount(coverage.owner, weights=node_weight[coverage.item], minlength=n)
        total += counts / big_l
    return np.minimum(total / len(area_nodes), 1.0)


def _screening(
    cn: CompiledNeed,
    offered: npt.NDArray[np.bool_],
    years: FloatArray,
    covers: npt.NDArray[np.bool_],
    coverage: FloatArray | None,
    have: Int64Array,
) -> Screening:
    """Combine the per-check columns (``have``: bit j set when required accreditation j is held)."""
    n = len(offered)
    bits = np.zeros(n, dtype=np.int64)
    bits[~offered] |= _BIT_PATHWAY
    bits[~covers] |= _BIT_AREA
    missing = ~have & ((1 << len(cn.required)) - 1)
    bits[missing != 0] |= _BIT_ACCREDITATION
    if cn.need.min_years_experience > 0:
        bits[years < cn.need.min_years_experience] |= _BIT_EXPERIENCE
    return Screening(
        eligible=np.flatnonzero(bits == 0), coverage=coverage, fail_bits=bits, missing_mask=missing, years=years
    )


def screen(cols: Columns, cn: CompiledNeed) -> Screening:
    """Hard filters over a pool's columns."""
    n = len(cols)
    have = np.zeros(n, dtype=np.int64)
    acc = cols.accreditations
    for j, code in enumerate(cn.required):
        aid = cols.code_ids.get(code)
        if aid is not None:
            have[acc.owner[acc.item == aid]] |= 1 << j
    coverage = coverage_shares(cols.areas, cols.coverage, n, cn.area_nodes)
    return _screening(cn, cols.offered_in(cn.pathway), cols.years_in(cn.pathway), coverage > 0, coverage, have)


def screen_candidates(cands: Sequence[Candidate], cn: CompiledNeed, areas: AreaTree) -> tuple[Screening, Screened]:
    """Hard filters straight from candidate objects: (screening, what was read).

    Reads, for every candidate, only ``provider_id``, the expertise lines'
    ``pathway`` (and ``years_experience`` of the need's pathway), ``coverage`` and,
    when the need requires some, ``accreditations``; validates what it reads.
    """
    n = len(cands)
    pids = provider_ids(cands)
    lines, line_owner = expertise_lines(cands)
    paths = list(map(attrgetter("pathway"), lines))
    check_pathways(paths, line_owner, pids)
    sel = np.flatnonzero(np.fromiter(map(eq, paths, repeat(cn.pathway)), dtype=np.bool_, count=len(paths)))
    owner = line_owner[sel]
    offered = np.zeros(n, dtype=np.bool_)
    offered[owner] = True
    years = np.zeros(n)
    np.maximum.at(years, owner, line_years(take(lines, sel), owner, pids))

    # covers some need area: one of its codes is a need area, lies inside one or contains one
    relevant: set[str] = set()
    for a in cn.area_nodes:
        relevant.update(areas.codes[a : a + int(areas.sizes[a])])
        relevant.update(map(areas.code, areas.ancestor_indices(a)))
    coverage = field_tuples(cands, "coverage")
    try:
        disjoint = np.fromiter(map(relevant.isdisjoint, coverage), dtype=np.bool_, count=n)
    except TypeError:  # None among them: covers nothing
        disjoint = np.fromiter(map(relevant.isdisjoint, lengths(coverage)[0]), dtype=np.bool_, count=n)
    covers = ~disjoint
    have = np.zeros(n, dtype=np.int64)
    if cn.required:
        per, counts = lengths(field_tuples(cands, "accreditations"))
        bit = {code: 1 << j for j, code in enumerate(cn.required)}
        held = np.fromiter(map(bit.get, chain.from_iterable(per), repeat(0)), dtype=np.int64, count=int(counts.sum()))
        np.bitwise_or.at(have, np.repeat(np.arange(n), counts), held)
    # the coverage share itself is only needed for the candidates that pass (computed for them later)
    return _screening(cn, offered, years, covers, None, have), Screened(pids, lines, line_owner, paths)


def excluded_in_name_order(
    names_of: NamesOf, pids: Int64Array, screening: Screening, limit: int | None, by_name: Int64Array | None
) -> Int64Array:
    """Indices of excluded candidates ordered by ``(name, provider_id)``, at most ``limit``.

    ``by_name`` (a pool's precomputed name order) makes this a filter; otherwise only the
    excluded candidates' names are read and, with a ``limit``, a heap picks the first ones.
    """
    bits = screening.fail_bits
    if by_name is not None:
        idx: Int64Array = by_name[(bits[by_name] & _LISTED) != 0]
        return idx if limit is None else idx[:limit]
    excluded = np.flatnonzero(bits & _LISTED)
    excluded = excluded[np.argsort(pids[excluded], kind="stable")]  # provider_id order; the sorts below are stable
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
    b = screening.fail_bits[idx]
    miss = screening.missing_mask[idx]
    years = np.where(b & _BIT_EXPERIENCE, screening.years[idx], 0.0)
    year_values, year_code = np.unique(years, return_inverse=True)
    # at most MAX_REQUIRED_ACCREDITATIONS (32) required, so this key fits in int64
    key = ((miss << 4) | b) * len(year_values) + year_code.reshape(-1)
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
    if b & _BIT_AREA:
        out.append(
            ExclusionReason(
                EXCL_AREA,
                "covers none of the need's areas: " + ", ".join(areas.label(c) for c in need.areas),
                tuple(need.areas),
            )
        )
    if b & _BIT_ACCREDITATION:
        codes = tuple(code for j, code in enumerate(cn.required) if miss >> j & 1)
        out.append(ExclusionReason(EXCL_ACCREDITATION, "lacks required accreditation(s): " + ", ".join(codes), codes))
    if b & _BIT_EXPERIENCE:
        out.append(
            ExclusionReason(
                EXCL_EXPERIENCE,
                f"{years:g} years' experience in {pathway}, minimum {need.min_years_experience:g} required",
                (f"{years:g}", f"{need.min_years_experience:g}"),
            )
        )
    return tuple(out)
