"""Matching reads services: a provider qualifies for a need through its services in the need's pathway that
serve the need's people, and is read through them; and a provider with one service saying what it used to say
scores exactly as the core before services scored it (a frozen fixture of that core's rankings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matching_factories as f
import msgspec
import pytest
from make_old_core_fixture import project
from matching_factories import crit

from matching import (
    Candidate,
    CandidatePool,
    MatchingError,
    Need,
    OutcomeRecord,
    Ranking,
    ScoredCandidate,
    Service,
    compact,
    rank,
    shortlist,
)
from matching.scoring import SELF_DECLARED_FACTOR

TREE = f.tree()
FIXTURE = json.loads(Path(__file__).with_name("old_core_rankings.json").read_text())


def run(need: Need, cands: list[Candidate], **kw: Any) -> Ranking:
    """Rank from a list, a full pool and a compact pool; the three must be byte-identical."""
    listed = rank(need, cands, areas=TREE, as_of=f.AS_OF, **kw)
    pooled = rank(need, CandidatePool.build(cands, TREE), areas=TREE, as_of=f.AS_OF, **kw)
    short = shortlist(need, compact.build_compact(cands, TREE), areas=TREE, as_of=f.AS_OF, **kw)
    blob = msgspec.json.encode(listed)
    assert msgspec.json.encode(pooled) == blob
    assert msgspec.json.encode(short.explain({c.provider_id: c for c in cands})) == blob
    return listed


def reasons(r: Ranking, provider_id: int) -> dict[str, str]:
    return {x.code: x.message for x in next(e for e in r.excluded if e.provider_id == provider_id).reasons}


def scored(r: Ranking, provider_id: int) -> ScoredCandidate:
    return next(s for s in r.scored if s.provider_id == provider_id)


# -- the regression: one service saying what an organisation used to say ----------------------------


def mirror(old: dict[str, Any]) -> Candidate:
    """An old-shape candidate (one expertise line, coverage, capacity) as one service saying the same, the way
    schema/0007 migrated them (free-text outcomes evidence became one self-declared outcomes record). Its
    evidence is marked verified: the old core knew no discount for self-declared evidence, so quality equals the
    old core's only when every piece of evidence counts in full (algorithm 2026.12-2)."""
    (line,) = old["expertise"]
    evidence = line["outcomes_evidence"]
    outcomes = (
        (
            OutcomeRecord(
                outcome="Outcomes as described by the provider",
                measure="described in the provider's own words",
                period="not stated",
                note=evidence,
                verified=True,
            ),
        )
        if evidence and evidence.strip()
        else ()
    )
    service = Service(
        service_id=7,
        pathway=line["pathway"],
        name="Accommodation",
        cohorts=tuple(line["cohorts"]),
        areas=tuple(old["coverage"]),
        capacity=old["capacity"],
        years_experience=line["years_experience"],
        description=line["description"],
        outcomes=outcomes,
    )
    rest = {k: v for k, v in old.items() if k not in ("expertise", "coverage", "capacity")}
    cand = msgspec.convert(rest, Candidate)
    return msgspec.structs.replace(cand, services=(service,), verified_accreditations=cand.accreditations)


def numbers(r: Ranking) -> dict[str, Any]:
    """A ranking's numbers in the fixture's shape (make_old_core_fixture.project), counting only the exclusion
    reasons the old core had."""
    old_codes = ("pathway_not_offered", "no_area_coverage", "missing_accreditation", "insufficient_experience")
    projected = project(r)
    projected["excluded_by_reason"] = {code: r.excluded_by_reason[code] for code in old_codes}
    return projected


UNCHANGED_SINCE_SERVICES = (
    "pathway_fit",
    "financial_viability",
    "quality",
    "added_value",
    "social_value",
    "sustainability",
)
"""The criteria algorithm 2026.12-1 (issue 12) left as they were: coverage and capacity are now weighted by people
and local priorities judged as phrases on the services' own words, so the fixture's totals, order, coverage,
capacity and local priorities no longer hold; its exclusions, counts, weights and these criteria still do."""


