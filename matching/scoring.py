"""Vectorised criterion scores for the eligible candidates: one score function per criterion.

The functions are listed, with each criterion's name, default weight and evidence function, in the
registry (:mod:`matching.criteria`); each reads a :class:`ScoringInput` and returns its criterion's
:class:`CriterionColumn`. Each criterion is a weighted mean of components; each component is a raw
measure passed through a monotone curve from :mod:`matching.curves`:

A provider is read through its **qualifying services** for the need (see :mod:`matching.screening`):

* pathway_fit = 0.3 * offers the pathway (always 1 once eligible)
  + 0.7 * share of the need's cohorts its qualifying services serve (together)
  (1 when the need names no cohorts).
* coverage = share of the people of the need's areas (population figures of the area tree) living in the
  areas its qualifying services cover together (covering an ancestor covers everything beneath it).
* capacity = capacity_curve(capacity for the need / annual volume), the capacity for the need being the sum,
  over its qualifying services covering one of the need's areas, of each one's stated capacity times the
  share of the people of its areas living in the need's areas (a service covering more areas than the need
  shares its capacity across them); none stated -> 0.25.
* financial_viability = 0.6 * dependency_curve(annual budget / annual income)
  + 0.4 * reserves_curve(months of reserves); unknown income or reserves -> 0.2.
* quality = 0.4 * halflife(quality accreditation credit of the organisation and its qualifying services, 1)
  + 0.3 * outcomes evidence + 0.3 * halflife(the most years of a qualifying service, 3).
  **Evidence strength**: each accreditation and outcomes record is verified (an admin saw the evidence) or
  self-declared; verified counts 1, self-declared ``SELF_DECLARED_FACTOR``. Accreditation credit: the sum over
  distinct quality accreditations of their credit (verified when any holder's is). Outcomes evidence: the best
  credit of a qualifying service's outcomes records; when the need lists desired outcomes,
  ``(1 - DESIRED_OUTCOMES_SHARE)`` of that plus ``DESIRED_OUTCOMES_SHARE`` times the mean, over the desired
  outcomes, of the best credit of a record naming it (0 when none does).
* local_priorities = priority-weighted mean phrase match against the qualifying services' own text
  (descriptions and outcomes records; see :mod:`matching.priorities`).
* added_value = 0.4 * halflife(match funding / annual budget, 0.1)
  + 0.2 * halflife(volunteers, 10) + 0.2 * halflife(premises in the need's areas, 1)
  + 0.2 * halflife(partner organisations, 2).
* social_value = 0.5 * commissioner's preference for the provider's sector
  + 0.3 * halflife(social value commitments (accreditations of the organisation and its qualifying
  services counting too), 2) + 0.2 * local presence (0/1);
  without a sector preference the other two share the weight 0.6 / 0.4.
* sustainability = 0.4 * halflife(years operating as of the date, 5)
  + 0.3 * halflife(distinct funding sources, 2) + 0.3 * freshness_curve(months
  since the profile was last confirmed); unknown founding year or confirmation -> 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, NamedTuple, TypedDict

import numpy as np
import numpy.typing as npt

from . import curves
from .columns import Columns, Pairs, ServiceColumns, sorted_distinct
from .coverage import coverage_ceiling, coverage_of
from .needs import CompiledNeed
from .pool import Pool
from .priorities import priority_matches
from .thesaurus import EMPTY_THESAURUS, Thesaurus

if TYPE_CHECKING:  # screening imports the results, which import the weights, which import the criteria (this)
    from .screening import Screening

FloatArray = npt.NDArray[np.float64]

UNKNOWN_CAPACITY: Final = 0.25
CAPACITY: Final = "service_users_per_year"
"""The capacity criterion's measure: the summed capacity of the qualifying services covering the need's areas."""
UNKNOWN_FINANCE: Final = 0.2
PATHWAY_BASE: Final = 0.3
SELF_DECLARED_FACTOR: Final = 0.6
"""What self-declared evidence (an accreditation or outcomes record no admin has verified) counts for, against 1
for verified evidence. A claim nobody has checked is worth less than a checked one, but not nothing: most small
providers' evidence is self-declared, and a commissioner checks it at tender. At 0.6 one self-declared quality
accreditation earns 0.34 of the accreditation component against 0.5 verified, and self-declared outcomes 0.6 of
the outcomes component, so verified evidence decides between otherwise equal providers without wiping out the
others."""
DESIRED_OUTCOMES_SHARE: Final = 0.5
"""When a need lists desired outcomes: the share of the outcomes evidence given to records naming them (the rest
to having outcomes records at all)."""


@dataclass(frozen=True, slots=True, eq=False)
class ComponentColumn:
    name: str
    weight: float
    raw: FloatArray
    """NaN where the provider did not supply the data."""
    score: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class CriterionColumn:
    """One criterion's scores for the eligible candidates (its name is the registry entry's, see
    :mod:`matching.criteria`), with the components it is the weighted sum of."""

    components: tuple[ComponentColumn, ...]
    score: FloatArray
    measures: Mapping[str, FloatArray] = field(default_factory=lambda: MappingProxyType({}))
    """Figures the explanation states besides the components (e.g. ``capacity``: the summed capacity)."""

    def take(self, positions: npt.NDArray[np.int64]) -> CriterionColumn:
        """The column of the candidates at ``positions`` only (the shown ones: what explaining them reads)."""
        return CriterionColumn(
            tuple(ComponentColumn(c.name, c.weight, c.raw[positions], c.score[positions]) for c in self.components),
            self.score[positions],
            MappingProxyType({k: v[positions] for k, v in self.measures.items()}),
        )

    def component(self, name: str) -> ComponentColumn:
        """The component called ``name`` (``KeyError`` if this criterion has none, e.g. a weight of 0)."""
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(c.name == name for c in self.components)


def _criterion(
    parts: list[tuple[str, float, FloatArray, FloatArray]], m: int, measures: Mapping[str, FloatArray] | None = None
) -> CriterionColumn:
    comps = tuple(ComponentColumn(n, w, raw, np.clip(score, 0.0, 1.0)) for n, w, raw, score in parts if w > 0)
    total = np.zeros(m)
    for c in comps:
        total += c.weight * c.score
    return CriterionColumn(comps, np.clip(total, 0.0, 1.0), MappingProxyType(dict(measures or {})))


@dataclass(frozen=True, slots=True, eq=False)
class ScoringInput:
    """What the score functions read: one need, the candidates that passed its hard filters, and the
    measures more than one criterion uses (computed once, by :func:`scoring_input`)."""

    pool: Pool
    cn: CompiledNeed
    idx: npt.NDArray[np.int64]
    """Rows of the pool being scored (the eligible candidates), ascending."""
    coverage: FloatArray
    """Coverage share of each scored candidate by its qualifying services (:func:`~matching.coverage.coverage_of`)."""
    services: npt.NDArray[np.int64]
    """The qualifying service rows of the scored candidates (ascending)."""
    service_pos: npt.NDArray[np.int64]
    """Position in ``idx`` of the candidate of each of ``services``."""
    cohorts: npt.NDArray[np.uint64]
    """Cohort mask words served by each scored candidate's qualifying services together, shape ``(words, m)``."""
    years: FloatArray
    """Most years of a qualifying service."""
    outcomes: FloatArray
    """Outcomes evidence in [0, 1] (see the module's docstring): records' credit and the desired outcomes named."""
    capacity: FloatArray
    """Capacity for the need: the summed stated capacity of the qualifying services covering one of the need's
    areas, each counted for the share of its people living in the need's areas (NaN: none stated)."""
    capacity_share: FloatArray
    """Each of ``services``: the share of the people of its areas that live in the need's areas."""
    as_of: date
    social_value_accreditations: Set[str]
    thesaurus: Thesaurus
    """Equivalent terms: a local priority is matched as each of its phrasings."""
    priority_rows: npt.NDArray[np.int64] | None
    """Positions (in ``idx``) whose local priorities are matched; ``None`` for all (see :func:`local_priorities`)."""
    quality_accreditations: FloatArray
    """Credit of the distinct quality accreditations: 1 each verified, ``SELF_DECLARED_FACTOR`` each not (quality)."""
    commitments: FloatArray
    """Distinct social value commitments (social_value)."""
    premises: FloatArray
    """Premises inside the need's areas (added_value; local presence in social_value)."""

    @property
    def m(self) -> int:
        return len(self.idx)

    @property
    def cols(self) -> Columns:
        return self.pool.columns


