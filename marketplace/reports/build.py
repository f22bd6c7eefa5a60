"""Computing the market-engagement report from stored match runs (pure: runs and taxonomies in, a Report out)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from typing import Any

import msgspec

import matching
from marketplace.exercises.models import (
    CriterionForReport,
    Exercise,
    ExerciseSummary,
    FactsForReport,
    Need,
    RankedForReport,
    ReportRun,
    percentages_of,
    weights_changed,
    weights_now,
)
from marketplace.formatting import figure, lower_code
from marketplace.reports.models import (
    COMPETITIVE_MARKET,
    LIMITED_MARKET,
    NO_MARKET,
    NOTES_PER_CANDIDATE,
    PROVIDERS_CHANGED_LISTED,
    VCSE_SECTORS,
    AddedValue,
    AreaVolume,
    CapacityCoverage,
    Cell,
    ChangedProvider,
    CriterionNote,
    DepthGrid,
    FieldChange,
    Freshness,
    Headline,
    HhiBand,
    Method,
    NeedReport,
    NotMatched,
    ProvidersChanged,
    Report,
    RunStaleness,
    StaleProvider,
    SuitableProvider,
    Thresholds,
    Totals,
)
from marketplace.taxonomy.models import Taxonomy
from marketplace.types import project
from matching.explain import STRENGTH_MIN_SCORE, WEAKNESS_BELOW

MARKET_MEASURES = (
    "Concentration is measured on the suitable providers' stated capacity (service users a year from their "
    "qualifying services covering the need's areas). The Herfindahl-Hirschman index (HHI) is the sum of the squared "
    "percentage shares of that capacity, from near 0 (many small providers) to 10,000 (one provider holds it all); "
    "the largest share is the biggest provider's part of it. Providers stating no capacity hold no share and are "
    "counted apart. Per (need, area) cell, each covering provider's capacity for the need is spread over the need's "
    "areas its services cover by their people (as the capacity criterion shares a service's capacity), and set "
    "against the service users expected there (the need's per-area volumes, else its volume shared by people): a "
    "cell whose suitable capacity is below them is a shortfall. A need giving its service users per area has cells "
    "only where some are expected. Bands, from "
    + matching.HHI_SOURCE
    + f": below {matching.market.HHI_UNCONCENTRATED_BELOW:,.0f} unconcentrated, "
    f"{matching.market.HHI_UNCONCENTRATED_BELOW:,.0f} to {matching.market.HHI_HIGHLY_CONCENTRATED_ABOVE:,.0f} "
    f"moderately concentrated, above {matching.market.HHI_HIGHLY_CONCENTRATED_ABOVE:,.0f} highly concentrated."
)


def verdict(suitable: int, t: Thresholds) -> str:
    return NO_MARKET if suitable == 0 else LIMITED_MARKET if suitable <= t.limited_market_max else COMPETITIVE_MARKET


def _months(since: dt.date | None, as_of: dt.date) -> float | None:
    return None if since is None else round((as_of - since).days / 30.4375, 1)


Candidate = RankedForReport | matching.ScoredCandidate
"""A ranked provider: as a report decodes it from a stored run, or as the matching core gives it."""
CriterionScored = CriterionForReport | matching.CriterionScore


def _evidence(c: CriterionScored) -> list[str]:
    return c.evidence_list() if isinstance(c, CriterionForReport) else list(c.evidence)


def _note(c: CriterionScored, shown: Mapping[str, float]) -> CriterionNote:
    # not rounded: a score of 0.49996 stays below the threshold in the JSON too
    return CriterionNote(
        criterion=c.criterion,
        score=c.score,
        weight=c.weight,
        contribution=c.contribution,
        evidence=_evidence(c),
        summary=c.summary,
        weight_percent=shown.get(c.criterion, round(c.weight * 100, 1)),
    )


def strengths_of(s: Candidate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The candidate's strengths and weaknesses as the matching core decided them (criterion codes, in its order).

    Runs made before algorithm 2026.12-1 carry none (their criteria have no ``summary`` either): for them the core's
    own rule is applied to the stored scores, with the core's thresholds (weighted criteria scoring at least
    ``STRENGTH_MIN_SCORE``, largest contribution first; below ``WEAKNESS_BELOW``, lowest score first)."""
    if s.strengths or s.weaknesses or any(c.summary for c in s.criteria):
        return s.strengths, s.weaknesses
    weighted = [c for c in s.criteria if c.weight > 0]
    strong = sorted(
        (c for c in weighted if c.score >= STRENGTH_MIN_SCORE), key=lambda c: (-c.contribution, c.criterion)
    )
    weak = sorted((c for c in weighted if c.score < WEAKNESS_BELOW), key=lambda c: (c.score, c.criterion))
    return tuple(c.criterion for c in strong), tuple(c.criterion for c in weak)


