"""The in-memory search index (marketplace/providers/index.py) against a brute-force reading of the same rows.

Whatever the batches it was built from and the changes applied since (including compaction), a search
must answer exactly what filtering, scoring and sorting the current rows one by one answers: the providers, in
order, their relevance, the services of each that matched, and the facets.
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

import marketplace.providers.index as index_module
from marketplace.providers.index import (
    CLASS_WEIGHTS,
    Filters,
    Hits,
    IndexRow,
    SearchIndex,
    ServiceRow,
    Vocabulary,
    closest_spellings,
    fold,
    query_words,
)

PATHWAYS = ["ACCOM", "ETE", "HEALTH", "FINANCE"]
AREAS = ["E1", "E2", "E3", "W1"]
COHORTS = ["adults", "women", "young"]
ACCREDITATIONS = ["aqs", "iso", "ce"]
SECTORS = ["third_sector", "public", None]
LEGAL = ["charity", "cic", "coop"]
GENDERS = ["men", "women", "both"]
COMPLEXITY = ["low", "medium", "high"]
DELIVERY = ["in_person", "outreach", "remote", "residential"]
AGES = [0, 10, 17, 18, 25, 65, 120]
COSTS = [0.0, 12.34, 50.0, 99.99, 1000.0]
WORDS = ["housing", "house", "tenancy", "mentoring", "debt", "advice", "advise", "worcester", "hereford", "rural", "ab"]
NAMES = ["Alpha Trust", "alpha trust", "Ålborg Aid", "Beta", "beta", "Zeta CIC", "Émile's", "Ömer Co"]
NAMES += ["Debt Advice", "Advice Debt", "Rural Debt Advice Trust", "Housing", "House Housing Advise", "Debt-advice"]


def codes(values: list[str], max_size: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), unique=True, max_size=max_size)


# Strategies made once: hypothesis draws thousands of values per example.
MIN_AGE = st.one_of(st.none(), st.sampled_from(AGES))
MAX_AGE_FROM = {
    low: st.one_of(st.none(), st.sampled_from([a for a in AGES if low is None or a >= low])) for low in [None, *AGES]
}
PATHWAY, GENDER = st.sampled_from(PATHWAYS), st.sampled_from(GENDERS)
COST = st.one_of(st.none(), st.sampled_from(COSTS))
CAPACITY = st.one_of(st.none(), st.sampled_from([0, 10, 50, 100, 1000]))
SERVICE_COHORTS, SERVICE_AREAS, ACCREDITED = codes(COHORTS, 2), codes(AREAS, 3), codes(ACCREDITATIONS, 2)
LEVELS, MODES, HOW_MANY = codes(COMPLEXITY, 2), codes(DELIVERY, 2), st.integers(0, 4)
NAME, STATUS = st.sampled_from(NAMES), st.sampled_from(["published", "published", "pending", "archived"])
SECTOR, LEGAL_FORM = st.sampled_from(SECTORS), st.sampled_from(LEGAL)
TEXT = st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join)


@st.composite
def service_rows(draw, sid: int) -> ServiceRow:
    low = draw(MIN_AGE)
    return ServiceRow(
        sid,
        draw(PATHWAY),
        draw(SERVICE_COHORTS),
        draw(SERVICE_AREAS),
        draw(ACCREDITED),
        draw(CAPACITY),
        low,
        draw(MAX_AGE_FROM[low]),
        draw(GENDER),
        draw(LEVELS),
        draw(MODES),
        draw(COST),
    )


@st.composite
def index_rows(draw, pid: int) -> IndexRow:
    return IndexRow(
        pid,
        draw(NAME),
        draw(STATUS),
        draw(SECTOR),
        draw(LEGAL_FORM),
        draw(ACCREDITED),
        (draw(TEXT), draw(TEXT), draw(TEXT)),
        [draw(service_rows(pid * 10 + j)) for j in range(draw(HOW_MANY))],
    )


def rows_strategy(ids: list[int]) -> st.SearchStrategy[list[IndexRow]]:
    return st.tuples(*[index_rows(i) for i in ids]).map(list)


@st.composite
def sometimes(draw, strategy: st.SearchStrategy, default=None):
    """The default two times in three: a search with every filter at once finds nothing to compare."""
    return draw(strategy) if draw(st.integers(0, 2)) == 2 else default


filters_strategy = st.builds(
    Filters,
    status=st.sampled_from(["published", "published", "pending", "archived"]),
    pathway=sometimes(st.lists(st.sampled_from([*PATHWAYS, "NOPE"]), min_size=1, max_size=2), ()),
    area=sometimes(st.lists(st.sampled_from(AREAS), min_size=1, max_size=2), ()),
    cohort=sometimes(st.lists(st.sampled_from(COHORTS), min_size=1, max_size=1), ()),
    sector=sometimes(st.lists(st.sampled_from(["third_sector", "public"]), min_size=1, max_size=1), ()),
    legal_form=sometimes(st.lists(st.sampled_from(LEGAL), min_size=1, max_size=2), ()),
    accreditation=sometimes(st.lists(st.sampled_from(ACCREDITATIONS), min_size=1, max_size=2, unique=True), ()),
    min_capacity=sometimes(st.sampled_from([0, 10, 50, 60, 1000])),
    age=sometimes(st.sampled_from(AGES)),
    gender=sometimes(st.sampled_from(GENDERS)),
    complexity=sometimes(st.lists(st.sampled_from(COMPLEXITY), min_size=1, max_size=2), ()),
    delivery_mode=sometimes(st.lists(st.sampled_from(DELIVERY), min_size=1, max_size=2), ()),
    max_cost=sometimes(st.sampled_from([0.0, 12.339, 12.34, 50.0, 99.985, 100.0, 5000.0])),
)
groups_strategy = st.one_of(
    st.none(), st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=2), min_size=1, max_size=4)
)


def meets(row: IndexRow, x: ServiceRow, f: Filters) -> bool:
    """One service against every service-level filter, and the accreditations with its organisation's."""
    return (
        (not f.pathway or x.pathway in f.pathway)
        and (not f.area or bool(set(f.area) & set(x.areas)))
        and (not f.cohort or bool(set(f.cohort) & set(x.cohorts)))
        and (f.min_capacity is None or (x.capacity is not None and x.capacity >= f.min_capacity))
        and (f.age is None or ((x.min_age is None or x.min_age <= f.age) and (x.max_age is None or f.age <= x.max_age)))
        and (f.gender is None or x.gender in (f.gender, "both"))
        and (not f.complexity or bool(set(f.complexity) & set(x.complexity)))
        and (not f.delivery_mode or bool(set(f.delivery_mode) & set(x.delivery)))
        and (f.max_cost is None or (x.cost is not None and x.cost <= f.max_cost))
        and set(f.accreditation) <= set(row.accreditations) | set(x.accreditations)
    )