def scoring_input(
    pool: Pool,
    cn: CompiledNeed,
    screening: Screening,
    *,
    as_of: date,
    social_value_accreditations: Set[str],
    priority_rows: npt.NDArray[np.int64] | None = None,
    thesaurus: Thesaurus = EMPTY_THESAURUS,
    rows: npt.NDArray[np.int64] | None = None,
) -> ScoringInput:
    """The :class:`ScoringInput` for the eligible rows of ``screening`` (a screening of the pool's columns),
    their qualifying services aggregated per candidate; ``rows``: only those positions
    among the eligible (ascending; ``None``: all). Each candidate's inputs are its own: scoring some of them
    gives what scoring all gives them."""
    base = _read(pool, cn, screening, rows, as_of, social_value_accreditations, shared=True)
    cols, idx, services, pos, m = pool.columns, base.idx, base.services, base.service_pos, base.m
    outcomes = base.outcomes
    if m and cn.desired:
        met = desired_evidence(cols, cn, services, pos, m)
        outcomes = (1 - DESIRED_OUTCOMES_SHARE) * outcomes + DESIRED_OUTCOMES_SHARE * met.mean(axis=1)
    acc, commitments = accreditation_counts(cols, idx, social_value_accreditations, services, pos)
    inside = cols.areas.within_mask(cn.area_nodes)
    prem = cols.premises
    premises: FloatArray
    if 4 * m < len(cols):  # few candidates scored: read only their premises
        at, which = prem.gather(idx)
        premises = np.bincount(which, weights=inside[prem.item[at]].astype(np.float64), minlength=m).astype(np.float64)
    else:
        in_area = np.bincount(prem.owner, weights=inside[prem.item].astype(np.float64), minlength=len(cols))
        premises = in_area[idx].astype(np.float64)
    return replace(
        base,
        outcomes=outcomes,
        thesaurus=thesaurus,
        priority_rows=priority_rows,
        quality_accreditations=acc,
        commitments=commitments,
        premises=premises,
    )


