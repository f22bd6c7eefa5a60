"""Compact pools (matching.compact): ranking them, merged or with rows replaced, gives exactly what ranking the
candidates themselves gives; directory mode equals ranking only the candidates offering the pathway in the areas."""

from __future__ import annotations

import matching_factories as f
import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_matching_properties import SETTINGS, TREE, any_needs, candidate_lists, candidates

from matching import (
    EXCLUSION_CODES,
    Candidate,
    CandidatePool,
    CompactPool,
    MatchingError,
    Need,
    Ranking,
    Shortlist,
    compact,
    rank,
    shortlist,
)
from matching.compact import PackedNames
from matching.needs import compile_need
from matching.screening import screen, screen_directory


def encode(x: object) -> bytes:
    return msgspec.json.encode(x)


def ranked_from_pool(
    need: Need, pool: CompactPool, details: list[Candidate], *, directory: bool = False, limit: int | None = 5
) -> tuple[bytes, Shortlist]:
    short = shortlist(need, pool, areas=TREE, as_of=f.AS_OF, limit=limit, excluded_limit=4, directory=directory)
    by_id = {c.provider_id: c for c in details}
    return encode(short.explain({pid: by_id[pid] for pid in short.provider_ids})), short


def set_bits(mask: np.ndarray) -> set[tuple[int, int]]:
    """(row, area node) of every bit set in an area mask of shape (words, rows)."""
    return {
        (row, k) for k in range(len(TREE)) for row in np.flatnonzero(mask[k >> 6] >> np.uint64(k & 63) & np.uint64(1))
    }


def offering(need: Need, cands: list[Candidate]) -> list[Candidate]:
    """What the SQL pre-filter passes: a service in the pathway covering an area in, above or below the need's."""
    related: set[str] = set()
    for a in need.areas:
        related.update(TREE.codes[TREE.index(a) : TREE.index(a) + int(TREE.sizes[TREE.index(a)])])
        related.update(TREE.code(k) for k in TREE.ancestor_indices(TREE.index(a)))
    return [c for c in cands if any(s.pathway == need.pathway and not related.isdisjoint(s.areas) for s in c.services)]


def some_writes(data: st.DataObject, cands: list[Candidate]) -> tuple[list[int], list[Candidate], list[Candidate]]:
    """What a writer does to the directory ``cands``: providers removed (ids), changed (new versions), added."""
    ids = [c.provider_id for c in cands]
    removed = data.draw(st.lists(st.sampled_from(ids), unique=True) if ids else st.just([]))
    changed = [
        msgspec.structs.replace(data.draw(candidates(provider_id=pid)), provider_id=pid)
        for pid in data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=3) if ids else st.just([]))
    ]
    added = [data.draw(candidates(provider_id=1000 + k)) for k in range(data.draw(st.integers(0, 3)))]
    return removed, changed, added


@SETTINGS
@given(need=any_needs, cands=candidate_lists(), limit=st.sampled_from([None, 0, 1, 3, 50]))
def test_a_compact_pool_ranks_like_the_candidates(need: Need, cands: list[Candidate], limit: int | None) -> None:
    expected = encode(rank(need, cands, areas=TREE, as_of=f.AS_OF, limit=limit, excluded_limit=4))
    got, _ = ranked_from_pool(need, compact.build_compact(cands, TREE), cands, limit=limit)
    assert got == expected


