"""``rank``: hard filters, vectorised scoring, deterministic ordering, explanations.

Total score
    ``total = sum_k weight_k * score_k`` over the criteria in :data:`CRITERIA`
    order, summed left to right, with weights normalised to sum 1 (see
    :meth:`Weights.normalised`). Every criterion score is in [0, 1], so the total
    is in [0, 1], and each explanation's contributions add up to ``total``.

Ordering
    By ``(-total, name, provider_id)``; identical inputs always give identical output.

Criteria
    Each criterion is an entry of the registry (:mod:`matching.criteria`); its column is
    computed by its score function and held by name, and its explanation is read from that
    column and written by its evidence function. The local-priorities criterion (text
    matching) is looked up by name where ranking treats it specially (see ``_could_reach_top``).

Input paths, one result
    A plain sequence of candidates (what the API passes, after SQL pre-filtering)
    is screened straight from the objects, reading only the hard filters' fields;
    only the candidates that pass are laid out as columns (for the need's pathway
    only) and text-scanned. A prebuilt :class:`CandidatePool` or a
    :class:`~matching.compact.CompactPool` is screened over its columns. All produce
    byte-identical rankings.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Final, TypedDict, Unpack

import numpy as np
import numpy.typing as npt

from .areas import AreaTree
from .columns import take
from .compact import CompactPool
from .criteria import BY_NAME, CRITERIA, LOCAL_PRIORITIES, REGISTRY, Criterion, score_columns
from .errors import MatchingError
from .explain import STRENGTH_MIN_SCORE, WEAKNESS_BELOW, EvidenceContext, covered_leaves, finite_or_none, qualifying
from .models import Candidate, Need
from .needs import CompiledNeed, compile_need
from .parts import Merged, Part
from .pool import CandidatePool, Pool, build_pool
from .results import Component, CriterionScore, DirectoryCounts, Exclusion, Ranking, ScoredCandidate
from .scoring import CAPACITY, CriterionColumn, ScoringInput, scoring_bounds, scoring_ceilings, scoring_input
from .screening import Screening, build_exclusions, excluded_in_name_order, screen, screen_candidates, screen_directory
from .thesaurus import EMPTY_THESAURUS, Thesaurus
from .version import ALGORITHM_VERSION
from .vocab import SOCIAL_VALUE_ACCREDITATIONS
from .weights import DEFAULT_WEIGHTS, Weights, effective_weights, shown_percentages


class _RequiredOptions(TypedDict):
    areas: AreaTree
    """The area tree (a pool must have been built with an equal one)."""
    as_of: date
    """The assessment date (years operating, profile freshness); a datetime's time of day is ignored."""


class RankOptions(_RequiredOptions, total=False):
    """The keyword options of :func:`rank` and :func:`shortlist` (``areas`` and ``as_of`` are required)."""

    limit: int | None
    """Caps the scored list (explanations are only built for those shown); default ``None``: all."""
    excluded_limit: int | None
    """Caps the exclusion list (counts are always complete); default ``None``: all."""
    social_value_accreditations: Collection[str]
    """Accreditation codes that count as social value commitments rather than quality (default
    :data:`~matching.vocab.SOCIAL_VALUE_ACCREDITATIONS`)."""
    pathway_names: Mapping[str, str] | None
    """Pathway code -> display name for explanation text (default ``None``:
    :data:`~matching.vocab.DEFAULT_PATHWAY_NAMES`; unnamed codes are shown bare)."""
    thesaurus: Thesaurus
    """Equivalent terms for matching local priorities (default: none)."""


_OPTION_NAMES: Final = RankOptions.__required_keys__ | RankOptions.__optional_keys__


