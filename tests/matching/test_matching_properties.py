"""Hypothesis properties of rank()."""

from __future__ import annotations

import math
from datetime import date
from unittest.mock import patch

import matching_factories as f
import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from marketplace.taxonomy.reference import REFERENCE_DIR, load_thesaurus
from matching import (
    CRITERIA,
    Candidate,
    DesiredOutcome,
    InvalidWeights,
    Need,
    OutcomeRecord,
    Priority,
    Service,
    Weights,
    need_leaves,
    rank,
    ranking,
    shortlist,
)
from matching.thesaurus import EMPTY_THESAURUS

replace = msgspec.structs.replace

TREE = f.tree()
CODES = TREE.codes
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

words = st.sampled_from(
    ["housing", "support", "care", "leavers", "rural", "outreach", "mentoring", "employment", "women", "drugs", "the"]
)
text = st.lists(words, max_size=8).map(" ".join)
maybe_float = st.one_of(st.none(), st.floats(0, 1e7, allow_nan=False))
pathways = st.sampled_from(["ACCOM", "ETE", "DRUGS"])
cohorts = st.lists(st.sampled_from(["ADULTS", "YOUNG_ADULTS", "WOMEN", "CARE_LEAVERS"]), max_size=3, unique=True)

ages = st.one_of(st.none(), st.integers(0, 80))
genders = st.sampled_from(["both", "both", "men", "women"])
DESIRED = ["ACC_OBTAIN", "ACC_KEEP", "ETE_JOB", "DRG_RECOVERY"]
outcomes = st.lists(
    st.builds(
        OutcomeRecord,
        outcome=text.filter(str.strip),
        note=st.one_of(st.none(), text),
        verified=st.booleans(),
        desired_outcomes=st.lists(st.sampled_from(DESIRED), max_size=2, unique=True).map(tuple),
    ),
    max_size=2,
)


def some_of(values: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    """A sub-sequence of ``values`` (which of them are verified), sometimes with a code not among them."""
    return st.lists(st.sampled_from([*values, "not_held"]), unique=True, max_size=len(values) + 1).map(tuple)


@st.composite
def service(draw: st.DrawFn, service_id: int = 1) -> Service:
    lo, hi = draw(ages), draw(ages)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    accs = tuple(draw(st.lists(st.sampled_from(["iso_9001", "matrix_standard", "b_corp"]), max_size=2)))
    return Service(
        service_id=service_id,
        pathway=draw(pathways),
        name=draw(st.sampled_from(["", "Housing", "Support", "Outreach"])),
        cohorts=tuple(draw(cohorts)),
        areas=tuple(draw(st.lists(st.sampled_from(CODES), max_size=3))),
        capacity=draw(st.one_of(st.none(), st.floats(0, 1e5, allow_nan=False))),
        min_age=lo,
        max_age=hi,
        gender=draw(genders),
        years_experience=draw(st.floats(0, 30, allow_nan=False)),
        description=draw(text),
        outcomes=tuple(draw(outcomes)),
        accreditations=accs,
        verified_accreditations=draw(some_of(accs)),
    )


@st.composite
def services(draw: st.DrawFn) -> tuple[Service, ...]:
    ids = draw(st.lists(st.integers(1, 50), unique=True, max_size=4))
    return tuple(draw(service(service_id=k)) for k in ids)


@st.composite
def candidates(draw: st.DrawFn, provider_id: int | None = None) -> Candidate:
    accs = tuple(draw(st.lists(st.sampled_from(["iso_9001", "matrix_standard", "living_wage_employer"]), unique=True)))
    return Candidate(
        provider_id=provider_id if provider_id is not None else draw(st.integers(1, 10**6)),
        name=draw(st.sampled_from(["Alpha", "Beta", "Gamma", "Delta"])),
        sector=draw(st.sampled_from(["third_sector", "co_operative", "social_enterprise", "private", "public"])),
        founded_year=draw(st.one_of(st.none(), st.integers(1900, 2030))),
        services=draw(services()),
        annual_income=draw(maybe_float),
        reserves_months=draw(st.one_of(st.none(), st.floats(-5, 48, allow_nan=False))),
        accreditations=accs,
        verified_accreditations=draw(some_of(accs)),
        volunteers=draw(st.integers(0, 500)),
        premises_areas=tuple(draw(st.lists(st.sampled_from(CODES), max_size=3))),
        match_funding_per_year=draw(st.floats(0, 1e6, allow_nan=False)),
        funding_sources=tuple(draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4))),
        partner_organisations=tuple(draw(st.lists(st.sampled_from(["P", "Q", "R"]), max_size=3))),
        social_value=tuple(
            draw(st.lists(st.sampled_from(["lived_experience_staff", "local_supply_chain"]), max_size=2))
        ),
        resources_text=draw(text),
        last_confirmed=draw(st.one_of(st.none(), st.dates(date(2015, 1, 1), date(2030, 1, 1)))),
    )


