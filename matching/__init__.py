"""Provision matching core: rank providers for a commissioning need, explainably.

Pure: data in, ranked data out. No I/O, no clock (the assessment date is passed
in), deterministic. Inputs and outputs are msgspec frozen Structs, so results
encode to JSON with ``msgspec.json.encode``.

Public API
    rank(need, candidates, weights=DEFAULT_WEIGHTS, *, areas, as_of, limit=None, excluded_limit=None,
         social_value_accreditations=SOCIAL_VALUE_ACCREDITATIONS, pathway_names=None) -> Ranking
         (the keyword options are one RankOptions, shared with shortlist)
    propose_partnerships(needs, rankings, *, areas, max_options=3) -> PartnershipPlan
    CandidatePool.build(candidates, areas)  # full pool: columns + candidates + text, reusable across needs
    compact.build_compact / compact.concat / compact.replace_rows  # CompactPool: columns + word ids, no text
    shortlist(need, pool, ..., directory=False) -> Shortlist; Shortlist.explain(details) -> Ranking
    (or in parts: Shortlist.explaining() -> Explaining; .explain(details, start, stop); .ranking(parts))
    parts.deal / parts.gather / parts.route / Shortlist.part / parts.merge / Explaining.explain_at / Explaining.merged
    # a directory ranked in parts (one per process), merged into the whole's ranking
    need_leaves(need, areas) -> tuple[str, ...]  # the need's local areas holding service users (its cells)
    expected_users(need, areas) -> dict[str, float]  # the need's annual volume per local area (by volumes or people)
    concentration(capacities) -> Concentration  # HHI and largest share of capacity (matching.market)
    CRITERIA, DEFAULT_CRITERION_WEIGHTS  # from the criteria registry (matching.criteria), in its order

A candidate is an organisation with its active services; a provider qualifies for a
need through its services in the need's pathway that serve the need's people, and is
read through them (coverage, capacity, cohorts, years, outcomes, text).

Pathway, cohort and sector codes are data, not part of the core: any non-empty
string works, and the vocabularies are derived from the inputs.
"""

from . import compact, market, parts
from .areas import AreaTree
from .columns import Columns
from .compact import CompactPool, build_compact
from .criteria import CRITERIA, DEFAULT_CRITERION_WEIGHTS, LOCAL_PRIORITIES, Criterion
from .errors import InvalidAreaTree, InvalidCandidate, InvalidNeed, InvalidWeights, MatchingError
from .market import HHI_BANDS, HHI_SOURCE, SUITABLE_SCORE, Concentration, concentration
from .models import Candidate, DesiredOutcome, Need, OutcomeRecord, Priority, Service
from .needs import expected_users, need_leaves
from .partnerships import (
    Cell,
    Member,
    Offer,
    PartnershipOption,
    PartnershipPlan,
    offers_from_rankings,
    propose_partnerships,
)
from .pool import CandidatePool, Pool
from .ranking import Explaining, RankOptions, Shortlist, rank, shortlist
from .results import Component, CriterionScore, DirectoryCounts, Exclusion, ExclusionReason, Ranking, ScoredCandidate
from .thesaurus import Thesaurus
from .version import ALGORITHM_VERSION
from .vocab import DEFAULT_PATHWAY_NAMES, EXCLUSION_CODES, SOCIAL_VALUE_ACCREDITATIONS
from .weights import DEFAULT_WEIGHTS, Weights, largest_remainder, shown_percentages

__all__ = (
    "ALGORITHM_VERSION",
    "CRITERIA",
    "DEFAULT_CRITERION_WEIGHTS",
    "DEFAULT_PATHWAY_NAMES",
    "DEFAULT_WEIGHTS",
    "EXCLUSION_CODES",
    "HHI_BANDS",
    "HHI_SOURCE",
    "LOCAL_PRIORITIES",
    "SOCIAL_VALUE_ACCREDITATIONS",
    "SUITABLE_SCORE",
    "AreaTree",
    "Candidate",
    "CandidatePool",
    "Cell",
    "Columns",
    "CompactPool",
    "Component",
    "Concentration",
    "Criterion",
    "CriterionScore",
    "DesiredOutcome",
    "DirectoryCounts",
    "Exclusion",
    "ExclusionReason",
    "Explaining",
    "InvalidAreaTree",
    "InvalidCandidate",
    "InvalidNeed",
    "InvalidWeights",
    "MatchingError",
    "Member",
    "Need",
    "Offer",
    "OutcomeRecord",
    "PartnershipOption",
    "PartnershipPlan",
    "Pool",
    "Priority",
    "RankOptions",
    "Ranking",
    "ScoredCandidate",
    "Service",
    "Shortlist",
    "Thesaurus",
    "Weights",
    "build_compact",
    "compact",
    "concentration",
    "expected_users",
    "largest_remainder",
    "market",
    "need_leaves",
    "offers_from_rankings",
    "parts",
    "propose_partnerships",
    "rank",
    "shortlist",
    "shown_percentages",
)
