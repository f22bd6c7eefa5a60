"""Area hierarchy and weight validation."""

from __future__ import annotations

import math

import matching_factories as f
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import CRITERIA, DEFAULT_WEIGHTS, AreaTree, InvalidAreaTree, InvalidWeights, Weights, rank
from matching.weights import effective_weights, shown_percentages


def test_area_tree_hierarchy_helpers() -> None:
    t = f.tree()
    assert t.ancestors("E07000237") == (f.WORCESTERSHIRE, f.WEST_MERCIA)
    assert t.parent(f.WEST_MERCIA) is None
    assert set(t.descendants(f.WORCESTERSHIRE)) == set(f.WORCS_DISTRICTS)
    assert set(t.leaves_under(f.WEST_MERCIA)) == {*f.WORCS_DISTRICTS, f.HEREFORDSHIRE, f.SHROPSHIRE, f.TELFORD}
    assert t.leaves_under(f.HEREFORDSHIRE) == (f.HEREFORDSHIRE,)
    assert t.leaf_count(f.WEST_MERCIA) == 9
    assert t.is_within("E07000239", f.WEST_MERCIA)
    assert t.is_within(f.WORCESTERSHIRE, f.WORCESTERSHIRE)
    assert not t.is_within(f.WEST_MERCIA, f.WORCESTERSHIRE)
    assert t.label(f.WORCESTERSHIRE) == "Worcestershire (E10000034)"


def test_area_tree_reduce_drops_nested_and_unknown_codes() -> None:
    t = f.tree()
    reduced = t.reduce([f.WORCESTERSHIRE, "E07000234", "E99999999", f.HEREFORDSHIRE, f.WORCESTERSHIRE])
    assert {t.code(i) for i in reduced} == {f.WORCESTERSHIRE, f.HEREFORDSHIRE}


def test_area_tree_implicit_root_and_errors() -> None:
    t = AreaTree({"child": "root"})
    assert t.parent("child") == "root" and t.parent("root") is None
    with pytest.raises(InvalidAreaTree):
        AreaTree({"a": "b", "b": "a"})
    with pytest.raises(InvalidAreaTree):
        AreaTree({"a": "a"})
    with pytest.raises(InvalidAreaTree):
        AreaTree({"": None})
    assert AreaTree(f.parent_map()) == f.tree()


def test_default_weights_normalise_to_one() -> None:
    w = DEFAULT_WEIGHTS.normalised()
    assert math.isclose(sum(w.values()), 1.0)
    assert tuple(w.as_dict()) == CRITERIA


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"coverage": -0.1}, "coverage"),
        ({"quality": float("nan")}, "quality"),
        ({"capacity": float("inf")}, "capacity"),
        ({"added_value": True}, "added_value"),
        (dict.fromkeys(CRITERIA, 0.0), "*"),
    ],
)
def test_invalid_weights_raise(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidWeights) as err:
        Weights(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_weights_from_mapping_rejects_unknown_names() -> None:
    with pytest.raises(InvalidWeights) as err:
        Weights.from_mapping({"popularity": 1.0})
    assert err.value.field == "popularity"
    assert Weights.from_mapping({"coverage": 2.0}).coverage == 2.0


def test_need_weight_overrides_are_validated_and_applied() -> None:
    t = f.tree()
    r = rank(f.need(weight_overrides={"coverage": 0.0}), [f.candidate()], areas=t, as_of=f.AS_OF)
    assert r.weights.coverage == 0.0
    with pytest.raises(InvalidWeights):
        rank(f.need(weight_overrides={"nonsense": 1.0}), [f.candidate()], areas=t, as_of=f.AS_OF)
    with pytest.raises(InvalidWeights):
        rank(f.need(weight_overrides={"coverage": -1.0}), [f.candidate()], areas=t, as_of=f.AS_OF)


def test_local_priorities_weight_dropped_when_need_has_none() -> None:
    w = effective_weights(DEFAULT_WEIGHTS, None, has_priorities=False)
    assert w.local_priorities == 0.0
    assert math.isclose(sum(w.values()), 1.0)
    only_local = Weights(**{name: (1.0 if name == "local_priorities" else 0.0) for name in CRITERIA})
    with pytest.raises(InvalidWeights) as err:
        effective_weights(only_local, None, has_priorities=False)
    assert err.value.field == "local_priorities"


def test_normalised_weights_never_sum_above_one() -> None:
    w = Weights(**{name: 0.1 + k / 7 for k, name in enumerate(CRITERIA)}).normalised()
    total = 0.0
    for v in w.values():
        total += v
    assert total <= 1.0


def test_shown_percentages_add_up_to_100() -> None:
    """Each share rounded alone, a need with no local priorities showed 22.2 + 16.7 + 11.1 + 11.1 + 16.7 + 5.6 +
    11.1 + 5.6 = 100.1: the tenth left over goes where the cut lost most (the first such, in registry order)."""
    w = effective_weights(DEFAULT_WEIGHTS, None, has_priorities=False)
    shown = shown_percentages(w.as_dict())
    assert shown == {
        "pathway_fit": 22.2,
        "coverage": 16.7,
        "capacity": 11.1,
        "financial_viability": 11.1,
        "quality": 16.7,
        "local_priorities": 0.0,
        "added_value": 5.6,
        "social_value": 11.1,
        "sustainability": 5.5,
    }
    assert shown_percentages({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) == {"a": 33.4, "b": 33.3, "c": 33.3}
    # percentages given to a tenth are shown as given
    table = dict.fromkeys(CRITERIA, 0.0) | {"pathway_fit": 33.3, "coverage": 33.3, "quality": 33.4}
    given_ = Weights.from_percentages(table)
    assert shown_percentages(given_.normalised().as_dict())["quality"] == 33.4


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=len(CRITERIA), max_size=len(CRITERIA)))
def test_shown_percentages_are_within_a_tenth_and_sum_to_100(raw: list[int]) -> None:
    if not any(raw):
        return
    w = Weights(**dict(zip(CRITERIA, map(float, raw), strict=True))).normalised().as_dict()
    shown = shown_percentages(w)
    assert sum(round(v * 10) for v in shown.values()) == 1000
    for k, v in shown.items():
        assert abs(v - w[k] * 100) < 0.1 + 1e-9, (k, v, w[k])
        assert v == round(v, 1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from([*f.tree().codes, "E99999999"]), max_size=5), max_size=8))
def test_vectorised_area_antichains_match_reduce(code_lists: list[list[str]]) -> None:
    from matching.columns import area_pairs

    t = f.tree()
    pairs = area_pairs([tuple(c) for c in code_lists], t)
    assert [tuple(pairs.of(i)) for i in range(len(code_lists))] == [t.reduce(c) for c in code_lists]