def _headline(s: Candidate, sector: str) -> Headline:
    """The candidate's strengths and weaknesses as defined on :class:`Headline`: the core's, the first few of each."""
    by_name = {c.criterion: c for c in s.criteria}
    shown = matching.shown_percentages({c.criterion: c.weight for c in s.criteria})  # as the need's table shows them
    strong, weak = strengths_of(s)
    return Headline(
        provider_id=s.provider_id,
        name=s.name,
        sector=sector,
        total=s.total,  # as the run recorded it: rounded, a total just below the threshold would read as reaching it
        strengths=[_note(by_name[k], shown) for k in strong[:NOTES_PER_CANDIDATE] if k in by_name],
        weaknesses=[_note(by_name[k], shown) for k in weak[:NOTES_PER_CANDIDATE] if k in by_name],
    )


TOP_CANDIDATES = 5
"""Top candidates shown per need (the CSV lists these and every suitable provider)."""
NOT_NEED_FIELDS = frozenset({"id", "exercise_id", "version", "created_at", "updated_at"})
"""A need's bookkeeping, not what it asks for: left out when saying what changed since a run."""


def refresh_text(exercise_id: int) -> str:
    return (
        f"'Match every need' on the exercise's console page (POST /exercises/{exercise_id}/match; on the command "
        f"line, marketplace match-exercise {exercise_id}) matches every need as it is now and stores the runs; then "
        f"fetch the report again."
    )


def said(field: str, value: Any, area_names: Mapping[str, str]) -> str:
    """A need's field's value as a person reads it: areas by name, codes in words, lists joined, "none"."""
    if value is None or value == [] or value == {}:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return figure(value)
    if isinstance(value, list):
        return ", ".join(area_names.get(v, v) if field == "areas" else said(field, v, area_names) for v in value)
    if isinstance(value, dict) and field == "local_priorities":  # a priority: its words, then its weight
        return f"{value.get('text', '')} (weight {said(field, value.get('weight'), area_names)})"
    if isinstance(value, dict) and field == "area_volumes":  # areas by name, each with its service users a year
        return "; ".join(f"{area_names.get(k, k)} {said(field, v, area_names)} a year" for k, v in value.items())
    if isinstance(value, dict):
        return "; ".join(f"{lower_code(str(k))} {said(field, v, area_names)}" for k, v in value.items())
    return str(value)


def staleness(
    run: ReportRun,
    need: Need,
    exercise_id: int,
    weights: dict[str, float] | None = None,
    area_names: Mapping[str, str] | None = None,
) -> RunStaleness | None:
    """What changed since the run was made: in the need, in the weights it would be matched with now (`weights`,
    normalised: a change of the exercise's default weights or of the need's overrides), and in the matching method
    (`algorithm_version`: a revised algorithm would rank anew); None when nothing did."""
    changes: list[FieldChange] = []
    if run.need.version != need.version or run.need.updated_at != need.updated_at:
        was, now = msgspec.to_builtins(run.need), msgspec.to_builtins(need)
        changes = [
            FieldChange(field=k, in_run=was.get(k), now=now.get(k))
            for k in now
            if k not in NOT_NEED_FIELDS and not _same(k, was.get(k), now.get(k))
        ]
    revised = run.algorithm_version != matching.ALGORITHM_VERSION  # the method changed since: it would rank anew
    if not changes and not weights_changed(run.weights, weights) and not revised:  # edited, but back as the run was
        return None
    if weights_changed(run.weights, weights) and weights is not None:
        changes.append(FieldChange(field="weights_percent", in_run=run.weights_percent, now=percentages_of(weights)))
    if revised:
        changes.append(
            FieldChange(field="algorithm_version", in_run=run.algorithm_version, now=matching.ALGORITHM_VERSION)
        )
    names = area_names or {}
    changes = [
        msgspec.structs.replace(c, in_run_text=said(c.field, c.in_run, names), now_text=said(c.field, c.now, names))
        for c in changes
    ]
    return RunStaleness(
        run_need_version=run.need.version,
        need_version=need.version,
        need_updated_at=need.updated_at,
        changes=changes,
        refresh=refresh_text(exercise_id),
    )


