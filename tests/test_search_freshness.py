"""Search runs over a per-process index; these tests show it answers what the database holds *now*:
after API writes, after writes made behind the app's back, and after a transaction that started
before the index's snapshot and committed after a newer one."""

from __future__ import annotations

import datetime as dt

import asyncpg
from conftest import fetchval, rename_behind_the_apps_back
from test_console import signed_in

from marketplace import changes, db

NOW = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)


async def _search(client, headers=None, **params) -> dict:
    r = await client.get("/providers", params={"per_page": 100, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _a_published_provider(dsn: str) -> int:
    return await fetchval(dsn, "select id from provider where status = 'published' order by id limit 1")


async def test_a_patch_is_searchable_at_once(client, keys, fresh_db):
    pid = await _a_published_provider(fresh_db)
    assert (await _search(client, q="zanzibarish"))["total"] == 0
    headers = await keys.headers("provider", pid)
    tag = (await client.get(f"/providers/{pid}", headers=headers)).headers["etag"]
    r = await client.patch(
        f"/providers/{pid}", json={"name": "Zanzibarish Housing Trust"}, headers={**headers, "If-Match": tag}
    )
    assert r.status_code == 200
    body = await _search(client, q="zanzibarish")
    assert [i["id"] for i in body["items"]] == [pid] and body["items"][0]["name"] == "Zanzibarish Housing Trust"
    assert (await _search(client, q="zanzibarish", sort="name"))["items"][0]["id"] == pid


async def test_archiving_and_publishing_show_in_the_next_search(client, keys, fresh_db):
    pid = await _a_published_provider(fresh_db)
    admin = await keys.headers("admin")
    before = (await _search(client))["total"]
    assert (await client.post(f"/providers/{pid}/archive", headers=admin)).status_code == 200
    after = await _search(client)
    assert after["total"] == before - 1 and pid not in [i["id"] for i in after["items"]]
    archived = await _search(client, admin, status="archived")
    assert pid in [i["id"] for i in archived["items"]]
    assert (await client.post(f"/providers/{pid}/publish", headers=admin)).status_code == 200
    assert (await _search(client))["total"] == before


async def test_writes_behind_the_apps_back_are_seen(client, fresh_db):
    pid = await _a_published_provider(fresh_db)
    await _search(client)  # the index is loaded and used
    await rename_behind_the_apps_back(fresh_db, pid, "Quokka Advice Collective")
    body = await _search(client, q="quokka")
    assert [i["id"] for i in body["items"]] == [pid]
    assert body["items"][0]["name"] == "Quokka Advice Collective"


async def test_changes_find_a_transaction_that_commits_after_a_newer_one(fresh_db):
    """Commit order is not snapshot order: a writer that began before snapshot S and commits after a
    later writer is still reported as changed relative to S."""
    early, late, reader = [await asyncpg.connect(fresh_db) for _ in range(3)]
    try:
        ids = [r["id"] for r in await reader.fetch("select id from provider order by id limit 2")]
        tx_early = early.transaction()
        await tx_early.start()
        await early.execute("update provider set description = 'early' where id = $1", ids[0])  # not committed yet
        snap = await changes.current_snapshot(reader)
        await late.execute("update provider set description = 'late' where id = $1", ids[1])  # autocommit
        snap2, changed = await changes.changed_since(reader, snap)
        assert changed == [ids[1]]
        await tx_early.commit()
        _, changed = await changes.changed_since(reader, snap2)
        assert changed == [ids[0]]
        _, changed = await changes.changed_since(reader, snap)
        assert changed == sorted(ids)
        _, nothing = await changes.changed_since(reader, await changes.current_snapshot(reader))
        assert nothing == []
    finally:
        for c in (early, late, reader):
            await c.close()


async def test_a_stream_of_writes_cannot_keep_a_search_waiting(fresh_db):
    """Every round that finds the directory changed catches up and searches again, but only so many times:
    a provider rewritten before each read cannot hold the search forever."""
    from marketplace.providers import queries
    from marketplace.providers.index import Filters
    from marketplace.providers.live_index import CATCH_UP_ROUNDS, LiveIndex

    pool = await asyncpg.create_pool(fresh_db, init=db.init_connection, min_size=1, max_size=2)
    writer = await asyncpg.connect(fresh_db)
    try:
        live = await LiveIndex.load(pool)
        pid = await writer.fetchval("select min(id) from provider where status = 'published'")

        class WrittenBeforeEachRead:
            """Each read of a page finds the directory changed since the index's snapshot."""

            def __init__(self, conn: asyncpg.Connection) -> None:
                self.conn, self.reads = conn, 0

            async def fetchrow(self, sql, *args):
                if sql == queries.PAGE_SQL:  # not the catching up's own reads
                    self.reads += 1
                    await writer.execute("update provider set description = description || '.' where id = $1", pid)
                return await self.conn.fetchrow(sql, *args)

            async def fetch(self, *args):
                return await self.conn.fetch(*args)

        async with pool.acquire() as conn:
            busy = WrittenBeforeEachRead(conn)
            hits, items = await live.page(busy, lambda index: index.search(Filters(), limit=5), NOW)
        assert busy.reads == CATCH_UP_ROUNDS + 1
        assert len(items) == 5 and [i.id for i in items] == hits.ids
        async with pool.acquire() as conn:  # once the writes stop, the next search is exact again
            again, _ = await live.page(conn, lambda index: index.search(Filters(), limit=5), NOW)
        assert again.total == hits.total
    finally:
        await writer.close()
        await pool.close()


async def test_a_pending_profiles_words_are_read_into_no_search_that_cannot_see_it(client, keys, fresh_db):
    """A search of published profiles (anonymous, a provider's) reads a word it does not know as the closest word
    of a published profile, never of a pending one: `interpreted_query` (and the console's "Showing results for")
    spelt out an unpublished organisation's name and description. Staff searching pending profiles have their
    words; once the profile is published, everyone does."""
    r = await client.post(
        "/registrations",
        json={
            "name": "Quixotrellian Housing Trust",
            "legal_form": "cic",
            "description": "Flibbertigibbetous vortexian services.",
        },
    )
    assert r.status_code == 201, r.text
    pid = r.json()["provider"]["id"]
    provider = await keys.headers("provider", await _a_published_provider(fresh_db))
    for headers in (None, provider):
        for typed, hidden in (("Quixotrelian", "quixotrellian"), ("vortexin", "vortexian")):
            body = await _search(client, headers, q=typed)
            assert body["total"] == 0 or pid not in [i["id"] for i in body["items"]]
            assert hidden not in str(body["interpreted_query"]), body["interpreted_query"]
    await signed_in(client, keys, "provider", await _a_published_provider(fresh_db))
    page = await client.get("/console/providers", params={"q": "Quixotrelian"})
    assert page.status_code == 200 and "quixotrellian" not in page.text.lower()
    admin = await keys.headers("admin")
    staff = await _search(client, admin, q="Quixotrelian", status="pending")
    assert staff["interpreted_query"] == [["quixotrellian"]] and [i["id"] for i in staff["items"]] == [pid]
    assert (await client.post(f"/providers/{pid}/publish", headers=admin)).status_code == 200
    body = await _search(client, q="Quixotrelian")
    assert body["interpreted_query"] == [["quixotrellian"]] and [i["id"] for i in body["items"]] == [pid]
    assert "vortexian" in (await _search(client, q="vortexin"))["interpreted_query"][0]