def scoring_ceilings(
    pool: Pool, cn: CompiledNeed, screening: Screening, *, as_of: date, social_value_accreditations: Set[str]
) -> ScoringInput:
    """A :class:`ScoringInput` for every eligible row of ``screening`` whose every input is at least the one
    :func:`scoring_bounds` gives (so at least the exact one), read from each candidate's row alone: no service row
    is read. The services' measures come from :attr:`~matching.columns.Columns.ceilings` (every service of the
    candidate counted, whatever its pathway, ages, gender or areas); coverage from the areas any of them lists
    (:func:`~matching.coverage.coverage_ceiling`); capacity at least the capacity a provider stating none scores
    as (``UNKNOWN_CAPACITY``). Cohorts likewise; years as screening found them (exact). Cheaper than the bounds by
    the services not grouped per candidate, and looser."""
    cols = pool.columns
    idx = screening.eligible
    ceil = cols.ceilings
    held = ceil.accreditations[idx].astype(np.float64)
    unknown = cn.need.annual_volume * (UNKNOWN_CAPACITY / curves.CAPACITY_AT_VOLUME)  # its ratio scores UNKNOWN
    none = np.zeros(0, dtype=np.int64)
    return ScoringInput(
        pool=pool,
        cn=cn,
        idx=idx,
        coverage=coverage_ceiling(cols, cn, idx),
        services=none,
        service_pos=none,
        cohorts=ceil.cohorts[:, idx].astype(np.uint64, copy=False),
        years=screening.years[idx],
        outcomes=np.where(ceil.outcomes_verified[idx], 1.0, np.where(ceil.outcomes[idx], SELF_DECLARED_FACTOR, 0.0)),
        capacity=np.fmax(ceil.capacity[idx].astype(np.float64), unknown),
        capacity_share=np.zeros(0),
        as_of=as_of,
        social_value_accreditations=social_value_accreditations,
        thesaurus=EMPTY_THESAURUS,
        **_counted_in_full(cols, idx, held),
    )


