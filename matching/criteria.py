"""The matching criteria, each defined once.

A criterion is one row of :data:`REGISTRY`: its name, its default weight, its score function (the
criterion's column for the scored candidates, from :mod:`matching.scoring`), its evidence function
(the words explaining one shown candidate's score, from :mod:`matching.explain`) and its summary function
(one plain-English sentence for a lay reader, also from :mod:`matching.explain`). Everything else is
derived from this table, in its order:

* :data:`CRITERIA`, the names (the order of a ranking's criteria, and of the left-to-right sum that
  makes a total);
* :data:`DEFAULT_CRITERION_WEIGHTS` and the fields of :class:`~matching.weights.Weights`;
* the columns of a ranking, held as a mapping name -> column (:func:`score_columns`), each read by
  name: an evidence function is handed its own criterion's column, never a position in a list.

Callers outside the core (e.g. an API's request model for weights) generate their lists of criteria
from :data:`CRITERIA` and :data:`DEFAULT_CRITERION_WEIGHTS` too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from . import explain, scoring
from .explain import EvidenceContext
from .models import Candidate
from .scoring import CriterionColumn, ScoringInput

ScoreFunction = Callable[[ScoringInput], CriterionColumn]
"""The criterion's column for the candidates of a :class:`~matching.scoring.ScoringInput`."""
EvidenceFunction = Callable[[EvidenceContext, CriterionColumn, Candidate, int, int], tuple[str, ...]]
"""Evidence lines for one candidate: (context, the criterion's own column, candidate, its row in the
pool, its position among the scored candidates)."""
SummaryFunction = Callable[[EvidenceContext, CriterionColumn, Candidate, int, int], str]
"""One plain-English sentence for one candidate (same arguments as an evidence function)."""


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    default_weight: float
    score: ScoreFunction
    evidence: EvidenceFunction
    summary: SummaryFunction


LOCAL_PRIORITIES: Final = "local_priorities"
"""The criterion computed from text: when the need has no local priorities its weight is 0, and with a
ranking ``limit`` it is matched only for the candidates that can still be shown (see :mod:`matching.ranking`)."""

REGISTRY: Final[tuple[Criterion, ...]] = (
    Criterion("pathway_fit", 0.20, scoring.pathway_fit, explain.pathway_fit, explain.pathway_fit_summary),
    Criterion("coverage", 0.15, scoring.coverage, explain.coverage, explain.coverage_summary),
    Criterion("capacity", 0.10, scoring.capacity, explain.capacity, explain.capacity_summary),
    Criterion(
        "financial_viability",
        0.10,
        scoring.financial_viability,
        explain.financial_viability,
        explain.financial_viability_summary,
    ),
    Criterion("quality", 0.15, scoring.quality, explain.quality, explain.quality_summary),
    Criterion(
        LOCAL_PRIORITIES, 0.10, scoring.local_priorities, explain.local_priorities, explain.local_priorities_summary
    ),
    Criterion("added_value", 0.05, scoring.added_value, explain.added_value, explain.added_value_summary),
    Criterion("social_value", 0.10, scoring.social_value, explain.social_value, explain.social_value_summary),
    Criterion("sustainability", 0.05, scoring.sustainability, explain.sustainability, explain.sustainability_summary),
)

CRITERIA: Final[tuple[str, ...]] = tuple(c.name for c in REGISTRY)
"""Criterion names, in registry order."""
DEFAULT_CRITERION_WEIGHTS: Final[Mapping[str, float]] = MappingProxyType({c.name: c.default_weight for c in REGISTRY})
"""Criterion name -> default weight, in registry order."""
BY_NAME: Final[Mapping[str, Criterion]] = MappingProxyType({c.name: c for c in REGISTRY})


def score_columns(inputs: ScoringInput, criteria: Sequence[Criterion] = REGISTRY) -> dict[str, CriterionColumn]:
    """Every criterion's column, by name, in the order of ``criteria``."""
    return {c.name: c.score(inputs) for c in criteria}
