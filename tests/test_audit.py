"""The audit log under abuse and over years: request ids the server owns, denied requests counted per client and
minute (and refused past a limit), monthly partitions that only the owner can drop, after the retention period."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import asyncpg
import msgspec
import pytest
from conftest import app_settings, fetchval, held, migrated_before, run_cli
from litestar.testing import AsyncTestClient

from marketplace import db
from marketplace.app import create_app
from marketplace.clock import FixedClock
from marketplace.errors import Unauthorized
from marketplace.exercises import service as exercises_service
from marketplace.exercises.models import ExerciseIn
from marketplace.migrate import migrate
from marketplace.settings import PROJECT_ROOT
from marketplace.types import Actor, Caller

NOON = dt.datetime(2026, 11, 2, 12, 0, 5, tzinfo=dt.UTC)


async def audit_rows(dsn: str, where: str = "true") -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(f"select * from audit_log where {where} order by id")
    finally:
        await conn.close()


async def test_the_request_id_is_the_servers_and_the_clients_is_kept_beside_it(client, keys, fresh_db):
    admin = await keys.headers("admin")
    seen = []
    for _ in range(2):  # the same client id twice: two requests, two ids of ours
        r = await client.post(
            "/keys", json={"role": "commissioner", "name": "Audit test"}, headers={**admin, "X-Request-ID": "abc-1"}
        )
        assert r.status_code == 201
        seen.append(r.headers["x-request-id"])
    assert len(set(seen)) == 2 and "abc-1" not in seen
    rows = await audit_rows(fresh_db, "detail like 'created commissioner key%'")
    assert [r["request_id"] for r in rows] == seen
    assert [r["client_request_id"] for r in rows] == ["abc-1", "abc-1"]
    assert all(r["client"] and r["requests"] == 1 for r in rows)
    odd = await client.get("/providers/1", headers={"X-Request-ID": "has space"})
    assert odd.status_code == 200 and odd.headers["x-request-id"] != "has space"


async def test_denied_requests_are_one_row_then_a_count_per_client_and_minute(fresh_db):
    clock = FixedClock(NOON)
    async with AsyncTestClient(app=create_app(app_settings(fresh_db), clock=clock)) as client:
        for _ in range(12):
            assert (await client.get("/audit")).status_code == 401
        # the first is on record at once; the rest are counted
        first = await audit_rows(fresh_db, "outcome = 'denied'")
        assert [(r["status"], r["requests"], r["path"]) for r in first] == [(401, 1, "/audit")]
        clock.at = NOON + dt.timedelta(minutes=1)
        assert (await client.get("/keys")).status_code == 401  # a new minute: recorded at once again
    # the minute that was over, and the one still counting, are written when the worker stops at the latest
    rows = await audit_rows(fresh_db, "outcome = 'denied'")
    assert [(r["status"], r["requests"], r["path"]) for r in rows] == [
        (401, 1, "/audit"),
        (401, 1, "/keys"),
        (401, 11, "/audit"),  # all eleven asked for the same: it is named, not "*"
    ]
    assert "11 more denied requests" in rows[2]["detail"] and "2026-11-02 12:00" in rows[2]["detail"]
    assert rows[2]["detail"].endswith("UTC: GET /audit (11)") and rows[2]["method"] == "GET"
    assert sum(r["requests"] for r in rows) == 13


async def test_a_minutes_summary_names_the_key_of_every_request_it_counts(fresh_db, keys):
    """Denied requests from one address under two keys and none: each key's (and no key's) are counted apart, so
    the rows for a key hold its own refusals and no other's."""
    clock = FixedClock(NOON)
    commissioner_id, commissioner = await keys.make("commissioner", name="Refused commissioner")
    provider_id, provider = await keys.make("provider", 1, name="Refused provider")
    async with AsyncTestClient(app=create_app(app_settings(fresh_db), clock=clock)) as client:
        for times, headers in (
            (3, {"Authorization": f"Bearer {commissioner}"}),
            (2, {"Authorization": f"Bearer {provider}"}),
            (4, {}),
        ):
            for _ in range(times):
                assert (await client.get("/audit", headers=headers)).status_code == (403 if headers else 401)
        assert (await client.get("/audit", headers={"Authorization": f"Bearer {commissioner}"})).status_code == 403
    rows = await audit_rows(fresh_db, "outcome = 'denied'")
    by_key: dict[tuple[int | None, str], list[int]] = {}
    for r in rows:
        by_key.setdefault((r["key_id"], r["role"]), []).append(r["requests"])
    assert by_key == {
        (commissioner_id, "commissioner"): [1, 3],
        (provider_id, "provider"): [1, 1],
        (None, "anonymous"): [1, 3],
    }
    assert sum(r["requests"] for r in rows) == 10


