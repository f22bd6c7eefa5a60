"""The options appraisal's arithmetic (marketplace.appraisals.calc) against hand-computed values, and the
sensitivity analysis's switching points as properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.appraisals import calc
from marketplace.appraisals.calc import CostLine, Criterion, Inputs, Moderated, Score
from marketplace.appraisals.models import OptionResult

# Hand example: A weighs 2 (0-5), B 1 (0-10), C 1 (0-5): shares 1/2, 1/4, 1/4.
# X: A 4/5 = .8, B 5/10 = .5, C 3/5 = .6 -> .4 + .125 + .15 = .675
# Y: A 2/5 = .4, B 10/10 = 1, C 5/5 = 1  -> .2 + .25 + .25 = .7
CRITERIA = [Criterion("a", 2, 5), Criterion("b", 1, 10), Criterion("c", 1, 5)]
SCORES = [
    Score("x", "a", "ann", 4),
    Score("x", "b", "ann", 5),
    Score("x", "c", "ann", 3),
    Score("y", "a", "ann", 2),
    Score("y", "b", "ann", 10),
    Score("y", "c", "ann", 5),
]
F1, F2, F3 = 1.0, 1 / 1.035, 1 / 1.035**2  # 1, 0.96618357..., 0.93351070...


def by_option(result: calc.Result) -> dict[str, OptionResult]:
    return {o.option: o for o in result.options}


def test_weights_normalise_to_shares_and_refuse_bad_weights() -> None:
    assert calc.normalise_weights({"a": 2, "b": 1, "c": 1}) == {"a": 0.5, "b": 0.25, "c": 0.25}
    assert calc.normalise_weights({"a": 0, "b": 3}) == {"a": 0.0, "b": 1.0}
    with pytest.raises(calc.AppraisalError) as zero:
        calc.normalise_weights({"a": 0, "b": 0})
    assert zero.value.field == "criteria"
    with pytest.raises(calc.AppraisalError) as negative:
        calc.normalise_weights({"a": -1, "b": 2})
    assert negative.value.field == "criteria.a.weight"


def test_weighted_scores_normalise_each_scale_and_rank() -> None:
    result = calc.appraise(Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES))
    opts = by_option(result)
    assert opts["x"].weighted_score == pytest.approx(0.675, abs=1e-12)
    assert opts["y"].weighted_score == pytest.approx(0.7, abs=1e-12)
    assert opts["x"].contributions == pytest.approx({"a": 0.4, "b": 0.125, "c": 0.15})
    assert result.ranking == ["y", "x"]
    assert (opts["y"].rank, opts["x"].rank) == (1, 2)
    assert result.preferred == "y"


def test_moderated_score_overrides_the_assessors_mean_and_the_spread_is_shown() -> None:
    scores = [*SCORES, Score("x", "a", "bob", 2)]  # x on a: ann 4, bob 2 -> mean 3, spread 2..4
    plain = calc.appraise(Inputs(options=["x", "y"], criteria=CRITERIA, scores=scores))
    cell = next(s for s in plain.spreads if (s.option, s.criterion) == ("x", "a"))
    assert (cell.assessors, cell.low, cell.high, cell.mean, cell.range, cell.used) == (2, 2, 4, 3, 2, 3)
    assert by_option(plain)["x"].weighted_score == pytest.approx(0.5 * 0.6 + 0.125 + 0.15)
    agreed = calc.appraise(
        Inputs(options=["x", "y"], criteria=CRITERIA, scores=scores, moderated=[Moderated("x", "a", 5)])
    )
    cell = next(s for s in agreed.spreads if (s.option, s.criterion) == ("x", "a"))
    assert (cell.moderated, cell.used, cell.mean) == (5, 5, 3)
    assert by_option(agreed)["x"].weighted_score == pytest.approx(0.5 + 0.125 + 0.15)
    assert agreed.ranking == ["x", "y"]


def test_an_option_missing_a_weighted_score_is_not_ranked() -> None:
    result = calc.appraise(Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES[:5]))
    assert by_option(result)["y"].missing == ["c"]
    assert by_option(result)["y"].rank is None  # unranked: a weighted criterion has no score
    assert by_option(result)["y"].weighted_score is None
    assert result.ranking == ["x"]


def test_ties_go_to_the_lower_net_present_cost_then_the_order_given() -> None:
    assert calc.rank({"p": 0.5, "q": 0.5, "r": 0.5}, {"p": 10.0, "q": 5.0, "r": None}, ["r", "p", "q"]) == [
        "q",
        "p",
        "r",
    ]
    assert calc.rank({"p": 0.5, "q": 0.5}, {}, ["q", "p"]) == ["q", "p"]


def test_net_present_cost_green_book_year_one_undiscounted() -> None:
    assert calc.discount_factor(1, 0.035) == 1.0
    assert calc.discount_factor(2, 0.035) == pytest.approx(0.966183574879, abs=1e-12)
    assert calc.discount_factor(3, 0.035) == pytest.approx(0.933510700366, abs=1e-12)
    assert calc.net_present_cost([(1, 100_000), (2, 100_000), (3, 100_000)], 0.035) == pytest.approx(
        289_969.427524, abs=1e-5
    )
    assert calc.budget_present_value(95_000, 3, 0.035) == pytest.approx(275_470.956148, abs=1e-5)
    assert calc.net_present_cost([(1, 1000), (2, 1000)], 0.0) == 2000


def test_affordability_decides_the_preferred_option_and_the_cost_switch() -> None:
    # y ranks first but costs 100k a year (NPC 289,969.43) against a budget of 95k a year (PV 275,470.96);
    # x: 30k set-up + 90k staff in year 1, 80k in years 2 and 3 (NPC 271,975.54): affordable, headroom 3,495.41.
    costs = [
        CostLine("x", 1, "setup_transition", 30_000),
        CostLine("x", 1, "staff", 90_000),
        CostLine("x", 2, "staff", 80_000),
        CostLine("x", 3, "staff", 80_000),
        *(CostLine("y", year, "staff", 100_000) for year in (1, 2, 3)),
    ]
    result = calc.appraise(
        Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES, costs=costs, years=3, annual_budget=95_000)
    )
    x, y = by_option(result)["x"], by_option(result)["y"]
    assert x.annual_costs == [120_000, 80_000, 80_000]
    assert x.costs_by_category == {"setup_transition": 30_000, "staff": 250_000}
    assert x.net_present_cost == pytest.approx(120_000 + 80_000 * (F2 + F3))
    assert x.net_present_cost == pytest.approx(271_975.542018, abs=1e-5)
    assert result.budget_present_value == pytest.approx(95_000 * (F1 + F2 + F3))
    assert (x.affordable, y.affordable) == (True, False)
    assert x.headroom == pytest.approx(3_495.414130, abs=1e-5)
    assert result.ranking == ["y", "x"]
    assert result.preferred == "x"
    switch = result.cost_switch
    assert switch.increase == pytest.approx(3_495.414130, abs=1e-5)
    assert switch.increase_switches_to is None  # nothing else is affordable
    assert switch.decrease == pytest.approx(14_498.471376, abs=1e-5)
    assert switch.decrease_option == "y"
    # sensitivity compares only the options that compete: y is over budget, so no weight makes it preferred
    assert all(r.low_switches_to is None and r.high_switches_to is None for r in result.sensitivity)


def test_no_budget_no_cost_switch() -> None:
    result = calc.appraise(Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES))
    assert result.budget_present_value is None
    assert result.cost_switch.increase is None
    assert "no budget" in result.cost_switch.note


def test_weight_switching_point_by_hand() -> None:
    # A's share t, B and C (1 - t) / 2 each: X(t) = .55 + .25 t, Y(t) = 1 - .6 t; equal at t = 9/17.
    result = calc.appraise(Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES))
    a = next(r for r in result.sensitivity if r.criterion == "a")
    assert (a.share, a.low, a.low_switches_to) == (0.5, 0.0, None)
    assert a.high == pytest.approx(9 / 17, abs=1e-12)
    assert a.high_switches_to == "x"
    assert a.high_weight == pytest.approx(2.25, abs=1e-12)  # A weighted 2.25 against B 1 and C 1: a tie
    # B: Y is better on B, so raising B never switches; lowering it does: X(t) = .7 - .2 t... see the property test
    b = next(r for r in result.sensitivity if r.criterion == "b")
    assert b.high == 1.0 and b.high_switches_to is None and b.high_weight is None


def test_a_rival_tying_at_no_weight_takes_the_preference_there_when_it_costs_less() -> None:
    """Financial viability's share down to 0 left the preferred option and a cheaper one tied; the ranking then
    prefers the cheaper one (ties by lower net present cost), while the sensitivity said "never switches"."""
    criteria = [Criterion("a", 1, 5), Criterion("b", 1, 5)]
    scores = [
        Score("x", "a", "ann", 5),
        Score("x", "b", "ann", 3),
        Score("y", "a", "ann", 3),
        Score("y", "b", "ann", 3),
    ]

    def appraised(y_cost: int) -> calc.Result:
        costs = [CostLine("x", 1, "staff", 100), CostLine("y", 1, "staff", y_cost)]
        return calc.appraise(Inputs(["x", "y"], criteria, scores, costs=costs, years=1, annual_budget=200))

    cheaper = appraised(50)
    assert cheaper.preferred == "x"
    a = next(r for r in cheaper.sensitivity if r.criterion == "a")
    assert (a.low, a.low_switches_to) == (0.0, "y")
    at_zero = calc.appraise(
        Inputs(
            ["x", "y"],
            [Criterion("a", 0, 5), Criterion("b", 1, 5)],
            scores,
            costs=[CostLine("x", 1, "staff", 100), CostLine("y", 1, "staff", 50)],
            years=1,
            annual_budget=200,
        )
    )
    assert at_zero.preferred == "y"  # what the range says: at 0, y
    dearer = next(r for r in appraised(150).sensitivity if r.criterion == "a")
    assert (dearer.low, dearer.low_switches_to) == (0.0, None)  # tied at 0, and x still first on cost


# --- properties -------------------------------------------------------------------------------------

KEYS = ["k0", "k1", "k2", "k3", "k4"]


@st.composite
def appraisals(draw: st.DrawFn) -> Inputs:
    n_crit = draw(st.integers(1, 5))
    n_opt = draw(st.integers(2, 5))
    weights = draw(st.lists(st.integers(0, 10), min_size=n_crit, max_size=n_crit).filter(lambda w: sum(w) > 0))
    scales = draw(st.lists(st.sampled_from([5, 10]), min_size=n_crit, max_size=n_crit))
    criteria = [Criterion(KEYS[i], weights[i], scales[i]) for i in range(n_crit)]
    options = [f"o{j}" for j in range(n_opt)]
    scores = [Score(o, c.key, "a", draw(st.integers(0, c.scale_max))) for o in options for c in criteria]
    return Inputs(options=options, criteria=criteria, scores=scores)


def totals_at(inputs: Inputs, result: calc.Result, criterion: str, t: float) -> dict[str, float]:
    """Weighted scores recomputed from scratch at the criterion's share t (the others rescaled in proportion)."""
    shares = calc.shares_at(result.shares, criterion, t)
    values = {o.option: o.values for o in result.options}
    return {o: math.fsum(shares[c] * values[o][c] for c in shares) for o in inputs.options}


