"""Hard filters (exclusions), vectorised over the whole pool.

Every check is evaluated independently, so an excluded candidate lists every
reason it fails:

* ``pathway_not_offered`` - no expertise line for the need's pathway;
* ``no_area_coverage`` - covers none of the need's leaf areas;
* ``missing_accreditation`` - lacks one or more required accreditations (named);
* ``insufficient_experience`` - fewer years in the pathway than the minimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .needs import CompiledNeed
from .pool import CandidatePool
from .results import Exclusion, ExclusionReason
from .vocab import EXCL_ACCREDITATION, EXCL_AREA, EXCL_EXPERIENCE, EXCL_PATHWAY, EXCLUSION_CODES, PATHWAY_LABELS

_BIT_PATHWAY = 1
_BIT_AREA = 2
_BIT_ACCREDITATION = 4
_BIT_EXPERIENCE = 8


@dataclass(frozen=True, slots=True, eq=False)
class Screening:
    eligible: npt.NDArray[np.int64]
    """Indices of candidates passing every hard filter, ascending."""
    coverage: npt.NDArray[np.float64]
    """Coverage share of every candidate (mean over need areas of the share of leaves covered)."""
    fail_bits: npt.NDArray[np.int64]
    missing_mask: npt.NDArray[np.int64]
    """Bit j set when required accreditation j is missing."""

    def counts(self) -> dict[str, int]:
        bits = self.fail_bits
        return {
            code: int(np.count_nonzero(bits & bit))
            for code, bit in zip(
                EXCLUSION_CODES, (_BIT_PATHWAY, _BIT_AREA, _BIT_ACCREDITATION, _BIT_EXPERIENCE), strict=True
            )
        }


def coverage_shares(pool: CandidatePool, area_nodes: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """Mean over need areas of (leaves of the area covered / leaves of the area).

    A covered node inside a need area contributes its own leaf count to that area;
    a covered ancestor-or-self of a need area covers all of it. Candidate coverage
    and need areas are both antichains, so contributions never overlap. Leaf
    counts are added as exact integers, one ``bincount`` per distinct area size,
    which keeps the score exactly monotone in the areas covered.
    """
    tree = pool.areas
    n = len(pool)
    sizes, leaves = tree.sizes, tree.leaf_counts
    groups: dict[int, npt.NDArray[np.float64]] = {}
    for a in area_nodes:
        big_l = int(leaves[a])
        node_weight = groups.setdefault(big_l, np.zeros(len(tree)))
        end = a + int(sizes[a])
        node_weight[a:end] = leaves[a:end]
        for anc in tree.ancestor_indices(a):
            node_weight[anc] += big_l
    total = np.zeros(n)
    for big_l, node_weight in sorted(groups.items()):
        counts = np.bincount(pool.coverage.owner, weights=node_weight[pool.coverage.item], minlength=n)
        total += counts / big_l
    return np.minimum(total / len(area_nodes), 1.0)


def nodes_within(pool: CandidatePool, area_nodes: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """Boolean per area node: inside (descendant-or-self of) any need area."""
    inside = np.zeros(len(pool.areas), dtype=np.bool_)
    for a in area_nodes:
        inside[a : a + int(pool.areas.sizes[a])] = True
    return inside


def screen(pool: CandidatePool, cn: CompiledNeed) -> Screening:
    n = len(pool)
    p = cn.pathway_index
    coverage = coverage_shares(pool, cn.area_nodes)
    bits = np.zeros(n, dtype=np.int64)
    bits[~pool.offered[p]] |= _BIT_PATHWAY
    bits[coverage <= 0] |= _BIT_AREA
    missing = np.zeros(n, dtype=np.int64)
    acc = pool.accreditations
    for j, code in enumerate(cn.required):
        has = np.zeros(n, dtype=np.bool_)
        aid = pool.accreditation_ids.get(code)
        if aid is not None:
            has[acc.owner[acc.item == aid]] = True
        missing[~has] |= 1 << j
    bits[missing != 0] |= _BIT_ACCREDITATION
    if cn.need.min_years_experience > 0:
        bits[pool.years[p] < cn.need.min_years_experience] |= _BIT_EXPERIENCE
    return Screening(
        eligible=np.flatnonzero(bits == 0),
        coverage=coverage,
        fail_bits=bits,
        missing_mask=missing,
    )


def build_exclusions(
    pool: CandidatePool, cn: CompiledNeed, screening: Screening, limit: int | None
) -> tuple[Exclusion, ...]:
    """Exclusion records ordered by (name, provider_id), at most ``limit``.

    Candidates failing in the same way share one reasons tuple: the distinct
    failure patterns are found with numpy, so building even ~200k records is a
    couple of C-level passes rather than per-candidate Python logic.
    """
    bits = screening.fail_bits
    idx = pool.by_name[bits[pool.by_name] != 0]
    if limit is not None:
        idx = idx[:limit]
    if not len(idx):
        return ()
    b = bits[idx]
    miss = screening.missing_mask[idx]
    years = np.where(b & _BIT_EXPERIENCE, pool.years[cn.pathway_index][idx], 0.0)
    year_values, year_code = np.unique(years, return_inverse=True)
    # at most MAX_REQUIRED_ACCREDITATIONS (32) required, so this key fits in int64
    key = ((miss << 4) | b) * len(year_values) + year_code.reshape(-1)
    _, first, pattern = np.unique(key, return_index=True, return_inverse=True)
    reasons = [_reasons(pool, cn, int(b[k]), int(miss[k]), float(year_values[year_code[k]])) for k in first.tolist()]
    return tuple(
        map(
            Exclusion,
            pool.provider_id[idx].tolist(),
            map(pool.names.__getitem__, idx.tolist()),
            map(reasons.__getitem__, pattern.reshape(-1).tolist()),
        )
    )


def _reasons(pool: CandidatePool, cn: CompiledNeed, b: int, miss: int, years: float) -> tuple[ExclusionReason, ...]:
    need = cn.need
    pathway = need.pathway
    out: list[ExclusionReason] = []
    if b & _BIT_PATHWAY:
        out.append(
            ExclusionReason(
                EXCL_PATHWAY, f"does not offer the {pathway} pathway ({PATHWAY_LABELS[pathway]})", (pathway,)
            )
        )
    if b & _BIT_AREA:
        out.append(
            ExclusionReason(
                EXCL_AREA,
                "covers none of the need's areas: " + ", ".join(pool.areas.label(c) for c in need.areas),
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
