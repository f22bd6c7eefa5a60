"""Open taxonomies (codes the core has never seen) and pool / plain-list equivalence."""

from __future__ import annotations

import random
from datetime import date, timedelta

import matching_factories as f
import msgspec
import pytest
from matching_factories import crit

from matching import (
    CandidatePool,
    MatchingError,
    Need,
    OutcomeRecord,
    Priority,
    Ranking,
    Service,
    propose_partnerships,
    rank,
)
from matching.scoring import SELF_DECLARED_FACTOR as F

replace = msgspec.structs.replace


def both(need: Need, cands: list, **kw) -> Ranking:  # type: ignore[type-arg]
    """Rank from a plain list and from a pool; assert byte-identical results and return one."""
    listed = rank(need, cands, areas=f.tree(), as_of=f.AS_OF, **kw)
    pooled = rank(need, CandidatePool.build(cands, f.tree()), areas=f.tree(), as_of=f.AS_OF, **kw)
    assert msgspec.json.encode(listed) == msgspec.json.encode(pooled)
    return listed


# -- Task: no hard-coded taxonomy --------------------------------------------------------
NEW_NEED = f.need(
    pathway="HOUSING_FIRST", cohorts=("VETERANS", "ADULTS"), sector_preference={"mutual": 0.7, "third_sector": 1.0}
)


def new_provider(provider_id: int, **changes: object) -> object:
    base = f.candidate(
        provider_id,
        sector="mutual",
        services=f.services(
            {"pathway": "HOUSING_FIRST", "cohorts": ("VETERANS", "ARMED_FORCES_FAMILIES"), "years_experience": 3},
            {"pathway": "PEER_SUPPORT", "cohorts": ("VETERANS",)},
        ),
    )
    return replace(base, **changes)


def test_unseen_pathway_cohort_and_sector_codes_are_ranked_and_explained() -> None:
    cands = [new_provider(1), new_provider(2, services=f.services({"pathway": "PEER_SUPPORT"})), f.candidate(3)]
    r = both(NEW_NEED, cands)
    assert [s.provider_id for s in r.scored] == [1]
    sc = r.scored[0]
    fit = crit(sc, "pathway_fit")
    assert fit.score == pytest.approx(0.3 + 0.7 * 0.5)
    assert fit.evidence[0].startswith('offers HOUSING_FIRST through 1 service: "Supported housing"')
    assert (
        'serves 1 of 2 need cohorts in HOUSING_FIRST: VETERANS ("Supported housing"); not served: ADULTS'
        in (fit.evidence[1])
    )
    social = crit(sc, "social_value")
    assert next(c for c in social.components if c.name == "sector_preference").score == 0.7
    assert "sector mutual: commissioner's preference 0.7" in social.evidence[0]
    assert crit(sc, "quality").components[2].raw == 3.0  # years in HOUSING_FIRST, not the other pathway
    reasons = {e.provider_id: e.reasons for e in r.excluded}
    assert reasons[2][0].message == "does not offer the HOUSING_FIRST pathway"
    assert reasons[3][0].code == "pathway_not_offered"


def test_pathway_display_names_are_data() -> None:
    names = {"HOUSING_FIRST": "Housing First"}
    r = both(NEW_NEED, [new_provider(1), f.candidate(3)], pathway_names=names)
    assert crit(r.scored[0], "pathway_fit").evidence[0].startswith("offers HOUSING_FIRST (Housing First) through")
    assert r.excluded[0].reasons[0].message == "does not offer the HOUSING_FIRST pathway (Housing First)"
    # defaults still name the original pathways
    plain = both(f.need(), [f.candidate(1, service_changes={"pathway": "ETE"})])
    assert plain.excluded[0].reasons[0].message == "does not offer the ACCOM pathway (Accommodation)"


def test_need_cohort_that_no_provider_serves_counts_against_fit() -> None:
    need = f.need(cohorts=("ADULTS", "NOBODY_SERVES_THIS"))
    r = both(need, [f.candidate(1)])
    fit = crit(r.scored[0], "pathway_fit")
    assert fit.score == pytest.approx(0.3 + 0.7 * 0.5)
    assert "not served: NOBODY_SERVES_THIS" in fit.evidence[1]


