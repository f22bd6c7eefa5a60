"""The in-memory search index (marketplace/providers/index.py) against a brute-force reading of the same rows.

Whatever the batches it was built from and the changes applied since (including compaction), a search
must answer exactly what filtering, scoring and sorting the current rows one by one answers.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import marketplace.providers.index as index_module
from marketplace.providers.index import CLASS_WEIGHTS, Filters, IndexRow, SearchIndex, closest_spellings, fold

PATHWAYS = ["ACCOM", "ETE", "HEALTH", "FINANCE"]
AREAS = ["E1", "E2", "E3", "W1"]
COHORTS = ["adults", "women", "young"]
ACCREDITATIONS = ["aqs", "iso", "ce"]
SECTORS = ["third_sector", "public", None]
LEGAL = ["charity", "cic", "coop"]
WORDS = ["housing", "house", "tenancy", "mentoring", "debt", "advice", "advise", "worcester", "hereford", "rural", "ab"]
NAMES = ["Alpha Trust", "alpha trust", "Ålborg Aid", "Beta", "beta", "Zeta CIC", "Émile's", "Ömer Co"]


def rows_strategy(ids: list[int]) -> st.SearchStrategy[list[IndexRow]]:
    def one(pid: int) -> st.SearchStrategy[IndexRow]:
        words = st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join)
        return st.builds(
            IndexRow,
            st.just(pid),
            st.sampled_from(NAMES),
            st.sampled_from(["published", "published", "pending", "archived"]),
            st.sampled_from(SECTORS),
            st.sampled_from(LEGAL),
            st.one_of(st.none(), st.integers(0, 1000)),
            st.lists(st.sampled_from(PATHWAYS), unique=True, max_size=3),
            st.lists(st.sampled_from(COHORTS), unique=True, max_size=2),
            st.lists(st.sampled_from(AREAS), unique=True, max_size=3),
            st.lists(st.sampled_from(ACCREDITATIONS), unique=True, max_size=2),
            st.tuples(words, words, words),
        )

    return st.tuples(*[one(i) for i in ids]).map(list)


filters_strategy = st.builds(
    Filters,
    status=st.sampled_from(["published", "pending", "archived"]),
    pathway=st.lists(st.sampled_from(PATHWAYS), max_size=2),
    area=st.lists(st.sampled_from(AREAS), max_size=2),
    cohort=st.lists(st.sampled_from(COHORTS), max_size=1),
    sector=st.lists(st.sampled_from(["third_sector", "public"]), max_size=1),
    legal_form=st.lists(st.sampled_from(LEGAL), max_size=2),
    accreditation=st.lists(st.sampled_from(ACCREDITATIONS), max_size=2, unique=True),
    min_capacity=st.one_of(st.none(), st.integers(0, 1000)),
)
groups_strategy = st.one_of(
    st.none(), st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=2), min_size=1, max_size=2)
)


def reference(rows: dict[int, IndexRow], f: Filters, groups, by_relevance: bool):
    """Filter, score and sort the rows one by one."""
    out = []
    for r in rows.values():
        if r.status != f.status:
            continue
        if f.pathway and not set(f.pathway) & set(r.pathways):
            continue
        if f.area and not set(f.area) & set(r.areas):
            continue
        if f.cohort and not set(f.cohort) & set(r.cohorts):
            continue
        if not set(f.accreditation) <= set(r.accreditations):
            continue
        if f.sector and r.sector not in f.sector:
            continue
        if f.legal_form and r.legal_form not in f.legal_form:
            continue
        if f.min_capacity is not None and (r.capacity is None or r.capacity < f.min_capacity):
            continue
        score = 0.0
        if groups is not None:
            bests = []
            for group in groups:
                best = max((CLASS_WEIGHTS[c] for c in range(3) for w in group if w in r.words[c].split()), default=0.0)
                bests.append(best)
            if not all(bests):
                continue
            score = round(sum(bests), 6)
        out.append((r, score))
    name_order = lambda r: (fold(r.name), r.id)  # noqa: E731
    if by_relevance:
        out.sort(key=lambda x: (-x[1], name_order(x[0])))
    else:
        out.sort(key=lambda x: name_order(x[0]))
    return out


def facet_reference(matched: list[IndexRow]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {"pathway": {}, "area": {}, "sector": {}}
    for r in matched:
        for c in r.pathways:
            counts["pathway"][c] = counts["pathway"].get(c, 0) + 1
        for c in r.areas:
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
def dense_floor(value: int):
    """Common (word, class) lists become bitmaps from DENSE_FLOOR rows: 0 makes the small test data use them."""
    saved = index_module.DENSE_FLOOR
    index_module.DENSE_FLOOR = value
    try:
        yield
    finally:
        index_module.DENSE_FLOOR = saved


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    histories(),
    filters_strategy,
    groups_strategy,
    st.booleans(),
    st.integers(0, 5),
    st.integers(1, 7),
    st.booleans(),
    st.booleans(),
)
def test_search_answers_what_the_rows_say(history, f, groups, relevance, offset, limit, compact, bitmaps):
    initial, cut, changes = history
    with dense_floor(0 if bitmaps else index_module.DENSE_FLOOR):
        index = SearchIndex.build([initial[:cut], initial[cut:]])
        if bitmaps and any(w.strip() for r in initial for w in r.words):
            assert index._dense, "with no floor, common lists are bitmaps"
        current = {r.id: r for r in initial}
        for batch in changes:
            index.apply(batch)
            current.update({r.id: r for r in batch})
        if compact:
            index.compact()
    by_relevance = relevance and groups is not None
    hits = index.search(f, groups=groups, by_relevance=by_relevance, offset=offset, limit=limit, facets=True)
    expected = reference(current, f, groups, by_relevance)
    assert hits.total == len(expected)
    assert hits.ids == [r.id for r, _ in expected[offset : offset + limit]]
    if by_relevance:
        assert hits.relevance == [s for _, s in expected[offset : offset + limit]]
    want = dict(facet_reference([r for r, _ in expected]))
    assert hits.facets == want
    assert index.live_rows() == len(current)


def test_compaction_happens_when_dead_rows_pile_up():
    rows = [
        IndexRow(i, f"P{i}", "published", None, "charity", None, [], [], [], [], ("", "", "w" + str(i % 7)))
        for i in range(1, 1501)
    ]
    index = SearchIndex.build([rows])
    for _ in range(2):
        index.apply(rows)
    assert index.dead < 1000  # compacted on the way
    hits = index.search(Filters(), groups=[["w3"]], limit=1000)
    assert hits.total == len([r for r in rows if r.words[2] == "w3"])


def test_expand_corrects_typos_and_completes_known_words():
    rows = [
        IndexRow(
            1,
            "A",
            "published",
            None,
            "charity",
            None,
            [],
            [],
            [],
            [],
            ("", "", "accommodation housing house householder"),
        )
    ]
    index = SearchIndex.build([rows])
    assert index.expand("acommodation Hous") == [("acommodation", ["accommodation"]), ("hous", ["house"])]
    assert index.expand("house")[0][1] == ["house", "householder"]
    assert index.expand("zzqxjv") == [("zzqxjv", [])]
    assert index.expand("Café, x") == [("cafe", [])]


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
