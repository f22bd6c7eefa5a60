"""Plain-assert tests for each criterion's scoring function."""

from __future__ import annotations

import math
from datetime import date, timedelta

import matching_factories as f
import pytest
from matching_factories import crit

from matching import Candidate, Need, Priority, Ranking, ScoredCandidate, rank
from matching.scoring import SELF_DECLARED_FACTOR


def score_one(candidate: Candidate, need: Need | None = None) -> ScoredCandidate:
    r = rank(need or f.need(), [candidate], areas=f.tree(), as_of=f.AS_OF)
    assert r.eligible_count == 1, r.excluded
    return r.scored[0]


def comp(sc: ScoredCandidate, criterion: str, component: str) -> float:
    return next(c.score for c in crit(sc, criterion).components if c.name == component)


# -- pathway_fit -------------------------------------------------------------------
def test_pathway_fit_rewards_cohort_overlap() -> None:
    full = score_one(f.candidate())
    half = score_one(f.candidate(service_changes={"cohorts": ("ADULTS", "WOMEN")}))
    assert crit(full, "pathway_fit").score == pytest.approx(1.0)
    assert crit(half, "pathway_fit").score == pytest.approx(0.3 + 0.7 * 0.5)
    assert "not served: CARE_LEAVERS" in " ".join(crit(half, "pathway_fit").evidence)


def test_pathway_fit_full_when_need_names_no_cohorts() -> None:
    sc = score_one(f.candidate(service_changes={"cohorts": ("WOMEN",)}), f.need(cohorts=()))
    assert crit(sc, "pathway_fit").score == pytest.approx(1.0)


def test_pathway_fit_unions_cohorts_across_qualifying_services() -> None:
    both = f.services({"cohorts": ("ADULTS",)}, {"cohorts": ("CARE_LEAVERS",), "name": "Care leavers' flats"})
    sc = score_one(f.candidate(services=both))
    assert crit(sc, "pathway_fit").score == pytest.approx(1.0)
    assert 'CARE_LEAVERS ("Care leavers\' flats")' in crit(sc, "pathway_fit").evidence[1]
    # a service in another pathway adds nothing
    other = f.services({"cohorts": ("ADULTS",)}, {"cohorts": ("CARE_LEAVERS",), "pathway": "ETE"})
    assert crit(score_one(f.candidate(services=other)), "pathway_fit").score == pytest.approx(0.3 + 0.7 * 0.5)


# -- coverage ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("coverage", "areas", "expected"),
    [
        ((f.WEST_MERCIA,), (f.WORCESTERSHIRE,), 1.0),
        ((f.WORCESTERSHIRE,), (f.WORCESTERSHIRE,), 1.0),
        (f.WORCS_DISTRICTS, (f.WORCESTERSHIRE,), 1.0),
        (f.WORCS_DISTRICTS[:3], (f.WORCESTERSHIRE,), 0.5),
        (("E07000237",), (f.WORCESTERSHIRE,), 1 / 6),
        # without population figures every local area counts 1: the share of the need's 7 local areas
        ((f.HEREFORDSHIRE,), (f.WORCESTERSHIRE, f.HEREFORDSHIRE), 1 / 7),
        (("E07000237", f.HEREFORDSHIRE), (f.WORCESTERSHIRE, f.HEREFORDSHIRE), 2 / 7),
        ((f.WORCESTERSHIRE, "E07000237"), (f.WEST_MERCIA,), 6 / 9),
        ((f.WEST_MERCIA, f.BIRMINGHAM), (f.WORCESTERSHIRE,), 1.0),
    ],
)
def test_coverage_is_hierarchy_aware_share(coverage: tuple[str, ...], areas: tuple[str, ...], expected: float) -> None:
    sc = score_one(f.candidate(service_changes={"areas": coverage}), f.need(areas=areas))
    assert crit(sc, "coverage").score == pytest.approx(expected)


def test_coverage_explains_partial_county_and_lists_covered_leaves() -> None:
    sc = score_one(f.candidate(service_changes={"areas": f.WORCS_DISTRICTS[:2]}))
    assert sc.covered_areas == f.WORCS_DISTRICTS[:2]
    text = " ".join(crit(sc, "coverage").evidence)
    assert "2 of 6 local areas covered" in text and "Bromsgrove (E07000234)" in text


# -- capacity ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("capacity", "expected"), [(100, 0.85), (200, 1.0), (400, 1.0), (50, 0.425), (150, 0.925), (0, 0.0), (None, 0.25)]
)
def test_capacity_curve(capacity: float | None, expected: float) -> None:
    sc = score_one(f.candidate(service_changes={"capacity": capacity, "areas": (f.WORCESTERSHIRE,)}))
    assert crit(sc, "capacity").score == pytest.approx(expected)
    raw = crit(sc, "capacity").components[0].raw
    assert raw is None if capacity is None else raw == pytest.approx(capacity / 100)