Changed = tuple[int, str, str, bool]
"""A provider written since a run was made: (id, name now, status now, whether it offers the need's pathway now)."""


def providers_changed(run: ReportRun, changed: list[Changed], exercise_id: int) -> ProvidersChanged | None:
    """The providers of `changed` (written since `run` was made) that could change what it says: those it ranked,
    and those published now offering the need's pathway (which could enter it); None when there are none."""
    ranked = {s.provider_id for s in run.ranking}
    kept = sorted(
        (
            ChangedProvider(provider_id=pid, name=name, status=status, ranked=pid in ranked)
            for pid, name, status, offers in changed
            if pid in ranked or (status == "published" and offers)
        ),
        key=lambda c: (not c.ranked, c.name, c.provider_id),
    )
    if not kept:
        return None
    return ProvidersChanged(
        count=len(kept),
        ranked=sum(1 for c in kept if c.ranked),
        providers=kept[:PROVIDERS_CHANGED_LISTED],
        refresh=refresh_text(exercise_id),
    )


def _same(field: str, was: Any, now: Any) -> bool:
    """Whether a need's field says the same in the run as now: weight overrides none given (null or `{}`), or a
    criterion given 0 and one left out, are the same."""
    if field == "weight_overrides":
        return {k: v for k, v in (was or {}).items() if v} == {k: v for k, v in (now or {}).items() if v}
    return bool(was == now)


def _labels(scored: list[RankedForReport]) -> dict[int, str]:
    """Each provider's name, with its id where two share a name (so their capacities are never merged)."""
    counts = Counter(s.name for s in scored)
    return {s.provider_id: s.name if counts[s.name] == 1 else f"{s.name} (provider id {s.provider_id})" for s in scored}


def _capacity(s: RankedForReport, facts: dict[int, FactsForReport]) -> float | None:
    """The provider's capacity for the need as the run recorded it (the same figure the capacity coverage adds up)."""
    return facts[s.provider_id].capacity if s.provider_id in facts else s.capacity


def area_capacities(
    suitable: list[RankedForReport],
    labels: dict[int, str],
    facts: dict[int, FactsForReport],
    people: Mapping[str, float],
) -> dict[str, list[tuple[str, float | None]]]:
    """Capacity by area: each suitable provider's capacity for the need spread over the need's areas its services
    cover by their people (`people`: a local area's), as the capacity criterion shares a service's capacity across
    its areas (services state one capacity for all their areas); evenly where no area has a figure. Each area's
    providers in the order of `suitable`."""
    out: dict[str, list[tuple[str, float | None]]] = {}
    for s in suitable:
        cap = _capacity(s, facts)
        whole = sum(people.get(a, 0.0) for a in s.covered_areas)
        for leaf in s.covered_areas:
            share = people.get(leaf, 0.0) / whole if whole > 0 else 1 / len(s.covered_areas)
            out.setdefault(leaf, []).append((labels[s.provider_id], cap * share if cap is not None else None))
    return out


def shortfall(market: matching.Concentration, expected: float) -> bool | None:
    """Whether the suitable capacity stated in a cell falls short of the service users expected there: None when no
    suitable provider there states a capacity (unknown), else capacity < expected (0 suitable: short)."""
    if market.providers and market.unknown_capacity == market.providers:
        return None
    return market.capacity < expected


