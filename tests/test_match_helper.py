"""A directory ranked in two parts, one by the worker and one by a helper process it forks
(marketplace.exercises.helper; here from the first provider, `match_split_from=0`): match runs are what ranking the
directory read afresh in one piece gives, through writes, a killed helper and a busy one."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from conftest import app_settings, fetchval, rename_behind_the_apps_back, served_at_once
from test_exercises_and_matching import expected_ranking, seeded_need, stays_exact_after_profile_writes

from marketplace.app import create_app
from marketplace.exercises import pools as pools_module
from marketplace.exercises.helper import Helper
from marketplace.exercises.pools import MatchPools


@pytest.fixture
async def split(fresh_db: str) -> AsyncIterator[httpx.AsyncClient]:
    async with served_at_once(create_app(app_settings(fresh_db, match_split_from=0))) as client:
        yield client


def pools_of(client: httpx.AsyncClient) -> MatchPools:
    app = client._transport.app  # type: ignore[attr-defined]
    found: MatchPools = app.state.match_pools
    return found


FRESH = itertools.count(0)


async def run(client: httpx.AsyncClient, headers: dict[str, str], need_id: int) -> dict:
    """A fresh match run showing every eligible provider (the limit one lower each time: the same request over an
    unchanged directory would be answered from the run stored)."""
    r = await client.post(f"/needs/{need_id}/match-runs", params={"limit": 500 - next(FRESH)}, headers=headers)
    assert r.status_code == 201, r.text[:300]
    return r.json()


async def assert_exact(client: httpx.AsyncClient, headers: dict[str, str], need_id: int, dsn: str) -> dict:
    got = await run(client, headers, need_id)
    expected = await expected_ranking(dsn, need_id, 500)
    assert got["ranking"] == expected["scored"] and got["excluded"] == expected["excluded"]
    assert (got["eligible_count"], got["candidate_count"]) == (expected["eligible_count"], expected["candidate_count"])
    # every published provider counted once: in a part, or (written since the parts were built) in the extra pool
    published = await fetchval(dsn, "select count(*) from provider where status = 'published'")
    assert got["directory_size"] == published
    assert got["excluded_count"] == published - got["eligible_count"]
    return got


async def one_exact_run(client: httpx.AsyncClient, keys, dsn: str) -> tuple[int, dict[str, str], MatchPools]:
    """The seeded need, a commissioner's headers and the app's pools, after one exact run (the helper forked)."""
    need_id, _ = await seeded_need(dsn)
    h = await keys.headers("commissioner")
    await assert_exact(client, h, need_id, dsn)
    return need_id, h, pools_of(client)


@asynccontextmanager
async def run_beside_a_busy_helper(
    client: httpx.AsyncClient, headers: dict[str, str], need_id: int, dsn: str, helper: Helper
) -> AsyncIterator[tuple[list[int], asyncio.Future]]:
    """A run (`assert_exact`) started while another run has `helper`, once it has shortlisted something: yields
    the number of pools each `_shortlisted` call took, and the run; on leaving, the helper is let go and the run
    awaited."""
    shortlisted: list[int] = []
    real = pools_module._shortlisted
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pools_module, "_shortlisted", lambda *a: shortlisted.append(len(a[1])) or real(*a))
        async with helper.lock:  # another run has it
            waiting = asyncio.ensure_future(assert_exact(client, headers, need_id, dsn))
            for _ in range(200):
                if shortlisted:
                    break
                await asyncio.sleep(0.01)
            yield shortlisted, waiting
        await waiting


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_the_helper_ranks_a_part_and_runs_stay_exact_through_writes(split, keys, fresh_db):
    pools = pools_of(split)
    assert pools.parts is not None and len(pools.parts) == 2 and all(len(p.provider_id) for p in pools.parts)
    await stays_exact_after_profile_writes(split, keys, fresh_db, pools)  # four runs, with writes between them
    assert pools.helper_forks == 1 and pools.helper_runs == 4, "every run ranked part 1 in the one helper"
    assert pools.helper is not None and pools.helper.version == pools.version > 0 and not pools.deltas


async def test_a_killed_helper_is_replaced_and_meanwhile_the_worker_ranks_alone(split, keys, fresh_db):
    need_id, _ = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    pools = pools_of(split)
    first = await assert_exact(split, h, need_id, fresh_db)
    assert pools.helper is not None and pools.helper_runs == 1
    killed = pools.helper.pid
    os.kill(killed, signal.SIGKILL)
    again = await assert_exact(split, h, need_id, fresh_db)  # the helper's socket closes mid-call: ranked alone
    assert again["ranking"] == first["ranking"]
    assert pools.helper_runs == 1 and gone(killed), "the dead helper reaped, not left a zombie"
    await assert_exact(split, h, need_id, fresh_db)
    assert pools.helper_forks == 2 and pools.helper_runs == 2 and pools.helper.pid != killed


async def test_a_run_waits_for_a_busy_helper_after_shortlisting_its_own_part(split, keys, fresh_db):
    need_id, h, pools = await one_exact_run(split, keys, fresh_db)
    helper = pools.helper
    assert helper is not None and pools.helper_runs == 1
    async with run_beside_a_busy_helper(split, h, need_id, fresh_db, helper) as (shortlisted, waiting):
        await asyncio.sleep(0.1)
        assert shortlisted == [1] and not waiting.done(), "part 0 shortlisted, then the run waits for the helper"
    assert pools.helper_runs == 2 and pools.helper_forks == 1 and shortlisted == [1]


async def test_a_run_that_waited_for_a_helper_it_cannot_use_ranks_only_part_1_more(split, keys, fresh_db):
    """Part 0, shortlisted while the run waited, is not shortlisted again when the helper turns out to be ahead."""
    need_id, h, pools = await one_exact_run(split, keys, fresh_db)
    helper = pools.helper
    assert helper is not None
    async with run_beside_a_busy_helper(split, h, need_id, fresh_db, helper) as (shortlisted, _):
        helper.version = pools.version + 1  # another run took it further meanwhile
    assert shortlisted == [1, 1] and pools.helper_runs == 1, "part 0 once, then part 1 in the worker"


async def test_a_helper_ahead_of_the_run_is_not_used(split, keys, fresh_db):
    """A run that synced before another one took the helper further ranks part 1 in the worker too (the helper's
    part is not the run's)."""
    need_id, h, pools = await one_exact_run(split, keys, fresh_db)
    assert pools.helper is not None
    pools.helper.version = pools.version + 1
    await assert_exact(split, h, need_id, fresh_db)
    assert pools.helper_runs == 1


async def test_a_worker_that_stops_ends_its_helper(fresh_db, keys):
    need_id, _ = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    async with served_at_once(create_app(app_settings(fresh_db, match_split_from=0))) as client:
        await run(client, h, need_id)
        helper = pools_of(client).helper
        assert helper is not None and not gone(helper.pid)
    assert gone(helper.pid)


async def test_a_small_directory_stays_in_one_part_without_a_helper(at_once, keys, fresh_db):
    need_id, _ = await seeded_need(fresh_db)
    await assert_exact(at_once, await keys.headers("commissioner"), need_id, fresh_db)
    pools = pools_of(at_once)
    assert pools.parts is not None and len(pools.parts) == 1 and pools.helper is None and pools.helper_forks == 0


async def test_a_write_withdraws_rows_sharing_every_column_and_many_rebuild_the_parts(split, keys, fresh_db):
    """A changed provider's rows are withdrawn from the parts as loaded, whose columns stay the very arrays they
    were (shared with the process the worker was forked from, and with the helper), and its new version is ranked from
    the pool of changed providers; past EXTRA_KEPT of those, the parts are rebuilt with them in, and the helper forked
    afresh with the new part 1. The runs stay exact throughout."""
    need_id, _ = await seeded_need(fresh_db)
    h = await keys.headers("commissioner")
    pools = pools_of(split)
    first = await assert_exact(split, h, need_id, fresh_db)
    loaded = pools.parts
    assert loaded is not None and pools.extra is None and pools.helper_forks == 1
    shown = [s["provider_id"] for s in first["ranking"]]
    assert len(shown) >= 2
    renamed, other = shown[0], shown[-1]
    await rename_behind_the_apps_back(fresh_db, renamed, "Aardvark Renamed Trust")
    await assert_exact(split, h, need_id, fresh_db)
    assert pools.parts is not None and pools.extra is not None and pools.extra.provider_id.tolist() == [renamed]
    assert all(p.columns is q.columns and p.words is q.words for p, q in zip(pools.parts, loaded, strict=True))
    assert sum(p.live_count for p in pools.parts) == sum(len(p) for p in loaded) - 1
    assert pools.helper_runs == 2 and pools.helper_forks == 1 and pools.helper is not None
    assert pools.helper.version == pools.version and not pools.deltas, "the helper withdrew the row from part 1 too"

    # 2 rows withdrawn and 2 providers in the extra pool after the next write: past EXTRA_KEPT (3), a rebuild
    holding = {k for k, p in enumerate(pools.parts) if other in p.provider_id.tolist()}
    withdrawn_from = holding | {k for k, p in enumerate(pools.parts) if p.withdrawn is not None}
    left = [p.live_count - (k in holding) for k, p in enumerate(pools.parts)]
    smallest = left.index(min(left))  # takes the changed providers in
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pools_module, "EXTRA_KEPT", 3)
        await rename_behind_the_apps_back(fresh_db, other, "Aardvark Second Trust")
        await assert_exact(split, h, need_id, fresh_db)
    assert pools.extra is None and all(p.withdrawn is None for p in pools.parts)
    # rebuilt: each part that had rows withdrawn, and the one that took the changed providers in; a part with
    # neither stays the very pool it was
    for k, (p, q) in enumerate(zip(pools.parts, loaded, strict=True)):
        assert (p.columns is not q.columns) == (k in withdrawn_from or k == smallest), k
    assert sorted(x for p in pools.parts for x in p.provider_id.tolist()) == sorted(
        x for p in loaded for x in p.provider_id.tolist()
    ), "every provider in one part, once"
    assert pools.helper_forks == 2 and pools.helper_runs == 3, "a helper forked with the rebuilt part 1"