def has_service_filters(f: Filters) -> bool:
    return any(
        [f.pathway, f.area, f.cohort, f.complexity, f.delivery_mode]
        + [v is not None for v in (f.min_capacity, f.age, f.gender, f.max_cost)]
    )


def reference(rows: dict[int, IndexRow], f: Filters, groups, by_relevance: bool):
    """Filter, score and sort the rows one by one: [(row, score, ids of its matched services)]."""
    out = []
    for r in rows.values():
        if r.status != f.status:
            continue
        if f.sector and r.sector not in f.sector:
            continue
        if f.legal_form and r.legal_form not in f.legal_form:
            continue
        matched = [x for x in r.services if meets(r, x, f)]
        if not matched and (has_service_filters(f) or not set(f.accreditation) <= set(r.accreditations)):
            continue  # found without a matched service only when no filter asks for one
        score = 0.0
        if groups is not None:
            bests = []
            for group in groups:
                best = max((CLASS_WEIGHTS[c] for c in range(3) for w in group if w in r.words[c].split()), default=0.0)
                bests.append(best)
            if not all(bests):
                continue
            score = round(sum(bests), 6)
        out.append((r, score, matched))
    name_order = lambda r: (fold(r.name), r.id)  # noqa: E731
    if by_relevance:
        out.sort(key=lambda x: (-x[1], *relevance_order(x[0], groups, x[1]), *name_order(x[0])))
    else:
        out.sort(key=lambda x: name_order(x[0]))
    return out


