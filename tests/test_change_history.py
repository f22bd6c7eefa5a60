"""The change history (schema/0027_change_history.sql): every insert, update and delete of the tables the API's role
may write that keep no history of their own, with the values before and after and who made the change, written by
triggers the API's role can neither skip nor rewrite; and `GET /changes`, which reads it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest
from conftest import TELFORD_NEED, fetchval, run_cli

from marketplace import audit, db
from marketplace.seed import seed
from marketplace.types import Actor, Caller


async def changes(dsn: str, where: str = "true", *args: object) -> list[dict[str, Any]]:
    """The history's rows (as the owner reads them), oldest first."""
    conn = await db.connect(dsn)
    try:
        rows = await conn.fetch(f"select * from change_history where {where} order by id", *args)
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def as_app(dsn: str) -> asyncpg.Connection:
    """A connection as the API's own role, as psql would have one: not through the app."""
    return await db.connect(db.with_user(dsn, db.APP_ROLE))


async def a_need(client, headers: dict[str, str]) -> tuple[int, str]:
    """A new exercise with one need (TELFORD_NEED); the need's id and ETag."""
    body = {"title": "History", "commissioning_body": "Trust"}
    exercise = await client.post("/exercises", json=body, headers=headers)
    assert exercise.status_code == 201, exercise.text
    made = await client.post(f"/exercises/{exercise.json()['id']}/needs", json=TELFORD_NEED, headers=headers)
    assert made.status_code == 201, made.text
    return made.json()["id"], made.headers["etag"]


