"""A directory ranked in parts (matching.parts): the merged ranking is the one pool's, byte for byte."""

from __future__ import annotations

import itertools

import matching_factories as f
import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_matching_compact import encode, ranked_from_pool, some_writes
from test_matching_properties import SETTINGS, TREE, any_needs, candidate_lists

import matching.ranking
from matching import Candidate, CompactPool, MatchingError, Need, compact, shortlist
from matching.parts import Part, deal, gather, merge, route


def ranked_in_parts(
    need: Need, parts: tuple[CompactPool, ...], details: list[Candidate], limit: int | None
) -> tuple[bytes, matching.DirectoryCounts | None]:
    """Each part shortlisted alone, reduced to a Part sent as msgpack (as between processes), merged, each
    part explaining its own shown providers at their ranks in the whole."""
    shorts = [
        shortlist(need, p, areas=TREE, as_of=f.AS_OF, limit=limit, excluded_limit=4, directory=True) for p in parts
    ]
    sent = [msgspec.msgpack.decode(msgspec.msgpack.encode(s.part()), type=Part) for s in shorts]
    merged = merge(sent, limit, 4)
    by_id = {c.provider_id: c for c in details}
    explained = {}
    for k, s in enumerate(shorts):
        shown = merged.shown(k)
        ids = {s.provider_ids[at] for at, _ in shown}
        for sc in s.explaining().explain_at({pid: by_id[pid] for pid in ids}, shown):
            explained[sc.rank] = sc
    scored = [explained[r] for r in range(1, len(merged.order) + 1)]
    return encode(shorts[-1].explaining().merged(merged, scored)), merged.directory


def same_counts(got: matching.DirectoryCounts | None, expected: matching.DirectoryCounts | None) -> None:
    assert got is not None and expected is not None
    assert (got.directory_size, got.excluded_count) == (expected.directory_size, expected.excluded_count)
    assert list(got.excluded_by_reason.items()) == list(expected.excluded_by_reason.items())


def chunked(cands: list[Candidate], cuts: list[int]) -> list[list[Candidate]]:
    bounds = [0, *sorted(min(c, len(cands)) for c in cuts), len(cands)]
    return [cands[a:b] for a, b in itertools.pairwise(bounds)]