def preferred_at(inputs: Inputs, result: calc.Result, criterion: str, t: float) -> str | None:
    return calc.preferred_of(calc.rank(totals_at(inputs, result, criterion, t), {}, inputs.options), None)


@settings(max_examples=300, deadline=None)
@given(appraisals())
def test_at_each_switching_weight_the_two_options_tie_and_beyond_it_the_preference_changes(inputs: Inputs) -> None:
    result = calc.appraise(inputs)
    assert result.preferred is not None
    for r in result.sensitivity:
        assert 0.0 <= r.low <= r.share <= r.high <= 1.0
        for edge, rival, step in ((r.low, r.low_switches_to, -1), (r.high, r.high_switches_to, 1)):
            if rival is None:
                continue
            at = totals_at(inputs, result, r.criterion, edge)
            assert at[result.preferred] == pytest.approx(at[rival], abs=1e-9)
            if edge == (
                0.0 if step < 0 else 1.0
            ):  # a tie at the end: the tie-breaks (no costs: the order) put it first
                ranked = calc.rank({result.preferred: 0.0, rival: 0.0}, {}, inputs.options)
                assert ranked[0] == rival
                continue
            beyond = edge + step * min(1e-6, edge / 2 if step < 0 else (1 - edge) / 2)
            after = totals_at(inputs, result, r.criterion, beyond)
            assert after[rival] > after[result.preferred]
            assert preferred_at(inputs, result, r.criterion, beyond) != result.preferred


