"""Exclusions, ordering, determinism, limits, serialisation and input validation."""

from __future__ import annotations

import random

import matching_factories as f
import msgspec
import pytest

from matching import (
    ALGORITHM_VERSION,
    DEFAULT_WEIGHTS,
    EXCLUSION_CODES,
    Candidate,
    CandidatePool,
    InvalidCandidate,
    InvalidNeed,
    MatchingError,
    Need,
    Priority,
    Ranking,
    RankOptions,
    Weights,
    rank,
    shortlist,
)


def run(candidates, need=None, **kw) -> Ranking:  # type: ignore[no-untyped-def]
    return rank(need or f.need(), candidates, areas=f.tree(), as_of=f.AS_OF, **kw)


def reasons(r: Ranking, provider_id: int) -> dict[str, str]:
    ex = next(e for e in r.excluded if e.provider_id == provider_id)
    return {x.code: x.message for x in ex.reasons}


# -- exclusions --------------------------------------------------------------------
def test_excluded_when_pathway_not_offered() -> None:
    r = run([f.candidate(1, service_changes={"pathway": "ETE"})])
    assert r.scored == () and reasons(r, 1) == {
        "pathway_not_offered": "does not offer the ACCOM pathway (Accommodation)"
    }


def test_excluded_when_no_area_covered() -> None:
    r = run(
        [
            f.candidate(1, service_changes={"areas": (f.BIRMINGHAM,)}),
            f.candidate(2, service_changes={"areas": ("E99999999",)}),
        ]
    )
    assert r.scored == ()
    assert reasons(r, 1) == {"no_area_coverage": "covers none of the need's areas: Worcestershire (E10000034)"}
    assert set(reasons(r, 2)) == {"no_area_coverage"}


def test_excluded_when_required_accreditations_missing_names_them() -> None:
    need = f.need(required_accreditations=("iso_9001", "matrix_standard", "cyber_essentials"))
    r = run([f.candidate(1, accreditations=("iso_9001",))], need)
    ex = r.excluded[0].reasons[0]
    assert ex.code == "missing_accreditation"
    assert ex.detail == ("matrix_standard", "cyber_essentials")
    assert "matrix_standard, cyber_essentials" in ex.message


def test_excluded_when_too_little_experience() -> None:
    need = f.need(min_years_experience=5)
    r = run([f.candidate(1, service_changes={"years_experience": 3}), f.candidate(2)], need)
    assert [s.provider_id for s in r.scored] == [2]
    assert reasons(r, 1) == {"insufficient_experience": "3 years' experience in ACCOM, minimum 5 required"}


def test_every_failed_check_is_listed_and_counted() -> None:
    need = f.need(required_accreditations=("matrix_standard",), min_years_experience=1)
    bad = f.candidate(1, service_changes={"pathway": "ETE", "areas": (f.COVENTRY,)})
    r = run([bad, f.candidate(2, accreditations=("matrix_standard",)), f.candidate(3)], need)
    assert list(reasons(r, 1)) == [c for c in EXCLUSION_CODES if c not in ("age_range_not_served", "gender_not_served")]
    assert r.excluded_by_reason == {
        "pathway_not_offered": 1,
        "age_range_not_served": 0,
        "gender_not_served": 0,
        "no_area_coverage": 1,
        "missing_accreditation": 2,
        "insufficient_experience": 1,
    }
    assert (r.candidate_count, r.eligible_count, r.excluded_count) == (3, 1, 2)
    assert [e.provider_id for e in r.excluded] == [1, 3]  # ordered by name


def test_excluded_limit_caps_list_but_not_counts() -> None:
    cands = [f.candidate(i, service_changes={"areas": (f.BIRMINGHAM,)}) for i in range(1, 11)]
    r = run(cands, excluded_limit=3)
    assert len(r.excluded) == 3 and r.excluded_count == 10
    assert r.excluded_by_reason["no_area_coverage"] == 10


# -- totals, ordering, determinism ----------------------------------------------------
def varied(n: int, seed: int = 1) -> list:  # type: ignore[type-arg]
    rng = random.Random(seed)
    return [
        f.candidate(
            i,
            name=f"Org {rng.randint(1, n // 2):03d}",
            annual_income=rng.choice([None, 100_000, 1_000_000]),
            service_changes={
                "capacity": rng.choice([None, 20, 80, 150, 300]),
                "areas": rng.choice([(f.WEST_MERCIA,), f.WORCS_DISTRICTS[:2], (f.BIRMINGHAM,), ("E07000237",)]),
                "pathway": rng.choice(["ACCOM", "ETE"]),
                "years_experience": rng.randint(0, 9),
            },
            volunteers=rng.randint(0, 50),
            sector=rng.choice(["third_sector", "private", "co_operative"]),
        )
        for i in range(1, n + 1)
    ]