@SETTINGS
@given(
    need=any_needs,
    cands=candidate_lists(),
    cuts=st.lists(st.integers(0, 12), max_size=4),
    n=st.integers(1, 3),
    limit=st.sampled_from([None, 0, 1, 3, 50]),
    bound_every_time=st.booleans(),
    data=st.data(),
)
def test_a_directory_ranked_in_parts_ranks_as_one_pool(
    need: Need,
    cands: list[Candidate],
    cuts: list[int],
    n: int,
    limit: int | None,
    bound_every_time: bool,
    data: st.DataObject,
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        if bound_every_time:  # the parts bound their candidates (_could_be_shown) even when few are eligible
            mp.setattr(matching.ranking, "BOUND_ABOVE", 1)
        chunks = chunked(cands, cuts)
        whole = compact.concat([compact.build_compact(c, TREE) for c in chunks], TREE)
        parts = gather([deal(c, TREE, n) for c in chunks], TREE)
        assert len(parts) == n and sorted(x for p in parts for x in p.provider_id.tolist()) == sorted(
            c.provider_id for c in cands
        )
        expected, short = ranked_from_pool(need, whole, cands, directory=True, limit=limit)
        got, directory = ranked_in_parts(need, parts, cands, limit)
        assert got == expected
        same_counts(directory, short.directory)

        # a writer changes some providers, unpublishes others, adds new ones: each part replaces the rows `route`
        # gives it, and the parts still rank as the whole does
        removed, changed, added = some_writes(data, cands)
        written = removed + [c.provider_id for c in changed + added]
        fresh = changed + added
        routed = route(parts, fresh)
        assert sorted(c.provider_id for r in routed for c in r) == sorted(c.provider_id for c in fresh)
        parts = tuple(compact.replace_rows(p, written, r) for p, r in zip(parts, routed, strict=True))
        now = {c.provider_id: c for c in cands if c.provider_id not in removed}
        now.update({c.provider_id: c for c in fresh})
        fresh_build = compact.build_compact(list(now.values()), TREE)
        expected, _ = ranked_from_pool(need, fresh_build, list(now.values()), directory=True)
        got, _ = ranked_in_parts(need, parts, list(now.values()), 5)
        assert got == expected
        assert sorted(x for p in parts for x in p.provider_id.tolist()) == sorted(now)


@SETTINGS
@given(need=any_needs, cands=candidate_lists(), n=st.integers(1, 3), rounds=st.integers(1, 3), data=st.data())
def test_parts_that_withdraw_written_rows_beside_a_pool_of_new_versions_rank_as_the_rebuilt_whole(
    need: Need, cands: list[Candidate], n: int, rounds: int, data: st.DataObject
) -> None:
    """The server's way with writes (marketplace.exercises.pools): each part withdraws the written providers' rows,
    keeping every column it had (a forked process keeps sharing them), and their new versions are a pool of their
    own, replaced write after write: the same ranking, the same counts, as the directory rebuilt; and so after the
    parts are rebuilt, the new versions in the first and no row withdrawn."""
    loaded = parts = deal(cands, TREE, n)
    extra = compact.empty(TREE)
    now = {c.provider_id: c for c in cands}
    for _ in range(rounds):
        removed, changed, added = some_writes(data, list(now.values()))
        fresh = changed + [c for c in added if c.provider_id not in now]  # added: new ids (1000.. may be taken)
        written = removed + [c.provider_id for c in fresh]
        parts = tuple(compact.withdraw(p, written) for p in parts)
        extra = compact.replace_rows(extra, written, fresh)
        for pid in removed:
            del now[pid]
        now.update({c.provider_id: c for c in fresh})
        expected, short = ranked_from_pool(
            need, compact.build_compact(list(now.values()), TREE), list(now.values()), directory=True
        )
        got, directory = ranked_in_parts(need, (*parts, extra), list(now.values()), 5)
        assert got == expected
        same_counts(directory, short.directory)
        assert all(p.columns is q.columns and p.words is q.words for p, q in zip(parts, loaded, strict=True))
        assert sum(p.live_count for p in parts) + len(extra) == len(now)
    rebuilt = (compact.concat([parts[0], extra], TREE), *(compact.replace_rows(p, [], ()) for p in parts[1:]))
    assert all(p.withdrawn is None for p in rebuilt)
    assert sorted(x for p in rebuilt for x in p.provider_id.tolist()) == sorted(now)
    got, directory = ranked_in_parts(need, rebuilt, list(now.values()), 5)
    assert got == expected
    same_counts(directory, short.directory)


def test_a_changed_provider_stays_in_its_part_and_a_new_one_joins_the_smallest() -> None:
    cands = [f.candidate(k, name=f"Provider {k}") for k in range(1, 6)]
    parts = deal(cands, TREE, 2)  # 1, 3, 5 | 2, 4
    assert [p.provider_id.tolist() for p in parts] == [[1, 3, 5], [2, 4]]
    routed = route(parts, [f.candidate(4, name="Changed"), f.candidate(9), f.candidate(10), f.candidate(3)])
    assert [[c.provider_id for c in r] for r in routed] == [[10, 3], [4, 9]]


def test_chunks_dealt_alike_gather_part_by_part() -> None:
    cands = [f.candidate(k, name=f"Provider {k}") for k in range(1, 8)]
    parts = gather([deal(cands[:4], TREE, 2), deal(cands[4:], TREE, 2)], TREE)
    assert [p.provider_id.tolist() for p in parts] == [[1, 3, 5, 7], [2, 4, 6]]
    with pytest.raises(MatchingError):
        deal(cands, TREE, 0)


def test_merging_needs_parts_counting_the_same_codes() -> None:
    part = Part((), (), (), 0, 0, 0, {"a": 1}, (), None)
    with pytest.raises(MatchingError):
        merge([], 5, 5)
    with pytest.raises(MatchingError):
        merge([part, Part((), (), (), 0, 0, 0, {"b": 1}, (), None)], 5, 5)
    assert merge([part, part], 5, 5).counts["excluded_by_reason"] == {"a": 2}


def test_a_pool_with_withdrawn_rows_ranks_only_as_a_directory() -> None:
    cands = [f.candidate(k, name=f"Provider {k}") for k in range(1, 6)]
    pool = compact.build_compact(cands, TREE)
    assert compact.withdraw(pool, [99]) is pool  # nobody withdrawn: the same pool
    less = compact.withdraw(pool, [2, 4, 99])
    assert less.live_count == 3 and len(less) == 5 and less.live_rows().tolist() == [0, 2, 4]
    assert compact.withdraw(less, [1]).live_rows().tolist() == [2, 4] and less.live_count == 3  # less unchanged
    assert compact.take_rows(less, np.arange(5)).provider_id.tolist() == [1, 3, 5]  # what is withdrawn stays out
    # routed by the rows in the directory: a withdrawn provider's new version, and a new one, join the smallest
    halves = deal(cands, TREE, 2)  # 1, 3, 5 | 2, 4
    halves = (halves[0], compact.withdraw(halves[1], [2, 4]))
    assert [[c.provider_id for c in r] for r in route(halves, [f.candidate(4), f.candidate(9)])] == [[], [4, 9]]
    need = f.need()
    with pytest.raises(MatchingError, match="directory only"):
        shortlist(need, less, areas=TREE, as_of=f.AS_OF)
    assert shortlist(need, pool, areas=TREE, as_of=f.AS_OF, directory=True).provider_ids == (1, 2, 3, 4, 5)
    short = shortlist(need, less, areas=TREE, as_of=f.AS_OF, directory=True)
    assert short.provider_ids == (1, 3, 5)
    assert short.directory is not None and (short.directory.directory_size, short.directory.excluded_count) == (3, 0)