def need_report(run: ReportRun, tax: Taxonomy, t: Thresholds, areas: matching.AreaTree) -> NeedReport:
    need = run.need
    names = tax.codes("areas")
    facts = {f.provider_id: f for f in run.providers}
    suitable = [s for s in run.ranking if s.total >= t.suitable_score]
    labels = _labels(suitable)
    suitable_facts = [facts[s.provider_id] for s in suitable if s.provider_id in facts]
    capacities = [(f.name, f.capacity or 0.0) for f in suitable_facts]
    total_capacity = sum(c for _, c in capacities)
    largest = max(capacities, key=lambda nc: (nc[1], nc[0]), default=None)
    need_leaves = {leaf for a in need.areas for leaf in areas.leaves_under(a)}
    premises = {a for f in suitable_facts for a in f.premises_areas}  # each area's leaves looked up once
    in_need_areas = {a: any(leaf in need_leaves for leaf in areas.leaves_under(a)) for a in premises}
    stale = [
        StaleProvider(
            provider_id=f.provider_id,
            name=f.name,
            last_confirmed=f.last_confirmed,
            months_since_confirmed=_months(f.last_confirmed, run.as_of),
        )
        for f in suitable_facts
        if f.last_confirmed is None or (_months(f.last_confirmed, run.as_of) or 0) > t.stale_after_months
    ]
    return NeedReport(
        need_id=need.id,
        title=need.title,
        pathway=need.pathway,
        pathway_name=tax.codes("pathways").get(need.pathway, need.pathway),
        areas=list(need.areas),
        area_names=[names.get(a, a) for a in need.areas],
        cohorts=list(need.cohorts),
        cohort_names=[tax.codes("cohorts").get(c, c) for c in need.cohorts],
        eligibility=need.eligibility,
        area_volumes=[AreaVolume(area=a, area_name=names.get(a, a), volume=v) for a, v in need.area_volumes.items()]
        if need.area_volumes is not None
        else None,
        annual_volume=need.annual_volume,
        annual_budget=need.annual_budget,
        contract_years=need.contract_years,
        match_run_id=run.id,
        run_at=run.created_at,
        directory_size=run.directory_size,
        eligible=run.eligible_count,
        suitable=len(suitable),
        verdict=verdict(len(suitable), t),
        suitable_by_sector=dict(sorted(Counter(f.sector for f in suitable_facts).items())),
        suitable_by_legal_form=dict(sorted(Counter(f.legal_form for f in suitable_facts).items())),
        suitable_vcse=sum(1 for f in suitable_facts if f.sector in VCSE_SECTORS),
        top_candidates=[
            _headline(s, facts[s.provider_id].sector if s.provider_id in facts else "")
            for s in run.ranking[:TOP_CANDIDATES]
        ],
        excluded_by_reason=dict(run.excluded_by_reason),
        capacity=CapacityCoverage(
            volume=need.annual_volume,
            suitable_capacity=total_capacity,
            coverage_ratio=round(total_capacity / need.annual_volume, 4) if need.annual_volume else None,
            largest_provider=largest[0] if largest and total_capacity else None,
            largest_share=round(largest[1] / total_capacity, 4) if largest and total_capacity else None,
            unknown_capacity=sum(1 for f in suitable_facts if f.capacity is None),
        ),
        added_value=AddedValue(
            match_funding_per_year=sum(f.match_funding_per_year for f in suitable_facts),
            volunteers=sum(f.volunteers for f in suitable_facts),
            providers_with_premises_in_area=sum(
                1 for f in suitable_facts if any(in_need_areas[a] for a in f.premises_areas)
            ),
        ),
        stale_suitable=stale,
        weights=dict(run.weights),
        weights_percent=dict(run.weights_percent),
        market=matching.concentration([(labels[s.provider_id], _capacity(s, facts)) for s in suitable]),
        providers=[
            SuitableProvider(
                rank=s.rank,
                provider_id=s.provider_id,
                name=s.name,
                sector=facts[s.provider_id].sector if s.provider_id in facts else "",
                total=s.total,  # as the run recorded it: rounding twice could cross the threshold
                meets_threshold=s.total >= t.suitable_score,
                capacity=_capacity(s, facts),
                service_ids=s.service_ids,
                scores={c.criterion: c.score for c in s.criteria},
            )
            for k, s in enumerate(run.ranking)
            if k < TOP_CANDIDATES or s.total >= t.suitable_score
        ],
    )