async def test_a_minutes_summary_keeps_the_provider_aimed_at_and_what_was_tried(fresh_db, keys):
    """A provider key's refused attempts on another provider were summed into one row with method and path "*" and
    no provider: `/audit?provider_id=` missed all but the first. Each target provider has its own row, naming the
    methods and paths tried."""
    clock = FixedClock(NOON)
    key_id, key = await keys.make("provider", 2, name="Nosy provider")
    bearer = {"Authorization": f"Bearer {key}"}
    async with AsyncTestClient(app=create_app(app_settings(fresh_db), clock=clock)) as client:
        tries = [("patch", "/providers/3", {"description": "x"})] * 4 + [("delete", "/providers/3/services/1", None)]
        for method, path, body in tries:
            sent = {"json": body} if body is not None else {}
            r = await getattr(client, method)(path, headers={**bearer, "If-Match": '"v1"'}, **sent)
            assert r.status_code == 403, r.text
        assert (await client.get("/providers/4/history", headers=bearer)).status_code == 403
    rows = await audit_rows(fresh_db, "outcome = 'denied'")
    assert [(r["key_id"], r["provider_id"], r["requests"]) for r in rows] == [
        (key_id, 3, 1),
        (key_id, 4, 1),
        (key_id, 3, 4),
    ]
    summary = rows[2]
    assert (summary["method"], summary["path"]) == ("*", "*")  # more than one thing was tried
    assert summary["detail"].endswith("UTC: PATCH /providers/3 (3); DELETE /providers/3/services/1"), summary["detail"]


async def test_a_client_denied_too_often_may_present_only_a_valid_key_until_the_minute_ends(fresh_db, keys):
    """Past the limit, a key that is not a valid one gets 429 (guessing gets nowhere); a valid key from the same
    address still works: anyone sending bad keys used to lock out every key from the address (behind a proxy, the
    whole service)."""
    clock = FixedClock(NOON)
    good = await keys.headers("admin")
    guess = {"Authorization": "Bearer prv_" + "A" * 43}  # well formed, unknown
    async with AsyncTestClient(app=create_app(app_settings(fresh_db, denial_limit=5), clock=clock)) as client:
        for _ in range(5):
            assert (await client.get("/keys", headers=guess)).status_code == 401
        r = await client.get("/keys", headers=guess)
        assert r.status_code == 429 and r.json()["error"] == "too_many_requests"
        assert r.headers["retry-after"] == "55"
        assert (await client.get("/keys", headers={"Authorization": "Bearer prv_guess"})).status_code == 429
        assert (await client.get("/keys", headers=good)).status_code == 200, "a valid key is not locked out"
        assert (await client.get("/providers/1")).status_code == 200, "reading what is public still works"
        clock.at = NOON + dt.timedelta(minutes=1)
        assert (await client.get("/keys", headers=guess)).status_code == 401, "the next minute, a 401 again"
    rows = await audit_rows(fresh_db, "outcome = 'denied'")
    assert sorted((r["status"], r["requests"]) for r in rows) == [(401, 1), (401, 1), (401, 4), (429, 1), (429, 1)]