@pytest.mark.parametrize("case", range(len(FIXTURE["cases"])))
def test_one_service_scores_exactly_as_the_organisation_did_before_services(case: int) -> None:
    given = FIXTURE["cases"][case]
    old = given["ranking"]
    cands = [mirror(c) for c in FIXTURE["candidates"]]
    need = msgspec.convert(given["need"], Need)
    r = run(need, cands, limit=None)
    assert r.excluded_by_reason["age_range_not_served"] == r.excluded_by_reason["gender_not_served"] == 0
    new = numbers(r)
    for key in ("candidate_count", "eligible_count", "excluded_count", "excluded_by_reason", "weights"):
        assert new[key] == old[key]
    assert new["excluded"][: len(old["excluded"])] == old["excluded"]
    now = {s["provider_id"]: s for s in new["scored"]}
    assert old["scored"]
    for was in old["scored"]:  # every criterion left unchanged scores exactly as before, component by component
        for name in UNCHANGED_SINCE_SERVICES:
            assert now[was["provider_id"]]["criteria"][name] == was["criteria"][name]
        if len(need.areas) == 1:  # one need area: the share of its leaf areas, as before (no population given)
            assert now[was["provider_id"]]["covered_areas"] == was["covered_areas"]
            assert now[was["provider_id"]]["criteria"]["coverage"] == was["criteria"]["coverage"]
    for s in r.scored:
        assert s.service_ids == (7,)
        cand = next(c for c in cands if c.provider_id == s.provider_id)
        if set(cand.services[0].areas) <= set(need.areas):  # no capacity shared beyond the need's areas
            assert s.capacity == cand.services[0].capacity
        for c in s.criteria:
            assert c.contribution == c.weight * c.score


def test_the_fixture_has_rankings_worth_comparing() -> None:
    cases = [c["ranking"] for c in FIXTURE["cases"]]
    assert sum(len(r["scored"]) for r in cases) > 100
    assert all(sum(r["excluded_by_reason"].values()) for r in cases)
    assert {c["need"]["pathway"] for c in FIXTURE["cases"]} == {"ACCOM", "ETE", "DRUGS"}


# -- services counting together ---------------------------------------------------------------------

TELFORD_AND_SHROPSHIRE = f.need(areas=(f.TELFORD, f.SHROPSHIRE), annual_volume=120, cohorts=("ADULTS", "CARE_LEAVERS"))


def two_services() -> Candidate:
    return f.candidate(
        1,
        services=f.services(
            {"name": "Telford tenancy support", "areas": (f.TELFORD,), "capacity": 40, "cohorts": ("ADULTS",)},
            {
                "name": "Shropshire move-on",
                "areas": (f.SHROPSHIRE,),
                "capacity": 20,
                "cohorts": ("CARE_LEAVERS",),
                "years_experience": 12,
                "outcomes": (),
            },
        ),
    )


def test_two_services_in_the_pathway_count_together_and_the_explanation_names_each() -> None:
    alone = f.candidate(2, service_changes={"name": "Telford tenancy support", "areas": (f.TELFORD,), "capacity": 40})
    r = run(TELFORD_AND_SHROPSHIRE, [two_services(), alone])
    both, one = scored(r, 1), scored(r, 2)
    assert both.service_ids == (1, 2) and one.service_ids == (1,)
    assert both.covered_areas == (f.TELFORD, f.SHROPSHIRE) and one.covered_areas == (f.TELFORD,)
    assert crit(both, "coverage").score == 1.0 and crit(one, "coverage").score == 0.5
    assert both.capacity == 60 and one.capacity == 40
    assert crit(both, "capacity").components[0].raw == pytest.approx(60 / 120)
    assert crit(both, "pathway_fit").score == 1.0  # ADULTS from one service, CARE_LEAVERS from the other
    assert crit(both, "quality").components[2].raw == 12  # the most years of a qualifying service
    assert both.total > one.total
    coverage = crit(both, "coverage").evidence
    assert "Telford and Wrekin (E06000020): fully covered directly (1 of 1 local areas)" in coverage
    assert any(e.startswith('service "Telford tenancy support" covers 1 of the need\'s 2') for e in coverage)
    assert any(e.startswith('service "Shropshire move-on" covers 1 of the need\'s 2') for e in coverage)
    assert '("Telford tenancy support" 40, "Shropshire move-on" 20)' in crit(both, "capacity").evidence[0]
    fit = crit(both, "pathway_fit").evidence
    assert 'through 2 services: "Telford tenancy support", "Shropshire move-on"' in fit[0]
    assert 'ADULTS ("Telford tenancy support"), CARE_LEAVERS ("Shropshire move-on")' in fit[1]
    assert '12 years\' experience in ACCOM ("Shropshire move-on")' in crit(both, "quality").evidence[2]


