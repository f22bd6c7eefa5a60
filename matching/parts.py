"""A directory ranked in parts, and the parts' shortlists merged into the ranking of the whole.

A caller holding a large directory as several compact pools (a server ranking one part in each of two processes,
so one request uses both cores: ``marketplace.exercises.pools``) shortlists each part alone
(``shortlist(..., directory=True)``), reduces each shortlist to a :class:`Part` (plain data, to send between
processes), and :func:`merge` finds the ranking of the whole: the best ``limit`` of the parts' best ``limit`` by
``(-total, name, provider_id)``, the first ``excluded_limit`` of their excluded by ``(name, provider_id)``, and
every count summed. Each part then explains its own shown providers at their ranks in the whole
(:meth:`~matching.ranking.Explaining.explain_at`), and :meth:`~matching.ranking.Explaining.merged` puts the
ranking together. A candidate's scores depend only on the need and the candidate, and the parts' best
``limit`` hold the whole's, so the ranking is the one ranking a single pool of every row gives, byte for byte
(tested).

:func:`deal` and :func:`gather` lay a directory out in parts; :func:`route` says which part each changed provider's
new version belongs to, so that every holder of a part (each process) replaces the same rows.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from types import MappingProxyType
from typing import Any

import numpy as np

from .areas import AreaTree
from .compact import CompactPool, build_compact, concat
from .errors import MatchingError
from .models import Candidate
from .results import DirectoryCounts, Exclusion


@dataclass(frozen=True, slots=True)
class Part:
    """What one part's shortlist tells :func:`merge` (plain data, which msgspec encodes: it crosses processes)."""

    provider_ids: tuple[int, ...]
    """The part's ranked providers, best first (its best ``limit``)."""
    totals: tuple[float, ...]
    names: tuple[str, ...]
    candidate_count: int
    eligible_count: int
    excluded_count: int
    excluded_by_reason: dict[str, int]
    excluded: tuple[Exclusion, ...]
    """The part's first ``excluded_limit`` excluded providers, by ``(name, provider_id)``."""
    directory: tuple[int, int, dict[str, int]] | None
    """With ``directory=True``: the part's :class:`~matching.results.DirectoryCounts` (size, excluded, by reason)."""


@dataclass(frozen=True, slots=True)
class Merged:
    """The ranking of the whole, before the words: which part's provider is at each rank, and every count."""

    order: tuple[tuple[int, int], ...]
    """(part, position in that part's :attr:`Part.provider_ids`) of each ranked provider, best first."""
    provider_ids: tuple[int, ...]
    counts: dict[str, Any]
    """The :class:`~matching.results.Ranking`'s counts: ``candidate_count``, ``eligible_count``,
    ``excluded_count``, ``excluded_by_reason``."""
    excluded: tuple[Exclusion, ...]
    directory: DirectoryCounts | None

    def shown(self, part: int) -> tuple[tuple[int, int], ...]:
        """(position in the part's shortlist, rank in the whole, 1-based) of each of ``part``'s shown providers."""
        return tuple((at, rank) for rank, (p, at) in enumerate(self.order, start=1) if p == part)


def _summed(counts: Sequence[dict[str, int]]) -> dict[str, int]:
    """Counts by code added up, in the first's order (every part lists every code)."""
    if any(c.keys() != counts[0].keys() for c in counts):
        raise MatchingError("the parts count different exclusion codes")
    return {code: sum(c[code] for c in counts) for code in counts[0]}


def merge(parts: Sequence[Part], limit: int | None, excluded_limit: int | None) -> Merged:
    """The ranking of the whole directory from its parts' shortlists, each made with the same need, weights and
    options (``limit`` and ``excluded_limit`` as given to them)."""
    if not parts:
        raise MatchingError("no parts to merge")
    ranked = sorted(
        (-total, name, pid, k, at)
        for k, p in enumerate(parts)
        for at, (pid, total, name) in enumerate(zip(p.provider_ids, p.totals, p.names, strict=True))
    )
    if limit is not None:
        ranked = ranked[:limit]
    excluded = heapq.merge(*(p.excluded for p in parts), key=lambda e: (e.name, e.provider_id))
    kept = list(excluded if excluded_limit is None else islice(excluded, excluded_limit))
    directory = None
    if all(p.directory is not None for p in parts):
        sizes = [p.directory for p in parts if p.directory is not None]
        directory = DirectoryCounts(
            directory_size=sum(d[0] for d in sizes),
            excluded_count=sum(d[1] for d in sizes),
            excluded_by_reason=MappingProxyType(_summed([d[2] for d in sizes])),
        )
    return Merged(
        order=tuple((k, at) for *_, k, at in ranked),
        provider_ids=tuple(pid for _, _, pid, _, _ in ranked),
        counts={
            "candidate_count": sum(p.candidate_count for p in parts),
            "eligible_count": sum(p.eligible_count for p in parts),
            "excluded_count": sum(p.excluded_count for p in parts),
            "excluded_by_reason": _summed([p.excluded_by_reason for p in parts]),
        },
        excluded=tuple(kept),
        directory=directory,
    )


def deal(candidates: Sequence[Candidate], areas: AreaTree, n: int) -> tuple[CompactPool, ...]:
    """``candidates`` dealt into ``n`` compact pools, the ``k``-th to part ``k % n`` (so the parts are as even as
    can be, whatever the candidates' ids)."""
    if n < 1:
        raise MatchingError("a directory is split in one part or more")
    return tuple(build_compact(candidates[k::n], areas) for k in range(n))


def gather(dealt: Sequence[Sequence[CompactPool]], areas: AreaTree) -> tuple[CompactPool, ...]:
    """Chunks of a directory, each :func:`deal`t in the same number of parts, joined part by part."""
    if not dealt:
        raise MatchingError("no chunks to gather")
    return tuple(concat([chunk[k] for chunk in dealt], areas) for k in range(len(dealt[0])))


def route(parts: Sequence[CompactPool], fresh: Sequence[Candidate]) -> tuple[tuple[Candidate, ...], ...]:
    """The new versions ``fresh`` of changed providers, by part: each where its provider is now, a new provider (or
    one whose rows were withdrawn) in the part with the fewest rows in the directory (the first of those tied),
    counting those already routed. Each holder of a part
    then applies ``compact.replace_rows(part, changed, routed[k])``, ``changed`` being every changed id."""
    sizes = [p.live_count for p in parts]
    ids = np.asarray([c.provider_id for c in fresh], dtype=np.int64)
    where = np.full(len(fresh), -1, dtype=np.int64)
    for k, p in enumerate(parts):
        live = p.provider_id if p.withdrawn is None else p.provider_id[~p.withdrawn]
        where[np.isin(ids, live)] = k
    out: list[list[Candidate]] = [[] for _ in parts]
    for c, now in zip(fresh, where.tolist(), strict=True):
        k = now if now >= 0 else sizes.index(min(sizes))
        if now < 0:
            sizes[k] += 1
        out[k].append(c)
    return tuple(map(tuple, out))
