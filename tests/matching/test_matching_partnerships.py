"""propose_partnerships: weighted set cover over (need, pathway, leaf area) cells."""

from __future__ import annotations

import matching_factories as f
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import Cell, InvalidNeed, Offer, PartnershipPlan, propose_partnerships, rank

TREE = f.tree()
WM_LEAVES = TREE.leaves_under(f.WEST_MERCIA)
ACCOM = f.need(id="accom", pathway="ACCOM", areas=(f.WEST_MERCIA,))
ETE = f.need(id="ete", pathway="ETE", areas=(f.WORCESTERSHIRE,))
DRUGS_BRUM = f.need(id="drugs", pathway="DRUGS", areas=(f.BIRMINGHAM,))


def offer(pid: int, name: str, need_id: str, score: float, areas: tuple[str, ...]) -> Offer:
    return Offer(pid, name, need_id, score, areas)


def plan_for(offers: list[Offer], needs=(ACCOM, ETE, DRUGS_BRUM), **kw) -> PartnershipPlan:  # type: ignore[no-untyped-def]
    return propose_partnerships(list(needs), offers, areas=TREE, **kw)


def members(option) -> list:  # type: ignore[no-untyped-def]
    return [option.lead, *option.partners]


def assert_partition(plan: PartnershipPlan) -> None:
    coverable = set(plan.cells) - set(plan.uncovered)
    for option in plan.options:
        assigned = [c for m in members(option) for c in m.cells]
        assert len(assigned) == len(set(assigned)) == option.covered_cell_count
        assert set(assigned) == coverable
        assert all(m.cells for m in option.partners)


def test_cells_are_need_pathway_leaf_areas() -> None:
    plan = plan_for([])
    assert len(plan.cells) == 9 + 6 + 1
    assert Cell("ete", "ETE", "E07000237") in plan.cells
    assert plan.options == () and set(plan.uncovered) == set(plan.cells)


def test_prefers_fewer_organisations() -> None:
    offers = [
        offer(1, "All-rounder", "accom", 0.5, WM_LEAVES),
        offer(1, "All-rounder", "ete", 0.5, f.WORCS_DISTRICTS),
        offer(2, "Housing specialist", "accom", 0.9, WM_LEAVES),
        offer(3, "Jobs specialist", "ete", 0.9, f.WORCS_DISTRICTS),
    ]
    plan = plan_for(offers)
    best = plan.options[0]
    assert best.lead.provider_id == 1 and best.partners == () and best.organisation_count == 1
    assert best.rank == 1 and "covers 15 of 15 coverable cells" in best.lead.reason
    assert [o.organisation_count for o in plan.options] == [1, 2]
    assert {m.provider_id for m in members(plan.options[1])} == {2, 3}
    assert_partition(plan)


def test_reports_uncoverable_cells() -> None:
    plan = plan_for([offer(1, "A", "accom", 0.7, WM_LEAVES)])
    assert Cell("drugs", "DRUGS", f.BIRMINGHAM) in plan.uncovered
    assert len(plan.uncovered) == 1 + 6  # nobody offers DRUGS in Birmingham or ETE at all
    assert plan.coverable_count == 9
    assert_partition(plan)


def test_partial_district_coverage_combines_providers() -> None:
    offers = [
        offer(1, "North", "ete", 0.8, f.WORCS_DISTRICTS[:3]),
        offer(2, "South", "ete", 0.6, f.WORCS_DISTRICTS[3:]),
        offer(3, "Middle", "ete", 0.9, f.WORCS_DISTRICTS[2:4]),
    ]
    plan = plan_for(offers, needs=(ETE,))
    best = plan.options[0]
    assert {m.provider_id for m in members(best)} == {1, 2}
    assert best.lead.provider_id == 1
    assert best.partners[0].cells == tuple(Cell("ete", "ETE", d) for d in f.WORCS_DISTRICTS[3:])
    assert "delivers 3 cells the lead does not cover" in best.partners[0].reason
    assert best.explanation[0].startswith("Lead North: covers 3 of 6 coverable cells on its own; ranked 1st of 3")
    assert len({o.lead.provider_id for o in plan.options}) == len(plan.options) <= 3
    assert_partition(plan)