def scoring_bounds(
    pool: Pool,
    cn: CompiledNeed,
    screening: Screening,
    *,
    as_of: date,
    social_value_accreditations: Set[str],
    rows: npt.NDArray[np.int64] | None = None,
) -> ScoringInput:
    """A :class:`ScoringInput` for the eligible rows of ``screening`` (``rows``: only those positions among them,
    ascending) whose every input is at least the one :func:`scoring_input` gives (and as cheap as possible to
    find): each criterion's score function on it gives at least that criterion's score, since every score function
    is non-decreasing in these inputs. The inputs that are exact anyway stay exact; the others, with what exact
    would read besides:

    * quality accreditations: every accreditation pair of the organisation and of its qualifying services,
      counted in full (exact: distinct quality codes, self-declared ones at ``SELF_DECLARED_FACTOR``);
    * social value commitments: the organisation's commitments plus that count (exact: distinct codes);
    * outcomes: the best credit of a qualifying service's records (exact, with desired outcomes: a share of it
      replaced by the mean credit of records naming them, which is at most that best credit);
    * capacity: the stated capacities of the same services summed in full (exact: each times the share of its
      people living in the need's areas, at most 1; stated by none exactly when exact says so);
    * premises: every premises of the organisation (exact: those in the need's areas).

    Local priorities are not matched (``priority_rows`` empty): their bound is 1.
    """
    base = _read(pool, cn, screening, rows, as_of, social_value_accreditations, shared=False)
    cols, idx, held = pool.columns, base.idx, _sizes(pool.columns.accreditations, base.idx)
    held += np.bincount(base.service_pos, weights=_sizes(cols.services.accreditations, base.services), minlength=base.m)
    return replace(base, **_counted_in_full(cols, idx, held))


class _InFull(TypedDict):
    priority_rows: npt.NDArray[np.int64]
    quality_accreditations: FloatArray
    commitments: FloatArray
    premises: FloatArray


def _counted_in_full(cols: Columns, idx: npt.NDArray[np.int64], held: FloatArray) -> _InFull:
    """The inputs both the ceilings and the bounds count in full for the candidates ``idx``: ``held``
    accreditations (every pair), commitments (those plus the organisation's social value commitments), every
    premises; local priorities not matched (their bound is 1)."""
    return _InFull(
        priority_rows=np.zeros(0, dtype=np.int64),
        quality_accreditations=held,
        commitments=held + _sizes(cols.social_value, idx),
        premises=_sizes(cols.premises, idx),
    )


def _read(
    pool: Pool,
    cn: CompiledNeed,
    screening: Screening,
    rows: npt.NDArray[np.int64] | None,
    as_of: date,
    social_value_accreditations: Set[str],
    *,
    shared: bool,
) -> ScoringInput:
    """What :func:`scoring_input` and :func:`scoring_bounds` read alike: the candidates scored and their qualifying
    services, coverage, cohorts, years, the best outcomes credit and capacity for the need (``shared``: each
    service's stated capacity times the share of its people in the need's areas; else in full). The rest is left
    empty for them to fill."""
    cols = pool.columns
    svc = cols.services
    idx, services, touching, pos, starts = _grouped(cols, screening, rows)
    m = len(idx)
    if m:
        cohorts = np.bitwise_or.reduceat(svc.cohorts_of(services), starts, axis=1)
        outcomes = np.maximum.reduceat(_outcomes_credit(svc, services), starts)
    else:
        cohorts = np.zeros((svc.cohort_mask.shape[0], 0), dtype=np.uint64)
        outcomes = np.zeros(0)
    stated = svc.capacity[services].astype(np.float64, copy=False)
    share = capacity_shares(cols, cn, services) if shared else np.ones(len(services))
    counts = touching & ~np.isnan(stated)
    summed = np.bincount(pos[counts], weights=(stated * share if shared else stated)[counts], minlength=m)
    empty = np.zeros(0)
    return ScoringInput(
        pool=pool,
        cn=cn,
        idx=idx,
        coverage=coverage_of(cols, cn, services, pos, m),
        services=services,
        service_pos=pos,
        cohorts=cohorts,
        years=screening.years[idx],
        outcomes=outcomes,
        capacity=np.where(np.bincount(pos[counts], minlength=m) > 0, summed, np.nan),
        capacity_share=share,
        as_of=as_of,
        social_value_accreditations=social_value_accreditations,
        thesaurus=EMPTY_THESAURUS,
        priority_rows=None,
        quality_accreditations=empty,
        commitments=empty,
        premises=empty,
    )


class _Grouped(NamedTuple):
    idx: npt.NDArray[np.int64]
    """The candidates scored: the eligible rows of the screening, or those at the positions asked among them."""
    services: npt.NDArray[np.int64]
    """Their qualifying service rows, ascending (so grouped by candidate, in ``idx`` order)."""
    touching: npt.NDArray[np.bool_]
    """Whether each of ``services`` covers some of the need's areas."""
    pos: npt.NDArray[np.int64]
    """The position in ``idx`` of each one's candidate."""
    starts: npt.NDArray[np.int64]
    """Where each candidate's group of ``services`` starts."""