def relevance_order(r: IndexRow, groups, score: float) -> tuple[int, int]:
    """Within one relevance: when the name holds a word of every group, the name's tier (exactly the words as
    typed, each group's first word; the name word for word; the typed words adjacent in order inside it; the
    groups' words so; anywhere) and its length; else the length of the weakest class any group had to use."""
    name = query_words(r.name)
    if not groups:
        return 0, 0
    if score == round(CLASS_WEIGHTS[0] * len(groups), 6):
        typed = [group[0] for group in groups]
        g = len(groups)
        starts = range(len(name) - g + 1)
        typed_in_order = any(name[p : p + g] == typed for p in starts)
        in_order = any(all(name[p + i] in groups[i] for i in range(g)) for p in starts)
        whole = len(name) == g
        tier = (
            0
            if whole and typed_in_order
            else 1
            if whole and in_order
            else 2
            if typed_in_order
            else 3
            if in_order
            else 4
        )
        return tier, len(name)
    weakest = max(min(c for c in range(3) if any(w in r.words[c].split() for w in group)) for group in groups)
    return 5, len(name) if weakest == 0 else len(r.words[weakest].split())


def facet_reference(found: list[tuple[IndexRow, list[ServiceRow]]]) -> dict[str, dict[str, int]]:
    """Providers per pathway and area of their matched services, and per sector."""
    counts: dict[str, dict[str, int]] = {"pathway": {}, "area": {}, "sector": {}}
    for r, matched in found:
        for c in {x.pathway for x in matched}:
            counts["pathway"][c] = counts["pathway"].get(c, 0) + 1
        for c in {a for x in matched for a in x.areas}:
            counts["area"][c] = counts["area"].get(c, 0) + 1
        if r.sector is not None:
            counts["sector"][r.sector] = counts["sector"].get(r.sector, 0) + 1
    return counts


@st.composite
def histories(draw):
    n = draw(st.integers(0, 25))
    initial = draw(rows_strategy(list(range(1, n + 1))))
    cut = draw(st.integers(0, n))
    changes = []
    for _ in range(draw(st.integers(0, 3))):
        ids = draw(st.lists(st.integers(1, n + 5), unique=True, max_size=6))
        changes.append(draw(rows_strategy(ids)))
    return initial, cut, changes


@contextmanager
def tuned(dense_floor: int, layers: int, sample_rows: int = index_module._SAMPLE_ROWS):
    """Common (word, class) lists become bitmaps from DENSE_FLOOR rows: 0 makes the small test data use them.
    A provider's services after the first LAYERS spill: 1 makes the test data spill often. A relevance level is
    ranked by field length from a sample of its rows among the first _SAMPLE_ROWS: 8 makes small data sample."""
    saved = index_module.DENSE_FLOOR, index_module.LAYERS, index_module._SAMPLE_ROWS
    index_module.DENSE_FLOOR, index_module.LAYERS, index_module._SAMPLE_ROWS = dense_floor, layers, sample_rows
    try:
        yield
    finally:
        index_module.DENSE_FLOOR, index_module.LAYERS, index_module._SAMPLE_ROWS = saved