def test_score_breaks_ties_between_equal_reach() -> None:
    offers = [offer(1, "Zed", "ete", 0.4, f.WORCS_DISTRICTS), offer(2, "Amy", "ete", 0.8, f.WORCS_DISTRICTS)]
    plan = plan_for(offers, needs=(ETE,), max_options=1)
    assert len(plan.options) == 1 and plan.options[0].lead.provider_id == 2
    assert plan.options[0].total_score == pytest.approx(6 * 0.8)


def test_from_rankings_and_json_encodable() -> None:
    cands = [
        f.candidate(1, name="Housing West Mercia", service_changes={"areas": (f.WEST_MERCIA,)}),
        f.candidate(2, name="Worcs Works", service_changes={"pathway": "ETE", "areas": (f.WORCESTERSHIRE,)}),
        f.candidate(
            3,
            name="Both Worcs",
            services=f.services({"areas": (f.WORCESTERSHIRE,)}, {"pathway": "ETE", "areas": (f.WORCESTERSHIRE,)}),
        ),
    ]
    needs = [ACCOM, ETE, DRUGS_BRUM]
    rankings = [rank(n, cands, areas=TREE, as_of=f.AS_OF, limit=10) for n in needs]
    plan = propose_partnerships(needs, rankings, areas=TREE)
    assert plan.uncovered == (Cell("drugs", "DRUGS", f.BIRMINGHAM),)
    best = plan.options[0]
    assert best.organisation_count == 2 and best.covered_cell_count == 15
    assert_partition(plan)
    assert msgspec.json.decode(msgspec.json.encode(plan), type=PartnershipPlan) == plan


def test_invalid_exercises_raise() -> None:
    with pytest.raises(InvalidNeed):
        plan_for([], needs=(ACCOM, ACCOM))
    with pytest.raises(InvalidNeed):
        plan_for([offer(1, "A", "nope", 0.5, WM_LEAVES)])
    with pytest.raises(InvalidNeed):
        plan_for([], max_options=0)


offers_strategy = st.lists(
    st.builds(
        offer,
        pid=st.integers(1, 8),
        name=st.just(""),
        need_id=st.sampled_from(["accom", "ete", "drugs"]),
        score=st.floats(0, 1),
        areas=st.lists(st.sampled_from(TREE.codes), max_size=3).map(tuple),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(offers=offers_strategy, max_options=st.integers(1, 4))
def test_plan_invariants(offers: list[Offer], max_options: int) -> None:
    offers = [msgspec.structs.replace(o, name=f"Org {o.provider_id}") for o in offers]
    plan = plan_for(offers, max_options=max_options)
    assert_partition(plan)
    assert len(plan.options) <= max_options
    assert len({o.lead.provider_id for o in plan.options}) == len(plan.options)
    keys = [(o.organisation_count, -o.total_score) for o in plan.options]
    assert keys == sorted(keys)
    for option in plan.options:  # no partner is redundant
        for p in option.partners:
            others = set().union(
                *(
                    {c for o in offers if o.provider_id == m.provider_id for c in _cells(o)}
                    for m in members(option)
                    if m is not p
                )
            )
            assert not set(p.cells) <= others
    if plan.options:
        assert plan.coverable_count == plan.options[0].covered_cell_count


def _cells(o: Offer) -> set[Cell]:
    need = {"accom": ACCOM, "ete": ETE, "drugs": DRUGS_BRUM}[o.need_id]
    wanted = {leaf for a in need.areas for leaf in TREE.leaves_under(a)}
    return {Cell(o.need_id, need.pathway, leaf) for a in o.areas for leaf in TREE.leaves_under(a) if leaf in wanted}