def _grouped(cols: Columns, screening: Screening, rows: npt.NDArray[np.int64] | None) -> _Grouped:
    """The candidates scored (the eligible of ``screening``, or those at positions ``rows`` among them) and their
    qualifying services."""
    svc = cols.services
    idx = screening.eligible if rows is None else screening.eligible[rows]
    m = len(idx)
    eligible = np.zeros(len(cols), dtype=np.bool_)
    eligible[idx] = True
    q = screening.qualifying
    keep = eligible[svc.owner[q]]
    services, touching = q[keep], screening.touching[keep]
    # every eligible candidate has a qualifying service and they come grouped by candidate, in idx order:
    # group j of `services` is candidate idx[j]'s
    owners = svc.owner[services]
    new = np.concatenate(([True], owners[1:] != owners[:-1])) if m else np.zeros(0, dtype=np.bool_)
    return _Grouped(idx, services, touching, np.cumsum(new) - 1, np.flatnonzero(new))


def _outcomes_credit(svc: ServiceColumns, services: npt.NDArray[np.int64]) -> FloatArray:
    """Each service row's outcomes credit: 1 verified, ``SELF_DECLARED_FACTOR`` self-declared, 0 without records."""
    return np.where(svc.outcomes_verified[services], 1.0, np.where(svc.outcomes[services], SELF_DECLARED_FACTOR, 0.0))


def _sizes(pairs: Pairs, owners: npt.NDArray[np.int64]) -> FloatArray:
    """How many items each of ``owners`` has."""
    return (pairs.offsets[owners + 1] - pairs.offsets[owners]).astype(np.float64)


def capacity_shares(cols: Columns, cn: CompiledNeed, services: npt.NDArray[np.int64]) -> FloatArray:
    """Each service row's share of its people living in the need's areas (1 when it covers only those areas;
    0 when it covers none of them): its capacity is shared across every area it covers, by people."""
    tree = cols.areas
    inside = tree.people_in(cn.area_nodes)
    pairs = cols.services.areas
    at, which = pairs.gather(services)
    nodes = pairs.item[at].astype(np.int64, copy=False)
    mine = np.bincount(which, weights=inside[nodes], minlength=len(services))
    whole = np.bincount(which, weights=tree.people[nodes], minlength=len(services))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(whole > 0, np.minimum(mine / np.where(whole > 0, whole, 1.0), 1.0), 0.0)


def desired_evidence(
    cols: Columns, cn: CompiledNeed, services: npt.NDArray[np.int64], service_pos: npt.NDArray[np.int64], m: int
) -> FloatArray:
    """Shape ``(m, len(cn.desired))``: for each scored candidate and desired outcome of the need, the best credit
    (1 verified, ``SELF_DECLARED_FACTOR`` self-declared, 0 none) of an outcomes record of one of its qualifying
    service rows ``services`` naming it."""
    ids = cols.code_ids
    column = np.full(len(ids) + 1, -1, dtype=np.int64)
    for k, d in enumerate(cn.desired):
        if d.code in ids:
            column[ids[d.code]] = k
    best = np.zeros((m, len(cn.desired)))
    svc = cols.services
    for pairs, credit in ((svc.desired, SELF_DECLARED_FACTOR), (svc.desired_verified, 1.0)):
        if not len(pairs.item) or not len(services):
            continue
        at, which = pairs.gather(services)
        col = column[pairs.item[at].astype(np.int64, copy=False)]
        keep = col >= 0
        np.maximum.at(best, (service_pos[which[keep]], col[keep]), credit)
    return best