def test_more_cohorts_than_fit_in_one_mask_word() -> None:
    many = tuple(f"COHORT_{k:03d}" for k in range(150))
    cands = [f.candidate(k + 1, service_changes={"cohorts": many[k * 30 : k * 30 + 40]}) for k in range(5)]
    need = f.need(cohorts=(many[0], many[70], many[149]))
    r = both(need, cands)
    overlap = {s.provider_id: crit(s, "pathway_fit").components[1].score for s in r.scored}
    assert overlap == pytest.approx({1: 1 / 3, 2: 0.0, 3: 1 / 3, 4: 0.0, 5: 1 / 3})


def test_unseen_pathway_in_need_matches_nobody() -> None:
    r = both(f.need(pathway="BRAND_NEW"), [f.candidate(1), f.candidate(2)])
    assert r.scored == () and r.excluded_by_reason["pathway_not_offered"] == 2


def test_social_value_accreditations_are_overridable() -> None:
    cand = f.candidate(1, accreditations=("iso_9001", "living_wage_employer", "fair_tax_mark"), social_value=())
    default = both(f.need(), [cand]).scored[0]
    assert crit(default, "quality").components[0].raw == pytest.approx(2 * F)  # iso_9001, fair_tax_mark
    assert crit(default, "social_value").components[1].raw == 1.0  # living_wage_employer
    custom = both(f.need(), [cand], social_value_accreditations={"fair_tax_mark", "living_wage_employer"}).scored[0]
    assert crit(custom, "quality").components[0].raw == pytest.approx(F)  # self-declared
    assert crit(custom, "social_value").components[1].raw == 2.0
    assert "fair_tax_mark, living_wage_employer" in crit(custom, "social_value").evidence[1]
    assert "1 quality accreditation, 0 verified: iso_9001 (self-declared)" in crit(custom, "quality").evidence[0]
    none = both(f.need(), [cand], social_value_accreditations=()).scored[0]
    assert crit(none, "quality").components[0].raw == pytest.approx(3 * F)
    with pytest.raises(MatchingError):
        rank(f.need(), [cand], areas=f.tree(), as_of=f.AS_OF, social_value_accreditations="living_wage_employer")


def test_social_value_union_counts_a_code_listed_twice_once() -> None:
    cand = f.candidate(1, accreditations=("living_wage_employer",), social_value=("living_wage_employer", "x"))
    assert crit(both(f.need(), [cand]).scored[0], "social_value").components[1].raw == 2.0


def test_unseen_codes_work_in_partnerships() -> None:
    needs = [NEW_NEED, replace(NEW_NEED, id="need-2", pathway="PEER_SUPPORT", areas=(f.HEREFORDSHIRE,))]
    cands = [
        new_provider(1),
        new_provider(
            2,
            services=f.services(
                {"pathway": "HOUSING_FIRST", "cohorts": ("VETERANS",), "areas": (f.HEREFORDSHIRE,)},
                {"pathway": "PEER_SUPPORT", "areas": (f.HEREFORDSHIRE,)},
            ),
        ),
    ]
    rankings = [both(nd, cands) for nd in needs]
    plan = propose_partnerships(needs, rankings, areas=f.tree())
    assert plan.uncovered == () and plan.options
    assert {c.pathway for c in plan.cells} == {"HOUSING_FIRST", "PEER_SUPPORT"}


# -- Task: plain-list path == pool path, byte for byte -------------------------------------
PATHWAYS = ("ACCOM", "ETE", "DRUGS", "HOUSING_FIRST", "NEW_PATHWAY_X")
COHORTS = ("ADULTS", "CARE_LEAVERS", "WOMEN", "VETERANS", "YOUNG_ADULTS", "NEURODIVERGENT")
SECTORS = ("third_sector", "private", "mutual", "faith_group")
ACCREDITATIONS = ("iso_9001", "matrix_standard", "living_wage_employer", "fair_tax_mark", "b_corp")
WORDS = (  # noqa: SIM905 - a word list reads best as text
    "supported housing tenancy hostel care leavers rural outreach trauma informed counselling mentoring women "
    "refuge families the and of café naïve £500 24/7 Housing-first re-offending hous'ing outreaching studies"
).split()