@st.composite
def candidate_lists(draw: st.DrawFn) -> list[Candidate]:
    n = draw(st.integers(0, 12))
    return [draw(candidates(provider_id=i + 1)) for i in range(n)]


needs = st.builds(
    Need,
    id=st.just("n"),
    pathway=pathways,
    cohorts=cohorts.map(tuple),
    areas=st.lists(st.sampled_from(CODES), min_size=1, max_size=3).map(tuple),
    annual_volume=st.floats(1, 5000, allow_nan=False),
    annual_budget=st.floats(1000, 5e6, allow_nan=False),
    contract_years=st.integers(1, 5),
    required_accreditations=st.lists(st.sampled_from(["iso_9001", "matrix_standard"]), max_size=1).map(tuple),
    min_years_experience=st.sampled_from([0, 0, 2]),
    local_priorities=st.lists(
        st.builds(Priority, text=text.filter(str.strip), weight=st.floats(0.1, 5)), max_size=2
    ).map(tuple),
    sector_preference=st.dictionaries(st.sampled_from(["third_sector", "co_operative", "private"]), st.floats(0, 1)),
    min_age=st.one_of(st.none(), st.none(), st.integers(0, 30)),
    max_age=st.one_of(st.none(), st.none(), st.integers(30, 90)),
    gender=genders,
    desired_outcomes=st.lists(st.sampled_from(DESIRED), max_size=3, unique=True).map(
        lambda codes: tuple(DesiredOutcome(c, c.lower()) for c in codes)
    ),
)


@st.composite
def with_area_volumes(draw: st.DrawFn, need: Need) -> Need:
    """``need`` with ``area_volumes``: some of its areas or areas within them, none within another, each a volume of
    0 to 30 (at least one above 0), so some of its local areas may hold none of its service users."""
    inside = [c for c in CODES if any(TREE.is_within(c, a) for a in need.areas)]
    chosen: list[str] = []
    for code in draw(st.lists(st.sampled_from(inside), min_size=1, max_size=4, unique=True)):
        if not any(TREE.is_within(code, c) or TREE.is_within(c, code) for c in chosen):
            chosen.append(code)
    volumes = draw(st.lists(st.integers(0, 30), min_size=len(chosen), max_size=len(chosen)))
    if not any(volumes):
        volumes[0] = 1
    return replace(need, area_volumes=dict(zip(chosen, map(float, volumes), strict=True)))


volume_needs = needs.flatmap(with_area_volumes)
"""Needs giving ``area_volumes``."""
any_needs = st.one_of(needs, volume_needs)
"""Needs with or without ``area_volumes``."""


def eligible_pair(need: Need, cand: Candidate) -> tuple[Need, Candidate]:
    """Relax the need's hard filters and give the candidate a service in the pathway, in one need area, for anyone."""
    need = replace(need, required_accreditations=(), min_years_experience=0)
    extra = Service(
        service_id=1000,
        pathway=need.pathway,
        cohorts=need.cohorts[:1],
        areas=need.areas[:1],
        years_experience=2.0,
        description="housing",
    )
    return need, replace(cand, services=(*cand.services, extra))