def accreditation_counts(
    cols: Columns,
    idx: npt.NDArray[np.int64],
    social_value_accreditations: Set[str],
    services: npt.NDArray[np.int64],
    service_pos: npt.NDArray[np.int64],
) -> tuple[FloatArray, FloatArray]:
    """(quality accreditations, social value commitments) of the candidates ``idx``, their accreditations
    being the organisation's and those of its service rows ``services`` (``service_pos``: the position in
    ``idx`` of each one's candidate).

    Quality: the credit of the distinct accreditation codes not in ``social_value_accreditations``: 1 for each
    verified (by the organisation's or a service's verification), ``SELF_DECLARED_FACTOR`` for each other.
    Social value: distinct codes among the social value commitments and the
    accreditations that are in ``social_value_accreditations``.
    """
    m = len(idx)
    ids = cols.code_ids
    width = len(ids) + 1
    is_sv = np.zeros(width, dtype=np.bool_)
    is_sv[[ids[c] for c in social_value_accreditations if c in ids]] = True
    acc_pos, acc_which = cols.accreditations.gather(idx)
    acc = cols.accreditations.item[acc_pos].astype(np.int64, copy=False)
    sacc = cols.services.accreditations
    s_pos, s_which = sacc.gather(services) if len(sacc.item) else (services[:0], services[:0])
    if len(s_pos):  # the services' own, less those the organisation (or another of its services) holds
        extra = sorted_distinct(service_pos[s_which] * width + sacc.item[s_pos])
        # a table of m * width booleans (a few MB at most) beats sorting the organisations' keys
        extra = extra[~np.isin(extra, acc_which * width + acc, kind="table" if m * width < 1 << 24 else None)]
        e_which, e_acc = np.divmod(extra, width)
        acc_which, acc = np.concatenate([acc_which, e_which]), np.concatenate([acc, e_acc])
    sv = is_sv[acc]
    quality = np.bincount(acc_which[~sv], minlength=m).astype(np.float64)
    verified = _verified_keys(cols, idx, services, service_pos, width)
    if len(verified):
        verified = verified[np.isin(verified, acc_which[~sv] * width + acc[~sv])]
    count = np.bincount(verified // width, minlength=m).astype(np.float64)
    quality = SELF_DECLARED_FACTOR * quality + (1 - SELF_DECLARED_FACTOR) * count
    sv_pos, sv_which = cols.social_value.gather(idx)
    keys = sorted_distinct(
        np.concatenate([acc_which[sv] * width + acc[sv], sv_which * width + cols.social_value.item[sv_pos]])
    )
    social = np.bincount(keys // width, minlength=m).astype(np.float64)
    return quality, social


def _verified_keys(
    cols: Columns,
    idx: npt.NDArray[np.int64],
    services: npt.NDArray[np.int64],
    service_pos: npt.NDArray[np.int64],
    width: int,
) -> npt.NDArray[np.int64]:
    """Distinct ``position in idx * width + code id`` of the verified accreditations of the candidates ``idx``
    (the organisation's and those of its service rows ``services``)."""
    org = cols.verified_accreditations
    pos, which = org.gather(idx)
    keys = [which * width + org.item[pos].astype(np.int64, copy=False)]
    sver = cols.services.verified_accreditations
    if len(sver.item) and len(services):
        s_pos, s_which = sver.gather(services)
        keys.append(service_pos[s_which] * width + sver.item[s_pos].astype(np.int64, copy=False))
    return sorted_distinct(np.concatenate(keys))


# -- one score function per criterion (the registry, matching.criteria, names them) ----------------


def pathway_fit(s: ScoringInput) -> CriterionColumn:
    cn, m = s.cn, s.m
    ones = np.ones(m)
    if cn.cohort_count:
        served = s.cohorts & s.cols.services.cohort_words(cn.cohorts)[:, None]
        overlap = np.bitwise_count(served).sum(axis=0, dtype=np.int64) / cn.cohort_count
    else:
        overlap = ones.copy()
    return _criterion(
        [("offers_pathway", PATHWAY_BASE, ones, ones), ("cohort_overlap", 1 - PATHWAY_BASE, overlap, overlap)], m
    )


def coverage(s: ScoringInput) -> CriterionColumn:
    share = s.coverage
    return _criterion([("area_share", 1.0, share, share)], s.m)


def capacity(s: ScoringInput) -> CriterionColumn:
    ratio = s.capacity / s.cn.need.annual_volume
    cap_score = np.where(np.isnan(ratio), UNKNOWN_CAPACITY, curves.capacity_curve(ratio))  # the curves keep NaN
    return _criterion([("capacity_to_volume", 1.0, ratio, cap_score)], s.m, {CAPACITY: s.capacity})


def financial_viability(s: ScoringInput) -> CriterionColumn:
    need = s.cn.need
    income = s.cols.income[s.idx]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dep = np.where(income > 0, need.annual_budget / income, np.where(np.isnan(income), np.nan, np.inf))
    dep_score = np.where(np.isnan(dep), UNKNOWN_FINANCE, curves.dependency_curve(dep))  # 0 at infinity
    reserves = s.cols.reserves[s.idx]
    res_score = np.where(np.isnan(reserves), UNKNOWN_FINANCE, curves.reserves_curve(reserves))
    return _criterion(
        [("budget_share_of_income", 0.6, dep, dep_score), ("reserves_months", 0.4, reserves, res_score)], s.m
    )


def quality(s: ScoringInput) -> CriterionColumn:
    acc = s.quality_accreditations
    outcomes = s.outcomes
    years = s.years
    return _criterion(
        [
            ("quality_accreditations", 0.4, acc, curves.halflife(acc, 1.0)),
            ("outcomes_evidence", 0.3, outcomes, outcomes),
            ("years_in_pathway", 0.3, years, curves.halflife(years, 3.0)),
        ],
        s.m,
    )


def local_priorities(s: ScoringInput) -> CriterionColumn:
    """Priority-weighted mean match, matched only at positions ``s.priority_rows`` (``None``: all; elsewhere 0)."""
    cn, idx, m, rows = s.cn, s.idx, s.m, s.priority_rows
    if not cn.priorities:
        return CriterionColumn((), np.zeros(m))
    if rows is None:
        matches = priority_matches(s.pool, cn.priorities, idx, s.services, s.service_pos, s.thesaurus)
    else:
        matches = np.zeros((len(cn.priorities), m))
        position = np.full(m, -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        mine = position[s.service_pos]
        kept = mine >= 0
        matches[:, rows] = priority_matches(s.pool, cn.priorities, idx[rows], s.services[kept], mine[kept], s.thesaurus)
    wsum = sum(pr.weight for pr in cn.priorities)
    return _criterion([(pr.text, pr.weight / wsum, matches[k], matches[k]) for k, pr in enumerate(cn.priorities)], m)


def added_value(s: ScoringInput) -> CriterionColumn:
    premises = s.premises
    match_ratio = s.cols.match_funding[s.idx] / s.cn.need.annual_budget
    volunteers = s.cols.volunteers[s.idx]
    partners = s.cols.partner_count[s.idx]
    return _criterion(
        [
            ("match_funding_to_budget", 0.4, match_ratio, curves.halflife(match_ratio, 0.1)),
            ("volunteers", 0.2, volunteers, curves.halflife(volunteers, 10.0)),
            ("premises_in_need_areas", 0.2, premises, curves.halflife(premises, 1.0)),
            ("partner_organisations", 0.2, partners, curves.halflife(partners, 2.0)),
        ],
        s.m,
    )


def social_value(s: ScoringInput) -> CriterionColumn:
    cn = s.cn
    by_sector = np.array([cn.sector_preference.get(code, 0.0) for code in s.cols.sector_ids] or [0.0])
    pref = by_sector[s.cols.sector[s.idx]]
    commitments = s.commitments
    local_presence = (s.premises > 0).astype(np.float64)
    w_pref, w_commit, w_local = (0.5, 0.3, 0.2) if cn.has_sector_preference else (0.0, 0.6, 0.4)
    return _criterion(
        [
            ("sector_preference", w_pref, pref, pref),
            ("social_value_commitments", w_commit, commitments, curves.halflife(commitments, 2.0)),
            ("local_presence", w_local, local_presence, local_presence),
        ],
        s.m,
    )


def sustainability(s: ScoringInput) -> CriterionColumn:
    as_of, idx = s.as_of, s.idx
    operating = np.maximum(as_of.year - s.cols.founded_year[idx], 0.0)
    op_score = np.where(np.isnan(operating), 0.0, curves.halflife(operating, 5.0))
    funding = s.cols.funding_source_count[idx]
    months = np.maximum(as_of.toordinal() - s.cols.confirmed_ordinal[idx], 0.0) / curves.DAYS_PER_MONTH
    fresh = np.where(np.isnan(months), 0.0, curves.freshness_curve(months))
    return _criterion(
        [
            ("years_operating", 0.4, operating, op_score),
            ("funding_sources", 0.3, funding, curves.halflife(funding, 2.0)),
            ("months_since_confirmed", 0.3, months, fresh),
        ],
        s.m,
    )