def random_candidates(rng: random.Random, n: int) -> list:  # type: ignore[type-arg]
    codes = [*f.tree().codes, "E99999999"]

    def text(lo: int, hi: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))

    return [
        f.candidate(
            rng.randint(1, 10**9) * 1000 + i,
            name=rng.choice(["Alpha", "Beta", "beta", "Gamma", "Épsilon"]) + rng.choice(["", " Trust", " CIC"]),
            sector=rng.choice(SECTORS),
            founded_year=rng.choice([None, rng.randint(1950, 2030)]),
            services=tuple(
                Service(
                    service_id=k,
                    pathway=rng.choice(PATHWAYS),
                    name=rng.choice(["", "Housing", "Outreach"]),
                    cohorts=tuple(rng.sample(COHORTS, rng.randint(0, 3))),
                    areas=tuple(rng.choice(codes) for _ in range(rng.randint(0, 3))),
                    capacity=rng.choice([None, 0, 40, 150]),
                    min_age=rng.choice([None, None, 18, 25]),
                    max_age=rng.choice([None, None, 25, 64]),
                    gender=rng.choice(["both", "both", "men", "women"]),
                    years_experience=rng.choice([0, 1, 2.5, 7]),
                    description=text(0, 12),
                    outcomes=tuple(
                        OutcomeRecord(outcome=text(1, 3) or "x", note=rng.choice([None, text(1, 4)]))
                        for _ in range(rng.choice([0, 0, 1, 2]))
                    ),
                    accreditations=tuple(rng.sample(ACCREDITATIONS, rng.randint(0, 1))),
                )
                for k in rng.sample(range(1, 100), rng.randint(0, 4))
            ),
            annual_income=rng.choice([None, 0, 90_000, 1_000_000]),
            reserves_months=rng.choice([None, -1, 3, 9]),
            accreditations=tuple(rng.sample(ACCREDITATIONS, rng.randint(0, 3))),
            volunteers=rng.choice([0, 12, None]),
            premises_areas=tuple(rng.choice(codes) for _ in range(rng.randint(0, 2))),
            match_funding_per_year=rng.choice([0, 30_000, None]),
            funding_sources=tuple(rng.choice(["a", "A ", "b", ""]) for _ in range(rng.randint(0, 3))),
            partner_organisations=tuple(rng.choice(["P", "p", "Q"]) for _ in range(rng.randint(0, 2))),
            social_value=tuple(rng.sample(["lived_experience_staff", "living_wage_employer"], rng.randint(0, 2))),
            resources_text=text(0, 20),
            last_confirmed=rng.choice([None, f.AS_OF - timedelta(days=rng.randint(0, 1500))]),
        )
        for i in range(n)
    ]


def random_need(rng: random.Random, k: int) -> Need:
    return Need(
        id=k,
        pathway=rng.choice(PATHWAYS),
        cohorts=tuple(rng.sample(COHORTS, rng.randint(0, 3))),
        areas=tuple(rng.sample(f.tree().codes, rng.randint(1, 2))),
        annual_volume=rng.choice([20, 100]),
        annual_budget=rng.choice([50_000, 250_000]),
        required_accreditations=tuple(rng.sample(ACCREDITATIONS[:2], rng.randint(0, 1))),
        min_years_experience=rng.choice([0, 0, 2]),
        local_priorities=tuple(
            Priority(" ".join(rng.sample(WORDS, 3)), rng.choice([1.0, 2.0])) for _ in range(rng.randint(0, 2))
        ),
        sector_preference={s: rng.choice([0.0, 0.5, 1.0]) for s in rng.sample(SECTORS, rng.randint(0, 2))},
        min_age=rng.choice([None, None, 16, 30]),
        max_age=rng.choice([None, None, 40]),
        gender=rng.choice(["both", "both", "men", "women"]),
    )