@SETTINGS
@given(need=any_needs, first=candidate_lists(), second=candidate_lists(), data=st.data())
def test_merged_and_replaced_pools_rank_like_a_fresh_build(
    need: Need, first: list[Candidate], second: list[Candidate], data: st.DataObject
) -> None:
    second = [msgspec.structs.replace(c, provider_id=c.provider_id + 100) for c in second]
    merged = compact.concat([compact.build_compact(first, TREE), compact.build_compact(second, TREE)], TREE)
    everyone = first + second
    expected = encode(rank(need, everyone, areas=TREE, as_of=f.AS_OF, limit=5, excluded_limit=4))
    assert ranked_from_pool(need, merged, everyone)[0] == expected
    # a writer changes some providers, removes others, adds new ones
    removed, changed, added = some_writes(data, everyone)
    after = compact.replace_rows(merged, removed + [c.provider_id for c in changed], changed + added)
    now = {c.provider_id: c for c in everyone if c.provider_id not in removed}
    now.update({c.provider_id: c for c in changed + added})
    expected = encode(rank(need, list(now.values()), areas=TREE, as_of=f.AS_OF, limit=5, excluded_limit=4))
    assert ranked_from_pool(need, after, list(now.values()))[0] == expected
    assert sorted(after.provider_id.tolist()) == sorted(now)


@SETTINGS
@given(need=any_needs, cands=candidate_lists())
def test_directory_mode_assesses_only_the_candidates_offering_the_pathway_in_the_areas(
    need: Need, cands: list[Candidate]
) -> None:
    assessed = offering(need, cands)
    expected = encode(rank(need, assessed, areas=TREE, as_of=f.AS_OF, limit=5, excluded_limit=4))
    got, short = ranked_from_pool(need, compact.build_compact(cands, TREE), cands, directory=True)
    assert got == expected
    counts = short.directory
    assert counts is not None and counts.directory_size == len(cands)
    by_reason = counts.excluded_by_reason
    assert by_reason["pathway_not_offered"] == sum(
        1 for c in cands if all(s.pathway != need.pathway for s in c.services)
    )
    not_assessed = {c.provider_id for c in cands} - {c.provider_id for c in assessed}
    assert by_reason["pathway_not_offered"] + by_reason["no_area_coverage"] >= len(not_assessed)
    # complete counts: the pathway and area checks over the whole directory (as if every provider had been
    # assessed), the others over the providers assessed (as in the ranking)
    everyone = rank(need, cands, areas=TREE, as_of=f.AS_OF, limit=0, excluded_limit=0)
    ranking = msgspec.json.decode(got, type=Ranking)
    assert list(by_reason) == list(EXCLUSION_CODES)
    for code in ("pathway_not_offered", "no_area_coverage"):
        assert by_reason[code] == everyone.excluded_by_reason[code]
    for code in ("age_range_not_served", "gender_not_served", "missing_accreditation", "insufficient_experience"):
        assert by_reason[code] == ranking.excluded_by_reason[code]
    assert counts.excluded_count == counts.directory_size - ranking.eligible_count == everyone.excluded_count


def test_explaining_a_compact_pool_needs_matching_details() -> None:
    cands = [f.candidate(1, name="Alpha"), f.candidate(2, name="Beta")]
    need = f.need()
    short = shortlist(need, compact.build_compact(cands, TREE), areas=TREE, as_of=f.AS_OF, limit=2)
    assert short.provider_ids
    with pytest.raises(MatchingError, match="no details"):
        short.explain({})
    wrong = {c.provider_id: msgspec.structs.replace(c, name="Someone else") for c in cands}
    with pytest.raises(MatchingError, match="do not describe"):
        short.explain(wrong)
    # a full pool explains from its own candidates
    full = shortlist(need, CandidatePool.build(cands, TREE), areas=TREE, as_of=f.AS_OF, limit=2)
    assert encode(full.explain()) == encode(short.explain({c.provider_id: c for c in cands}))