def test_contributions_sum_to_total_and_ranking_is_sorted() -> None:
    r = run(varied(60))
    assert r.scored
    for pos, sc in enumerate(r.scored, start=1):
        assert sc.rank == pos
        assert abs(sum(c.contribution for c in sc.criteria) - sc.total) < 1e-9
        assert 0.0 <= sc.total <= 1.0
    keys = [(-s.total, s.name, s.provider_id) for s in r.scored]
    assert keys == sorted(keys)
    assert sum(r.weights.values()) == pytest.approx(1.0)
    assert r.algorithm_version == ALGORITHM_VERSION


def test_ties_broken_by_name_then_provider_id() -> None:
    cands = [f.candidate(3, name="Beta"), f.candidate(2, name="Alpha"), f.candidate(1, name="Beta")]
    r = run(cands)
    assert [s.provider_id for s in r.scored] == [2, 1, 3]
    assert len({s.total for s in r.scored}) == 1


def test_deterministic_and_independent_of_input_order() -> None:
    cands = varied(80)
    first = msgspec.json.encode(run(cands, limit=20))
    assert msgspec.json.encode(run(cands, limit=20)) == first
    shuffled = cands[:]
    random.Random(5).shuffle(shuffled)
    assert msgspec.json.encode(run(shuffled, limit=20)) == first


def test_pool_and_list_inputs_agree() -> None:
    cands = varied(40)
    pool = CandidatePool.build(cands, f.tree())
    assert msgspec.json.encode(run(pool)) == msgspec.json.encode(run(cands))
    with pytest.raises(MatchingError):
        rank(f.need(), pool, areas=f.tree_without_west_midlands(), as_of=f.AS_OF)


def test_limit_returns_the_top_of_the_full_ranking() -> None:
    cands = varied(80)
    full = run(cands)
    for limit in (0, 1, 5, 1000):
        top = run(cands, limit=limit)
        assert top.scored == full.scored[:limit]
        assert top.eligible_count == full.eligible_count
    with pytest.raises(MatchingError):
        run(cands, limit=-1)


def test_rank_and_shortlist_share_their_keyword_options() -> None:
    cands = varied(10)
    t = f.tree()
    for fn in (rank, shortlist):
        with pytest.raises(TypeError, match="unexpected keyword argument 'limt'"):
            fn(f.need(), cands, areas=t, as_of=f.AS_OF, limt=3)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="missing required keyword argument 'as_of'"):
            fn(f.need(), cands, areas=t)  # type: ignore[call-arg]
        with pytest.raises(MatchingError, match="excluded_limit"):
            fn(f.need(), cands, areas=t, as_of=f.AS_OF, excluded_limit=True)
    options = RankOptions(areas=t, as_of=f.AS_OF, limit=3, excluded_limit=2)
    assert msgspec.json.encode(rank(f.need(), cands, **options)) == msgspec.json.encode(
        shortlist(f.need(), cands, DEFAULT_WEIGHTS, **options).explain()
    )


def test_weights_change_the_order() -> None:
    cheap = f.candidate(1, name="Big capacity", service_changes={"capacity": 400, "areas": ("E07000237",)})
    wide = f.candidate(2, name="Wide coverage", service_changes={"capacity": 20})
    only = dict.fromkeys(Weights.__struct_fields__, 0.0)
    by_capacity = run([cheap, wide], weights=Weights(**{**only, "capacity": 1.0}))
    by_coverage = run([cheap, wide], weights=Weights(**{**only, "coverage": 1.0}))
    assert by_capacity.scored[0].provider_id == 1
    assert by_coverage.scored[0].provider_id == 2


def test_ranking_round_trips_through_json() -> None:
    r = run(varied(30), limit=5)
    blob = msgspec.json.encode(r)
    assert msgspec.json.decode(blob, type=Ranking) == r
    assert b"NaN" not in blob and b"Infinity" not in blob


def test_empty_candidate_list() -> None:
    r = run([])
    assert (r.candidate_count, r.eligible_count, r.scored, r.excluded) == (0, 0, (), ())