# -- financial_viability -----------------------------------------------------------
def test_financial_viability_dependency_and_reserves() -> None:
    sc = score_one(f.candidate(annual_income=500_000, reserves_months=6))  # budget 250k = 50% of income
    assert comp(sc, "financial_viability", "budget_share_of_income") == pytest.approx(0.5)
    assert comp(sc, "financial_viability", "reserves_months") == pytest.approx(1.0)
    assert crit(sc, "financial_viability").score == pytest.approx(0.6 * 0.5 + 0.4 * 1.0)
    big = score_one(f.candidate(annual_income=10_000_000, reserves_months=3))
    assert comp(big, "financial_viability", "budget_share_of_income") > 0.99
    assert comp(big, "financial_viability", "reserves_months") == pytest.approx(0.5)


def test_financial_viability_unknowns_and_zero_income() -> None:
    unknown = score_one(f.candidate(annual_income=None, reserves_months=None))
    assert crit(unknown, "financial_viability").score == pytest.approx(0.2)
    assert all(c.raw is None for c in crit(unknown, "financial_viability").components)
    zero = score_one(f.candidate(annual_income=0, reserves_months=-2))
    assert crit(zero, "financial_viability").score == pytest.approx(0.0)


# -- quality -----------------------------------------------------------------------
def test_quality_components() -> None:
    sc = score_one(f.candidate(accreditations=("iso_9001", "living_wage_employer")))
    # living wage is social value; iso_9001 self-declared counts SELF_DECLARED_FACTOR
    assert comp(sc, "quality", "quality_accreditations") == pytest.approx(1 - 2**-SELF_DECLARED_FACTOR)
    assert comp(sc, "quality", "outcomes_evidence") == SELF_DECLARED_FACTOR
    assert comp(sc, "quality", "years_in_pathway") == pytest.approx(1 - 2 ** (-8 / 3))
    three = score_one(f.candidate(service_changes={"years_experience": 3, "outcomes": ()}))
    assert comp(three, "quality", "years_in_pathway") == pytest.approx(0.5)
    assert comp(three, "quality", "outcomes_evidence") == 0.0
    assert "no outcomes records for ACCOM in its services" in " ".join(crit(three, "quality").evidence)


def test_quality_outcomes_evidence_must_be_for_the_needs_pathway() -> None:
    two = f.services({"outcomes": ()}, {"pathway": "ETE"})
    assert comp(score_one(f.candidate(services=two)), "quality", "outcomes_evidence") == 0.0


# -- local_priorities ---------------------------------------------------------------
def test_local_priorities_match_and_explain_snippets() -> None:
    sc = score_one(f.candidate())
    c = crit(sc, "local_priorities")
    # "rural outreach" is only in the organisation's resources text, which is not the service's own words
    assert c.score == pytest.approx(2 / 3)
    assert [x.name for x in c.components] == ["supported housing for care leavers", "rural outreach"]
    assert [x.weight for x in c.components] == pytest.approx([2 / 3, 1 / 3])
    assert 'service "Supported housing": "Supported housing and tenancy' in c.evidence[0]
    assert "no matching words" in c.evidence[1]
    rural = score_one(f.candidate(service_changes={"description": "Rural outreach by van. Supported housing."}))
    assert "outreach" in crit(rural, "local_priorities").evidence[1]


def test_local_priorities_partial_and_fuzzy_matching() -> None:
    need = f.need(local_priorities=(Priority("trauma informed counselling", 1.0),))
    none = score_one(f.candidate(), need)
    assert crit(none, "local_priorities").score == 0.0
    assert "no matching words" in crit(none, "local_priorities").evidence[0]
    fuzzy = score_one(f.candidate(service_changes={"description": "Trauma-informd counseling for survivors."}), need)
    s = crit(fuzzy, "local_priorities").score
    assert 0.8 < s < 1.0
    assert "informed~informd 92%" in crit(fuzzy, "local_priorities").evidence[0]
    partial = score_one(f.candidate(service_changes={"description": "Counselling service."}), need)
    assert crit(partial, "local_priorities").score == pytest.approx((1 / 3) ** 2)  # a third of a phrase


def test_local_priorities_not_applied_without_priorities() -> None:
    r = rank(f.need(local_priorities=()), [f.candidate()], areas=f.tree(), as_of=f.AS_OF)
    c = crit(r.scored[0], "local_priorities")
    assert c.weight == 0.0 and c.contribution == 0.0 and c.components == ()
    assert "not applied" in c.evidence[0]