def test_a_compact_pool_keeps_no_text_and_narrow_columns() -> None:
    cands = [f.candidate(k, name=f"Provider é{k}") for k in range(1, 40)]
    pool = compact.build_compact(cands, TREE)
    assert isinstance(pool, CompactPool) and not hasattr(pool, "candidates") and not hasattr(pool, "descriptions")
    assert isinstance(pool.names, PackedNames) and list(pool.names) == [c.name for c in cands]
    assert pool.words.words.dtype == np.uint16
    svc = pool.columns.services
    assert svc.years.dtype == np.float32 and svc.areas.owner.dtype == np.int32 and svc.owner.dtype == np.int32
    assert svc.pathway.dtype == np.int8 and svc.cohort_mask.dtype == np.uint8 and svc.capacity.dtype == np.float32
    taken = compact.take_rows(pool, np.array([0, 5, 38]))
    assert list(taken.names) == [cands[0].name, cands[5].name, cands[38].name]
    for p in (pool, taken):  # offsets as int32 (they fit)
        cols = p.columns
        offsets = [cols.services.offsets, cols.services.areas.offsets, cols.accreditations.offsets, p.words.offsets]
        assert {o.dtype for o in [*offsets, p.names.offsets]} == {np.dtype(np.int32)}
    assert PackedNames.of(["a", "bé", ""])[-2] == "bé"


def test_directory_counts_are_complete() -> None:
    need = f.need(required_accreditations=("iso_9001",), min_years_experience=5)
    cands = [
        f.candidate(1, name="Eligible"),
        f.candidate(2, name="Other pathway", service_changes={"pathway": "ETE"}),
        f.candidate(3, name="Elsewhere", service_changes={"areas": (f.BIRMINGHAM,)}),
        f.candidate(4, name="Neither", service_changes={"areas": (f.BIRMINGHAM,), "pathway": "ETE"}),
        f.candidate(5, name="Unaccredited", accreditations=()),
        f.candidate(6, name="New", accreditations=(), service_changes={"years_experience": 1}),
        f.candidate(7, name="Eligible too"),
    ]
    for pool in (compact.build_compact(cands, TREE), CandidatePool.build(cands, TREE)):
        short = shortlist(need, pool, areas=TREE, as_of=f.AS_OF, limit=5, directory=True)
        ranking = short.explain({c.provider_id: c for c in cands})
        assert (ranking.candidate_count, ranking.eligible_count, ranking.excluded_count) == (4, 2, 2)
        assert ranking.excluded_by_reason == {
            "pathway_not_offered": 0,
            "age_range_not_served": 0,
            "gender_not_served": 0,
            "no_area_coverage": 0,
            "missing_accreditation": 2,
            "insufficient_experience": 1,
        }
        counts = short.directory
        assert counts is not None
        assert (counts.directory_size, counts.excluded_count) == (7, 5)
        assert dict(counts.excluded_by_reason) == {
            "pathway_not_offered": 2,
            "age_range_not_served": 0,
            "gender_not_served": 0,
            "no_area_coverage": 2,
            "missing_accreditation": 2,
            "insufficient_experience": 1,
        }
    assert shortlist(need, cands, areas=TREE, as_of=f.AS_OF).directory is None


@SETTINGS
@given(names=st.lists(st.text(max_size=12), min_size=1, max_size=30))
def test_name_prefix_keys_order_as_the_names_do(names: list[str]) -> None:
    """A compact pool orders its excluded providers by name through the names' first bytes, so a smaller key
    must mean a smaller name (and equal names equal keys)."""
    packed = PackedNames.of(names)
    keys = packed.prefix_keys(np.arange(len(names), dtype=np.int64)).tolist()
    for a, ka in zip(names, keys, strict=True):
        for b, kb in zip(names, keys, strict=True):
            if ka < kb:
                assert a < b
            if a == b:
                assert ka == kb


def test_the_first_excluded_by_name_are_found_among_many() -> None:
    names = [f"Org {k % 7:02d} {'é' * (k % 3)}{k}" for k in range(300)]
    cands = [f.candidate(k + 1, name=name, service_changes={"pathway": "ETE"}) for k, name in enumerate(names)]
    for limit in (1, 5, 40):
        short = shortlist(f.need(), compact.build_compact(cands, TREE), areas=TREE, as_of=f.AS_OF, excluded_limit=limit)
        listed = [(e.name, e.provider_id) for e in short.explain({}).excluded]
        assert listed == sorted((c.name, c.provider_id) for c in cands)[:limit]