PHRASES = st.sampled_from(["housing", "accommodation support", "tenancy sustainment", "debt advice", "women", "jobs"])
"""Local priorities the candidates' texts (and the domain thesaurus) often hold some words of."""
DOMAIN_THESAURUS = load_thesaurus(REFERENCE_DIR / "thesaurus.json")

# Some weight other than local_priorities must be positive: a need without priorities
# cannot be scored on that criterion alone (rank raises InvalidWeights by design).
weights = st.fixed_dictionaries({name: st.floats(0, 10, allow_nan=False) for name in CRITERIA}).filter(
    lambda d: any(v > 0 for k, v in d.items() if k != "local_priorities")
)


@SETTINGS
@given(need=needs, cands=candidate_lists(), w=weights)
def test_scores_in_unit_interval_and_excluded_never_ranked(
    need: Need, cands: list[Candidate], w: dict[str, float]
) -> None:
    r = rank(need, cands, Weights(**w), areas=TREE, as_of=f.AS_OF)
    scored = {s.provider_id for s in r.scored}
    excluded = {e.provider_id for e in r.excluded}
    assert not scored & excluded
    assert scored | excluded == {c.provider_id for c in cands}
    assert r.excluded_count == len(excluded) and r.eligible_count == len(scored)
    for e in r.excluded:
        assert e.reasons
    for s in r.scored:
        assert 0.0 <= s.total <= 1.0
        assert abs(sum(c.contribution for c in s.criteria) - s.total) < 1e-9
        for c in s.criteria:
            assert 0.0 <= c.score <= 1.0 and 0.0 <= c.weight <= 1.0
            assert all(0.0 <= x.score <= 1.0 for x in c.components)
            assert c.evidence


@SETTINGS
@given(need=needs, cand=candidates(provider_id=1), w=weights, k=st.sampled_from(CRITERIA), factor=st.floats(1.01, 20))
def test_raising_a_weight_never_lowers_that_criterions_share(
    need: Need, cand: Candidate, w: dict[str, float], k: str, factor: float
) -> None:
    need, cand = eligible_pair(need, cand)
    before = rank(need, [cand], Weights(**w), areas=TREE, as_of=f.AS_OF)
    assume(before.scored[0].total > 0)
    raised = {**w, k: (w[k] or 0.1) * factor}
    after = rank(need, [cand], Weights(**raised), areas=TREE, as_of=f.AS_OF)

    def share(r):  # type: ignore[no-untyped-def]
        s = r.scored[0]
        return next(c.contribution for c in s.criteria if c.criterion == k) / s.total

    assert share(after) >= share(before) - 1e-12


@SETTINGS
@given(need=needs, cand=candidates(provider_id=1), extra=st.lists(st.sampled_from(CODES), min_size=1, max_size=3))
def test_covering_more_areas_never_lowers_coverage(need: Need, cand: Candidate, extra: list[str]) -> None:
    # Only the coverage check may exclude here, so coverage can be compared directly; the extra areas go to a
    # qualifying service (one for anyone), or come as a second one.
    lenient = replace(need, required_accreditations=(), min_years_experience=0)
    anyone = Service(
        service_id=1000, pathway=need.pathway, areas=tuple(cand.services[0].areas if cand.services else ())
    )
    base = replace(cand, services=(*cand.services, anyone))
    wider = replace(base, services=(*cand.services, replace(anyone, areas=anyone.areas + tuple(extra))))
    second = replace(
        base, services=(*base.services, Service(service_id=1001, pathway=need.pathway, areas=tuple(extra)))
    )

    def coverage(c: Candidate) -> float:
        r = rank(lenient, [c], areas=TREE, as_of=f.AS_OF)
        if not r.scored:
            return 0.0
        return next(x.score for x in r.scored[0].criteria if x.criterion == "coverage")

    assert coverage(wider) >= coverage(base)
    assert coverage(second) >= coverage(base)