def build_report(
    exercise: Exercise,
    runs: list[ReportRun],
    tax: Taxonomy,
    *,
    threshold: float,
    generated_at: dt.datetime,
    depth: int | None = None,
    changed: Mapping[int, list[Changed]] | None = None,
) -> Report:
    """The report for an exercise from the run a report reads of each of its needs (`runs`, see
    `exercises.service.report_runs`; a need may have none).

    Computed from those runs only. A need without a run, or whose run ranked fewer than `depth` providers
    (and fewer than it found eligible), is listed as not matched and left out of every figure; a need changed
    since its run was made keeps that run's figures, marked stale with what changed; one whose run's providers changed
    since (`changed`: run id -> the providers written since it was made, see `providers_changed`) keeps them too,
    marked with those providers."""
    t = Thresholds(suitable_score=threshold)
    areas = tax.matching_areas
    names = tax.codes("areas")
    by_need = {r.need_id: r for r in runs}
    refresh = refresh_text(exercise.id)
    not_matched: list[NotMatched] = []
    ordered: list[ReportRun] = []
    for wanted in exercise.needs:
        run = by_need.get(wanted.id)
        if run is None:
            why = ("never_matched", "no match run is stored for this need")
        elif depth is not None and len(run.ranking) < min(run.eligible_count, depth):
            why = (
                "short_list_only",
                f"its newest run ({run.id}) ranked only {len(run.ranking)} of {run.eligible_count} eligible providers, "
                f"too few to count the market from",
            )
        else:
            ordered.append(run)
            continue
        reason, detail = why
        not_matched.append(
            NotMatched(
                need_id=wanted.id,
                title=wanted.title,
                pathway=wanted.pathway,
                reason=reason,
                detail=detail,
                pathway_name=tax.codes("pathways").get(wanted.pathway, wanted.pathway),
            )
        )
    current = {n.id: n for n in exercise.needs}
    written = changed or {}
    needs = [
        msgspec.structs.replace(
            need_report(r, tax, t, areas),
            stale_run=staleness(
                r, current[r.need_id], exercise.id, weights_now(exercise, current[r.need_id]), area_names=names
            ),
            providers_changed=providers_changed(r, written.get(r.id, []), exercise.id),
        )
        if r.need_id in current
        else need_report(r, tax, t, areas)
        for r in ordered
    ]

    core_needs = [
        matching.Need(
            id=r.need_id,
            pathway=r.need.pathway,
            areas=tuple(r.need.areas),
            annual_volume=r.need.annual_volume,
            annual_budget=r.need.annual_budget,
            area_volumes=None if r.need.area_volumes is None else dict(r.need.area_volumes),
        )
        for r in ordered
    ]
    cells: list[Cell] = []
    people = dict(zip(areas.codes, areas.people.tolist(), strict=True))  # each area's, for spreading capacity
    for run, core_need in zip(ordered, core_needs, strict=True):
        suitable = [s for s in run.ranking if s.total >= threshold]
        labels = _labels(suitable)
        by_area = area_capacities(suitable, labels, {f.provider_id: f for f in run.providers}, people)
        # the need's local areas holding some of its service users (with area_volumes, not those where none are),
        # each with the users expected there
        expected = matching.expected_users(core_need, areas)
        for leaf in sorted(expected):
            here = [s.name for s in suitable if leaf in s.covered_areas]
            market = matching.concentration(by_area.get(leaf, []))
            cells.append(
                Cell(
                    need_id=run.need_id,
                    pathway=run.need.pathway,
                    area=leaf,
                    area_name=names.get(leaf, leaf),
                    suitable=len(here),
                    verdict=verdict(len(here), t),
                    providers=here,
                    market=market,
                    expected_service_users=round(expected[leaf], 1),
                    capacity_shortfall=shortfall(market, expected[leaf]),
                )
            )
    leaf_order = [a.code for a in tax.areas if a.code in {c.area for c in cells}]
    grid = DepthGrid(
        pathways=list(dict.fromkeys(r.need.pathway for r in ordered)),
        areas=leaf_order,
        area_names=[names[a] for a in leaf_order],
        cells=cells,
    )

    offers = [
        matching.Offer(provider_id=s.provider_id, name=s.name, need_id=r.need_id, score=s.total, areas=s.covered_areas)
        for r in ordered
        for s in r.ranking
        if s.total >= threshold
    ]
    plan = matching.propose_partnerships(core_needs, offers, areas=areas, max_options=3)

    stale: dict[int, StaleProvider] = {}
    for n in needs:
        for s in n.stale_suitable:
            stale.setdefault(s.provider_id, s)
    run_times = [r.created_at for r in ordered if r.created_at is not None]
    # what the suitable providers bring, each provider once however many needs it suits (its newest run's facts)
    brought: dict[int, tuple[float, int]] = {}
    for r in sorted(ordered, key=lambda r: (r.created_at is not None, r.created_at or generated_at)):
        facts = {f.provider_id: f for f in r.providers}
        for ranked in r.ranking:
            if ranked.total >= threshold and ranked.provider_id in facts:
                f = facts[ranked.provider_id]
                brought[ranked.provider_id] = (f.match_funding_per_year, f.volunteers)
    return Report(
        exercise=project(exercise, ExerciseSummary),
        generated_at=generated_at,
        needs=needs,
        grid=grid,
        partnerships=plan,
        totals=Totals(
            annual_budget=sum(n.annual_budget for n in needs),
            suitable_providers=len(brought),
            suitable_match_funding_per_year=sum(funding for funding, _ in brought.values()),
            suitable_volunteers=sum(volunteers for _, volunteers in brought.values()),
            needs_by_verdict=dict(Counter(n.verdict for n in needs)),
            cells_by_verdict=dict(Counter(c.verdict for c in cells)),
        ),
        stale_warning=sorted(stale.values(), key=lambda s: (s.name, s.provider_id)),
        freshness=Freshness(
            current=not not_matched and all(n.stale_run is None and n.providers_changed is None for n in needs),
            not_matched=not_matched,
            stale_need_ids=[n.need_id for n in needs if n.stale_run is not None],
            refresh=refresh,
            providers_changed_need_ids=[n.need_id for n in needs if n.providers_changed is not None],
        ),
        method=Method(
            criteria=list(matching.CRITERIA),
            thresholds=t,
            verdicts=(
                f"Per need and per (need, area) cell: no market (0 suitable providers), limited market "
                f"(1-{t.limited_market_max}), competitive market ({t.limited_market_max + 1} or more). Suitable "
                f"means a total score of at least {threshold:g} out of 1."
            ),
            algorithm_versions=sorted({r.algorithm_version for r in ordered}),
            match_run_ids=[r.id for r in ordered],
            data_snapshot_from=min(run_times, default=None),
            data_snapshot_to=max(run_times, default=None),
            market_measures=MARKET_MEASURES,
            hhi_bands=[HhiBand(band=band, rule=rule) for band, rule in matching.HHI_BANDS],
            notes=[
                "Figures come from the newest stored match run of each need made with the weights in force (ids "
                "above; a what-if run with other weights made since is not read), so the report can be reproduced "
                "from those runs; the weights each need was matched with are listed with it, as "
                "percentages of the score. Reading a report never "
                "matches or stores anything: " + refresh,
                "A need changed after its run was made, or whose weights (its own, else the exercise's default "
                "weights) changed since, or whose run was made by an earlier version of the matching method, is "
                "marked stale, with what changed; its figures "
                "describe the need as it was when matched. A need whose run ranked providers that changed their "
                "profile or services since, or that providers published now with a service in its pathway changed "
                "since (they could enter it), is marked with those providers: its figures describe the directory as "
                "it was when matched, and matching again tells whether the changes matter. A need with no stored "
                "run deep enough to count the market is listed as not matched yet and left out of every figure.",
                "Partnership options use suitable providers only: cells they leave uncovered are gaps at this "
                "threshold.",
                f"Profiles not confirmed by their provider for {t.stale_after_months} months are flagged as stale.",
                f"A top candidate's strengths are the matching core's (up to {NOTES_PER_CANDIDATE}): weighted "
                f"criteria on which it scores at least {STRENGTH_MIN_SCORE:g} out of 1, largest contribution to its "
                f"total first; its weaknesses, listed apart (up to {NOTES_PER_CANDIDATE}), the weighted criteria on "
                f"which it scores below {WEAKNESS_BELOW:g}, lowest score first. A criterion that scored poorly is "
                "never a strength.",
            ],
        ),
    )