@pytest.mark.parametrize("seed", range(6))
def test_plain_list_and_pool_give_byte_identical_rankings(seed: int) -> None:
    rng = random.Random(seed)
    cands = random_candidates(rng, rng.choice([0, 7, 60, 250]))
    pool = CandidatePool.build(cands, f.tree())
    shuffled = cands[:]
    rng.shuffle(shuffled)
    for k in range(8):
        need = random_need(rng, k)
        kw = {"limit": rng.choice([None, 0, 3, 40]), "excluded_limit": rng.choice([None, 0, 5])}
        expected = msgspec.json.encode(rank(need, pool, areas=f.tree(), as_of=f.AS_OF, **kw))
        assert msgspec.json.encode(rank(need, cands, areas=f.tree(), as_of=f.AS_OF, **kw)) == expected
        assert msgspec.json.encode(rank(need, tuple(shuffled), areas=f.tree(), as_of=f.AS_OF, **kw)) == expected
        assert msgspec.json.encode(rank(need, iter(cands), areas=f.tree(), as_of=f.AS_OF, **kw)) == expected
    # a reused pool may switch to a word index of all its text: same results
    pool.word_index()
    rng = random.Random(seed)
    for k in range(8):
        need = random_need(rng, k)
        assert msgspec.json.encode(rank(need, pool, areas=f.tree(), as_of=f.AS_OF)) == msgspec.json.encode(
            rank(need, cands, areas=f.tree(), as_of=f.AS_OF)
        )


def test_datetime_as_of_and_generator_input() -> None:
    from datetime import datetime

    cands = random_candidates(random.Random(9), 30)
    a = rank(f.need(), (c for c in cands), areas=f.tree(), as_of=datetime(2026, 11, 1, 15, 30))
    b = rank(f.need(), cands, areas=f.tree(), as_of=date(2026, 11, 1))
    assert msgspec.json.encode(a) == msgspec.json.encode(b)


def test_missing_sequences_read_as_empty() -> None:
    # e.g. NULL array columns from the database
    cand = f.candidate(
        1,
        accreditations=None,
        social_value=None,
        premises_areas=None,
        partner_organisations=None,
        funding_sources=None,
        services=(f.service(cohorts=None, accreditations=None, outcomes=None),),
    )
    r = both(f.need(), [cand, f.candidate(2, service_changes={"areas": None}), f.candidate(3, services=None)])
    assert [s.provider_id for s in r.scored] == [1]
    assert {e.provider_id: [x.code for x in e.reasons] for e in r.excluded} == {
        2: ["no_area_coverage"],
        3: ["pathway_not_offered", "no_area_coverage"],  # no services: it covers nothing either
    }
    sc = r.scored[0]
    assert crit(sc, "quality").components[0].raw == 0.0
    assert crit(sc, "pathway_fit").components[1].score == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_limited_ranking_is_the_top_of_the_full_one(seed: int) -> None:
    # With a limit, priorities are only matched for candidates that can still reach the top;
    # the shown candidates, their scores and explanations must not change. Duplicated
    # candidates (equal scores, tie-broken by name and id) stress the boundary.
    rng = random.Random(100 + seed)
    base = random_candidates(rng, 120)
    cands = base + [replace(c, provider_id=c.provider_id + 1) for c in base[:40]]
    for k in range(6):
        need = replace(
            random_need(rng, k),
            areas=(f.WEST_MERCIA, f.WEST_MIDLANDS),
            required_accreditations=(),
            min_years_experience=0,
            min_age=None,
            max_age=None,
            gender="both",
            local_priorities=(Priority("supported housing care leavers", 2.0), Priority("rural outreach")),
        )
        full = rank(need, cands, areas=f.tree(), as_of=f.AS_OF)
        assert full.eligible_count > 20
        for limit in (1, 2, 5, 17, 60):
            top = rank(need, cands, areas=f.tree(), as_of=f.AS_OF, limit=limit)
            assert top.scored == full.scored[:limit]