def test_capacity_counts_only_the_services_covering_the_needs_areas() -> None:
    # a large charity: a small accommodation service in Telford, a big one in Birmingham, employment everywhere
    big = f.candidate(
        1,
        services=f.services(
            {"name": "Telford rooms", "areas": (f.TELFORD,), "capacity": 30},
            {"name": "Birmingham hostels", "areas": (f.BIRMINGHAM,), "capacity": 4000},
            {"name": "Jobs", "pathway": "ETE", "areas": (f.WEST_MERCIA,), "capacity": 3820},
            {"name": "No figure", "areas": (f.TELFORD,), "capacity": None},
        ),
    )
    r = run(f.need(areas=(f.TELFORD,), annual_volume=120), [big])
    sc = r.scored[0]
    assert sc.service_ids == (1, 2, 4)  # every qualifying service, wherever it is
    assert sc.capacity == 30
    assert crit(sc, "capacity").components[0].raw == pytest.approx(30 / 120)
    text = crit(sc, "capacity").evidence[0]
    assert 'capacity 30 service users/yr from its services in the need\'s areas ("Telford rooms" 30)' in text
    assert 'not stated by "No figure"' in text and '"Birmingham hostels" outside the need\'s areas' in text
    # none of the services in the areas states a capacity: unknown, whatever the others say
    unknown = f.candidate(
        2, services=f.services({"areas": (f.TELFORD,), "capacity": None}, {"areas": (f.BIRMINGHAM,), "capacity": 900})
    )
    sc = run(f.need(areas=(f.TELFORD,)), [unknown]).scored[0]
    assert sc.capacity is None and crit(sc, "capacity").score == 0.25
    assert crit(sc, "capacity").components[0].raw is None
    assert crit(sc, "capacity").evidence[0].startswith("capacity not stated by its services in the need's areas")


def test_a_service_in_another_pathway_adds_nothing() -> None:
    cand = f.candidate(
        1,
        accreditations=(),
        services=f.services(
            {"outcomes": (), "years_experience": 1, "description": "Rooms.", "cohorts": ("ADULTS",)},
            {
                "pathway": "ETE",
                "years_experience": 30,
                "cohorts": ("CARE_LEAVERS",),
                "accreditations": ("matrix_standard",),
                "description": "Supported housing for care leavers with rural outreach.",
            },
        ),
        resources_text="",
    )
    sc = run(f.need(), [cand]).scored[0]
    assert sc.service_ids == (1,)
    assert crit(sc, "quality").components[0].raw == 0  # the ETE service's accreditation does not count
    assert crit(sc, "quality").components[1].raw == 0  # nor its outcomes record
    assert crit(sc, "quality").components[2].raw == 1  # nor its years
    assert crit(sc, "pathway_fit").components[1].raw == 0.5  # nor its cohorts
    assert crit(sc, "local_priorities").score == 0  # nor its words
    required = run(f.need(required_accreditations=("matrix_standard",)), [cand])
    assert reasons(required, 1) == {"missing_accreditation": "lacks the required accreditation: matrix_standard"}


def test_a_qualifying_services_accreditation_and_outcomes_records_count() -> None:
    cand = f.candidate(
        1,
        accreditations=("living_wage_employer",),
        services=f.services(
            {
                "accreditations": ("matrix_standard", "b_corp"),
                "description": "Rooms.",
                "outcomes": (f.outcome(note="Tenants mentored through rural outreach."),),
            }
        ),
        resources_text="",
    )
    need = f.need(required_accreditations=("matrix_standard",))
    sc = run(need, [cand]).scored[0]
    assert crit(sc, "quality").components[0].raw == SELF_DECLARED_FACTOR  # matrix_standard, through the service
    assert 'matrix_standard ("Supported housing"; self-declared)' in crit(sc, "quality").evidence[0]
    assert crit(sc, "social_value").components[0].raw == 1.0  # sector preference third_sector
    assert crit(sc, "social_value").components[1].raw == 4  # b_corp (service), living wage (org) and two commitments
    priorities = crit(sc, "local_priorities")
    assert priorities.components[1].score == 1.0  # "rural outreach", from the outcomes record's note
    assert 'service "Supported housing" outcomes: "Tenants mentored through rural outreach"' in priorities.evidence[1]


# -- whom a service serves ---------------------------------------------------------------------------