# -- added_value -------------------------------------------------------------------
def test_added_value_components() -> None:
    sc = score_one(
        f.candidate(
            match_funding_per_year=25_000,
            volunteers=10,
            premises_areas=("E07000237", f.BIRMINGHAM),
            partner_organisations=("A", "B", "a "),
        )
    )
    assert comp(sc, "added_value", "match_funding_to_budget") == pytest.approx(0.5)
    assert comp(sc, "added_value", "volunteers") == pytest.approx(0.5)
    assert comp(sc, "added_value", "premises_in_need_areas") == pytest.approx(0.5)  # only Worcester is in the need
    assert comp(sc, "added_value", "partner_organisations") == pytest.approx(0.5)  # A, B (case-insensitive)
    bare = score_one(f.candidate(match_funding_per_year=0, volunteers=0, premises_areas=(), partner_organisations=()))
    assert crit(bare, "added_value").score == 0.0


def test_missing_counts_score_as_zero_not_nan() -> None:
    sc = score_one(f.candidate(volunteers=None, match_funding_per_year=None))  # e.g. NULLs from a database row
    assert comp(sc, "added_value", "volunteers") == 0.0
    assert comp(sc, "added_value", "match_funding_to_budget") == 0.0
    assert not math.isnan(sc.total)


# -- social_value ------------------------------------------------------------------
def test_social_value_sector_preference_commitments_and_local_presence() -> None:
    third = score_one(f.candidate(social_value=("lived_experience_staff",), accreditations=("living_wage_employer",)))
    assert comp(third, "social_value", "sector_preference") == 1.0
    assert comp(third, "social_value", "social_value_commitments") == pytest.approx(0.5)
    assert comp(third, "social_value", "local_presence") == 1.0
    private = score_one(f.candidate(sector="private", premises_areas=(f.BIRMINGHAM,)))
    assert comp(private, "social_value", "sector_preference") == 0.0
    assert comp(private, "social_value", "local_presence") == 0.0


def test_social_value_without_sector_preference_reweights() -> None:
    sc = score_one(f.candidate(sector="private"), f.need(sector_preference={}))
    c = crit(sc, "social_value")
    assert [x.name for x in c.components] == ["social_value_commitments", "local_presence"]
    assert [x.weight for x in c.components] == pytest.approx([0.6, 0.4])
    assert "no sector preference" in c.evidence[0]


# -- sustainability ----------------------------------------------------------------
def test_sustainability_components() -> None:
    sc = score_one(
        f.candidate(
            founded_year=f.AS_OF.year - 5,
            funding_sources=("a", "b"),
            last_confirmed=f.AS_OF - timedelta(days=round(18 * 30.4375)),
        )
    )
    assert comp(sc, "sustainability", "years_operating") == pytest.approx(0.5)
    assert comp(sc, "sustainability", "funding_sources") == pytest.approx(0.5)
    assert comp(sc, "sustainability", "months_since_confirmed") == pytest.approx(0.5, abs=1e-3)
    fresh = score_one(f.candidate(last_confirmed=f.AS_OF - timedelta(days=100)))
    assert comp(fresh, "sustainability", "months_since_confirmed") == 1.0
    unknown = score_one(f.candidate(founded_year=None, funding_sources=(), last_confirmed=None))
    assert crit(unknown, "sustainability").score == 0.0


def test_sustainability_depends_on_as_of_not_the_clock() -> None:
    c = f.candidate(founded_year=2020, last_confirmed=date(2020, 1, 1))
    early = rank(f.need(), [c], areas=f.tree(), as_of=date(2020, 6, 1)).scored[0]
    late = rank(f.need(), [c], areas=f.tree(), as_of=date(2030, 6, 1)).scored[0]
    assert comp(early, "sustainability", "months_since_confirmed") == 1.0
    assert comp(late, "sustainability", "months_since_confirmed") < 0.01
    assert comp(late, "sustainability", "years_operating") > comp(early, "sustainability", "years_operating")


# -- every criterion ---------------------------------------------------------------
def test_every_criterion_is_explained_and_consistent() -> None:
    r: Ranking = rank(
        f.need(), [f.candidate(1), f.candidate(2, service_changes={"capacity": None})], areas=f.tree(), as_of=f.AS_OF
    )
    for sc in r.scored:
        assert [c.criterion for c in sc.criteria] == list(r.weights.as_dict())
        for c in sc.criteria:
            assert c.evidence and all(isinstance(e, str) and e for e in c.evidence)
            assert c.weight == r.weights.as_dict()[c.criterion]
            assert c.contribution == c.weight * c.score
            assert 0.0 <= c.score <= 1.0
            if c.components:
                assert math.isclose(sum(x.weight for x in c.components), 1.0)
                assert c.score == pytest.approx(sum(x.weight * x.score for x in c.components), abs=1e-12)
        assert abs(sum(c.contribution for c in sc.criteria) - sc.total) < 1e-9
