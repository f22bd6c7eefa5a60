"""Reconciliation finds names in the worker's search index (providers.service.similar_names, names_holding), kept
exact against the database: through the real app on a database of the test's own, a provider renamed through the
API is found by its new name in the next batch and no longer by its old one; an archived (or pending) provider is
never a candidate nor a suggestion; a write behind the app's back is seen by the next batch; the `area` property
restricts as the SQL did (`provider.area_match_codes`, hierarchy-aware). And the index's lookups themselves, pure:
typos, words written together or apart, areas, rows retired by a change."""

from __future__ import annotations

import json
from typing import Any

from conftest import rename_behind_the_apps_back
from standards_schemas import assert_reconciliation_valid

from marketplace import db
from marketplace.providers.index import IndexRow, SearchIndex, ServiceRow

WORCESTERSHIRE, HEREFORDSHIRE, REGION = "E10000034", "E06000019", "E23000016"


async def reconcile(client: Any, batch: dict[str, Any]) -> dict[str, Any]:
    assert_reconciliation_valid("reconciliation-query-batch.json", batch)
    r = await client.post("/reconcile", data={"queries": json.dumps(batch)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_reconciliation_valid("reconciliation-result-batch.json", body)
    return body


def ids_of(result: dict[str, Any]) -> list[str]:
    return [c["id"] for c in result["result"]]


async def published(dsn: str, n: int = 2) -> list[tuple[int, str]]:
    conn = await db.connect(dsn)
    try:
        rows = await conn.fetch("select id, name from provider where status = 'published' order by id limit $1", n)
    finally:
        await conn.close()
    return [(r["id"], r["name"]) for r in rows]


async def test_a_provider_renamed_through_the_api_is_found_by_its_new_name_only(
    client: Any, keys: Any, fresh_db: str
) -> None:
    [(pid, old)] = await published(fresh_db, 1)
    before = await reconcile(client, {"q0": {"query": old}, "q1": {"query": "Quillwort Tideway Mentoring"}})
    assert before["q0"]["result"][0]["id"] == str(pid) and before["q0"]["result"][0]["match"]
    assert str(pid) not in ids_of(before["q1"])
    headers = await keys.headers("provider", pid)
    tag = (await client.get(f"/providers/{pid}", headers=headers)).headers["etag"]
    r = await client.patch(
        f"/providers/{pid}", json={"name": "Quillwort Tideway Mentoring CIC"}, headers={**headers, "If-Match": tag}
    )
    assert r.status_code == 200, r.text
    after = await reconcile(
        client,
        {
            "q0": {"query": old},
            "q1": {"query": "Quillwort Tideway Mentoring"},
            "q2": {"query": "Quilwort Tidewya Mentoring"},  # typos in two words
        },
    )
    assert str(pid) not in ids_of(after["q0"])  # the old name is gone with the old row
    q1 = after["q1"]["result"][0]
    assert (q1["id"], q1["name"], q1["match"]) == (str(pid), "Quillwort Tideway Mentoring CIC", True)
    assert after["q2"]["result"][0]["id"] == str(pid)
    r = await client.get("/reconcile/suggest/entity", params={"prefix": "quillwort"})
    assert [s["id"] for s in r.json()["result"]] == [str(pid)]
    r = await client.get("/reconcile/suggest/entity", params={"prefix": old})
    assert str(pid) not in [s["id"] for s in r.json()["result"]]


async def test_archived_providers_are_never_candidates_and_publishing_brings_them_back(
    client: Any, keys: Any, fresh_db: str
) -> None:
    [(pid, name), (other, other_name)] = await published(fresh_db, 2)
    admin = await keys.headers("admin")
    batch = {"q0": {"query": name}, "q1": {"query": name.split()[0]}, "q2": {"query": other_name}}
    assert (await reconcile(client, batch))["q0"]["result"][0]["id"] == str(pid)
    assert (await client.post(f"/providers/{pid}/archive", headers=admin)).status_code == 200
    body = await reconcile(client, batch)
    assert all(str(pid) not in ids_of(result) for result in body.values())
    assert body["q2"]["result"][0]["id"] == str(other)  # the rest of the directory as before
    r = await client.get("/reconcile/suggest/entity", params={"prefix": name, "limit": 50})
    assert str(pid) not in [s["id"] for s in r.json()["result"]]
    assert (await client.get("/reconcile/preview", params={"id": pid})).status_code == 404
    assert (await client.post(f"/providers/{pid}/publish", headers=admin)).status_code == 200
    assert (await reconcile(client, batch))["q0"]["result"][0]["id"] == str(pid)


async def test_a_registration_is_no_candidate_until_published(client: Any, keys: Any) -> None:
    r = await client.post("/registrations", json={"name": "Xerophyte Lantern Advice", "legal_form": "cic"})
    assert r.status_code == 201, r.text
    pid = r.json()["provider"]["id"] if "provider" in r.json() else r.json()["id"]
    batch = {"q0": {"query": "Xerophyte Lantern Advice"}}
    assert str(pid) not in ids_of((await reconcile(client, batch))["q0"])
    r = await client.get("/reconcile/suggest/entity", params={"prefix": "xerophyte"})
    assert r.json()["result"] == []
    admin = await keys.headers("admin")
    r = await client.post(f"/providers/{pid}/publish", headers={**admin, "If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    top = (await reconcile(client, batch))["q0"]["result"][0]
    assert (top["id"], top["match"]) == (str(pid), True)


async def test_a_write_behind_the_apps_back_is_seen_by_the_next_batch(client: Any, fresh_db: str) -> None:
    [(pid, _)] = await published(fresh_db, 1)
    await reconcile(client, {"q0": {"query": "anything"}})  # the index is loaded and used
    await rename_behind_the_apps_back(fresh_db, pid, "Pangolin Reentry Collective")
    body = await reconcile(client, {"q0": {"query": "Pangolin Re-entry Collective"}})
    assert body["q0"]["result"][0]["id"] == str(pid)
    assert body["q0"]["result"][0]["name"] == "Pangolin Reentry Collective"


async def test_area_restricts_the_names_as_the_providers_areas_say(read_client: Any, read_db: str) -> None:
    """For every area code in use and the region above them, the candidates found with `area` are exactly those
    found without it whose provider's area_match_codes hold that code (a name shared by many providers)."""
    conn = await db.connect(read_db)
    try:
        covers = {
            r["id"]: set(r["area_match_codes"])
            for r in await conn.fetch("select id, area_match_codes from provider where status = 'published'")
        }
        codes = [r["c"] for r in await conn.fetch("select distinct unnest(area_match_codes) c from provider")]
    finally:
        await conn.close()
    assert WORCESTERSHIRE in codes and HEREFORDSHIRE in codes and REGION in codes
    query = {"query": "Housing", "limit": 100}
    unrestricted = ids_of((await reconcile(read_client, {"q0": query}))["q0"])
    assert 5 <= len(unrestricted) < 50  # all of them: fewer than the candidates looked up
    batch = {f"q{i}": {**query, "properties": [{"pid": "area", "v": code}]} for i, code in enumerate(codes[:100])}
    body = await reconcile(read_client, batch)
    for i, code in enumerate(codes[:100]):
        found = ids_of(body[f"q{i}"])
        assert found == [c for c in unrestricted if code in covers[int(c)]], code


# --- the index's lookups, pure --------------------------------------------------------------------------------


def _row(pid: int, name: str, areas: list[str], status: str = "published") -> IndexRow:
    service = ServiceRow(pid * 10, "accommodation", [], areas, [], None, None, None, "both", [], [], None)
    words = " ".join(name.lower().replace("-", " ").split())
    return IndexRow(pid, name, status, None, "cic", [], (words, "", ""), [service])


def _index() -> SearchIndex:
    return SearchIndex.build(
        [
            [
                _row(1, "Severn Housing Trust", [WORCESTERSHIRE, REGION]),
                _row(2, "Severn Housing CIC", [HEREFORDSHIRE, REGION]),
                _row(3, "Wye Recovery Network", [HEREFORDSHIRE, REGION]),
                _row(4, "West Mercia Drop In", [WORCESTERSHIRE, REGION]),
                _row(5, "Severn Housing Pending", [WORCESTERSHIRE], status="pending"),
                *[_row(10 + i, f"Housing Project {i}", [WORCESTERSHIRE]) for i in range(40)],
            ]
        ]
    )


def test_similar_names_ranks_whole_names_and_reads_typos_and_joined_words() -> None:
    index = _index()
    assert index.similar_names(["severn housing"], limit=2) == [2, 1]  # equally like: name order
    assert index.similar_names(["sevren housnig trust"])[0] == 1  # no word as written
    assert index.similar_names(["wye recovery network"], limit=1) == [3]
    assert index.similar_names(["westmercia dropin"])[0] == 4  # written together
    assert 5 not in index.similar_names(["severn housing pending"])  # pending: never
    assert index.similar_names(["zyxwv qqqq"]) == [] and index.similar_names([]) == []
    assert len(index.similar_names(["housing"], limit=50)) == 42 and len(index.similar_names(["housing"])) == 42
    assert index.similar_names(["housing project"], limit=5, pool=5) == [10, 11, 12, 13, 14]
    long = "severn housing trust " + " ".join(f"zq{i}" for i in range(300))  # read by its first 16 words
    assert set(index.similar_names([long], limit=100)) == {1, 2, *range(10, 50)}


def test_similar_names_narrows_to_areas_and_follows_changes() -> None:
    index = _index()
    assert index.similar_names(["severn housing"], [HEREFORDSHIRE]) == [2]
    assert index.similar_names(["severn housing"], [REGION], limit=2) == [2, 1]
    assert index.similar_names(["severn housing"], ["E06000051"]) == []  # Shropshire: nobody there
    index.apply([_row(1, "Teme Valley Housing Trust", [WORCESTERSHIRE])])  # renamed: a new row, the old one dies
    assert index.similar_names(["severn housing trust"], limit=1) == [2]
    assert index.similar_names(["teme valley housing trust"], limit=1) == [1]
    index.apply([_row(2, "Severn Housing CIC", [HEREFORDSHIRE], status="archived")])
    assert 2 not in index.similar_names(["severn housing cic"])


def test_names_holding_puts_names_starting_with_the_text_first() -> None:
    index = _index()
    assert index.names_holding("severn") == [2, 1]
    assert index.names_holding("housing", limit=3) == [10, 11, 20]  # "housing project 0", "... 1", "... 10"
    assert index.names_holding("housing", limit=50)[-2:] == [2, 1]  # then the names holding it further on
    assert index.names_holding("HOUSING PROJECT 1", limit=3) == [11, 20, 21]
    assert index.names_holding("housing", offset=2, limit=2) == [20, 21]
    assert index.names_holding("pending") == [] and index.names_holding("") == [] and index.names_holding("\x00") == []
    assert index.names_holding("00000") == []  # the ids kept beside the names are not names