def test_a_service_for_women_only_does_not_qualify_for_a_need_for_men() -> None:
    women = f.candidate(1, name="Women only", service_changes={"gender": "women"})
    both = f.candidate(2, name="Anyone", service_changes={"gender": "both"})
    men = f.candidate(3, name="Men only", service_changes={"gender": "men"})
    r = run(f.need(gender="men"), [women, both, men])
    assert [s.provider_id for s in r.scored] == [2, 3]
    assert reasons(r, 1) == {"gender_not_served": "none of its ACCOM services serves men"}
    assert r.excluded_by_reason["gender_not_served"] == 1 and r.excluded_by_reason["no_area_coverage"] == 0
    assert r.excluded[0].reasons[0].detail == ("men",)
    assert 'serving the need\'s people (men): "Supported housing"' in crit(scored(r, 3), "pathway_fit").evidence[0]
    # a need for anyone takes every service
    assert run(f.need(), [women, both, men]).eligible_count == 3


def test_an_age_range_must_overlap_the_needs() -> None:
    cands = [
        f.candidate(1, name="Over 26", service_changes={"min_age": 26}),
        f.candidate(2, name="Up to 18", service_changes={"max_age": 18}),
        f.candidate(3, name="Any age", service_changes={}),
        f.candidate(4, name="16 to 21", service_changes={"min_age": 16, "max_age": 21}),
        f.candidate(5, name="25 to 40", service_changes={"min_age": 25, "max_age": 40}),
        f.candidate(6, name="Under 18", service_changes={"max_age": 17}),
    ]
    r = run(f.need(min_age=18, max_age=25), cands)
    assert sorted(s.provider_id for s in r.scored) == [2, 3, 4, 5]
    assert reasons(r, 1) == {"age_range_not_served": "none of its ACCOM services serves ages 18 to 25"}
    assert reasons(r, 6)["age_range_not_served"] == "none of its ACCOM services serves ages 18 to 25"
    assert r.excluded[0].reasons[0].detail == ("18", "25")
    # open ends of the need are open too
    assert sorted(s.provider_id for s in run(f.need(min_age=30), cands).scored) == [1, 3, 5]
    assert sorted(s.provider_id for s in run(f.need(max_age=16), cands).scored) == [2, 3, 4, 6]
    assert reasons(run(f.need(max_age=16), cands), 5) == {
        "age_range_not_served": "none of its ACCOM services serves ages up to 16"
    }


def test_ages_and_men_or_women_must_be_served_by_one_service() -> None:
    split = f.candidate(
        1,
        services=f.services(
            {"name": "Young men", "gender": "men", "min_age": 18, "max_age": 25},
            {"name": "Older women", "gender": "women", "min_age": 40},
        ),
    )
    need = f.need(gender="women", min_age=18, max_age=25)
    r = run(need, [split])
    assert reasons(r, 1) == {
        "age_range_not_served": "none of its ACCOM services serves ages 18 to 25 for women",
        "gender_not_served": "none of its ACCOM services serves women aged 18 to 25",
    }
    # one service serving both: qualifies, and only it counts
    fixed = msgspec.structs.replace(
        split, services=(*split.services, f.service(service_id=3, name="Young women", gender="women", max_age=30))
    )
    sc = run(need, [fixed]).scored[0]
    assert sc.service_ids == (3,)
    assert "(women, ages 18 to 25)" in crit(sc, "pathway_fit").evidence[0]


def test_whom_a_provider_does_not_serve_is_told_apart_from_where() -> None:
    cands = [
        f.candidate(1, name="Men in the area", service_changes={"gender": "men"}),
        f.candidate(2, name="Men elsewhere", service_changes={"gender": "men", "areas": (f.BIRMINGHAM,)}),
        f.candidate(
            3,
            name="Women elsewhere, men here",
            services=f.services({"gender": "men"}, {"gender": "women", "areas": (f.BIRMINGHAM,)}),
        ),
        f.candidate(4, name="No accommodation", service_changes={"pathway": "ETE"}),
        f.candidate(
            5, name="No accommodation, nowhere near", service_changes={"pathway": "ETE", "areas": (f.COVENTRY,)}
        ),
    ]
    r = run(f.need(gender="women"), cands)
    assert {e.provider_id: [x.code for x in e.reasons] for e in r.excluded} == {
        1: ["gender_not_served"],  # its accommodation service covers the area
        2: ["gender_not_served", "no_area_coverage"],  # its accommodation services cover none of the areas
        3: ["no_area_coverage"],  # its women's service is elsewhere
        4: ["pathway_not_offered"],  # its other services are in the area
        5: ["pathway_not_offered", "no_area_coverage"],
    }
    # a directory ranking assesses those with a service in the pathway in or around the need's areas (1, 3)
    short = shortlist(
        f.need(gender="women"), compact.build_compact(cands, TREE), areas=TREE, as_of=f.AS_OF, directory=True
    )
    ranking = short.explain({})
    assert [e.provider_id for e in ranking.excluded] == [1, 3]
    assert short.directory is not None
    assert dict(short.directory.excluded_by_reason) == {
        "pathway_not_offered": 2,
        "age_range_not_served": 0,
        "gender_not_served": 1,
        "no_area_coverage": 3,
        "missing_accreditation": 0,
        "insufficient_experience": 0,
    }