async def test_an_update_of_a_need_records_its_old_and_new_values_with_the_acting_key(client, keys, fresh_db):
    key_id, key = await keys.make("commissioner")
    h = {"Authorization": f"Bearer {key}"}
    need_id, etag = await a_need(client, h)
    r = await client.patch(
        f"/needs/{need_id}",
        json={"annual_budget": 150000, "areas": ["E06000020", "E06000051"]},
        headers={**h, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    rows = await changes(fresh_db, "record_table = 'need' and record_id = $1", str(need_id))
    request = r.headers["x-request-id"]
    made = [x for x in rows if x["request_id"] != request]
    assert {(x["table_name"], x["operation"]) for x in made} == {  # the need and its parts
        ("need", "insert"),
        ("need_area", "insert"),
        ("need_cohort", "insert"),
    }
    assert next(x for x in made if x["table_name"] == "need")["after"]["annual_budget"] == 120000
    (update,) = [x for x in rows if x["operation"] == "update"]
    assert update["table_name"] == "need"
    # only the columns that changed, before and after
    assert set(update["before"]) == set(update["after"]) == {"annual_budget", "version", "updated_at"}
    assert (update["before"]["annual_budget"], update["after"]["annual_budget"]) == (120000, 150000)
    assert (update["before"]["version"], update["after"]["version"]) == (1, 2)
    assert (update["key_id"], update["role"], update["request_id"]) == (key_id, "commissioner", request)
    # the area added is one insert; the area and the cohort kept are not rewritten
    added = [
        (x["operation"], x["after"]) for x in rows if x["table_name"] == "need_area" and x["request_id"] == request
    ]
    assert added == [("insert", {"need_id": need_id, "area_code": "E06000051"})]
    assert len(rows) == len(made) + 2
    # the need's own audit row is the same request, at the same time
    entry = await fetchval(fresh_db, "select at from audit_log where request_id = $1", request)
    assert update["at"] == entry
    # its area volumes are a part of it too: one changed is one update, before and after
    etag = r.headers["etag"]
    for volumes in ({"E06000020": 45, "E06000051": 15}, {"E06000020": 40, "E06000051": 20}):
        r = await client.patch(f"/needs/{need_id}", json={"area_volumes": volumes}, headers={**h, "If-Match": etag})
        assert r.status_code == 200, r.text
        etag = r.headers["etag"]
    rows = await changes(fresh_db, "table_name = 'need_area_volume' and request_id = $1", r.headers["x-request-id"])
    assert sorted((x["operation"], x["before"]["volume"], x["after"]["volume"]) for x in rows) == [
        ("update", 15, 20),
        ("update", 45, 40),
    ]


async def test_a_change_that_changes_nothing_records_nothing(client, keys, fresh_db, seed_dir):
    h = await keys.headers("commissioner")
    need_id, etag = await a_need(client, h)
    before = await changes(fresh_db)
    r = await client.patch(f"/needs/{need_id}", json={"annual_budget": 120000}, headers={**h, "If-Match": etag})
    assert r.status_code == 200 and r.headers["etag"] == etag
    conn = await db.connect(fresh_db)
    try:
        await seed(conn, seed_dir)  # every taxonomy upserted as it is
    finally:
        await conn.close()
    assert await changes(fresh_db) == before


async def test_a_need_deleted_records_every_value_it_had(client, keys, fresh_db):
    key_id, key = await keys.make("admin")
    h = {"Authorization": f"Bearer {key}"}
    need_id, etag = await a_need(client, h)
    r = await client.delete(f"/needs/{need_id}", headers={**h, "If-Match": etag})
    assert r.status_code == 204, r.text
    gone = await changes(fresh_db, "operation = 'delete' and record_id = $1", str(need_id))
    assert {x["table_name"] for x in gone} == {"need", "need_area", "need_cohort"}
    need = next(x for x in gone if x["table_name"] == "need")
    assert need["after"] is None and need["before"]["title"] == TELFORD_NEED["title"]
    assert all((x["key_id"], x["role"]) == (key_id, "admin") for x in gone)


async def test_a_direct_update_as_the_apps_role_is_recorded_with_no_key(fresh_db):
    budget = await fetchval(fresh_db, "select annual_budget from need where id = 1")
    app = await as_app(fresh_db)
    try:
        await app.execute("update need set annual_budget = annual_budget + 1 where id = 1")
    finally:
        await app.close()
    (row,) = await changes(fresh_db, "table_name = 'need' and operation = 'update'")
    assert row["record_id"] == "1"
    assert (row["before"], row["after"]) == ({"annual_budget": budget}, {"annual_budget": budget + 1})
    assert (row["key_id"], row["role"], row["request_id"]) == (None, None, None)


async def test_who_acted_lasts_only_for_the_transaction_that_said_so(fresh_db, keys):
    """The app says who acts where it writes the audit row (audit.record), with transaction-local settings: the
    next transaction on the same connection (a pooled one, handed to the next request) names no one."""
    key_id, _ = await keys.make("admin")
    actor = Actor(caller=Caller(role="admin", key_id=key_id), request_id="req-1", method="PATCH", path="/needs/1")
    app = await as_app(fresh_db)
    try:
        async with app.transaction():
            await app.execute("update need set annual_volume = annual_volume + 1 where id = 1")
            await audit.record(app, actor, status=200, detail="updated need 1")  # last, as the app does
        await app.execute("update need set annual_volume = annual_volume + 1 where id = 1")
    finally:
        await app.close()
    rows = await changes(fresh_db, "table_name = 'need' and operation = 'update'")
    assert [(x["key_id"], x["role"], x["request_id"]) for x in rows] == [(key_id, "admin", "req-1"), (None, None, None)]


@pytest.mark.parametrize(
    "sql",
    [
        """insert into change_history (table_name, record_table, record_id, operation, after)
           values ('need', 'need', '1', 'insert', '{}')""",
        "update change_history set role = 'admin'",
        "delete from change_history",
        "truncate change_history",
        "alter table change_history disable trigger all",
        "alter table need disable trigger need_changes",
        "drop trigger need_changes on need",
        "set session_replication_role = replica",
    ],
)
async def test_the_apps_role_can_neither_write_the_history_nor_set_its_triggers_aside(fresh_db, sql):
    rows = await fetchval(fresh_db, "select count(*) from change_history")
    app = await as_app(fresh_db)
    try:
        assert await app.fetchval("select count(*) from change_history") == rows  # it may read it
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute(sql)
    finally:
        await app.close()
    assert await fetchval(fresh_db, "select count(*) from change_history") == rows


async def test_the_history_is_append_only_even_for_its_owner(fresh_db):
    conn = await db.connect(fresh_db)
    try:
        for sql in ("update change_history set role = 'admin'", "delete from change_history"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(sql)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("truncate change_history")
    finally:
        await conn.close()


async def test_an_api_keys_history_never_holds_its_hash_nor_its_use(client, keys, fresh_db):
    admin_id, admin = await keys.make("admin")
    h = {"Authorization": f"Bearer {admin}"}
    made = await client.post("/keys", json={"role": "commissioner", "name": "Ada"}, headers=h)
    assert made.status_code == 201
    new_id = made.json()["api_key"]["id"]
    used = await client.get("/exercises", headers={"Authorization": f"Bearer {made.json()['key']}"})
    assert used.status_code == 200  # marks the key used: bookkeeping, not a change
    assert (await client.post(f"/keys/{new_id}/revoke", headers=h)).status_code == 200
    rows = await changes(fresh_db, "table_name = 'api_key' and record_id = $1", str(new_id))
    assert [(x["operation"], x["key_id"], x["role"]) for x in rows] == [
        ("insert", admin_id, "admin"),
        ("update", admin_id, "admin"),
    ]
    assert "key_hash" not in rows[0]["after"] and "last_used_at" not in rows[0]["after"]
    assert rows[0]["after"]["name"] == "Ada" and rows[0]["after"]["role"] == "commissioner"
    assert rows[1]["before"] == {"revoked_at": None} and rows[1]["after"]["revoked_at"].startswith(
        str(dt.datetime.now(dt.UTC).year)
    )


async def test_every_change_made_through_the_app_names_who_made_it(client, keys, fresh_db):
    """Writes of every recorded kind, through the API and the command line: none is recorded as made around the app
    (a null role)."""
    commissioner = await keys.headers("commissioner")  # (made as the test's own, around the app)
    admin = await keys.headers("admin")
    baseline = await fetchval(fresh_db, "select max(id) from change_history")
    need_id, etag = await a_need(client, commissioner)
    exercise_id = await fetchval(fresh_db, "select exercise_id from need where id = $1", need_id)
    ok = [
        await client.patch(f"/needs/{need_id}", json={"annual_volume": 61}, headers={**commissioner, "If-Match": etag}),
        await client.post(
            f"/exercises/{exercise_id}/questions",
            json={"kind": "yes_no", "text": "Could you start in April?"},
            headers=commissioner,
        ),
        await client.post(
            f"/exercises/{exercise_id}/appraisals", json={"title": "Delivery model"}, headers=commissioner
        ),
        await client.post("/registrations", json={"name": "History Test Trust", "legal_form": "cic", "services": []}),
        await client.post("/keys", json={"role": "commissioner", "name": "Ada"}, headers=admin),
    ]
    assert [r.status_code for r in ok] == [200, 201, 201, 201, 201], [r.text for r in ok]
    made = run_cli("keys", "create", "--role", "commissioner", "--name", "From the CLI", dsn=fresh_db)
    assert made.returncode == 0, made.stderr
    rows = await changes(fresh_db, "id > $1", baseline)
    assert {(x["table_name"], x["role"]) for x in rows} >= {
        ("exercise", "commissioner"),
        ("need", "commissioner"),
        ("engagement_question", "commissioner"),
        ("appraisal", "commissioner"),
        ("api_key", "anonymous"),  # the key a registration returns
        ("api_key", "admin"),
        ("api_key", "system"),  # the command line
    }
    assert [x for x in rows if x["role"] is None] == []


async def test_the_seeded_records_are_the_systems(read_db):
    rows = await changes(read_db, "table_name in ('exercise', 'need', 'pathway')")
    assert rows and {(x["key_id"], x["role"]) for x in rows} == {(None, "system")}


# --- GET /changes -------------------------------------------------------------------------------------------


async def test_the_history_of_a_record_reads_as_changed_field_before_and_after(client, keys, fresh_db):
    key_id, key = await keys.make("commissioner")
    h = {"Authorization": f"Bearer {key}"}
    need_id, etag = await a_need(client, h)
    r = await client.patch(
        f"/needs/{need_id}", json={"annual_budget": 150000, "cohorts": []}, headers={**h, "If-Match": etag}
    )
    assert r.status_code == 200, r.text
    auditor = await keys.headers("auditor")
    page = await client.get(f"/changes?table=need&record_id={need_id}", headers=auditor)
    assert page.status_code == 200, page.text
    body = page.json()
    # newest first: the need made (the need, its area and cohort), then changed (the need, its cohort removed)
    assert body["total"] == len(body["items"]) == 5 and (body["page"], body["per_page"]) == (1, 50)
    assert [(i["part"], i["operation"]) for i in body["items"]] == [
        ("need_cohort", "delete"),
        (None, "update"),
        ("need_area", "insert"),
        ("need_cohort", "insert"),
        (None, "insert"),
    ]
    assert all((i["table"], i["record_id"]) == ("need", str(need_id)) for i in body["items"])
    cohort, update, *_, made = body["items"]
    assert (update["key_id"], update["role"]) == (key_id, "commissioner")
    assert update["request_id"] == r.headers["x-request-id"]
    by_field = {c["field"]: c for c in update["changes"]}
    assert [c["field"] for c in update["changes"]] == sorted(by_field)
    assert by_field["annual_budget"] == {"field": "annual_budget", "before": 120000, "after": 150000}
    assert set(by_field) == {"annual_budget", "version", "updated_at"}
    assert {c["field"]: (c["before"], c["after"]) for c in cohort["changes"]} == {
        "cohort_code": ("ADULTS", None),
        "need_id": (need_id, None),
    }
    assert {c["field"]: c["after"] for c in made["changes"]}["title"] == TELFORD_NEED["title"]
    assert all(c["before"] is None for c in made["changes"])


async def test_the_history_filters_by_key_and_time_and_pages_like_the_audit_log(client, keys, fresh_db):
    key_id, key = await keys.make("commissioner")
    h = {"Authorization": f"Bearer {key}"}
    await a_need(client, h)
    admin = await keys.headers("admin")
    mine = (await client.get(f"/changes?key_id={key_id}&per_page=2", headers=admin)).json()
    assert mine["total"] == 4 and len(mine["items"]) == 2  # the exercise, the need, its area and cohort
    assert {i["key_id"] for i in mine["items"]} == {key_id}
    second = (await client.get(f"/changes?key_id={key_id}&per_page=2&page=2", headers=admin)).json()
    assert {i["id"] for i in second["items"]}.isdisjoint(i["id"] for i in mine["items"])
    at = dt.datetime.fromisoformat(mine["items"][0]["at"])
    since = (at - dt.timedelta(seconds=1)).isoformat()
    recent = (await client.get("/changes", params={"since": since, "key_id": str(key_id)}, headers=admin)).json()
    assert recent["total"] >= 1
    until = (await client.get("/changes", params={"until": since, "key_id": str(key_id)}, headers=admin)).json()
    assert until["total"] + recent["total"] == mine["total"]
    pathways = (await client.get("/changes?table=pathway&record_id=ACCOM", headers=admin)).json()
    assert [(i["operation"], i["role"]) for i in pathways["items"]] == [("insert", "system")]


@pytest.mark.parametrize(
    ("query", "status", "field", "words"),
    [
        ("table=needs", 400, "table", "did you mean need"),
        ("table=need&record_id=seven", 422, "record_id", "need ids are whole numbers"),
        ("table=need&record_id=" + "9" * 101, 400, "record_id", "at most 100"),
        ("table=pathway&record_id=ACCOM%00", 400, "record_id", "letters, digits, underscores and hyphens"),
        ("record_id=7", 422, "record_id", "table"),
        ("since=yesterday", 400, "since", "YYYY-MM-DD"),
        ("since=2026-11-02&until=2026-11-01", 422, "until", "later than since"),
        ("key_id=0", 400, "key_id", "1 or more"),
        ("key_id=x", 400, "key_id", "whole number"),
        ("per_page=1000", 400, "per_page", "100 or less"),
        ("table=need&table=exercise", 400, "table", "once"),
        ("tabel=need", 400, "tabel", "unknown"),
    ],
)
async def test_bad_input_to_the_history_is_a_4xx_naming_the_field(read_client, read_keys, query, status, field, words):
    r = await read_client.get(f"/changes?{query}", headers=await read_keys.headers("admin"))
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["errors"][0]["field"] == field, body
    assert words in body["errors"][0]["problem"], body


@pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("provider", 403), ("commissioner", 403)])
async def test_the_history_is_for_admins_and_auditors(read_client, read_keys, role, status):
    headers = {} if role == "anonymous" else await read_keys.headers(role, 1 if role == "provider" else None)
    r = await read_client.get("/changes", headers=headers)
    assert r.status_code == status and r.json()["status"] == status
    for reader in ("admin", "auditor"):
        assert (await read_client.get("/changes", headers=await read_keys.headers(reader))).status_code == 200
