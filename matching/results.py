"""Output data types (msgspec frozen Structs, JSON-encodable with ``msgspec.json.encode``).

They are declared ``gc=False``: they are immutable and hold only immutable
values, so they cannot form reference cycles, and skipping GC tracking keeps
large exclusion lists cheap to build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import msgspec

from .weights import Weights


class Component(msgspec.Struct, frozen=True, gc=False):
    """One measured input of a criterion.

    ``raw`` is the measure in its own unit (ratio, months, count, share; ``None`` when
    the provider did not supply the data), ``score`` its value on the criterion's
    curve in [0, 1], and ``weight`` its share of the criterion (components' weights
    sum to 1 and ``criterion.score == sum(weight * score)`` up to float rounding).
    """

    name: str
    raw: float | None
    score: float
    weight: float


class CriterionScore(msgspec.Struct, frozen=True, gc=False):
    """How one criterion was scored for one candidate.

    ``weight`` is the normalised weight actually used, ``contribution == weight * score``,
    and the candidate's ``total`` is the left-to-right sum of contributions in criterion order.
    """

    criterion: str
    weight: float
    score: float
    contribution: float
    components: tuple[Component, ...]
    evidence: tuple[str, ...]
    summary: str = ""
    """One plain-English sentence saying what the score means for this need (empty in rankings stored before
    algorithm 2026.12-1)."""


class ScoredCandidate(msgspec.Struct, frozen=True, gc=False):
    rank: int
    """1-based position in the ranking."""
    provider_id: int
    name: str
    total: float
    criteria: tuple[CriterionScore, ...]
    covered_areas: tuple[str, ...]
    """Leaf areas within the need's areas that this provider's qualifying services cover (tree order)."""
    service_ids: tuple[int, ...] = ()
    """The provider's qualifying services for the need (active, in its pathway, serving its people), in the
    provider's order (never empty in a ranking; the default reads rankings stored before services)."""
    capacity: float | None = None
    """Service users a year for the need: the summed stated capacity of the qualifying services that cover one of
    the need's areas, each counted for the share of its people living in the need's areas (``None`` when none of
    them states one)."""
    strengths: tuple[str, ...] = ()
    """The weighted criteria scoring at least ``explain.STRENGTH_MIN_SCORE``, largest contribution first."""
    weaknesses: tuple[str, ...] = ()
    """The weighted criteria scoring below ``explain.WEAKNESS_BELOW``, lowest score first."""


class ExclusionReason(msgspec.Struct, frozen=True, gc=False):
    code: str
    message: str
    detail: tuple[str, ...] = ()
    """Structured specifics, e.g. the missing accreditation codes."""


class Exclusion(msgspec.Struct, frozen=True, gc=False):
    provider_id: int
    name: str
    reasons: tuple[ExclusionReason, ...]


class Ranking(msgspec.Struct, frozen=True, gc=False):
    algorithm_version: str
    need_id: int | str
    as_of: date
    weights: Weights
    """Normalised weights used (sum 1; local_priorities is 0 when the need has none)."""
    candidate_count: int
    eligible_count: int
    scored: tuple[ScoredCandidate, ...]
    """Best first, at most ``limit`` entries; ties broken by (name, provider_id)."""
    excluded_count: int
    excluded_by_reason: dict[str, int]
    """Number of excluded candidates failing each check (a candidate may fail several)."""
    excluded: tuple[Exclusion, ...]
    """Excluded candidates ordered by (name, provider_id), at most ``excluded_limit``."""
    weights_percent: dict[str, float] = {}
    """Each criterion's share of the score in percent, as used (``weights`` times 100, to one decimal; empty in
    rankings stored before algorithm 2026.12-1)."""


@dataclass(frozen=True, slots=True, eq=False)
class DirectoryCounts:
    """With ``shortlist(..., directory=True)``: the counts over the whole directory (the pool).

    The :class:`Ranking`'s own counts cover the providers assessed (those with a service in the need's
    pathway covering an area in, above or below its areas); these add the providers only counted, so they
    are complete.
    """

    directory_size: int
    """Rows of the pool."""
    excluded_count: int
    """Providers of the directory not eligible, assessed or not: ``directory_size - eligible_count``."""
    excluded_by_reason: Mapping[str, int]
    """Exclusion code -> providers of the directory failing that check, every code in
    :data:`~matching.vocab.EXCLUSION_CODES` order (zeros included; a provider may count under several):
    ``pathway_not_offered`` and ``no_area_coverage`` over the whole directory, the other checks over the
    providers assessed (as in the ranking)."""