def test_years_come_from_the_qualifying_services_only() -> None:
    cand = f.candidate(
        1,
        services=f.services(
            {"gender": "men", "years_experience": 20},
            {"gender": "women", "years_experience": 2, "name": "Women's house"},
        ),
    )
    r = run(f.need(gender="women", min_years_experience=5), [cand])
    assert reasons(r, 1) == {"insufficient_experience": "2 years' experience in ACCOM, minimum 5 required"}
    assert run(f.need(gender="men", min_years_experience=5), [cand]).eligible_count == 1


# -- explanations need the services the pool ranked ---------------------------------------------------


def test_explaining_needs_the_qualifying_services_in_the_details() -> None:
    cand = two_services()
    short = shortlist(TELFORD_AND_SHROPSHIRE, compact.build_compact([cand], TREE), areas=TREE, as_of=f.AS_OF)
    assert short.provider_ids == (1,)
    fewer = msgspec.structs.replace(cand, services=cand.services[:1])
    with pytest.raises(MatchingError, match="do not describe"):
        short.explain({1: fewer})
    assert short.explain({1: cand}).scored[0].service_ids == (1, 2)


def test_services_without_names_ids_or_figures_are_explained() -> None:
    bare = Service(service_id=42, pathway="ACCOM", areas=(f.WORCESTERSHIRE,))
    cand = f.candidate(1, services=(bare,))
    sc = run(f.need(cohorts=()), [cand]).scored[0]
    assert sc.service_ids == (42,) and sc.capacity is None
    assert "through 1 service: service 42" in crit(sc, "pathway_fit").evidence[0]
    assert crit(sc, "quality").evidence[1].startswith("no outcomes records for ACCOM")


def test_need_eligibility_is_validated() -> None:
    for changes, field in (
        ({"min_age": 40, "max_age": 30}, "max_age"),
        ({"gender": "Women"}, "gender"),
        ({"min_age": float("nan")}, "min_age"),
    ):
        with pytest.raises(Exception, match=field) as err:
            rank(f.need(**changes), [f.candidate()], areas=TREE, as_of=f.AS_OF)
        assert getattr(err.value, "field", None) == field


# -- the vectorised core against a plain reading of the rules, one provider at a time ------------------


def _reference(need: Need, cand: Candidate) -> tuple[list[str], list[Service], float | None, float]:
    """(exclusion codes, qualifying services, capacity, coverage share), straight from the rules."""
    lo = 0 if need.min_age is None else need.min_age
    hi = float("inf") if need.max_age is None else need.max_age
    known = [a for a in need.areas if a in TREE]
    need_nodes = [TREE.code(k) for k in TREE.reduce(known)]

    def touches(s: Service) -> bool:
        return any(
            TREE.is_within(code, a) or TREE.is_within(a, code)
            for code in s.areas or ()
            if code in TREE
            for a in need_nodes
        )

    def ages(s: Service) -> bool:
        return (s.min_age or 0) <= hi and (float("inf") if s.max_age is None else s.max_age) >= lo

    def people(s: Service) -> bool:
        return need.gender == "both" or s.gender in ("both", need.gender)

    in_p = [s for s in cand.services if s.pathway == need.pathway]
    q = [s for s in in_p if ages(s) and people(s)]
    codes = []
    if not in_p:
        codes.append("pathway_not_offered")
    elif not q:
        a, g = any(map(ages, in_p)), any(map(people, in_p))
        if not a or g:
            codes.append("age_range_not_served")
        if not g or a:
            codes.append("gender_not_served")
    if not any(map(touches, q or in_p or list(cand.services))):
        codes.append("no_area_coverage")
    held = set(cand.accreditations) | {code for s in q for code in s.accreditations}
    if not set(need.required_accreditations) <= held:
        codes.append("missing_accreditation")
    if max((s.years_experience for s in q), default=0) < need.min_years_experience:
        codes.append("insufficient_experience")

    def leaves(codes: tuple[str, ...]) -> set[str]:
        return {leaf for code in codes if code in TREE for leaf in TREE.leaves_under(code)}

    # no population figures: every local area counts 1; a service's capacity is shared over its local areas
    wanted = leaves(tuple(need_nodes))
    stated = [
        s.capacity * len(leaves(s.areas) & wanted) / len(leaves(s.areas))
        for s in q
        if touches(s) and s.capacity is not None
    ]
    covered = set().union(*(leaves(s.areas) for s in q)) if q else set()
    share = len(covered & wanted) / len(wanted)
    return codes, q, (sum(stated) if stated else None), share