@settings(max_examples=300, deadline=None)
@given(appraisals(), st.floats(0, 1))
def test_inside_the_reported_range_the_preferred_option_stays_preferred(inputs: Inputs, u: float) -> None:
    result = calc.appraise(inputs)
    assert result.preferred is not None
    for r in result.sensitivity:
        t = r.low + u * (r.high - r.low)
        at = totals_at(inputs, result, r.criterion, t)
        assert all(at[result.preferred] >= v - 1e-9 for v in at.values())


@st.composite
def costed(draw: st.DrawFn) -> Inputs:
    """An appraisal with a budget, each option costed in each year, or (sometimes) not costed at all."""
    base = draw(appraisals())
    uncosted = draw(st.sets(st.sampled_from(base.options)))
    costs = [
        CostLine(o, y, "staff", draw(st.integers(0, 200))) for o in base.options if o not in uncosted for y in (1, 2, 3)
    ]
    return Inputs(
        options=base.options,
        criteria=base.criteria,
        scores=base.scores,
        costs=costs,
        annual_budget=draw(st.integers(0, 200)),
    )


@settings(max_examples=300, deadline=None)
@given(costed())
def test_the_cost_switch_is_where_affordability_changes_the_preferred_option(inputs: Inputs) -> None:
    result = calc.appraise(inputs)
    switch = result.cost_switch
    if result.preferred is None:
        assert switch.increase is None
        return
    opts = by_option(result)

    def preferred_with(option: str, delta: float) -> str | None:
        affordable = {o: r.affordable for o, r in opts.items()}
        npc = opts[option].net_present_cost
        assert npc is not None and result.budget_present_value is not None
        affordable[option] = npc + delta <= result.budget_present_value + 1e-9
        return calc.preferred_of(result.ranking, affordable)

    assert opts[result.preferred].affordable is True  # with a budget, only an option known to be affordable
    assert all(opts[o].affordable is not True for o in result.ranking[: result.ranking.index(result.preferred)])
    assert switch.increase is not None and switch.increase >= 0
    assert preferred_with(result.preferred, switch.increase) == result.preferred
    assert preferred_with(result.preferred, switch.increase + 1e-3) == switch.increase_switches_to
    if switch.decrease_option is not None:
        assert switch.decrease is not None
        assert preferred_with(switch.decrease_option, -switch.decrease) == switch.decrease_option