@SETTINGS
@given(
    name=st.sampled_from(CRITERIA),
    bad=st.one_of(st.floats(max_value=-1e-9), st.just(float("nan")), st.just(float("inf")), st.just(float("-inf"))),
)
def test_invalid_weights_raise(name: str, bad: float) -> None:
    with pytest.raises(InvalidWeights) as err:
        Weights(**{name: bad})  # type: ignore[arg-type]
    assert err.value.field == name
    with pytest.raises(InvalidWeights):
        Weights.from_mapping({name: bad})


@SETTINGS
@given(unknown=st.text(min_size=1, max_size=12).filter(lambda s: s not in CRITERIA))
def test_unknown_weight_names_raise(unknown: str) -> None:
    with pytest.raises(InvalidWeights) as err:
        Weights.from_mapping({unknown: 1.0})
    assert err.value.field == unknown


def test_all_zero_weights_raise() -> None:
    with pytest.raises(InvalidWeights):
        Weights(**dict.fromkeys(CRITERIA, 0.0))
    with pytest.raises(InvalidWeights):
        Weights.from_mapping(dict.fromkeys(CRITERIA, 0))


@SETTINGS
@given(need=needs, cands=candidate_lists())
def test_rank_is_deterministic(need: Need, cands: list[Candidate]) -> None:
    a = rank(need, cands, areas=TREE, as_of=f.AS_OF, limit=5)
    b = rank(need, list(reversed(cands)), areas=TREE, as_of=f.AS_OF, limit=5)
    assert msgspec.json.encode(a) == msgspec.json.encode(b)
    assert all(not math.isnan(s.total) for s in a.scored)


@st.composite
def eligible_lists(draw: st.DrawFn, need: Need) -> list[Candidate]:
    """10 to 40 candidates, each given a service in the need's pathway in one of its areas (most are eligible)."""
    n = draw(st.integers(10, 40))
    return [eligible_pair(need, draw(candidates(provider_id=i + 1)))[1] for i in range(n)]


@SETTINGS
@given(data=st.data(), need=any_needs, w=weights, limit=st.integers(1, 4))
def test_a_limited_ranking_is_the_top_of_the_full_one(
    data: st.DataObject, need: Need, w: dict[str, float], limit: int
) -> None:
    """Only the candidates that could be shown are scored (ranking.BOUND_ABOVE, _could_be_shown): the best `limit`,
    with their explanations, are exactly the full ranking's first `limit`, ties at the boundary included."""
    need = replace(need, required_accreditations=(), min_years_experience=0)
    cands = data.draw(eligible_lists(need))
    full = rank(need, cands, Weights(**w), areas=TREE, as_of=f.AS_OF)
    with patch.object(ranking, "BOUND_ABOVE", 2):  # these small markets bounded too
        top = rank(need, cands, Weights(**w), areas=TREE, as_of=f.AS_OF, limit=limit)
    assert top.scored == full.scored[:limit]
    assert msgspec.json.encode(replace(top, scored=())) == msgspec.json.encode(replace(full, scored=()))


@SETTINGS
@given(data=st.data(), need=any_needs, w=weights, limit=st.integers(1, 4))
def test_a_limited_directory_ranking_of_a_merged_compact_pool_is_the_top_of_the_full_one(
    data: st.DataObject, need: Need, w: dict[str, float], limit: int
) -> None:
    """What a server worker does: a compact pool merged from parts (as after writes), the whole directory
    (`directory=True`), only the candidates that could be shown scored (ceilings, then bounds, against the best
    totals of a probe with its local priorities matched, with or without the domain thesaurus): the best `limit`,
    explained from their details, are the full ranking's first `limit`."""
    from matching import compact

    need = replace(
        need,
        required_accreditations=(),
        min_years_experience=0,
        local_priorities=data.draw(st.lists(st.builds(Priority, text=PHRASES, weight=st.floats(0.1, 5)), max_size=3)),
    )
    thesaurus = data.draw(st.sampled_from([EMPTY_THESAURUS, DOMAIN_THESAURUS]))
    cands = data.draw(eligible_lists(need))
    full = rank(need, cands, Weights(**w), areas=TREE, as_of=f.AS_OF, thesaurus=thesaurus)
    half = len(cands) // 2
    pool = compact.replace_rows(compact.build_compact(cands[:half], TREE), [], cands[half:])
    with patch.object(ranking, "BOUND_ABOVE", 2):
        short = shortlist(
            need, pool, Weights(**w), areas=TREE, as_of=f.AS_OF, limit=limit, directory=True, thesaurus=thesaurus
        )
    assert short.explain({c.provider_id: c for c in cands}).scored == full.scored[:limit]