@pytest.mark.parametrize("seed", range(5))
def test_qualifying_services_and_exclusions_follow_the_rules(seed: int) -> None:
    import random

    from test_matching_open_vocabulary import random_candidates, random_need

    rng = random.Random(seed)
    cands = random_candidates(rng, 150)
    checked = 0
    for k in range(12):
        need = random_need(rng, k)
        r = run(need, cands)
        got = {e.provider_id: [x.code for x in e.reasons] for e in r.excluded}
        for cand in cands:
            codes, q, capacity, share = _reference(need, cand)
            if codes:
                assert got[cand.provider_id] == codes, (need, cand)
                continue
            sc = scored(r, cand.provider_id)
            assert sc.service_ids == tuple(s.service_id for s in q)
            assert sc.capacity == pytest.approx(capacity) if capacity is not None else sc.capacity is None
            assert crit(sc, "coverage").score == pytest.approx(share)
            assert crit(sc, "quality").components[-1].raw == max(s.years_experience for s in q)
            served = {c for s in q for c in s.cohorts}
            wanted = list(dict.fromkeys(need.cohorts))
            if wanted:
                overlap = crit(sc, "pathway_fit").components[1].raw
                assert overlap == pytest.approx(sum(c in served for c in wanted) / len(wanted))
            checked += 1
    assert checked > 30


# -- services serving only part of the need's ages: said, never "the need's people" -----------------------------


def test_services_serving_part_of_the_needs_ages_say_which_ages_and_that_capacity_counts_them_in_full() -> None:
    """A service for women 16 and over ranked for a need of women 12 to 17 was said to serve "the need's people
    (women, ages 12 to 17)", and its 60 places counted with nothing said: the words now name the ages it serves."""
    girls = f.need(cohorts=(), min_age=12, max_age=17, gender="women", areas=(f.TELFORD,), annual_volume=30)
    van = {
        "name": "Outreach van",
        "min_age": 16,
        "gender": "women",
        "capacity": 60,
        "cohorts": (),
        "areas": (f.TELFORD,),
    }
    ranked = run(girls, [f.candidate(1, services=f.services(van))])
    fit, cap = crit(scored(ranked, 1), "pathway_fit"), crit(scored(ranked, 1), "capacity")
    assert (
        "through 1 service serving only some of the need's people (women, ages 12 to 17): those of ages 16 to 17:"
        in (fit.evidence[0])
    ), fit.evidence
    assert fit.summary.endswith(" Its services serve only ages 16 to 17 of the need's ages 12 to 17."), fit.summary
    said = 'serving only part of the need\'s ages 12 to 17, yet counted for all of them: "Outreach van" (ages 16 to 17)'
    assert said in cap.evidence[0], cap.evidence

    # two services whose ages join up serve all of them; two with a gap say both parts
    both = f.services({**van, "min_age": 12, "max_age": 15}, {**van, "min_age": 16})
    whole = crit(scored(run(girls, [f.candidate(1, services=both)]), 1), "pathway_fit")
    assert "through 2 services serving the need's people (women, ages 12 to 17):" in whole.evidence[0], whole.evidence
    assert "Its services serve only" not in whole.summary
    gap = f.services({**van, "min_age": 12, "max_age": 13}, {**van, "min_age": 16})
    split = crit(scored(run(girls, [f.candidate(1, services=gap)]), 1), "pathway_fit")
    assert "those of ages 12 to 13 and 16 to 17:" in split.evidence[0], split.evidence