def test_when_no_option_is_affordable_the_cost_switch_says_so_and_how_far_the_top_must_fall() -> None:
    # budget 80k a year (PV 231,555.20); y (the top score) costs 100k a year (NPC 289,969.43), x 90k (260,972.49):
    # neither is affordable, so nothing is preferred; y would be once its cost fell by 58,414.23
    costs = [CostLine(o, year, "staff", amount) for o, amount in (("x", 90_000), ("y", 100_000)) for year in (1, 2, 3)]
    result = calc.appraise(
        Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES, costs=costs, years=3, annual_budget=80_000)
    )
    assert result.ranking == ["y", "x"] and result.preferred is None
    switch = result.cost_switch
    assert switch.note == "no option is affordable within the budget"  # not "no option has a weighted score yet"
    assert switch.decrease_option == "y"
    assert switch.decrease == pytest.approx(100_000 * (F1 + F2 + F3) - 80_000 * (F1 + F2 + F3))
    assert switch.increase is None and switch.increase_switches_to is None


def test_an_option_with_no_costs_is_not_preferred_when_there_is_a_budget() -> None:
    """y scores highest but has no costs: not known to be affordable, so x (costed, within the budget) is preferred,
    and the cost switch says an option scoring higher is not costed. With no costs at all nothing is preferred; without
    a budget, the top score is."""
    costs = [CostLine("x", year, "staff", 50_000) for year in (1, 2, 3)]
    result = calc.appraise(
        Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES, costs=costs, years=3, annual_budget=95_000)
    )
    assert result.ranking == ["y", "x"]
    assert (by_option(result)["y"].affordable, by_option(result)["x"].affordable) == (None, True)
    assert result.preferred == "x"
    assert result.cost_switch.note == (
        "1 option scoring higher than the preferred option has no costs entered, so it is not known to be affordable"
    )
    assert result.cost_switch.decrease is None  # a fall in costs it does not have cannot decide it
    assert all(r.low_switches_to is None and r.high_switches_to is None for r in result.sensitivity)
    none = calc.appraise(Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES, annual_budget=95_000))
    assert (none.preferred, none.sensitivity) == (None, [])
    assert (
        none.cost_switch.note
        == "no scored option has costs entered, so none is known to be affordable within the budget"
    )
    assert calc.appraise(Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES)).preferred == "y"
    assert calc.preferred_of(["y", "x"], {"y": None, "x": True}) == "x"
    assert calc.preferred_of(["y", "x"], None) == "y"