def slots_used(index: SearchIndex) -> int:
    """The services in the layers' slots of live rows and in the spill."""
    live = np.packbits(index.alive[: index.n])
    held = sum(int(np.bitwise_count(layer.present[: len(live)] & live).sum()) for layer in index._layers)
    return held + int(np.count_nonzero(index.alive[index._spill.prov[: index.ns]]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    histories(),
    filters_strategy,
    groups_strategy,
    st.booleans(),
    st.integers(0, 5),
    st.integers(1, 7),
    st.booleans(),
    st.booleans(),
    st.sampled_from([1, 2, index_module.LAYERS]),
)
def test_search_answers_what_the_rows_say(history, f, groups, relevance, offset, limit, compact, bitmaps, layers):
    initial, cut, changes = history
    small = (0, 8) if bitmaps else (index_module.DENSE_FLOOR, index_module._SAMPLE_ROWS)
    by_relevance = relevance and groups is not None
    with tuned(small[0], layers, small[1]):
        index = SearchIndex.build([initial[:cut], initial[cut:]])
        if bitmaps and any(w.strip() for r in initial for w in r.words):
            assert index._dense, "with no floor, common lists are bitmaps"
        current = {r.id: r for r in initial}
        for batch in changes:
            index.apply(batch)
            current.update({r.id: r for r in batch})
        if compact:
            index.compact()
        hits = index.search(f, groups=groups, by_relevance=by_relevance, offset=offset, limit=limit, facets=True)
    expected = reference(current, f, groups, by_relevance)
    target(float(min(len(expected), 5)), label="providers found")  # steer away from searches that find nothing
    page = expected[offset : offset + limit]
    assert hits.total == len(expected)
    assert hits.ids == [r.id for r, _, _ in page]
    if by_relevance:
        assert hits.relevance == [s for _, s, _ in page]
    assert hits.matched == [[x.id for x in matched] for _, _, matched in page]
    assert hits.facets == facet_reference([(r, matched) for r, _, matched in expected])
    assert index.live_rows() == len(current)
    assert slots_used(index) == sum(len(r.services) for r in current.values())
    assert len(index._layers) <= layers
    for status in ("published", "pending", "archived"):  # a query is read with words of its status's rows only
        held = index.vocabulary(status).held
        now = doc_words(r for r in current.values() if r.status == status)
        ever = doc_words(r for rows in (initial, *changes) for r in rows if r.status == status)
        assert now <= held <= ever
        if compact:
            assert held == now
        assert index.vocabulary(status).words == sorted(held)


def doc_words(rows) -> set[str]:
    return {w for r in rows for text in r.words for w in text.split()}


ONE_FILTER = {
    "pathway": st.lists(st.sampled_from([*PATHWAYS, "NOPE"]), min_size=1, max_size=2),
    "area": st.lists(st.sampled_from(AREAS), min_size=1, max_size=2),
    "cohort": st.lists(st.sampled_from(COHORTS), min_size=1, max_size=2),
    "accreditation": st.lists(st.sampled_from(ACCREDITATIONS), min_size=1, max_size=2, unique=True),
    "min_capacity": st.sampled_from([0, 10, 50, 60, 1000]),
    "age": st.sampled_from(AGES),
    "gender": st.sampled_from(GENDERS),
    "complexity": st.lists(st.sampled_from(COMPLEXITY), min_size=1, max_size=2),
    "delivery_mode": st.lists(st.sampled_from(DELIVERY), min_size=1, max_size=2),
    "max_cost": st.sampled_from([0.0, 12.339, 12.34, 50.0, 99.985, 100.0, 5000.0]),
}


@pytest.mark.parametrize("name", ONE_FILTER)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_each_service_filter_answers_what_the_rows_say(name, data):
    """Each filter surely present (the test above draws many at once, each seldom), with the spill in use."""
    initial, cut, changes = data.draw(histories())
    f = msgspec.structs.replace(data.draw(filters_strategy), status="published", **{name: data.draw(ONE_FILTER[name])})
    with tuned(index_module.DENSE_FLOOR, data.draw(st.sampled_from([1, index_module.LAYERS]))):
        index = SearchIndex.build([initial[:cut], initial[cut:]])
        current = {r.id: r for r in initial}
        for batch in changes:
            index.apply(batch)
            current.update({r.id: r for r in batch})
    hits = index.search(f, limit=100, facets=True)
    expected = reference(current, f, None, False)
    target(float(min(len(expected), 5)), label="providers found")
    assert (hits.total, hits.ids) == (len(expected), [r.id for r, _, _ in expected])
    assert hits.matched == [[x.id for x in matched] for _, _, matched in expected]
    assert hits.facets == facet_reference([(r, matched) for r, _, matched in expected])


def provider(pid: int, services: list[ServiceRow], **fields) -> IndexRow:
    values = {
        "name": f"P{pid}",
        "status": "published",
        "sector": None,
        "legal_form": "charity",
        "accreditations": [],
        "words": ("", "", ""),
        **fields,
    }
    return IndexRow(pid, services=services, **values)


def service(sid: int, pathway: str, areas: list[str], capacity: int | None = None, **fields) -> ServiceRow:
    values = {
        "cohorts": ["adults"],
        "accreditations": [],
        "min_age": None,
        "max_age": None,
        "gender": "both",
        "complexity": [],
        "delivery": [],
        "cost": None,
        **fields,
    }
    return ServiceRow(sid, pathway, areas=areas, capacity=capacity, **values)


def test_service_filters_hold_for_one_service_not_a_mix():
    """Accommodation elsewhere plus something else in E1 is not accommodation in E1; capacity likewise."""
    mixed = provider(1, [service(11, "ACCOM", ["E2"], 100), service(12, "ETE", ["E1"], 10)])
    single = provider(2, [service(21, "ETE", ["E2"], 5), service(22, "ACCOM", ["E1"], 60)])
    index = SearchIndex.build([[mixed, single]])
    hits = index.search(Filters(pathway=["ACCOM"], area=["E1"], min_capacity=50), facets=True)
    assert (hits.ids, hits.matched) == ([2], [[22]])
    assert hits.facets == {"pathway": {"ACCOM": 1}, "area": {"E1": 1}, "sector": {}}
    assert index.search(Filters(area=["E1"], min_capacity=50)).ids == [2]
    everything = index.search(Filters(), facets=True)
    assert everything.matched == [[11, 12], [21, 22]]
    assert everything.facets == {"pathway": {"ACCOM": 2, "ETE": 2}, "area": {"E1": 2, "E2": 2}, "sector": {}}


def test_a_provider_without_services_is_found_only_without_service_filters():
    index = SearchIndex.build([[provider(1, [], accreditations=["iso"]), provider(2, [service(21, "ACCOM", ["E1"])])]])
    assert index.search(Filters()).ids == [1, 2]
    assert index.search(Filters(accreditation=["iso"])).matched == [[]]
    assert index.search(Filters(accreditation=["iso"], area=["E1"])).ids == []
    assert index.search(Filters(age=30)).ids == [2]


def test_a_changed_service_moves_its_provider_in_and_out_of_results():
    index = SearchIndex.build([[provider(1, [service(11, "ACCOM", ["E1"], cost=80.0)])]])
    assert index.search(Filters(max_cost=80.0)).ids == [1]
    index.apply([provider(1, [service(11, "ACCOM", ["E1"], cost=80.01)])])
    assert index.search(Filters(max_cost=80.0)).ids == []
    index.apply([provider(1, [service(11, "ACCOM", ["E1"], cost=80.01), service(12, "ETE", ["E2"], cost=10.0)])])
    assert index.search(Filters(max_cost=80.0)).matched == [[12]]
    index.compact()
    assert (index.n, slots_used(index)) == (1, 2)
    assert index.search(Filters(max_cost=80.0, pathway=["ETE", "ACCOM"])).matched == [[12]]


def test_services_beyond_the_layers_spill_and_are_found_alike():
    many = [
        service(100 + j, "ACCOM" if j % 2 else "ETE", [f"E{j % 3 + 1}"], 10 * j) for j in range(index_module.LAYERS + 3)
    ]
    index = SearchIndex.build([[provider(1, many), provider(2, [service(200, "ACCOM", ["E1"], 1000)])]])
    assert index.ns == 3  # the services after the LAYERS-th
    last = many[-1]  # spilt, and the only one of the first provider's services with this capacity and area
    hits = index.search(Filters(min_capacity=last.capacity, area=last.areas), facets=True)
    assert (hits.ids, hits.matched) == ([1, 2], [[last.id], [200]])
    assert hits.facets == {"pathway": {last.pathway: 1, "ACCOM": 1}, "area": {"E1": 2}, "sector": {}}
    everything = index.search(Filters(), facets=True)
    assert everything.matched == [[x.id for x in many], [200]]
    assert everything.facets["area"] == {"E1": 2, "E2": 1, "E3": 1}
    index.apply([provider(1, many[:1])])
    index.compact()
    assert index.ns == 0 and len(index._layers) == 1
    assert index.search(Filters(min_capacity=last.capacity)).ids == [2]


@pytest.mark.parametrize("sample_rows", [8, 64])
@pytest.mark.parametrize("longest_first", [True, False])
def test_a_level_of_many_rows_ranks_by_its_shortest_fields(sample_rows, longest_first):
    """A relevance level of many rows is ranked by field length from a sample of its rows (the first
    _SAMPLE_ROWS): a page still holds the shortest fields of the whole level, ties in name order, whatever rows the
    sample holds (the longest fields; the one shortest, then lengths that repeat throughout)."""
    rng = random.Random(11)
    text = [60 - pid // 3 if longest_first else 2 if pid == 1 else rng.randrange(3, 6) for pid in range(1, 151)]
    rows = [
        provider(pid, [], name=f"N{rng.randrange(50)}", words=("", "", " ".join(["advice", *["xx"] * (k - 1)])))
        for pid, k in enumerate(text, start=1)
    ]
    rows += [provider(pid, [], words=("", "advice rural", "")) for pid in range(151, 171)]  # another level
    more = ["debt", "debt advice", "rural debt"]
    rows += [provider(pid, [], words=("", rng.choice(more), "advice")) for pid in range(171, 200)]
    changed = provider(7, [], name="N3", words=("", "", "advice xx"))
    current = {r.id: r for r in [*rows, changed]}
    with tuned(0, index_module.LAYERS, sample_rows):
        index = SearchIndex.build([rows[:100], rows[100:]])
        index.apply([changed])
        for groups in ([["xx"]], [["advice"]], [["advice"], ["debt", "rural"]], [["rural", "xx"]]):
            expected = [r.id for r, _, _ in reference(current, Filters(), groups, True)]
            for offset, limit in ((0, 1), (0, 5), (3, 20), (0, 200)):
                hits = index.search(Filters(), groups=groups, by_relevance=True, offset=offset, limit=limit)
                assert hits.ids == expected[offset : offset + limit], (groups, offset, limit)


def test_compaction_happens_when_dead_rows_pile_up():
    rows = [
        provider(i, [service(10 * i, "ACCOM", ["E1"], i)], words=("", "", "w" + str(i % 7))) for i in range(1, 1501)
    ]
    index = SearchIndex.build([rows])
    for _ in range(2):
        index.apply(rows)
    assert index.dead < 1000  # compacted on the way
    assert slots_used(index) == len(rows) and index.n < 2 * len(rows)  # dead rows' services went with them
    hits = index.search(Filters(), groups=[["w3"]], limit=1000)
    assert hits.total == len([r for r in rows if r.words[2] == "w3"])
    hits = index.search(Filters(min_capacity=1400), limit=1000)
    assert hits.ids == list(range(1400, 1501))
    assert all(m == [10 * i] for i, m in zip(hits.ids, hits.matched, strict=True))


def test_expand_corrects_typos_and_completes_known_words():
    rows = [provider(1, [], words=("", "", "accommodation housing house householder"))]
    index = SearchIndex.build([rows])
    assert index.expand("acommodation Hous") == [("acommodation", ["accommodation"]), ("hous", ["house"])]
    assert index.expand("house")[0][1] == ["house", "householder"]
    assert index.expand("zzqxjv") == [("zzqxjv", [])]
    assert index.expand("Café, x") == [("cafe", [])]


@pytest.mark.parametrize("bulk", [True, False])
def test_a_query_is_read_with_the_words_of_the_profiles_of_its_status_only(bulk):
    """An anonymous search reads published profiles: a word only a pending profile holds is no correction nor
    completion for it (it would spell the unpublished profile out), until that profile is published."""
    seen = provider(1, [], name="Housing Trust", words=("housing trust", "", "tenancy vortex"))
    hidden = provider(
        2, [], name="Quixotrellian Homes", status="pending", words=("homes quixotrellian", "", "vortexian")
    )
    index = SearchIndex.build([[seen, hidden]]) if bulk else SearchIndex.build([[seen]])
    if not bulk:
        index.apply([hidden])
    published, pending = Filters(), Filters(status="pending")
    assert index.expand("Quixotrelian") == [("quixotrelian", [])]
    assert index.expand("vortexin") == [("vortexin", ["vortex"])]  # the published word nearest, not the pending
    assert index.expand("vortex") == [("vortex", ["vortex"])]  # no completion to it either
    assert index.query(published, "quixotrelian") == (Hits(total=0, ids=[], relevance=None, facets=None), [[]])
    assert index.query(published, "vortexin")[0].ids == [1]
    assert index.expand("Quixotrelian", "pending") == [("quixotrelian", ["quixotrellian"])]  # staff may search those
    assert index.query(pending, "vortexin")[0].ids == [2]
    assert index.similar_names(["Quixotrellian Homes"]) == []

    index.apply([msgspec.structs.replace(hidden, status="published")])
    assert index.expand("Quixotrelian") == [("quixotrelian", ["quixotrellian"])]
    assert index.expand("vortexin") == [("vortexin", ["vortexian"])]
    assert index.query(published, "vortexin")[0].ids == [2]
    assert index.expand("vortex") == [("vortex", ["vortex", "vortexian"])]
    assert index.vocabulary("pending").held == {"homes", "quixotrellian", "vortexian"}  # until compacted
    index.compact()
    assert index.vocabulary("pending").held == set()
    assert index.vocabulary("published").held == {"housing", "trust", "tenancy", "vortex", "homes"} | {
        "quixotrellian",
        "vortexian",
    }


def test_every_gender_a_service_may_state_is_known():
    from typing import get_args

    from marketplace.providers.models import Gender

    assert set(get_args(Gender)) == set(index_module.GENDERS)


@pytest.mark.parametrize(
    ("token", "words", "expected"),
    [
        ("acommodation", ["accommodation", "accommodate"], ["accommodation"]),
        ("mentorign", ["mentoring", "mentor"], ["mentoring"]),
        ("abc", ["xyz"], []),
    ],
)
def test_closest_spellings(token, words, expected):
    assert closest_spellings(token, words) == expected


def test_a_vocabulary_corrects_a_typo_to_the_closest_of_all_its_words_even_those_added_since():
    """`Vocabulary.closest` compares with rapidfuzz only the words whose letters are near enough the typo's (letter
    sets made as a typo first needs them): it answers what comparing every word answers, also for words added after
    the letter sets were made (as `SearchIndex.apply` adds them)."""
    rng = random.Random(3)
    words = ["".join(rng.choice("aeiorstnlcdmuhg") for _ in range(rng.randint(2, 12))) for _ in range(4000)]
    typos = [w[:i] + w[i + 1 :] for w in words[:300] for i in (len(w) // 2,)]
    typos += [w[:-1] + "q" for w in words[300:500]] + ["xyzzy", "ab", "cafés", "mentorign", "accomodation"]
    vocab = Vocabulary()
    for w in words[:3000]:
        vocab.add(w)
    for tok in typos:
        assert vocab.closest(tok) == closest_spellings(tok, list(vocab.held)), tok
    assert any(len(sets) for sets in vocab.letters.values()), "long lists of a length go through letter sets"
    for w in [*words[3000:], "mentoring", "accommodation"]:
        vocab.add(w, keep_sorted=True)
    for tok in typos:
        assert vocab.closest(tok) == closest_spellings(tok, list(vocab.held)), tok
    assert vocab.closest("accomodation") == ["accommodation"]

    rows = [provider(i, [], words=("", "", " ".join(words[i * 40 : i * 40 + 40]))) for i in range(75)]
    index = SearchIndex.build([rows])
    assert index.expand("mentorign") == [("mentorign", closest_spellings("mentorign", words[:3000]))]
    index.apply([provider(99, [], words=("", "", "mentoring"))])
    assert index.expand("mentorign") == [("mentorign", ["mentoring"])]
    assert index.query(Filters(), "mentorign")[0].ids == [99]