@dataclass(frozen=True, slots=True)
class _Options:
    """:class:`RankOptions`, validated, with their defaults."""

    areas: AreaTree
    as_of: date
    limit: int | None
    excluded_limit: int | None
    social_value_accreditations: frozenset[str]
    pathway_names: Mapping[str, str] | None
    thesaurus: Thesaurus

    @classmethod
    def of(cls, given: RankOptions) -> _Options:
        unknown = sorted(given.keys() - _OPTION_NAMES)
        if unknown:
            raise TypeError(f"unexpected keyword argument {unknown[0]!r} (options: {', '.join(sorted(_OPTION_NAMES))})")
        missing = sorted(RankOptions.__required_keys__ - given.keys())
        if missing:
            raise TypeError(f"missing required keyword argument {missing[0]!r}")
        limit, excluded_limit = given.get("limit"), given.get("excluded_limit")
        for name, value in (("limit", limit), ("excluded_limit", excluded_limit)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise MatchingError(f"{name} must be None or an int >= 0")
        as_of = given["as_of"]
        if not isinstance(as_of, date):
            raise MatchingError("as_of must be a datetime.date")
        thesaurus = given.get("thesaurus", EMPTY_THESAURUS)
        if not isinstance(thesaurus, Thesaurus):
            raise MatchingError("thesaurus must be a matching.Thesaurus")
        sv_codes = given.get("social_value_accreditations", SOCIAL_VALUE_ACCREDITATIONS)
        if isinstance(sv_codes, str) or not all(isinstance(code, str) for code in sv_codes):
            raise MatchingError("social_value_accreditations must be a collection of accreditation codes")
        return cls(
            areas=given["areas"],
            as_of=date(as_of.year, as_of.month, as_of.day),  # a datetime's time of day is ignored
            limit=limit,
            excluded_limit=excluded_limit,
            social_value_accreditations=frozenset(sv_codes),
            pathway_names=given.get("pathway_names"),
            thesaurus=thesaurus,
        )


def rank(
    need: Need,
    candidates: CandidatePool | CompactPool | Iterable[Candidate],
    weights: Weights = DEFAULT_WEIGHTS,
    **options: Unpack[RankOptions],
) -> Ranking:
    """Rank ``candidates`` for ``need``; the keyword options are :class:`RankOptions`.

    ``candidates`` may be a prebuilt :class:`CandidatePool` (it must have been built
    with an equal ``areas`` tree) or any sequence of :class:`Candidate`; both give
    byte-identical results. ``limit`` caps the scored list (explanations are only
    built for those shown); ``excluded_limit`` caps the exclusion list (counts are
    always complete). ``as_of`` is the assessment date (years operating, profile
    freshness).

    A sequence of candidates is screened first, reading only the fields the hard
    filters use; the other fields are read (and validated) only for the candidates
    that pass them. A :class:`CandidatePool` validated every field when built.
    A :class:`~matching.compact.CompactPool` keeps no candidate objects: rank it with
    :func:`shortlist` and explain the result with the shown candidates' details.

    Raises :class:`InvalidNeed`, :class:`InvalidWeights`, :class:`InvalidCandidate`.
    """
    return shortlist(need, candidates, weights, **options).explain()


@dataclass(frozen=True, slots=True, eq=False)
class Shortlist:
    """A ranking with every decision made and every number computed; only the words are missing.

    :attr:`provider_ids` are the ranked providers to explain, best first. :meth:`explain` builds
    the :class:`Ranking`; a compact pool (no candidate objects) needs their details passed in.
    """

    provider_ids: tuple[int, ...]
    directory: DirectoryCounts | None
    """With ``shortlist(..., directory=True)``: the complete counts over the directory; else ``None``."""
    _pool: CandidatePool | CompactPool
    """The pool scored (for a list of candidates: the eligible ones, laid out)."""
    _ctx: EvidenceContext
    _rows: tuple[int, ...]
    _positions: tuple[int, ...]
    """Each ranked provider's position in the columns kept (0, 1, ...: only the ranked providers' are kept)."""
    _totals: tuple[float, ...]
    _weights: Mapping[str, float]
    _columns: Mapping[str, CriterionColumn]
    """Each criterion's column for the ranked providers only, in rank order."""
    _contributions: Mapping[str, npt.NDArray[np.float64]]
    _head: dict[str, Any]
    _exclusions: Callable[[], tuple[Exclusion, ...]]
    """Builds the first excluded providers' records (:meth:`exclusions`); it keeps the need's screening (a few MB at
    200,000 providers) for as long as the shortlist lives: keeping only the excluded providers' columns instead was
    tried and moved neither the benchmark's memory peak nor its times."""

    def exclusions(self) -> tuple[Exclusion, ...]:
        """The first ``excluded_limit`` excluded providers, by name, with their reasons (the :class:`Ranking`'s
        ``excluded``): built when asked for, e.g. while the shown providers' details are read, and handed to
        :meth:`Explaining.ranking`."""
        return self._exclusions()

    def part(self) -> Part:
        """This shortlist as one part of a directory ranked in parts (:mod:`matching.parts`): plain data, with its
        excluded providers' records built."""
        head, d = self._head, self.directory
        names = self._pool.names
        return Part(
            provider_ids=self.provider_ids,
            totals=self._totals,
            names=tuple(names[i] for i in self._rows),
            candidate_count=head["candidate_count"],
            eligible_count=head["eligible_count"],
            excluded_count=head["excluded_count"],
            excluded_by_reason=dict(head["excluded_by_reason"]),
            excluded=self.exclusions(),
            directory=None if d is None else (d.directory_size, d.excluded_count, dict(d.excluded_by_reason)),
        )

    def explain(self, details: Mapping[int, Candidate] | None = None) -> Ranking:
        """The :class:`Ranking`. ``details``: provider id -> :class:`Candidate` for every id in
        :attr:`provider_ids` (only needed, and only read, when the pool keeps no candidates).

        The details must describe the providers exactly as the pool does (the same snapshot);
        a missing one, or one whose id or name disagrees with the pool, raises :class:`MatchingError`.
        """
        explaining = self.explaining()
        return explaining.ranking(explaining.explain(details, 0, len(self.provider_ids)))

    def explaining(self) -> Explaining:
        """One explanation made in parts (:class:`Explaining`), e.g. while the next part's details are read."""
        # words, rows and services found while explaining: this explanation only
        ctx = replace(self._ctx, memo={}, services={}, covered={}, reader=None, need_words=None, rows={}, premises={})
        return Explaining(self, ctx)


@dataclass(frozen=True, slots=True, eq=False)
class Explaining:
    """One explanation of a :class:`Shortlist`, built a range of ranks at a time (in order, from one thread at a
    time): the parts share what they find about the need's words, so explaining in parts costs what explaining
    at once does. :meth:`Shortlist.explain` is ``ranking(explain(details, 0, len(provider_ids)))``."""

    shortlist: Shortlist
    _ctx: EvidenceContext

    def explain(self, details: Mapping[int, Candidate] | None, start: int, stop: int) -> tuple[ScoredCandidate, ...]:
        """The ranked providers ``start`` to ``stop`` (0-based, ``stop`` excluded), explained; ``details`` as
        :meth:`Shortlist.explain` takes them, for those providers at least."""
        return self.explain_at(details, [(at, at + 1) for at in range(start, stop)])

    def explain_at(
        self, details: Mapping[int, Candidate] | None, shown: Sequence[tuple[int, int]]
    ) -> tuple[ScoredCandidate, ...]:
        """The ranked providers at positions ``shown`` (each a 0-based position in :attr:`Shortlist.provider_ids`
        and the rank, 1-based, to give it), explained; ``details`` as :meth:`Shortlist.explain` takes them. A part
        of a directory explains its providers at their ranks in the whole (:meth:`Merged.shown`)."""
        short = self.shortlist
        pool = short._pool
        scored = []
        for at, rank_no in shown:
            pid, i = short.provider_ids[at], short._rows[at]
            if isinstance(pool, CandidatePool):
                cand = pool.candidates[i]
            else:
                found = (details or {}).get(pid)
                if found is None:
                    raise MatchingError(f"no details given for provider {pid}, ranked {rank_no}")
                if found.provider_id != pid or found.name != pool.names[i]:
                    raise MatchingError(f"the details given for provider {pid} do not describe the pool's row")
                cand = found
            scored.append(_explain(self._ctx, short, at, cand, rank_no))
        return tuple(scored)

    def merged(self, merged: Merged, scored: Sequence[ScoredCandidate]) -> Ranking:
        """The :class:`Ranking` of a whole directory ranked in parts (:func:`matching.parts.merge`), this
        explanation's shortlist being one of them: ``scored`` must be every provider ``merged`` ranks, in order."""
        if tuple(s.provider_id for s in scored) != merged.provider_ids:
            raise MatchingError("the parts explained are not every ranked provider in order")
        head = {**self.shortlist._head, **merged.counts}
        return Ranking(scored=tuple(scored), excluded=merged.excluded, **head)

    def ranking(self, scored: Sequence[ScoredCandidate], excluded: tuple[Exclusion, ...] | None = None) -> Ranking:
        """The :class:`Ranking` of the parts ``scored``, which must be every ranked provider in order; ``excluded``:
        what :meth:`Shortlist.exclusions` gave, if it was asked for already."""
        if tuple(s.provider_id for s in scored) != self.shortlist.provider_ids:
            raise MatchingError("the parts explained are not every ranked provider in order")
        if excluded is None:
            excluded = self.shortlist.exclusions()
        return Ranking(scored=tuple(scored), excluded=excluded, **self.shortlist._head)


def shortlist(
    need: Need,
    candidates: CandidatePool | CompactPool | Iterable[Candidate],
    weights: Weights = DEFAULT_WEIGHTS,
    *,
    directory: bool = False,
    **options: Unpack[RankOptions],
) -> Shortlist:
    """:func:`rank` up to the explanations; see :class:`Shortlist`. The keyword options are :class:`RankOptions`.

    ``directory=True`` (a pool only): the pool is the whole directory, and only the candidates with a
    service in the need's pathway covering an area in, above or below its areas are assessed, exactly as
    if only those had been passed (the :class:`Ranking` is theirs); :attr:`Shortlist.directory` has the
    complete counts over the whole directory (:class:`DirectoryCounts`).
    """
    opts = _Options.of(options)
    areas, as_of, limit, sv_codes = opts.areas, opts.as_of, opts.limit, opts.social_value_accreditations
    excluded_limit, pathway_names = opts.excluded_limit, opts.pathway_names
    if isinstance(candidates, (CandidatePool, CompactPool)) and candidates.areas != areas:
        raise MatchingError("the candidate pool was built with a different area tree")
    if directory and not isinstance(candidates, (CandidatePool, CompactPool)):
        raise MatchingError("directory=True needs a CandidatePool or a CompactPool")
    withdrawn = candidates.withdrawn if isinstance(candidates, CompactPool) else None
    if withdrawn is not None and not directory:
        raise MatchingError("a pool with withdrawn rows ranks as a directory only (directory=True)")
    gone = 0 if withdrawn is None else int(np.count_nonzero(withdrawn))

    cn = compile_need(need, areas)
    w = effective_weights(weights, need.weight_overrides, has_priorities=bool(need.local_priorities))
    wd = w.as_dict()
    counts: DirectoryCounts | None = None
    by_reason: dict[str, int] | None = None
    outside = 0

    scored_pool: CandidatePool | CompactPool
    if isinstance(candidates, (CandidatePool, CompactPool)):
        pool = candidates
        if directory:
            screening, outside, outside_by_reason = screen_directory(pool.columns, cn, withdrawn)
            by_reason = screening.counts()
            counts = DirectoryCounts(
                directory_size=len(pool) - gone,
                excluded_count=len(pool) - gone - len(screening.eligible),
                excluded_by_reason=MappingProxyType(
                    {code: k + outside_by_reason.get(code, 0) for code, k in by_reason.items()}
                ),
            )
        else:
            screening = screen(pool.columns, cn)
        pids, by_name = pool.provider_id, pool.by_name
        scored_pool, scored_screening = pool, screening

        def names_of(idx: list[int]) -> list[str]:
            return list(map(pool.names.__getitem__, idx))

    else:
        cands = candidates if isinstance(candidates, (list, tuple)) else list(candidates)
        screening, pids = screen_candidates(cands, cn, areas)
        by_name = None
        scored_pool = _lay_out_eligible(cands, pids, screening.eligible, cn, areas)
        scored_screening = screen(scored_pool.columns, cn)
        if len(scored_screening.eligible) != len(screening.eligible):  # pragma: no cover - same rules twice
            raise AssertionError("screening of candidates and of their columns disagree")

        def names_of(idx: list[int]) -> list[str]:
            return list(map(_NAME, map(cands.__getitem__, idx)))

    idx = screening.eligible
    # With a limit, only the candidates whose total could be among the best `limit` are scored (see
    # _could_be_shown), and text matching, the expensive criterion, only for those of them that could still
    # reach the top whatever their priorities (see _could_reach_top).
    scored_rows = None
    if limit is not None and limit > 0 and BOUND_ABOVE * limit < len(idx):
        scored_rows = _could_be_shown(scored_pool, cn, scored_screening, wd, limit, as_of, sv_codes, opts.thesaurus)
    m = len(idx) if scored_rows is None else len(scored_rows)
    prune = bool(cn.priorities) and limit is not None and limit < m
    inputs = scoring_input(
        scored_pool,
        cn,
        scored_screening,
        as_of=as_of,
        social_value_accreditations=sv_codes,
        priority_rows=np.zeros(0, dtype=np.int64) if prune else None,
        thesaurus=opts.thesaurus,
        rows=scored_rows,
    )
    if prune and limit is not None:
        columns = score_columns(inputs, _WITHOUT_TEXT)
        known = {name: wk * columns[name].score for name, wk in wd.items() if name != LOCAL_PRIORITIES}
        rows = _could_reach_top(known, wd[LOCAL_PRIORITIES], limit, m)
        columns[LOCAL_PRIORITIES] = BY_NAME[LOCAL_PRIORITIES].score(replace(inputs, priority_rows=rows))
        columns = {name: columns[name] for name in CRITERIA}
        known[LOCAL_PRIORITIES] = wd[LOCAL_PRIORITIES] * columns[LOCAL_PRIORITIES].score
        contributions = {name: known[name] for name in wd}
    else:
        columns = score_columns(inputs)
        contributions = {name: wk * columns[name].score for name, wk in wd.items()}
    total = _sum(contributions, m)

    positions = inputs.idx  # the pool rows scored
    order = _top(total, scored_pool, positions, limit).tolist()
    ctx = EvidenceContext(
        scored_pool.columns,
        cn,
        areas.within_mask(cn.area_nodes),
        as_of,
        sv_codes,
        pathway_names,
        qualifying=scored_screening.qualifying,
        touching=scored_screening.touching,
        qualifying_owner=scored_pool.columns.services.owner[scored_screening.qualifying],
        thesaurus=opts.thesaurus,
    )
    rows_shown = [int(positions[j]) for j in order]
    # the shortlist keeps only the shown candidates' columns: all an explanation reads (less memory held while the
    # shown providers' details are read and explained)
    shown_at = np.asarray(order, dtype=np.int64)
    n = len(pids) - gone - outside
    prefix_keys = candidates.names.prefix_keys if isinstance(candidates, CompactPool) else None

    def exclusions() -> tuple[Exclusion, ...]:
        shown = excluded_in_name_order(names_of, pids, screening, excluded_limit, by_name, prefix_keys)
        return build_exclusions(names_of, pids, shown, cn, screening, areas, pathway_names)

    head: dict[str, Any] = {
        "algorithm_version": ALGORITHM_VERSION,
        "need_id": need.id,
        "as_of": as_of,
        "weights": w,
        "weights_percent": shown_percentages(wd),
        "candidate_count": n,
        "eligible_count": len(idx),
        "excluded_count": n - len(idx),
        "excluded_by_reason": screening.counts() if by_reason is None else by_reason,
    }
    return Shortlist(
        provider_ids=tuple(scored_pool.provider_id[rows_shown].tolist()) if rows_shown else (),
        directory=counts,
        _pool=scored_pool,
        _ctx=ctx,
        _rows=tuple(rows_shown),
        _positions=tuple(range(len(order))),
        _totals=tuple(float(total[j]) for j in order),
        _weights=wd,
        _columns={name: col.take(shown_at) for name, col in columns.items()},
        _contributions={name: c[shown_at] for name, c in contributions.items()},
        _head=head,
        _exclusions=exclusions,
    )


_NAME = attrgetter("name")
_WITHOUT_TEXT: Final = tuple(c for c in REGISTRY if c.name != LOCAL_PRIORITIES)
"""The criteria scored before the candidates whose local priorities are matched are known (see _could_reach_top)."""


def _sum(contributions: Mapping[str, npt.NDArray[np.float64]], m: int) -> npt.NDArray[np.float64]:
    """Left-to-right sum in :data:`CRITERIA` order (the total's definition)."""
    total = np.zeros(m)
    for name in CRITERIA:
        total += contributions[name]
    return total


BOUND_ABOVE = 64
"""With more than this many eligible candidates per one shown, only those that could be shown are scored (see
:func:`_could_be_shown`); with fewer, bounding them costs about what scoring them all does (measured: at 200,000
providers a need with 2,534 eligible for 50 shown ranks 2 ms faster without, one with 52,938 several times faster
with)."""
PROBE: Final = 8
"""Candidates (per one shown) scored to find a total the best ``limit`` reach at least (see _could_be_shown). The
ceilings order the candidates roughly: at 200,000 providers the broad benchmark need's 50th best exact total was
0.654 among the 100 highest ceilings and 0.716 among the 400 highest, as among the 100 highest tighter bounds (the
lower threshold left two to three times as many candidates to bound)."""
CEILING_WEIGHT: Final = 0.1
"""The ceilings bound only the criteria weighing at least this (by default all but added value and sustainability, 5%
each, whose ceilings are 1): scoring a criterion's ceilings for every eligible candidate costs as much as the
others' (about 1 ms each for the broad benchmark need's 52,938), and a light one moves the bound little. The
bounds then score every criterion for the candidates left (measured: the shortlist ~1.4 ms faster, 8,514
candidates left by the ceilings instead of 3,722, the same ~1,400 by the bounds)."""
ROUNDING: Final = 1e-9
"""Room for rounding when a bound, computed through other floating-point steps than the total it bounds, is
compared (a few units in the last place of a number in [0, 1] at most)."""


def _could_be_shown(
    pool: Pool,
    cn: CompiledNeed,
    screening: Screening,
    weights: Mapping[str, float],
    limit: int,
    as_of: date,
    social_value_accreditations: frozenset[str],
    thesaurus: Thesaurus,
) -> npt.NDArray[np.int64]:
    """Positions (among the eligible, ascending) of the candidates whose total could be among the best ``limit``.

    An upper bound of a candidate's total: each criterion's score function on inputs at least the exact ones (the
    functions are non-decreasing in them), local priorities at 1, weighted and summed as the total is. Two such
    bounds: the ceilings (:func:`~matching.scoring.scoring_ceilings`, read from the candidates' rows alone) for
    every eligible candidate, then the tighter bounds (:func:`~matching.scoring.scoring_bounds`, from their
    qualifying services) for those the ceilings keep. ``threshold``: the ``limit``-th largest exact total (local
    priorities matched too: they only add, and at 200,000 providers matching the probe's cost less than bounding the
    candidates a lower threshold lets through) of the ``PROBE * limit`` highest ceilings, so at least ``limit``
    candidates have a total >= it. A candidate with a bound below it is strictly behind all of them: neither shown
    nor tied with the last shown, its scores are never needed.
    """
    sv = social_value_accreditations
    ceilings = scoring_ceilings(pool, cn, screening, as_of=as_of, social_value_accreditations=sv)
    m = ceilings.m
    high = _bound(ceilings, weights, tuple(c for c in _WITHOUT_TEXT if weights[c.name] >= CEILING_WEIGHT))
    k = min(m, PROBE * limit)
    probe = np.sort(np.argpartition(high, m - k)[m - k :])
    exact = score_columns(
        scoring_input(pool, cn, screening, as_of=as_of, social_value_accreditations=sv, thesaurus=thesaurus, rows=probe)
    )
    low = _sum({name: wk * exact[name].score for name, wk in weights.items()}, k)
    threshold = np.partition(low, k - limit)[k - limit]
    rows: npt.NDArray[np.int64] = np.flatnonzero(high + ROUNDING >= threshold)
    high = _bound(scoring_bounds(pool, cn, screening, as_of=as_of, social_value_accreditations=sv, rows=rows), weights)
    kept: npt.NDArray[np.int64] = rows[high + ROUNDING >= threshold]
    return kept


def _bound(
    inputs: ScoringInput, weights: Mapping[str, float], criteria: tuple[Criterion, ...] = _WITHOUT_TEXT
) -> npt.NDArray[np.float64]:
    """The total of every candidate of ``inputs`` (bounds of the exact inputs), every criterion but ``criteria``
    (local priorities among them) at 1."""
    bounds, m = score_columns(inputs, criteria), inputs.m
    ones = np.ones(m)
    contributions = {name: wk * (bounds[name].score if name in bounds else ones) for name, wk in weights.items()}
    return _sum(contributions, m)


def _could_reach_top(
    known: Mapping[str, npt.NDArray[np.float64]], weight: float, limit: int, m: int
) -> npt.NDArray[np.int64]:
    """Positions whose total could still be among the best ``limit``, whatever their priority match.

    ``known``: the contribution (weight times score) of every criterion except local_priorities, whose
    weight is ``weight``. A priority score
    ``s`` is in [0, 1]; float multiplication by a non-negative weight and addition are
    monotone, so the total lies between ``low`` (s = 0) and ``high`` (s = 1), both summed
    in the same order. At least ``limit`` candidates have a total >= the limit-th largest
    ``low``; a candidate whose ``high`` is below it is strictly behind all of them, so it
    can be neither shown nor tied at the boundary, and its priorities are never needed.
    """
    base = {**known, LOCAL_PRIORITIES: np.zeros(m)}
    low = _sum(base, m)
    base[LOCAL_PRIORITIES] = np.full(m, weight * 1.0)
    high = _sum(base, m)
    threshold = np.partition(low, m - limit)[m - limit] if limit else np.inf
    return np.flatnonzero(high >= threshold)


def _lay_out_eligible(
    cands: Sequence[Candidate],
    pids: npt.NDArray[np.int64],
    eligible: npt.NDArray[np.int64],
    cn: CompiledNeed,
    areas: AreaTree,
) -> CandidatePool:
    """Columns of the candidates that passed screening, with their services in the need's pathway only."""
    return build_pool(tuple(take(cands, eligible)), areas, pathway=cn.pathway, order=False, pids=pids[eligible])


def _top(
    total: npt.NDArray[np.float64], pool: Pool, idx: npt.NDArray[np.int64], limit: int | None
) -> npt.NDArray[np.int64]:
    """Positions of the best ``limit`` entries ordered by ``(-total, name, provider_id)``."""
    m = len(total)
    if limit is not None and limit < m:
        if limit == 0:
            return np.zeros(0, dtype=np.int64)
        kth = np.partition(total, m - limit)[m - limit]
        cand = np.flatnonzero(total >= kth)  # includes every tie at the boundary
    else:
        cand = np.arange(m)
    if pool.name_rank is not None:
        order = cand[np.lexsort((pool.name_rank[idx[cand]], -total[cand]))]
    else:
        who = idx[cand]
        keys = zip(
            (-total[cand]).tolist(),
            map(pool.names.__getitem__, who.tolist()),
            pool.provider_id[who].tolist(),
            strict=True,
        )
        order = cand[sorted(range(len(cand)), key=list(keys).__getitem__)]
    return order if limit is None else order[:limit]


def _explain(ctx: EvidenceContext, short: Shortlist, at: int, cand: Candidate, position: int) -> ScoredCandidate:
    """The shortlist's provider at ``at`` (0-based), explained at rank ``position``."""
    i, j, columns = short._rows[at], short._positions[at], short._columns
    covered, _ = covered_leaves(ctx, i)
    services = tuple(s.service_id for s, _, _ in qualifying(ctx, cand, i))  # checks the details have them
    scores = criterion_scores(ctx, cand, i, j, short._weights, columns, short._contributions)
    weighted = [c for c in scores if c.weight > 0]
    # the sort keys themselves sorted (criteria are distinct, so no two keys tie): no key function to call
    strong = sorted([(-c.contribution, c.criterion) for c in weighted if c.score >= STRENGTH_MIN_SCORE])
    weak = sorted([(c.score, c.criterion) for c in weighted if c.score < WEAKNESS_BELOW])
    return ScoredCandidate(
        rank=position,
        provider_id=cand.provider_id,
        name=cand.name,
        total=short._totals[at],
        criteria=scores,
        covered_areas=covered,
        service_ids=services,
        capacity=finite_or_none(float(columns["capacity"].measures[CAPACITY][j])),
        strengths=tuple(name for _, name in strong),
        weaknesses=tuple(name for _, name in weak),
    )


def criterion_scores(
    ctx: EvidenceContext,
    cand: Candidate,
    i: int,
    j: int,
    weights: Mapping[str, float],
    columns: Mapping[str, CriterionColumn],
    contributions: Mapping[str, npt.NDArray[np.float64]],
    criteria: Sequence[Criterion] = REGISTRY,
) -> tuple[CriterionScore, ...]:
    """How each criterion (in the order of ``criteria``) scored the candidate at row ``i`` of the pool
    (position ``j`` among the scored ones): its numbers read from its own column and its words from its
    own evidence function, each looked up by the criterion's name."""
    out = []
    for c in criteria:
        col = columns[c.name]
        out.append(
            CriterionScore(  # criterion, weight, score, contribution, components, evidence, summary (by position)
                c.name,
                weights[c.name],
                ctx.floats(col.score)[j],  # the columns as lists, read once per explanation
                ctx.floats(contributions[c.name])[j],
                _components(ctx, col, j),
                c.evidence(ctx, col, cand, i, j),
                c.summary(ctx, col, cand, i, j),
            )
        )
    return tuple(out)


def _components(ctx: EvidenceContext, col: CriterionColumn, j: int) -> tuple[Component, ...]:
    """The components of ``col`` at position ``j``: made once per explanation for the whole column (``map`` and
    ``zip`` make every position's records in C), kept in ``ctx.parts``."""
    known = ctx.parts.get(id(col))
    if known is None:
        m = len(col.score)
        each = [
            map(Component, [c.name] * m, ctx.known(c.raw), ctx.floats(c.score), [c.weight] * m) for c in col.components
        ]
        known = ctx.parts[id(col)] = (col, list(zip(*each, strict=True)) if each else [()] * m)
    parts: tuple[Component, ...] = known[1][j]
    return parts