async def test_a_revoked_keys_refusals_name_the_key(client, keys, fresh_db):
    """A revoked key (often a leaked one) was logged as anonymous, so `/audit?key_id=` missed its use."""
    admin = await keys.headers("admin")
    made = (await client.post("/keys", json={"role": "commissioner", "name": "leaked"}, headers=admin)).json()
    key_id = made["api_key"]["id"]
    assert (await client.post(f"/keys/{key_id}/revoke", headers=admin)).status_code == 200
    r = await client.get("/exercises", headers={"Authorization": f"Bearer {made['key']}"})
    assert r.status_code == 401 and "revoked" in r.json()["message"]
    found = (await client.get("/audit", params={"key_id": key_id, "outcome": "denied"}, headers=admin)).json()
    assert [(e["status"], e["role"]) for e in found["items"]] == [(401, "commissioner")], found


async def test_the_log_is_partitioned_by_month_and_the_app_cannot_touch_a_partition(fresh_db):
    owner = await asyncpg.connect(fresh_db)
    app = await asyncpg.connect(db.with_user(fresh_db, db.APP_ROLE))
    try:
        this_month = await owner.fetchval("select audit_log_partition(current_date)")
        assert await owner.fetchval("select count(*) from pg_inherits where inhparent = 'audit_log'::regclass") >= 14
        for sql in (f"delete from {this_month}", f"truncate {this_month}", f"drop table {this_month}"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute(sql)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("select audit_log_partition('2001-01-01')")
    finally:
        await owner.close()
        await app.close()


async def test_the_owner_drops_only_months_past_the_retention_period(databases, template_db):
    dsn = databases.dsn(await databases.create("retention", template=template_db))
    owner = await asyncpg.connect(dsn)
    try:
        for month in ("2010-01-01", "2010-02-01"):
            await owner.execute("select audit_log_partition($1)", dt.date.fromisoformat(month))
        await owner.execute(
            """insert into audit_log (at, method, path, status, outcome)
               values ('2010-01-20T10:00:00Z', 'GET', '/old', 401, 'denied'),
                      ('2010-02-20T10:00:00Z', 'GET', '/old', 401, 'denied')"""
        )
    finally:
        await owner.close()
    # with the retention reaching back to February 2010, only January 2010 has ended before it
    today = dt.date.today()
    months = (today.year - 2010) * 12 + today.month - 2
    env_run = run_cli(
        "audit-partitions",
        "--drop-expired",
        dsn=dsn,
        env={**os.environ, "MARKETPLACE_AUDIT_RETENTION_MONTHS": str(months)},
    )
    assert env_run.returncode == 0, env_run.stderr
    assert "dropped audit_log_y2010m01" in env_run.stdout and "y2010m02" not in env_run.stdout
    rows = await audit_rows(dsn, "path in ('/old', 'marketplace audit-partitions --drop-expired')")
    assert [r["at"].month for r in rows if r["path"] == "/old"] == [2]
    assert any("dropped audit partition audit_log_y2010m01 (1 row(s))" in r["detail"] for r in rows)


async def test_audit_rows_survive_the_partitioning_migration(databases, tmp_path: Path):
    dsn = databases.dsn(await databases.create("before_partitions"))
    async with migrated_before(dsn, 9, tmp_path) as conn:
        await conn.execute(
            """insert into audit_log (at, request_id, method, path, status, outcome, detail)
               values ('2024-03-01T10:00:00Z', 'r1', 'PATCH', '/providers/1', 200, 'write', 'changed x'),
                      (now(), 'r2', 'GET', '/audit', 401, 'denied', 'no key')"""
        )
        old = await conn.fetch("select id, at, request_id, path, detail from audit_log order by id")
        await migrate(conn, PROJECT_ROOT / "schema")
        new = await conn.fetch("select id, at, request_id, path, detail from audit_log order by id")
        assert [tuple(r) for r in new] == [tuple(r) for r in old]
        assert await conn.fetchval("select relkind::text from pg_class where relname = 'audit_log'") == "p"
        assert await conn.fetchval("select to_regclass('audit_log_y2024m03') is not null")
        await conn.execute("insert into audit_log (method, path, status, outcome) values ('GET', '/x', 401, 'denied')")
        assert await conn.fetchval("select max(id) from audit_log") > max(r["id"] for r in old), "ids carry on"


async def test_keys_made_and_revoked_on_the_command_line_are_audited(fresh_db):
    made = run_cli("keys", "create", "--role", "commissioner", "--name", "From the CLI", dsn=fresh_db)
    assert made.returncode == 0, made.stderr
    key_id = int(made.stdout.split("key id ", 1)[1].split()[0])
    revoked = run_cli("keys", "revoke", str(key_id), dsn=fresh_db)
    assert revoked.returncode == 0, revoked.stderr
    rows = await audit_rows(fresh_db, "method = 'CLI'")
    assert [r["detail"] for r in rows] == [f"created commissioner key {key_id}", f"revoked key {key_id}"]
    assert all(r["role"] == "system" for r in rows)
    # a provider key names its provider, and only a provider key does: told so, nothing made
    for args, said in (
        (("--role", "provider"), "--provider is needed for a provider key"),
        (("--role", "commissioner", "--provider", "1"), "--provider goes with --role provider only"),
    ):
        refused = run_cli("keys", "create", *args, "--name", "Wrong", dsn=fresh_db)
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr
    assert await fetchval(fresh_db, "select count(*) from api_key where name = 'Wrong'") == 0


async def test_a_key_revoked_while_it_writes_changes_nothing_and_a_revocation_waits_for_a_write(client, keys, fresh_db):
    """A tester revoked a key while it sent three writes: all three were accepted and logged after the revocation (the
    key was checked before each write's transaction). Now the write's transaction checks the key again, holding it:
    a revocation committed meanwhile refuses the write (401, nothing stored), and one made meanwhile waits for it."""
    key_id, _ = await keys.make("commissioner")
    admin = await keys.headers("admin")
    actor = Actor(caller=Caller(role="commissioner", key_id=key_id), request_id="r", method="POST", path="/exercises")
    ctx = client.app.state.ctx
    body = ExerciseIn(title="Written as its key is revoked", commissioning_body="Telford & Wrekin Council")
    before = await fetchval(fresh_db, "select count(*) from exercise")
    # authenticated, then revoked before its write commits: refused, nothing stored
    revoked = await client.post(f"/keys/{key_id}/revoke", headers=admin)
    assert revoked.status_code == 200, revoked.text
    conn = await db.connect(fresh_db)
    try:
        with pytest.raises(Unauthorized, match="revoked while the request was being made"):
            await exercises_service.create_exercise(ctx, conn, actor, body)
    finally:
        await conn.close()
    assert await fetchval(fresh_db, "select count(*) from exercise") == before
    # a write under way (its transaction open): revoking its key waits for it, and the log has the write first
    key_id, _ = await keys.make("commissioner")
    actor = msgspec.structs.replace(actor, caller=Caller(role="commissioner", key_id=key_id))

    async def write(conn: asyncpg.Connection) -> None:
        await exercises_service.create_exercise(ctx, conn, actor, body)

    writing = held(fresh_db, write, 1.0)
    started = time.monotonic()
    revoked = await client.post(f"/keys/{key_id}/revoke", headers=admin)
    waited = time.monotonic() - started
    writing.thread.join()
    assert not writing.failed, writing.failed
    assert revoked.status_code == 200 and waited > 0.5, (revoked.text, waited)
    order = await fetchval(
        fresh_db,
        "select array_agg(detail order by id) from audit_log where key_id = $1 or detail like $2",
        key_id,
        f"revoked key {key_id}%",
    )
    assert order[0].startswith("created exercise") and order[-1].startswith("revoked key"), order
    # a key revoking itself: still valid when its own revocation is recorded
    own_id, own = await keys.make("admin")
    itself = await client.post(f"/keys/{own_id}/revoke", headers={"Authorization": f"Bearer {own}"})
    assert itself.status_code == 200 and itself.json()["revoked_at"], itself.text
    again = await client.get("/keys", headers={"Authorization": f"Bearer {own}"})
    assert again.status_code == 401, again.text