def test_word_indices_merge_the_same_in_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    first = [f.candidate(k, name=f"First {k}") for k in range(1, 30)]
    second = [
        f.candidate(
            100 + k, name=f"Second {k}", resources_text=f"word{k} hostel", service_changes={"description": f"word{k} x"}
        )
        for k in range(1, 9)
    ]
    pool = compact.concat([compact.build_compact(first, TREE), compact.build_compact(second, TREE)], TREE)
    whole = compact.replace_rows(pool, [3, 7, 104], second[:2])
    monkeypatch.setattr(compact, "_WORDS_CHUNK", 3)
    chunked = compact.replace_rows(pool, [3, 7, 104], second[:2])
    assert len(whole.words.words) > 3 * 3  # several chunks
    for a, b in zip(whole.words, chunked.words, strict=True):
        assert (list(a) == list(b)) if isinstance(a, list) else np.array_equal(a, b)
    assert chunked.provider_id.tolist() == whole.provider_id.tolist()


@SETTINGS
@given(need=any_needs, first=candidate_lists(), second=candidate_lists(), data=st.data())
def test_screening_a_directory_reads_only_the_pathway_and_agrees_with_screening_everyone(
    need: Need, first: list[Candidate], second: list[Candidate], data: st.DataObject
) -> None:
    """``screen_directory`` (the candidates offering the pathway, counts for the rest from the area masks) gives
    what screening every candidate and then setting aside those outside the scope gives, on a fresh pool, a
    merged one and one with rows replaced and taken (the area masks follow the rows)."""
    second = [msgspec.structs.replace(c, provider_id=c.provider_id + 100) for c in second]
    merged = compact.concat([compact.build_compact(first, TREE), compact.build_compact(second, TREE)], TREE)
    ids = merged.provider_id.tolist()
    removed = data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=4) if ids else st.just([]))
    added = [data.draw(candidates(provider_id=1000 + k)) for k in range(data.draw(st.integers(0, 3)))]
    replaced = compact.replace_rows(merged, removed, added)
    taken = compact.take_rows(replaced, np.arange(0, len(replaced), 2))
    cn = compile_need(need, TREE)
    for pool in (compact.build_compact(first, TREE), merged, replaced, taken):
        svc = pool.columns.services
        for code, p in svc.pathway_ids.items():  # the pathway index and the area masks follow the rows
            assert np.array_equal(svc.rows_in(code), np.flatnonzero(svc.pathway == p))
        listed = {(int(o), int(k)) for o, k in zip(svc.areas.owner, svc.areas.item, strict=True)}
        assert {
            (s, k) for s in range(len(svc)) for k in range(len(TREE)) if svc.area_mask[k >> 6, s] >> k & 1
        } == listed
        owners = svc.owner.tolist()
        rows_mask = pool.columns.area_mask
        assert {(i, k) for i in range(len(pool)) for k in range(len(TREE)) if rows_mask[k >> 6, i] >> k & 1} == {
            (owners[s], k) for s, k in listed
        }
        expected, outside, by_reason = screen(pool.columns, cn).outside_directory_scope()
        got, got_outside, got_by_reason = screen_directory(pool.columns, cn)
        assert (got_outside, got_by_reason) == (outside, by_reason)
        scope = expected.scope
        assert np.array_equal(got.scope, scope)
        assert np.array_equal(got.eligible, expected.eligible)
        assert np.array_equal(got.fail_bits, expected.fail_bits)
        assert np.array_equal(got.qualifying, expected.qualifying)
        assert np.array_equal(got.touching, expected.touching)
        for name in ("years", "missing_mask"):  # read for the candidates in scope only
            assert np.array_equal(getattr(got, name)[scope], getattr(expected, name)[scope]), name