def test_when_nothing_costed_is_affordable_the_note_names_the_uncosted_and_the_top_costed_must_fall() -> None:
    costs = [CostLine("x", year, "staff", 100_000) for year in (1, 2, 3)]
    result = calc.appraise(
        Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES, costs=costs, years=3, annual_budget=95_000)
    )
    assert result.preferred is None
    switch = result.cost_switch
    assert switch.note == "no option is known to be affordable within the budget: 1 scored option has no costs entered"
    assert switch.decrease_option == "x"
    assert switch.decrease == pytest.approx(5_000 * (F1 + F2 + F3))


def test_each_year_above_the_annual_budget_is_flagged_without_changing_affordability() -> None:
    # x: 120k in year 1 (30k set-up), 95k, 60k, against 95k a year: affordable over the term, year 1 over
    costs = [
        CostLine("x", 1, "setup_transition", 30_000),
        CostLine("x", 1, "staff", 90_000),
        CostLine("x", 2, "staff", 95_000),  # exactly the budget: not over
        CostLine("x", 3, "staff", 60_000),
        *(CostLine("y", year, "staff", 100_000) for year in (1, 2, 3)),
    ]
    result = calc.appraise(
        Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES, costs=costs, years=3, annual_budget=95_000)
    )
    x, y = by_option(result)["x"], by_option(result)["y"]
    assert (x.affordable, x.years_over_budget) == (True, [1])
    assert (y.affordable, y.years_over_budget) == (False, [1, 2, 3])
    unbudgeted = calc.appraise(Inputs(options=["x", "y"], criteria=CRITERIA, scores=SCORES, costs=costs))
    assert all(o.years_over_budget == [] for o in unbudgeted.options)
    assert calc.years_over([0.0, 0.0], 0, costed=False) == []  # no costs entered: nothing known, nothing flagged
    assert calc.years_over([1.0, 0.0], 0) == [1]