# -- input validation --------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pathway": ""}, "pathway"),
        ({"pathway": None}, "pathway"),
        ({"cohorts": ("ADULTS", " ")}, "cohorts"),
        ({"areas": ()}, "areas"),
        ({"areas": ("E99999999",)}, "areas"),
        ({"annual_volume": 0}, "annual_volume"),
        ({"annual_budget": float("nan")}, "annual_budget"),
        ({"contract_years": -1}, "contract_years"),
        ({"min_years_experience": -1}, "min_years_experience"),
        ({"local_priorities": (Priority("x", 0),)}, "local_priorities"),
        ({"local_priorities": (Priority("  ", 1),)}, "local_priorities"),
        ({"sector_preference": {"": 1.0}}, "sector_preference"),
        ({"sector_preference": {"private": 1.5}}, "sector_preference"),
        ({"required_accreditations": tuple(f"acc{i}" for i in range(40))}, "required_accreditations"),
        ({"min_age": -1}, "min_age"),
        ({"max_age": float("inf")}, "max_age"),
        ({"min_age": 30, "max_age": 18}, "max_age"),
        ({"gender": "girls"}, "gender"),
    ],
)
def test_invalid_need_raises(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidNeed) as err:
        run([f.candidate()], f.need(**changes))
    assert err.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sector": ""}, "sector"),
        ({"sector": None}, "sector"),
        ({"services": f.services({"pathway": ""})}, "services.pathway"),
        ({"services": f.services({}, {"pathway": 3})}, "services.pathway"),
        ({"services": f.services({"cohorts": ("ADULTS", "")})}, "services.cohorts"),
        ({"services": f.services({"years_experience": -2})}, "services.years_experience"),
        ({"services": f.services({"capacity": -5})}, "services.capacity"),
        ({"services": f.services({"min_age": -1})}, "services.min_age"),
        ({"services": f.services({"min_age": 30, "max_age": 18})}, "services.max_age"),
        ({"services": f.services({"gender": "girls"})}, "services.gender"),
        ({"services": (f.service(), f.service(name="again"))}, "services.service_id"),
        ({"annual_income": -1}, "annual_income"),
    ],
)
def test_invalid_candidate_raises(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidCandidate) as err:
        run([f.candidate(1), f.candidate(7, **changes)])
    assert (err.value.provider_id, err.value.field) == (7, field)
    with pytest.raises(InvalidCandidate) as err:
        CandidatePool.build([f.candidate(1), f.candidate(7, **changes)], f.tree())
    assert (err.value.provider_id, err.value.field) == (7, field)


def test_list_input_validates_unscreened_fields_only_for_eligible_candidates() -> None:
    # candidate 7 fails the pathway check, so its (bad) capacity and sector are never read on the list
    # path; a CandidatePool validates every field of every candidate up front.
    bad = f.candidate(7, service_changes={"pathway": "ETE", "capacity": -5}, sector="")
    r = run([f.candidate(1), bad])
    assert [s.provider_id for s in r.scored] == [1] and r.excluded[0].provider_id == 7
    with pytest.raises(InvalidCandidate):
        CandidatePool.build([f.candidate(1), bad], f.tree())


def test_duplicate_provider_ids_raise() -> None:
    with pytest.raises(InvalidCandidate):
        run([f.candidate(1), f.candidate(1)])


# -- ceilings (the first bound of a limited ranking) ---------------------------------------------
def _ceiling_and_exact(cand: Candidate, need: Need) -> tuple[dict[str, float], dict[str, float]]:
    from matching.criteria import REGISTRY, score_columns
    from matching.needs import compile_need
    from matching.scoring import scoring_ceilings, scoring_input
    from matching.screening import screen
    from matching.vocab import SOCIAL_VALUE_ACCREDITATIONS

    tree = f.tree()
    pool = CandidatePool.build([cand], tree)
    cn = compile_need(need, tree)
    screening = screen(pool.columns, cn)
    assert screening.eligible.tolist() == [0]
    options = {"as_of": f.AS_OF, "social_value_accreditations": SOCIAL_VALUE_ACCREDITATIONS}
    ceilings = score_columns(scoring_ceilings(pool, cn, screening, **options))
    exact = score_columns(scoring_input(pool, cn, screening, **options))
    names = [c.name for c in REGISTRY if c.name != "local_priorities"]
    return {n: float(ceilings[n].score[0]) for n in names}, {n: float(exact[n].score[0]) for n in names}


def test_a_capacity_stated_elsewhere_never_puts_the_ceiling_below_unknown_capacity() -> None:
    """The qualifying service states no capacity (scored as unknown, 0.25); a service in another pathway states a
    small one, which alone would score below 0.25: the capacity ceiling stays at least 0.25."""
    cand = f.candidate(services=f.services({"capacity": None}, {"pathway": "ETE", "capacity": 5}))
    ceiling, exact = _ceiling_and_exact(cand, f.need(annual_volume=1000))
    assert exact["capacity"] == pytest.approx(0.25)
    assert ceiling["capacity"] >= exact["capacity"] - 1e-9


def test_ceilings_count_every_service_and_area_at_least_as_the_exact_scores_do() -> None:
    """Services outside the need's pathway, ages or areas raise the ceilings (never the scores): the ceilings are
    at least the scores, and above them where those services add something."""
    cand = f.candidate(
        services=f.services(
            {"areas": (f.HEREFORDSHIRE,), "capacity": 20},
            {"pathway": "ETE", "areas": (f.WORCESTERSHIRE,), "capacity": 400, "cohorts": ("WOMEN",)},
        )
    )
    need = f.need(areas=(f.WEST_MERCIA,), cohorts=("ADULTS", "WOMEN"))
    ceiling, exact = _ceiling_and_exact(cand, need)
    for name, score in exact.items():
        assert ceiling[name] >= score - 1e-9, name
    for name in ("coverage", "capacity", "pathway_fit"):
        assert ceiling[name] > exact[name] + 0.01, name