@SETTINGS
@given(need=volume_needs, cands=candidate_lists())
def test_with_area_volumes_exactly_the_providers_reaching_some_service_users_are_assessed(
    need: Need, cands: list[Candidate]
) -> None:
    """A need giving ``area_volumes`` assesses the providers the same need without them assesses whose qualifying
    services cover a local area where some of its service users are expected (``need_leaves``); the others are
    excluded for ``no_area_coverage`` alone, and every provider assessed reaches some of them (coverage above 0)."""
    without = rank(replace(need, area_volumes=None), cands, areas=TREE, as_of=f.AS_OF)
    got = rank(need, cands, areas=TREE, as_of=f.AS_OF)
    users = set(need_leaves(need, TREE))
    assert {s.provider_id for s in got.scored} == {
        s.provider_id for s in without.scored if users & set(s.covered_areas)
    }
    for s in got.scored:
        assert next(c for c in s.criteria if c.criterion == "coverage").score > 0
    # every other check as without them; the area check failed by at least those failing it without them
    before = {e.provider_id: {r.code for r in e.reasons} for e in without.excluded}
    for e in got.excluded:
        codes, was = {r.code for r in e.reasons}, before.get(e.provider_id, set())
        assert codes - {"no_area_coverage"} == was - {"no_area_coverage"} and codes >= was


@SETTINGS
@given(data=st.data(), need=needs)
def test_every_criterions_bound_is_at_least_its_score(data: st.DataObject, need: Need) -> None:
    """The bounds a limited ranking prunes with (scoring.scoring_bounds and the looser scoring.scoring_ceilings,
    through each criterion's own score function) are never below the scores, for every criterion but local
    priorities (bounded by 1); the ceilings are the same whether the pool was built at once or merged from parts."""
    from matching import compact
    from matching.criteria import REGISTRY, score_columns
    from matching.needs import compile_need
    from matching.pool import CandidatePool
    from matching.ranking import ROUNDING
    from matching.scoring import scoring_bounds, scoring_ceilings, scoring_input
    from matching.screening import screen
    from matching.vocab import SOCIAL_VALUE_ACCREDITATIONS

    need = replace(need, required_accreditations=(), min_years_experience=0)
    cands = data.draw(eligible_lists(need))
    pool = CandidatePool.build(cands, TREE)
    cn = compile_need(need, TREE)
    screening = screen(pool.columns, cn)
    options = {"as_of": f.AS_OF, "social_value_accreditations": SOCIAL_VALUE_ACCREDITATIONS}
    exact = score_columns(scoring_input(pool, cn, screening, **options))
    bounds = score_columns(scoring_bounds(pool, cn, screening, **options))
    ceilings = score_columns(scoring_ceilings(pool, cn, screening, **options))
    assert len(screening.eligible) >= 10
    for c in REGISTRY:
        if c.name != "local_priorities":
            assert (bounds[c.name].score + ROUNDING >= exact[c.name].score).all(), c.name
            assert (ceilings[c.name].score + ROUNDING >= exact[c.name].score).all(), c.name
    half = len(cands) // 2
    parts = [compact.build_compact(cands[:half], TREE), compact.build_compact(cands[half:], TREE)]
    merged = compact.concat(parts, TREE)
    merged_ceilings = score_columns(scoring_ceilings(merged, cn, screen(merged.columns, cn), **options))
    for c in REGISTRY:
        assert (merged_ceilings[c.name].score == ceilings[c.name].score).all(), c.name
