"""The two kinds of pool over shared columns: the full CandidatePool and the CompactPool."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import matching_factories as f
import msgspec
import numpy as np
import pytest
from test_matching_open_vocabulary import random_candidates, random_need

from matching import CandidatePool, Columns, CompactPool, Pool, Priority, build_compact, rank, shortlist
from matching.columns import Ceilings, Pairs, ServiceColumns, gather
from matching.compact import PackedNames
from matching.pool import build_pool
from matching.text import words
from matching.wordscan import WordIndex

TREE = f.tree()


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and np.array_equal(a.astype(np.float64), b.astype(np.float64), equal_nan=True)
    if isinstance(a, (Pairs, ServiceColumns, Ceilings)) and isinstance(b, type(a)):
        return all(_same(getattr(a, fd.name), getattr(b, fd.name)) for fd in dataclasses.fields(a))
    return a == b


def test_full_and_compact_pools_hold_the_same_columns() -> None:
    cands = random_candidates(random.Random(2), 80)
    full = CandidatePool.build(cands, TREE)
    small = build_compact(cands, TREE)
    assert isinstance(full.columns, Columns) and isinstance(small.columns, Columns)
    for fd in dataclasses.fields(Columns):
        assert _same(getattr(full.columns, fd.name), getattr(small.columns, fd.name)), fd.name
    assert len(full.columns.services) > 100
    assert len(full) == len(small) == 80
    assert full.provider_id.tolist() == small.provider_id.tolist() == [c.provider_id for c in cands]
    # what only one kind has
    assert full.candidates == tuple(cands) and list(full.names) == [c.name for c in cands]
    assert full.by_name is not None and full.name_rank is not None and full.text_index is not None
    assert isinstance(small.names, PackedNames) and list(small.names) == [c.name for c in cands]
    assert isinstance(small.words, WordIndex) and small.by_name is None and small.name_rank is None
    assert not hasattr(small, "candidates") and not hasattr(small, "texts") and not hasattr(full, "words")


def _as_pool(p: Pool) -> Pool:
    return p


def test_every_kind_of_pool_matches_words_alike() -> None:
    cands = random_candidates(random.Random(3), 150)
    one_off = build_pool(tuple(cands), TREE, pathway=None, order=False)  # never indexes its text
    reusable = CandidatePool.build(cands, TREE)
    small = build_compact(cands, TREE)
    query = sorted({*words("supported housing care leavers rural outreach trauma informed"), "cafe", "hous"})
    rng = np.random.default_rng(0)
    offsets = small.columns.services.offsets
    for size in (0, 1, 5, 40, 150):
        idx = np.sort(rng.choice(150, size=size, replace=False)).astype(np.int64)
        rows, pos = gather(offsets, idx)  # every service of those candidates, then some of them
        for services, service_pos in ((rows, pos), (rows[::2], pos[::2])):
            expected = _as_pool(one_off).text_matches(idx, services, service_pos, query)
            assert np.array_equal(_as_pool(small).text_matches(idx, services, service_pos, query), expected)
            assert np.array_equal(_as_pool(reusable).text_matches(idx, services, service_pos, query), expected)
        if size:
            # a candidate's column is its resources text and its services' texts, best word by word
            j = size // 2
            alone = _as_pool(one_off).text_matches(
                idx[j : j + 1], rows[pos == j], np.zeros(np.sum(pos == j), int), query
            )
            assert np.array_equal(alone[:, 0], _as_pool(one_off).text_matches(idx, rows, pos, query)[:, j])
    assert one_off.text_index is None and reusable.text_index is not None and reusable.text_index.built
    assert np.array_equal(CompactPool.of(one_off).words.offsets, small.words.offsets)


def test_a_full_pool_builds_its_word_index_once_whichever_threads_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = CandidatePool.build(random_candidates(random.Random(4), 60), TREE)
    calls: list[int] = []
    real = CandidatePool.index_text
    start = threading.Barrier(8)

    def slow(self: CandidatePool) -> WordIndex:
        calls.append(1)
        time.sleep(0.05)  # every other thread arrives while this one builds
        return real(self)

    monkeypatch.setattr(CandidatePool, "index_text", slow)

    def ask(_: int) -> WordIndex:
        start.wait()
        return pool.word_index()

    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(ask, range(8)))
    assert len(calls) == 1 and all(index is got[0] for index in got)


def test_rankings_running_in_threads_on_one_pool_equal_rankings_one_at_a_time() -> None:
    rng = random.Random(6)
    cands = random_candidates(rng, 300)
    needs = [
        msgspec.structs.replace(random_need(rng, k), local_priorities=(Priority("supported housing care leavers"),))
        for k in range(12)
    ]
    expected = [msgspec.json.encode(rank(nd, cands, areas=TREE, as_of=f.AS_OF)) for nd in needs]
    shared = CandidatePool.build(cands, TREE)  # its word index is built by whichever thread first needs it

    def run(k: int) -> bytes:
        return msgspec.json.encode(rank(needs[k % len(needs)], shared, areas=TREE, as_of=f.AS_OF))

    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(run, range(3 * len(needs))))
    assert got == expected * 3
    assert shared.text_index is not None and shared.text_index.built


def test_a_compact_pool_is_complete_when_made_and_never_changes() -> None:
    cands = random_candidates(random.Random(7), 40)
    small = build_compact(cands, TREE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        small.words = small.words  # type: ignore[misc]
    assert small.columns.provider_id.flags.writeable is False
    assert (
        small.columns.services.years.flags.writeable is False
        and small.columns.services.areas.item.flags.writeable is False
    )
    need = random_need(random.Random(8), 1)
    before = [np.copy(small.words.offsets), list(small.words.vocabulary)]
    short = shortlist(need, small, areas=TREE, as_of=f.AS_OF, limit=5)
    by_id = {c.provider_id: c for c in cands}
    assert msgspec.json.encode(short.explain(by_id)) == msgspec.json.encode(
        rank(need, cands, areas=TREE, as_of=f.AS_OF, limit=5)
    )
    assert np.array_equal(before[0], small.words.offsets) and before[1] == small.words.vocabulary
