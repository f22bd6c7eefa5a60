"""``rank``: hard filters, vectorised scoring, deterministic ordering, explanations.

Total score
    ``total = sum_k weight_k * score_k`` over the criteria in :data:`CRITERIA`
    order, summed left to right, with weights normalised to sum 1 (see
    :meth:`Weights.normalised`). Every criterion score is in [0, 1], so the total
    is in [0, 1], and each explanation's contributions add up to ``total``.

Ordering
    By ``(-total, name, provider_id)``; identical inputs always give identical output.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .errors import MatchingError
from .explain import EVIDENCE, EvidenceContext, covered_leaves, finite_or_none
from .models import Candidate, Need
from .needs import compile_need
from .pool import CandidatePool
from .results import Component, CriterionScore, Ranking, ScoredCandidate
from .scoring import CriterionColumn, score_criteria
from .screening import build_exclusions, nodes_within, screen
from .version import ALGORITHM_VERSION
from .vocab import CRITERIA
from .weights import DEFAULT_WEIGHTS, Weights, effective_weights


def rank(
    need: Need,
    candidates: CandidatePool | Sequence[Candidate],
    weights: Weights = DEFAULT_WEIGHTS,
    *,
    areas: AreaTree,
    as_of: date,
    limit: int | None = None,
    excluded_limit: int | None = None,
) -> Ranking:
    """Rank ``candidates`` for ``need``.

    ``candidates`` may be a prebuilt :class:`CandidatePool` (fast path; it must have
    been built with an equal ``areas`` tree) or any sequence of :class:`Candidate`.
    ``limit`` caps the scored list (explanations are only built for those shown);
    ``excluded_limit`` caps the exclusion list (counts are always complete).
    ``as_of`` is the assessment date (years operating, profile freshness).

    Raises :class:`InvalidNeed`, :class:`InvalidWeights`, :class:`InvalidCandidate`.
    """
    for name, value in (("limit", limit), ("excluded_limit", excluded_limit)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise MatchingError(f"{name} must be None or an int >= 0")
    if not isinstance(as_of, date):
        raise MatchingError("as_of must be a datetime.date")
    as_of = date(as_of.year, as_of.month, as_of.day)  # a datetime's time of day is ignored
    if isinstance(candidates, CandidatePool):
        pool = candidates
        if pool.areas != areas:
            raise MatchingError("the candidate pool was built with a different area tree")
    else:
        pool = CandidatePool.build(candidates, areas)

    cn = compile_need(need, areas)
    w = effective_weights(weights, need.weight_overrides, has_priorities=bool(need.local_priorities))
    wv = w.values()

    screening = screen(pool, cn)
    idx = screening.eligible
    columns = score_criteria(pool, cn, screening, as_of=as_of)
    contributions = [wk * col.score for wk, col in zip(wv, columns, strict=True)]
    total = np.zeros(len(idx))
    for contrib in contributions:
        total += contrib

    order = _top(total, pool.name_rank[idx], limit)
    ctx = EvidenceContext(pool, cn, columns, nodes_within(pool, cn.area_nodes), as_of)
    scored = tuple(
        _explain(ctx, pos + 1, int(idx[j]), j, float(total[j]), wv, contributions)
        for pos, j in enumerate(order.tolist())
    )
    excluded_count = len(pool) - len(idx)
    return Ranking(
        algorithm_version=ALGORITHM_VERSION,
        need_id=need.id,
        as_of=as_of,
        weights=w,
        candidate_count=len(pool),
        eligible_count=len(idx),
        scored=scored,
        excluded_count=excluded_count,
        excluded_by_reason=screening.counts(),
        excluded=build_exclusions(pool, cn, screening, excluded_limit),
    )


def _top(total: npt.NDArray[np.float64], name_rank: npt.NDArray[np.int64], limit: int | None) -> npt.NDArray[np.int64]:
    """Positions of the best ``limit`` entries ordered by (-total, name_rank)."""
    m = len(total)
    if limit is not None and limit < m:
        if limit == 0:
            return np.zeros(0, dtype=np.int64)
        kth = np.partition(total, m - limit)[m - limit]
        cand = np.flatnonzero(total >= kth)  # includes every tie at the boundary
    else:
        cand = np.arange(m)
    order = cand[np.lexsort((name_rank[cand], -total[cand]))]
    return order if limit is None else order[:limit]


def _explain(
    ctx: EvidenceContext,
    position: int,
    i: int,
    j: int,
    total: float,
    wv: tuple[float, ...],
    contributions: list[npt.NDArray[np.float64]],
) -> ScoredCandidate:
    cand = ctx.pool.candidates[i]
    criteria = tuple(
        CriterionScore(
            criterion=name,
            weight=wk,
            score=float(col.score[j]),
            contribution=float(contrib[j]),
            components=_components(col, j),
            evidence=evidence(ctx, cand, i, j),
        )
        for name, wk, col, contrib, evidence in zip(CRITERIA, wv, ctx.columns, contributions, EVIDENCE, strict=True)
    )
    covered, _ = covered_leaves(ctx, i)
    return ScoredCandidate(
        rank=position,
        provider_id=cand.provider_id,
        name=cand.name,
        total=total,
        criteria=criteria,
        covered_areas=covered,
    )


def _components(col: CriterionColumn, j: int) -> tuple[Component, ...]:
    return tuple(
        Component(c.name, finite_or_none(float(c.raw[j])), float(c.score[j]), c.weight) for c in col.components
    )
